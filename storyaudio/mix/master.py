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

from .blockio import AudioBlocks, AudioInput, AudioWriter, open_audio
from .loudness import Measurement, true_peak
from .limiter import _Grid, _limit_step, _Pass
from .passes import PassRecord, Ranges, Sink, SourceRecord, measure_source, run_pass
from .presets import PRESETS, Preset, get_preset  # noqa: F401  (where they were; validate imports presets alone)


#: The limiter aims this far under a preset's ceiling. Quantisation needs far less (24-bit rounding moves a
#: true peak by under 1e-5 dB); the rest is for other meters: up to 20 kHz they agree with this one within
#: 0.01 dB, but content between 20 kHz and Nyquist (white-noise effects) is interpolated differently by each
#: filter, and scipy's resample_poly (4x or 16x) read up to 0.14 dB above this meter on full-band noise.
MARGIN_DB = 0.15
#: With no preset, a mix whose samples pass full scale is limited to this (a 24-bit file cannot hold them).
NO_PRESET_CEILING_DBTP = -0.1



# -- the limiter (storyaudio.mix.limiter), one pass at a time ------------------------------------------------

def _render(src: AudioBlocks, sample_rate: int, gain: float, limit: float | None, write: Callable[[np.ndarray], None],
            post: float = 1.0, lookahead: float = 0.005, release: float = 0.08) -> _Pass:
    """One pass over the whole piece (see :func:`_limit_step`), handed to ``write`` step by step in order.
    Returns what the limiter did."""
    grid = _Grid(src.frames, sample_rate, lookahead, release)
    state = grid.initial()
    energy, growth, limited = np.zeros(grid.count), np.zeros(grid.count), False
    for i in range(grid.count):
        y, state, energy[i], growth[i], hit = _limit_step(grid, src, i, state, gain, limit, post)
        limited = limited or hit
        if y.shape[1]:
            write(y)
    return _Pass(limited, float(energy.sum()), float(growth.sum()))


def limit_true_peak(audio: np.ndarray, sample_rate: int, ceiling_dbtp: float,
                    lookahead: float = 0.005, release: float = 0.08) -> np.ndarray:
    """A look-ahead limiter on the 8x-oversampled true peak (see :func:`_render`). Returns audio whose true
    peak is at or below ``ceiling_dbtp`` (measured, tightened if needed), or the very input object when nothing
    needed limiting."""
    audio = np.asarray(np.atleast_2d(audio), dtype=np.float32)  # no copy: unlimited audio comes back as is
    if audio.shape[1] == 0:
        return audio
    ceiling = 10 ** (ceiling_dbtp / 20)
    aim, post = ceiling * 0.998, 1.0  # a hair of margin for float rounding
    out = np.empty_like(audio)
    with open_audio(audio) as src:
        for attempt in range(5):
            pos = [0]

            def write(block: np.ndarray) -> None:
                out[:, pos[0] : pos[0] + block.shape[1]] = block
                pos[0] += block.shape[1]

            if not _render(src, sample_rate, 1.0, aim, write, post, lookahead, release).limited:
                return audio
            measured = true_peak(out)
            if measured <= ceiling:
                break
            if attempt < 3:
                aim *= ceiling / measured * 0.999
            else:  # a last resort that cannot fail: true peak scales with gain
                post *= ceiling / measured * 0.9999
    return out


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


#: Mastering gains are chosen on this grid (dB). A re-render whose edit moves the mix's loudness by less than
#: the grid's resolution keeps the same gain, and so the same output wherever the mix did not change: only
#: the edited region is mastered again. 0.05 dB is far below what anyone hears, and well inside the presets'
#: 0.5 LU tolerance.
GAIN_STEP_DB = 0.05


