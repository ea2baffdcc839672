"""Bass patterns: the line under each chord of a bar.

A pattern is one function of a :class:`BassSpan` (one chord of one bar, with its root and fifth already in
the bass register), registered with ``@bassline(name)``. The loop around it (:func:`walk`) skips the bars
the part sits out and, in the intro, holds each root instead of playing the figure (unless the pattern
says it plays itself in the intro).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..form import Bar
from ..harmony import Chord, bass_note, chord_scale, nearest_pc
from ..plan import Part
from ..writer import Writer
from .registry import register
from .span import Span


@dataclass
class BassSpan(Span):
    """One chord of one bar: ``root`` and ``fifth`` are MIDI notes around ``centre`` (the fifth above the
    root when it is close, else below); ``next_chord`` opens the following bar (None at the end); ``last``
    is True for the bar's last chord."""

    root: int
    fifth: int
    centre: int
    next_chord: Chord | None
    last: bool

    @property
    def low_fifth(self) -> int:
        """The fifth an octave down when that stays above E1."""
        return self.fifth - 12 if self.fifth - 12 >= 28 else self.fifth


Figure = Callable[[BassSpan], None]


def register_centre(program: int) -> int:
    """The middle of the bass register for a program: higher for cello, bassoon and pads."""
    centre = 40 if program not in (42, 70) else 45
    if program in (0, 89):
        centre = 40 if program == 0 else 45
    return centre


def walk(w: Writer, ch: int, part: Part, bars: list[Bar], figure: Figure, in_intro: bool = False) -> None:
    centre = register_centre(part.program)
    for i, bar in enumerate(bars):
        if not w.plays(part, bar):
            continue
        b0 = bar.index * w.M
        nxt = bars[i + 1].spans[0][2] if i + 1 < len(bars) else None
        fig = figure if in_intro or bar.section != "intro" else held
        for si, (s, d, chord) in enumerate(bar.spans):
            r = bass_note(chord.root, centre)
            f = bass_note(chord.fifth, centre)
            f = f if f > r else f + 12 if f + 12 - r <= 9 else f
            fig(BassSpan(w, ch, part, bar, b0 + s, d, chord, w.vel(88, bar), root=r, fifth=f, centre=centre,
                         next_chord=nxt, last=si == len(bar.spans) - 1))


def bassline(name: str, in_intro: bool = False) -> Callable[[Figure], Figure]:
    """Register ``figure(span)`` as the bass pattern ``name``; ``in_intro``: it plays its own figure in the
    intro too (otherwise the intro holds the roots)."""

    def deco(figure: Figure) -> Figure:
        register("bass", name, lambda w, ch, part, bars: walk(w, ch, part, bars, figure, in_intro))
        return figure

    return deco


def held(c: BassSpan) -> None:
    """The root held for the whole chord (every pattern's intro)."""
    c.add(0, c.beats, c.root, c.vel, legato=1.0)


@bassline("root", in_intro=True)
def root(c: BassSpan) -> None:
    """The root held, with a push on the and of 3 in louder sections."""
    held(c)
    if c.beats >= 4 and c.bar.intensity > 0.6:
        c.add(2.5, 0.5, c.root, c.vel * 0.7)


@bassline("drone", in_intro=True)
def drone(c: BassSpan) -> None:
    """The root held, softly."""
    c.add(0, c.beats, c.root, c.vel * 0.8, legato=1.0)


@bassline("pedal", in_intro=True)
def pedal(c: BassSpan) -> None:
    """The tonic held under every chord."""
    c.add(0, c.beats, bass_note(c.w.plan.tonic, c.centre), c.vel, legato=1.0)


@bassline("pulse", in_intro=True)
def pulse(c: BassSpan) -> None:
    """Driving eighths on the root."""
    for off in np.arange(0, c.beats, 0.5):
        c.add(off, 0.5, c.root, c.vel * (1.0 if off % 1 == 0 else 0.8), legato=0.7, jitter=0.002)


@bassline("walking")
def walking(c: BassSpan) -> None:
    """A walking bass: quarter notes along the chord scale, leading by a semitone into the next bar's
    root."""
    target = bass_note(c.next_chord.root, c.centre) if c.next_chord is not None and c.last else None
    line = [c.root]
    sc = chord_scale(c.chord, c.w.scale)
    cur = c.root
    nbeats = int(c.beats)
    rng = c.w.rng
    for k in range(1, nbeats):
        if k == nbeats - 1 and target is not None:
            cur = target + (1 if rng.random() < 0.5 else -1)
        else:
            options = [nearest_pc(cur + step, sc) for step in (-3, -2, 2, 3, 4)]
            options = [o for o in options if 28 <= o <= 52 and o != cur] or [c.fifth]
            cur = options[int(rng.integers(len(options)))]
            if k == 2 and rng.random() < 0.5:
                cur = c.fifth
        line.append(cur)
    for k, p in enumerate(line):
        c.add(k, 1.0, p, c.vel * (0.95 if k % 2 == 0 else 0.85), legato=0.9)


