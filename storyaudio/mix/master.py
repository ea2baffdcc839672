"""Mastering: bring the mix to a preset's integrated loudness with a true-peak limiter (never clipping)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from ..errors import UserError
from .loudness import integrated_loudness, loudness_range, oversampled_peaks, true_peak_dbtp


@dataclass(frozen=True)
class Preset:
    name: str
    target_lufs: float | None  # None: leave the level alone
    true_peak_dbtp: float | None
    description: str
    tolerance_lu: float = 0.5


PRESETS: dict[str, Preset] = {
    "podcast": Preset("podcast", -16.0, -1.0, "podcasts and streaming: -16 LUFS, true peak <= -1 dBTP"),
    "ebu-r128": Preset("ebu-r128", -23.0, -1.0, "broadcast (EBU R128): -23 LUFS, true peak <= -1 dBTP"),
    "none": Preset("none", None, None, "no mastering: the mix as summed (still never above 0 dBFS)"),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UserError(f"unknown master preset '{name}'. Choose one of: {', '.join(PRESETS)}.")
    return PRESETS[name]


def limit_true_peak(audio: np.ndarray, sample_rate: int, ceiling_dbtp: float,
                    lookahead: float = 0.005, release: float = 0.08) -> np.ndarray:
    """A look-ahead limiter on the 4x-oversampled peak: gain is computed at a 1 ms control rate, reaches its
    minimum before each peak (look-ahead), recovers exponentially (release) and is interpolated per sample.
    Returns new audio whose true peak is at or below ``ceiling_dbtp`` (checked, tightened if needed)."""
    audio = np.asarray(np.atleast_2d(audio), dtype=np.float32)  # no copy: unlimited audio comes back as is
    n = audio.shape[1]
    if n == 0:
        return audio
    hop = max(1, sample_rate // 1000)
    ceiling = 10 ** (ceiling_dbtp / 20)
    nb = -(-n // hop)
    padded = np.zeros(nb * hop, dtype=np.float32)
    padded[:n] = oversampled_peaks(audio, threshold=ceiling)
    block_peak = np.maximum(padded.reshape(nb, hop).max(axis=1), 1e-12)
    target = ceiling * 0.998  # a hair of margin for float rounding
    if block_peak.max() <= target:
        return audio  # the very input object when nothing needs limiting
    k = max(1, int(round(lookahead * 1000)))
    coef = math.exp(-1.0 / max(1.0, release * 1000))  # release: gain may rise by a fixed fraction per block
    centres = (np.arange(nb) + 0.5) * hop
    positions = np.arange(n)
    out = audio
    for _ in range(4):  # only the target changes between rounds
        need = np.minimum(1.0, target / block_peak)
        g = minimum_filter1d(need, size=2 * k + 1, mode="nearest")
        g = _release(g, coef)
        g = np.minimum(uniform_filter1d(g, size=k, mode="nearest"), 1.0)
        out = audio * np.interp(positions, centres, g).astype(np.float32)
        measured = oversampled_peaks(out, threshold=ceiling).max()
        if measured <= ceiling:
            return out
        target *= ceiling / measured * 0.999
    return out * min(1.0, ceiling / max(oversampled_peaks(out).max(), 1e-12))


def _release(g: np.ndarray, coef: float) -> np.ndarray:
    """g[i] = min(g[i], 1 - (1 - g[i-1]) * coef): instant attack, exponential recovery towards 1.

    In terms of the reduction r = 1 - g this is r[i] = max(r_in[i], coef * r[i-1]), a decaying peak hold, so
    r[i] = max over k <= i of r_in[k] * coef**(i - k): a running maximum in the log domain, with no loop."""
    reduction = 1.0 - np.asarray(g, dtype=np.float64)
    if not (reduction > 0).any():
        return np.array(g, copy=True)
    log_coef = math.log(coef)
    k = np.arange(reduction.size) * log_coef
    with np.errstate(divide="ignore"):
        held = np.maximum.accumulate(np.log(np.maximum(reduction, 0.0)) - k) + k
    return (1.0 - np.exp(held)).astype(np.asarray(g).dtype)


@dataclass
class MasterReport:
    preset: str
    target_lufs: float | None
    integrated_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float
    max_true_peak_dbtp: float | None
    gain_db: float
    passed: bool

    def to_dict(self) -> dict:
        def num(x):
            return None if x is None else (round(x, 2) if math.isfinite(x) else None)

        return {
            "preset": self.preset, "target_lufs": self.target_lufs,
            "integrated_lufs": num(self.integrated_lufs), "loudness_range_lu": num(self.loudness_range_lu),
            "true_peak_dbtp": num(self.true_peak_dbtp), "max_true_peak_dbtp": self.max_true_peak_dbtp,
            "gain_db": num(self.gain_db), "pass": self.passed,
        }


def master(audio: np.ndarray, sample_rate: int, preset: Preset) -> tuple[np.ndarray, MasterReport]:
    """Normalise to the preset's loudness, then limit true peak; repeat a little, since limiting lowers
    loudness. Returns the mastered audio and a report that says whether the preset's targets were met."""
    audio = np.asarray(np.atleast_2d(audio), dtype=np.float32)
    total_gain_db = 0.0
    lufs = integrated_loudness(audio, sample_rate)
    if preset.target_lufs is not None and math.isfinite(lufs):
        # Loudness scales with gain, so one measurement suffices until the limiter changes the signal. When it
        # does, the limiter eats part of each step; the next step is scaled by how much of the last one arrived
        # (a secant step on loudness against gain), so a peaky mix still reaches its target in a few rounds.
        # The limiter sees the audio at least once, even when it arrives on target.
        boost, limiter_checked = 1.0, False
        for _ in range(6):
            delta = preset.target_lufs - lufs
            step = delta * boost if abs(delta) >= 0.05 else 0.0
            if step == 0.0 and limiter_checked:
                break
            if step:
                audio = audio * np.float32(10 ** (step / 20))
                total_gain_db += step
            before, lufs = lufs, lufs + step
            if preset.true_peak_dbtp is not None:
                limited = limit_true_peak(audio, sample_rate, preset.true_peak_dbtp - 0.05)
                if limited is not audio:
                    audio = limited
                    lufs = integrated_loudness(audio, sample_rate)
            limiter_checked = True
            if step:
                arrived = (lufs - before) / step
                boost = 1.0 if arrived >= 0.95 else min(4.0, 1.0 / max(arrived, 0.25))
    elif preset.target_lufs is None and audio.size and float(np.abs(audio).max()) > 1.0:
        audio = limit_true_peak(audio, sample_rate, -0.1)  # never clip, even with no preset
        lufs = integrated_loudness(audio, sample_rate)
    tp = true_peak_dbtp(audio)
    passed = True
    if preset.target_lufs is not None:
        passed = math.isfinite(lufs) and abs(lufs - preset.target_lufs) <= preset.tolerance_lu
    if preset.true_peak_dbtp is not None:
        passed = passed and tp <= preset.true_peak_dbtp + 1e-6
    report = MasterReport(preset.name, preset.target_lufs, lufs, loudness_range(audio, sample_rate), tp,
                          preset.true_peak_dbtp, total_gain_db, passed)
    return audio, report
