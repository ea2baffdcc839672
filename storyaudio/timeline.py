"""The records a render passes along, each made once by one stage and never changed after.

    Plan          what the script asks, before anything is rendered        (made by plan.plan)
      Event         one row: backend, voice, track, seed, the length the script asks (``requested``)
    Timeline      when everything plays                                     (made by plan.place)
      PlacedEvent   an Event with its place: ``start``, ``end``, fades; ``span`` = end - start
      Chapter       a chapter's title and when it plays: ``start``, ``end``
    RenderedClip  what rendering made of one row: the clip file, what made it, the gain applied
                                                                            (made by the pipeline)

Delivery reads a Timeline and the RenderedClips by row. Times are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

#: Seconds of room the mix keeps after the last event ends (timeline.json says so as ``tail``).
TAIL_SECONDS = 0.25


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


@dataclass(frozen=True)
class Event:
    """One row as planned. ``requested`` is the length the script asks for in seconds: None for "auto" (speech
    as long as it takes; a background track as long as its span), else the row's duration (foreground music
    and effects get a default when the script gives none)."""

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
    requested: float | None = None
    pan: float | None = None


@dataclass(frozen=True)
class PlacedEvent(Event):
    """An event with its place on the timeline. ``span`` (``end - start``) is the length its clip gets."""

    start: float = 0.0
    end: float = 0.0
    fade_in: float = 0.005
    fade_out: float = 0.005

    @classmethod
    def of(cls, event: Event, start: float, end: float, fade_in: float = 0.005,
           fade_out: float = 0.005) -> "PlacedEvent":
        return cls(**{f.name: getattr(event, f.name) for f in fields(Event)}, start=start, end=end,
                   fade_in=fade_in, fade_out=fade_out)

    @property
    def span(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row, "audio_type": self.audio_type, "layout": self.layout, "track": self.track,
            "content": self.content, "target_lufs": self.target_lufs, "backend": self.backend, "seed": self.seed,
            "character": self.character, "voice": self.voice, "character_description": self.character_description,
            "track_id": self.track_id, "requested": _r(self.requested), "start": _r(self.start),
            "end": _r(self.end), "pan": self.pan, "fade_in": _r(self.fade_in), "fade_out": _r(self.fade_out),
        }


@dataclass(frozen=True)
class Chapter:
    """A chapter as it plays. ``number`` counts the script's chapters from 1; ``row`` is the script row that
    opens it (its ``# Chapter:`` line). It starts where the first foreground row at or after ``row`` starts
    and ends where the next chapter starts; the last one ends with the mix (its tail included), so the
    chapters of an MP3 or M4B reach the end of the file."""

    number: int
    title: str
    row: int
    start: float
    end: float

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "title": self.title, "row": self.row, "start": _r(self.start),
                "end": _r(self.end)}


E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class _Piece(Generic[E]):
    """What a plan and a timeline share: the piece's title and rate, its events in script order, and the
    choices made for it."""

    title: str
    sample_rate: int
    events: tuple[E, ...]
    casting: dict[str, str]
    backends: dict[str, str]
    speech_gap: float

    @property
    def foreground(self) -> list[E]:
        return [e for e in self.events if e.layout == "foreground"]

    @property
    def background(self) -> list[E]:
        return [e for e in self.events if e.layout == "background"]


@dataclass(frozen=True)
class Plan(_Piece[Event]):
    """Every row's event, in script order, with the choices made before rendering."""


@dataclass(frozen=True)
class Timeline(_Piece[PlacedEvent]):
    """The placed events. ``duration`` ends with the last event; the mix lasts ``duration + tail``.
    ``chapters`` are the script's chapters in time order (none when the script has no ``# Chapter:`` lines)."""

    duration: float
    tail: float = TAIL_SECONDS
    chapters: tuple[Chapter, ...] = ()
    #: A preview's rows (first, last; see :func:`storyaudio.plan.crop`), None for the whole script; ``offset``
    #: is where the preview starts in the whole piece (seconds; estimated where rows before it were not rendered).
    rows: tuple[int, int] | None = None
    offset: float = 0.0

    @property
    def mix_samples(self) -> int:
        """Length of the mix in samples: the timeline and its tail."""
        return int(round(self.duration * self.sample_rate)) + int(self.tail * self.sample_rate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "sample_rate": self.sample_rate,
            "duration": round(self.duration, 4),
            "tail": self.tail,
            "speech_gap": self.speech_gap,
            "backends": self.backends,
            "casting": self.casting,
            "chapters": [c.to_dict() for c in self.chapters],
            **({"preview": {"rows": list(self.rows), "offset": _r(self.offset)}} if self.rows else {}),
            "events": [e.to_dict() for e in self.events],
        }


@dataclass(frozen=True)
class RenderedClip:
    """What rendering made of one row: ``clip_file`` (relative to the output folder), what made it
    (``detail`` in words, the backend's ``info`` as data), the backend's level offset (``level_db``, added to
    the row's target) and the gain that brought the clip to that loudness (``gain_db``)."""

    row: int
    clip_file: str
    detail: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    level_db: float = 0.0
    gain_db: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"detail": self.detail, "info": self.info, "level_db": self.level_db, "gain_db": self.gain_db,
                "clip_file": self.clip_file}
