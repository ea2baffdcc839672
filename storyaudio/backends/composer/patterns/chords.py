"""Accompaniment patterns, for chords and pad parts: how each chord of a bar is played.

A pattern is one function of a :class:`ChordSpan` (one chord of one bar, already voiced close to the last
voicing), registered with ``@accompaniment(name)``. The loop around it (:func:`accompany`) skips the bars
the part sits out, voices each chord, and turns the C section into a breakdown where chord parts hold their
chords (the ``pad`` figure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..form import Bar
from ..harmony import voice_chord
from ..instruments import chord_centre
from ..plan import Part
from ..writer import Writer
from .registry import register
from .span import Span


@dataclass
class ChordSpan(Span):
    """One chord of one bar, voiced as ``voicing`` around ``centre``."""

    voicing: list[int]
    centre: int

    def strike(self, off: float, beats: float, vel: float, notes: list[int] | None = None, **kw) -> None:
        """The chord (or ``notes`` of it) ``off`` beats into the span."""
        for p in self.voicing if notes is None else notes:
            self.add(off, beats, p, vel, **kw)


Figure = Callable[[ChordSpan], None]


def accompany(w: Writer, ch: int, part: Part, bars: list[Bar], figure: Figure, voices: int = 4) -> None:
    centre = chord_centre(part.program)
    prev = None
    for bar in bars:
        if not w.plays(part, bar):
            prev = None
            continue
        b0 = bar.index * w.M
        # the C section is a breakdown: the accompaniment holds its chords
        fig, n = (pad, 4) if bar.section == "C" and part.role == "chords" else (figure, voices)
        for s, d, chord in bar.spans:
            v = voice_chord(chord, prev, centre, n)
            prev = v
            fig(ChordSpan(w, ch, part, bar, b0 + s, d, chord, w.vel(72, bar), voicing=v, centre=centre))


def accompaniment(name: str, voices: int = 4) -> Callable[[Figure], Figure]:
    """Register ``figure(span)`` as the accompaniment pattern ``name`` (chords voiced in ``voices`` notes)."""

    def deco(figure: Figure) -> Figure:
        register("accompaniment", name,
                 lambda w, ch, part, bars: accompany(w, ch, part, bars, figure, voices))
        return figure

    return deco


@accompaniment("pad")
def pad(c: ChordSpan) -> None:
    """The chord held for the whole span."""
    c.strike(0, c.beats, c.vel * 0.85, legato=1.0)


@accompaniment("block")
def block(c: ChordSpan) -> None:
    """Held when the chord lasts two beats or more, otherwise struck on every beat."""
    if c.beats >= 2:
        pad(c)
        return
    for off in np.arange(0, c.beats, 1.0):
        c.strike(off, 1.0, c.vel * 0.75, legato=0.9)


@accompaniment("ostinato")
def ostinato(c: ChordSpan) -> None:
    """Repeated eighths through the chord, accented every half bar, kept below the register's top."""
    v = c.voicing
    cells = [v[0], v[-1], v[1], v[-1]] if c.bar.index % 2 == 0 else [v[0], v[1], v[-1], v[1]]
    step = 0.5
    k = 0
    x = 0.0
    while x < c.beats - 1e-6:
        acc = 1.15 if k % 4 == 0 else 0.9
        p = cells[k % 4]
        c.add(x, step, p - (12 if p > c.centre + 5 else 0), c.vel * acc, legato=0.6, jitter=0.003)
        x += step
        k += 1


def _broken(c: ChordSpan, seq: list[int], step: float) -> None:
    """``seq`` over and over, a note every ``step`` beats, each ringing into the next."""
    x, k = 0.0, 0
    while x < c.beats - 1e-6:
        c.add(x, 2 * step, seq[k % len(seq)], c.vel * (1.05 if k % 4 == 0 else 0.85), legato=1.0)
        x += step
        k += 1


@accompaniment("arpeggio")
def arpeggio(c: ChordSpan) -> None:
    """Up and down the chord from the root an octave below, in eighths (quarters at fast tempos); the
    section's repeats take another shape."""
    v = c.voicing
    if c.bar.occurrence % 2 == 1:
        seq = [v[0] - 12, v[1], v[-1], v[1] + 12, v[-1], v[1], v[2], v[1]]
    else:
        seq = [v[0] - 12, v[0], v[1], v[2], v[-1], v[2], v[1], v[0]]
    _broken(c, seq, 1.0 if c.w.plan.tempo > 140 else 0.5)


@accompaniment("roll")
def roll(c: ChordSpan) -> None:
    """A banjo roll: the arpeggio reaching an octave above the voicing."""
    v = c.voicing
    _broken(c, [v[0] - 12, v[0], v[1], v[2], v[-1] + 12, v[2], v[1], v[0]], 0.5)


@accompaniment("fingerpick")
def fingerpick(c: ChordSpan) -> None:
    """Travis-style picking: alternating bass notes under the upper voices."""
    v = c.voicing
    _broken(c, [v[0] - 12, v[2], v[1], v[-1], v[0] - 5, v[2], v[1], v[-1]], 0.5)


