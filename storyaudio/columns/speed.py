"""``Speed``: how fast a speech row is spoken, 0.5 (half speed) to 2 (twice as fast), at the voice's own pitch.

The clip is time-stretched (WSOLA, :func:`storyaudio.columns.dsp.time_stretch`), so it works with every
speech backend, and with recorded rows (``File``). A row with ``Duration: Auto`` becomes as long as the
stretched speech; a row with a number of seconds keeps that length: the backend is asked for the speech at
that length times the speed, and the stretch brings it back."""

from __future__ import annotations

from dataclasses import replace

from .base import Column, Extension


class Speed(Extension):
    name = "speed"
    description = "Speed: a speech row's pace, 0.5 to 2, at the same pitch (time-stretched)."
    columns = (Column("speed", "Speed", {"type": "number", "minimum": 0.5, "maximum": 2}, default=1.0,
                      audio_types=("speech",), units=("x",), writer=True,
                      description="how fast the line is spoken: 1 as the voice speaks, 0.8 slower, 1.25 faster "
                                  "(0.5 to 2).",
                      fix="give a factor from 0.5 (half speed) to 2 (twice as fast), or N/A for the voice's "
                          "own pace."),)

    def request(self, ask, values, ctx):
        if ask.duration is None:
            return ask
        return replace(ask, duration=ask.duration * float(values["speed"]))

    def clip(self, audio, sample_rate, ask, values, ctx):
        from .dsp import time_stretch

        return time_stretch(audio, sample_rate, float(values["speed"]))
