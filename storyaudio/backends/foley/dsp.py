"""Shared building blocks for the foley recipes: noise colours, filters, control signals, grains,
resonators, a small convolution reverb and the distance filter.

Everything works on float64 numpy arrays, mono ``(n,)`` or stereo ``(2, n)``, at an explicit sample rate,
and draws randomness only from the ``numpy.random.Generator`` it is given (same seed -> same audio).
Per-sample work is done by vectorised numpy or by scipy's C filters, never by Python loops over samples;
Python loops only place grains (hundreds to a few thousand per minute).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from ..base import rng_for  # noqa: F401  (re-exported: the backend and tests seed through dsp)

TAU = 2.0 * np.pi


def secs(sr: int, seconds: float) -> int:
    return max(1, round(float(seconds * sr)))


def nyq_clip(sr: int, f: float) -> float:
    """Keep a filter frequency safely inside (0, Nyquist)."""
    return float(min(max(f, 5.0), 0.45 * sr))


# -- noise ---------------------------------------------------------------------------------------------

F = np.float32  # the working precision: halves memory traffic, plenty for audio


def white(rng: np.random.Generator, n: int, channels: int | None = None) -> np.ndarray:
    """Unit-variance white noise (uniform, float32: several times faster to draw than Gaussian; any filter
    after it makes it Gaussian anyway)."""
    shape = (n,) if channels is None else (channels, n)
    x = rng.random(shape, dtype=F)
    x -= F(0.5)
    x *= F(2.0 * np.sqrt(3.0))
    return x


_PINK_B = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
_PINK_A = [1.0, -2.494956002, 2.017265875, -0.522189400]


def pink(rng: np.random.Generator, n: int, channels: int | None = None, sr: int = 48000) -> np.ndarray:
    """1/f noise (a standard 3-pole/3-zero approximation of the -3 dB/octave slope), unit-ish RMS."""
    # the 1/f slope would rise without bound towards 0 Hz: fold a two-pole DC blocker (~20 Hz) into the filter
    return pink_of(white(rng, n, channels), sr)


def pink_of(w: np.ndarray, sr: int) -> np.ndarray:
    """Pink noise made from a given white noise."""
    x = signal.sosfilt(_pink_sos(sr), w, axis=-1)
    x *= F(9.0)
    return x


_PINK_SOS: dict[int, np.ndarray] = {}


def _pink_sos(sr: int) -> np.ndarray:
    """The pink filter and the blocker as second-order sections (stable in float32, unlike one 5th-order
    direct form)."""
    if sr not in _PINK_SOS:
        r = 1.0 - TAU * 20.0 / sr
        b = np.convolve(_PINK_B, [1.0, -2.0, 1.0])
        a = np.convolve(_PINK_A, [1.0, -2.0 * r, r * r])
        _PINK_SOS[sr] = signal.tf2sos(b, a).astype(F)
    return _PINK_SOS[sr]


def brown(rng: np.random.Generator, n: int, channels: int | None = None) -> np.ndarray:
    """Leaky-integrated white noise (-6 dB/octave above ~8 Hz at 48 kHz), unit-ish RMS."""
    a = 0.998
    x = signal.lfilter(F([1.0]), F([1.0, -a]), white(rng, n, channels), axis=-1)
    x -= np.mean(x, axis=-1, keepdims=True, dtype=np.float64).astype(F)
    x *= F(np.sqrt(1 - a * a))
    return x


# -- filters -------------------------------------------------------------------------------------------

def _sos(kind: str, sr: int, f, order: int) -> np.ndarray:
    """The Butterworth design as second-order sections (read-only; cached: grain recipes filter hundreds of
    grains with the same few settings)."""
    if isinstance(f, (tuple, list)):
        return _butter_sos("bandpass", sr, (float(f[0]), float(f[1])), int(order))
    return _butter_sos(kind, sr, float(f), int(order))


@lru_cache(maxsize=512)
def _butter_sos(kind: str, sr: float, f: float | tuple[float, float], order: int) -> np.ndarray:
    if isinstance(f, tuple):
        lo, hi = nyq_clip(sr, f[0]), nyq_clip(sr, f[1])
        if hi <= lo * 1.05:
            hi = min(lo * 1.1, 0.46 * sr)
            lo = min(lo, hi / 1.1)
        sos = signal.butter(order, [lo, hi], btype="bandpass", fs=sr, output="sos")
    else:
        sos = signal.butter(order, nyq_clip(sr, f), btype=kind, fs=sr, output="sos")
    sos.setflags(write=False)
    return sos


def _filt_sos(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.float64:
        x = x.astype(F, copy=False)
    # a writable copy in the working precision: sosfilt will not take a cached, read-only design
    sos = sos.astype(x.dtype)
    return signal.sosfilt(sos, x, axis=-1)


def lowpass(x: np.ndarray, sr: int, f: float, order: int = 2) -> np.ndarray:
    return _filt_sos(_sos("lowpass", sr, f, order), x)


def highpass(x: np.ndarray, sr: int, f: float, order: int = 2) -> np.ndarray:
    return _filt_sos(_sos("highpass", sr, f, order), x)


def bandpass(x: np.ndarray, sr: int, lo: float, hi: float, order: int = 1) -> np.ndarray:
    """Band-pass; ``order`` 1 gives a 2nd-order section (12 dB/octave... 6 each side), 2 a 4th-order one."""
    return _filt_sos(_sos("bandpass", sr, (lo, hi), order), x)


def band_tilt(x: np.ndarray, sr: int, lo: float, hi: float) -> np.ndarray:
    """A gentle first-order high-pass at ``lo`` and low-pass at ``hi`` in one biquad: flat between them,
    6 dB/octave outside (a cheap coloured noise band)."""
    bh, ah = signal.butter(1, nyq_clip(sr, lo), btype="highpass", fs=sr)
    bl, al = signal.butter(1, nyq_clip(sr, hi), btype="lowpass", fs=sr)
    sos = np.concatenate([np.convolve(bh, bl), np.convolve(ah, al)])[np.newaxis, :]
    return _filt_sos(sos, x)


def resonator(x: np.ndarray, sr: int, f: float, q: float) -> np.ndarray:
    """A two-pole resonant bandpass (peak gain ~1) at ``f`` Hz with quality ``q``."""
    f = nyq_clip(sr, f)
    b, a = signal.iirpeak(f, max(q, 0.5), fs=sr)
    if np.asarray(x).dtype != np.float64:
        b, a = b.astype(F), a.astype(F)
    return signal.lfilter(b, a, x, axis=-1)


def formants(x: np.ndarray, sr: int, freqs, gains, q: float = 6.0) -> np.ndarray:
    """A parallel bank of resonators (vowel formants, body modes)."""
    return sum(g * resonator(x, sr, f, q) for f, g in zip(freqs, gains))


def one_pole_env(impulses: np.ndarray, sr: int, decay_s: float) -> np.ndarray:
    """Sum of exponential decays started by each (weighted) impulse: a cheap envelope for many grains."""
    a = np.exp(-1.0 / max(decay_s * sr, 1.0))
    dt = F if np.asarray(impulses).dtype != np.float64 else np.float64
    return signal.lfilter(np.array([1.0], dt), np.array([1.0, -a], dt), impulses, axis=-1)


# -- control signals and envelopes -----------------------------------------------------------------------

def smooth(rng: np.random.Generator, n: int, sr: int, rate_hz: float, channels: int | None = None) -> np.ndarray:
    """A slowly wandering random control signal, zero mean and unit-ish std, changing ``rate_hz`` times a
    second (cubic-ish interpolation of random points). Never periodic, so beds never loop."""
    points = max(4, int(np.ceil(n / sr * rate_hz)) + 4)
    shape = (points,) if channels is None else (channels, points)
    knots = rng.standard_normal(shape)
    # smooth the knots a little so the interpolated curve has no corners
    knots = signal.lfilter([0.5, 0.5], [1.0], knots, axis=-1)
    # evaluate the smoothstep interpolation at a control rate (~32 points per knot, at least 100 Hz),
    # then linearly at audio rate: the curve is slow, so this is exact to the ear and far cheaper
    factor = max(1, int(sr / max(100.0, 32.0 * rate_hz)))
    cr = sr / factor
    m = n // factor + 2
    pos = np.arange(m) / cr * rate_hz + 1.0
    i = np.minimum(pos.astype(np.int64), points - 2)
    frac = pos - i
    frac = frac * frac * (3 - 2 * frac)  # smoothstep
    ctl = (knots[..., i] * (1 - frac) + knots[..., i + 1] * frac) / 0.75
    return upsample(ctl, factor, n)


def adsr(n: int, sr: int, attack: float, decay_t60: float, hold: float = 0.0) -> np.ndarray:
    """Attack ramp (raised cosine), optional hold, then exponential decay reaching -60 dB after
    ``decay_t60`` seconds."""
    t = np.arange(n, dtype=F) / F(sr)
    env = np.exp(F(-6.9 / max(decay_t60, 1e-4)) * np.maximum(t - F(attack + hold), F(0.0)))
    na = min(n, secs(sr, attack))
    env[:na] *= (0.5 - 0.5 * np.cos(np.pi * np.arange(na) / na)).astype(F)
    return env


def fade(x: np.ndarray, sr: int, fade_in: float, fade_out: float) -> np.ndarray:
    n = x.shape[-1]
    y = x.copy()
    a = min(n // 2, round(float(fade_in * sr)))
    b = min(n // 2, round(float(fade_out * sr)))
    if a > 0:
        y[..., :a] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    if b > 0:
        y[..., n - b:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(b) / b)
    return y


def sweep(n: int, sr: int, f0: float, f1: float, curve: str = "exp") -> np.ndarray:
    """Instantaneous phase of a sweep from f0 to f1 Hz over n samples (exponential or linear)."""
    u = np.linspace(0.0, 1.0, n)
    if curve == "exp":
        f = f0 * (f1 / f0) ** u
    else:
        f = f0 + (f1 - f0) * u
    return np.cumsum(np.minimum(f, 0.45 * sr)) * TAU / sr


def phase(freq: np.ndarray, sr: int) -> np.ndarray:
    """Phase of an oscillator following a frequency track (Hz per sample), wrapped to [0, 2pi) and float32
    (accumulated in float64, so minutes of it keep their pitch). Integer multiples of it stay valid phases."""
    cyc = np.cumsum(np.minimum(np.asarray(freq, dtype=np.float64), 0.45 * sr)) / sr
    cyc -= np.floor(cyc)
    return (cyc * TAU).astype(F)


def saw(ph: np.ndarray, harmonics: int = 12) -> np.ndarray:
    """A band-limited-ish sawtooth from a phase track (sum of a few harmonics)."""
    return sum(np.sin(k * ph) / k for k in range(1, harmonics + 1)) * 0.6


# -- grains and placement --------------------------------------------------------------------------------

def poisson_times(rng: np.random.Generator, rate: float, seconds: float, start: float = 0.0) -> np.ndarray:
    """Event times of a Poisson process of ``rate`` events a second over ``[start, seconds)``."""
    if rate <= 0 or seconds <= start:
        return np.zeros(0)
    count = rng.poisson(rate * (seconds - start))
    return np.sort(rng.uniform(start, seconds, count))


def place(buf: np.ndarray, grain: np.ndarray, at: int, gain=1.0) -> None:
    """Add ``grain`` (mono or stereo) into ``buf`` (stereo (2, n) or mono) at sample ``at``, cropping at the
    ends. ``gain`` may be a scalar or a (2,) pan vector for a mono grain into a stereo buffer."""
    n = buf.shape[-1]
    if at >= n or at + grain.shape[-1] <= 0:
        return
    g0 = max(0, -at)
    a = max(0, at)
    m = min(grain.shape[-1] - g0, n - a)
    if m <= 0:
        return
    piece = grain[..., g0:g0 + m]
    if buf.ndim == 2 and piece.ndim == 1:
        gain = np.asarray(gain, dtype=float).reshape(-1, 1) if np.ndim(gain) else gain
        buf[:, a:a + m] += piece[np.newaxis, :] * gain
    else:
        buf[..., a:a + m] += piece * gain


def pan(p: float) -> np.ndarray:
    """Equal-power pan gains (L, R) for p in [-1, 1]."""
    angle = (np.clip(p, -1, 1) + 1) * np.pi / 4
    return np.array([np.cos(angle), np.sin(angle)]) * np.sqrt(2)


def impulses(rng: np.random.Generator, n: int, sr: int, rate: float, amp_sigma: float = 0.5,
             channels: int | None = None) -> np.ndarray:
    """A sparse train of random-amplitude impulses at ``rate`` per second (Poisson), lognormal amplitudes."""
    rows = 1 if channels is None else channels
    out = np.zeros((rows, n), dtype=F)
    for r in range(rows):
        k = rng.poisson(min(rate, sr / 2) * n / sr)
        out[r, rng.integers(0, n, k)] = rng.lognormal(0.0, amp_sigma, k)
    return out[0] if channels is None else out


def modal(sr: int, seconds: float, freqs, decays, amps, rng: np.random.Generator | None = None,
          attack: float = 0.0005) -> np.ndarray:
    """Modal synthesis: a sum of exponentially decaying sinusoids (struck glass, bells, wood, metal).
    ``decays`` are T60 times in seconds. Partials above Nyquist are dropped."""
    n = secs(sr, seconds)
    t = np.arange(n) / sr
    out = np.zeros(n)
    for f, d, a in zip(freqs, decays, amps):
        if f >= 0.45 * sr:
            continue
        ph = rng.uniform(0, TAU) if rng is not None else 0.0
        out += a * np.exp(-6.9 * t / max(d, 1e-4)) * np.sin(TAU * f * t + ph)
    na = min(n, secs(sr, attack))
    out[:na] *= np.linspace(0, 1, na)
    return out


def burst(rng: np.random.Generator, sr: int, seconds: float, lo: float, hi: float, attack: float = 0.0005,
          t60: float | None = None) -> np.ndarray:
    """A short band-limited noise burst with a fast attack and an exponential decay."""
    n = secs(sr, seconds)
    x = bandpass(white(rng, n), sr, lo, hi)
    return x * adsr(n, sr, attack, t60 if t60 is not None else seconds)


# -- space -----------------------------------------------------------------------------------------------

def decimate(x: np.ndarray, factor: int) -> np.ndarray:
    """Cheap decimation by block averaging (a boxcar anti-alias), for signals about to be darkened."""
    n = x.shape[-1] // factor * factor
    return x[..., :n].reshape(x.shape[:-1] + (-1, factor)).mean(axis=-1)


def upsample(y: np.ndarray, factor: int, n: int) -> np.ndarray:
    """Linear-interpolation upsampling by an integer factor to exactly ``n`` samples. Used only for content
    far below the low rate's Nyquist (rumbles, reverb tails), where its images are inaudible."""
    y = np.asarray(y, dtype=F)
    if factor == 1:
        out = y
    else:
        step = np.diff(y, axis=-1, append=y[..., -1:])
        w = np.arange(factor, dtype=F) / F(factor)
        out = step[..., :, None] * w
        out += y[..., :, None]
        out = out.reshape(y.shape[:-1] + (-1,))
    if out.shape[-1] < n:
        out = np.concatenate([out, np.repeat(out[..., -1:], n - out.shape[-1], axis=-1)], axis=-1)
    return out[..., :n]


