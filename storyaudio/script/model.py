"""The script as Python objects, and the rules the schema cannot express.

A script dict goes through three steps, whatever its source (a file, a table, an LLM reply):

1. :func:`normalise` cleans text: every line break or other control character becomes one space and text is
   stripped (a table cell cannot hold a line break, so JSON holds the same text the tables do); empty optional
   text (a character, a content, a cast description or voice, a metadata field) becomes null.
2. :func:`check` validates: the JSON Schema (plus what jsonschema lets through: NaN and Infinity), then, when
   the shape is right, the semantic rules (:func:`semantic_problems`). Errors stop a script.
3. :meth:`Script.from_dict` builds the objects and fills :attr:`Script.warnings` (:func:`script_warnings`):
   problems worth a look that do not stop a render.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..columns import registry, row_kind
from ..errors import Problem, ScriptError
from .cells import META_KEYS, ROW_KEYS  # noqa: F401  (re-exported: the script's vocabulary)
from .schema import schema_problems

#: Loudness targets (LUFS) used when a row's volume is null.
DEFAULT_VOLUME = {
    ("speech", "foreground"): -15.0,
    ("music", "foreground"): -18.0,
    ("music", "background"): -32.0,
    ("sound_effect", "foreground"): -20.0,
    ("sound_effect", "background"): -30.0,
}
#: Seconds given to foreground music and effects whose duration is "auto" or null.
DEFAULT_DURATION = {"music": 5.0, "sound_effect": 2.0}
#: The longest piece storyaudio renders (seconds of explicit durations, and of the planned timeline): 4 hours.
MAX_TOTAL_SECONDS = 4 * 3600.0
#: The most rows a script holds (the schema's ``rows.maxItems`` says the same).
MAX_ROWS = 10_000
#: The shortest duration a row may ask for (the schema's minimum; the planner's shortest playable track).
MIN_SECONDS = 0.05
#: Rough speaking rate used to estimate speech length before rendering.
WORDS_PER_SECOND = 2.6
#: A speech row whose duration is under this share of the time its words need gets a warning.
SHORT_SPEECH_RATIO = 0.5

#: The eight keys every row has.

# line breaks and other control characters (C0, DEL, C1, the Unicode line and paragraph separators)
_CONTROL = re.compile(r"\s*(?:[\x00-\x1f\x7f-\x9f\u2028\u2029]\s*)+")


@dataclass
class Row:
    audio_type: str
    layout: str
    id: int | None
    character: str | None
    volume: float | None
    action: str | None
    content: str | None
    duration: float | str | None
    #: Title of the chapter that starts at this row (None: the row continues the chapter before it).
    chapter: str | None = None
    #: The values of extension columns this row sets (JSON key -> value; :mod:`storyaudio.columns`).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_background(self) -> bool:
        return self.layout == "background"

    @property
    def seconds(self) -> float | None:
        """Explicit duration in seconds, or None for auto/null."""
        return float(self.duration) if isinstance(self.duration, (int, float)) else None

    def target_lufs(self) -> float:
        if self.volume is not None:
            return float(self.volume)
        return DEFAULT_VOLUME.get((self.audio_type, self.layout), -20.0)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of an extension column on this row (``default`` when the row does not set it)."""
        value = self.extra.get(key)
        return default if value is None else value

    def to_dict(self) -> dict[str, Any]:
        """The row's JSON: the eight keys, the extension columns it sets, and ``chapter`` only where a
        chapter starts."""
        out = {k: getattr(self, k) for k in ROW_KEYS}
        out.update((k, v) for k, v in self.extra.items() if v is not None)
        if self.chapter is not None:
            out["chapter"] = self.chapter
        return out


@dataclass
class CastMember:
    name: str
    description: str | None = None
    voice: str | None = None


