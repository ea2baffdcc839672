"""What a per-chord or per-bar pattern is handed: a stretch of one bar, and a pen to write notes in it."""

from __future__ import annotations

from dataclasses import dataclass

from ..form import Bar
from ..harmony import Chord
from ..plan import Part
from ..writer import Writer


@dataclass
class Span:
    """Beats ``at`` to ``at + beats`` of ``bar`` under ``chord``, for ``part`` on MIDI channel ``ch``;
    ``vel`` is the part's velocity scaled by the bar's intensity."""

    w: Writer
    ch: int
    part: Part
    bar: Bar
    at: float
    beats: float
    chord: Chord
    vel: float

    def add(self, off: float, beats: float, pitch: int, vel: float, **kw) -> None:
        """A note ``off`` beats into the span (see :meth:`Writer.add`)."""
        self.w.add(self.ch, self.at + off, beats, pitch, vel, **kw)


__all__ = ["Span"]