def rumble(rng: np.random.Generator, n: int, sr: int, fc: float, channels: int | None = None,
           order: int = 2) -> np.ndarray:
    """Low-passed brown noise below ``fc`` Hz, synthesised at a reduced rate and interpolated up (the
    low rate keeps at least 12x ``fc`` of bandwidth). Unit-ish RMS before the low-pass."""
    factor = int(max(1, min(16, (sr / 2) // (12 * fc))))
    m = n // factor + 2
    low = highpass(lowpass(brown(rng, m, channels), sr / factor, fc, order), sr / factor, 30.0, 2)
    return upsample(low, factor, n) if factor > 1 else low[..., :n]


def soft_noise(rng: np.random.Generator, n: int, sr: int, fc: float, channels: int | None = None) -> np.ndarray:
    """A quiet room's pink noise floor below ``fc`` Hz, made at a reduced rate (at least 4x ``fc``) and
    interpolated up: beds of sparse events sit on it, so they never drop to digital silence."""
    factor = int(max(1, min(12, (sr / 4) // fc)))
    m = n // factor + 2
    low = lowpass(pink(rng, m, channels, round(sr / factor)), sr / factor, fc, 1)
    return upsample(low, factor, n) if factor > 1 else low[..., :n]


def reverb(x: np.ndarray, sr: int, rng: np.random.Generator, t60: float, wet: float,
           damp_hz: float = 3500.0, predelay: float = 0.012) -> np.ndarray:
    """A plain, fast room: the mono send is decimated, convolved with a decorrelated stereo tail of
    exponentially decaying, darkened noise, and interpolated back up. Returns stereo of the same length as
    ``x`` (the tail past the end is cut; one-shot callers leave room for it)."""
    st = x if x.ndim == 2 else np.vstack([x, x])
    if wet <= 0:
        return st
    factor = int(max(1, min(6, sr // 8000)))
    lsr = sr / factor
    mono = decimate(st.mean(axis=0), factor).astype(F)
    t60 = float(min(max(t60, 0.05), 4.0))
    n_ir = max(8, int(t60 * lsr))
    t = np.arange(n_ir, dtype=F) / F(lsr)
    ir = white(rng, n_ir, 2) * np.exp(F(-6.9 / t60) * t)
    ir = lowpass(ir, lsr, min(damp_hz, 0.4 * lsr), 1)
    ir = highpass(ir, lsr, 40.0, 2)  # a random tail has a large, random gain at 0 Hz: take it out
    ir -= ir.mean(axis=1, keepdims=True)
    pd = max(1, int(predelay * lsr))
    ir = np.concatenate([np.zeros((2, pd), dtype=F), ir], axis=1)
    ir /= np.sqrt(np.sum(ir.astype(np.float64) ** 2, axis=1, keepdims=True)).astype(F) + F(1e-12)
    tail = signal.oaconvolve(np.vstack([mono, mono]), ir, mode="full", axes=-1)[:, : mono.shape[-1] + 1]
    tail = upsample(tail, factor, st.shape[1]) if factor > 1 else tail[:, : st.shape[1]]
    tail = np.ascontiguousarray(tail, dtype=F)
    dry = 1.0 - 0.5 * wet  # dry * st + wet * tail, without another full-length temporary
    tail *= F(wet / dry)
    tail += st
    tail *= F(dry)
    return tail


def distance_filter(x: np.ndarray, sr: int, d: float) -> np.ndarray:
    """Air absorption and the inverse-distance law for d in [0, 1] (0 = at the microphone, 1 = far away):
    a low-pass falling from ~16 kHz to ~700 Hz ("distant" = 0.7 puts it near 1.7 kHz) and a level drop of
    up to 20 dB."""
    d = float(np.clip(d, 0.0, 1.0))
    if d <= 0.02:
        return x
    fc = 16000.0 * (700.0 / 16000.0) ** d
    y = lowpass(x, sr, fc, 2) if fc < 0.45 * sr else x.copy()
    y *= y.dtype.type(distance_gain(d))
    return y


def distance_gain(d: float) -> float:
    """The inverse-distance level of ``distance_filter``: 1 up to d = 0.02, then 1 / (1 + 9d) (-20 dB at 1)."""
    d = float(np.clip(d, 0.0, 1.0))
    return 1.0 / (1.0 + 9.0 * d) if d > 0.02 else 1.0


def stereo(mono: np.ndarray, width: float = 0.0, sr: int = 48000) -> np.ndarray:
    """Mono to stereo; ``width`` > 0 adds a few milliseconds of inter-channel delay for some spread."""
    if width <= 0:
        return np.vstack([mono, mono])
    d = secs(sr, 0.0004 + 0.006 * width)
    right = np.concatenate([np.zeros(d), mono[:-d]]) if d < mono.shape[0] else np.zeros_like(mono)
    return np.vstack([mono, (1 - width * 0.3) * mono + width * 0.3 * right])


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def normalise_peak(x: np.ndarray, target: float) -> np.ndarray:
    p = float(np.max(np.abs(x))) if x.size else 0.0
    return x * (target / p) if p > 1e-12 else x


def tv_bandpass(x: np.ndarray, sr: int, fc: np.ndarray, q: float, block: int | None = None) -> np.ndarray:
    """A band-pass (0 dB peak) whose centre follows the per-sample track ``fc`` (updated every ``block``
    samples, filter state carried across blocks): wind howl, whooshes, sweeping surf."""
    n = x.shape[-1]
    block = block or max(64, int(sr) // 40)  # 25 ms steps
    nb = (n + block - 1) // block
    centres = np.clip(np.asarray(fc, dtype=float)[:: block][:nb], 20.0, 0.45 * sr)
    w0 = TAU * centres / sr
    alpha = np.sin(w0) / (2.0 * max(q, 0.3))
    a0 = 1.0 + alpha
    bs = np.stack([alpha / a0, np.zeros(nb), -alpha / a0], axis=1)
    as_ = np.stack([np.ones(nb), -2.0 * np.cos(w0) / a0, (1.0 - alpha) / a0], axis=1)
    out = np.empty_like(x)
    zi = np.zeros(x.shape[:-1] + (2,))
    for k in range(nb):
        s = slice(k * block, min(n, (k + 1) * block))
        out[..., s], zi = signal.lfilter(bs[k], as_[k], x[..., s], axis=-1, zi=zi)
    return out


def saw_fast(ph: np.ndarray) -> np.ndarray:
    """A naive sawtooth from a wrapped phase track (``phase()``'s [0, 2pi) output). Cheap; filter it when
    aliasing would matter."""
    return ph * F(1.0 / np.pi) - F(1.0)