@dataclass
class MasterState:
    """What mastering decided and measured, step by step (:mod:`storyaudio.mix.passes`): the source's
    measurement, every pass run (the search's), and which one made the output. A re-render hands it back with
    the ranges of the mix that changed, and recomputes only what those ranges reach."""

    source: SourceRecord
    passes: list[PassRecord]
    final: tuple | None = None
    processed: bool = True

    def find(self, key: tuple) -> PassRecord | None:
        return next((r for r in self.passes if r.key == key), None)


def _master(src: AudioBlocks, sample_rate: int, preset: Preset, sink: Callable[[tuple], Sink], quantised: bool,
            previous: MasterState | None = None, changed: Ranges | None = None,
            env_step: int = 0) -> tuple[MasterReport, MasterState]:
    """The mastering decisions, shared by :func:`master` and :func:`master_file`: measure the source, then
    render passes (each into ``sink(key)``, measuring what it writes, quantised to 24 bits when ``quantised``)
    at gains on the :data:`GAIN_STEP_DB` grid until the loudness is on target, and, should the output's true
    peak be over the ceiling, again with the limiter aimed lower. The report states the last pass's figures
    (its output is what the file holds). With ``previous`` (the state of an earlier render of a mix that
    differs only in ``changed``), every pass recomputes only what the changes reach."""
    source = measure_source(src, sample_rate, previous.source if previous else None, changed)
    state = MasterState(source, [])

    def run(key: tuple) -> PassRecord:
        rec = run_pass(src, sample_rate, key, sink(key), previous.find(key) if previous else None, changed, env_step)
        state.passes.append(rec)
        state.final = key
        return rec

    def measured(rec: PassRecord) -> Measurement:
        return Measurement(rec.lufs, rec.lra, rec.true_peak, rec.sample_peak)

    if preset.target_lufs is None and preset.true_peak_dbtp is None and source.peak <= 1.0:
        rec = run((0.0, None, 1.0, quantised))  # nothing to change: the output holds the source as it is
        state.processed = False
        return _report(preset, measured(rec), 0.0), state
    ceiling_db = preset.true_peak_dbtp if preset.true_peak_dbtp is not None else NO_PRESET_CEILING_DBTP
    ceiling, limit_at = 10 ** (ceiling_db / 20), 10 ** ((ceiling_db - MARGIN_DB) / 20)
    aim, post = limit_at, 1.0
    target = preset.target_lufs
    k = round((target - source.lufs) / GAIN_STEP_DB) if target is not None and math.isfinite(source.lufs) else 0
    tried: dict[int, float] = {}  # grid step -> the loudness it gave
    rec = None
    for attempt in range(10):
        rec = run((k * GAIN_STEP_DB, aim, post, quantised))
        off = target - rec.lufs if target is not None and math.isfinite(rec.lufs) else 0.0
        tried[k] = rec.lufs
        if abs(off) >= 0.05 and len(tried) < 6:
            nxt = round(_next_gain([(j * GAIN_STEP_DB, v) for j, v in sorted(tried.items())], target, rec.slope)
                        / GAIN_STEP_DB)
            if nxt not in tried:
                k = nxt
                continue
        if rec.true_peak <= ceiling:
            break
        # Over the ceiling (the gain moving under a peak, or quantisation): aim the limiter lower; as a last
        # resort scale the limited output down, which its true peak follows exactly.
        if attempt < 5:
            aim *= limit_at / rec.true_peak * 0.999
        else:
            post *= limit_at / rec.true_peak
    return _report(preset, measured(rec), k * GAIN_STEP_DB + 20 * math.log10(post)), state


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


def _report(preset: Preset, result: Measurement, gain_db: float) -> MasterReport:
    return MasterReport(preset.name, preset.target_lufs, result.integrated_lufs, result.loudness_range_lu,
                        result.true_peak_dbtp, preset.true_peak_dbtp, gain_db, _passes(preset, result))


class _ArraySink(Sink):
    """A pass written into an array (the in-memory :func:`master`)."""

    def __init__(self, shape: tuple[int, int]):
        self.audio = np.empty(shape, np.float32)

    def write(self, step: int, a: int, b: int, block: np.ndarray) -> None:
        self.audio[:, a:b] = block


