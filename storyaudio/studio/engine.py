"""The studio's one door into storyaudio: every call the page makes into the library goes through here.

The page (``app.py``) holds text cells and settings; this module turns them into the library's objects and
calls the same functions the command line calls — ``read/parse`` and ``Script.from_dict`` for scripts, the
render module's ``check`` and ``render`` with a ``RenderConfig``, ``create_backend(...).voices()``,
``generate_script`` — so there is no second render path. It imports no Gradio, so it is tested without one.

A project is a folder: the saved script, ``renders/001/``, ``renders/002/``... (one per render, none
overwritten; each is a normal render folder plus ``studio.json`` and a zip of everything), and ``.studio/``
(the render lock, Gradio's upload and file cache). No path that comes from the page reaches outside it.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import importlib.util
import json
import logging
import os
import re
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from ..atomic import atomic_path, atomic_write_text
from ..errors import OptionError, Problem, ScriptError, ScriptReadError, StoryAudioError, UserError, WriterError
from ..columns import registry
from ..script import HEADERS, META_KEYS, Script, parse_script_text, script_to_text
from ..script.cells import escape_na, is_na, read_text
from ..script.io import format_of
from ..script.tables import table_to_dict
from . import table

log = logging.getLogger("storyaudio.studio")

#: The largest script file the page accepts (the issue's cap; Gradio's upload limit is set to the same).
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
EXAMPLES = ("news", "drama")
#: Script formats the page saves, by the name it shows.
SAVE_FORMATS = {"TSV": "tsv", "CSV": "csv", "JSON": "json", "Markdown": "md"}
KINDS = ("speech", "music", "sound_effect")
PRESETS = ("podcast", "ebu-r128", "none")
TABLE_SOURCE = "the Script table"

#: ``on_progress(stage, done, total)``: the library's stages (plan, clips, mix, master, deliver) and the
#: studio's own: ``queued`` (waiting for another render of this project), ``render`` (a library without
#: progress reports is working), ``package`` (the zip).
Progress = Callable[[str, int, int], None]


def _library():
    """The render module (``render``, ``RenderConfig``, ``check``), imported when first needed."""
    return importlib.import_module("storyaudio.pipeline")


# -- scripts: table cells <-> Script --------------------------------------------------------------------------

class EpisodeField(NamedTuple):
    """One of the page's Episode fields: a script-level value a table file keeps in a ``# Key:`` line."""

    key: str  # the script's key (META_KEYS, or an extension field's key)
    label: str
    info: str = ""
    multi_line: bool = False  # an extension's field: one item a line


#: The Episode fields of the script's metadata, in META_KEYS order; the extensions' script-wide fields (the
#: lexicon's Say lines) follow them (:func:`episode_fields`).
META_FIELDS = (
    EpisodeField("author", "Author"),
    EpisodeField("album", "Album", "the show or series the episode belongs to"),
    EpisodeField("year", "Year", "four digits, e.g. 2025"),
    EpisodeField("cover", "Cover", "a JPEG or PNG file in the project folder, e.g. cover.jpg"),
    EpisodeField("description", "Description", "a sentence or two for podcast and audiobook apps"),
)


def _or_none(text: str | None) -> str | None:
    """A cast cell as the script holds it: stripped, None for the "none" words (the table files' own rule)."""
    text = (text or "").strip()
    return None if is_na(text) else text


