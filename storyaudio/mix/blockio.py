"""Block I/O for audio too long to hold whole: one reader over arrays, memory maps and files, and a writer fed
block by block.

At this module's surface audio is float32 ``(channels, samples)``, as everywhere in storyaudio; files hold
interleaved frames ``(samples, channels)``. The meters and the mastering read a piece through
:func:`open_audio` a block at a time, so their memory does not grow with its length.

Intermediate files (the mix before and after mastering) are ``.npy`` files of float32 frames: numpy maps them
at any length (a RIFF WAV stops at 4 GiB; a three-hour stereo float mix is 4.1 GB), and they are read here with
plain file reads, so the pages read do not stay in the process's resident memory as a memory map's would.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np

#: What the meters and the mastering accept: an array ``(channels, samples)`` (a ``numpy.memmap`` too), a
#: ``.npy`` file of float32 frames ``(samples, channels)``, or any audio file soundfile reads (WAV, FLOAT or PCM).
AudioInput = Union[np.ndarray, str, os.PathLike]


class AudioBlocks:
    """Random access to a piece, block by block: ``read(a, b)`` returns float32 ``(channels, b - a)`` with
    silence outside the piece, so filters can read past either end."""

    channels: int
    frames: int
    sample_rate: int | None  # None for arrays (the caller knows it)

    def read(self, start: int, stop: int) -> np.ndarray:
        out = np.zeros((self.channels, max(0, stop - start)), dtype=np.float32)
        lo, hi = max(start, 0), min(stop, self.frames)
        if hi > lo:
            out[:, lo - start : hi - start] = self._read(lo, hi)
        return out

    def blocks(self, size: int = 1 << 16) -> Iterator[np.ndarray]:
        """The whole piece in order, ``size`` frames at a time (the last block shorter)."""
        for a in range(0, self.frames, size):
            yield self.read(a, min(a + size, self.frames))

    def _read(self, lo: int, hi: int) -> np.ndarray:  # frames [lo, hi), all inside the piece
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "AudioBlocks":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _ArrayBlocks(AudioBlocks):
    def __init__(self, audio: np.ndarray):
        audio = np.atleast_2d(audio)  # a view: a memmap stays a memmap
        if audio.ndim != 2:
            raise ValueError(f"audio must be (channels, samples), got shape {audio.shape}")
        self.audio, self.sample_rate = audio, None
        self.channels, self.frames = audio.shape

    def _read(self, lo: int, hi: int) -> np.ndarray:
        return self.audio[:, lo:hi]


class _NpyBlocks(AudioBlocks):
    """A ``.npy`` file of float32 frames ``(samples, channels)``, read with seek + read."""

    def __init__(self, path: Path):
        self._fh = open(path, "rb")
        try:
            fmt = np.lib.format
            major, _ = fmt.read_magic(self._fh)
            read_header = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, fortran, dtype = read_header(self._fh)
        except Exception:
            self._fh.close()
            raise
        if len(shape) != 2 or fortran or dtype != np.dtype("<f4"):
            self._fh.close()
            raise ValueError(f"{path}: expected float32 frames (samples, channels), got {dtype} {shape}")
        self.frames, self.channels = shape
        self.sample_rate = None
        self._offset = self._fh.tell()

    def _read(self, lo: int, hi: int) -> np.ndarray:
        self._fh.seek(self._offset + lo * self.channels * 4)
        data = np.fromfile(self._fh, dtype="<f4", count=(hi - lo) * self.channels)
        return data.reshape(hi - lo, self.channels).T

    def close(self) -> None:
        self._fh.close()


class _SoundFileBlocks(AudioBlocks):
    def __init__(self, path: Path):
        import soundfile as sf

        self._fh = sf.SoundFile(str(path))
        self.frames, self.channels, self.sample_rate = self._fh.frames, self._fh.channels, self._fh.samplerate

    def _read(self, lo: int, hi: int) -> np.ndarray:
        self._fh.seek(lo)
        return self._fh.read(hi - lo, dtype="float32", always_2d=True).T

    def close(self) -> None:
        self._fh.close()


def open_audio(audio: AudioInput | AudioBlocks, sample_rate: int | None = None) -> AudioBlocks:
    """A block reader over ``audio`` (see :data:`AudioInput`); an open reader is returned as is. A file whose
    own sample rate differs from ``sample_rate`` is refused (nothing here resamples)."""
    if isinstance(audio, AudioBlocks):
        return audio
    if isinstance(audio, np.ndarray):
        return _ArrayBlocks(audio)
    path = Path(audio)
    reader: AudioBlocks = _NpyBlocks(path) if path.suffix.lower() == ".npy" else _SoundFileBlocks(path)
    if sample_rate is not None and reader.sample_rate not in (None, sample_rate):
        reader.close()
        raise ValueError(f"{path} is at {reader.sample_rate} Hz, expected {sample_rate} Hz")
    return reader


#: libsndfile's command that turns the PEAK chunk of float files on or off (sndfile.h: SFC_SET_ADD_PEAK_CHUNK).
_SFC_SET_ADD_PEAK_CHUNK = 0x1050


def open_for_writing(path: str | os.PathLike, sample_rate: int, channels: int, subtype: str = "FLOAT", **kw):
    """A ``soundfile.SoundFile`` open for writing whose bytes follow from the samples alone: for float files,
    libsndfile's PEAK chunk (which records the time of writing) is left out, so the same audio makes the same
    file (renders can be compared byte for byte, and a re-render reuses what did not change)."""
    import soundfile as sf

    fh = sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=channels, subtype=subtype, **kw)
    if subtype in ("FLOAT", "DOUBLE"):
        try:
            sf._snd.sf_command(fh._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)  # SF_FALSE, before any data
        except AttributeError:  # a soundfile without these internals: the chunk stays (and so does the time)
            pass
    return fh


def _wav_layout(fh, path) -> tuple[bytes, int | None, int]:
    """Walk a WAV file's chunks from the start of ``fh``: its ``fmt `` body, where the ``fact`` chunk's frame
    count sits (None: no such chunk), and where the ``data`` chunk's header begins (``fh`` is left after it)."""
    import struct

    head = fh.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a RIFF WAVE file")
    fmt, fact = None, None
    while True:
        at = fh.tell()
        chunk = fh.read(8)
        if len(chunk) < 8:
            raise ValueError(f"{path} has no data chunk")
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"data":
            if fmt is None:
                raise ValueError(f"{path} has its data before its format")
            return fmt, fact, at
        if cid == b"fmt ":
            fmt = fh.read(size + (size % 2))
            continue
        if cid == b"fact":
            fact = at + 8
        fh.seek(size + (size % 2), 1)


