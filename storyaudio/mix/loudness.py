"""Loudness (ITU-R BS.1770 through pyloudnorm) and true peak (4x oversampling).

Audio is float32 ``(channels, samples)`` here as everywhere; pyloudnorm wants ``(samples, channels)``, so the
transpose happens only at that edge.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.signal import firwin

#: Clips shorter than this are not loudness-normalised (nothing meaningful to measure).
MIN_MEASURABLE_SECONDS = 0.02


def _meter(sample_rate: int, block_size: float = 0.4):
    import pyloudnorm

    return pyloudnorm.Meter(sample_rate, block_size=block_size)


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (``-inf`` for silence). Clips shorter than the meter's 400 ms block are
    measured with one block as long as the clip, so a 0.2 s blip gets its true loudness rather than one
    diluted by padding."""
    audio = np.atleast_2d(audio)
    n = audio.shape[1]
    if n < MIN_MEASURABLE_SECONDS * sample_rate:
        return -math.inf
    block = min(0.4, n / sample_rate)
    data = audio.T.astype(np.float64)
    if data.shape[1] == 1:
        data = data[:, 0]
    with np.errstate(divide="ignore"):
        value = _meter(sample_rate, block).integrated_loudness(data)
    return float(value)


def loudness_range(audio: np.ndarray, sample_rate: int) -> float:
    """Loudness range (LRA, EBU Tech 3342) in LU; 0 for pieces shorter than its 3 s window."""
    audio = np.atleast_2d(audio)
    if audio.shape[1] < 3.2 * sample_rate:
        return 0.0
    data = audio.T.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = _meter(sample_rate).loudness_range(data)
    return float(value) if np.isfinite(value) else 0.0


def normalize_gain(audio: np.ndarray, sample_rate: int, target_lufs: float) -> float:
    """Linear gain that brings ``audio`` to ``target_lufs`` (1.0 for silence or unmeasurable clips)."""
    current = integrated_loudness(audio, sample_rate)
    if not math.isfinite(current):
        return 1.0
    return float(10 ** ((target_lufs - current) / 20))


_TAPS = 12  # per phase; 48 taps in all, as BS.1770-4's reference interpolator
_DELAY = 6  # input samples of group delay of the 48-tap filter, rounded


@lru_cache(maxsize=1)
def _polyphase() -> tuple[np.ndarray, float]:
    """(12, 4) polyphase matrix of a 4x interpolation low-pass, and its worst-case gain bound."""
    h = firwin(4 * _TAPS, 1 / 4, window=("kaiser", 8.0)) * 4
    phases = h.reshape(_TAPS, 4)  # phases[k, p] = h[4k + p]
    bound = float(np.abs(phases).sum(axis=0).max())
    return phases.astype(np.float32), bound


def oversampled_peaks(audio: np.ndarray, threshold: float | None = None, chunk: int = 1 << 20) -> np.ndarray:
    """Per input sample, the largest absolute value among the 4x-oversampled points there, over all channels
    (shape ``(samples,)``). Interpolation is computed only where the neighbourhood could reach ``threshold``
    (default: the sample peak), since an intersample peak can exceed nearby samples by at most the filter's
    gain bound; elsewhere the sample value stands."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    n = audio.shape[1]
    sample_abs = np.abs(audio).max(axis=0) if n else np.zeros(0, np.float32)
    out = sample_abs.copy()
    if n == 0:
        return out
    phases, bound = _polyphase()
    thr = float(sample_abs.max()) if threshold is None else threshold
    if thr <= 0:
        return out
    hot = sample_abs >= thr / bound
    if not hot.any():
        return out
    # every output position whose filter window (the _TAPS inputs before it) touches a hot sample
    hot = np.convolve(hot, np.ones(_TAPS, dtype=bool), mode="full")[:n].astype(bool)
    cand = np.flatnonzero(hot)
    offs = np.arange(_TAPS)
    for s in range(0, cand.size, chunk):
        c = cand[s : s + chunk]
        idx = np.clip(c[:, None] - offs[None, :], 0, n - 1)
        win = audio[:, idx]  # (ch, m, taps)
        win[:, (c[:, None] - offs[None, :]) < 0] = 0.0
        vals = np.abs(win @ phases).max(axis=(0, 2))
        pos = np.clip(c - _DELAY, 0, n - 1)
        np.maximum.at(out, pos, vals.astype(np.float32))
    return out


def true_peak_dbtp(audio: np.ndarray) -> float:
    """True peak in dBTP, measured with 4x oversampling (BS.1770-4 Annex 2)."""
    peak = float(oversampled_peaks(audio).max()) if np.size(audio) else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf
