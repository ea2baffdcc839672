"""The script as Python objects, and the semantic rules the schema cannot express."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import Problem, ScriptError
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
#: The longest piece storyaudio renders (seconds of explicit durations, and of the planned timeline).
MAX_TOTAL_SECONDS = 3600.0
#: Rough speaking rate used to estimate speech length before rendering.
WORDS_PER_SECOND = 2.6

ROW_KEYS = ("audio_type", "layout", "id", "character", "volume", "action", "content", "duration")


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

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ROW_KEYS}


@dataclass
class CastMember:
    name: str
    description: str | None = None
    voice: str | None = None


@dataclass
class Script:
    title: str
    rows: list[Row]
    cast: list[CastMember] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> "Script":
        """Validate (schema, then semantic rules) and build. Raises ScriptError listing every problem."""
        problems = check(data)
        if problems:
            raise ScriptError(problems, source)
        return cls._build(data)

    @classmethod
    def _build(cls, data: dict) -> "Script":
        rows = [Row(**{k: r[k] for k in ROW_KEYS}) for r in data["rows"]]
        cast = [CastMember(c["name"], c.get("description"), c.get("voice")) for c in (data.get("cast") or [])]
        return cls(title=data["title"], rows=rows, cast=cast)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": self.title}
        if self.cast:
            out["cast"] = [asdict(c) for c in self.cast]
        out["rows"] = [r.to_dict() for r in self.rows]
        return out

    def characters(self) -> list[str]:
        """Speaking characters in order of first appearance."""
        seen: dict[str, None] = {}
        for r in self.rows:
            if r.audio_type == "speech" and r.character:
                seen.setdefault(r.character, None)
        return list(seen)


def check(data: Any) -> list[Problem]:
    """Every problem of a script dict: schema first; when the shape is right, the semantic rules."""
    problems = schema_problems(data)
    if problems:
        return problems
    return semantic_problems(Script._build(data))


def semantic_problems(script: Script) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    open_tracks: dict[int, int] = {}  # id -> row number of its begin
    fg_at_begin: dict[int, int] = {}  # id -> foreground rows seen when it began
    fg_seen = 0
    waiting_for_foreground: list[int] = []  # begin rows (auto duration) still waiting for a foreground row
    total = 0.0
    for n, r in enumerate(script.rows, start=1):
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
                total += len((r.content or "").split()) / WORDS_PER_SECOND
            else:
                total += DEFAULT_DURATION[r.audio_type]
    for n in waiting_for_foreground:
        add(Problem(n, "duration", "this background track begins after the last foreground row, so 'auto' "
                                   "gives it no length.",
                    "give it a duration in seconds, or move it above a foreground row."))
    if total > MAX_TOTAL_SECONDS:
        add(Problem(None, "rows", f"the foreground adds up to about {total:.0f} s, more than the "
                                  f"{MAX_TOTAL_SECONDS:.0f} s limit.", "split the piece into several scripts."))
    names = [c.name for c in script.cast]
    for dup in sorted({x for x in names if names.count(x) > 1}):
        add(Problem(None, "cast", f"character '{dup}' appears twice in the cast.", "keep one entry per character."))
    return problems
