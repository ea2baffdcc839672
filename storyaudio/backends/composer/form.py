"""Form: how many beats fit the duration, and the bars they make.

:func:`fit_time` lands whole beats on the final chord: the tempo moves by at most 4 % (15 % for a bar or two),
otherwise the final chord rings a little longer, and beats beyond whole bars become a pickup before bar 1.
Short foreground cues (and anything shorter than a bar) are stingers: a few beats into a final chord.

:func:`plan_form` lays the bars out: a short intro, sections of 8 bars (A A B A C A ...; each section has its
own progression, melody motif and intensity; 4 bars when bars are long, 12 for the blues), and a cadence
(IV/ii - V) before the final chord.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .harmony import Chord, is_minor, parse_chord, tonic_chord
from .plan import MusicPlan

#: Seconds up to which a cue counts as short (a foreground one is a stinger).
SHORT = 6.0


@dataclass(frozen=True)
class Timing:
    """Where the beats fall: ``beats`` whole beats of ``beat`` seconds up to the final chord, which then
    rings for ``tail`` seconds. A stinger starts ``lead_in`` seconds into the clip."""

    beat: float
    beats: int
    tail: float
    stinger: bool
    lead_in: float = 0.0


def fit_time(plan: MusicPlan, duration: float) -> Timing:
    beat = 60.0 / plan.tempo
    short = duration <= SHORT
    tail = float(np.clip(0.35 * duration, 0.3, 2.0)) if short else float(np.clip(0.06 * duration, 1.5, 4.0))
    body = max(0.0, duration - tail)
    total = round(body / beat) if body > 0 else 0
    limit = 0.04 if total >= 8 else 0.15
    if total and abs(body / (total * beat) - 1) > limit:
        total = math.floor(body / beat)
    if (short and plan.layout == "foreground") or total < plan.meter:
        # a stinger keeps (nearly) the tempo: the pickup starts later instead
        nbeats = min(round(body / beat) if body > 0.2 else 0, 8)
        if nbeats > 0:
            beat = min(beat * 1.15, max(beat * 0.85, body / nbeats))
        return Timing(beat, nbeats, tail, True, max(0.0, body - nbeats * beat))
    if abs(body / (total * beat) - 1) <= limit:
        beat = body / total
    else:
        tail = duration - total * beat
    return Timing(beat, total, tail, False)


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


def bar_spans(chords: list[Chord], meter: int) -> list[tuple[float, float, Chord]]:
    """One chord for the bar, or two splitting it (the first gets the larger half of an odd meter)."""
    if len(chords) == 1:
        return [(0.0, float(meter), chords[0])]
    first = math.ceil(meter / 2)
    return [(0.0, float(first), chords[0]), (float(first), float(meter - first), chords[1])]


#: The order of the sections and the intensity of each letter's successive appearances.
LETTERS = ["A", "A", "B", "A", "C", "B", "A", "A", "B", "C"]
INTENSITY = {"A": [0.5, 0.7, 0.65, 0.8, 0.75], "B": [0.85, 0.95, 0.9], "C": [0.4, 0.55]}


def plan_form(plan: MusicPlan, nbars: int, rng: np.random.Generator) -> list[Bar]:
    """Lay out ``nbars`` bars: intro, sections, cadence."""
    tonic = plan.tonic
    minor = is_minor(plan)
    progs = {k: [[parse_chord(s, tonic) for s in bar] for bar in v] for k, v in plan.progressions.items()}
    one = tonic_chord(plan)
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
        bars.append(Bar(len(bars), "intro", bar_spans(chords, plan.meter), 0.35 + 0.1 * i / max(1, intro),
                        section_start=i == 0, phrase_bar=i))
    bar_sec = 60.0 / plan.tempo * plan.meter
    # sections of 8 bars, or of 4 when bars are long (slow tempos) so that a minute still changes
    seclen = 8 if body >= 12 and bar_sec < 2.8 else 4
    if plan.family == "blues":
        seclen = 12 if body >= 12 else 4
    done = 0
    k = 0
    seen: dict[str, int] = {}
    while done < body:
        letter = LETTERS[k % len(LETTERS)] if plan.family != "blues" else "A"
        length = min(seclen, body - done)
        rest = body - done
        if 0 < rest - length < 4:  # avoid a stub section: split the rest in two, or fold it in
            length = (rest + 1) // 2 if rest >= 6 else rest
        occ = seen.get(letter, 0)
        seen[letter] = occ + 1
        level = INTENSITY[letter][occ % len(INTENSITY[letter])]
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
            bars.append(Bar(len(bars), letter, bar_spans(chords, plan.meter), level, section_start=j == 0,
                            fill=j == length - 1, phrase_bar=j, occurrence=occ))
        done += length
        k += 1
    if cad == 2:
        bars.append(Bar(len(bars), "cadence", bar_spans([four], plan.meter), 0.75, phrase_bar=0))
        bars.append(Bar(len(bars), "cadence", bar_spans([five], plan.meter), 0.8, fill=True, phrase_bar=1))
    elif cad == 1:
        bars.append(Bar(len(bars), "cadence", bar_spans([four, five], plan.meter), 0.75, fill=True))
    return bars


def describe(bars: list[Bar], pickup: int) -> str:
    """The form in letters and bar counts: "pickup2 intro2 A8 A8 B8 cadence2 | end"."""
    sections: list[list] = []
    for b in bars:
        if not sections or sections[-1][0] != b.section or b.section_start:
            sections.append([b.section, 1])
        else:
            sections[-1][1] += 1
    return (f"pickup{pickup} " if pickup else "") + " ".join(f"{s}{n}" for s, n in sections) + " | end"


__all__ = ["Bar", "Timing", "bar_spans", "describe", "fit_time", "plan_form"]
