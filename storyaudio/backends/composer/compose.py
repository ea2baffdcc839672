"""From a plan, a duration and a seed to the note events of every part: the composition.

The steps, in order (each in its own module):

1. fit whole beats to the duration, and decide whether the cue is a stinger (:func:`form.fit_time`);
2. a stinger is a few beats into the final chord (:func:`cues.stinger`); anything longer is a piece in bars
   (:func:`form.plan_form`: intro, sections, cadence) with a pickup when the beats are not whole bars
   (:func:`cues.pickup`), in which every part plays the pattern its role's table names
   (:mod:`.patterns`);
3. the final chord, which rings for the tail (:func:`cues.final_chord`);
4. every note kept inside the clip.

Section intensity decides which parts play (each part has an ``enter`` threshold), velocities and fills, so
a long bed changes every few bars instead of looping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..base import rng_for
from .cues import final_chord, pickup, stinger
from .form import Bar, describe, fit_time, plan_form
from .harmony import is_minor
from .patterns import find_pattern
from .plan import MusicPlan, Part
from .writer import Note, Writer


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


def midi_channels(parts: list[Part]) -> list[int]:
    """One MIDI channel per part: drums on channel 10 (index 9), the others in order around it."""
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
    return channels


def compose(plan: MusicPlan, duration: float, seed: int = 0) -> Composition:
    """Note events for every part of ``plan``, filling exactly ``duration`` seconds."""
    duration = max(0.05, float(duration))
    parts = list(plan.parts)
    writers = [find_pattern(p.role, p.pattern).write for p in parts]  # an unknown pattern fails here, first
    channels = midi_channels(parts)
    rng = rng_for("compose", seed, plan.style, plan.tonic, plan.tempo)
    minor = is_minor(plan)

    # 1. the beats
    timing = fit_time(plan, duration)
    tail = timing.tail
    bars: list[Bar] = []
    if timing.stinger:
        # 2. a stinger, and 3. its final chord, all after the lead-in
        w = Writer(plan, seed, timing.beat, rng)
        variant = stinger(w, parts, channels, timing.beats, minor, rng) if timing.beats else "final chord"
        final_chord(w, parts, channels, timing.beats, max(0.1, tail * 0.75), True)
        for n in w.notes:
            n.start += timing.lead_in
        final_time = timing.lead_in + w.t(timing.beats)
        form = f"stinger ({timing.beats} beats: {variant})"
    else:
        # 2. the bars, the pickup and every part's pattern
        nbars, beats_before = divmod(timing.beats, plan.meter)
        bars = plan_form(plan, nbars, rng)
        w = Writer(plan, seed, timing.beat, rng, offset=beats_before)
        if beats_before:
            pickup(w, parts, channels, beats_before, bars[0].spans[0][2])
        for part, ch, write in zip(parts, channels, writers):
            write(w, ch, part, bars)
        # 3. the final chord lands exactly on the downbeat after the last bar (no swing or jitter there)
        final_time = w.t(nbars * plan.meter)
        final_chord(w, parts, channels, nbars * plan.meter, max(0.3, tail * 0.8), plan.layout == "foreground")
        form = describe(bars, beats_before)

    # 4. every note inside the clip
    notes = [n for n in w.notes if n.start < duration - 0.02]
    for n in notes:
        n.dur = min(n.dur, duration - 0.01 - n.start)
    notes.sort(key=lambda n: (n.start, n.channel, n.pitch))
    info = {"form": form, "bars": len(bars), "played_tempo": round(60.0 / timing.beat, 1),
            "final_chord_at": round(final_time, 3), "tail": round(duration - final_time, 3), "notes": len(notes)}
    return Composition(notes, parts, channels, timing.beat, plan.swing, final_time, duration - final_time,
                       duration, form, info)


__all__ = ["Composition", "compose", "midi_channels"]
