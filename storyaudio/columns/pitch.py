"""``Pitch``: a speech row's voice moved up or down by semitones (-12 to 12), at the same length.

The clip is pitch-shifted (:func:`storyaudio.columns.dsp.pitch_shift`: a WSOLA stretch, a polyphase
resample, then the original spectral envelope put back), so it works with every speech backend and with
recorded rows, and the speaker keeps their formants: the same person, higher or deeper."""

from __future__ import annotations

from .base import Column, Extension


class Pitch(Extension):
    name = "pitch"
    description = "Pitch: a speech row's voice shifted by semitones, -12 to 12, at the same length."
    columns = (Column("pitch", "Pitch", {"type": "number", "minimum": -12, "maximum": 12}, default=0.0,
                      audio_types=("speech",), units=("st", "semitone", "semitones"),
                      description="semitones to move the voice up (positive) or down (negative), -12 to 12.",
                      fix="give semitones from -12 to 12 (e.g. -3 for a deeper voice), or N/A."),)

    def clip(self, audio, sample_rate, ask, values, ctx):
        from .dsp import pitch_shift

        return pitch_shift(audio, sample_rate, float(values["pitch"]))