@dataclass
class Sheet:
    """A script as the page holds it: text cells as a person edits them, and everything else a script file
    carries beyond its eight columns, so nothing is lost between a file and the page.

    ``rows``: per row the eight cells, the Chapter cell (the title of the chapter that starts there, or
    empty) and one cell per extension column in ``columns`` (the ones the script uses, as table files write
    them). ``episode``: the text of each Episode field by key (:func:`episode_fields`): metadata as one line,
    an extension's script-wide field as one item a line."""

    rows: list[list[str]]
    title: str = ""
    cast: list[list[str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    episode: dict[str, str] = field(default_factory=dict)


def episode_fields() -> list[EpisodeField]:
    """The page's Episode fields: the metadata, then each installed extension's script-wide field."""
    if tuple(f.key for f in META_FIELDS) != tuple(META_KEYS):
        raise RuntimeError("storyaudio.studio.engine.META_FIELDS no longer matches storyaudio.script.META_KEYS")
    return list(META_FIELDS) + [EpisodeField(f.key, f.heading or f.label, f"One a line. {f.description}", True)
                                for f in registry().fields]


def script_from_table(sheet: Sheet) -> Script:
    """The script the page's table, title, cast and Episode fields describe, validated exactly like a script
    file: the same table reader (chapters and metadata read as its ``#`` lines), then the schema and the
    rules. Raises ScriptError listing every problem."""
    if tuple(table.HEADERS) != tuple(HEADERS):  # the table module spells the headers itself
        raise RuntimeError("storyaudio.studio.table.HEADERS no longer matches storyaudio.script.HEADERS")
    if not sheet.rows:
        raise ScriptError([Problem(None, "rows", "the table has no rows.",
                                   "add a row, upload a script file or load an example.")], TABLE_SOURCE)
    eight, n = len(HEADERS), table.width(sheet.columns)
    rows = [(list(r) + [""] * n)[:n] for r in sheet.rows]
    records = [r[:eight] + r[eight + 1:] for r in rows]  # the Chapter cell is a comment line in a file
    members = [{"name": name, "description": _or_none(description), "voice": _or_none(voice)}
               for name, description, voice in table.cast_rows(sheet.cast)]
    lines = _episode_lines(sheet.episode) + _chapter_lines(r[eight] for r in rows)
    data = table_to_dict(list(HEADERS) + list(sheet.columns), records, (sheet.title or "").strip() or "Untitled",
                         members, TABLE_SOURCE, lines)
    return Script.from_dict(data, source=TABLE_SOURCE)


def _chapter_lines(cells: Iterable[str]) -> list[tuple[int, str]]:
    """A ``Chapter:`` line before each row whose Chapter cell has a title (N/A or empty: none)."""
    titles = ((i, read_text(" ".join((c or "").split()))) for i, c in enumerate(cells))
    return [(i, f"Chapter: {t}") for i, t in titles if t]


def _episode_lines(episode: dict[str, str] | None) -> list[tuple[int, str]]:
    """The Episode fields as the comment lines a table file has above its header: ``author: ...``, and one
    ``Say: ...`` line per non-empty line of an extension's field."""
    episode = episode or {}
    texts = {key: " ".join(str(episode.get(key) or "").split()) for key in META_KEYS}  # one line each
    lines = [(0, f"{key}: {text}") for key, text in texts.items() if text]
    for f in registry().fields:
        lines += [(0, f"{f.label}: {item.strip()}") for item in str(episode.get(f.key) or "").splitlines()
                  if item.strip()]
    return lines


def table_from_script(script: Script) -> Sheet:
    """The page's view of a script: the cells spelled as the table files spell them (the library's own TSV
    writer, with the extension columns the script uses), each row's chapter, the title, the cast as
    (name, description, voice) rows, and the Episode fields."""
    lines = [ln for ln in script_to_text(script, "tsv").splitlines() if ln and not ln.startswith("#")]
    header, *records = csv.reader(lines, delimiter="\t")
    eight = len(HEADERS)
    rows = [rec[:eight] + [escape_na(r.chapter) if r.chapter else ""] + rec[eight:]
            for rec, r in zip(records, script.rows)]
    cast = [[c.name, c.description or "", c.voice or ""] for c in script.cast]
    episode = {key: str(value) for key, value in script.metadata().items()}
    for f in registry().fields:
        items = script.extra.get(f.key) or []
        if items:
            episode[f.key] = "\n".join(f.write_line(item) for item in items)
    return Sheet(rows, script.title, cast, header[eight:], episode)


def addable_columns(shown: Iterable[str]) -> list[str]:
    """The headers of the installed extension columns the table does not show yet (``shown``: the headers it
    shows after Chapter), in the registry's order: what "Add column" offers."""
    have = {_column_key(h) for h in shown}
    return [c.header for c in registry().columns if c.key not in have]


def _column_key(name: str) -> str | None:
    """The registered column a header, alias or key names (any case), as its key; None when none does."""
    c = registry().by_header.get(" ".join(str(name or "").split()).lower())
    return c.key if c is not None else None


def add_column(sheet: Sheet, name: str) -> Sheet:
    """``sheet`` with the extension column ``name`` (its header, an alias or its key, in any case) after the
    columns it shows, empty in every row: not set, the automatic value, as an empty cell in a table file.
    Every other cell, the chapters, title, cast and Episode fields are kept. A UserError says why when the
    column is already shown or no installed extension has it."""
    reg = registry()
    wanted = " ".join(str(name or "").split())
    addable = addable_columns(sheet.columns)
    offer = (f"Columns you can add: {', '.join(addable)}." if addable
             else "The table already shows every installed extension column.")
    if not wanted:
        raise UserError(f"Add column: pick a column first. {offer}")
    key = _column_key(wanted)
    if key is None:
        raise UserError(f"Add column: there is no extension column '{wanted}'. {offer}{reg.why_missing()}")
    header = reg.by_key[key].header
    if header not in addable:
        raise UserError(f"Add column: the table already has the {header} column (after Chapter). {offer}")
    n = table.width(sheet.columns)
    rows = [(list(r) + [""] * n)[:n] + [""] for r in sheet.rows]
    return replace(sheet, rows=rows, columns=[*sheet.columns, header],
                   cast=[list(m) for m in sheet.cast], episode=dict(sheet.episode))


def column_note(header: str) -> str:
    """What the page says after adding a column: its header and what its cells mean."""
    c = registry().by_header.get(header.lower())
    what = f" {c.description[:1].upper()}{c.description[1:]}" if c is not None and c.description else ""
    return (f"Added the **{header}** column after Chapter.{what} An empty cell keeps the automatic value; "
            "Validate checks the cells you fill in.")


def read_upload(path: str | os.PathLike, name: str | None = None) -> Script:
    """A script file the page received: at most 2 MB, a known extension, UTF-8, and valid like any script.
    ``name`` is the file name the user chose (for the format and the messages)."""
    p = Path(path)
    name = name or p.name
    size = p.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise UserError(f"{name} is {size / 1024 / 1024:.1f} MB; a script file may be at most 2 MB. Fix: upload "
                        "the script table itself (.tsv, .csv, .json, .md or .fountain), not audio or a project.")
    fmt = format_of(name)
    with open(p, "rb") as fh:
        raw = fh.read(MAX_UPLOAD_BYTES + 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScriptReadError(f"{name}: not UTF-8 text. Fix: save the file as UTF-8 (a spreadsheet's "
                              "'Unicode text' or 'CSV UTF-8').") from None
    return Script.from_dict(parse_script_text(text, fmt, name), source=name)


def example(name: str) -> Script:
    """One of the shipped examples (``news``, ``drama``)."""
    if name not in EXAMPLES:
        raise UserError(f"no example '{name}'. Examples: {', '.join(EXAMPLES)}.")
    from ..script import read_script
    from ..script.schema import data_path

    return read_script(data_path("examples", f"{name}.tsv"))


def script_text(script: Script, fmt: str) -> str:
    return script_to_text(script, fmt)


# -- settings, checks -----------------------------------------------------------------------------------------

@dataclass
class Settings:
    """What the page's render controls hold."""

    use: dict[str, str] = field(default_factory=dict)  # audio type -> backend name (missing: the default)
    preset: str = "podcast"
    seed: int = 0
    mp3: bool = True


def mp3_available() -> bool:
    import soundfile

    return "MP3" in soundfile.available_formats()


def render_config(settings: Settings, reseed: dict[int, int] | None = None, base_dir: Path | None = None):
    """The library's RenderConfig for the page's settings (bad values are an OptionError naming the field).
    ``base_dir`` is where the script's files (the cover, the File column's recordings) are found: the
    project folder, where the page saves the script."""
    from pydantic import ValidationError

    lib = _library()
    try:
        return lib.RenderConfig(use={k: v for k, v in settings.use.items() if v}, preset=settings.preset,
                                seed=int(settings.seed or 0), mp3=bool(settings.mp3) and mp3_available(),
                                reseed={int(k): int(v) for k, v in (reseed or {}).items() if v}, progress=False,
                                base_dir=base_dir)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise OptionError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}.") from None


@dataclass
class Report:
    """What a check found: problems that stop a render, and warnings worth a look."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def rows(self, which: str) -> set[int]:
        return {p.row for p in getattr(self, which) if p.row is not None}


def check(sheet: Sheet, settings: Settings, base_dir: Path | None = None) -> tuple[Script | None, Report]:
    """Validate the page's script and settings as ``storyaudio validate`` and ``render`` do (the render
    module's ``check``, with the script's files found in ``base_dir``): the script when it is valid, and the
    report."""
    try:
        script = script_from_table(sheet)
    except ScriptError as exc:
        return None, Report(errors=list(exc.problems))
    found = project_problems(script, base_dir) if base_dir is not None else []
    if found:  # the cover and File recordings the project folder lacks, in the page's words
        return script, Report(errors=found)
    try:
        warnings = _library().check(script, render_config(settings, base_dir=base_dir))
    except ScriptError as exc:
        return script, Report(errors=list(exc.problems))
    except UserError as exc:  # a backend that cannot run, a bad setting, a pinned voice that does not exist
        return script, Report(errors=[Problem(None, "settings", str(exc))])
    return script, Report(warnings=list(warnings))


def project_problems(script: Script, project_dir: Path) -> list[Problem]:
    """Every file the script names that stops a render in the studio, in the studio's words: the cover
    (:func:`cover_problem`) and each row's File recording (:func:`file_problems`). Empty when all are in
    ``project_dir``. ``check`` reports them before the library's check; ``Project.render`` refuses with them."""
    cover = cover_problem(script, project_dir)
    return ([cover] if cover is not None else []) + file_problems(script, project_dir)


def _in_project(name: str, root: Path, what: str) -> tuple[Path | None, Path]:
    """Where the library (``resolve_script_path``, as a render does, with no other folder allowed) finds a file
    the page names: ``(path, path)`` when it is a file in the project folder ``root``, else ``(None, the path
    it looked for)``; that path is outside the project folder when it is not under ``root``."""
    from ..paths import resolve_script_path

    try:
        path = resolve_script_path(name, root, what=what)
    except UserError:
        return None, (root / os.path.expanduser(name.strip())).resolve()
    return path, path


def cover_problem(script: Script, project_dir: Path) -> Problem | None:
    """Why the picture the Cover box names stops a render, in the studio's words; None when the box is empty
    or names a JPEG or PNG picture in ``project_dir``.

    The library finds and reads the cover (``resolve_script_path`` and ``load_cover``, as a render does); its
    messages speak of the script's folder, ``# Cover:`` and ``--allow-path``, which the page has none of:
    there the folder is the project folder and the name is in the Cover box."""
    from ..deliver.tags import load_cover

    if not script.cover:
        return None
    root = Path(project_dir).resolve()
    name = script.cover
    clear = "or clear the Cover box (the episode then has no cover art)."
    path, looked = _in_project(name, root, "cover")
    if path is None:
        if not looked.is_relative_to(root):
            return Problem(None, "cover", f"the cover picture '{name}' is outside the project folder {root}; "
                           "the studio reads files only inside it.",
                           f"put the picture in the project folder {root} and write its name in the Cover box, "
                           f"{clear}")
        return Problem(None, "cover", f"the cover picture '{name}' is not in the project folder (looked for "
                       f"{looked}).", f"put the picture in the project folder {root}, {clear}")
    try:
        load_cover(path, name)
    except UserError as exc:  # not a JPEG or PNG, or unreadable: the library's words for what is wrong
        what = str(exc).split(" Fix: ")[0].removeprefix("cover: ")
        return Problem(None, "cover", what, f"save the picture as a .jpg or .png file (square, 1400 to 3000 "
                       f"pixels a side) in the project folder {root} and write its name in the Cover box, {clear}")
    return None


def file_problems(script: Script, project_dir: Path) -> list[Problem]:
    """One problem per row whose File cell names a recording that is not in ``project_dir`` or lies outside it
    (row and field ``file``), in the studio's words; empty when every recording named is there.

    The library decides, as the File column does at render time (``resolve_script_path``); its messages speak
    of the script's folder and ``--allow-path``, which the page has none of: there the folder is the project
    folder and the name is in the row's File cell. Whether the file is audio it can read is left to the
    library's check, whose words for that suit the page."""
    root = Path(project_dir).resolve()
    fix = (f"put the recording in the project folder {root} and write its name relative to it in the File cell "
           "(e.g. audio/intro.wav), or clear the cell to generate the row.")
    problems = []
    for n, row in enumerate(script.rows, start=1):
        name = row.get("file")
        if name is None:
            continue
        path, looked = _in_project(name, root, "audio file")
        if path is not None:
            continue
        if looked.is_relative_to(root):
            what = f"the recording '{name}' is not in the project folder (looked for {looked})."
        else:
            what = (f"the recording '{name}' is outside the project folder {root} (it points to {looked}); "
                    "the studio reads files only inside the project folder.")
        problems.append(Problem(n, "file", what, fix))
    return problems


# -- backends and voices --------------------------------------------------------------------------------------

def backend_choices() -> dict[str, list[str]]:
    """Per audio type, the backends that can run here (their dependencies are installed), default first."""
    from ..backends import DEFAULTS, available_backends

    classes = available_backends()
    out: dict[str, list[str]] = {}
    for kind in KINDS:
        names = [n for n, cls in classes.items() if kind in cls.kinds and not cls.missing()]
        names.sort(key=lambda n: (n != DEFAULTS[kind], n))
        out[kind] = names
    return out


def default_backend(kind: str) -> str:
    from ..backends import DEFAULTS

    return DEFAULTS[kind]


def voices(backend: str) -> list[tuple[str, str]]:
    """A speech backend's voices as (label, name) pairs for a picker; empty when it cannot be built here."""
    from ..backends import create_backend

    try:
        b = create_backend(backend or default_backend("speech"), "speech")
        try:
            return [(f"{v.name} — {v.description}" if v.description else v.name, v.name) for v in b.voices()]
        finally:
            b.close()
    except StoryAudioError:
        return []


# -- the writer -----------------------------------------------------------------------------------------------

def writer_status(base_url: str | None) -> tuple[bool, str]:
    """Whether Write can work (an LLM is configured), and a note saying which endpoint, or what to do."""
    if importlib.util.find_spec("openai") is None:
        return False, ("Write is off: the writer's client is not installed. Fix: pip install "
                       "'storyaudio[writer]', then restart the studio.")
    base_url = (base_url or "").strip()
    if not base_url and not os.environ.get("OPENAI_API_KEY", "").strip() and \
            not os.environ.get("OPENAI_BASE_URL", "").strip():
        return False, ("Write is off: no LLM is configured. Fix: start the studio with OPENAI_API_KEY set (OpenAI), "
                       "or type the Base URL of a local OpenAI-compatible server (Ollama: "
                       "http://localhost:11434/v1, llama.cpp server: http://localhost:8080/v1). Without one, "
                       "upload a script, load an example or fill in the table.")
    from ..writer.providers import redact_url, resolve_endpoint

    try:
        endpoint, _, key = resolve_endpoint(base_url or None, None)
    except WriterError as exc:
        return False, f"Write is off: {exc}"
    whose = " (key from OPENAI_API_KEY)" if key == "OPENAI_API_KEY" else ""
    return True, f"Write asks {redact_url(endpoint)}{whose}."


def write(prompt: str, base_url: str | None = None, model: str | None = None) -> Script:
    """A script from a prompt through the writer (validated and repaired there). Raises WriterError."""
    from ..writer import generate_script

    try:
        data = generate_script(prompt, base_url=(base_url or "").strip() or None,
                               model=(model or "").strip() or None)
    except WriterError as exc:  # the page has boxes where the command line has flags
        raise WriterError(str(exc).replace("--base-url", "the Base URL box").replace("--model", "the Model box")
                          .replace("--max-repairs", "more repair turns")) from None
    return Script.from_dict(data, source="the writer")


# -- the project: renders in numbered folders -----------------------------------------------------------------

_RENDER_ID = re.compile(r"\d{3,6}")
_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@dataclass
class RenderInfo:
    """One render of the project, as the page shows it."""

    id: str
    folder: Path
    created: float
    duration: float | None = None
    rendered_rows: list[int] = field(default_factory=list)
    cached_rows: list[int] = field(default_factory=list)
    loudness: dict[str, Any] = field(default_factory=dict)
    use: dict[str, str] = field(default_factory=dict)
    preset: str | None = None
    reseed: dict[int, int] = field(default_factory=dict)
    seconds: float | None = None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def file(self, name: str) -> Path | None:
        p = self.folder / name
        return p if p.is_file() else None

    @property
    def mix_wav(self) -> Path | None:
        return self.file("mix.wav")

    @property
    def mix_mp3(self) -> Path | None:
        return self.file("mix.mp3")

    @property
    def zip(self) -> Path | None:
        return self.file(f"render-{self.id}.zip")

    @property
    def picture(self) -> Path | None:
        return self.file("timeline.png")

    @property
    def counts(self) -> str:
        return f"rendered {len(self.rendered_rows)}, from cache {len(self.cached_rows)}"

    def label(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.created))
        length = f" · {self.duration:.1f} s" if self.duration is not None else ""
        return f"{self.id} · {when}{length} · {self.counts}"


