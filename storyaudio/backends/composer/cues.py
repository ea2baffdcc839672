"""The moments outside the bars: the pickup into bar 1, the stinger (a short cue's few beats into its final
chord), and the final chord every piece ends on.
"""

from __future__ import annotations

import numpy as np

from .harmony import (
    DRUM_NOTE,
    Chord,
    bass_note,
    chord_scale,
    nearest_pc,
    parse_chord,
    scale_step,
    timpani_note,
    tonic_chord,
    voice_chord,
)
from .instruments import CRASH, HIGH_TOM, KICK, MID_TOM, SNARE, chord_centre, lead_centre
from .plan import Part
from .writer import Writer


def _perc_note(pc: int, program: int) -> int:
    """Timpani (GM program 47) tuned to ``pc``; other percussion on its drum note."""
    return timpani_note(pc) if program == 47 else DRUM_NOTE


def final_chord(w: Writer, parts: list[Part], channels: list[int], at_beat: float, hold: float,
                stinger: bool) -> None:
    """The tonic chord, every part at once on ``at_beat`` (exactly: no swing or jitter), ringing ``hold``
    seconds. A bed ends softly; a stinger hits hard."""
    plan = w.plan
    tonic = plan.tonic
    t0 = w.t(at_beat)
    foreground = plan.layout == "foreground"
    vel = 118 if stinger else 82 if foreground else 56
    for part, ch in zip(parts, channels):
        if part.role == "drums":
            for key in (KICK, CRASH) if foreground else (KICK,):
                w.hold(ch, t0, 0.5, key, vel * 0.95)
        elif part.role == "perc":
            if part.program in (47, 116):  # timpani and taiko ring; woodblocks and hand drums stay out
                w.hold(ch, t0, hold, _perc_note(tonic, part.program), vel)
        elif part.role == "bass":
            r = bass_note(tonic)
            w.hold(ch, t0, hold, r, vel)
            if stinger:
                w.hold(ch, t0, hold, r - 12 if r - 12 >= 28 else r + 12, vel * 0.8)
        elif part.role == "lead":
            p = nearest_pc(lead_centre(part.program) + 2, [tonic])
            w.hold(ch, t0, hold, p, vel * (0.95 if not w.background else 0.7))
        else:
            v = voice_chord(tonic_chord(plan), None, chord_centre(part.program), 4)
            for p in v:
                w.hold(ch, t0, hold, p, vel * 0.85)
            if part.role == "chords":
                w.hold(ch, t0, hold, v[0] - 12, vel * 0.8)


STING_CADENCES_MAJOR = [("IV", "V"), ("ii7", "V7"), ("IV", "V7"), ("vi", "V"), ("bVI", "bVII")]
STING_CADENCES_MINOR = [("iv", "V"), ("bVI", "bVII"), ("iiø7", "V"), ("bVI", "V"), ("bII", "V")]


def stinger(w: Writer, parts: list[Part], channels: list[int], nbeats: int, minor: bool,
            rng: np.random.Generator) -> str:
    """A pickup into the final chord. The seed picks the cadence, the rhythm of the hits and the shape of the
    lead's line; the drums roll or hit. Returns a short name of the variant."""
    tonic = w.plan.tonic
    cads = STING_CADENCES_MINOR if minor else STING_CADENCES_MAJOR
    cad = cads[int(rng.integers(len(cads)))]
    first, second = parse_chord(cad[0], tonic), parse_chord(cad[1], tonic)
    half = nbeats // 2

    def chord_of(b: int) -> Chord:
        return second if b >= half else first

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
                v = voice_chord(chord_of(int(h)), prev, chord_centre(part.program), 4)
                prev = v
                ln = (hits[k + 1] - h) if k + 1 < len(hits) else nbeats - h
                for p in v:
                    w.add(ch, h, ln * (0.6 if part.role == "chords" else 1.0), p, 70 + 15 * h / max(1, nbeats),
                          legato=0.9)
        elif part.role == "bass":
            for h in hits:
                w.add(ch, h, 0.8, bass_note(chord_of(int(h)).root), 80)
        elif part.role == "lead" or part.role == "perc" and part.pattern == "motif":
            _sting_line(w, ch, part, nbeats, shape, second)
        elif part.role == "perc":
            r = _perc_note(chord_of(max(0, nbeats - 1)).root, part.program)
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
                    w.add(ch, h, 0.25, SNARE if k % 2 else HIGH_TOM, 60 + 5 * k, jitter=0.0)
    return f"{cad[0]}-{cad[1]}-{'i' if minor else 'I'}, {rhythm} hits, {shape}"


def _sting_line(w: Writer, ch: int, part: Part, nbeats: int, shape: str, penultimate: Chord) -> None:
    """The lead's eighths into the tonic: up the scale, down from above, up the penultimate chord, or a
    dotted fanfare on the fifth."""
    tonic = w.plan.tonic
    n = nbeats * 2
    target = nearest_pc(lead_centre(part.program) + 2, [tonic])
    sc = chord_scale(penultimate, w.scale)
    seq = []
    if shape == "run":  # up the scale into the tonic
        p = target
        for _ in range(n):
            p = scale_step(p, sc, -1)
            seq.append(p)
        seq.reverse()
    elif shape == "fall":  # down from above
        p = target
        for _ in range(n):
            p = scale_step(p, sc, 1)
            seq.append(p)
    elif shape == "arpeggio":  # up through the chord tones of the penultimate chord
        p = target - 12
        for _ in range(n):
            p = nearest_pc(p + 3, penultimate.pcs)
            seq.append(p)
        seq = [x - 12 * ((seq[-1] - target) // 12 + 1) if seq[-1] >= target else x for x in seq]
    else:  # fanfare: repeated fifth, dotted
        seq = [nearest_pc(target - 5, [(tonic + 7) % 12])] * n
    for k, p in enumerate(seq):
        if shape == "fanfare" and k % 2 == 1:
            w.add(ch, k * 0.5 + 0.25, 0.25, p, 78, legato=0.8, jitter=0.0)
            continue
        w.add(ch, k * 0.5, 0.5, p, 70 + 20 * k / max(1, n), legato=0.95, jitter=0.0)


def pickup(w: Writer, parts: list[Part], channels: list[int], beats: int, first: Chord) -> None:
    """The beats before the first bar: a drum fill, the bass walking up to the first root, or (with neither)
    a soft chord on the dominant."""
    has_rhythm = any(p.role in ("drums", "bass") for p in parts)
    for part, ch in zip(parts, channels):
        if part.role == "drums":
            for k in range(beats * 2):
                x = -beats + k * 0.5
                w.add(ch, x, 0.25, SNARE if k % 2 == 0 or k < beats else MID_TOM, 45 + 30 * k / (beats * 2),
                      jitter=0.003)
        elif part.role == "bass":
            p = bass_note(first.root)
            line = []
            for _ in range(beats):
                p = scale_step(p, w.scale, -1)
                line.append(p)
            for k, p in enumerate(reversed(line)):
                w.add(ch, -beats + k, 1.0, p, 70, legato=0.85)
        elif part.role in ("chords", "pad") and not has_rhythm:
            for p in voice_chord(parse_chord("V", w.plan.tonic), None, chord_centre(part.program), 3):
                w.add(ch, -beats, beats, p, 55, legato=0.95)
            break


__all__ = ["final_chord", "pickup", "stinger"]
