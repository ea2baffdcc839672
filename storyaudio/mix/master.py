"""Mastering: bring the mix to a preset's integrated loudness under a true-peak ceiling, with a look-ahead
limiter that never clips, block by block at any length.

One engine serves both entry points, so they give the same result:

* :func:`master` takes and returns an array (short pieces, tests);
* :func:`master_file` reads the mix from disk (a ``.npy`` of float32 frames, a WAV, a memmap) and writes the
  24-bit WAV, then reads that file back and measures it: the report states what landed.

Each pass reads the source a block at a time: pass 1 measures it; each following pass applies the gain and
the limiter (its look-ahead and release state carried across block boundaries) and writes the output, which
is then measured. Passes repeat only when the limiter ate enough loudness to miss the target, or when the
output read back is over the ceiling (never seen: the limiter aims 0.15 dB under it). Memory is a few blocks
whatever the length.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import UserError
from .blockio import AudioBlocks, AudioInput, AudioWriter, open_audio, quantize_pcm24
from .loudness import _HALF, LoudnessMeter, Measurement, _sample_peaks, measure, true_peak


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

#: The limiter aims this far under a preset's ceiling. Quantisation needs far less (24-bit rounding moves a
#: true peak by under 1e-5 dB); the rest is for other meters: up to 20 kHz they agree with this one within
#: 0.01 dB, but content between 20 kHz and Nyquist (white-noise effects) is interpolated differently by each
#: filter, and scipy's resample_poly (4x or 16x) read up to 0.14 dB above this meter on full-band noise.
MARGIN_DB = 0.15
#: With no preset, a mix whose samples pass full scale is limited to this (a 24-bit file cannot hold them).
NO_PRESET_CEILING_DBTP = -0.1


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UserError(f"unknown master preset '{name}'. Choose one of: {', '.join(PRESETS)}.")
    return PRESETS[name]


# -- the limiter, streamed ----------------------------------------------------------------------------------

_STEP_HOPS = 2048  # control hops (1 ms each) computed per step: about 2 s of audio


def _release(g: np.ndarray, coef: float, prev: float = 1.0, sources: bool = False):
    """g[i] = min(g[i], 1 - (1 - g[i-1]) * coef), starting from g[-1] = ``prev``: instant attack,
    exponential recovery towards 1.

    In terms of the reduction r = 1 - g this is r[i] = max(r_in[i], coef * r[i-1]), a decaying peak hold, so
    r[i] = max over k <= i of r_in[k] * coef**(i - k): a running maximum in the log domain, with no loop.
    ``sources=True`` also returns, for each i, the k that maximum came from (0 is ``prev``, k is g[k - 1])."""
    g = np.asarray(g, dtype=np.float64)
    reduction = np.empty(g.size + 1)
    reduction[0], reduction[1:] = 1.0 - prev, 1.0 - g
    if not (reduction > 0).any():
        return (g.copy(), np.arange(1, g.size + 1)) if sources else g.copy()
    log_coef = math.log(coef)
    k = np.arange(reduction.size) * log_coef
    with np.errstate(divide="ignore"):
        logged = np.log(np.maximum(reduction, 0.0)) - k
    running = np.maximum.accumulate(logged)
    out = 1.0 - np.exp(running[1:] + k[1:])
    if not sources:
        return out
    index = np.where(logged >= running, np.arange(reduction.size), 0)  # where a new maximum starts
    return out, np.maximum.accumulate(index)[1:]


def _hop_curve(g: np.ndarray, hop: int, scale: float) -> np.ndarray:
    """Per-sample gain, float32, for the hops whose centre values are ``g[1:-1]`` (``g[0]`` and ``g[-1]`` are
    the centres just before and after): linear between hop centres, times ``scale``."""
    offset = ((np.arange(hop) + 0.5) / hop - 0.5).astype(np.float32)  # from each hop's centre, in hops
    centre = (g[1:-1] * scale).astype(np.float32)[:, None]
    before = ((g[1:-1] - g[:-2]) * scale).astype(np.float32)[:, None]
    after = ((g[2:] - g[1:-1]) * scale).astype(np.float32)[:, None]
    return (centre + np.minimum(offset, 0) * before + np.maximum(offset, 0) * after).reshape(-1)


@dataclass
class _Pass:
    limited: bool = False  # the limiter reduced gain somewhere
    energy: float = 0.0  # sum over the output of power x curve^2 (the output's energy over gain^2)
    growth: float = 0.0  # the same with curve * (curve + d curve / d ln gain): how the energy grows with gain

    @property
    def slope(self) -> float:
        """dB of output level per dB of gain, from the limiter's own derivative: 1 where it is idle, 0 where it
        holds every peak at the limit (a Newton step for the loudness search)."""
        return self.growth / self.energy if self.energy > 0 else 1.0


def _render(src: AudioBlocks, sample_rate: int, gain: float, limit: float | None, write: Callable[[np.ndarray], None],
            post: float = 1.0, lookahead: float = 0.005, release: float = 0.08) -> _Pass:
    """One pass: ``src * gain``, limited so its true peak stays at ``limit`` (linear; None: no limiter),
    times ``post``, handed to ``write`` block by block in order. Returns what the limiter did.

    The limiter works at a 1 ms control rate. Per hop it takes the true peak (the same 8x meter that measures
    the result, computed only where it can reach the limit), asks for ``limit / peak`` there, holds the lowest
    request over +-``lookahead`` (so gain is down before a peak arrives and stays down across it), recovers
    exponentially (``release``), smooths over 5 hops and interpolates per sample. Every gain around a peak is
    at or below what that peak asked for. The pass walks the piece in steps of ``_STEP_HOPS`` hops, re-reading
    the few hops of look-ahead and filter context at each step's edges and carrying the release state over.
    Alongside, the gain curve's derivative with respect to ln(gain) follows the same selections (the minimum
    held, the peak released), so the pass also knows how much louder more gain would make it.
    """
    n = src.frames
    stats = _Pass()
    if limit is None:
        scale = np.float32(gain * post)
        for block in src.blocks():
            write(block * scale)
        return stats
    window = np.lib.stride_tricks.sliding_window_view
    hop = max(1, sample_rate // 1000)
    hold = max(1, int(round(lookahead * 1000)))  # hops
    smooth = max(0, min(2, hold - 2))  # moving-average radius; hold >= smooth + 2 keeps every gain near a peak low
    coef = math.exp(-1.0 / max(1.0, release * 1000))
    steps = min(_STEP_HOPS, -(-n // hop) + hold + smooth + 2)
    history = np.ones(2 * smooth + 2)  # released gain of the hops just before the frontier
    d_history = np.zeros(2 * smooth + 2)  # and its derivative
    frontier = -hold  # first hop whose gain is not yet computed; before it, silence: gain 1
    done = 0
    while done < n:
        first = (frontier - hold) * hop - _HALF + 1  # samples read: the hops' peaks need the filter's context
        ext = src.read(first, (frontier + steps + hold) * hop + _HALF)
        peaks = _sample_peaks(ext, limit / gain).reshape(steps + 2 * hold, hop).max(axis=1) * gain
        need = np.minimum(1.0, limit / np.maximum(peaks, 1e-12))
        d_need = np.where(need < 1.0, -need, 0.0)
        lowest = window(need, 2 * hold + 1).argmin(axis=1) + np.arange(steps)
        held, d_held = need[lowest], d_need[lowest]  # hops [F, F + steps)
        released, source = _release(held, coef, history[-1], sources=True)
        reduction_in = 1.0 - np.concatenate([[history[-1]], held])
        d_in = np.concatenate([[d_history[-1]], d_held])
        with np.errstate(divide="ignore", invalid="ignore"):
            d_released = np.where(reduction_in[source] > 0, d_in[source] * (1.0 - released) / reduction_in[source], 0.0)
        released = np.concatenate([history, released])  # from hop F - 2 - 2 * smooth
        d_released = np.concatenate([d_history, d_released])
        g = window(released, 2 * smooth + 1).mean(axis=1)
        j0, j1 = frontier - 1 - smooth, frontier + steps - 1 - smooth  # hops output now; g covers [j0 - 1, j1]
        a, b = max(j0 * hop, 0), min(j1 * hop, n)
        if b > a:
            x = ext[:, j0 * hop - first : j1 * hop - first]  # whole hops; trimmed to [a, b) when written
            power = np.einsum("ij,ij->j", x, x).reshape(steps, hop).sum(axis=1, dtype=np.float64)
            mid = g[1:-1]  # the gain at the centre of each hop output now
            if mid.min() < 1.0 or g[0] < 1.0 or g[-1] < 1.0:
                stats.limited = True
                d_mid = window(d_released, 2 * smooth + 1).mean(axis=1)[1:-1]
                stats.energy += float(power @ np.square(mid))
                stats.growth += float(power @ (mid * (mid + d_mid)))
                curve = _hop_curve(g, hop, gain * post)
                y = x * curve
            else:
                stats.energy += float(power.sum())
                stats.growth += float(power.sum())
                y = x * np.float32(gain * post)
            write(y[:, a - j0 * hop : b - j0 * hop])
            done = b
        history, d_history = released[-(2 * smooth + 2) :], d_released[-(2 * smooth + 2) :]
        frontier += steps
    return stats


def limit_true_peak(audio: np.ndarray, sample_rate: int, ceiling_dbtp: float,
                    lookahead: float = 0.005, release: float = 0.08) -> np.ndarray:
    """A look-ahead limiter on the 8x-oversampled true peak (see :func:`_render`). Returns audio whose true
    peak is at or below ``ceiling_dbtp`` (measured, tightened if needed), or the very input object when nothing
    needed limiting."""
    audio = np.asarray(np.atleast_2d(audio), dtype=np.float32)  # no copy: unlimited audio comes back as is
    if audio.shape[1] == 0:
        return audio
    ceiling = 10 ** (ceiling_dbtp / 20)
    output = _ArrayOutput(audio.shape, sample_rate)
    aim, post = ceiling * 0.998, 1.0  # a hair of margin for float rounding
    with open_audio(audio) as src:
        for attempt in range(5):
            output.open()
            if not _render(src, sample_rate, 1.0, aim, output.write, post, lookahead, release).limited:
                return audio
            measured = true_peak(output.audio)
            if measured <= ceiling:
                break
            if attempt < 3:
                aim *= ceiling / measured * 0.999
            else:  # a last resort that cannot fail: true peak scales with gain
                post *= ceiling / measured * 0.9999
    return output.audio


# -- mastering ----------------------------------------------------------------------------------------------

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


def _passes(preset: Preset, result: Measurement) -> bool:
    """The preset's promise, checked on a measurement: integrated loudness within tolerance of the target and
    the true peak (the 8x meter) at or under the ceiling."""
    ok = True
    if preset.target_lufs is not None:
        ok = math.isfinite(result.integrated_lufs) and abs(result.integrated_lufs - preset.target_lufs) <= preset.tolerance_lu
    if preset.true_peak_dbtp is not None:
        ok = ok and result.true_peak <= 10 ** (preset.true_peak_dbtp / 20)
    return ok


def _master(src: AudioBlocks, sample_rate: int, preset: Preset, output: "_Output") -> tuple[MasterReport, bool]:
    """The mastering decisions, shared by :func:`master` and :func:`master_file`: each pass renders the source
    into ``output`` (measuring its loudness as it goes); the output that reaches the target is then measured
    whole from where it landed (``output.measure()``: for a file, read back) and must be under the ceiling.
    Returns the report of that measurement, and False when the source needed no processing at all (no
    preset and nothing over full scale: nothing was rendered, the report measures the source)."""
    source = measure(src, sample_rate, peaks=preset.target_lufs is None)  # with a target, its peak is not used
    if preset.target_lufs is None and preset.true_peak_dbtp is None and source.sample_peak <= 1.0:
        return _report(preset, source, 0.0), False
    ceiling_db = preset.true_peak_dbtp if preset.true_peak_dbtp is not None else NO_PRESET_CEILING_DBTP
    ceiling, limit_at = 10 ** (ceiling_db / 20), 10 ** ((ceiling_db - MARGIN_DB) / 20)
    aim, post = limit_at, 1.0
    target = preset.target_lufs
    gain_db = target - source.integrated_lufs if target is not None and math.isfinite(source.integrated_lufs) else 0.0
    tried: list[tuple[float, float]] = []  # (gain_db, the loudness it gave)
    out = None
    for attempt in range(10):
        lufs, slope = _render_into(output, src, sample_rate, gain_db, aim, post)
        out = None
        off = target - lufs if target is not None and math.isfinite(lufs) else 0.0
        tried.append((gain_db, lufs))
        if abs(off) >= 0.05 and len(tried) < 6:
            gain_db = _next_gain(tried, target, slope)
            continue
        out = output.measure()
        if out.true_peak <= ceiling:
            break
        # Over the ceiling (the gain moving under a peak, or quantisation): aim the limiter lower; as a last
        # resort scale the limited output down, which its true peak follows exactly.
        if attempt < 5:
            aim *= limit_at / out.true_peak * 0.999
        else:
            post *= limit_at / out.true_peak
    if out is None:
        out = output.measure()
    return _report(preset, out, gain_db + 20 * math.log10(post)), True


def _next_gain(tried: list[tuple[float, float]], target: float, slope: float) -> float:
    """The next gain to try, from the (gain, loudness) pairs rendered so far and the last pass's dB of output
    per dB of gain (:attr:`_Pass.slope`, from the limiter's own derivative). Limiting makes loudness grow
    slower than gain, and gating can even make it fall as gain rises (a loud burst the limiter holds down
    stops dominating the relative gate), so: inside the narrowest pair of neighbouring gains whose loudness
    lies on either side of the target, interpolate; without one, a Newton step on that slope (clamped to
    [0.1, 1], at most 20 dB)."""
    ordered = sorted(tried)
    brackets = [(a, b) for a, b in zip(ordered, ordered[1:]) if (a[1] - target) * (b[1] - target) < 0]
    if brackets:
        (g0, f0), (g1, f1) = min(brackets, key=lambda ab: ab[1][0] - ab[0][0])  # the narrowest
        return g0 + (target - f0) * (g1 - g0) / (f1 - f0)
    gain, lufs = tried[-1]
    step = (target - lufs) / min(1.0, max(0.1, slope))
    return gain + max(-20.0, min(20.0, step))


def _render_into(output: "_Output", src: AudioBlocks, sample_rate: int, gain_db: float, limit: float | None,
                 post: float) -> tuple[float, float]:
    """One pass of :func:`_render` into ``output``; returns the integrated loudness of what was rendered and
    the pass's own estimate of how it would change with gain (:attr:`_Pass.slope`)."""
    meter = LoudnessMeter(src.channels, sample_rate, src.frames, lra=False)

    def write(block: np.ndarray) -> None:
        meter.feed(block)
        output.write(block)

    output.open()
    try:
        stats = _render(src, sample_rate, 10 ** (gain_db / 20), limit, write, post)
    except BaseException:
        output.abort()
        raise
    output.close()
    return meter.result()[0], stats.slope


def _report(preset: Preset, result: Measurement, gain_db: float) -> MasterReport:
    return MasterReport(preset.name, preset.target_lufs, result.integrated_lufs, result.loudness_range_lu,
                        result.true_peak_dbtp, preset.true_peak_dbtp, gain_db, _passes(preset, result))


class _Output:
    """Where a pass writes: ``open`` / ``write`` blocks in order / ``close``; ``measure`` measures the last
    output where it landed."""

    def open(self) -> None: ...
    def write(self, block: np.ndarray) -> None: ...
    def close(self) -> None: ...
    def measure(self) -> Measurement: ...

    def abort(self) -> None:
        """A pass failed: release what is open, check nothing."""


class _ArrayOutput(_Output):
    def __init__(self, shape: tuple[int, int], sample_rate: int):
        self.audio, self.sample_rate, self.pos = np.empty(shape, np.float32), sample_rate, 0

    def open(self) -> None:
        self.pos = 0

    def write(self, block: np.ndarray) -> None:
        self.audio[:, self.pos : self.pos + block.shape[1]] = block
        self.pos += block.shape[1]

    def measure(self) -> Measurement:
        return measure(self.audio, self.sample_rate)


class _FileOutput(_Output):
    """A file (any format soundfile writes, e.g. 24-bit WAV) and optionally a float32 ``.npy`` copy, written
    to temporary names beside their targets; ``measure`` reads the file back."""

    def __init__(self, paths: list[Path], channels: int, frames: int, sample_rate: int, subtype: str):
        self.paths, self.channels, self.frames, self.sample_rate, self.subtype = paths, channels, frames, sample_rate, subtype
        self.writers: list[AudioWriter] = []

    def open(self) -> None:
        self.writers = [AudioWriter(self.paths[0], self.channels, self.frames, self.sample_rate, self.subtype)]
        self.writers += [AudioWriter(p, self.channels, self.frames, self.sample_rate) for p in self.paths[1:]]

    def write(self, block: np.ndarray) -> None:
        if self.subtype == "PCM_24" and len(self.writers) > 1:
            block = quantize_pcm24(block)  # the float copy holds exactly what the file holds
        for w in self.writers:
            w.write(block)

    def close(self) -> None:
        for w in self.writers:
            w.close()

    def abort(self) -> None:
        for w in self.writers:
            w.abort()

    def measure(self) -> Measurement:
        return measure(self.paths[0], self.sample_rate)  # read back: what the file holds


def master(audio: np.ndarray, sample_rate: int, preset: Preset) -> tuple[np.ndarray, MasterReport]:
    """Master an in-memory piece: normalise to the preset's loudness, then limit its true peak; repeat when the
    limiter ate enough loudness to miss the target. Returns the mastered audio (the input object itself when
    the preset asks for nothing) and a report that says whether the preset's targets were met.

    The same engine as :func:`master_file`, so both give the same audio (the file's is 24-bit)."""
    audio = np.asarray(np.atleast_2d(audio), dtype=np.float32)
    output = _ArrayOutput(audio.shape, sample_rate)
    with open_audio(audio) as src:
        report, processed = _master(src, sample_rate, preset, output)
    return (output.audio if processed else audio), report


def master_file(src: AudioInput, dst: str | os.PathLike, sample_rate: int, preset: Preset,
                float_copy: str | os.PathLike | None = None, subtype: str = "PCM_24") -> MasterReport:
    """Master a piece held on disk (or in memory: any :data:`~storyaudio.mix.blockio.AudioInput`) into the
    WAV ``dst`` (24-bit), block by block: peak memory is a few blocks at any length.

    The output that reaches the loudness target is read back from the file and measured (loudness, LRA, 8x
    true peak): the report states what landed, quantisation included, and a file over the ceiling is made
    again with the limiter aimed lower. ``dst``, and ``float_copy`` (an optional ``.npy`` of exactly the
    samples ``dst`` holds, as float32 frames, for readers that want to map them), appear only when all
    succeeded; a previous file stays untouched until then."""
    dst = Path(dst)
    temps = [dst.with_name(f".{dst.stem}.{os.getpid()}.part{dst.suffix}")]
    if float_copy is not None:
        temps.append(Path(float_copy).with_name(f".{Path(float_copy).stem}.{os.getpid()}.part.npy"))
    try:
        with open_audio(src, sample_rate) as reader:
            output = _FileOutput(temps, reader.channels, reader.frames, sample_rate, subtype)
            report, processed = _master(reader, sample_rate, preset, output)
            if not processed:  # nothing to change: the file holds the source as it is
                _render_into(output, reader, sample_rate, 0.0, None, 1.0)
                report = _report(preset, output.measure(), 0.0)
        os.replace(temps[0], dst)
        if float_copy is not None:
            os.replace(temps[1], float_copy)
    finally:
        for t in temps:
            t.unlink(missing_ok=True)
    return report