def data_offset(path: str | os.PathLike) -> tuple[int, int]:
    """Where the samples of a WAV file begin (bytes) and the bytes of one sample (3 for 24-bit, 4 for
    float): what a re-render needs to write new samples over part of a copy of the file."""
    import struct

    with open(path, "rb") as fh:
        fmt, _, at = _wav_layout(fh, path)
        return at + 8, struct.unpack("<H", fmt[14:16])[0] // 8


def resize_wav(path: str | os.PathLike, frames: int) -> None:
    """Make the WAV file ``path`` hold ``frames`` frames: its data cut or extended with silence, and its header's
    sizes (RIFF, ``fact``, ``data``) set as libsndfile writes them for that length. A re-render whose piece got
    longer or shorter copies the old file, resizes it, and writes only the samples that changed."""
    import struct

    with open(path, "r+b") as fh:
        fmt, fact, at = _wav_layout(fh, path)
        size = frames * struct.unpack("<H", fmt[12:14])[0]  # block align: bytes per frame
        fh.truncate(at + 8 + size)
        fh.seek(at + 4)
        fh.write(struct.pack("<I", size))
        if fact is not None:
            fh.seek(fact)
            fh.write(struct.pack("<I", frames))
        fh.seek(4)
        fh.write(struct.pack("<I", at + 8 + size - 8))


class SparseStem:
    """A float32 WAV of a known length written block by block in order, where blocks of pure silence are
    not written at all: the file is made its full length first (a sparse file, whose unwritten ranges read
    back as zeros, i.e. 0.0 samples), and only blocks holding sound are written into it. The bytes read are
    those a plain writer gives; a stem (one speaker's lines, a few stings) is mostly silence, so it costs a
    fraction of the disk and of the writing. ``write(frames)`` takes interleaved frames ``(m, channels)``."""

    def __init__(self, path: str | os.PathLike, frames: int, sample_rate: int, channels: int = 2):
        self.path = Path(path)
        open_for_writing(self.path, sample_rate, channels).close()  # the header libsndfile writes
        resize_wav(self.path, frames)  # ... for this length; the samples a hole for now
        self.offset, width = data_offset(self.path)
        self.frame_bytes = width * channels
        self.at = 0
        self._fh = open(self.path, "r+b")

    def write(self, frames: np.ndarray) -> None:
        """The next ``frames`` in order."""
        self.write_at(self.at, frames)
        self.at += frames.shape[0]

    def write_at(self, at: int, frames: np.ndarray) -> None:
        """``frames`` from frame ``at`` on (where nothing was written yet, or over what was)."""
        if frames.any():  # a sum of sources started from +0.0 is never -0.0: all-false means all +0.0
            self._fh.seek(self.offset + at * self.frame_bytes)
            self._fh.write(np.ascontiguousarray(frames, dtype="<f4").tobytes())

    def close(self) -> None:
        self._fh.close()


