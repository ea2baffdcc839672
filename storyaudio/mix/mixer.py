"""The timeline mixer: float32 summing in blocks, straight from clip files on disk.

A :class:`Track` is a list of :class:`Source` clips placed in time, each with a gain, fades and a stereo
position; background tracks may be ducked under foreground speech by a gain envelope. Mixing walks the
timeline in blocks, reading from each clip only the samples that block needs, so memory stays bounded by
block size x tracks (plus the output), however long the tracks are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

BLOCK = 1 << 16


@dataclass
class Source:
    """A clip placed on the timeline. Give ``path`` (a WAV read by block) or ``audio`` (``(ch, n)`` array)."""

    start: int  # first sample on the timeline
    length: int  # samples played
    path: Path | None = None
    audio: np.ndarray | None = None
    offset: int = 0  # first sample of the clip that plays
    gain: float = 1.0  # linear
    pan: float | None = None  # -1 (left) .. 1 (right) for mono clips; None: centre / as recorded
    fade_in: int = 0  # samples
    fade_out: int = 0

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass
class Track:
    name: str
    sources: list[Source] = field(default_factory=list)
    ducked: bool = False


def pan_gains(pan: float | None, channels: int) -> tuple[float, float]:
    """Constant-power gains (left, right). A centred mono clip keeps its BS.1770 loudness in stereo."""
    if channels == 2 and pan is None:
        return 1.0, 1.0
    p = 0.0 if pan is None else max(-1.0, min(1.0, pan))
    angle = (p + 1) * math.pi / 4
    if channels == 2:  # balance a stereo clip without changing centre level
        return min(1.0, math.sqrt(2) * math.cos(angle)), min(1.0, math.sqrt(2) * math.sin(angle))
    return math.cos(angle), math.sin(angle)


class _Reader:
    """Reads ranges of one clip, from memory or from its file, keeping the file open between blocks."""

    def __init__(self, src: Source):
        self.src = src
        self._file = None

    def read(self, a: int, b: int) -> np.ndarray:
        """Clip samples [a, b) (clip coordinates, offset applied) as float32 (ch, b - a)."""
        s = self.src
        if s.audio is not None:
            return np.atleast_2d(s.audio)[:, s.offset + a : s.offset + b]
        if self._file is None:
            import soundfile as sf

            self._file = sf.SoundFile(str(s.path))
        self._file.seek(s.offset + a)
        data = self._file.read(b - a, dtype="float32", always_2d=True)
        return data.T

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _envelope(src: Source, a: int, b: int) -> np.ndarray | float:
    """Gain x fades for clip samples [a, b)."""
    if not (src.fade_in and a < src.fade_in) and not (src.fade_out and b > src.length - src.fade_out):
        return src.gain
    idx = np.arange(a, b, dtype=np.float32)
    env = np.ones(b - a, dtype=np.float32)
    if src.fade_in:
        env = np.minimum(env, idx / src.fade_in)
    if src.fade_out:
        env = np.minimum(env, (src.length - idx) / src.fade_out)
    # equal-power shape: quieter start, no audible "step" in loudness
    env = np.sin(np.clip(env, 0.0, 1.0) * (math.pi / 2)) ** 2
    return env * src.gain


def mix(tracks: Sequence[Track], n_samples: int, duck: Callable[[int, int], np.ndarray] | None = None,
        stem_writers: dict[str, object] | None = None, block: int = BLOCK) -> np.ndarray:
    """Sum the tracks into a stereo float32 ``(2, n_samples)`` array.

    ``duck(a, b)`` returns the gain envelope for timeline samples [a, b) applied to ducked tracks.
    ``stem_writers`` maps a track name to an open ``soundfile.SoundFile`` that receives the track's own
    stereo signal block by block (stems the mix's length).
    """
    out = np.zeros((2, n_samples), dtype=np.float32)
    readers = {id(s): _Reader(s) for t in tracks for s in t.sources}
    ordered = [sorted(t.sources, key=lambda s: s.start) for t in tracks]
    try:
        for a in range(0, n_samples, block):
            b = min(n_samples, a + block)
            duck_env = None
            for track, sources in zip(tracks, ordered):
                buf = None
                for src in sources:
                    if src.start >= b:
                        break
                    if src.end <= a:
                        continue
                    lo, hi = max(a, src.start), min(b, src.end)
                    data = readers[id(src)].read(lo - src.start, hi - src.start)
                    if data.shape[1] < hi - lo:  # clip shorter than placed: the rest is silence
                        hi = lo + data.shape[1]
                        if hi <= lo:
                            continue
                    env = _envelope(src, lo - src.start, hi - src.start)
                    gl, gr = pan_gains(src.pan, data.shape[0])
                    if buf is None:
                        buf = out if stem_writers is None and not track.ducked else np.zeros((2, b - a), np.float32)
                    tgt = buf[:, lo:hi] if buf is out else buf[:, lo - a : hi - a]
                    left = data[0] * env
                    tgt[0] += left * gl if gl != 1.0 else left
                    right = (data[1] * env) if data.shape[0] == 2 else left
                    tgt[1] += right * gr if gr != 1.0 else right
                if buf is None or buf is out:
                    if stem_writers is not None and track.name in stem_writers:
                        stem_writers[track.name].write(np.zeros((b - a, 2), np.float32))
                    continue
                if track.ducked and duck is not None:
                    if duck_env is None:
                        duck_env = duck(a, b)
                    buf *= duck_env
                out[:, a:b] += buf
                if stem_writers is not None and track.name in stem_writers:
                    stem_writers[track.name].write(buf.T)
    finally:
        for r in readers.values():
            r.close()
    return out


def ducking_envelope(intervals: Sequence[tuple[float, float]], n_samples: int, sample_rate: int,
                     depth_db: float, attack: float = 0.12, release: float = 0.45,
                     control_rate: int = 200) -> Callable[[int, int], np.ndarray]:
    """Gain envelope that lowers background tracks by ``depth_db`` while foreground speech plays.

    The duck starts ``attack`` seconds before each interval and recovers over ``release`` seconds after it;
    gaps shorter than attack + release stay ducked (no pumping between close lines). Built at a 200 Hz
    control rate and interpolated per block.
    """
    nc = int(math.ceil(n_samples / sample_rate * control_rate)) + 2
    t = np.arange(nc, dtype=np.float64) / control_rate
    smooth = np.zeros(nc, dtype=np.float64)
    merged: list[list[float]] = []
    for s, e in sorted(intervals):
        if merged and s - merged[-1][1] < attack + release:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    for s, e in merged:  # a trapezoid per interval: ramp in over `attack`, hold, ramp out over `release`
        i0 = max(0, int((s - attack) * control_rate))
        i1 = min(nc, int(math.ceil((e + release) * control_rate)) + 1)
        if i1 <= i0:
            continue
        tt = t[i0:i1]
        shape = np.minimum(np.clip((tt - (s - attack)) / attack, 0, 1), np.clip(((e + release) - tt) / release, 0, 1))
        smooth[i0:i1] = np.maximum(smooth[i0:i1], shape)
    gains_db = depth_db * smooth
    control = (10 ** (gains_db / 20)).astype(np.float32)
    times = np.arange(nc, dtype=np.float64) * (sample_rate / control_rate)

    def env(a: int, b: int) -> np.ndarray:
        return np.interp(np.arange(a, b, dtype=np.float64), times, control).astype(np.float32)

    return env