@dataclass
class Script:
    """A validated script. Build it with :meth:`from_dict` (or :func:`storyaudio.script.read_script`).

    Episode metadata are plain optional fields (``author``, ``album``, ``year``, ``cover``, ``description``;
    ``cover`` is a path relative to the script's folder, stored as written). ``warnings`` holds what the
    readers and :func:`script_warnings` found worth a look; it is not part of :meth:`to_dict`.
    """

    title: str
    rows: list[Row]
    cast: list[CastMember] = field(default_factory=list)
    author: str | None = None
    album: str | None = None
    year: int | None = None
    cover: str | None = None
    description: str | None = None
    #: Script-wide values of extensions (the lexicon): top-level JSON key -> value.
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> "Script":
        """Normalise, validate (schema, then semantic rules) and build; ``warnings`` is filled. Raises
        ScriptError listing every problem."""
        data = normalise(data)
        problems = _problems(data)
        if problems:
            raise ScriptError(problems, source)
        script = cls._build(data)
        script.warnings = script_warnings(script)
        return script

    @classmethod
    def _build(cls, data: dict) -> "Script":
        reg = registry()
        rows = [Row(**{k: r[k] for k in ROW_KEYS}, chapter=r.get("chapter"),
                    extra={c.key: r[c.key] for c in reg.columns if r.get(c.key) is not None}) for r in data["rows"]]
        for r in rows:
            if isinstance(r.id, float):  # 1.0 is an integer to JSON Schema
                r.id = int(r.id)
        cast = [CastMember(c["name"], c.get("description"), c.get("voice")) for c in (data.get("cast") or [])]
        meta = {k: data.get(k) for k in META_KEYS}
        if isinstance(meta["year"], float):
            meta["year"] = int(meta["year"])
        extra = {f.key: data[f.key] for f in reg.fields if data.get(f.key)}
        return cls(title=data["title"], rows=rows, cast=cast, **meta, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": self.title}
        out.update(self.metadata())
        if self.cast:
            out["cast"] = [{"name": c.name, "description": c.description, "voice": c.voice} for c in self.cast]
        out.update((k, v) for k, v in self.extra.items() if v)
        out["rows"] = [r.to_dict() for r in self.rows]
        return out

    def metadata(self) -> dict[str, Any]:
        """The episode metadata that are set, in :data:`META_KEYS` order (for tags)."""
        return {k: getattr(self, k) for k in META_KEYS if getattr(self, k) is not None}

    def characters(self) -> list[str]:
        """Speaking characters in order of first appearance."""
        seen: dict[str, None] = {}
        for r in self.rows:
            if r.audio_type == "speech" and r.character:
                seen.setdefault(r.character, None)
        return list(seen)

    def chapters(self) -> list[tuple[int, str]]:
        """``(row, title)`` of every chapter, rows 1-based. A chapter begins where the first foreground row
        at or after its row begins, and lasts until the next chapter begins (or the piece ends). Rows before
        the first chapter belong to no chapter."""
        return [(n, r.chapter) for n, r in enumerate(self.rows, start=1) if r.chapter is not None]

    def background_tracks(self) -> list[tuple[int, int | None]]:
        """``(begin_row, end_row)`` of every background track in the order they begin, rows 1-based; ``end_row``
        None for a track no row ends (it plays to the end of the piece). An end row with no open track of its
        id is left out (validation names it)."""
        tracks: list[list] = []
        open_tracks: dict[int, list] = {}  # track id -> its [begin, end] while it plays
        for n, r in enumerate(self.rows, start=1):
            if r.is_background and r.action == "begin":
                open_tracks[r.id] = [n, None]
                tracks.append(open_tracks[r.id])
            elif r.is_background and r.action == "end" and r.id in open_tracks:
                open_tracks.pop(r.id)[1] = n
        return [(begin, end) for begin, end in tracks]

    def chapter_ranges(self) -> list[tuple[int, int, str]]:
        """``(first_row, last_row, title)`` of every chapter, rows 1-based and inclusive."""
        starts = self.chapters()
        ends = [n - 1 for n, _ in starts[1:]] + [len(self.rows)]
        return [(n, end, title) for (n, title), end in zip(starts, ends)]


def clean_text(text: str) -> str:
    """Text as a script holds it: line breaks and control characters as one space, stripped."""
    return _CONTROL.sub(" ", text).strip()


def normalise(data: Any) -> Any:
    """A copy of a script dict with its text cleaned (:func:`clean_text`) and empty optional text as null.
    Anything not shaped like a script is returned as it is, for the schema to name."""
    if not isinstance(data, dict):
        return data

    def text(value: Any, empty_is_null: bool) -> Any:
        if not isinstance(value, str):
            return value
        value = clean_text(value)
        return None if empty_is_null and not value else value

    out = dict(data)
    if "title" in out:
        out["title"] = text(out["title"], False)
    for key in META_KEYS:
        if key in out:
            out[key] = text(out[key], True)
    if isinstance(out.get("cast"), list):
        out["cast"] = [{**c, **{k: text(c[k], k != "name") for k in ("name", "description", "voice") if k in c}}
                       if isinstance(c, dict) else c for c in out["cast"]]
    reg = registry()
    for f in reg.fields:
        if f.key in out:
            out[f.key] = f.normalise(out[f.key])
    text_columns = [c.key for c in reg.columns if c.type == "string"]
    if isinstance(out.get("rows"), list):
        rows = []
        for r in out["rows"]:
            if isinstance(r, dict):
                r = dict(r)
                for k in ("character", "content", *text_columns):
                    if k in r:
                        r[k] = text(r[k], True)
                if "chapter" in r:
                    r["chapter"] = text(r["chapter"], False)
            rows.append(r)
        out["rows"] = rows
    return out


def check(data: Any) -> list[Problem]:
    """Every problem of a script dict (normalised first): schema; when the shape is right, the semantic
    rules. Warnings are not included (see :func:`script_warnings`)."""
    return _problems(normalise(data))


def _problems(data: Any) -> list[Problem]:
    problems = schema_problems(data)
    if problems:
        return problems
    script = Script._build(data)
    return semantic_problems(script) + extension_problems(script)


def extension_problems(script: Script) -> list[Problem]:
    """Extension columns set on rows they are not for (a Speed on a music row), then each extension's own
    rules (:meth:`storyaudio.columns.Extension.rules`)."""
    reg = registry()
    problems: list[Problem] = []
    for n, r in enumerate(script.rows, start=1):
        if not r.extra:
            continue
        kind = row_kind(r.layout, r.action)
        for key in r.extra:
            col = reg.by_key[key]
            if not col.allowed_on(r.audio_type, kind):
                this = "a background end" if kind == "end" else \
                    f"a {r.layout} {r.audio_type.replace('_', ' ')}"
                problems.append(Problem(n, key, f"{col.header} is for {col.where()}; this is {this} row.",
                                        f"clear the {col.header} cell (N/A) on this row."))
    for ext in reg.extensions:
        problems += ext.rules(script)
    return sorted(problems, key=lambda p: p.row or 0)


def semantic_problems(script: Script) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    open_tracks: dict[int, int] = {}  # id -> row number of its begin
    fg_at_begin: dict[int, int] = {}  # id -> foreground rows seen when it began
    fg_seen = 0
    waiting_for_foreground: list[int] = []  # begin rows (auto duration) still waiting for a foreground row
    chapter_row: int | None = None  # row of the chapter still waiting for its first foreground row
    total = 0.0
    for n, r in enumerate(script.rows, start=1):
        if r.chapter is not None:
            if chapter_row is not None:
                add(_empty_chapter(script, chapter_row))
            chapter_row = n
        if r.audio_type == "speech":
            if r.is_background:
                add(Problem(n, "layout", "speech is foreground only.",
                            "make it a foreground row; speech plays in sequence, never under other speech."))
            if not (r.character or "").strip():
                add(Problem(n, "character", "a speech row needs the speaker's name.", "fill in the Character column."))
            if not (r.content or "").strip():
                add(Problem(n, "content", "a speech row needs the text to speak.", "write the spoken words in Content Description."))
        if r.is_background:
            if r.id is None:
                add(Problem(n, "id", "a background row needs a track id.",
                            "give it an integer id and end the track with a row of the same id and action end."))
            if r.action is None:
                add(Problem(n, "action", "a background row needs an action.",
                            "use begin to start the track, end to stop it."))
            elif r.id is not None and r.action == "begin":
                if r.id in open_tracks:
                    add(Problem(n, "id", f"track {r.id} is already playing (begun at row {open_tracks[r.id]}).",
                                f"end track {r.id} first, or use another id."))
                else:
                    open_tracks[r.id] = n
                    fg_at_begin[r.id] = fg_seen
                if r.audio_type != "speech" and not (r.content or "").strip():
                    add(Problem(n, "content", "a background begin row needs a description of the sound.",
                                "describe the music or effect in Content Description."))
                if r.seconds is None:
                    waiting_for_foreground.append(n)
            elif r.id is not None and r.action == "end":
                if r.id not in open_tracks:
                    add(Problem(n, "action", f"end of track {r.id}, but no earlier begin row with id {r.id} is open.",
                                f"add a background begin row with id {r.id} above, or fix the id."))
                else:
                    begun = open_tracks.pop(r.id)
                    if fg_at_begin[r.id] == fg_seen and script.rows[begun - 1].seconds is None:
                        add(Problem(n, "action", f"track {r.id} ends right after it begins (row {begun}), with "
                                                 "no foreground row between, so it would never play.",
                                    "put foreground rows between its begin and end rows, or give the begin "
                                    "row a duration."))
        else:
            chapter_row = None
            if r.action is not None:
                add(Problem(n, "action", f"'{r.action}' is only for background rows.",
                            "set the action to null (N/A) or make the row background."))
            if r.audio_type != "speech" and not (r.content or "").strip():
                add(Problem(n, "content", f"a {r.audio_type.replace('_', ' ')} row needs a description.",
                            "describe the sound in Content Description."))
            waiting_for_foreground.clear()
            fg_seen += 1
            if r.seconds is not None:
                total += r.seconds
            elif r.audio_type == "speech":
                total += _spoken_seconds(r.content)
            else:
                total += DEFAULT_DURATION[r.audio_type]
    if chapter_row is not None:
        add(_empty_chapter(script, chapter_row))
    for n in waiting_for_foreground:
        add(Problem(n, "duration", "this background track begins after the last foreground row, so 'auto' "
                                   "gives it no length.",
                    "give it a duration in seconds, or move it above a foreground row."))
    if total > MAX_TOTAL_SECONDS:
        add(Problem(None, "rows", f"the foreground adds up to about {_hours(total)}, over the "
                                  f"{MAX_TOTAL_SECONDS / 3600:g}-hour limit of one script.",
                    "split the piece into several scripts (one per chapter, for instance) and render each."))
    names = [c.name for c in script.cast]
    for dup in sorted({x for x in names if names.count(x) > 1}):
        add(Problem(None, "cast", f"character '{dup}' appears twice in the cast.", "keep one entry per character."))
    return problems


def _empty_chapter(script: Script, n: int) -> Problem:
    return Problem(n, "chapter", f"chapter '{script.rows[n - 1].chapter}' has no foreground row before the next "
                                 "chapter or the end, so it would last no time.",
                   "put the chapter mark above a speech, music or effect row of its own, or remove it.")


def script_warnings(script: Script) -> list[Problem]:
    """What is worth a look but does not stop a render: a cast entry that never speaks, one character spelt two
    ways (``Anna`` / ``ANNA``), a speech duration far shorter than its words need."""
    warnings: list[Problem] = []
    first_row: dict[str, int] = {}
    for n, r in enumerate(script.rows, start=1):
        if r.audio_type == "speech" and r.character:
            first_row.setdefault(r.character, n)
    spelling: dict[str, str] = {}  # folded name -> first spelling seen
    for name, n in first_row.items():
        key = _fold(name)
        if key in spelling:
            warnings.append(Problem(n, "character", f"'{name}' and '{spelling[key]}' (row "
                                    f"{first_row[spelling[key]]}) differ only in case or spacing, so they are two "
                                    "characters with two voices.",
                                    f"spell the name the same way in every row (e.g. '{spelling[key]}')."))
        else:
            spelling[key] = name
    for c in script.cast:
        if c.name not in first_row:
            near = spelling.get(_fold(c.name))
            said = f"; the speech rows spell it '{near}'" if near else ""
            warnings.append(Problem(None, "cast", f"'{c.name}' is in the cast but never speaks{said}.",
                                    "spell the name as the speech rows do, give the character a line, or remove "
                                    "the cast entry."))
    for n, r in enumerate(script.rows, start=1):
        if r.audio_type == "speech" and r.seconds is not None and r.content:
            need = _spoken_seconds(r.content)
            if r.seconds < SHORT_SPEECH_RATIO * need:
                words = len(r.content.split())
                warnings.append(Problem(n, "duration", f"{words} words need about {need:.1f} s spoken; "
                                        f"{r.seconds:g} s is far shorter, so the line will be hurried and cut off.",
                                        "give the row more seconds, or Auto to let it take the time it needs."))
    return warnings


def _fold(name: str) -> str:
    return "".join(name.split()).casefold()


def _spoken_seconds(text: str | None) -> float:
    return len((text or "").split()) / WORDS_PER_SECOND


def _hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds:.0f} s"
    return f"{seconds / 3600:.1f} hours ({seconds:.0f} s)"