@bassline("rootfifth")
def rootfifth(c: BassSpan) -> None:
    """Root and fifth alternating on the half bar (once a bar in 3/4)."""
    for k, off in enumerate(np.arange(0, c.beats, 2.0 if c.w.M == 4 else 1.0 * c.w.M)):
        c.add(off, min(2.0, c.beats - off), c.root if k % 2 == 0 else c.low_fifth, c.vel, legato=0.8)


@bassline("bossa")
def bossa(c: BassSpan) -> None:
    """The bossa bass: root on 1, fifth on the and of 2 and on 3, root on the and of 4."""
    c.add(0, 1.5, c.root, c.vel)
    if c.beats >= 2:
        c.add(1.5, 0.5, c.fifth, c.vel * 0.8)
    if c.beats >= 4:
        c.add(2, 1.5, c.fifth, c.vel * 0.9)
        c.add(3.5, 0.5, c.root, c.vel * 0.8)


@bassline("boogie")
def boogie(c: BassSpan) -> None:
    """A boogie-woogie eighth-note figure up the chord to the sixth and flat seventh and back."""
    r = c.root
    seq = [r, r + 4 if 4 in c.chord.intervals else r + 3, r + 7, r + 9, r + 10, r + 9, r + 7, r + 4]
    for k, off in enumerate(np.arange(0, c.beats, 0.5)):
        c.add(off, 0.5, seq[k % len(seq)], c.vel * (0.95 if k % 2 == 0 else 0.75), legato=0.8)


@bassline("eighths")
def eighths(c: BassSpan) -> None:
    """Rock eighths on the root, sometimes stepping to the fifth before the next bar."""
    for k, off in enumerate(np.arange(0, c.beats, 0.5)):
        p = c.root if not (k == 7 and c.next_chord is not None and c.w.rng.random() < 0.4) else c.fifth
        c.add(off, 0.5, p, c.vel * (1.0 if k % 2 == 0 else 0.8), legato=0.75, jitter=0.002)


@bassline("funk")
def funk(c: BassSpan) -> None:
    """A syncopated funk line with octave pops and the flat seventh."""
    r, f = c.root, c.fifth
    grid = [(0, 1.0, r), (0.75, 0.7, r + 12), (1.5, 0.8, r), (2.5, 0.85, f), (3, 0.7, r + 10), (3.5, 0.9, r + 12)]
    for off, acc, p in grid:
        if off < c.beats:
            c.add(off, 0.35, p, c.vel * acc, legato=0.8, jitter=0.002)


@bassline("octave")
def octave(c: BassSpan) -> None:
    """Synth-bass eighths jumping between the root and its octave."""
    for k, off in enumerate(np.arange(0, c.beats, 0.5)):
        c.add(off, 0.5, c.root + 12 * (k % 2), c.vel * (1.0 if k % 2 == 0 else 0.8), legato=0.6, jitter=0.001)


@bassline("waltzbass")
def waltzbass(c: BassSpan) -> None:
    """One note a bar: the root, and the fifth below in every other bar."""
    c.add(0, 1.0, c.root if c.bar.index % 2 == 0 else c.low_fifth, c.vel)


@bassline("oompahbass")
def oompahbass(c: BassSpan) -> None:
    """The oom of oom-pah: root and low fifth alternating on the strong beats."""
    for k, off in enumerate(np.arange(0, c.beats, 2.0 if c.w.M == 4 else float(c.w.M))):
        c.add(off, 1.0, c.root if k % 2 == 0 else c.low_fifth, c.vel, legato=0.7)


@bassline("reggae")
def reggae(c: BassSpan) -> None:
    """A one-drop bass line that leaves the downbeat's second half empty."""
    r, f = c.root, c.fifth
    for off, p in ((0, r), (1.5, r), (2, f), (3, r + 12), (3.5, f)):
        if off < c.beats:
            c.add(off, 0.5, p, c.vel * 0.9, legato=0.8)


__all__ = ["BassSpan", "bassline", "register_centre", "walk"]