@accompaniment("strum")
def strum(c: ChordSpan) -> None:
    """Down-strokes on the beats (from the root below the voicing), up-strokes on some off-beats, the
    strings a few milliseconds apart; quieter sections strum less."""
    v = c.voicing
    grid = [(0, 1.0), (1, 0.8), (1.5, 0.6), (2, 0.9), (2.5, 0.6), (3, 0.8), (3.5, 0.65)]
    if c.bar.intensity < 0.5:
        grid = [(0, 1.0), (2, 0.85)] if c.w.M == 4 else [(0, 1.0)]
    low = v[0] - 1 - ((v[0] - 1 - c.chord.root) % 12)  # the root below the voicing
    for off, acc in grid:
        if off >= c.beats:
            continue
        up = off % 1 != 0
        notes = v[::-1] if up else [low] + v
        for k, p in enumerate(notes):
            c.w.add(c.ch, c.at + off + k * 0.012 / c.w.beat_sec, min(1.0, c.beats - off), p,
                    c.vel * acc * (0.65 if up else 0.8), jitter=0.002)


@accompaniment("jazzcomp")
def jazzcomp(c: ChordSpan) -> None:
    """Comping: the chord on one of a few syncopated rhythms, chosen afresh for every chord."""
    shell = voice_chord(c.chord, c.voicing, c.centre, 4)
    choices = [[(0, 1.5)], [(0, 0.5), (1.5, 1)], [(1.5, 0.5), (3, 1)], [(0.5, 1)], [(0, 1), (2.5, 1)]]
    for off, ln in choices[int(c.w.rng.integers(len(choices)))]:
        if off < c.beats:
            c.strike(off, min(ln, c.beats - off), c.vel * 0.8, shell, legato=0.85)


@accompaniment("bossa")
def bossa(c: ChordSpan) -> None:
    """The bossa guitar: bass notes on 1, the and of 2 and 4, upper voices in between."""
    v = c.voicing
    for off in [0, 1.5, 3] if c.beats >= 4 else [0, 1.5]:
        if off < c.beats:
            c.add(off, 0.75, v[0] - 12 if off == 0 else v[0], c.vel * 0.8)
    for off in [0.5, 1, 2, 2.5, 3.5]:
        if off < c.beats:
            c.strike(off, 0.45, c.vel * 0.7, v[1:], legato=0.8)


@accompaniment("skank")
def skank(c: ChordSpan) -> None:
    """Short chords on the off-beats (an organ an octave up)."""
    for off in np.arange(0.5, c.beats, 1.0):
        for p in c.voicing[:3]:
            c.add(off, 0.3, p + 12 * (c.part.program == 16), c.vel * 0.8, legato=0.5, jitter=0.002)


@accompaniment("shuffle")
def shuffle(c: ChordSpan) -> None:
    """The chord on every beat with its upper voices again on the swung off-beat."""
    for off in np.arange(0, c.beats, 1.0):
        c.strike(off, 0.5, c.vel * (0.9 if off % 2 == 0 else 0.75))
        c.strike(off + 0.5, 0.4, c.vel * 0.6, c.voicing[1:])


@accompaniment("power", voices=3)
def power(c: ChordSpan) -> None:
    """Power chords (root, fifth, octave) in driving eighths."""
    root = c.centre - 12 + ((c.chord.root - c.centre) % 12)
    for off in np.arange(0, c.beats, 0.5):
        for p in (root, root + 7, root + 12):
            c.add(off, 0.5, p, c.vel * (1.0 if off % 1 == 0 else 0.8), legato=0.85, jitter=0.002)


@accompaniment("alberti")
def alberti(c: ChordSpan) -> None:
    """Alberti bass: low, high, middle, high in eighths."""
    v = c.voicing
    seq = [v[0], v[-1], v[1], v[-1]]
    for k, off in enumerate(np.arange(0, c.beats, 0.5)):
        c.add(off, 0.5, seq[k % 4], c.vel * 0.75, legato=0.9)


@accompaniment("waltz")
def waltz(c: ChordSpan) -> None:
    """Oom-pah-pah without the oom: the upper voices on beats 2 and 3 (held when the chord is short)."""
    for off in range(1, int(c.beats)):
        c.strike(off, 0.8, c.vel * 0.7, c.voicing[1:], legato=0.7)
    if c.beats < c.w.M:
        c.strike(0, c.beats, c.vel * 0.7, c.voicing[1:], legato=0.7)


@accompaniment("oompah")
def oompah(c: ChordSpan) -> None:
    """The pah of oom-pah: the chord on the off-beats of a march (every beat after the first in 3/4)."""
    for off in np.arange(1, c.beats, 2 if c.w.M == 4 else 1):
        c.strike(off, 0.6, c.vel * 0.8, legato=0.6)


@accompaniment("pulse8")
def pulse8(c: ChordSpan) -> None:
    """Pop piano eighths: the full chord on the beat, the upper voices between."""
    for k, off in enumerate(np.arange(0, c.beats, 0.5)):
        c.strike(off, 0.5, c.vel * (0.85 if k % 2 == 0 else 0.65), c.voicing[1:] if k % 2 else None, legato=0.8,
                 jitter=0.003)


__all__ = ["ChordSpan", "accompaniment", "accompany"]