class Project:
    """A project folder. Every path the page names is checked to lie inside it."""

    SCRIPT_NAMES = tuple(f"script.{ext}" for ext in ("tsv", "json", "csv", "md"))

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot use {self.root} as the project folder: {exc.strerror}. "
                            "Fix: pass --project with a folder you can write.") from None
        self.shown = _shown(self.root)
        self.renders_dir = self.root / "renders"
        self.state_dir = self.root / ".studio"
        self.state_dir.mkdir(exist_ok=True)

    # paths -------------------------------------------------------------------------------------------------
    def inside(self, path: str | os.PathLike) -> Path:
        """``path`` resolved (links followed); a UserError when it lies outside the project folder."""
        p = Path(path)
        p = (p if p.is_absolute() else self.root / p).resolve()
        if not p.is_relative_to(self.root):
            raise UserError(f"{path} is outside the project folder {self.root}; the studio reads and writes "
                            "only inside it.")
        return p

    def render_dir(self, render_id: str) -> Path:
        rid = str(render_id or "").strip()
        if not _RENDER_ID.fullmatch(rid):
            raise UserError(f"'{render_id}' is not a render of this project. Fix: pick one from the list.")
        folder = self.inside(self.renders_dir / rid)
        if not (folder / "mix.wav").is_file():
            raise UserError(f"render {rid} is not in this project (or did not finish). Fix: pick one from the list.")
        return folder

    # renders -----------------------------------------------------------------------------------------------
    def renders(self) -> list[RenderInfo]:
        """Finished renders, newest first."""
        if not self.renders_dir.is_dir():
            return []
        out = []
        for p in sorted(self.renders_dir.iterdir(), key=lambda p: p.name, reverse=True):
            if _RENDER_ID.fullmatch(p.name):
                with contextlib.suppress(UserError):  # unfinished, or a link out of the project
                    out.append(self.info(p.name))
        return sorted(out, key=lambda r: int(r.id), reverse=True)

    def info(self, render_id: str) -> RenderInfo:
        folder = self.render_dir(render_id)
        meta = _read_json(folder / "studio.json") or {}
        timeline = _read_json(folder / "timeline.json") or {}
        info = RenderInfo(id=folder.name, folder=folder,
                          created=meta.get("created", (folder / "mix.wav").stat().st_mtime),
                          duration=timeline.get("duration"), loudness=_read_json(folder / "loudness.json") or {})
        for key in ("rendered_rows", "cached_rows", "use", "preset", "seconds", "warnings", "timings"):
            if key in meta:
                setattr(info, key, meta[key])
        info.reseed = {int(k): int(v) for k, v in (meta.get("reseed") or {}).items()}
        return info

    def clip(self, render_id: str, row: int) -> tuple[Path | None, str]:
        """Row ``row``'s clip in a render (from its timeline.json), or None and why not."""
        folder = self.render_dir(render_id)
        events = (_read_json(folder / "timeline.json") or {}).get("events", [])
        ev = next((e for e in events if e.get("row") == row), None)
        if ev is None or not ev.get("clip_file"):
            return None, (f"row {row} has no clip in render {folder.name}: an End row has none, and rows added "
                          "since that render have none until the next one.")
        path = self.inside(folder / ev["clip_file"])
        return (path if path.is_file() else None), ev.get("content", "")

    def _new_render_dir(self) -> Path:
        self.renders_dir.mkdir(exist_ok=True)
        taken = [int(p.name) for p in self.renders_dir.iterdir() if _RENDER_ID.fullmatch(p.name)]
        n = max(taken, default=0) + 1
        while True:
            folder = self.renders_dir / f"{n:03d}"
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                n += 1

    @contextlib.contextmanager
    def _render_lock(self, progress: Progress) -> Iterator[None]:
        """One render at a time per project: in this process (a lock per folder) and across processes (an
        advisory lock on .studio/render.lock where the system has one). A render that has to wait says so."""
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(self.root, threading.Lock())
        if not lock.acquire(blocking=False):
            progress("queued", 0, 0)
            lock.acquire()
        try:
            with open(self.state_dir / "render.lock", "a+") as fh:
                try:
                    import fcntl
                except ImportError:  # Windows: the in-process lock only
                    yield
                    return
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    progress("queued", 0, 0)
                    fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        finally:
            lock.release()

    def render(self, script: Script, settings: Settings, reseed: dict[int, int] | None = None,
               on_progress: Progress | None = None) -> RenderInfo:
        """Render ``script`` into the next numbered folder through the library's ``render`` (waiting for a
        render of this project already running), then add studio.json and the zip. A failed render leaves no
        folder behind and every earlier render untouched."""
        progress = on_progress or (lambda stage, done, total: None)
        config = render_config(settings, reseed, self.root)
        found = project_problems(script, self.root)
        if found:  # the cover's and the File cells' problems in the page's words, not the command line's
            raise ScriptError(found)
        with self._render_lock(progress):
            folder = self._new_render_dir()
            started = time.monotonic()
            try:
                result = _call_render(script, folder, config, progress)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            meta = {
                "created": time.time(), "seconds": round(time.monotonic() - started, 2),
                "rendered_rows": sorted(result.rendered_rows), "cached_rows": sorted(result.cached_rows),
                "use": dict(result.timeline.backends), "preset": config.preset,
                "reseed": {str(k): v for k, v in config.reseed.items()}, "seed": config.seed,
                "warnings": [str(w) for w in getattr(result, "warnings", None) or []],
                "timings": dict(getattr(result, "timings", None) or {}),
            }
            atomic_write_text(folder / "studio.json", json.dumps(meta, indent=2) + "\n")
            progress("package", 0, 1)
            _zip_folder(folder, folder / f"render-{folder.name}.zip")
            progress("package", 1, 1)
        return self.info(folder.name)

    # the script --------------------------------------------------------------------------------------------
    def save_script(self, script: Script, fmt: str) -> Path:
        """The script saved as the project's script.<ext> (the one the studio opens with next time)."""
        if fmt not in SAVE_FORMATS.values():
            raise UserError(f"cannot save a script as '{fmt}'. Formats: {', '.join(SAVE_FORMATS)}.")
        path = self.inside(f"script.{fmt}")
        atomic_write_text(path, script_to_text(script, fmt))
        for other in self.SCRIPT_NAMES:  # one saved script, so the next start opens this one
            if other != path.name and (self.root / other).is_file():
                (self.root / other).unlink()
        return path

    def autosave(self, script: Script) -> Path:
        """Keep the script just rendered as the project's script, in the format it was last saved in."""
        fmt = next((n.split(".")[1] for n in self.SCRIPT_NAMES if (self.root / n).is_file()), "tsv")
        return self.save_script(script, fmt)

    def saved_script(self) -> Script | None:
        """The project's saved script, or None when it has none (or it no longer validates)."""
        for name in self.SCRIPT_NAMES:
            path = self.root / name
            if path.is_file():
                try:
                    return read_upload(path)
                except UserError as exc:
                    log.warning("the project's %s does not load: %s", name, exc)
                    return None
        return None


def _call_render(script: Script, folder: Path, config: Any, progress: Progress):
    """The library's render, its progress reports passed on (each stage, each clip)."""
    return _library().render(script, folder, config, on_progress=progress)


def _zip_folder(folder: Path, target: Path) -> Path:
    """Everything in a render folder (but the zip itself) in one zip, written atomically."""
    with atomic_path(target) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(folder.rglob("*")):
                if p.is_file() and p != target and not p.name.startswith("."):
                    zf.write(p, f"render-{folder.name}/{p.relative_to(folder).as_posix()}")
    return target


def _shown(path: Path) -> str:
    """The folder as the page names it: relative to the working folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


__all__ = [
    "MAX_UPLOAD_BYTES", "EXAMPLES", "SAVE_FORMATS", "KINDS", "PRESETS", "EpisodeField", "Settings", "Sheet",
    "Report", "RenderInfo", "Project", "script_from_table", "table_from_script", "episode_fields", "read_upload",
    "example", "script_text", "addable_columns", "add_column", "column_note", "cover_problem",
    "file_problems", "project_problems",
    "check", "render_config", "backend_choices", "default_backend", "voices", "writer_status", "write",
    "mp3_available",
]
