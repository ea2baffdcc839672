"""Loudness (ITU-R BS.1770-4 integrated loudness and EBU Tech 3342 loudness range, as pyloudnorm computes them)
and true peak (BS.1770-4 Annex 2: oversampling with an interpolation filter), measured block by block.

Audio is float32 ``(channels, samples)`` here as everywhere. Every measure also takes a piece held on disk (a
``.npy`` of float32 frames, any audio file, or a ``numpy.memmap``) and reads it a block at a time
(:mod:`storyaudio.mix.blockio`): memory does not grow with the piece's length. Only the per-block energies the
gating needs are kept (one number per 100 ms block and per 90 ms LRA block: about 3 MB for three hours).

* Loudness: pyloudnorm's K-weighting and gating (``tests/test_mix.py`` checks the figures equal
  ``pyloudnorm.Meter``'s); the filters run block by block with their state carried over, and the per-block
  energies are read from a running sum instead of a Python loop over blocks.
* True peak: 8x oversampling with a 385-tap Kaiser-windowed sinc (48 input samples per interpolated point),
  flat within 0.003 dB up to 20 kHz at 44.1 kHz and -72 dB beyond 24.1 kHz. BS.1770-4 asks for at least 4x; a
  4x meter under-reads a tone near 20 kHz by up to 0.5 dB between its points, 8x by at most 0.14 dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .blockio import AudioBlocks, AudioInput, open_audio

#: Clips shorter than this are not loudness-normalised (nothing meaningful to measure).
MIN_MEASURABLE_SECONDS = 0.02

_CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770: L, R, C, Ls, Rs
_ABSOLUTE_GATE = -70.0
_READ = 1 << 16  # frames read and filtered at a time


@lru_cache(maxsize=8)
def _k_weighting(sample_rate: int) -> tuple[np.ndarray, float]:
    """The K-weighting pyloudnorm applies (its "K-weighting" filter class: RBJ-cookbook high shelf, +4 dB at
    1500 Hz, Q 1/sqrt(2); then high pass at 38 Hz, Q 0.5) as second-order sections ``(2, 6)`` and an overall
    gain. The coefficients are computed with pyloudnorm's own formulas, in its order of operations (the tests
    check they equal its filters'), so measuring does not import pyloudnorm and scipy.signal with it."""

    def biquad(gain_db: float, q: float, fc: float, kind: str) -> np.ndarray:
        A = 10 ** (gain_db / 40.0)
        w0 = 2.0 * np.pi * (fc / sample_rate)
        alpha = np.sin(w0) / (2.0 * q)
        if kind == "high_shelf":
            b0 = A * ((A + 1) + (A - 1) * np.cos(w0) + 2 * np.sqrt(A) * alpha)
            b1 = -2 * A * ((A - 1) + (A + 1) * np.cos(w0))
            b2 = A * ((A + 1) + (A - 1) * np.cos(w0) - 2 * np.sqrt(A) * alpha)
            a0 = (A + 1) - (A - 1) * np.cos(w0) + 2 * np.sqrt(A) * alpha
            a1 = 2 * ((A - 1) - (A + 1) * np.cos(w0))
            a2 = (A + 1) - (A - 1) * np.cos(w0) - 2 * np.sqrt(A) * alpha
        else:  # high pass
            b0, b1, b2 = (1 + np.cos(w0)) / 2, -(1 + np.cos(w0)), (1 + np.cos(w0)) / 2
            a0, a1, a2 = 1 + alpha, -2 * np.cos(w0), 1 - alpha
        b, a = np.array([b0, b1, b2]) / a0, np.array([a0, a1, a2]) / a0
        return np.concatenate([b, a]) / a[0]  # second-order sections want a0 = 1 (pyloudnorm's already is)

    sos = np.array([biquad(4.0, 1 / np.sqrt(2), 1500.0, "high_shelf"), biquad(0.0, 0.5, 38.0, "high_pass")])
    return sos, 1.0  # both filters pass with unit gain in pyloudnorm


