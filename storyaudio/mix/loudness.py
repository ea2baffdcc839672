"""Loudness (ITU-R BS.1770: pyloudnorm's K-weighting, gating summed without a loop per block) and true peak
(4x oversampling).

Audio is float32 ``(channels, samples)`` here as everywhere. The figures equal ``pyloudnorm.Meter``'s
(``tests/test_mix.py`` compares them); only the per-block sums are vectorised.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.signal import firwin

#: Clips shorter than this are not loudness-normalised (nothing meaningful to measure).
MIN_MEASURABLE_SECONDS = 0.02


_CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770: L, R, C, Ls, Rs
_ABSOLUTE_GATE = -70.0


@lru_cache(maxsize=8)
def _k_weighting(sample_rate: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """pyloudnorm's K-weighting (high shelf, then high pass) as ``(b, a)`` biquads and an overall gain."""
    import pyloudnorm

    stages = list(pyloudnorm.Meter(sample_rate)._filters.values())  # the filters its own meter applies, in order
    biquads = [(np.asarray(f.b, np.float64), np.asarray(f.a, np.float64)) for f in stages]
    return biquads, float(np.prod([f.passband_gain for f in stages]))


_CHUNK = 1 << 18  # samples filtered at a time: no full-length float64 copies of a long mix
#: A DC offset far below any audible level (-600 dBFS) that keeps the filters' state out of subnormal numbers
#: in digital silence, where they made filtering 4x slower; the high pass removes it again.
_DENORMAL_GUARD = 1e-30


def _block_powers(audio: np.ndarray, sample_rate: int, block: float, overlap: float, pad: int = 0) -> np.ndarray:
    """Channel-weighted mean square of every gating block of K-weighted ``audio`` ``(channels, samples)``
    followed by ``pad`` samples of silence (filtered as they come, without copying the audio).

    The same blocks as ``pyloudnorm.Meter.integrated_loudness`` (count, bounds and truncation), taken from a
    running sum of the filtered energy read at the block edges, instead of a Python loop over blocks and
    full-length copies: the same figures, several times faster on a long mix.
    """
    from scipy.signal import lfilter  # two lfilter passes are much faster here than one sosfilt

    n_audio = audio.shape[1]
    n = n_audio + pad
    step = 1.0 - overlap
    n_blocks = int(np.round(((n / sample_rate - block) / (block * step)))) + 1
    j = np.arange(n_blocks)
    lo = np.minimum((block * (j * step) * sample_rate).astype(np.int64), n)
    hi = np.minimum((block * (j * step + 1) * sample_rate).astype(np.int64), n)
    edges = np.unique(np.concatenate([lo, hi]))  # positions where the running energy is needed
    biquads, gain = _k_weighting(sample_rate)
    power = np.zeros(n_blocks)
    for c in range(audio.shape[0]):
        state = [np.zeros(2) for _ in biquads]
        at_edge = np.zeros(edges.size)  # energy of the samples before edges[k] (0 before sample 0)
        total = 0.0
        for s in range(0, n, _CHUNK):
            x = np.zeros(min(_CHUNK, n - s))
            real = audio[c, s : min(s + _CHUNK, n_audio)]
            x[: real.size] = real
            x += _DENORMAL_GUARD
            for i, (b, a) in enumerate(biquads):
                x, state[i] = lfilter(b, a, x, zi=state[i])
            run = np.cumsum(np.square(x))
            k0, k1 = np.searchsorted(edges, [s + 1, s + x.size + 1])  # edges inside (s, s + size]
            at_edge[k0:k1] = total + run[edges[k0:k1] - s - 1]
            total += float(run[-1])
        e_lo = at_edge[np.searchsorted(edges, lo)]
        e_hi = at_edge[np.searchsorted(edges, hi)]
        power += _CHANNEL_GAINS[c] * np.maximum(e_hi - e_lo, 0.0)
    return power * (gain * gain / (block * sample_rate))


def _loudness(power):
    """Loudness in LUFS of a mean-square power (a number or an array of them)."""
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(power)


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (``-inf`` for silence), BS.1770-4 gating on pyloudnorm's K-weighting.

    Clips shorter than the meter's 400 ms block are measured with one block as long as the clip, so a 0.2 s
    blip gets its true loudness rather than one diluted by padding."""
    audio = np.atleast_2d(audio)
    n = audio.shape[1]
    if n < MIN_MEASURABLE_SECONDS * sample_rate:
        return -math.inf
    if audio.shape[0] > len(_CHANNEL_GAINS):
        raise ValueError(f"loudness is defined for at most {len(_CHANNEL_GAINS)} channels, got {audio.shape[0]}")
    power = _block_powers(audio, sample_rate, min(0.4, n / sample_rate), 0.75)
    level = _loudness(power)
    gated = level >= _ABSOLUTE_GATE
    if not gated.any():
        return -math.inf
    relative = _loudness(power[gated].mean()) - 10.0
    gated = (level > relative) & (level > _ABSOLUTE_GATE)
    return float(_loudness(power[gated].mean() if gated.any() else 0.0))


def loudness_range(audio: np.ndarray, sample_rate: int) -> float:
    """Loudness range (LRA, EBU Tech 3342) in LU, as pyloudnorm computes it (3 s blocks every 90 ms, 1.5 s of
    silence appended); 0 for pieces shorter than its 3 s window or too quiet to measure."""
    audio = np.atleast_2d(audio)
    if audio.shape[1] < 3.2 * sample_rate:
        return 0.0
    level = _loudness(_block_powers(audio, sample_rate, 3.0, 0.97, pad=int(1.5 * sample_rate)))
    level = level[level >= _ABSOLUTE_GATE]
    if level.size == 0:
        return 0.0
    level = level[level >= 10 * np.log10(np.mean(10 ** (level / 10))) - 20]
    if level.size == 0:
        return 0.0
    return float(np.percentile(level, 95) - np.percentile(level, 10))


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
    count = np.cumsum(hot, dtype=np.int32)
    count[_TAPS:] -= count[:-_TAPS].copy()  # hot samples among the _TAPS up to each position
    hot = count > 0
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
