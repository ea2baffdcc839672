"""What speech backends do to the sound of a line beyond synthesis: trim the silence around the voice, speak
faster when a row asks for less time than the line takes, and keep the peak below full scale.

The exact length of a clip is not settled here: the core fits every clip to its slot
(:func:`storyaudio.audio.fit_length`: silence padded at the end, or the end cut with a short fade) and
resamples it to the render's rate. A line that stays too long even at the fastest allowed speed is returned
whole; the clip's info says so (``cut``), and the core cuts it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["finish_speech", "speak", "speak_to_fit", "speech_bounds", "trim_silence"]


def _frame_rms(audio: np.ndarray, sample_rate: int, frame_s: float = 0.01) -> tuple[np.ndarray, int]:
    hop = max(1, int(sample_rate * frame_s))
    n = audio.size // hop
    if n == 0:
        return np.sqrt(np.mean(audio.astype(np.float64) ** 2, keepdims=True)), hop
    frames = audio[: n * hop].astype(np.float64).reshape(n, hop)
    return np.sqrt(np.mean(frames**2, axis=1)), hop


def speech_bounds(audio: np.ndarray, sample_rate: int, floor_db: float = -40.0) -> tuple[int, int] | None:
    """First and last sample of the part louder than ``floor_db`` below the loudest 10 ms (None if silent)."""
    rms, hop = _frame_rms(audio, sample_rate)
    peak = float(rms.max()) if rms.size else 0.0
    if peak < 1e-5:
        return None
    loud = np.nonzero(rms > peak * 10 ** (floor_db / 20))[0]
    return int(loud[0] * hop), int(min(audio.size, (loud[-1] + 1) * hop))


def trim_silence(audio: np.ndarray, sample_rate: int, keep: float = 0.05, floor_db: float = -40.0) -> np.ndarray:
    """Mono speech with its leading and trailing silence cut (or padded) to ``keep`` seconds each side, with
    5 ms fades at the cuts. Silent input gives an empty array."""
    bounds = speech_bounds(audio, sample_rate, floor_db)
    if bounds is None:
        return audio[:0].astype(np.float32)
    start, end = bounds
    pad = round(keep * sample_rate)
    out = audio[max(0, start - pad): min(audio.size, end + pad)].astype(np.float32)
    if out.size < end - start + 2 * pad:  # not enough silence in the source: add it
        lead = max(0, pad - start)
        tail = max(0, end + pad - audio.size)
        out = np.concatenate([np.zeros(lead, np.float32), out, np.zeros(tail, np.float32)])
    n = min(out.size // 2, int(0.005 * sample_rate))
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        out[:n] *= ramp
        out[-n:] *= ramp[::-1]
    return out


def speak_to_fit(render: Callable[[float], np.ndarray], target: int | None, max_speedup: float,
                 fixed: int = 0, tries: int = 3) -> tuple[np.ndarray, float]:
    """Render at natural speed; when ``target`` samples are given and the speech is longer, render again up to
    ``max_speedup`` times faster (a few tries, since speech does not shrink exactly in proportion).
    ``fixed`` is the part of the length that does not scale with speed (edge silence). Returns the audio (not
    cut or padded) and the speed used."""
    speed = 1.0
    audio = render(speed)
    for _ in range(tries):
        if target is None or audio.size <= target or speed >= max_speedup - 1e-6:
            break
        ratio = max(1, audio.size - fixed) / max(1, target - fixed)
        speed = min(max_speedup, speed * ratio * 1.02)
        audio = render(speed)
    return audio, speed


def speak(render: Callable[[float], np.ndarray], duration: float | None, sample_rate: int,
          max_speedup: float, edge_silence: float) -> tuple[np.ndarray, float, bool]:
    """Speak a line (``render(speed)`` gives mono audio at ``sample_rate``): faster, up to ``max_speedup``, when
    it is longer than an asked ``duration``. Returns the finished mono audio (its natural length: the core fits
    it to the slot), the speed used, and whether it is still longer than ``duration`` (the core cuts the end).
    A line with nothing to say gives the edge silence alone."""
    target = None if duration is None else round(duration * sample_rate)
    audio, speed = speak_to_fit(render, target, max_speedup, int(2 * edge_silence * sample_rate))
    over = target is not None and audio.size > target
    if audio.size == 0:
        audio = np.zeros(round(2 * edge_silence * sample_rate) or 1, np.float32)
    return finish_speech(audio), speed, over


def finish_speech(audio: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale to a safe peak (the core sets loudness; this only keeps samples well below full scale)."""
    m = float(np.max(np.abs(audio))) if audio.size else 0.0
    if m > 1e-9:
        audio = audio * (peak / m)
    return np.ascontiguousarray(audio, dtype=np.float32)
