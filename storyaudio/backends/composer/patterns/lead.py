"""Melodic patterns: a motif per section letter, developed bar by bar, and brass stabs.

A motif is two one-bar rhythm cells and a contour of scale steps, drawn from the seed and the section letter,
so an A section brings back its tune. Within a section the second pair of bars repeats the motif a step
higher, repeats are varied, and every fourth bar ends the phrase on a long chord tone.

Who plays a melody: ``theme`` (lead: the tune in full), ``motif`` (lead or tuned percussion: sparser, in
two-bar breaths) and ``counter`` (chords or pad: one long note every other bar).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from ...base import rng_for
from ..form import Bar
from ..harmony import chord_scale, nearest_pc, scale_step, voice_chord
from ..instruments import lead_centre
from ..plan import Part
from ..writer import Writer
from .registry import pattern, register

#: One-bar rhythm cells, (beat, beats) per note: 4/4 and 3/4, busy and sparse.
CELLS4 = [[(0, 1), (1, 1), (2, 2)], [(0, 1.5), (1.5, 0.5), (2, 2)], [(0, 0.5), (0.5, 0.5), (1, 1), (2, 2)],
          [(0, 2), (2, 1), (3, 1)], [(0, 1), (1, 0.5), (1.5, 0.5), (2, 2)], [(0, 3), (3, 1)],
          [(0.5, 0.5), (1, 1), (2, 1.5), (3.5, 0.5)], [(0, 1), (1, 1), (2, 1), (3, 1)],
          [(0, 0.5), (0.5, 0.5), (1, 0.5), (1.5, 0.5), (2, 2)], [(0, 1.5), (1.5, 1), (2.5, 1.5)]]
CELLS3 = [[(0, 2), (2, 1)], [(0, 1), (1, 1), (2, 1)], [(0, 1.5), (1.5, 0.5), (2, 1)], [(0, 1), (1, 2)],
          [(0, 0.5), (0.5, 0.5), (1, 1), (2, 1)]]
SPARSE4 = [[(0, 2), (2, 2)], [(0, 3), (3, 1)], [(0, 4)], [(1, 1), (2, 2)], [(0, 1.5), (1.5, 2.5)]]
SPARSE3 = [[(0, 3)], [(0, 2), (2, 1)], [(1, 2)]]


@dataclass(frozen=True)
class Line:
    """How a part plays the melody."""

    sparse: bool  # sparse rhythm cells (always sparse in a background bed or a sparse texture)
    breathes: bool  # plays two bars of every four (every melody does in a background bed)
    counter: bool = False  # one long note every other bar, softer


LINES = {"theme": Line(False, False), "motif": Line(True, True), "counter": Line(True, False, True)}


def motif(w: Writer, letter: str, sparse: bool) -> tuple[list[list[tuple[float, float]]], list[int]]:
    """The section's motif: two rhythm cells and a contour of scale steps, from the seed and the letter."""
    r = rng_for("motif", w.seed, letter, w.plan.style)
    if w.M == 4:
        cells = SPARSE4 if sparse else CELLS4
    else:
        cells = SPARSE3 if sparse else CELLS3
    rhythm = [cells[int(r.integers(len(cells)))] for _ in range(2)]
    n = sum(len(c) for c in rhythm)
    steps = [int(x) for x in r.choice([-2, -1, -1, 0, 1, 1, 2, 2, -3, 3], size=n)]
    return rhythm, steps


