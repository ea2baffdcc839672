"""The mastering passes, step by step, with what a re-render needs to redo only part of them.

A pass (:func:`run_pass`) walks the limiter's steps (:class:`~storyaudio.mix.limiter._Grid`); for each step it
computes the output, quantises it to what the file will hold, meters it (K-weighted energies between gating
edges, the true peak of the points the step owns, the sample peak) and hands it to a sink. Everything a step
computes depends on what it reads of the mix and on the state where it begins: the limiter's released gain,
the meter's filter state and the last samples before it (the true-peak filter's context). The pass records
that state at every step (:class:`PassRecord`), and the loudness figures are fixed functions of the per-step
records (sums in a fixed order, maxima), so:

* a first render runs every step (a *full* pass);
* a re-render whose mix changed only in some ranges starts from the old record's state at the first step that
  reads a changed sample, recomputes steps while their input changed *or* their starting state differs from
  the old one, and takes the old record for every other step. It stops recomputing only where the state is
  bit for bit the old render's, so the figures and every output sample are exactly those a full pass gives.

A step's second half (metering its output and handing it to the sink) runs in a thread beside the limiter's
next steps (:class:`_Metering`), in step order, so a pass keeps both cores busy.

The source's measurement (:func:`measure_source`, integrated loudness and sample peak of the mix before
mastering) works the same way over blocks of :data:`~storyaudio.mix.loudness._READ` samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .blockio import AudioBlocks, quantize_pcm24
from .loudness import _READ, _TAPS, LoudnessMeter, _sample_peaks

#: A range of the mix ``[lo, hi)`` whose samples changed since the previous render.
Ranges = Sequence[tuple[int, int]]


def _touches(ranges: Ranges, lo: int, hi: int) -> bool:
    return any(a < hi and lo < b for a, b in ranges)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _with_length_change(changed: Ranges, old_frames: int, frames: int, sample_rate: int) -> list[tuple[int, int]]:
    """``changed``, and when the piece's length changed, everything from 4 s before the shorter end on (what
    is read there is silence in one piece and sound in the other, and the meters' last gating blocks, up to
    3 s long and measured 1.5 s past the end, fall elsewhere)."""
    out = list(changed)
    if old_frames != frames:
        out.append((max(0, min(old_frames, frames) - 4 * sample_rate), max(old_frames, frames) + 1))
    return out


def _kept_before(old_frames: int, frames: int, sample_rate: int) -> int:
    """Old records of blocks starting before this sample are valid (when the length changed, those from 4 s
    before the shorter end are all made again: see :func:`_with_length_change`)."""
    return frames + 1 if old_frames == frames else max(0, min(old_frames, frames) - 4 * sample_rate)


def _before(pieces: dict[int, "np.ndarray | tuple"], position: int) -> dict:
    """The old records of blocks starting before ``position`` (those after are made again)."""
    return {k: v for k, v in pieces.items() if k < position}


# -- the source --------------------------------------------------------------------------------------------

@dataclass
class SourceRecord:
    """The mix's measurement block by block: the meter's state where each block begins, its pieces, and each
    block's sample peak; ``lufs`` and ``peak`` the whole piece's."""

    frames: int
    zi: np.ndarray  # (blocks + 1, sections, channels, 2)
    done: np.ndarray  # (blocks + 1,) every gating edge passed
    pieces: dict[int, np.ndarray]
    peaks: np.ndarray  # (blocks,)
    lufs: float = -math.inf
    peak: float = 0.0


def measure_source(src: AudioBlocks, sample_rate: int, old: SourceRecord | None = None,
                   changed: Ranges | None = None) -> SourceRecord:
    """Integrated loudness and sample peak of ``src``, recomputing only the blocks that read a changed range
    and those after them until the meter's state is the old one's (``old`` None: every block)."""
    n, channels = src.frames, src.channels
    count = -(-n // _READ)
    meter = LoudnessMeter(channels, sample_rate, n, lra=False)
    rec = SourceRecord(n, np.zeros((count + 1, *meter.state()[0].shape)), np.zeros(count + 1, bool), {},
                       np.zeros(count))
    usable = old is not None and old.zi.shape[1:] == rec.zi.shape[1:]
    changed = list(changed or [])
    keep = 0
    if usable:
        changed = _with_length_change(changed, old.frames, n, sample_rate)
        keep = min(count, old.zi.shape[0] - 1)  # blocks both lengths have (those reaching an end are changed)
        rec.zi[: keep + 1], rec.done[: keep + 1] = old.zi[: keep + 1], old.done[: keep + 1]
        rec.peaks[:keep] = old.peaks[:keep]
        rec.pieces.update(_before(old.pieces, _kept_before(old.frames, n, sample_rate)))
    meter.set_pieces(rec.pieces)
    i = 0
    while i < count:
        a, b = i * _READ, min(n, (i + 1) * _READ)
        zi, _pos, done = meter.state()
        if usable and i < keep and not _touches(changed, a, b) and _same(zi, old.zi[i]) and done == old.done[i]:
            nxt = next((k for k in range(i + 1, count) if _touches(changed, k * _READ, min(n, (k + 1) * _READ))),
                       count)  # the state at the next changed block is the old one's: jump there
            nxt = min(nxt, keep)
            if nxt == count - 1 and n - nxt * _READ < meter._warmup:  # a short last block needs the one before
                nxt -= 1
            if nxt <= i:
                nxt = i  # nothing to skip: compute this block
            else:
                meter.restore((old.zi[nxt], min(n, nxt * _READ), bool(old.done[nxt])))
                i = nxt
                continue
        rec.zi[i], rec.done[i] = zi, done
        block = src.read(a, b)
        rec.peaks[i] = float(np.abs(block).max()) if block.size else 0.0
        meter.feed(block)
        i += 1
    rec.zi[count], rec.done[count] = meter.state()[0], meter.state()[2]
    rec.lufs = meter.result()[0]
    rec.peak = float(rec.peaks.max()) if count else 0.0
    return rec


# -- a pass ------------------------------------------------------------------------------------------------

@dataclass
class PassRecord:
    """One pass (gain, limit, post) step by step: the state where each step begins (limiter, meter, the last
    samples before it), what each step measured, and the whole pass's figures."""

    key: tuple  # (gain_db, limit, post, quantised): what the pass does besides reading the mix
    frames: int
    limiter: np.ndarray  # (steps + 1, 2, history): released gain and its derivative
    zi: np.ndarray  # (steps + 1, sections, channels, 2)
    done: np.ndarray  # (steps + 1,)
    tail: np.ndarray  # (steps + 1, channels, _TAPS - 1): output samples just before each step
    pieces: dict[int, np.ndarray]
    energy: np.ndarray  # (steps,)
    growth: np.ndarray
    limited: np.ndarray  # (steps,) bool
    tp: np.ndarray  # (steps,) true peak of the points each step owns (exact: see step_true_peak)
    peaks: np.ndarray  # (steps,) sample peak
    env: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)  # step -> (first bin, peaks)
    lufs: float = -math.inf
    lra: float = 0.0
    true_peak: float = 0.0
    sample_peak: float = 0.0
    redone: list[int] = field(default_factory=list)  # steps computed by this run (not saved)

    @property
    def slope(self) -> float:
        energy, growth = float(self.energy.sum()), float(self.growth.sum())
        return growth / energy if energy > 0 else 1.0


