"""Drum grooves: the hits of one bar.

A groove is one function of a :class:`DrumBar` returning ``(beat, key, accent)`` hits, registered with
``@groove(name)``. The loop around it (:func:`drum`) adds a crash at each new section, replaces the last
beat of a section with a fill (toms, or the snare for marching and news grooves), and plays every hit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..form import Bar
from ..instruments import (
    CLAP,
    CLOSED_HAT,
    CRASH,
    FLOOR_TOM,
    HIGH_TOM,
    KICK,
    LOW_TOM,
    MID_TOM,
    OPEN_HAT,
    PEDAL_HAT,
    RIDE,
    SIDESTICK,
    SNARE,
)
from ..plan import Part
from ..writer import Writer
from .registry import register

Hit = tuple[float, int, float]  # (beat in the bar, GM drum key, accent)


@dataclass
class DrumBar:
    w: Writer
    bar: Bar

    @property
    def M(self) -> int:  # noqa: N802 - the meter, as the grooves are written
        return self.w.M

    @property
    def it(self) -> float:
        """The bar's intensity."""
        return self.bar.intensity


Groove = Callable[[DrumBar], list[Hit]]
Fill = Literal["toms", "snare"] | None

TOMS = [HIGH_TOM, HIGH_TOM, MID_TOM, MID_TOM, LOW_TOM, LOW_TOM, FLOOR_TOM, FLOOR_TOM]


def drum(w: Writer, ch: int, part: Part, bars: list[Bar], groove: Groove, crash: bool, fill: Fill) -> None:
    M = w.M
    for bar in bars:
        if not w.plays(part, bar):
            continue
        b0 = bar.index * M
        it = bar.intensity
        vel = w.vel(92, bar)
        hits: list[Hit] = []
        if crash and bar.section_start and bar.section != "intro" and bar.index > 0:
            hits.append((0, CRASH, 0.85))
        hits += groove(DrumBar(w, bar))
        if fill and bar.fill and it > 0.35:
            start = M - 1
            hits = [h for h in hits if h[0] < start]
            for k in range(4 if it < 0.8 else 8):
                step = 0.25 if it < 0.8 else 0.125
                x = start + k * step
                if fill == "snare":
                    hits.append((x, SNARE, 0.6 + 0.05 * k))
                else:
                    hits.append((x, TOMS[k % 8 if it >= 0.8 else 2 * k], 0.7 + 0.04 * k))
        for x, key, acc in hits:
            w.add(ch, b0 + x, 0.25, key, vel * acc, jitter=0.003, legato=1.0)


def groove(name: str, crash: bool = True, fill: Fill = "toms") -> Callable[[Groove], Groove]:
    """Register ``groove(bar) -> hits`` as the drum pattern ``name``; ``crash``: a crash opens each new
    section; ``fill``: what plays the fill on a section's last beat (None: no fill)."""

    def deco(fn: Groove) -> Groove:
        register("drums", name, lambda w, ch, part, bars: drum(w, ch, part, bars, fn, crash, fill))
        return fn

    return deco


def _kicks_on_1_and_3(c: DrumBar, accent: float, second: float) -> list[Hit]:
    return [(0, KICK, accent), (2, KICK, second)] if c.M == 4 else [(0, KICK, accent)]


def _backbeat(c: DrumBar, extra_kicks: list[Hit], hat_step: float, hat: int) -> list[Hit]:
    """Kick on 1 and 3 (plus ``extra_kicks``), snare on 2 and 4, a hi-hat every ``hat_step`` beats."""
    hits = _kicks_on_1_and_3(c, 1.0, 0.95) + extra_kicks
    hits += [(b, SNARE, 0.95) for b in range(1, c.M, 2)]
    hits += [(x, hat, 0.55 + 0.2 * ((x % 1) == 0)) for x in np.arange(0, c.M, hat_step)]
    return hits


@groove("rock")
def rock(c: DrumBar) -> list[Hit]:
    """The backbeat with eighth hats (the ride in the loudest sections)."""
    return _backbeat(c, [], 0.5, CLOSED_HAT if c.it < 0.9 else RIDE)


@groove("pop")
def pop(c: DrumBar) -> list[Hit]:
    """The backbeat with an extra kick when it lifts, sixteenth hats at the top."""
    return _backbeat(c, [(2.5, KICK, 0.7)] if c.it > 0.6 else [], 0.5 if c.it < 0.85 else 0.25, CLOSED_HAT)


@groove("news", fill="snare")
def news(c: DrumBar) -> list[Hit]:
    """The backbeat with a pushing kick, for news themes."""
    extra = [(1.5, KICK, 0.75), (3.5, KICK, 0.6)] if c.M == 4 else []
    return _backbeat(c, extra, 0.5 if c.it < 0.85 else 0.25, CLOSED_HAT)


@groove("swing", fill=None)
def swing(c: DrumBar) -> list[Hit]:
    """Ride (brushed snare when quiet) in the swing pattern, hi-hat foot on 2 and 4, a feathered kick and
    the odd snare comment."""
    ride = [(0, 0.8), (1, 0.9), (1.5, 0.55), (2, 0.8), (3, 0.9), (3.5, 0.55)][: 6 if c.M == 4 else 3]
    hits: list[Hit] = [(x, RIDE if c.it > 0.5 else SNARE, a * (1 if c.it > 0.5 else 0.6)) for x, a in ride]
    hits += [(b, PEDAL_HAT, 0.6) for b in range(1, c.M, 2)]
    hits += [(0, KICK, 0.35)]
    rng = c.w.rng
    if rng.random() < 0.4:
        hits.append((float(rng.choice([1.5, 2.5, 3.5])) % c.M, SNARE, 0.35))
    return hits