class _FileSink(Sink):
    """A pass written in order to a file (any format soundfile writes, e.g. 24-bit WAV) and optionally a float32
    ``.npy`` copy of the same samples, under temporary names beside their targets."""

    def __init__(self, paths: list[Path], channels: int, frames: int, sample_rate: int, subtype: str):
        self.writers = [AudioWriter(paths[0], channels, frames, sample_rate, subtype)]
        self.writers += [AudioWriter(p, channels, frames, sample_rate) for p in paths[1:]]

    def write(self, step: int, a: int, b: int, block: np.ndarray) -> None:
        for w in self.writers:
            w.write(block)

    def close(self) -> None:
        for w in self.writers:
            w.close()

    def abort(self) -> None:
        for w in self.writers:
            w.abort()


class _NoSink(Sink):
    """A pass measured only."""

    def write(self, step: int, a: int, b: int, block: np.ndarray) -> None:
        pass


def master(audio: np.ndarray, sample_rate: int, preset: Preset) -> tuple[np.ndarray, MasterReport]:
    """Master an in-memory piece: normalise to the preset's loudness, then limit its true peak; repeat when the
    limiter ate enough loudness to miss the target. Returns the mastered audio (the input object itself when
    the preset asks for nothing) and a report that says whether the preset's targets were met.

    The same engine as :func:`master_file`, so both give the same audio (the file's is 24-bit)."""
    audio = np.asarray(np.atleast_2d(audio), dtype=np.float32)
    sinks: list[_ArraySink] = []

    def sink(key: tuple) -> Sink:
        sinks.append(_ArraySink(audio.shape))
        return sinks[-1]

    with open_audio(audio) as src:
        report, state = _master(src, sample_rate, preset, sink, quantised=False)
    return (sinks[-1].audio if state.processed else audio), report


def master_file(src: AudioInput, dst: str | os.PathLike, sample_rate: int, preset: Preset,
                float_copy: str | os.PathLike | None = None, subtype: str = "PCM_24") -> MasterReport:
    """Master a piece held on disk (or in memory: any :data:`~storyaudio.mix.blockio.AudioInput`) into the
    WAV ``dst`` (24-bit), block by block: peak memory is a few blocks at any length.

    Each pass measures exactly the samples it writes (quantised to the file's 24-bit steps, as the writer
    rounds them), so the report states what landed, and a file over the ceiling is made again with the limiter
    aimed lower. ``dst``, and ``float_copy`` (an optional ``.npy`` of exactly the samples ``dst`` holds, as
    float32 frames, for readers that want to map them), appear only when all succeeded; a previous file stays
    untouched until then."""
    return master_to_file(src, dst, sample_rate, preset, float_copy=float_copy, subtype=subtype)[0]


