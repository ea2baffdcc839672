"""The look-ahead true-peak limiter, streamed in steps (:class:`_Grid`, :func:`_limit_step`): what mastering's
passes (:mod:`storyaudio.mix.passes`) run, each step a fixed function of what it reads and the state where it
begins."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .blockio import AudioBlocks
from .loudness import _HALF, _sample_peaks

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


class _Grid:
    """The limiter's steps over a piece of ``frames`` samples: step ``i`` computes the gain of ``_STEP_HOPS``
    control hops and outputs samples ``output(i)``, reading ``reads(i)`` (its hops, the look-ahead around them
    and the true-peak filter's context). Each step depends only on what it reads and on the limiter's state
    where it begins (the released gain of the last few hops), so a pass can start at any step from a saved
    state: a re-render recomputes only the steps whose input changed, and the few after them until the state
    is the old render's again."""

    def __init__(self, frames: int, sample_rate: int, lookahead: float = 0.005, release: float = 0.08):
        self.frames = frames
        self.hop = max(1, sample_rate // 1000)
        self.hold = max(1, int(round(lookahead * 1000)))  # hops
        self.smooth = max(0, min(2, self.hold - 2))  # moving-average radius; hold >= smooth + 2 keeps every
        # gain near a peak low
        self.coef = math.exp(-1.0 / max(1.0, release * 1000))
        self.steps = min(_STEP_HOPS, -(-frames // self.hop) + self.hold + self.smooth + 2)
        self.history = 2 * self.smooth + 2  # released gains carried from step to step
        count = 0
        while self.output(count)[1] < frames:
            count += 1
        self.count = count + 1 if frames > 0 else 0

    def _frontier(self, i: int) -> int:
        return -self.hold + i * self.steps  # first hop whose gain step i computes

    def output(self, i: int) -> tuple[int, int]:
        """Samples ``[a, b)`` step ``i`` outputs (empty for a first step that ends before the piece starts)."""
        f = self._frontier(i)
        j0, j1 = f - 1 - self.smooth, f + self.steps - 1 - self.smooth
        a, b = max(j0 * self.hop, 0), min(j1 * self.hop, self.frames)
        return a, max(a, b)

    def reads(self, i: int) -> tuple[int, int]:
        f = self._frontier(i)
        return (f - self.hold) * self.hop - _HALF + 1, (f + self.steps + self.hold) * self.hop + _HALF

    def initial(self) -> tuple[np.ndarray, np.ndarray]:
        """The state before the first step: silence before the piece, gain 1."""
        return np.ones(self.history), np.zeros(self.history)


def _limit_step(grid: _Grid, src: AudioBlocks, i: int, state: tuple[np.ndarray, np.ndarray], gain: float,
                limit: float | None, post: float) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], float, float, bool]:
    """Step ``i`` of one pass: ``src * gain``, limited so its true peak stays at ``limit`` (linear; None: no
    limiter), times ``post``. Returns the output samples ``(channels, b - a)`` of :meth:`_Grid.output`, the
    state after it, the step's energy and growth (see :class:`_Pass`) and whether it limited.

    The limiter works at a 1 ms control rate. Per hop it takes the true peak (the same 8x meter that measures
    the result, computed only where it can reach the limit), asks for ``limit / peak`` there, holds the lowest
    request over +-``lookahead`` (so gain is down before a peak arrives and stays down across it), recovers
    exponentially (``release``), smooths over 5 hops and interpolates per sample. Every gain around a peak is
    at or below what that peak asked for. Alongside, the gain curve's derivative with respect to ln(gain)
    follows the same selections (the minimum held, the peak released), so the pass also knows how much louder
    more gain would make it."""
    a, b = grid.output(i)
    if limit is None:
        x = src.read(a, b)
        power = float(np.einsum("ij,ij->", x, x, dtype=np.float64))
        return x * np.float32(gain * post), state, power, power, False
    window = np.lib.stride_tricks.sliding_window_view
    hop, hold, smooth, steps = grid.hop, grid.hold, grid.smooth, grid.steps
    history, d_history = state
    frontier = grid._frontier(i)
    first, last = grid.reads(i)
    ext = src.read(first, last)
    peaks = _sample_peaks(ext, limit / gain).reshape(steps + 2 * hold, hop).max(axis=1) * gain
    need = np.minimum(1.0, limit / np.maximum(peaks, 1e-12))
    d_need = np.where(need < 1.0, -need, 0.0)
    lowest = window(need, 2 * hold + 1).argmin(axis=1) + np.arange(steps)
    held, d_held = need[lowest], d_need[lowest]  # hops [F, F + steps)
    released, source = _release(held, grid.coef, history[-1], sources=True)
    reduction_in = 1.0 - np.concatenate([[history[-1]], held])
    d_in = np.concatenate([[d_history[-1]], d_held])
    with np.errstate(divide="ignore", invalid="ignore"):
        d_released = np.where(reduction_in[source] > 0, d_in[source] * (1.0 - released) / reduction_in[source], 0.0)
    released = np.concatenate([history, released])  # from hop F - 2 - 2 * smooth
    d_released = np.concatenate([d_history, d_released])
    g = window(released, 2 * smooth + 1).mean(axis=1)
    after = (released[-grid.history :], d_released[-grid.history :])
    j0 = frontier - 1 - smooth  # hops output now: [j0, j0 + steps); g covers [j0 - 1, j0 + steps]
    if b <= a:
        return np.zeros((ext.shape[0], 0), np.float32), after, 0.0, 0.0, False
    x = ext[:, j0 * hop - first : (j0 + steps) * hop - first]  # whole hops; trimmed to [a, b) below
    power = np.einsum("ij,ij->j", x, x).reshape(steps, hop).sum(axis=1, dtype=np.float64)
    mid = g[1:-1]  # the gain at the centre of each hop output now
    if mid.min() < 1.0 or g[0] < 1.0 or g[-1] < 1.0:
        d_mid = window(d_released, 2 * smooth + 1).mean(axis=1)[1:-1]
        energy, growth = float(power @ np.square(mid)), float(power @ (mid * (mid + d_mid)))
        y = x * _hop_curve(g, hop, gain * post)
        limited = True
    else:
        energy = growth = float(power.sum())
        y = x * np.float32(gain * post)
        limited = False
    return y[:, a - j0 * hop : b - j0 * hop], after, energy, growth, limited
