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

A step's measurements (its output's loudness pieces and true peak) run in a pool of threads, one per core,
beside the limiter's next steps (:class:`_Metering`): each depends only on the step's output and the output
just before it, so steps are measured side by side and a pass keeps every core busy.

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
    """Integrated loudness and sample peak of ``src`` (``old`` None: every block), blocks measured side by
    side (:class:`_Metering`). A block's figures depend on its samples and the meter's warm-up before it
    (:meth:`~storyaudio.mix.loudness.LoudnessMeter.settled`), so given ``old`` only the blocks whose samples or
    warm-up read a changed range are measured again."""
    n, channels = src.frames, src.channels
    count = -(-n // _READ)
    meter = LoudnessMeter(channels, sample_rate, n, lra=False)
    warmup = meter.warmup
    rec = SourceRecord(n, np.zeros((count + 1, *meter.state()[0].shape)), np.zeros(count + 1, bool), {},
                       np.zeros(count))
    usable = old is not None and old.zi.shape[1:] == rec.zi.shape[1:]
    changed = list(changed or [])
    keep = 0
    if usable:
        changed = _with_length_change(changed, old.frames, n, sample_rate)
        keep = min(count, old.zi.shape[0] - 1)  # blocks both lengths have (those reaching an end are changed)
        rec.zi[:keep], rec.done[:keep] = old.zi[:keep], old.done[:keep]
        rec.peaks[:keep] = old.peaks[:keep]
        rec.pieces.update(_before(old.pieces, _kept_before(old.frames, n, sample_rate)))
    meter.set_pieces(rec.pieces)

    def measure(i: int, a: int, block: np.ndarray, zi: np.ndarray) -> None:
        rec.peaks[i] = float(np.abs(block).max()) if block.size else 0.0
        meter.pieces_at(a, block, zi)

    metering = _Metering()
    history: np.ndarray | None = None  # the samples just before the next block, when it follows the last read
    try:
        for i in range(count):
            a, b = i * _READ, min(n, (i + 1) * _READ)
            if usable and i < keep and not _touches(changed, a - warmup, b):
                history = None
                continue
            if history is None and usable and i < keep and not _touches(changed, a - warmup, a):
                rec.zi[i] = old.zi[i]  # the warm-up before it is unchanged (not read: nothing to mix there)
                history = np.zeros((channels, 0), np.float32)
            else:
                if history is None:
                    history = src.read(max(0, a - warmup), a)
                rec.zi[i] = meter.settled(history)
            rec.done[i] = meter.done_at(a)
            rec.pieces.pop(a, None)  # an old block's, should this one measure nothing
            block = src.read(a, b)
            metering.submit(measure, i, a, block, rec.zi[i])
            history = np.concatenate([history, block], axis=1)[:, -warmup:]
        metering.drain()
    finally:
        metering.close()
    if usable and old.frames == n and not _touches(changed, n - warmup, n):
        rec.zi[count] = old.zi[count]
    else:
        rec.zi[count] = meter.settled(src.read(max(0, n - warmup), n))
    rec.done[count] = meter.done_at(n)
    meter.restore((rec.zi[count], n, bool(rec.done[count])))
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
    """Measures a pass's steps (loudness pieces, true peak, sample peak, the picture's bins) side by side in a
    pool of threads, one per core, while the limiter computes the next steps. Each step's measurement is a
    function of its output, where it starts and the output just before it (the meter's filters start from
    the state the last quarter second leaves: :meth:`~storyaudio.mix.loudness.LoudnessMeter.settled`), so
    the order they finish in changes nothing. Their numpy work (FFTs, filters) runs without the GIL. At most
    :attr:`AHEAD` steps per thread wait, so memory stays a few steps whatever the length."""

    AHEAD = 2

    def __init__(self):
        import os
        from concurrent.futures import ThreadPoolExecutor

        self.workers = max(1, min(4, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="storyaudio-metering")
        self._pending: list = []

    def submit(self, fn: Callable[..., None], *args) -> None:
        self._pending.append(self._pool.submit(fn, *args))
        while len(self._pending) > self.AHEAD * self.workers:
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
    warmup = meter.warmup
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
    # the output before the next step, for the meter's filters (None after a jump: the old record's state
    # holds for the step jumped to, and every step is at least the meter's warm-up long but a short last one)
    history: np.ndarray | None = np.zeros((channels, 0), np.float32)
    zi_next: np.ndarray | None = None  # the meter's state for the next step when it is the old record's

    def measure(i: int, a: int, y: np.ndarray, before: np.ndarray, zi: np.ndarray) -> None:
        """Step ``i``'s measurements, in a metering thread: the output's true peak, sample peak, loudness
        pieces and the picture's bins."""
        rec.tp[i] = step_true_peak(before, y)
        rec.peaks[i] = float(np.abs(y).max()) if y.size else 0.0
        if y.shape[1]:
            meter.pieces_at(a, y, zi)
            if env_step:
                rec.env[i] = _bin_peaks(y, a, env_step, n)

    metering = _Metering()
    i = 0
    try:
        while i < count:
            a, b = grid.output(i)
            zi = zi_next if zi_next is not None else meter.settled(history)
            done = meter.done_at(a)
            nxt = i
            if (usable and i not in dirty_set and i < keep and _same(limiter[0], old.limiter[i, 0])
                    and _same(limiter[1], old.limiter[i, 1]) and _same(tail, old.tail[i])
                    and _same(zi, old.zi[i]) and done == old.done[i]):
                nxt = min(next((k for k in dirty if k > i), count), keep)  # the old state holds up to there
                if nxt == count - 1 and n - grid.output(nxt)[0] < warmup:
                    nxt -= 1  # a short last step: the meter needs the output of the step before it
            if nxt > i:
                limiter = (old.limiter[nxt, 0].copy(), old.limiter[nxt, 1].copy())
                tail = old.tail[nxt].copy()
                zi_next, history = old.zi[nxt].copy(), None
                i = nxt
                continue
            rec.limiter[i, 0], rec.limiter[i, 1], rec.tail[i] = limiter[0], limiter[1], tail
            rec.zi[i], rec.done[i] = zi, done
            y, limiter, rec.energy[i], rec.growth[i], rec.limited[i] = _limit_step(grid, src, i, limiter, gain, limit,
                                                                                  post)
            if quantised:
                y = quantize_pcm24(y)
            before = tail
            if y.shape[1]:
                tail = np.concatenate([tail, y], axis=1)[:, -(_TAPS - 1):]
                if y.shape[1] >= warmup:
                    history = y[:, -warmup:]
                elif history is None:  # the skip above never jumps to a step this short
                    raise RuntimeError("a step shorter than the meter's warm-up cannot follow a jump")
                else:
                    history = np.concatenate([history, y], axis=1)[:, -warmup:]
                sink.write(i, a, b, y)
                if on_step is not None:
                    on_step(i, y)
            zi_next = None
            metering.submit(measure, i, a, y, before, zi)
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
    zi_end = zi_next if zi_next is not None else meter.settled(history)
    rec.zi[count], rec.done[count] = zi_end, meter.done_at(n)
    rec.tail[count] = tail
    meter.restore((zi_end, n, bool(rec.done[count])))
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
