"""The score being written: notes placed by beat, turned into seconds with swing and a little human timing.

Every pattern writes through one :class:`Writer`, which holds the piece's random generator: patterns draw
from it in the order the parts are written, so the same plan and seed give the same notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .form import Bar
from .harmony import scale_of
from .plan import MusicPlan, Part


@dataclass
class Note:
    start: float  # seconds
    dur: float  # seconds
    channel: int
    pitch: int
    vel: int


class Writer:
    def __init__(self, plan: MusicPlan, seed: int, beat_sec: float, rng: np.random.Generator, offset: int = 0):
        self.plan = plan
        self.seed = seed
        self.beat_sec = beat_sec
        self.rng = rng
        self.M = plan.meter  # beats per bar
        self.notes: list[Note] = []
        self.scale = scale_of(plan)
        self.background = plan.layout == "background"
        self.offset = offset  # beats of pickup before bar 0

    def t(self, beat: float) -> float:
        """Seconds of a beat position, with swing on the off-beat eighths."""
        sw = self.plan.swing
        beat = beat + self.offset
        whole = math.floor(beat)
        f = beat - whole
        if sw > 0:
            f = f * (0.5 + sw) / 0.5 if f <= 0.5 else 0.5 + sw + (f - 0.5) * (0.5 - sw) / 0.5
        return (whole + f) * self.beat_sec

    def add(self, ch: int, beat: float, beats: float, pitch: int, vel: float, jitter: float = 0.006,
            legato: float = 0.95) -> None:
        """A note on channel ``ch`` at ``beat`` lasting ``legato`` of ``beats``, its start and velocity
        humanised (the very first beat of the piece is never early)."""
        if not 0 <= pitch <= 127:
            return
        start = self.t(beat)
        end = self.t(beat + beats)
        if jitter and beat + self.offset > 0:
            start += float(self.rng.normal(0, jitter))
            start = max(0.0, start)
        dur = max(0.04, (end - start) * legato)
        v = int(np.clip(vel + self.rng.normal(0, 4), 1, 127))
        self.notes.append(Note(start, dur, ch, int(pitch), v))

    def hold(self, ch: int, seconds: float, hold: float, pitch: int, vel: float) -> None:
        """A note at an exact time in seconds, without swing or humanising (the final chord)."""
        self.notes.append(Note(seconds, hold, ch, pitch, int(vel)))

    @staticmethod
    def vel(base: float, bar: Bar) -> float:
        """``base`` velocity scaled by the bar's intensity."""
        return base * (0.72 + 0.38 * bar.intensity)

    @staticmethod
    def plays(part: Part, bar: Bar) -> bool:
        """Whether ``part`` plays in ``bar``: the intro brings in harmony, then bass, then drums; the
        cadence nearly everyone; elsewhere a part plays once the section is at least as intense as its
        ``enter`` level."""
        if bar.section == "intro":
            return part.role in ("chords", "pad") and part.enter <= 0.1 or (
                part.role == "bass" and bar.phrase_bar >= 1) or (part.role == "drums" and bar.phrase_bar >= 3)
        if bar.section == "cadence":
            return part.enter <= 0.85
        return part.enter <= bar.intensity + 1e-9


__all__ = ["Note", "Writer"]
