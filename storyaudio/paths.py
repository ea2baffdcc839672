"""Files a script names (a recording, a cover picture, an image query): found relative to the script's folder,
and refused outside it unless the user allowed another folder (``--allow-path DIR``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .errors import UserError


def script_folder(script: object, base_dir: str | os.PathLike | None = None) -> Path:
    """The folder a script's relative paths start from: ``base_dir`` when given, else the folder of a script
    given as a file, else the current directory."""
    if base_dir is not None:
        return Path(base_dir)
    if isinstance(script, (str, os.PathLike)):
        return Path(script).parent
    return Path.cwd()


def resolve_script_path(name: str, base_dir: str | os.PathLike, allowed: Iterable[str | os.PathLike] = (),
                        what: str = "file", row: int | None = None) -> Path:
    """``name`` (as written in the script) as an existing file inside ``base_dir`` or one of ``allowed``.
    A path that leaves those folders (``..``, an absolute path elsewhere, a link pointing out) is a UserError
    that says how to allow it; so is a file that does not exist."""
    where = f"row {row}: " if row is not None else ""
    raw = Path(os.path.expanduser(name.strip()))
    base = Path(base_dir).resolve()
    path = (raw if raw.is_absolute() else base / raw).resolve()
    roots = [base] + [Path(a).resolve() for a in allowed]
    if not any(path == r or r in path.parents for r in roots):
        raise UserError(f"{where}the {what} '{name}' is outside the script's folder {base}. Fix: move it into that "
                        f"folder, or allow its folder with --allow-path {path.parent}.")
    if not path.is_file():
        raise UserError(f"{where}the {what} '{name}' does not exist (looked for {path}). Fix: check the name; "
                        f"relative paths start at the script's folder.")
    return path


def cache_dir() -> Path:
    """``$STORYAUDIO_CACHE_DIR`` when set, else the user's cache directory."""
    env = os.environ.get("STORYAUDIO_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("storyaudio")) / "clips"