def master_to_file(src: AudioInput | AudioBlocks, dst: str | os.PathLike, sample_rate: int, preset: Preset, *,
                   float_copy: str | os.PathLike | None = None, subtype: str = "PCM_24",
                   previous: MasterState | None = None, previous_file: str | os.PathLike | None = None,
                   changed: Ranges | None = None, env_step: int = 0) -> tuple[MasterReport, MasterState]:
    """:func:`master_file`, returning also the :class:`MasterState` a later render can start from. Given
    ``previous`` (the state of the render that wrote ``previous_file``, a mix that differs from ``src`` only in
    the ``changed`` ranges), each pass recomputes only the steps those ranges reach, and ``dst`` is
    ``previous_file`` with those steps written anew: byte for byte the file a full master makes."""
    dst = Path(dst)
    temps = [dst.with_name(f".{dst.stem}.{os.getpid()}.part{dst.suffix}")]
    if float_copy is not None:
        temps.append(Path(float_copy).with_name(f".{Path(float_copy).stem}.{os.getpid()}.part.npy"))
    quantised = subtype == "PCM_24"
    sparse: dict[tuple, _SparseSink] = {}
    try:
        with open_audio(src, sample_rate) as reader:
            channels, frames = reader.channels, reader.frames
            reuse = (previous is not None and previous_file is not None and Path(previous_file).is_file()
                     and float_copy is None)

            def sink(key: tuple) -> Sink:
                if not reuse:
                    return _FileSink(temps, channels, frames, sample_rate, subtype)
                part = dst.with_name(f".{dst.stem}.{os.getpid()}.pass{len(sparse)}.npy")
                sparse[key] = _SparseSink(part, frames, channels)
                return sparse[key]

            report, state = _master(reader, sample_rate, preset, sink, quantised,
                                    previous if reuse else None, changed, env_step)
            if reuse:
                final = state.find(state.final)
                grid = _Grid(frames, sample_rate)
                if len(final.redone) == grid.count:  # made whole (no old record of this pass): all in its scratch
                    _assemble(temps[0], None, sparse[state.final], final.redone, frames, channels, sample_rate,
                              subtype, grid)
                elif previous.final != state.final:  # the old file holds another pass: this one, whole
                    run_pass(reader, sample_rate, state.final, _FileSink(temps, channels, frames, sample_rate,
                                                                         subtype))
                else:
                    _assemble(temps[0], previous_file, sparse[state.final], final.redone, frames, channels,
                              sample_rate, subtype, grid)
        os.replace(temps[0], dst)
        if float_copy is not None:
            os.replace(temps[1], float_copy)
    finally:
        for t in temps:
            t.unlink(missing_ok=True)
        for sp in sparse.values():
            sp.path.unlink(missing_ok=True)
    return report, state


class _SparseSink(Sink):
    """The steps a re-render's pass recomputed, as float32 frames at their place in a ``.npy`` the piece's
    length (the rest never written: a sparse file)."""

    def __init__(self, path: Path, frames: int, channels: int):
        self.path, self.channels = path, channels
        self._fh = open(path, "wb+")
        np.lib.format.write_array_header_2_0(self._fh, {"descr": "<f4", "fortran_order": False,
                                                        "shape": (frames, channels)})
        self.offset = self._fh.tell()
        self._fh.truncate(self.offset + frames * channels * 4)

    def write(self, step: int, a: int, b: int, block: np.ndarray) -> None:
        self._fh.seek(self.offset + a * self.channels * 4)
        self._fh.write(np.ascontiguousarray(block.T, dtype="<f4").tobytes())

    def read(self, a: int, b: int) -> np.ndarray:
        self._fh.seek(self.offset + a * self.channels * 4)
        data = np.frombuffer(self._fh.read((b - a) * self.channels * 4), dtype="<f4")
        return data.reshape(b - a, self.channels).T

    def close(self) -> None:
        self._fh.flush()

    def abort(self) -> None:
        self._fh.close()


def _assemble(dst: Path, old: str | os.PathLike | None, new: _SparseSink, redone: list[int], frames: int,
              channels: int, sample_rate: int, subtype: str, grid: "_Grid") -> None:
    """``dst``: the old file (same format) with the recomputed steps' samples in place of its own: a copy,
    resized when the piece's length changed (a piece whose end moved keeps its beginning), with those steps
    written over it. ``old`` None: every step was recomputed."""
    import shutil

    from .blockio import data_offset, encode_frames, resize_wav

    try:
        if old is None:
            with AudioWriter(dst, channels, frames, sample_rate, subtype) as out:
                for i in range(grid.count):
                    a, b = grid.output(i)
                    if b > a:
                        out.write(new.read(a, b))
            return
        shutil.copyfile(old, dst)
        resize_wav(dst, frames)  # another length: the steps past the shorter end are all recomputed
        offset, width = data_offset(dst)
        with open(dst, "r+b") as fh:
            for i in redone:
                a, b = grid.output(i)
                if b > a:
                    fh.seek(offset + a * channels * width)
                    fh.write(encode_frames(new.read(a, b), subtype))
    finally:
        new.abort()
