"""Signal processing for the built-in columns: time-stretch (WSOLA), pitch shift, looping with crossfades.

* :func:`time_stretch` changes tempo, not pitch, by WSOLA (waveform-similarity overlap-add, Verhelst and
  Roelands 1993): 40 ms Hann frames overlap by half in the output; each is read from near where the tempo
  puts it, at the offset (within 12 ms) whose waveform best continues the frame before, found by
  cross-correlation. For speech, one voice at a time, this keeps the voice's periods intact and sounds
  cleaner than a phase vocoder (no "phasiness"), for a few milliseconds of work per second of audio.
* :func:`pitch_shift` changes pitch, not length: stretch by the pitch ratio, then resample back to the
  original length (polyphase, scipy). Formants move with the pitch, as in any resampling shifter: a few
  semitones sound natural, an octave sounds like a different (smaller or larger) speaker.
* :func:`loop_to` repeats audio to a length with equal-power crossfades; :func:`cut_to` trims with a fade.

Audio is float32 ``(channels, samples)``; the sample rate is always an argument. numpy (and scipy for the
resampling) are imported here, never when a script is read.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

FRAME_SECONDS = 0.040
TOLERANCE_SECONDS = 0.012


def time_stretch(audio: np.ndarray, sample_rate: int, rate: float) -> np.ndarray:
    """``audio`` played ``rate`` times as fast (2.0: half as long) at the same pitch; its length becomes
    ``round(n / rate)``."""
    x = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    n = x.shape[1]
    out_len = int(round(n / rate))
    if abs(rate - 1.0) < 1e-6 or n == 0:
        return x.copy()
    frame = max(16, int(round(FRAME_SECONDS * sample_rate)) // 2 * 2)
    hop = frame // 2
    tol = max(1, int(round(TOLERANCE_SECONDS * sample_rate)))
    pad = frame + tol
    xp = np.pad(x, ((0, 0), (pad, pad + frame + int(np.ceil(hop * rate)))))
    guide = xp.mean(axis=0)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)).astype(np.float32)  # periodic Hann
    frames = int(np.ceil(out_len / hop)) + 1
    out = np.zeros((x.shape[0], frames * hop + frame), dtype=np.float32)
    weight = np.zeros(frames * hop + frame, dtype=np.float32)
    nfft = 1 << int(np.ceil(np.log2(2 * tol + 2 * frame)))
    pos = pad
    for k in range(frames):
        ideal = pad + int(round(k * hop * rate))
        if k:
            template = guide[pos + hop : pos + hop + frame]  # how the previous frame goes on
            region = guide[ideal - tol : ideal + tol + frame]
            corr = np.fft.irfft(np.fft.rfft(region, nfft) * np.conj(np.fft.rfft(template, nfft)), nfft)
            pos = ideal - tol + int(np.argmax(corr[: 2 * tol + 1]))
        out[:, k * hop : k * hop + frame] += xp[:, pos : pos + frame] * window
        weight[k * hop : k * hop + frame] += window
    # the Hann halves add up to one except in the first half frame, where the division restores the level
    out /= np.maximum(weight, 1e-3)
    return np.ascontiguousarray(out[:, :out_len])


def pitch_shift(audio: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """``audio`` ``semitones`` higher (negative: lower) at the same length."""
    x = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    if abs(semitones) < 1e-6 or x.shape[1] == 0:
        return x.copy()
    from scipy.signal import resample_poly

    ratio = Fraction(2 ** (semitones / 12)).limit_denominator(64)  # within 0.005 semitone of the asked shift
    stretched = time_stretch(x, sample_rate, 1 / float(ratio))  # ratio times as long, same pitch
    shifted = resample_poly(stretched, ratio.denominator, ratio.numerator, axis=1).astype(np.float32)
    n = x.shape[1]
    if shifted.shape[1] >= n:
        return np.ascontiguousarray(shifted[:, :n])
    return np.pad(shifted, ((0, 0), (0, n - shifted.shape[1])))


def cut_to(audio: np.ndarray, n: int, sample_rate: int, fade_seconds: float = 0.5) -> np.ndarray:
    """The first ``n`` samples, fading out over the last ``fade_seconds`` (at most a quarter of them)."""
    out = np.array(audio[:, :n], dtype=np.float32)
    f = min(int(fade_seconds * sample_rate), n // 4)
    if f > 1:
        out[:, n - f :] *= np.cos(np.linspace(0.0, np.pi / 2, f, dtype=np.float32)) ** 2
    return out


def loop_to(audio: np.ndarray, n: int, sample_rate: int, crossfade_seconds: float = 0.5) -> np.ndarray:
    """``audio`` repeated to ``n`` samples, each repeat crossfading into the next over ``crossfade_seconds``
    (at most a quarter of the audio) with equal power, the end faded out where it is cut."""
    x = np.asarray(audio, dtype=np.float32)
    m = x.shape[1]
    if n <= m:
        return cut_to(x, n, sample_rate)
    c = max(1, min(int(crossfade_seconds * sample_rate), m // 4))
    step = m - c
    t = np.linspace(0.0, np.pi / 2, c, dtype=np.float32)
    rise, fall = np.sin(t), np.cos(t)  # sin^2 + cos^2 = 1: equal power for unrelated material
    copies = int(np.ceil((n - m) / step)) + 1
    out = np.zeros((x.shape[0], (copies - 1) * step + m), dtype=np.float32)
    for k in range(copies):
        piece = x.copy()
        if k:
            piece[:, :c] *= rise
        if k < copies - 1:
            piece[:, m - c :] *= fall
        out[:, k * step : k * step + m] += piece
    return cut_to(out, n, sample_rate)