@lru_cache(maxsize=1)
def _sosfilt_kernel():
    """scipy's compiled second-order-section filter, loaded on its own: importing scipy.signal (which the
    public ``sosfilt`` needs) costs most of a second of every command's start, for docstring processing and
    modules the meter never uses. Falls back to the public function where this scipy lays it out otherwise."""
    import glob
    import importlib.util
    import os

    try:
        import scipy

        name = "scipy.signal._sosfilt"
        import sys

        if name in sys.modules:
            return sys.modules[name]._sosfilt
        (path,) = glob.glob(os.path.join(os.path.dirname(scipy.__file__), "signal", "_sosfilt.*"))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module  # scipy.signal, when something imports it, finds it loaded
        return module._sosfilt
    except Exception:  # noqa: BLE001 - any other layout: the public function
        return None


def sosfilt(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.sosfilt(sos, x, axis=-1, zi=zi)`` for float64 ``x`` ``(channels, samples)`` and ``zi``
    ``(sections, channels, 2)``: the same kernel, so the same numbers."""
    kernel = _sosfilt_kernel()
    if kernel is None:
        from scipy.signal import sosfilt as public

        return public(sos, x, axis=-1, zi=zi)
    out = np.array(x, dtype=np.float64, order="C")  # filtered in place
    state = np.ascontiguousarray(np.moveaxis(np.asarray(zi, dtype=np.float64), 0, 1))  # (channels, sections, 2)
    kernel(np.ascontiguousarray(sos, dtype=np.float64), out, state)
    return out, np.ascontiguousarray(np.moveaxis(state, 1, 0))


#: A DC offset far below any audible level (-600 dBFS) that keeps the filters' state out of subnormal numbers
#: in digital silence, where they made filtering 4x slower; the high pass removes it again.
_DENORMAL_GUARD = 1e-30
#: Seconds of input before a block from which the meter's filters settle into that block's starting state
#: (their impulse response is under 1e-20 of its peak after 0.185 s at 44.1 and 48 kHz).
_WARMUP = 0.25


def _blocks(n: int, sample_rate: int, block: float, overlap: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds ``[lo, hi)`` of the gating blocks over ``n`` samples, exactly as ``pyloudnorm.Meter`` cuts them."""
    step = 1.0 - overlap
    n_blocks = int(np.round(((n / sample_rate - block) / (block * step)))) + 1
    j = np.arange(max(n_blocks, 0))
    lo = np.minimum((block * (j * step) * sample_rate).astype(np.int64), n)
    hi = np.minimum((block * (j * step + 1) * sample_rate).astype(np.int64), n)
    return lo, hi


class LoudnessMeter:
    """Integrated loudness and loudness range of a piece of known length, fed in order, block by block.

    The K-weighting filters start each block from the state they reach on the :data:`_WARMUP` seconds of
    input before it, filtered from rest: the filters' response dies out in 0.18 s (under 1e-20 of its peak),
    so this is the continuous filter to far below float64's resolution, and it makes a block's filtered
    samples depend on nothing but the block and the quarter second before it. (A state carried through the
    whole piece would differ in its last bits for ever after any edit, however far back.) Each block's
    filtered energy is kept as *pieces*: its sums between the gating-block edges that fall inside it (the
    edges are known up front from the length). A gating block's energy is then the sum of the pieces inside it,
    added block by block on its own: every figure is a fixed function of the pieces. So a re-render that
    changed part of a piece feeds only the blocks from the change on (from a :meth:`state` saved there) until
    the input of the last quarter second is the old render's again, keeps the old pieces for the rest, and gets
    exactly the figures a full pass gives (:meth:`pieces` / :meth:`set_pieces`). ``result()`` appends the 1.5
    s of silence pyloudnorm's LRA measures after the end. Once every block edge is passed, feeding costs
    nothing (``lra=False`` skips the LRA's blocks: integrated loudness alone)."""

    def __init__(self, channels: int, sample_rate: int, frames: int, lra: bool = True):
        if channels > len(_CHANNEL_GAINS):
            raise ValueError(f"loudness is defined for at most {len(_CHANNEL_GAINS)} channels, got {channels}")
        self.channels, self.sample_rate, self.frames = channels, sample_rate, frames
        self._measurable = frames >= MIN_MEASURABLE_SECONDS * sample_rate
        # Clips shorter than the 400 ms block are measured with one block as long as the clip, so a 0.2 s blip
        # gets its true loudness rather than one diluted by padding.
        self._block = min(0.4, frames / sample_rate) if self._measurable else 0.4
        self._int = _blocks(frames, sample_rate, self._block, 0.75) if self._measurable else None
        self._pad = int(1.5 * sample_rate)
        self._lra = (_blocks(frames + self._pad, sample_rate, 3.0, 0.97)
                     if lra and frames >= 3.2 * sample_rate else None)
        parts = [b for bounds in (self._int, self._lra) if bounds is not None for b in bounds]
        self._edges = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        self._feeds: dict[int, np.ndarray] = {}  # start of a fed block -> its pieces (channels, k)
        self._pos = 0
        self._sos, self._gain = _k_weighting(sample_rate)
        self._warmup = int(round(_WARMUP * sample_rate))
        self._history: np.ndarray | None = np.zeros((channels, self._warmup))  # input before the next block
        self._state = self._settle(self._history)
        self._done = not self._edges.size

    # -- checkpoints (see the class docstring) --------------------------------------------------------------
    def _settle(self, history: np.ndarray) -> np.ndarray:
        """The filters' state after ``history`` (the input just before a block), filtered from rest."""
        x = history + _DENORMAL_GUARD
        return sosfilt(self._sos, x, np.zeros((self._sos.shape[0], self.channels, 2)))[1]

    def state(self) -> tuple[np.ndarray, int, bool]:
        """Where the meter stands: the filters' state for the next block (a function of the quarter second of
        input before it), the samples fed, whether every edge is passed."""
        return self._state.copy(), self._pos, self._done

    def restore(self, state: tuple[np.ndarray, int, bool]) -> None:
        """Continue from a :meth:`state`. The input before it is not known again until a quarter second has
        been fed: blocks shorter than that cannot follow a restore."""
        self._state, self._pos, self._done = state[0].copy(), int(state[1]), bool(state[2])
        self._history = None

    # -- the same, block by block in any order (:func:`storyaudio.mix.passes.run_pass` measures steps side by
    # side): a block's pieces depend on nothing but the block, where it starts and the input before it -------
    def settled(self, history: np.ndarray | None) -> np.ndarray:
        """The filters' state for a block that follows ``history`` (the input before it: at least
        :attr:`warmup` samples of it are used; None or empty: the piece's start, silence before it)."""
        if history is None or history.shape[1] == 0:
            history = np.zeros((self.channels, self._warmup))
        elif history.shape[1] < self._warmup:
            history = np.concatenate([np.zeros((self.channels, self._warmup - history.shape[1])), history], axis=1)
        return self._settle(np.asarray(history[:, -self._warmup :], dtype=np.float64))

    def done_at(self, start: int) -> bool:
        """Whether every edge is passed once the samples before ``start`` are fed (:meth:`state`'s flag)."""
        return not self._edges.size or (start > 0 and int(self._edges[-1]) <= start)

    def pieces_at(self, start: int, block: np.ndarray, zi: np.ndarray) -> np.ndarray | None:
        """The pieces of the block of samples ``[start, start + m)`` with the filters starting from ``zi``
        (:meth:`settled`): what :meth:`feed` computes and keeps for it, kept the same way. None when every
        edge was passed before it or it is empty."""
        block = np.atleast_2d(block)
        m = block.shape[1]
        if self.done_at(start) or m == 0:
            return None
        k0, k1 = np.searchsorted(self._edges, [start + 1, start + m + 1])  # edges inside (start, start + m]
        x = block.astype(np.float64) + _DENORMAL_GUARD
        x = sosfilt(self._sos, x, zi)[0]  # both channels at once
        np.square(x, out=x)
        # energy from the block's start to the first edge inside it, then between consecutive edges
        cuts = np.concatenate([[0], self._edges[k0:k1] - start])
        pieces = np.add.reduceat(x, cuts, axis=1) if cuts[-1] < m else np.add.reduceat(x, cuts[:-1], axis=1)
        self._feeds[start] = pieces
        return pieces

    @property
    def warmup(self) -> int:
        """Samples of input before a block that its filters' state depends on."""
        return self._warmup

    def pieces(self) -> dict[int, np.ndarray]:
        """The pieces of every block fed so far, by the block's first sample."""
        return self._feeds

    def set_pieces(self, feeds: dict[int, np.ndarray]) -> None:
        self._feeds = feeds

    def feed(self, block: np.ndarray) -> np.ndarray | None:
        """The next samples of the piece, ``(channels, m)``. Returns the block's pieces (None once every edge
        is passed: nothing left to measure)."""
        block = np.atleast_2d(block)
        s, m = self._pos, block.shape[1]
        self._pos += m
        if self._done or m == 0:
            return None
        raw = block.astype(np.float64)
        if m >= self._warmup:
            self._history = raw[:, m - self._warmup :].copy()
        elif self._history is not None:
            self._history = np.concatenate([self._history, raw], axis=1)[:, -self._warmup :]
        else:
            raise RuntimeError("a block shorter than the meter's warm-up cannot follow a restore")
        pieces = self.pieces_at(s, block, self._state)
        self._state = self._settle(self._history)
        self._done = self.done_at(s + m)  # every edge is known: the rest cannot change a figure
        return pieces

    def _intervals(self) -> np.ndarray:
        """Energy between each pair of consecutive edges ``(channels, edges - 1)``: the pieces inside it, added
        in order."""
        starts = sorted(self._feeds)
        if not starts:
            return np.zeros((self.channels, max(0, self._edges.size - 1)))
        position, values = [], []
        for s in starts:  # each block's pieces start at its first sample, then at each edge inside it
            pieces = self._feeds[s]
            k0 = np.searchsorted(self._edges, s + 1)
            position.append(np.concatenate([[s], self._edges[k0 : k0 + pieces.shape[1] - 1]]))
            values.append(pieces)
        position, values = np.concatenate(position), np.concatenate(values, axis=1)
        interval = np.searchsorted(self._edges, position, side="right") - 1  # the edge each piece follows
        keep = (interval >= 0) & (interval < self._edges.size - 1)
        interval, values = interval[keep], values[:, keep]
        out = np.zeros((self.channels, max(0, self._edges.size - 1)))
        if interval.size:
            first = np.flatnonzero(np.r_[True, np.diff(interval) != 0])
            out[:, interval[first]] = np.add.reduceat(values, first, axis=1)
        return out

    def _powers(self, bounds: tuple[np.ndarray, np.ndarray], block: float, intervals: np.ndarray) -> np.ndarray:
        """Mean-square power of each gating block: the intervals inside it, summed block by block (a block's
        figure depends on its own intervals alone)."""
        lo, hi = bounds
        i0, i1 = np.searchsorted(self._edges, lo), np.searchsorted(self._edges, hi)
        count = i1 - i0
        width = int(count.max()) if count.size else 0
        weights = np.asarray(_CHANNEL_GAINS[: self.channels])[:, None]
        weighted = np.concatenate([(weights * intervals).sum(axis=0), [0.0]])  # the last entry: padding
        if width == 0:
            return np.zeros(lo.size)
        index = i0[:, None] + np.arange(width)[None, :]
        index = np.where(np.arange(width)[None, :] < count[:, None], index, weighted.size - 1)
        power = np.maximum(weighted[index].sum(axis=1), 0.0)
        return power * (self._gain * self._gain / (block * self.sample_rate))

    def result(self) -> tuple[float, float]:
        """``(integrated LUFS, loudness range LU)``; ``-inf`` and 0 where there is nothing to measure. Call
        once, after the whole piece was fed."""
        if self._pos != self.frames:
            raise ValueError(f"the meter was fed {self._pos} samples of a {self.frames}-sample piece")
        silence = np.zeros((self.channels, min(self._pad, _READ)), np.float32)
        left = self._pad
        while not self._done and left > 0:  # the filters ring on into the LRA's appended silence
            self.feed(silence[:, :left])
            left -= silence.shape[1]
        intervals = self._intervals()
        return self._integrated(intervals), self._range(intervals)

    def _integrated(self, intervals: np.ndarray) -> float:
        if self._int is None:
            return -math.inf
        power = self._powers(self._int, self._block, intervals)
        level = _loudness(power)
        gated = level >= _ABSOLUTE_GATE
        if not gated.any():
            return -math.inf
        relative = _loudness(power[gated].mean()) - 10.0
        gated = (level > relative) & (level > _ABSOLUTE_GATE)
        return float(_loudness(power[gated].mean() if gated.any() else 0.0))

    def _range(self, intervals: np.ndarray) -> float:
        if self._lra is None:
            return 0.0
        level = _loudness(self._powers(self._lra, 3.0, intervals))
        level = level[level >= _ABSOLUTE_GATE]
        if level.size == 0:
            return 0.0
        level = level[level >= 10 * np.log10(np.mean(10 ** (level / 10))) - 20]
        if level.size == 0:
            return 0.0
        return float(np.percentile(level, 95) - np.percentile(level, 10))


def _loudness(power):
    """Loudness in LUFS of a mean-square power (a number or an array of them)."""
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(power)


def measure_loudness(audio: AudioInput, sample_rate: int) -> tuple[float, float]:
    """``(integrated LUFS, loudness range LU)`` in one pass over ``audio``."""
    with open_audio(audio, sample_rate) as src:
        meter = LoudnessMeter(src.channels, sample_rate, src.frames)
        for block in src.blocks(_READ):
            meter.feed(block)
        return meter.result()


def integrated_loudness(audio: AudioInput, sample_rate: int) -> float:
    """Integrated loudness in LUFS (``-inf`` for silence and clips under 20 ms), BS.1770-4 gating on
    pyloudnorm's K-weighting. Clips shorter than the 400 ms block are measured with one block as long as the
    clip."""
    with open_audio(audio, sample_rate) as src:
        meter = LoudnessMeter(src.channels, sample_rate, src.frames, lra=False)
        for block in src.blocks(_READ):
            meter.feed(block)
        return meter.result()[0]


def loudness_range(audio: AudioInput, sample_rate: int) -> float:
    """Loudness range (LRA, EBU Tech 3342) in LU, as pyloudnorm computes it (3 s blocks every 90 ms, 1.5 s of
    silence appended); 0 for pieces shorter than 3.2 s or too quiet to measure."""
    return measure_loudness(audio, sample_rate)[1]


def normalize_gain(audio: np.ndarray, sample_rate: int, target_lufs: float) -> float:
    """Linear gain that brings ``audio`` to ``target_lufs`` (1.0 for silence or unmeasurable clips)."""
    current = integrated_loudness(audio, sample_rate)
    if not math.isfinite(current):
        return 1.0
    return float(10 ** ((target_lufs - current) / 20))


# -- true peak ----------------------------------------------------------------------------------------------

OVERSAMPLING = 8
_HALF = 24  # input samples on each side of an interpolated point that the filter reaches
_TAPS = 2 * _HALF  # per phase
_BETA = 7.0  # Kaiser window: about 72 dB of image rejection
_SCREEN = 256  # interpolated points are screened in runs of this many input samples


@lru_cache(maxsize=1)
def _interpolator() -> tuple[np.ndarray, float]:
    """The interpolation filter as ``(OVERSAMPLING - 1, _TAPS)`` convolution kernels, one per fractional
    position ``p / OVERSAMPLING`` (p = 1..7) between two samples, and their gain bound (the largest sum of
    absolute coefficients: no interpolated point exceeds the largest of its ``_TAPS`` inputs times it).

    A windowed sinc cut at the input's Nyquist frequency: its zero crossings fall on the input samples, so the
    sample values themselves pass unchanged (phase 0 is the identity and is not computed), and each fractional
    delay is normalised to unit gain at DC, so a constant reads as itself. numpy alone designs it."""
    L = OVERSAMPLING
    m = np.arange(-L * _HALF, L * _HALF + 1)
    h = np.sinc(m / L) * np.kaiser(m.size, _BETA)
    # The point at p / L after input sample i reads x[i - HALF + 1 + j] * h[L * (TAPS - 1 - j) + p], j < TAPS.
    j = np.arange(_TAPS)
    coeffs = np.stack([h[L * (_TAPS - 1 - j) + p] for p in range(1, L)])
    coeffs /= coeffs.sum(axis=1, keepdims=True)
    bound = float(np.abs(coeffs).sum(axis=1).max())
    return np.ascontiguousarray(coeffs[:, ::-1]).astype(np.float32), bound  # reversed: convolution kernels


_FFT = 1 << 14  # the longest transform: segments are filtered by overlap-save in pieces of this size


@lru_cache(maxsize=8)
def _kernel_spectra(nfft: int) -> np.ndarray:
    return np.fft.rfft(_interpolator()[0], nfft, axis=-1)


def _interpolated_max(seg: np.ndarray) -> np.ndarray:
    """For ``seg`` ``(channels, P)``, P >= ``_TAPS``: the largest absolute interpolated value over channels
    and fractional positions at each of its ``P - _TAPS + 1`` full filter windows (fast convolution by
    overlap-save, transforms of at most ``_FFT`` points: one per channel in, one per channel and phase out)."""
    fft = np.fft  # as fast as scipy.fft here (both pocketfft, float32 kept), without its import

    size = seg.shape[1]
    out = np.empty(size - _TAPS + 1, np.float32)
    nfft = min(_FFT, 1 << (size - 1).bit_length())
    spectra = _kernel_spectra(nfft)
    step = nfft - _TAPS + 1
    for o in range(0, out.size, step):
        piece = seg[:, o : o + nfft]
        y = fft.irfft(fft.rfft(piece, nfft, axis=-1)[:, None, :] * spectra, nfft, axis=-1)
        valid = y[:, :, _TAPS - 1 : piece.shape[1]]  # circular wrap touches only the first _TAPS - 1
        np.abs(valid, out=valid).max(axis=(0, 1), out=out[o : o + valid.shape[-1]])
    return out


def _sample_peaks(ext: np.ndarray, threshold: float) -> np.ndarray:
    """Per input sample ``i`` of ``ext`` ``(channels, E)`` whose filter window lies inside it (``i`` from
    ``_HALF - 1`` to ``E - _HALF - 1``: ``E - _TAPS + 1`` of them), the largest absolute value over the
    channels of the sample itself and of the interpolated points between it and the next sample.

    Interpolation is computed only in runs of samples whose neighbourhood, times the filter's gain bound, can
    reach ``threshold``: elsewhere every interpolated point is provably below it and the sample value stands
    (exact for anything at or above ``threshold``; ``threshold <= 0`` computes everything)."""
    channels, size = ext.shape
    m = size - _TAPS + 1
    mag = np.abs(ext).max(axis=0)
    peaks = mag[_HALF - 1 : _HALF - 1 + m].copy()
    if m <= 0:
        return peaks[:0]
    bound = _interpolator()[1]
    runs = -(-m // _SCREEN)
    padded = np.zeros((runs + 1) * _SCREEN, np.float32)
    padded[:size] = mag
    run_max = padded.reshape(runs + 1, _SCREEN).max(axis=1)
    reach = np.maximum(run_max[:-1], run_max[1:]) * bound  # run q reads ext[q*S, q*S + S + TAPS - 1)
    hot = np.flatnonzero(reach >= threshold) if threshold > 0 else np.arange(runs)
    if hot.size == 0:
        return peaks
    # consecutive hot runs make one segment, filtered in one call (long FFT blocks are the cheap ones)
    breaks = np.flatnonzero(np.diff(hot) > 1)
    for q0, q1 in zip(hot[np.r_[0, breaks + 1]], hot[np.r_[breaks, hot.size - 1]] + 1):
        a, b = q0 * _SCREEN, min(q1 * _SCREEN, m)  # output positions; they read ext[a, b + _TAPS - 1)
        np.maximum(peaks[a:b], _interpolated_max(ext[:, a : b + _TAPS - 1]), out=peaks[a:b])
    return peaks


class TruePeakMeter:
    """The true peak of a piece fed in order, block by block (the last ``_TAPS - 1`` samples are kept as the
    filter's context; silence is assumed before the first sample and after the last)."""

    def __init__(self, channels: int):
        self._tail = np.zeros((channels, _TAPS - 1), np.float32)
        self.peak = 0.0  # linear, so far

    def feed(self, block: np.ndarray) -> None:
        block = np.atleast_2d(np.asarray(block, dtype=np.float32))
        if block.shape[1] == 0:
            return
        ext = np.concatenate([self._tail, block], axis=1)
        sample_max = float(np.abs(block).max())
        # only points above what is already known can change the answer
        peaks = _sample_peaks(ext, max(self.peak, sample_max))
        self.peak = max(self.peak, sample_max, float(peaks.max()) if peaks.size else 0.0)
        self._tail = ext[:, -(_TAPS - 1) :]

    def result(self) -> float:
        """The true peak (linear) of everything fed, the filter's ringing after the end included."""
        self.feed(np.zeros((self._tail.shape[0], _TAPS - 1), np.float32))
        self._tail[:] = 0.0
        return self.peak


def true_peak(audio: AudioInput) -> float:
    """True peak, linear (BS.1770-4 Annex 2, oversampled 8x)."""
    with open_audio(audio) as src:
        meter = TruePeakMeter(src.channels)
        for block in src.blocks(_READ):
            meter.feed(block)
        return meter.result()


def true_peak_dbtp(audio: AudioInput) -> float:
    """True peak in dBTP (BS.1770-4 Annex 2, oversampled 8x); ``-inf`` for silence."""
    peak = true_peak(audio)
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def oversampled_peaks(audio: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Per input sample, the largest absolute value over all channels of the sample and of the 8x-oversampled
    points between it and the next (shape ``(samples,)``). Interpolation is computed only where the
    neighbourhood could reach ``threshold`` (default: the sample peak); elsewhere the sample value stands."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    n = audio.shape[1]
    out = np.abs(audio).max(axis=0) if n else np.zeros(0, np.float32)
    thr = float(out.max()) if threshold is None and n else (threshold or 0.0)
    with open_audio(audio) as src:
        for a in range(0, n, _READ):
            b = min(n, a + _READ)
            out[a:b] = _sample_peaks(src.read(a - _HALF + 1, b + _HALF), thr)
    return out


@dataclass(frozen=True)
class Measurement:
    """Integrated loudness, loudness range, true peak and sample peak (both linear) of one piece."""

    integrated_lufs: float
    loudness_range_lu: float
    true_peak: float
    sample_peak: float

    @property
    def true_peak_dbtp(self) -> float:
        return 20 * math.log10(self.true_peak) if self.true_peak > 0 else -math.inf


def measure(audio: AudioInput | AudioBlocks, sample_rate: int, peaks: bool = True) -> Measurement:
    """Everything a master report states, in one pass over ``audio`` (an array, a memmap or a file):
    integrated loudness, LRA, true peak (``peaks=False``: 0, not measured) and sample peak."""
    src = open_audio(audio, sample_rate)
    try:
        loud = LoudnessMeter(src.channels, sample_rate, src.frames)
        tp = TruePeakMeter(src.channels) if peaks else None
        sample_peak = 0.0
        for block in src.blocks(_READ):
            loud.feed(block)
            if tp is not None:
                tp.feed(block)
            if block.size:
                sample_peak = max(sample_peak, float(np.abs(block).max()))
        lufs, lra = loud.result()
        return Measurement(lufs, lra, tp.result() if tp is not None else 0.0, sample_peak)
    finally:
        if src is not audio:
            src.close()