def step_true_peak(tail: np.ndarray, block: np.ndarray) -> float:
    """The true peak of the points between the samples from ``len(tail) - _HALF`` before ``block`` to
    ``_HALF`` before its end (and of its samples), with ``tail`` (the ``_TAPS - 1`` samples before it) as the
    filter's context. Interpolation is computed wherever it could reach the samples' own peak, so the value is
    exact whenever it is the piece's true peak: the maximum over steps is the piece's true peak exactly."""
    ext = np.concatenate([tail, block], axis=1)
    top = float(np.abs(ext).max()) if ext.size else 0.0
    peaks = _sample_peaks(ext, top)
    own = float(np.abs(block).max()) if block.size else 0.0
    return max(own, float(peaks.max()) if peaks.size else 0.0)


class Sink:
    """Where a pass's output goes: ``write(step, a, b, block)`` in step order; ``close`` / ``abort``."""

    def write(self, step: int, a: int, b: int, block: np.ndarray) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class _Metering:
    """Runs the second half of a pass's steps (measuring the output and handing it to the sink) in one
    thread beside the limiter, in step order. The two halves take about the same time and their numpy
    work (FFTs, filters) runs without the GIL, so a pass takes a little over half as long on two cores. At
    most :attr:`AHEAD` steps wait, so memory stays a few steps whatever the length."""

    AHEAD = 3

    def __init__(self):
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="storyaudio-metering")
        self._pending: list = []

    def submit(self, fn: Callable[..., None], *args) -> None:
        self._pending.append(self._pool.submit(fn, *args))
        while len(self._pending) > self.AHEAD:
            self._pending.pop(0).result()  # raises what the step raised

    def drain(self) -> None:
        while self._pending:
            self._pending.pop(0).result()

    def close(self) -> None:
        for f in self._pending:
            f.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)