@groove("bossa", fill="snare")
def bossa(c: DrumBar) -> list[Hit]:
    """The bossa nova: kick on 1 and 3 with pickups, the clave on the rim, steady eighth hats."""
    hits: list[Hit] = [(0, KICK, 0.8), (1.5, KICK, 0.5), (2, KICK, 0.8), (3.5, KICK, 0.5)]
    hits += [(x, SIDESTICK, 0.55) for x in (0, 1.5, 3, 5 - 4 if c.bar.index % 2 else 2.5) if x < c.M]
    hits += [(x, CLOSED_HAT, 0.4) for x in np.arange(0, c.M, 0.5)]
    return hits


@groove("train", fill="snare")
def train(c: DrumBar) -> list[Hit]:
    """The country train beat: snare eighths accented on 2 and 4."""
    hits = _kicks_on_1_and_3(c, 0.9, 0.85)
    hits += [(x, SNARE, 0.8 if x % 1 == 0 and int(x) % 2 == 1 else 0.35) for x in np.arange(0, c.M, 0.5)]
    hits += [(x, CLOSED_HAT, 0.4) for x in np.arange(0, c.M, 1.0)]
    return hits


@groove("shuffle")
def shuffle(c: DrumBar) -> list[Hit]:
    """The blues shuffle: backbeat with swung eighths on the hat (the ride when loud)."""
    hits = _kicks_on_1_and_3(c, 0.9, 0.85)
    hits += [(b, SNARE, 0.9) for b in range(1, c.M, 2)]
    hits += [(x, RIDE if c.it > 0.7 else CLOSED_HAT, 0.55 + 0.15 * (x % 1 == 0)) for x in np.arange(0, c.M, 0.5)]
    return hits


@groove("funk")
def funk(c: DrumBar) -> list[Hit]:
    """Syncopated kick, ghost notes on the snare, sixteenth hats and an open hat before the bar."""
    hits: list[Hit] = [(0, KICK, 1.0), (0.75, KICK, 0.6), (2.5, KICK, 0.8)]
    hits += [(1, SNARE, 0.95), (3, SNARE, 0.95), (1.75, SNARE, 0.3), (3.25, SNARE, 0.3)]
    hits += [(x, CLOSED_HAT, 0.45 + 0.2 * (x % 0.5 == 0)) for x in np.arange(0, c.M, 0.25)]
    hits.append((3.5, OPEN_HAT, 0.6))
    return hits


@groove("lofi")
def lofi(c: DrumBar) -> list[Hit]:
    """A lazy boom-bap: late kicks, soft snare, quiet hats."""
    hits: list[Hit] = [(0, KICK, 0.9), (1.75, KICK, 0.55), (2.5, KICK, 0.75)]
    hits += [(1, SNARE, 0.8), (3, SNARE, 0.85)]
    hits += [(x, CLOSED_HAT, 0.35 + 0.15 * (x % 1 == 0)) for x in np.arange(0, c.M, 0.5)]
    return hits


@groove("four")
def four(c: DrumBar) -> list[Hit]:
    """Four on the floor: kick every beat, claps on 2 and 4 once it builds, off-beat hats."""
    hits: list[Hit] = [(b, KICK, 1.0) for b in range(c.M)]
    if c.it > 0.45:
        hits += [(b, CLAP, 0.8) for b in range(1, c.M, 2)]
    hits += [(b + 0.5, OPEN_HAT if c.it > 0.6 else CLOSED_HAT, 0.6) for b in range(c.M)]
    if c.it > 0.8:
        hits += [(x, CLOSED_HAT, 0.35) for x in np.arange(0.25, c.M, 0.5)]
    return hits


@groove("march", fill="snare")
def march(c: DrumBar) -> list[Hit]:
    """A marching snare in eighths with a drag into the next bar; bass drum on the strong beats."""
    hits = _kicks_on_1_and_3(c, 0.9, 0.8)
    hits += [(x, SNARE, 0.75 if x % 1 == 0 else 0.45) for x in np.arange(0, c.M, 0.5)]
    hits += [(c.M - 0.25, SNARE, 0.5)]
    if c.it > 0.7:
        hits += [(0, CRASH, 0.5)]
    return hits


@groove("onedrop")
def onedrop(c: DrumBar) -> list[Hit]:
    """Reggae's one drop: kick and rim together on 3 only."""
    hits: list[Hit] = [(2, KICK, 0.95), (2, SIDESTICK, 0.85)] if c.M == 4 else [(1, KICK, 0.9)]
    hits += [(x, CLOSED_HAT, 0.45 + 0.15 * (x % 1 == 0)) for x in np.arange(0, c.M, 0.5)]
    return hits


@groove("soft", crash=False, fill=None)
def soft(c: DrumBar) -> list[Hit]:
    """Brushes: a soft kick, the snare on every beat, the hi-hat foot on 2 and 4."""
    hits = _kicks_on_1_and_3(c, 0.5, 0.4)
    hits += [(x, SNARE, 0.35) for x in range(c.M)]
    hits += [(b, PEDAL_HAT, 0.4) for b in range(1, c.M, 2)]
    return hits


__all__ = ["DrumBar", "Hit", "drum", "groove"]
