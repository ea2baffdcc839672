"""Script -> timeline: which backend and voice makes each row, and when each row plays.

Planning happens in two steps because speech length is known only once it is spoken:

1. :func:`plan` (before rendering) chooses backends, casts voices, sets every known duration, and assigns
   tracks, stereo positions and seeds.
2. :func:`place` (after the foreground is rendered) puts foreground events one after another, then gives each
   background track its span: from the start of the first foreground row after its ``begin`` row to the point
   the foreground has reached at its ``end`` row (the end of the piece when it is never ended).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from .script.model import DEFAULT_DURATION, MAX_TOTAL_SECONDS, Script
from .errors import Problem, ScriptError

#: Stereo positions handed to characters in order of first appearance (the first speaker sits centre).
PAN_POSITIONS = (0.0, -0.3, 0.3, -0.15, 0.15, -0.4, 0.4)


@dataclass
class Event:
    """One row on the timeline. Times in seconds; ``start``/``end`` are None until placed."""

    row: int
    audio_type: str
    layout: str
    track: str
    content: str
    target_lufs: float
    backend: str
    seed: int
    character: str | None = None
    voice: str | None = None
    character_description: str | None = None
    track_id: int | None = None
    requested: float | None = None  # seconds asked of the backend (None: auto)
    start: float | None = None
    end: float | None = None
    pan: float | None = None
    fade_in: float = 0.005
    fade_out: float = 0.005
    detail: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    clip_file: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.start is None or self.end is None else self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("start", "end", "requested", "fade_in", "fade_out"):
            if d[k] is not None:
                d[k] = round(d[k], 4)
        return d


@dataclass
class Timeline:
    title: str
    sample_rate: int
    events: list[Event]
    casting: dict[str, str]
    backends: dict[str, str]
    speech_gap: float
    duration: float | None = None

    @property
    def foreground(self) -> list[Event]:
        return [e for e in self.events if e.layout == "foreground"]

    @property
    def background(self) -> list[Event]:
        return [e for e in self.events if e.layout == "background"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "sample_rate": self.sample_rate,
            "duration": None if self.duration is None else round(self.duration, 4),
            "speech_gap": self.speech_gap,
            "backends": self.backends,
            "casting": self.casting,
            "events": [e.to_dict() for e in self.events],
        }


def event_seed(base_seed: int, kind: str, content: str, occurrence: int) -> int:
    """A seed per event that depends on what the event is, not where it sits, so inserting a row does not
    change (and re-render) every other row."""
    digest = hashlib.sha256(f"{base_seed}|{kind}|{content}|{occurrence}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def plan(script: Script, backends: dict[str, str], casting: dict[str, str], sample_rate: int,
         seed: int = 0, speech_gap: float = 0.35, reseed: dict[int, int] | None = None) -> Timeline:
    """Build the timeline's events with everything known before rendering.

    ``backends`` maps audio type to backend name; ``casting`` maps character to voice name; ``reseed`` maps a
    row to a take number that gives it another seed (a new take of that row alone, as the studio's
    "Re-render row" asks; take 0 is the row's usual seed).
    """
    reseed = reseed or {}
    descriptions = {c.name: c.description for c in script.cast}
    pans = {name: PAN_POSITIONS[i % len(PAN_POSITIONS)] for i, name in enumerate(script.characters())}
    begins: dict[int, Event] = {}
    occurrences: dict[tuple[str, str], int] = {}
    events: list[Event] = []
    for n, row in enumerate(script.rows, start=1):
        if row.is_background and row.action == "end":
            continue
        content = (row.content or "").strip()
        occ = occurrences[(row.audio_type, content)] = occurrences.get((row.audio_type, content), -1) + 1
        if row.is_background:
            track = f"bg{row.id}-{row.audio_type.replace('_', '-')}"
        elif row.audio_type == "speech":
            track = f"speech-{_slug(row.character or 'voice')}"
        else:
            track = f"fg-{row.audio_type.replace('_', '-')}"
        ev = Event(
            row=n, audio_type=row.audio_type, layout=row.layout, track=track, content=content,
            target_lufs=row.target_lufs(), backend=backends[row.audio_type],
            seed=_take(event_seed(seed, row.audio_type, content, occ), reseed.get(n, 0)), character=row.character,
            voice=casting.get(row.character or "") if row.audio_type == "speech" else None,
            character_description=descriptions.get(row.character or ""), track_id=row.id,
            pan=pans.get(row.character or "") if row.audio_type == "speech" else None,
        )
        if row.layout == "foreground":
            ev.requested = row.seconds if row.audio_type == "speech" else (row.seconds or DEFAULT_DURATION[row.audio_type])
        else:
            ev.requested = row.seconds  # None: the span, known after placement
            begins[row.id] = ev
        events.append(ev)
    return Timeline(script.title, sample_rate, events, dict(casting), dict(backends), speech_gap)


def place(timeline: Timeline, script: Script, lengths: dict[int, float]) -> None:
    """Give every event its start and end. ``lengths`` maps a foreground row to its rendered length."""
    by_row = {e.row: e for e in timeline.events}
    cursor = 0.0
    previous: str | None = None
    waiting: list[Event] = []  # background tracks begun, waiting for the next foreground row
    open_tracks: dict[int, Event] = {}
    for n, row in enumerate(script.rows, start=1):
        if row.layout == "foreground":
            ev = by_row[n]
            if previous == "speech" and row.audio_type == "speech":
                cursor += timeline.speech_gap
            for bg in waiting:
                bg.start = cursor
            waiting.clear()
            length = lengths[n]
            if ev.requested is not None and row.audio_type == "speech":
                length = max(length, ev.requested)
            ev.start, ev.end = cursor, cursor + length
            cursor = ev.end
            previous = row.audio_type
        elif row.action == "begin":
            bg = by_row[n]
            waiting.append(bg)
            open_tracks[row.id] = bg
        elif row.action == "end" and row.id in open_tracks:
            bg = open_tracks.pop(row.id)
            if bg.start is None:  # no foreground row between begin and end
                bg.start = cursor
            span_end = cursor
            bg.end = span_end if bg.requested is None else min(span_end, bg.start + bg.requested)
            if bg.requested is not None and bg.end <= bg.start:
                bg.end = bg.start + bg.requested
    for bg in waiting:
        bg.start = cursor
    piece_end = max([cursor] + [bg.start + bg.requested for bg in open_tracks.values() if bg.requested])
    for bg in open_tracks.values():
        bg.end = piece_end if bg.requested is None else bg.start + bg.requested
    problems = []
    for ev in timeline.background:
        length = ev.duration
        if length is None or length < 0.05:
            problems.append(Problem(ev.row, "action", "this background track gets no time to play: no "
                                    "foreground row plays between its begin and end rows.",
                                    "put foreground rows between begin and end, or give it a duration."))
        else:
            ev.fade_in = min(1.0, 0.15 * length)
            ev.fade_out = min(1.5, 0.2 * length)
    if problems:
        raise ScriptError(problems)
    timeline.duration = max([cursor] + [e.end for e in timeline.events if e.end is not None])
    if timeline.duration > MAX_TOTAL_SECONDS:
        raise ScriptError([Problem(None, "rows", f"the piece would last {timeline.duration:.0f} s, more than the "
                                   f"{MAX_TOTAL_SECONDS:.0f} s limit.", "split it into several scripts.")])


def _take(seed: int, take: int) -> int:
    """The seed of another take of an event (take 0: the seed itself)."""
    if not take:
        return seed
    digest = hashlib.sha256(f"{seed}|take|{take}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _slug(text: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in text).strip("-")
    while "--" in out:
        out = out.replace("--", "-")
    return out or "voice"
