"""Percussion patterns, for timpani, taiko, hand drums and woodblocks: the strokes of one bar.

A pattern is one function of a :class:`~.span.Span` (one whole bar under its first chord), registered with
``@percussion(name)``; the loop around it (:func:`strike`) skips the bars the part sits out. Tuned
percussion playing the melody (``motif``) is in ``lead.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..form import Bar
from ..harmony import DRUM_NOTE, timpani_note
from ..plan import Part
from ..writer import Writer
from .registry import register
from .span import Span

Strokes = Callable[[Span], None]  # one whole bar, under its first chord


def strike(w: Writer, ch: int, part: Part, bars: list[Bar], strokes: Strokes) -> None:
    for bar in bars:
        if w.plays(part, bar):
            strokes(Span(w, ch, part, bar, bar.index * w.M, w.M, bar.spans[0][2], w.vel(84, bar)))


def percussion(name: str) -> Callable[[Strokes], Strokes]:
    """Register ``strokes(bar)`` as the percussion pattern ``name``."""

    def deco(fn: Strokes) -> Strokes:
        register("perc", name, lambda w, ch, part, bars: strike(w, ch, part, bars, fn))
        return fn

    return deco


@percussion("timpani")
def timpani(c: Span) -> None:
    """The root on the downbeat; fifth and root before the next bar when loud; a roll into a new section."""
    M = c.w.M
    r = timpani_note(c.chord.root)
    fifth = r + 7 if r + 7 <= 53 else r - 5
    c.add(0, 1.0, r, c.vel * 1.1)
    if c.bar.intensity > 0.7:
        c.add(M - 1, 0.5, fifth, c.vel * 0.8)
        c.add(M - 0.5, 0.5, r, c.vel * 0.85)
    if c.bar.fill:
        for k in range(8):
            c.w.add(c.ch, c.at + M - 1 + k / 8, 1 / 8, r, c.vel * (0.6 + 0.05 * k), jitter=0.0)


@percussion("heartbeat")
def heartbeat(c: Span) -> None:
    """Lub-dub on the root, twice a bar (once in 3/4)."""
    r = timpani_note(c.chord.root)
    for off in range(0, c.w.M, 2 if c.w.M == 4 else 3):
        c.add(off, 0.4, r, c.vel * 0.9)
        c.w.add(c.ch, c.at + off + 0.4, 0.4, r, c.vel * 0.6)


@percussion("taiko")
def taiko(c: Span) -> None:
    """Big drum strokes; the off-beat ones only in louder sections."""
    for off, acc in ((0, 1.1), (1.5, 0.8), (2, 0.95), (3, 0.85), (3.5, 0.7)):
        if off < c.w.M and (acc > 0.9 or c.bar.intensity > 0.6):
            c.add(off, 0.5, DRUM_NOTE, c.vel * acc, jitter=0.003)


@percussion("handdrum")
def handdrum(c: Span) -> None:
    """A hand-drum groove on a low and two high tones."""
    for off, p, acc in ((0, 50, 1.0), (1, 55, 0.7), (1.5, 55, 0.6), (2, 50, 0.9), (3, 55, 0.7), (3.5, 57, 0.6)):
        if off < c.w.M:
            c.add(off, 0.3, p, c.vel * acc * 0.8, jitter=0.004)


@percussion("clave")
def clave(c: Span) -> None:
    """The clave rhythm (3 + 3 + 2)."""
    for off in (0, 1.5, 3) if c.w.M == 4 else (0, 1.5):
        c.add(off, 0.2, 72, c.vel * 0.7, jitter=0.002)


__all__ = ["percussion", "strike"]