def copy_data(src: str | os.PathLike, dst: str | os.PathLike, ranges: Iterable[tuple[int, int]]) -> None:
    """Copy the bytes ``[a, b)`` of each of ``ranges`` from ``src`` to the same place in ``dst`` (which
    exists and is long enough), skipping the holes of a sparse ``src`` (they stay holes in ``dst``, and read
    as zeros in both). The kernel copies (``copy_file_range``) where it can."""
    with open(src, "rb") as fi, open(dst, "r+b") as fo:
        fdi = fi.fileno()
        for a, b in ranges:
            pos = a
            while pos < b:
                try:
                    start = os.lseek(fdi, pos, os.SEEK_DATA)
                except OSError:  # ENXIO: nothing but holes from here on
                    break
                if start >= b:
                    break
                end = min(b, os.lseek(fdi, start, os.SEEK_HOLE))
                _copy_range(fi, fo, start, end)
                pos = end


def _copy_range(fi, fo, a: int, b: int) -> None:
    fdi, fdo = fi.fileno(), fo.fileno()
    while a < b:
        try:
            n = os.copy_file_range(fdi, fdo, b - a, a, a)
        except (AttributeError, OSError):  # no copy_file_range here (or across these files): by hand
            fi.seek(a)
            fo.seek(a)
            while a < b:
                chunk = fi.read(min(b - a, 1 << 22))
                if not chunk:
                    return
                fo.write(chunk)
                a += len(chunk)
            return
        if n <= 0:
            return
        a += n


def encode_frames(x: np.ndarray, subtype: str) -> bytes:
    """``x`` ``(channels, m)`` as the bytes :class:`AudioWriter` puts in a WAV's data chunk for ``subtype``
    (``PCM_24``: little-endian 24-bit steps, rounded and clipped as it does; ``FLOAT``: little-endian
    float32), interleaved."""
    frames = np.ascontiguousarray(np.asarray(x, dtype=np.float32).T)
    if subtype == "PCM_24":
        steps = _pcm24_steps(frames).astype("<i4")
        return steps.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    if subtype == "FLOAT":
        return frames.astype("<f4").tobytes()
    raise ValueError(f"cannot encode {subtype} samples")


def _pcm24_steps(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * np.float32(1 << 23)), -(1 << 23), (1 << 23) - 1).astype(np.int32)


def quantize_pcm24(x: np.ndarray) -> np.ndarray:
    """``x`` as a 24-bit PCM file written by :class:`AudioWriter` reads back: float32, exactly."""
    return _pcm24_steps(np.asarray(x, dtype=np.float32)).astype(np.float32) * np.float32(2.0**-23)


class AudioWriter:
    """Writes a piece block by block: ``.npy`` (float32 frames, any length) or, through soundfile, any other
    format its extension names (``subtype`` e.g. ``"FLOAT"``, ``"PCM_24"``). ``frames`` is the piece's length,
    known up front (a ``.npy`` header states it); ``close`` checks that exactly that many were written."""

    def __init__(self, path: str | os.PathLike, channels: int, frames: int, sample_rate: int,
                 subtype: str = "FLOAT"):
        self.path, self.channels, self.frames, self.written = Path(path), channels, frames, 0
        self._npy = self.path.suffix.lower() == ".npy"
        self._pcm24 = not self._npy and subtype == "PCM_24"
        if self._npy:
            self._fh = open(self.path, "wb")
            header = {"descr": "<f4", "fortran_order": False, "shape": (frames, channels)}
            np.lib.format.write_array_header_2_0(self._fh, header)
        else:
            self._fh = open_for_writing(self.path, sample_rate, channels, subtype)

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` ``(channels, m)``. To 24-bit PCM, samples are rounded to the nearest step of
        2**-23 and clipped here (libsndfile would scale floats by 2**23 - 1), so reading the file back gives
        exactly ``clip(round(x * 2**23), -2**23, 2**23 - 1) / 2**23``; integers also convert faster."""
        frames = np.asarray(block, dtype=np.float32).T
        if self._npy:
            np.ascontiguousarray(frames).tofile(self._fh)
        elif self._pcm24:
            self._fh.write(np.ascontiguousarray(_pcm24_steps(frames) << 8))  # int32: libsndfile keeps the top 24 bits
        else:
            self._fh.write(np.ascontiguousarray(frames))
        self.written += frames.shape[0]

    def close(self) -> None:
        if self._fh is None:
            return
        self._fh.close()
        self._fh = None
        if self.written != self.frames:
            raise ValueError(f"{self.path}: {self.written} frames written, {self.frames} announced")

    def abort(self) -> None:
        """Close without checking the length (the caller is giving up on this file)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "AudioWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
