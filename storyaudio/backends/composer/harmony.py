"""Harmony: chord symbols (roman numerals relative to the tonic), scales, voicings, and the notes of the
bass and of tuned percussion. Pure functions of pitch classes and MIDI notes; no randomness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .plan import MINORISH, SCALES, MusicPlan


@dataclass
class Chord:
    symbol: str
    root: int  # pitch class
    intervals: tuple[int, ...]

    @property
    def pcs(self) -> list[int]:
        return [(self.root + i) % 12 for i in self.intervals]

    @property
    def third(self) -> int:
        return (self.root + self.intervals[1]) % 12

    @property
    def fifth(self) -> int:
        return (self.root + (self.intervals[2] if len(self.intervals) > 2 else 7)) % 12


_ROMAN = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}
_CHORD_RE = re.compile(r"^(b|#)?(vii|iii|vi|iv|ii|v|i)(.*)$", re.IGNORECASE)
_UPPER = {"": (0, 4, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "6": (0, 4, 7, 9), "sus4": (0, 5, 7),
          "sus2": (0, 2, 7), "add9": (0, 4, 7, 14), "9": (0, 4, 7, 10, 14)}
_LOWER = {"": (0, 3, 7), "7": (0, 3, 7, 10), "ø7": (0, 3, 6, 10), "°": (0, 3, 6), "°7": (0, 3, 6, 9),
          "6": (0, 3, 7, 9), "add9": (0, 3, 7, 14), "maj7": (0, 3, 7, 11)}


def parse_chord(symbol: str, tonic: int) -> Chord:
    """A roman-numeral symbol ("V7", "bVI", "iiø7") in the key whose tonic is pitch class ``tonic``."""
    m = _CHORD_RE.match(symbol)
    if not m:
        raise ValueError(f"bad chord symbol {symbol!r}")
    acc, numeral, suffix = m.groups()
    root = _ROMAN[numeral.lower()] + {"b": -1, "#": 1, None: 0}[acc]
    table = _UPPER if numeral.isupper() else _LOWER
    intervals = table.get(suffix, table[""])
    return Chord(symbol, (tonic + root) % 12, intervals)


def is_minor(plan: MusicPlan) -> bool:
    return plan.mode in MINORISH


def tonic_chord(plan: MusicPlan) -> Chord:
    return parse_chord("i" if is_minor(plan) else "I", plan.tonic)


def scale_of(plan: MusicPlan) -> list[int]:
    """The pitch classes of the plan's key and mode."""
    return [(plan.tonic + i) % 12 for i in SCALES.get(plan.mode, SCALES["major"])]


def chord_scale(chord: Chord, scale_pcs: list[int]) -> list[int]:
    """The mode's scale with chord tones replacing scale tones a semitone away (V in minor gets its
    leading tone)."""
    ct = set(chord.pcs)
    out = set(ct)
    for pc in scale_pcs:
        if not any(min((pc - c) % 12, (c - pc) % 12) == 1 for c in ct):
            out.add(pc)
    return sorted(out)


def nearest_pc(pitch: float, pcs: list[int]) -> int:
    """The MIDI note nearest ``pitch`` whose pitch class is one of ``pcs``."""
    best = None
    for o in range(-1, 2):
        for pc in pcs:
            base = (int(pitch) // 12 + o) * 12 + pc
            if best is None or abs(base - pitch) < abs(best - pitch):
                best = base
    return int(best)


def scale_step(pitch: int, scale_pcs: list[int], direction: int) -> int:
    """The next note of the scale above (``direction`` 1) or below (-1) ``pitch``."""
    p = pitch + direction
    while p % 12 not in scale_pcs:
        p += direction
    return p


def voice_chord(chord: Chord, prev: list[int] | None, centre: int, n: int = 4) -> list[int]:
    """A close voicing of ``n`` notes near ``centre`` that moves least from ``prev`` (the fifth is dropped
    first when the chord has more tones than ``n``; a triad in four voices doubles its lowest note)."""
    pcs: list[int] = []
    for i in chord.intervals:
        pc = (chord.root + i) % 12
        if pc not in pcs:
            pcs.append(pc)
    if len(pcs) > n:
        pcs = [p for p in pcs if p != chord.fifth] if len(pcs) - 1 >= n else pcs
        pcs = pcs[:n]
    candidates = []
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for base_oct in range(centre // 12 - 2, centre // 12 + 1):
            cur = base_oct * 12 + order[0]
            notes = [cur]
            for pc in order[1:]:
                cur = cur + ((pc - cur) % 12 or 12)
                notes.append(cur)
            if len(notes) < n:
                notes.append(notes[0] + 12)
            mid = (notes[0] + notes[-1]) / 2
            if abs(mid - centre) <= 7:
                candidates.append(notes)
    if not candidates:
        low = centre - 6
        candidates = [sorted(low + ((pc - low) % 12) for pc in pcs)]
    if prev:
        pm = sum(prev) / len(prev)
        # move little from the last voicing, but drift back towards the centre of the register
        return min(candidates, key=lambda c: abs(sum(c) / len(c) - pm) + abs(c[0] - prev[0]) * 0.3
                   + abs(c[-1] - prev[-1]) * 0.5 + 0.35 * abs((c[0] + c[-1]) / 2 - centre))
    return min(candidates, key=lambda c: abs((c[0] + c[-1]) / 2 - centre))


def bass_note(pc: int, centre: int = 40) -> int:
    """The bass note of pitch class ``pc`` in the octave from ``centre - 6`` up."""
    return centre - 6 + ((pc - (centre - 6)) % 12)


def timpani_note(pc: int) -> int:
    """Pitch class ``pc`` in the timpani's range, Bb1 to A2 (MIDI 34-45)."""
    r = 36 + ((pc - 36) % 12)
    return r - 12 if r > 45 else r


#: The note untuned percussion (taiko, hand drums) is struck on.
DRUM_NOTE = 45


__all__ = [
    "DRUM_NOTE",
    "Chord",
    "bass_note",
    "chord_scale",
    "is_minor",
    "nearest_pc",
    "parse_chord",
    "scale_of",
    "scale_step",
    "timpani_note",
    "tonic_chord",
    "voice_chord",
]
