"""``tone``: a tiny deterministic backend for every kind, for tests and for users testing their own code.

Speech becomes a voiced buzz with syllable-rate modulation, 0.3 s per word; music a slowly changing chord;
effects shaped noise. It needs nothing but numpy and is instant, so scripts and mixes can be checked without
the embedded models.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..seeds import rng_for
from .base import Backend, Clip, Event, Voice

_VOICES = [
    Voice("tone-low", "low buzz, 100 Hz", "male", "adult", ("deep",)),
    Voice("tone-high", "high buzz, 210 Hz", "female", "adult", ()),
    Voice("tone-mid", "middle buzz, 150 Hz", "male", "young", ()),
    Voice("tone-child", "very high buzz, 290 Hz", "female", "child", ()),
    Voice("tone-old", "low slow buzz, 120 Hz", "male", "older", ()),
    Voice("tone-bright", "bright buzz, 240 Hz", "female", "young", ()),
]
_PITCH = {"tone-low": 100.0, "tone-high": 210.0, "tone-mid": 150.0, "tone-child": 290.0, "tone-old": 120.0,
          "tone-bright": 240.0}


class ToneOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds_per_word: float = Field(0.3, gt=0, le=2, description="speech length per word")
    default_seconds: float = Field(3.0, gt=0, le=600, description="length when the event gives none")


class ToneBackend(Backend[ToneOptions]):
    name = "tone"
    kinds = ("speech", "music", "sound_effect")
    description = "Test double: buzz for speech, chords for music, noise for effects (numpy only, instant)."

    def voices(self) -> list[Voice]:
        return list(_VOICES)

    def render(self, event: Event, sample_rate: int) -> Clip:
        opts = self.options
        rng = rng_for(event.content, event.seed, event.voice)
        if event.kind == "speech":
            words = max(1, len(event.content.split()))
            seconds = event.duration or words * opts.seconds_per_word
        else:
            seconds = event.duration or opts.default_seconds
        n = max(1, int(round(seconds * sample_rate)))
        t = np.arange(n) / sample_rate
        if event.kind == "speech":
            f0 = _PITCH.get(event.voice or "", 150.0)
            sig = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
            sig *= 0.5 * (1 - np.cos(2 * np.pi * 4.0 * t))  # four syllables a second
            detail = f"tone voice {event.voice or 'tone-mid'} ({f0:.0f} Hz)"
        elif event.kind == "music":
            root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
            sig = sum(np.sin(2 * np.pi * root * r * t) for r in (1.0, 1.26, 1.5, 2.0))
            detail = f"tone chord on {root:.1f} Hz"
        else:
            sig = rng.standard_normal(n)
            sig = np.convolve(sig, np.ones(8) / 8, mode="same")
            detail = "tone noise"
        sig = np.asarray(sig, dtype=np.float64)
        ramp = min(n // 2, int(0.01 * sample_rate))
        if ramp:
            sig[:ramp] *= np.linspace(0, 1, ramp)
            sig[-ramp:] *= np.linspace(1, 0, ramp)
        peak = np.max(np.abs(sig)) or 1.0
        audio = (0.5 * sig / peak).astype(np.float32)
        return Clip(audio, sample_rate, detail, {"backend": "tone"})