def melody(w: Writer, ch: int, part: Part, bars: list[Bar], line: Line = LINES["theme"]) -> None:
    """The part plays the sections' motifs as ``line`` says."""
    centre = lead_centre(part.program)
    sparse = line.sparse or w.background or w.plan.texture == "sparse"
    M = w.M
    pitch = centre
    for bar in bars:
        if not w.plays(part, bar) or bar.section == "intro":
            continue
        letter = bar.section if bar.section in "ABC" else "A"
        rhythm, steps = motif(w, letter, sparse)
        vr = rng_for("variation", w.seed, letter, bar.occurrence, bar.phrase_bar // 2)
        pb = bar.phrase_bar
        # the melody breathes: plays two bars of four (the cadence always)
        if (w.background or line.breathes) and (pb // 2) % 2 == 1 and bar.section != "cadence":
            continue
        if line.counter and pb % 2 == 1:
            continue
        half = pb % 2
        cell = rhythm[half]
        offset = sum(len(c) for c in rhythm[:half])
        st = list(steps[offset:offset + len(cell)])
        if pb >= 4 and pb // 2 == 2:  # sequence: the motif again a step higher
            st = [x + (1 if i == 0 else 0) for i, x in enumerate(st)]
        if bar.occurrence > 0 and vr.random() < 0.5:  # a varied repeat
            j = int(vr.integers(len(st)))
            st[j] = -st[j] if st[j] else int(vr.choice([-1, 1]))
        phrase_end = (pb % 4 == 3) or bar.section == "cadence" and bar.fill
        if phrase_end:
            cell = [(0, 1), (1, M - 1)] if w.rng.random() < 0.5 else [(0, M)]
            st = st[:len(cell)] + [0] * (len(cell) - len(st))
        if line.counter:
            cell = [(0, M * 2.0)]
        b0 = bar.index * M
        for k, (off, ln) in enumerate(cell):
            span = [sp for sp in bar.spans if sp[0] <= off < sp[0] + sp[1]]
            chord = (span[0] if span else bar.spans[0])[2]
            sc = chord_scale(chord, w.scale)
            # move along the chord scale by the contour step
            cand = pitch
            step = st[k % len(st)] if st else 0
            if abs(pitch + 2 * step - centre) > 9:
                step = -step if step else (-1 if pitch > centre else 1)
            for _ in range(abs(step)):
                cand = scale_step(cand, sc, 1 if step > 0 else -1)
            strong = off % 2 == 0 or ln >= 1.5
            if strong or k == len(cell) - 1 and phrase_end:
                cand = nearest_pc(cand, chord.pcs[:3])
            if phrase_end and k == len(cell) - 1 and bar.section == "cadence":
                cand = nearest_pc(cand, [chord.root])
            if abs(cand - pitch) > 7:  # no wide leaps: the chord tone nearest the last note instead
                cand = min((nearest_pc(pitch + d, chord.pcs[:3]) for d in (-3, 3)), key=lambda x: abs(x - pitch))
            while cand > centre + 10:
                cand -= 12 if cand - 12 >= centre - 10 else 1
            while cand < centre - 10:
                cand += 12 if cand + 12 <= centre + 10 else 1
            pitch = int(cand)
            if pitch % 12 not in sc:
                pitch = nearest_pc(pitch, sc)
            vel = w.vel(84 if not w.background else 62, bar)
            if line.counter:
                vel *= 0.8
            w.add(ch, b0 + off, ln, pitch, vel * (1.05 if off == 0 else 0.95), jitter=0.008, legato=0.92)


for _table, _name in (("lead", "theme"), ("lead", "motif"), ("perc", "motif"), ("accompaniment", "counter")):
    register(_table, _name, partial(melody, line=LINES[_name]))


@pattern("lead", "stabs")
def stabs(w: Writer, ch: int, part: Part, bars: list[Bar]) -> None:
    """Brass stabs: short chords on the and of 2 and on 3 or the and of 4, every other bar."""
    for bar in bars:
        if not w.plays(part, bar) or bar.phrase_bar % 2 == 0:
            continue
        chord = bar.spans[-1][2]
        v = voice_chord(chord, None, 66, 3)
        for off in (1.5, 2.0 if w.rng.random() < 0.5 else 3.5):
            if off < w.M:
                for p in v:
                    w.add(ch, bar.index * w.M + off, 0.35, p, w.vel(90, bar), legato=0.6)


__all__ = ["LINES", "Line", "melody", "motif", "stabs"]
