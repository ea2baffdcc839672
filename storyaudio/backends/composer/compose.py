"""From a plan, a duration and a seed to note events for every part.

The piece is laid out in bars: a short intro, sections of 8 bars (A A B A C A ...; each section has its own
progression, melody motif and texture), a cadence (IV/ii - V) and a final tonic chord that rings for the tail.
The tempo is nudged by at most 4 % so that whole bars meet the final chord exactly at ``duration - tail``.
Short cues (stingers) are a pickup of chord hits and a rising run into a final tutti chord.
Section intensity decides which parts play (each part has an ``enter`` threshold), velocities and fills, so
a long bed changes every few bars instead of looping.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..base import rng_for
from .instruments import chord_centre, lead_centre
from .plan import MINORISH, SCALES, MusicPlan, Part

# General MIDI drum keys
KICK, SIDE, SNARE, CLAP, ESNARE = 36, 37, 38, 39, 40
LTOM, CHH, MTOM, PHH, HTOM, OHH, HMTOM, HITOM = 45, 42, 47, 44, 50, 46, 48, 50
FLTOM, CRASH, RIDE, RIDEBELL, TAMB, COWBELL = 41, 49, 51, 53, 54, 56
SHAKER, CLAVES, HCONGA, LCONGA, CABASA = 70, 75, 63, 64, 69


@dataclass
class Note:
    start: float  # seconds
    dur: float  # seconds
    channel: int
    pitch: int
    vel: int


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


def _low(pc: int, centre: int = 40) -> int:
    """The bass note of pitch class ``pc`` in the octave from ``centre - 6`` up."""
    return centre - 6 + ((pc - (centre - 6)) % 12)


def _perc_root(pc: int, program: int) -> int:
    """The note a percussion part ends on: timpani (GM program 47) on ``pc`` between Bb1 and A2 (MIDI 34-45),
    any other program on A2 (45)."""
    r = 36 + ((pc - 36) % 12) if program == 47 else 45
    return r - 12 if r > 45 else r


def parse_chord(symbol: str, tonic: int) -> Chord:
    m = _CHORD_RE.match(symbol)
    if not m:
        raise ValueError(f"bad chord symbol {symbol!r}")
    acc, numeral, suffix = m.groups()
    root = _ROMAN[numeral.lower()] + {"b": -1, "#": 1, None: 0}[acc]
    table = _UPPER if numeral.isupper() else _LOWER
    intervals = table.get(suffix, table[""])
    return Chord(symbol, (tonic + root) % 12, intervals)


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
    best = None
    for o in range(-1, 2):
        for pc in pcs:
            base = (int(pitch) // 12 + o) * 12 + pc
            if best is None or abs(base - pitch) < abs(best - pitch):
                best = base
    return int(best)


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


# ---------------------------------------------------------------------------------------------------------
# Form
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Bar:
    index: int
    section: str  # "intro", "A", "B", "C", "cadence"
    spans: list[tuple[float, float, Chord]]  # (start beat in bar, beats, chord)
    intensity: float
    section_start: bool = False
    fill: bool = False
    phrase_bar: int = 0  # position inside its section (0..7)
    occurrence: int = 0  # how many times this section letter came before


@dataclass
class Composition:
    notes: list[Note]
    parts: list[Part]
    channels: list[int]
    beat_sec: float
    swing: float
    final_time: float
    tail: float
    duration: float
    form: str
    info: dict = field(default_factory=dict)


def _bar_spans(chords: list[Chord], meter: int) -> list[tuple[float, float, Chord]]:
    if len(chords) == 1:
        return [(0.0, float(meter), chords[0])]
    first = math.ceil(meter / 2)
    return [(0.0, float(first), chords[0]), (float(first), float(meter - first), chords[1])]


def plan_form(plan: MusicPlan, nbars: int, rng: np.random.Generator) -> list[Bar]:
    """Lay out ``nbars`` bars: intro, sections, cadence."""
    tonic = plan.tonic
    minor = plan.mode in MINORISH
    progs = {k: [[parse_chord(s, tonic) for s in bar] for bar in v] for k, v in plan.progressions.items()}
    one = parse_chord("i" if minor else "I", tonic)
    five = parse_chord("V7" if plan.family in ("jazz", "bossa", "blues", "lofi") else "V", tonic)
    four = parse_chord("iv" if minor else ("ii7" if plan.family in ("jazz", "bossa", "lofi") else "IV"), tonic)
    bars: list[Bar] = []
    if nbars <= 0:
        return bars
    cad = 2 if nbars >= 6 else (1 if nbars >= 2 else 0)
    intro = 0 if nbars < 6 else 1 if nbars < 10 else 2 if nbars < 24 else 4
    body = nbars - intro - cad
    for i in range(intro):
        chords = [one] if i % 2 == 0 or intro == 1 else [progs["A"][i % 4][0]]
        bars.append(Bar(len(bars), "intro", _bar_spans(chords, plan.meter), 0.35 + 0.1 * i / max(1, intro),
                        section_start=i == 0, phrase_bar=i))
    letters = ["A", "A", "B", "A", "C", "B", "A", "A", "B", "C"]
    inten = {"A": [0.5, 0.7, 0.65, 0.8, 0.75], "B": [0.85, 0.95, 0.9], "C": [0.4, 0.55]}
    bar_sec = 60.0 / plan.tempo * plan.meter
    # sections of 8 bars, or of 4 when bars are long (slow tempos) so that a minute still changes
    seclen = 8 if body >= 12 and bar_sec < 2.8 else 4
    if plan.family == "blues":
        seclen = 12 if body >= 12 else 4
    done = 0
    k = 0
    seen: dict[str, int] = {}
    while done < body:
        letter = letters[k % len(letters)] if plan.family != "blues" else "A"
        length = min(seclen, body - done)
        rest = body - done
        if 0 < rest - length < 4:  # avoid a stub section: split the rest in two, or fold it in
            length = (rest + 1) // 2 if rest >= 6 else rest
        occ = seen.get(letter, 0)
        seen[letter] = occ + 1
        level = inten[letter][occ % len(inten[letter])]
        if k == 0:
            level = min(level, 0.55)
        for j in range(length):
            if plan.family == "blues":
                prog = [progs["A"], progs["B"], progs["C"]][(j // 4) % 3]
            else:
                prog = progs[letter]
            chords = list(prog[j % 4])
            # second half of an 8-bar section turns around towards the next downbeat
            if length >= 8 and j == length - 1 and plan.family != "blues" and rng.random() < 0.6:
                chords = [chords[0], five] if len(chords) == 1 else chords
            bars.append(Bar(len(bars), letter, _bar_spans(chords, plan.meter), level, section_start=j == 0,
                            fill=j == length - 1, phrase_bar=j, occurrence=occ))
        done += length
        k += 1
    if cad == 2:
        bars.append(Bar(len(bars), "cadence", _bar_spans([four], plan.meter), 0.75, phrase_bar=0))
        bars.append(Bar(len(bars), "cadence", _bar_spans([five], plan.meter), 0.8, fill=True, phrase_bar=1))
    elif cad == 1:
        bars.append(Bar(len(bars), "cadence", _bar_spans([four, five], plan.meter), 0.75, fill=True))
    return bars


# ---------------------------------------------------------------------------------------------------------
# The composer
# ---------------------------------------------------------------------------------------------------------


class _Writer:
    def __init__(self, plan: MusicPlan, seed: int, beat_sec: float, rng: np.random.Generator):
        self.plan = plan
        self.seed = seed
        self.beat_sec = beat_sec
        self.rng = rng
        self.M = plan.meter
        self.notes: list[Note] = []
        self.scale = [(plan.tonic + i) % 12 for i in SCALES.get(plan.mode, SCALES["major"])]
        self.background = plan.layout == "background"
        self.offset = 0  # beats of pickup before bar 0

    # time ------------------------------------------------------------------------------------------------
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

    def vel(self, base: float, bar: Bar, part: Part) -> float:
        return base * (0.72 + 0.38 * bar.intensity)

    # harmony parts ---------------------------------------------------------------------------------------
    def comp(self, ch: int, part: Part, bars: list[Bar], prev_state: dict) -> None:
        centre = chord_centre(part.program)
        pat = part.pattern
        prev = None
        M = self.M
        for bar in bars:
            if not self._plays(part, bar):
                prev = None
                continue
            b0 = bar.index * M
            # the C section is a breakdown: the accompaniment holds its chords
            pat = "pad" if bar.section == "C" and part.role == "chords" else part.pattern
            for s, d, chord in bar.spans:
                n = 3 if pat in ("power",) else 4
                v = voice_chord(chord, prev, centre, n)
                prev = v
                at = b0 + s
                vel = self.vel(72, bar, part)
                if pat == "pad" or pat == "block" and d >= 2:
                    for p in v:
                        self.add(ch, at, d, p, vel * 0.85, legato=1.0)
                elif pat == "ostinato":
                    cells = [v[0], v[-1], v[1], v[-1]] if bar.index % 2 == 0 else [v[0], v[1], v[-1], v[1]]
                    step = 0.5
                    k = 0
                    x = 0.0
                    while x < d - 1e-6:
                        acc = 1.15 if k % 4 == 0 else 0.9
                        self.add(ch, at + x, step, cells[k % 4] - (12 if cells[k % 4] > centre + 5 else 0),
                                 vel * acc, legato=0.6, jitter=0.003)
                        x += step
                        k += 1
                elif pat in ("arpeggio", "fingerpick", "roll"):
                    step = 1.0 if self.plan.tempo > 140 and pat == "arpeggio" else 0.5
                    seq = [v[0] - 12, v[0], v[1], v[2], v[-1] + (12 if pat == "roll" else 0), v[2], v[1], v[0]]
                    if pat == "fingerpick":
                        seq = [v[0] - 12, v[2], v[1], v[-1], v[0] - 5, v[2], v[1], v[-1]]
                    if bar.occurrence % 2 == 1 and pat == "arpeggio":
                        seq = [v[0] - 12, v[1], v[-1], v[1] + 12, v[-1], v[1], v[2], v[1]]
                    x, k = 0.0, 0
                    while x < d - 1e-6:
                        self.add(ch, at + x, 2 * step, seq[k % len(seq)], vel * (1.05 if k % 4 == 0 else 0.85),
                                 legato=1.0)
                        x += step
                        k += 1
                elif pat == "strum":
                    # down on beats, up on some off-beats; strings spread a few ms
                    grid = [(0, 1.0), (1, 0.8), (1.5, 0.6), (2, 0.9), (2.5, 0.6), (3, 0.8), (3.5, 0.65)]
                    if bar.intensity < 0.5:
                        grid = [(0, 1.0), (2, 0.85)] if M == 4 else [(0, 1.0)]
                    for off, acc in grid:
                        if off >= d:
                            continue
                        up = off % 1 != 0
                        low = v[0] - 1 - ((v[0] - 1 - chord.root) % 12)  # the root below the voicing
                        notes = ([low] + v) if not up else v
                        notes = notes[::-1] if up else notes
                        for k, p in enumerate(notes):
                            self.add(ch, at + off + k * 0.012 / self.beat_sec, min(1.0, d - off), p,
                                     vel * acc * (0.65 if up else 0.8), jitter=0.002)
                elif pat == "jazzcomp":
                    shell = voice_chord(chord, prev, centre, 4)
                    choices = [[(0, 1.5)], [(0, 0.5), (1.5, 1)], [(1.5, 0.5), (3, 1)], [(0.5, 1)], [(0, 1), (2.5, 1)]]
                    for off, ln in choices[int(self.rng.integers(len(choices)))]:
                        if off < d:
                            for p in shell:
                                self.add(ch, at + off, min(ln, d - off), p, vel * 0.8, legato=0.85)
                elif pat == "bossa":
                    for off in [0, 1.5, 3] if d >= 4 else [0, 1.5]:
                        if off < d:
                            self.add(ch, at + off, 0.75, v[0] - 12 if off == 0 else v[0], vel * 0.8)
                    for off in [0.5, 1, 2, 2.5, 3.5]:
                        if off < d:
                            for p in v[1:]:
                                self.add(ch, at + off, 0.45, p, vel * 0.7, legato=0.8)
                elif pat == "skank":
                    for off in np.arange(0.5, d, 1.0):  # the off-beats
                        for p in v[:3]:
                            self.add(ch, at + off, 0.3, p + 12 * (part.program == 16), vel * 0.8, legato=0.5,
                                     jitter=0.002)
                elif pat == "shuffle":
                    for off in np.arange(0, d, 1.0):
                        for p in v:
                            self.add(ch, at + off, 0.5, p, vel * (0.9 if off % 2 == 0 else 0.75))
                        for p in v[1:]:
                            self.add(ch, at + off + 0.5, 0.4, p, vel * 0.6)
                elif pat == "power":
                    root = centre - 12 + ((chord.root - centre) % 12)
                    for off in np.arange(0, d, 0.5):
                        for p in (root, root + 7, root + 12):
                            self.add(ch, at + off, 0.5, p, vel * (1.0 if off % 1 == 0 else 0.8), legato=0.85,
                                     jitter=0.002)
                elif pat == "alberti":
                    seq = [v[0], v[-1], v[1], v[-1]]
                    for k, off in enumerate(np.arange(0, d, 0.5)):
                        self.add(ch, at + off, 0.5, seq[k % 4], vel * 0.75, legato=0.9)
                elif pat == "waltz":
                    for off in range(1, int(d)):
                        for p in v[1:]:
                            self.add(ch, at + off, 0.8, p, vel * 0.7, legato=0.7)
                    if d < M:
                        for p in v[1:]:
                            self.add(ch, at, d, p, vel * 0.7, legato=0.7)
                elif pat == "oompah":
                    for off in np.arange(1, d, 2 if M == 4 else 1):
                        for p in v:
                            self.add(ch, at + off, 0.6, p, vel * 0.8, legato=0.6)
                elif pat == "pulse8":
                    for k, off in enumerate(np.arange(0, d, 0.5)):
                        for p in v[1:] if k % 2 else v:
                            self.add(ch, at + off, 0.5, p, vel * (0.85 if k % 2 == 0 else 0.65), legato=0.8,
                                     jitter=0.003)
                else:  # block: one hit per beat
                    for off in np.arange(0, d, 1.0):
                        for p in v:
                            self.add(ch, at + off, 1.0, p, vel * 0.75, legato=0.9)
        prev_state[ch] = prev

    # bass --------------------------------------------------------------------------------------------------
    def bass(self, ch: int, part: Part, bars: list[Bar]) -> None:
        centre = 40 if part.program not in (42, 70) else 45
        if part.program in (0, 89):
            centre = 40 if part.program == 0 else 45
        pat = part.pattern
        M = self.M

        for i, bar in enumerate(bars):
            if not self._plays(part, bar):
                continue
            b0 = bar.index * M
            nxt = bars[i + 1].spans[0][2] if i + 1 < len(bars) else None
            for si, (s, d, chord) in enumerate(bar.spans):
                at = b0 + s
                r = _low(chord.root, centre)
                f = _low(chord.fifth, centre)
                f = f if f > r else f + 12 if f + 12 - r <= 9 else f
                vel = self.vel(88, bar, part)
                if pat in ("root", "drone", "pedal") or bar.section == "intro" and pat not in ("pulse",):
                    if pat == "pedal":
                        r = _low(self.plan.tonic, centre)
                    self.add(ch, at, d, r, vel * (0.8 if pat == "drone" else 1.0), legato=1.0)
                    if pat == "root" and d >= 4 and bar.intensity > 0.6:
                        self.add(ch, at + 2.5, 0.5, r, vel * 0.7)
                elif pat == "pulse":
                    for off in np.arange(0, d, 0.5):
                        self.add(ch, at + off, 0.5, r, vel * (1.0 if off % 1 == 0 else 0.8), legato=0.7,
                                 jitter=0.002)
                elif pat == "walking":
                    target = _low(nxt.root, centre) if nxt is not None and si == len(bar.spans) - 1 else None
                    line = [r]
                    sc = chord_scale(chord, self.scale)
                    cur = r
                    nbeats = int(d)
                    for k in range(1, nbeats):
                        if k == nbeats - 1 and target is not None:
                            cur = target + (1 if self.rng.random() < 0.5 else -1)
                        else:
                            options = [nearest_pc(cur + step, sc) for step in (-3, -2, 2, 3, 4)]
                            options = [o for o in options if 28 <= o <= 52 and o != cur] or [f]
                            cur = options[int(self.rng.integers(len(options)))]
                            if k == 2 and self.rng.random() < 0.5:
                                cur = f
                        line.append(cur)
                    for k, p in enumerate(line):
                        self.add(ch, at + k, 1.0, p, vel * (0.95 if k % 2 == 0 else 0.85), legato=0.9)
                elif pat == "rootfifth":
                    for k, off in enumerate(np.arange(0, d, 2.0 if M == 4 else 1.0 * M)):
                        self.add(ch, at + off, min(2.0, d - off), r if k % 2 == 0 else f - 12 if f - 12 >= 28 else f,
                                 vel, legato=0.8)
                elif pat == "bossa":
                    self.add(ch, at, 1.5, r, vel)
                    if d >= 2:
                        self.add(ch, at + 1.5, 0.5, f, vel * 0.8)
                    if d >= 4:
                        self.add(ch, at + 2, 1.5, f, vel * 0.9)
                        self.add(ch, at + 3.5, 0.5, r, vel * 0.8)
                elif pat == "boogie":
                    seq = [r, r + 4 if 4 in chord.intervals else r + 3, r + 7, r + 9, r + 10, r + 9, r + 7, r + 4]
                    for k, off in enumerate(np.arange(0, d, 0.5)):
                        self.add(ch, at + off, 0.5, seq[k % len(seq)], vel * (0.95 if k % 2 == 0 else 0.75),
                                 legato=0.8)
                elif pat == "eighths":
                    for k, off in enumerate(np.arange(0, d, 0.5)):
                        p = r if not (k == 7 and nxt is not None and self.rng.random() < 0.4) else f
                        self.add(ch, at + off, 0.5, p, vel * (1.0 if k % 2 == 0 else 0.8), legato=0.75,
                                 jitter=0.002)
                elif pat == "funk":
                    grid = [(0, 1.0, r), (0.75, 0.7, r + 12), (1.5, 0.8, r), (2.5, 0.85, f), (3, 0.7, r + 10),
                            (3.5, 0.9, r + 12)]
                    for off, acc, p in grid:
                        if off < d:
                            self.add(ch, at + off, 0.35, p, vel * acc, legato=0.8, jitter=0.002)
                elif pat == "octave":
                    for k, off in enumerate(np.arange(0, d, 0.5)):
                        self.add(ch, at + off, 0.5, r + 12 * (k % 2), vel * (1.0 if k % 2 == 0 else 0.8),
                                 legato=0.6, jitter=0.001)
                elif pat == "waltzbass":
                    self.add(ch, at, 1.0, r if bar.index % 2 == 0 else f - 12 if f - 12 >= 28 else f, vel)
                elif pat == "oompahbass":
                    for k, off in enumerate(np.arange(0, d, 2.0 if M == 4 else float(M))):
                        self.add(ch, at + off, 1.0, r if k % 2 == 0 else (f - 12 if f - 12 >= 28 else f), vel,
                                 legato=0.7)
                elif pat == "reggae":
                    for off, p in ((0, r), (1.5, r), (2, f), (3, r + 12), (3.5, f)):
                        if off < d:
                            self.add(ch, at + off, 0.5, p, vel * 0.9, legato=0.8)
                else:
                    self.add(ch, at, d, r, vel, legato=0.95)

    # melody ------------------------------------------------------------------------------------------------
    _CELLS4: ClassVar[list] = [[(0, 1), (1, 1), (2, 2)], [(0, 1.5), (1.5, 0.5), (2, 2)], [(0, 0.5), (0.5, 0.5), (1, 1), (2, 2)],
               [(0, 2), (2, 1), (3, 1)], [(0, 1), (1, 0.5), (1.5, 0.5), (2, 2)], [(0, 3), (3, 1)],
               [(0.5, 0.5), (1, 1), (2, 1.5), (3.5, 0.5)], [(0, 1), (1, 1), (2, 1), (3, 1)],
               [(0, 0.5), (0.5, 0.5), (1, 0.5), (1.5, 0.5), (2, 2)], [(0, 1.5), (1.5, 1), (2.5, 1.5)]]
    _CELLS3: ClassVar[list] = [[(0, 2), (2, 1)], [(0, 1), (1, 1), (2, 1)], [(0, 1.5), (1.5, 0.5), (2, 1)], [(0, 1), (1, 2)],
               [(0, 0.5), (0.5, 0.5), (1, 1), (2, 1)]]
    _SPARSE4: ClassVar[list] = [[(0, 2), (2, 2)], [(0, 3), (3, 1)], [(0, 4)], [(1, 1), (2, 2)], [(0, 1.5), (1.5, 2.5)]]
    _SPARSE3: ClassVar[list] = [[(0, 3)], [(0, 2), (2, 1)], [(1, 2)]]

    def _motif(self, letter: str, sparse: bool) -> tuple[list[list[tuple[float, float]]], list[int]]:
        r = rng_for("motif", self.seed, letter, self.plan.style)
        if self.M == 4:
            cells = self._SPARSE4 if sparse else self._CELLS4
        else:
            cells = self._SPARSE3 if sparse else self._CELLS3
        rhythm = [cells[int(r.integers(len(cells)))] for _ in range(2)]
        n = sum(len(c) for c in rhythm)
        steps = [int(x) for x in r.choice([-2, -1, -1, 0, 1, 1, 2, 2, -3, 3], size=n)]
        return rhythm, steps

    def melody(self, ch: int, part: Part, bars: list[Bar]) -> None:
        centre = lead_centre(part.program)
        sparse = part.pattern in ("motif", "counter") or self.background or self.plan.texture == "sparse"
        M = self.M
        pitch = centre
        chord_at = {}
        for bar in bars:
            for s, _d, c in bar.spans:
                chord_at[(bar.index, s)] = c
        for bar in bars:
            if not self._plays(part, bar) or bar.section == "intro":
                continue
            letter = bar.section if bar.section in "ABC" else "A"
            rhythm, steps = self._motif(letter, sparse)
            vr = rng_for("variation", self.seed, letter, bar.occurrence, bar.phrase_bar // 2)
            pb = bar.phrase_bar
            # background: the lead breathes: plays two bars of four; motif parts play every other pair
            if (self.background or part.pattern == "motif") and (pb // 2) % 2 == 1 and bar.section != "cadence":
                continue
            if part.pattern == "counter" and pb % 2 == 1:
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
                cell = [(0, 1), (1, M - 1)] if self.rng.random() < 0.5 else [(0, M)]
                st = st[:len(cell)] + [0] * (len(cell) - len(st))
            if part.pattern == "counter":
                cell = [(0, M * 2.0)]
            b0 = bar.index * M
            for k, (off, ln) in enumerate(cell):
                span = [sp for sp in bar.spans if sp[0] <= off < sp[0] + sp[1]]
                chord = (span[0] if span else bar.spans[0])[2]
                sc = chord_scale(chord, self.scale)
                # move along the chord scale by the contour step
                cand = pitch
                step = st[k % len(st)] if st else 0
                if abs(pitch + 2 * step - centre) > 9:
                    step = -step if step else (-1 if pitch > centre else 1)
                for _ in range(abs(step)):
                    cand = self._scale_step(cand, sc, 1 if step > 0 else -1)
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
                vel = self.vel(84 if not self.background else 62, bar, part)
                if part.pattern == "counter":
                    vel *= 0.8
                self.add(ch, b0 + off, ln, pitch, vel * (1.05 if off == 0 else 0.95), jitter=0.008, legato=0.92)

    @staticmethod
    def _scale_step(pitch: int, sc: list[int], direction: int) -> int:
        p = pitch + direction
        while p % 12 not in sc:
            p += direction
        return p

    def stabs(self, ch: int, part: Part, bars: list[Bar]) -> None:
        for bar in bars:
            if not self._plays(part, bar) or bar.phrase_bar % 2 == 0:
                continue
            chord = bar.spans[-1][2]
            v = voice_chord(chord, None, 66, 3)
            for off in (1.5, 2.0 if self.rng.random() < 0.5 else 3.5):
                if off < self.M:
                    for p in v:
                        self.add(ch, bar.index * self.M + off, 0.35, p, self.vel(90, bar, part), legato=0.6)

    # melodic percussion -------------------------------------------------------------------------------------
    def perc(self, ch: int, part: Part, bars: list[Bar]) -> None:
        M = self.M
        pat = part.pattern
        for bar in bars:
            if not self._plays(part, bar):
                continue
            b0 = bar.index * M
            chord = bar.spans[0][2]
            r = 36 + ((chord.root - 36) % 12) if pat != "taiko" else 45
            if r > 45 and pat in ("timpani", "heartbeat"):
                r -= 12
            fifth = r + 7 if r + 7 <= 53 else r - 5
            vel = self.vel(84, bar, part)
            if pat == "timpani":
                self.add(ch, b0, 1.0, r, vel * 1.1)
                if bar.intensity > 0.7:
                    self.add(ch, b0 + M - 1, 0.5, fifth, vel * 0.8)
                    self.add(ch, b0 + M - 0.5, 0.5, r, vel * 0.85)
                if bar.fill:
                    for k in range(8):
                        self.add(ch, b0 + M - 1 + k / 8, 1 / 8, r, vel * (0.6 + 0.05 * k), jitter=0.0)
            elif pat == "heartbeat":
                for off in range(0, M, 2 if M == 4 else 3):
                    self.add(ch, b0 + off, 0.4, r, vel * 0.9)
                    self.add(ch, b0 + off + 0.4, 0.4, r, vel * 0.6)
            elif pat == "taiko":
                for off, acc in ((0, 1.1), (1.5, 0.8), (2, 0.95), (3, 0.85), (3.5, 0.7)):
                    if off < M and (acc > 0.9 or bar.intensity > 0.6):
                        self.add(ch, b0 + off, 0.5, r, vel * acc, jitter=0.003)
            elif pat == "handdrum":
                for off, p, acc in ((0, 50, 1.0), (1, 55, 0.7), (1.5, 55, 0.6), (2, 50, 0.9), (3, 55, 0.7),
                                    (3.5, 57, 0.6)):
                    if off < M:
                        self.add(ch, b0 + off, 0.3, p, vel * acc * 0.8, jitter=0.004)
            elif pat == "clave":
                for off in (0, 1.5, 3) if M == 4 else (0, 1.5):
                    self.add(ch, b0 + off, 0.2, 72, vel * 0.7, jitter=0.002)
        if pat == "motif":  # a tuned percussion instrument playing the motif
            self.melody(ch, part, bars)

    # drums ----------------------------------------------------------------------------------------------
    def drums(self, ch: int, part: Part, bars: list[Bar]) -> None:
        M = self.M
        pat = part.pattern
        for bar in bars:
            if not self._plays(part, bar):
                continue
            b0 = bar.index * M
            it = bar.intensity
            vel = self.vel(92, bar, part)
            hits: list[tuple[float, int, float]] = []
            if bar.section_start and bar.section != "intro" and bar.index > 0 and pat not in ("soft",):
                hits.append((0, CRASH, 0.85))
            if pat in ("rock", "pop", "news"):
                hits += [(0, KICK, 1.0), (2, KICK, 0.95)] if M == 4 else [(0, KICK, 1.0)]
                if pat == "pop" and it > 0.6:
                    hits.append((2.5, KICK, 0.7))
                if pat == "news":
                    hits += [(1.5, KICK, 0.75), (3.5, KICK, 0.6)] if M == 4 else []
                hits += [(b, SNARE, 0.95) for b in range(1, M, 2)]
                step = 0.5 if it < 0.85 or pat == "rock" else 0.25
                hits += [(x, CHH if it < 0.9 or pat != "rock" else RIDE, 0.55 + 0.2 * ((x % 1) == 0))
                         for x in np.arange(0, M, step)]
            elif pat == "swing":
                ride = [(0, 0.8), (1, 0.9), (1.5, 0.55), (2, 0.8), (3, 0.9), (3.5, 0.55)][: 6 if M == 4 else 3]
                hits += [(x, RIDE if it > 0.5 else SNARE, a * (1 if it > 0.5 else 0.6)) for x, a in ride]
                hits += [(b, PHH, 0.6) for b in range(1, M, 2)]
                hits += [(0, KICK, 0.35)]
                if self.rng.random() < 0.4:
                    hits.append((float(self.rng.choice([1.5, 2.5, 3.5])) % M, SNARE, 0.35))
            elif pat == "bossa":
                hits += [(0, KICK, 0.8), (1.5, KICK, 0.5), (2, KICK, 0.8), (3.5, KICK, 0.5)]
                hits += [(x, SIDE, 0.55) for x in (0, 1.5, 3, 5 - 4 if bar.index % 2 else 2.5) if x < M]
                hits += [(x, CHH, 0.4) for x in np.arange(0, M, 0.5)]
            elif pat == "train":
                hits += [(0, KICK, 0.9), (2, KICK, 0.85)] if M == 4 else [(0, KICK, 0.9)]
                hits += [(x, SNARE, 0.8 if x % 1 == 0 and int(x) % 2 == 1 else 0.35) for x in np.arange(0, M, 0.5)]
                hits += [(x, CHH, 0.4) for x in np.arange(0, M, 1.0)]
            elif pat == "shuffle":
                hits += [(0, KICK, 0.9), (2, KICK, 0.85)] if M == 4 else [(0, KICK, 0.9)]
                hits += [(b, SNARE, 0.9) for b in range(1, M, 2)]
                hits += [(x, RIDE if it > 0.7 else CHH, 0.55 + 0.15 * (x % 1 == 0)) for x in np.arange(0, M, 0.5)]
            elif pat == "funk":
                hits += [(0, KICK, 1.0), (0.75, KICK, 0.6), (2.5, KICK, 0.8)]
                hits += [(1, SNARE, 0.95), (3, SNARE, 0.95), (1.75, SNARE, 0.3), (3.25, SNARE, 0.3)]
                hits += [(x, CHH, 0.45 + 0.2 * (x % 0.5 == 0)) for x in np.arange(0, M, 0.25)]
                hits.append((3.5, OHH, 0.6))
            elif pat == "lofi":
                hits += [(0, KICK, 0.9), (1.75, KICK, 0.55), (2.5, KICK, 0.75)]
                hits += [(1, SNARE, 0.8), (3, SNARE, 0.85)]
                hits += [(x, CHH, 0.35 + 0.15 * (x % 1 == 0)) for x in np.arange(0, M, 0.5)]
            elif pat == "four":
                hits += [(b, KICK, 1.0) for b in range(M)]
                if it > 0.45:
                    hits += [(b, CLAP, 0.8) for b in range(1, M, 2)]
                hits += [(b + 0.5, OHH if it > 0.6 else CHH, 0.6) for b in range(M)]
                if it > 0.8:
                    hits += [(x, CHH, 0.35) for x in np.arange(0.25, M, 0.5)]
            elif pat == "march":
                hits += [(0, KICK, 0.9), (2, KICK, 0.8)] if M == 4 else [(0, KICK, 0.9)]
                hits += [(x, SNARE, 0.75 if x % 1 == 0 else 0.45) for x in np.arange(0, M, 0.5)]
                hits += [(M - 0.25, SNARE, 0.5)]
                if it > 0.7:
                    hits += [(0, CRASH, 0.5)]
            elif pat == "onedrop":
                hits += [(2, KICK, 0.95), (2, SIDE, 0.85)] if M == 4 else [(1, KICK, 0.9)]
                hits += [(x, CHH, 0.45 + 0.15 * (x % 1 == 0)) for x in np.arange(0, M, 0.5)]
            elif pat == "soft":
                hits += [(0, KICK, 0.5), (2, KICK, 0.4)] if M == 4 else [(0, KICK, 0.5)]
                hits += [(x, SNARE, 0.35) for x in range(M)]
                hits += [(b, PHH, 0.4) for b in range(1, M, 2)]
            if bar.fill and it > 0.35 and pat not in ("soft", "swing"):
                start = M - 1
                hits = [h for h in hits if h[0] < start]
                toms = [HITOM, HITOM, MTOM, MTOM, LTOM, LTOM, FLTOM, FLTOM]
                for k in range(4 if it < 0.8 else 8):
                    step = 0.25 if it < 0.8 else 0.125
                    x = start + k * step
                    if pat in ("march", "train", "news", "bossa"):
                        hits.append((x, SNARE, 0.6 + 0.05 * k))
                    else:
                        hits.append((x, toms[k % 8 if it >= 0.8 else 2 * k], 0.7 + 0.04 * k))
            for x, key, acc in hits:
                self.add(ch, b0 + x, 0.25, key, vel * acc, jitter=0.003, legato=1.0)

    # ---------------------------------------------------------------------------------------------------
    def _plays(self, part: Part, bar: Bar) -> bool:
        if bar.section == "intro":
            return part.role in ("chords", "pad") and part.enter <= 0.1 or (
                part.role == "bass" and bar.phrase_bar >= 1) or (part.role == "drums" and bar.phrase_bar >= 3)
        if bar.section == "cadence":
            return part.enter <= 0.85
        return part.enter <= bar.intensity + 1e-9


def _ending(w: _Writer, parts: list[Part], channels: list[int], at_beat: float, hold: float, minor: bool,
            tonic: int, stinger: bool) -> None:
    """The final tonic chord (every part at once) and its ring-out."""
    one = parse_chord("i" if minor else "I", tonic)
    t0 = w.t(at_beat)
    for part, ch in zip(parts, channels):
        vel = 118 if stinger else 82 if w.plan.layout == "foreground" else 56  # a bed ends softly
        if part.role == "drums":
            for key in (KICK, CRASH) if w.plan.layout == "foreground" else (KICK,):
                w.notes.append(Note(t0, 0.5, ch, key, int(vel * 0.95)))
            continue
        if part.role == "perc":
            r = _perc_root(tonic, part.program)
            if part.program in (47, 116):
                w.notes.append(Note(t0, hold, ch, r, vel))
            continue
        if part.role == "bass":
            r = _low(tonic)
            w.notes.append(Note(t0, hold, ch, r, vel))
            if stinger:
                w.notes.append(Note(t0, hold, ch, r - 12 if r - 12 >= 28 else r + 12, int(vel * 0.8)))
            continue
        if part.role == "lead":
            c = lead_centre(part.program)
            p = nearest_pc(c + 2, [tonic])
            w.notes.append(Note(t0, hold, ch, p, int(vel * (0.95 if not w.background else 0.7))))
            continue
        v = voice_chord(one, None, chord_centre(part.program), 4)
        for p in v:
            w.notes.append(Note(t0, hold, ch, p, int(vel * 0.85)))
        if part.role == "chords":
            w.notes.append(Note(t0, hold, ch, v[0] - 12, int(vel * 0.8)))


_STING_CADENCES_MAJOR = [("IV", "V"), ("ii7", "V7"), ("IV", "V7"), ("vi", "V"), ("bVI", "bVII")]
_STING_CADENCES_MINOR = [("iv", "V"), ("bVI", "bVII"), ("iiø7", "V"), ("bVI", "V"), ("bII", "V")]


def _stinger(w: _Writer, parts: list[Part], channels: list[int], nbeats: int, minor: bool, tonic: int,
             rng: np.random.Generator) -> str:
    """A pickup into the final chord. The seed picks the cadence, the rhythm of the hits and the shape of the
    lead's line; the drums roll or hit. Returns a short name of the variant."""
    cads = _STING_CADENCES_MINOR if minor else _STING_CADENCES_MAJOR
    cad = cads[int(rng.integers(len(cads)))]
    first, second = parse_chord(cad[0], tonic), parse_chord(cad[1], tonic)
    half = nbeats // 2
    chord_of = (lambda b: second if b >= half else first)
    rhythm = ["beats", "push", "dotted"][int(rng.integers(3))]
    if rhythm == "beats":
        hits = [float(b) for b in range(nbeats)]
    elif rhythm == "push":  # anticipations: on the beat, then pushed to the off-beat before the final chord
        hits = [float(b) for b in range(nbeats - 1)] + ([nbeats - 0.5] if nbeats else [])
    else:  # da - da-DUM
        hits = [float(b) for b in range(0, nbeats - 1, 2)] + ([nbeats - 0.75, nbeats - 0.25] if nbeats else [])
    hits = sorted({h for h in hits if 0 <= h < nbeats})
    shape = ["run", "arpeggio", "fall", "fanfare"][int(rng.integers(4))]
    for part, ch in zip(parts, channels):
        if part.role in ("chords", "pad"):
            prev = None
            for k, h in enumerate(hits):
                c = chord_of(int(h))
                v = voice_chord(c, prev, chord_centre(part.program), 4)
                prev = v
                ln = (hits[k + 1] - h) if k + 1 < len(hits) else nbeats - h
                for p in v:
                    w.add(ch, h, ln * (0.6 if part.role == "chords" else 1.0), p, 70 + 15 * h / max(1, nbeats),
                          legato=0.9)
        elif part.role == "bass":
            for h in hits:
                c = chord_of(int(h))
                w.add(ch, h, 0.8, _low(c.root), 80)
        elif part.role == "lead" or part.role == "perc" and part.pattern == "motif":
            n = nbeats * 2
            target = nearest_pc(lead_centre(part.program) + 2, [tonic])
            sc = chord_scale(second, w.scale)
            seq = []
            if shape == "run":  # up the scale into the tonic
                p = target
                for _ in range(n):
                    p = w._scale_step(p, sc, -1)
                    seq.append(p)
                seq.reverse()
            elif shape == "fall":  # down from above
                p = target
                for _ in range(n):
                    p = w._scale_step(p, sc, 1)
                    seq.append(p)
            elif shape == "arpeggio":  # up through the chord tones of the penultimate chord
                p = target - 12
                for _ in range(n):
                    p = nearest_pc(p + 3, second.pcs)
                    seq.append(p)
                seq = [x - 12 * ((seq[-1] - target) // 12 + 1) if seq[-1] >= target else x for x in seq]
            else:  # fanfare: repeated fifth, dotted
                fifth = nearest_pc(target - 5, [(tonic + 7) % 12])
                seq = [fifth] * n
            for k, p in enumerate(seq):
                if shape == "fanfare" and k % 2 == 1:
                    w.add(ch, k * 0.5 + 0.25, 0.25, p, 78, legato=0.8, jitter=0.0)
                    continue
                w.add(ch, k * 0.5, 0.5, p, 70 + 20 * k / max(1, n), legato=0.95, jitter=0.0)
        elif part.role == "perc":
            c = chord_of(max(0, nbeats - 1))
            r = _perc_root(c.root, part.program)
            for k in range(nbeats * 4):
                w.add(ch, k * 0.25, 0.25, r, 50 + 40 * k / max(1, nbeats * 4), jitter=0.0)
        elif part.role == "drums":
            for h in hits:
                w.add(ch, h, 0.25, KICK, 80)
            if rng.random() < 0.5:
                for k in range(4 if nbeats >= 1 else 0):
                    w.add(ch, nbeats - 1 + k * 0.25, 0.25, SNARE, 55 + 10 * k, jitter=0.0)
            else:
                for k, h in enumerate(hits):
                    w.add(ch, h, 0.25, SNARE if k % 2 else HTOM, 60 + 5 * k, jitter=0.0)
    return f"{cad[0]}-{cad[1]}-{'i' if minor else 'I'}, {rhythm} hits, {shape}"


def _pickup(w: _Writer, parts: list[Part], channels: list[int], beats: int, first: Chord) -> None:
    """The beats before the first bar: a drum fill, the bass walking up to the first root, or (with neither)
    a soft chord on the dominant."""
    has_rhythm = any(p.role in ("drums", "bass") for p in parts)
    for part, ch in zip(parts, channels):
        if part.role == "drums":
            for k in range(beats * 2):
                x = -beats + k * 0.5
                w.add(ch, x, 0.25, SNARE if k % 2 == 0 or k < beats else MTOM, 45 + 30 * k / (beats * 2),
                      jitter=0.003)
        elif part.role == "bass":
            target = _low(first.root)
            p = target
            line = []
            for _ in range(beats):
                p = w._scale_step(p, w.scale, -1)
                line.append(p)
            for k, p in enumerate(reversed(line)):
                w.add(ch, -beats + k, 1.0, p, 70, legato=0.85)
        elif part.role in ("chords", "pad") and not has_rhythm:
            five = parse_chord("V", w.plan.tonic)
            for p in voice_chord(five, None, chord_centre(part.program), 3):
                w.add(ch, -beats, beats, p, 55, legato=0.95)
            break


def compose(plan: MusicPlan, duration: float, seed: int = 0) -> Composition:
    """Note events for every part of ``plan``, filling exactly ``duration`` seconds."""
    duration = max(0.05, float(duration))
    rng = rng_for("compose", seed, plan.style, plan.tonic, plan.tempo)
    parts = list(plan.parts)
    channels = []
    ch = 0
    for p in parts:
        if p.role == "drums":
            channels.append(9)
        else:
            if ch == 9:
                ch += 1
            channels.append(ch)
            ch += 1
    beat = 60.0 / plan.tempo
    short = duration <= 6.0
    tail = float(np.clip(0.35 * duration, 0.3, 2.0)) if short else float(np.clip(0.06 * duration, 1.5, 4.0))
    body = max(0.0, duration - tail)
    minor = plan.mode in MINORISH
    M = plan.meter
    # whole beats up to the final chord: the tempo moves by at most 4 % (15 % for a bar or two), otherwise
    # the final chord rings a little longer; beats beyond whole bars become a pickup before bar 1
    total = round(body / beat) if body > 0 else 0
    limit = 0.04 if total >= 8 else 0.15
    if total and abs(body / (total * beat) - 1) > limit:
        total = math.floor(body / beat)
    stinger = (short and plan.layout == "foreground") or total < M
    if stinger:
        nbeats = round(body / beat) if body > 0.2 else 0
        nbeats = min(nbeats, 8)
        if nbeats > 0:
            # keep the tempo: the pickup starts later instead
            beat_eff = min(beat * 1.15, max(beat * 0.85, body / nbeats))
        else:
            beat_eff = beat
        w = _Writer(plan, seed, beat_eff, rng)
        lead_in = max(0.0, body - nbeats * beat_eff)
        variant = "final chord"
        if nbeats:
            variant = _stinger(w, parts, channels, nbeats, minor, plan.tonic, rng)
        for n in w.notes:
            n.start += lead_in
        final_beats = nbeats
        n_before = len(w.notes)
        _ending(w, parts, channels, final_beats, max(0.1, tail * 0.75), minor, plan.tonic, True)
        for n in w.notes[n_before:]:
            n.start += lead_in
        final_time = lead_in + w.t(final_beats)
        bars: list[Bar] = []
        form = f"stinger ({nbeats} beats: {variant})"
        beat = beat_eff
    else:
        if abs(body / (total * beat) - 1) <= limit:
            beat = body / total
        else:
            tail = duration - total * beat
        nbars, pickup = divmod(total, M)
        bars = plan_form(plan, nbars, rng)
        w = _Writer(plan, seed, beat, rng)
        w.offset = pickup
        if pickup:
            _pickup(w, parts, channels, pickup, bars[0].spans[0][2])
        state: dict = {}
        for part, c in zip(parts, channels):
            if part.role in ("chords", "pad"):
                if part.pattern == "counter":
                    w.melody(c, part, bars)
                else:
                    w.comp(c, part, bars, state)
            elif part.role == "bass":
                w.bass(c, part, bars)
            elif part.role == "lead":
                if part.pattern == "stabs":
                    w.stabs(c, part, bars)
                else:
                    w.melody(c, part, bars)
            elif part.role == "perc":
                w.perc(c, part, bars)
            elif part.role == "drums":
                w.drums(c, part, bars)
        final_time = w.t(nbars * M)
        # the final chord lands exactly on the downbeat after the last bar (no swing or jitter there)
        _ending(w, parts, channels, nbars * plan.meter, max(0.3, tail * 0.8), minor, plan.tonic,
                plan.layout == "foreground")
        sections = []
        for b in bars:
            if not sections or sections[-1][0] != b.section or b.section_start:
                sections.append([b.section, 1])
            else:
                sections[-1][1] += 1
        form = (f"pickup{pickup} " if pickup else "") + " ".join(f"{s}{n}" for s, n in sections) + " | end"
    # keep every note inside the clip
    notes = [n for n in w.notes if n.start < duration - 0.02]
    for n in notes:
        n.dur = min(n.dur, duration - 0.01 - n.start)
    notes.sort(key=lambda n: (n.start, n.channel, n.pitch))
    info = {"form": form, "bars": len(bars), "played_tempo": round(60.0 / beat, 1),
            "final_chord_at": round(final_time, 3), "tail": round(duration - final_time, 3), "notes": len(notes)}
    return Composition(notes, parts, channels, beat, plan.swing, final_time, duration - final_time, duration,
                       form, info)
