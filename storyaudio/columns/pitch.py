"""``Pitch``: a speech row's voice moved up or down by semitones (-12 to 12), at the same length.

The clip is pitch-shifted (:func:`storyaudio.columns.dsp.pitch_shift`: a WSOLA stretch, then a polyphase
resample), so it works with every speech backend and with recorded rows. Formants move with the pitch: a few
semitones make a character sound a little higher or deeper; an octave makes a different, smaller or larger,
voice."""

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
