"""Small audio helpers shared by the core and the backends: resampling and fitting a clip to a length.

The pipeline owns every clip's final rate and length: it resamples what a backend returns to the render's
rate (:func:`resample`) and fits it to its slot on the timeline (:func:`fit_length`).

Audio is float32; ``resample`` works on the last axis (1-D mono or ``(channels, samples)``), ``fit_length``
on ``(channels, samples)``. scipy is imported only when a resample is actually needed.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def as_channels(audio: np.ndarray) -> np.ndarray:
    """float32 (channels, samples) from a 1-D or 2-D array."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[np.newaxis, :]
    return a


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling along the last axis (exact rational ratio), as float32."""
    if int(sr_in) == int(sr_out) or audio.shape[-1] == 0:
        return audio.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    ratio = Fraction(int(sr_out), int(sr_in))
    return resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


def fit_length(audio: np.ndarray, n: int, sample_rate: int, fade_seconds: float = 0.02) -> np.ndarray:
    """``(channels, samples)`` float32 of exactly ``n`` samples: trim (with a linear fade-out of
    ``fade_seconds``, at most half of what is kept, so the cut does not click) or pad with silence at the end.
    A 1-D input becomes one channel. The pipeline fits every clip to its slot with this: a backend need not
    cut or pad its own audio."""
    a = as_channels(audio)
    if a.shape[1] > n:
        a = a[:, :n].copy()
        f = min(n // 2, int(fade_seconds * sample_rate))
        if f > 1:
            a[:, n - f :] *= np.linspace(1.0, 0.0, f, dtype=np.float32)
    elif a.shape[1] < n:
        a = np.pad(a, ((0, 0), (0, n - a.shape[1])))
    return a