def run_pass(src: AudioBlocks, sample_rate: int, key: tuple, sink: Sink, old: PassRecord | None = None,
             changed: Ranges | None = None, env_step: int = 0,
             on_step: Callable[[int, np.ndarray], None] | None = None) -> PassRecord:
    """One pass (``key`` = (gain_db, limit, post, quantise)) over ``src`` into ``sink``: every step when ``old``
    is None or of another pass, else only the steps that must be recomputed (see the module docstring).
    ``env_step``: the picture's envelope bin in samples (0: none)."""
    from .limiter import _Grid, _limit_step

    gain_db, limit, post, quantised = key
    gain = 10 ** (gain_db / 20)
    n, channels = src.frames, src.channels
    grid = _Grid(n, sample_rate)
    count = grid.count
    meter = LoudnessMeter(channels, sample_rate, n)
    zshape = meter.state()[0].shape
    rec = PassRecord(key, n, np.zeros((count + 1, 2, grid.history)), np.zeros((count + 1, *zshape)),
                     np.zeros(count + 1, bool), np.zeros((count + 1, channels, _TAPS - 1), np.float32), {},
                     np.zeros(count), np.zeros(count), np.zeros(count, bool), np.zeros(count), np.zeros(count))
    usable = (old is not None and old.key == key and old.zi.shape[1:] == zshape and old.tail.shape[1] == channels
              and _Grid(old.frames, sample_rate).steps == grid.steps)  # the same step grid
    changed = list(changed or [])
    keep = 0
    if usable:  # the steps both pieces have; those reaching a changed end are recomputed
        changed = _with_length_change(changed, old.frames, n, sample_rate)
        keep = min(count, old.limiter.shape[0] - 1)
        for name in ("limiter", "zi", "done", "tail"):
            getattr(rec, name)[: keep + 1] = getattr(old, name)[: keep + 1]
        for name in ("energy", "growth", "limited", "tp", "peaks"):
            getattr(rec, name)[:keep] = getattr(old, name)[:keep]
        first = _kept_before(old.frames, n, sample_rate)
        rec.pieces.update(_before(old.pieces, first))
        rec.env.update({i: v for i, v in old.env.items() if i < keep and grid.output(i)[1] <= first})
    meter.set_pieces(rec.pieces)
    dirty = [i for i in range(count) if _touches(changed, *grid.reads(i))] if usable else list(range(count))
    dirty_set = set(dirty)
    limiter = grid.initial()
    tail = np.zeros((channels, _TAPS - 1), np.float32)

    def measure(i: int, a: int, b: int, y: np.ndarray, before: np.ndarray) -> None:
        """The second half of step ``i``, in the metering thread: the meter's state where it begins, the
        output's true peak, sample peak and loudness, the picture's bins, the sink."""
        zi, _pos, done = meter.state()
        rec.zi[i], rec.done[i] = zi, done
        rec.tp[i] = step_true_peak(before, y)
        rec.peaks[i] = float(np.abs(y).max()) if y.size else 0.0
        if y.shape[1]:
            meter.feed(y)
            if env_step:
                rec.env[i] = _bin_peaks(y, a, env_step, n)
            sink.write(i, a, b, y)
            if on_step is not None:
                on_step(i, y)

    metering = _Metering()
    i = 0
    try:
        while i < count:
            nxt = i
            if (usable and i not in dirty_set and i < keep and _same(limiter[0], old.limiter[i, 0])
                    and _same(limiter[1], old.limiter[i, 1]) and _same(tail, old.tail[i])):
                metering.drain()  # the meter's state is needed: every step before this one measured
                zi, _pos, done = meter.state()
                if _same(zi, old.zi[i]) and done == old.done[i]:
                    nxt = min(next((k for k in dirty if k > i), count), keep)  # the old state holds up to there
                    if nxt == count - 1 and n - grid.output(nxt)[0] < meter._warmup:
                        nxt -= 1  # a short last step: the meter needs the step before it
            if nxt > i:  # (every step before i is measured: drained above)
                limiter = (old.limiter[nxt, 0].copy(), old.limiter[nxt, 1].copy())
                meter.restore((old.zi[nxt], grid.output(nxt)[0] if nxt < count else n, bool(old.done[nxt])))
                tail = old.tail[nxt].copy()
                i = nxt
                continue
            rec.limiter[i, 0], rec.limiter[i, 1], rec.tail[i] = limiter[0], limiter[1], tail
            a, b = grid.output(i)
            y, limiter, rec.energy[i], rec.growth[i], rec.limited[i] = _limit_step(grid, src, i, limiter, gain, limit,
                                                                                  post)
            if quantised:
                y = quantize_pcm24(y)
            before = tail
            if y.shape[1]:
                tail = np.concatenate([tail, y], axis=1)[:, -(_TAPS - 1):]
            metering.submit(measure, i, a, b, y, before)
            rec.redone.append(i)
            i += 1
        metering.drain()
    except BaseException:
        metering.close()
        sink.abort()
        raise
    metering.close()
    sink.close()
    rec.limiter[count, 0], rec.limiter[count, 1] = limiter
    rec.zi[count], rec.done[count] = meter.state()[0], meter.state()[2]
    rec.tail[count] = tail
    rec.lufs, rec.lra = meter.result()
    end = step_true_peak(tail, np.zeros((channels, _TAPS - 1), np.float32))  # the filter ringing past the end
    rec.true_peak = max(float(rec.tp.max()) if count else 0.0, end)
    rec.sample_peak = float(rec.peaks.max()) if count else 0.0
    return rec


def _bin_peaks(y: np.ndarray, a: int, step: int, frames: int) -> tuple[int, np.ndarray]:
    """The first picture bin ``y`` (samples from ``a``) touches, and its peak within each bin it touches (bins
    of ``step`` samples from 0; samples past the last whole bin are not drawn)."""
    b = min(a + y.shape[1], frames // step * step)
    if b <= a:
        return 0, np.zeros(0, np.float32)
    mag = np.abs(y[:, : b - a]).max(axis=0)
    first = a // step
    cuts = np.arange(first * step, b, step)
    cuts[0] = a
    return first, np.maximum.reduceat(mag, cuts - a).astype(np.float32)


def envelope(rec: PassRecord, step: int, frames: int) -> np.ndarray:
    """The picture's envelope: the peak of every whole bin of ``step`` samples, from the pass's steps."""
    out = np.zeros(frames // step if step else 0, np.float32)
    for first, peaks in rec.env.values():
        if peaks.size:
            np.maximum(out[first : first + peaks.size], peaks, out=out[first : first + peaks.size])
    return out
