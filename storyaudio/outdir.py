"""The output folder: what a render may write into, and what it replaces there.

A render writes into a staging folder beside OUTDIR (``.NAME.staging-PID-XXXXXX``). Only when all of it
succeeded are the new files moved in, one rename each; the files the previous render wrote that this one
does not (an old ``mix.mp3``, ``stems/``, ``timeline.png``) are deleted; and the list of what was written is
kept in ``OUTDIR/.storyaudio-manifest.json``. Files storyaudio did not write are never deleted: a folder
that holds any is refused unless ``force`` (then they stay where they are; only a file of the same name as
one of storyaudio's is replaced).

    stage = prepare(outdir, force=False)  # checks; removes what killed renders left beside OUTDIR
    ...                                   # write everything into stage.path
    files = stage.commit(files)           # or stage.abort() on failure

:func:`check` alone says whether a folder can take a render, before any work (``compose`` calls it before it
asks the LLM for a script).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .atomic import atomic_write_text
from .errors import UserError

MANIFEST = ".storyaudio-manifest.json"
#: Files the platform's file managers drop into folders; neither ours nor the user's work.
_IGNORED = {".DS_Store", "Thumbs.db", "desktop.ini"}
#: What a render wrote before manifests existed (a folder with timeline.json and mix.wav and no manifest).
_LEGACY = re.compile(r"(mix\.wav|mix\.mp3|script\.json|timeline\.json|timeline\.png|subtitles\.srt|subtitles\.vtt"
                     r"|labels\.txt|loudness\.json|clips/row\d+-[a-z_]+\.wav|stems/[^/]+\.wav"
                     r"|\.storyaudio-reuse/(state\.json|master\.npz))")  # (and a re-render's record, by name)
#: Leftovers inside OUTDIR of a commit cut short: files moved aside (``.replaced.old-PID``), and the old
#: per-folder swap's ``.clips.old-PID``.
_OLD_INSIDE = re.compile(r"\.(clips|stems|replaced)\.old-\d+")
_SHOWN = 5


def _fail(outdir: Path, why: str, fix: str) -> UserError:
    return UserError(f"output folder {outdir}: {why} {fix}")


def _files(folder: Path) -> set[str]:
    """Every file under ``folder`` (symbolic links included, never followed), as POSIX paths relative to it."""
    out: set[str] = set()
    for root, dirs, names in os.walk(folder):
        base = Path(root)
        for d in list(dirs):
            if (base / d).is_symlink():
                out.add((base / d).relative_to(folder).as_posix())
                dirs.remove(d)
        out.update((base / n).relative_to(folder).as_posix() for n in names)
    return out


def _read_manifest(outdir: Path) -> set[str] | None:
    try:
        data = json.loads((outdir / MANIFEST).read_text(encoding="utf-8"))
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {f for f in files if isinstance(f, str) and ".." not in Path(f).parts and not Path(f).is_absolute()}


def _write_manifest(outdir: Path, files: set[str]) -> None:
    from . import __version__

    atomic_write_text(outdir / MANIFEST, json.dumps(
        {"written_by": f"storyaudio {__version__}", "files": sorted(files)}, indent=1) + "\n")


def _ours(outdir: Path, present: set[str]) -> set[str]:
    """The files in ``outdir`` that storyaudio wrote: the manifest's, or for a folder rendered before
    manifests existed, the files a render makes by name."""
    listed = _read_manifest(outdir)
    if listed is not None:
        return listed
    if {"timeline.json", "mix.wav"} <= present:
        return {f for f in present if _LEGACY.fullmatch(f)}
    return set()


def _foreign(outdir: Path) -> list[str]:
    present = _files(outdir)
    ours = _ours(outdir, present) | {MANIFEST}
    return sorted(f for f in present - ours
                  if Path(f).name not in _IGNORED and not _OLD_INSIDE.fullmatch(f.split("/")[0]))


def check(outdir: str | os.PathLike, force: bool = False) -> Path:
    """Raise :class:`UserError` when ``outdir`` cannot take a render: it is a file or a device, it lies
    where nothing can be written, or it holds files storyaudio did not write (unless ``force``). Returns the
    absolute path. Changes nothing."""
    outdir = Path(outdir).expanduser().resolve()
    if outdir.parent == outdir:
        raise _fail(outdir, "is the root of the file system.", "Name a folder with -o.")
    if outdir.exists() or outdir.is_symlink():
        if not outdir.is_dir():
            what = "a file" if outdir.is_file() else "not a folder (a device or a broken link)"
            raise _fail(outdir, f"is {what}.", "Name a folder with -o (it is made when missing).")
        foreign = _foreign(outdir)
        if foreign and not force:
            shown = ", ".join(foreign[:_SHOWN]) + (f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN
                                                   else "")
            raise _fail(outdir, f"holds files storyaudio did not write ({shown}).",
                        "Move them away, name another folder with -o, or pass --force to render into it anyway "
                        "(they are left in place; only files named like storyaudio's are replaced).")
    # The staging folder is made beside OUTDIR: its nearest existing ancestor must be a writable folder.
    probe = outdir.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise _fail(outdir, f"{probe} is a file, so no folder can be made there.", "Name another place with -o.")
    if not os.access(probe, os.W_OK | os.X_OK) or (outdir.is_dir() and not os.access(outdir, os.W_OK | os.X_OK)):
        raise _fail(outdir, f"cannot write in {probe}.", "Name a folder you can write to with -o.")
    return outdir


def _alive(pid: int) -> bool:
    if pid < 1:
        return False  # 0 and -1 would signal whole process groups
    if pid == os.getpid():
        return False  # a leftover of an earlier process that had our pid: this process has made none yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # no permission: the process exists
        return True
    return True


def _stale(parent: Path, name: str, outdir_exists: bool) -> list[Path]:
    """Folders a killed render left beside OUTDIR: staging folders of processes that no longer run (or of
    versions that did not put the pid in the name), and old copies once OUTDIR itself is back in place."""
    out = []
    for kind in ("staging", "old"):
        if kind == "old" and not outdir_exists:
            continue  # an old copy may be the only one left: keep it
        for path in parent.glob(f".{glob_escape(name)}.{kind}-*"):
            m = re.match(r"(\d+)(-|$)", path.name[len(name) + len(kind) + 3:])
            if m is None or not _alive(int(m.group(1))):
                out.append(path)
    return out


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C while files are being moved, so the folder is never left half old, half new; the
    interrupt is raised as soon as the move is done."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
            None, signal.SIG_IGN):  # not ours to handle, or ignored (a background job): leave it as it is
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


class Staging:
    """A render's staging folder; :meth:`commit` moves what was written into OUTDIR, :meth:`abort` drops it."""

    def __init__(self, outdir: Path, path: Path):
        self.outdir = outdir
        self.path = path

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def commit(self, files: dict[str, Path] | None = None) -> dict[str, Path]:
        """Move every file of the staging folder into OUTDIR, delete what the previous render wrote that this
        one did not, and record what is there now. ``files`` (name -> path in the staging folder) is returned
        with the paths in OUTDIR."""
        outdir, staging = self.outdir, self.path
        new = _files(staging)
        with _interrupts_deferred():
            outdir.mkdir(parents=True, exist_ok=True)
            old = _ours(outdir, _files(outdir))
            _write_manifest(outdir, old | new)  # a crash from here on leaves nothing unaccounted for
            # Each file the last render left is moved aside before its successor moves in, rather than
            # replaced: ext4 writes a file out at once when it is renamed over another (its "auto_da_alloc"
            # safeguard), which cost a re-render of a 10-minute piece 1.4 s of its 13.8 (stems are large).
            aside = outdir / f".replaced.old-{os.getpid()}"
            for n, rel in enumerate(sorted(new)):
                target = outdir / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_file() and not target.is_symlink():
                    aside.mkdir(exist_ok=True)
                    os.rename(target, aside / str(n))
                os.rename(staging / rel, target)
            for rel in sorted(old - new):
                _remove(outdir, rel)
            for leftover in outdir.iterdir():
                if _OLD_INSIDE.fullmatch(leftover.name):
                    shutil.rmtree(leftover, ignore_errors=True)
            _write_manifest(outdir, new)
            shutil.rmtree(staging, ignore_errors=True)
        return {name: outdir / Path(path).relative_to(staging) for name, path in (files or {}).items()}


def _remove(outdir: Path, rel: str) -> None:
    """Delete one file storyaudio wrote, and the folders it leaves empty (never OUTDIR itself)."""
    path = outdir / rel
    try:
        if path.is_dir() and not path.is_symlink():
            return  # the user put a folder where our file was: not ours to delete
        path.unlink(missing_ok=True)
    except OSError:
        return
    parent = path.parent
    while parent != outdir:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def prepare(outdir: str | os.PathLike, force: bool = False) -> Staging:
    """Check ``outdir`` (see :func:`check`), remove the staging folders killed renders left beside it, and make
    this render's staging folder there."""
    outdir = check(outdir, force)
    parent = outdir.parent
    for path in _stale(parent, outdir.name, outdir.is_dir()):
        shutil.rmtree(path, ignore_errors=True)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.staging-{os.getpid()}-", dir=parent))
    except OSError as exc:
        raise _fail(outdir, f"cannot make a folder beside it ({exc.strerror}).",
                    "Name a folder you can write to with -o.") from None
    return Staging(outdir, path)
