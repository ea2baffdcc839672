"""The timeline mixer: float32 summing in blocks, straight from clip files on disk.

A :class:`Track` is a list of :class:`Source` clips placed in time, each with a gain, fades and a stereo
position; background tracks may be ducked under foreground speech by a gain envelope. Mixing walks the
timeline in blocks, reading from each clip only the samples that block needs, so memory stays bounded by
block size x tracks (plus the output, unless :func:`mix_to_file` writes it block by block), however long the
tracks are.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

BLOCK = 1 << 15  # frames: a block of a clip stays in the CPU cache while it is scaled (measured best of 2^14..2^16)


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


class _MappedWav:
    """A 32-bit float WAV's samples mapped read-only as frames ``(n, channels)``. Pages already mixed are
    handed back to the page cache as reading moves forward, so the process's memory stays at a few blocks
    however long the clip is."""

    def __init__(self, path: Path, offset: int, frames: int, channels: int):
        import mmap

        with open(path, "rb") as fh:
            self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self.frames = np.frombuffer(self._mm, dtype="<f4", count=frames * channels, offset=offset)
        self.frames = self.frames.reshape(frames, channels)
        self._offset, self._frame_bytes, self._done = offset, 4 * channels, 0
        self._page = mmap.PAGESIZE
        self._dontneed = getattr(mmap, "MADV_DONTNEED", None)

    def release_before(self, frame: int) -> None:
        if self._dontneed is None:
            return
        end = self._offset + frame * self._frame_bytes
        end -= end % self._page
        if end - self._done >= 1 << 20:  # in steps of at least 1 MB
            self._mm.madvise(self._dontneed, self._done, end - self._done)
            self._done = end


def wav_float32_memmap(path: Path) -> _MappedWav | None:
    """Map a 32-bit float WAV without reading it, or None when the file is anything else (then soundfile
    reads it). Clips in a render are such files."""
    import struct

    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            channels = bits = fmt = None
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    body = fh.read(size)
                    fmt, channels = struct.unpack("<HH", body[:4])
                    bits = struct.unpack("<H", body[14:16])[0]
                    if fmt == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real format in the GUID
                        fmt = struct.unpack("<H", body[24:26])[0]
                    if size % 2:
                        fh.read(1)
                elif cid == b"data":
                    if fmt != 3 or bits != 32 or not channels:
                        return None
                    offset = fh.tell()
                    frames = size // (4 * channels)
                    return _MappedWav(path, offset, frames, channels)
                else:
                    fh.seek(size + (size % 2), 1)
    except (OSError, ValueError, struct.error):
        return None


class _Reader:
    """Reads ranges of one clip as interleaved frames ``(n, channels)``: from memory, from a memory map of a
    float WAV (no copy: the page cache is read once, by the arithmetic), or through soundfile into a reused
    buffer."""

    def __init__(self, src: Source):
        self.src = src
        self._file = None
        self._map = None
        self._frames = None if src.audio is None else np.ascontiguousarray(np.atleast_2d(src.audio).T)
        if self._frames is None:
            self._map = wav_float32_memmap(Path(src.path))
            self._frames = None if self._map is None else self._map.frames

    def read(self, a: int, b: int, scratch: np.ndarray) -> np.ndarray:
        """Clip samples [a, b) (clip coordinates, offset applied) as float32 frames (m, ch), m <= b - a.
        The result may be a read-only view."""
        s = self.src
        if self._map is not None:
            self._map.release_before(s.offset + a)
        if self._frames is not None:
            return self._frames[s.offset + a : s.offset + b]
        if self._file is None:
            import soundfile as sf

            self._file = sf.SoundFile(str(s.path))
        self._file.seek(s.offset + a)
        ch = self._file.channels
        out = scratch[: (b - a) * ch].reshape(b - a, ch)
        return self._file.read(b - a, dtype="float32", always_2d=True, out=out)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._frames = self._map = None


def _envelope(src: Source, a: int, b: int) -> np.ndarray | None:
    """Fade shape for clip samples [a, b), or None where no fade applies."""
    if not (src.fade_in and a < src.fade_in) and not (src.fade_out and b > src.length - src.fade_out):
        return None
    idx = np.arange(a, b, dtype=np.float32)
    env = np.ones(b - a, dtype=np.float32)
    if src.fade_in:
        env = np.minimum(env, idx / src.fade_in)
    if src.fade_out:
        env = np.minimum(env, (src.length - idx) / src.fade_out)
    # equal-power shape: quieter start, no audible "step" in loudness
    return np.sin(np.clip(env, 0.0, 1.0) * (math.pi / 2)) ** 2


def mix(tracks: Sequence[Track], n_samples: int, duck: Callable[[int, int], np.ndarray] | None = None,
        stem_writers: dict[str, object] | None = None, block: int = BLOCK) -> np.ndarray:
    """Sum the tracks into stereo float32, returned as ``(2, n_samples)``.

    ``duck(a, b)`` returns the gain envelope for timeline samples [a, b) applied to ducked tracks.
    ``stem_writers`` maps a track name to a writer (a ``soundfile.SoundFile``, a
    :class:`~storyaudio.mix.blockio.SparseStem`) whose ``write(frames)`` receives the track's own stereo
    signal block by block (stems the mix's length). :func:`mix_to_file` writes the same sum to a file
    instead, never holding the whole mix.

    Internally the mix is interleaved frames ``(n, 2)``, the layout clip files are stored in. Clips are read
    block by block (float WAVs through a memory map, so nothing is copied before the arithmetic touches it),
    scaled into a small buffer that stays in cache (gain, pan, fades, ducking), and added to the output once.
    The returned array is a transposed view of that output.
    """
    out = np.zeros((n_samples, 2), dtype=np.float32)
    for _ in _mix_blocks(tracks, n_samples, lambda a, b: out[a:b], duck, stem_writers, block):
        pass
    return out.T


def mix_to_file(tracks: Sequence[Track], n_samples: int, path: str | os.PathLike, sample_rate: int,
                duck: Callable[[int, int], np.ndarray] | None = None, stem_writers: dict[str, object] | None = None,
                block: int = BLOCK) -> Path:
    """:func:`mix`, written to ``path`` block by block as it is summed (memory: a few blocks at any length).

    ``path`` ending in ``.npy`` gets float32 frames ``(n_samples, 2)`` (any length; ``numpy.load(path,
    mmap_mode="r").T`` maps it as ``(2, n_samples)``); any other extension is written by soundfile as a
    32-bit float file of that format (a WAV stops at 4 GiB: 3.1 hours of stereo at 48 kHz). The file appears
    complete or not at all. Returns ``path``."""
    from .blockio import AudioWriter

    path = Path(path)
    part = path.with_name(f".{path.stem}.{os.getpid()}.part{path.suffix}")
    buf = np.zeros((block, 2), dtype=np.float32)

    def target(a: int, b: int) -> np.ndarray:
        view = buf[: b - a]
        view.fill(0.0)
        return view

    try:
        with AudioWriter(part, 2, n_samples, sample_rate) as writer:
            for a, b in _mix_blocks(tracks, n_samples, target, duck, stem_writers, block):
                writer.write(buf[: b - a].T)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path


def mix_range(tracks: Sequence[Track], a: int, b: int, duck: Callable[[int, int], np.ndarray] | None = None,
              per_track: bool = False, on_track: Callable[[str, int, int, np.ndarray], None] | None = None,
              only: set[str] | None = None, block: int = BLOCK) -> np.ndarray:
    """Samples ``[a, b)`` of the mix, ``(2, b - a)``: exactly what :func:`mix_to_file` writes there. Every
    output sample is the same sum of the same products whatever blocks it is computed in, so a re-render can
    mix only the ranges that changed. ``per_track``: sum each track first and then the tracks, as a mix that
    writes stems does (the sum's rounding follows that order); ``on_track(name, a, b, frames)`` then hears
    each track's own samples (a stem's), and ``only`` limits the mix to those tracks."""
    out = np.zeros((b - a, 2), dtype=np.float32)
    writers = None
    if per_track or on_track is not None:
        writers = {t.name: _Positioned(t.name, on_track) for t in tracks}
    chosen = [t for t in tracks if only is None or t.name in only]
    for lo, hi in _mix_blocks(chosen, b, lambda lo, hi: out[lo - a : hi - a], duck, writers, block, start=a):
        pass
    return out.T


class _Positioned:
    """A stem 'writer' that tells ``on_track`` where each block it receives belongs (or drops it)."""

    def __init__(self, name: str, on_track: Callable[[str, int, int, np.ndarray], None] | None):
        self.name, self.on_track, self.at = name, on_track, 0

    def write(self, frames: np.ndarray) -> None:
        if self.on_track is not None:
            self.on_track(self.name, self.at, self.at + frames.shape[0], frames)


def _mix_blocks(tracks: Sequence[Track], n_samples: int, target: Callable[[int, int], np.ndarray],
                duck: Callable[[int, int], np.ndarray] | None, stem_writers: dict[str, object] | None,
                block: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """Sum block after block of ``[start, n_samples)`` into ``target(a, b)`` (a zeroed ``(b - a, 2)`` float32
    view), yielding each block's bounds once it is complete."""
    readers: dict[int, _Reader] = {}  # opened when a source first plays, closed once it is past
    ordered = [sorted(t.sources, key=lambda s: s.start) for t in tracks]
    live = [0] * len(tracks)  # per track: sources before this one have all ended (skipped without a look)
    scratch = np.empty(block * 2, dtype=np.float32)
    stereo = np.empty((block, 2), dtype=np.float32)
    track_buf = np.empty((block, 2), dtype=np.float32)
    ducking = duck is not None and any(t.ducked for t in tracks)
    try:
        for a in range(start, n_samples, block):
            b = min(n_samples, a + block)
            out = target(a, b)
            duck_env = duck(a, b) if ducking else None
            for t, (track, sources) in enumerate(zip(tracks, ordered)):
                first = live[t]
                while first < len(sources) and sources[first].end <= a:
                    first += 1
                live[t] = first
                stem = stem_writers.get(track.name) if stem_writers is not None else None
                if isinstance(stem, _Positioned):
                    stem.at = a
                dst = None
                if stem is not None:
                    dst = track_buf[: b - a]
                    dst.fill(0.0)
                for src in itertools.islice(sources, first, None):
                    if src.start >= b:
                        break
                    if src.end <= a:
                        continue
                    lo, hi = max(a, src.start), min(b, src.end)
                    reader = readers.get(id(src))
                    if reader is None:
                        reader = readers[id(src)] = _Reader(src)
                    data = reader.read(lo - src.start, hi - src.start, scratch)
                    if hi == src.end:  # its last block: let the file go (``data`` keeps what it maps alive)
                        reader.close()
                        del readers[id(src)]
                    m = data.shape[0]  # a clip shorter than placed: the rest is silence
                    if m == 0:
                        continue
                    gl, gr = pan_gains(src.pan, data.shape[1])
                    gl, gr = gl * src.gain, gr * src.gain
                    env = _envelope(src, lo - src.start, lo - src.start + m)
                    if track.ducked and duck_env is not None:
                        d = duck_env[lo - a : lo - a + m]
                        env = d if env is None else env * d
                    into = (dst if dst is not None else out)[lo - a : lo - a + m]
                    if data.shape[1] == 2 and gl == gr == 1.0 and env is None:
                        into += data  # the common case: one pass, straight from the clip
                        continue
                    # Scale into a cache-sized buffer, channel by channel on strided views (numpy's inner
                    # loop then runs over the samples, not over a broadcast axis of length 2), then add once.
                    buf = stereo[:m]
                    if data.shape[1] == 1:  # mono: pan into both channels
                        np.multiply(data[:, 0], np.float32(gl), out=buf[:, 0])
                        np.multiply(data[:, 0], np.float32(gr), out=buf[:, 1])
                    elif gl == gr:
                        np.multiply(data, np.float32(gl), out=buf)
                    else:
                        np.multiply(data[:, 0], np.float32(gl), out=buf[:, 0])
                        np.multiply(data[:, 1], np.float32(gr), out=buf[:, 1])
                    if env is not None:
                        buf[:, 0] *= env
                        buf[:, 1] *= env
                    into += buf
                if stem is not None:
                    out += dst
                    stem.write(dst)
            yield a, b
    finally:
        for r in readers.values():
            r.close()


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
    return _Ducking(control, sample_rate / control_rate)


class _Ducking:
    """The ducking gain: ``env(a, b)`` for timeline samples ``[a, b)``, interpolated from ``values`` (one per
    control step of ``spacing`` samples). :meth:`reach` says which values samples ``[a, b)`` read, so a
    re-render can tell where the envelope changed without computing it."""

    def __init__(self, values: np.ndarray, spacing: float):
        self.values, self.spacing = values, spacing
        self.times = np.arange(values.size, dtype=np.float64) * spacing

    def __call__(self, a: int, b: int) -> np.ndarray:
        return np.interp(np.arange(a, b, dtype=np.float64), self.times, self.values).astype(np.float32)

    def reach(self, a: int, b: int) -> tuple[int, int]:
        lo = max(0, min(self.values.size - 1, int(math.floor(a / self.spacing))))
        hi = min(self.values.size, max(lo + 1, int(math.floor((b - 1) / self.spacing)) + 2))
        return lo, hi
