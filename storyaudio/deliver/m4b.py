"""``mix.m4b``: the mix as AAC in an MP4 audiobook file, with chapters and tags.

PyAV (the ``av`` package, FFmpeg's libraries in a wheel: no system ffmpeg) encodes the finished ``mix.wav``
block by block, so memory stays flat however long the piece is. FFmpeg's MP4 muxer writes the chapters
twice, as the two kinds readers look for: a QuickTime chapter text track (Apple Books, iOS, QuickTime,
FFmpeg) and a Nero ``chpl`` atom (mutagen, foobar2000, many Android players). The file's brand is ``M4B``
and its index comes first (``faststart``), so players can start it before it has fully downloaded. The tags
and the cover are then written by :func:`storyaudio.deliver.tags.tag_mp4`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import BackendUnavailableError
from ..timeline import Chapter
from .tags import EpisodeTags, tag_mp4

#: AAC bit rate per channel: 64 kb/s a channel is transparent for speech and fine for music beds.
BITRATE_PER_CHANNEL = 64_000
INSTALL_HINT = "pip install 'storyaudio[export]' (or: pip install av)"
_BLOCK = 1 << 16


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("av") is not None


def require() -> None:
    """A clear error, before any work, when PyAV is not installed."""
    if not available():
        raise BackendUnavailableError(f"--m4b needs PyAV to encode AAC: {INSTALL_HINT}.")


def write_m4b(path: Path, wav_path: Path, tags: EpisodeTags, chapters: Sequence[Chapter] = ()) -> Path:
    """Encode the WAV at ``wav_path`` into an M4B at ``path`` with ``chapters`` and ``tags``."""
    require()
    import av
    import soundfile as sf

    with sf.SoundFile(str(wav_path)) as src:
        sr, channels = src.samplerate, src.channels
        layout = "stereo" if channels == 2 else "mono"
        with av.open(str(path), "w", format="ipod", options={"brand": "M4B ", "movflags": "+faststart"}) as out:
            stream = out.add_stream("aac", rate=sr, layout=layout)
            stream.bit_rate = BITRATE_PER_CHANNEL * channels
            if chapters:  # in samples, so the muxer rounds each time once
                out.set_chapters([{"id": c.number, "start": int(round(c.start * sr)),
                                   "end": int(round(c.end * sr)), "time_base": Fraction(1, sr),
                                   "metadata": {"title": c.title}} for c in chapters])
            pts = 0
            for block in src.blocks(blocksize=_BLOCK, dtype="float32", always_2d=True):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block.T), format="fltp", layout=layout)
                frame.sample_rate = sr
                frame.pts = pts
                pts += block.shape[0]
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    return tag_mp4(path, tags)
