"""Training data: a folder of videos and/or image+audio pairs, decoded with PyAV, turned into cached features.

* **Videos** (any container PyAV reads: .mp4 .mkv .webm .avi .mov ...): the audio track (mono, at the mel
  rate, the first ``max_seconds``) and frames at ``frame_rate`` per second (CLIPSep: 1 fps, at most
  ``max_frames``), each encoded by CLIP. Training pairs a random window of the audio with a random frame.
* **Pairs**: an image and an audio file with the same stem in the same folder (``x.png`` + ``x.wav``).
* **captions.tsv** (optional, at the top of the folder): ``file<TAB>caption`` lines, ``file`` a video or pair
  relative to the folder, with or without its extension; several lines may caption the same file. Captions
  train the text -> image-embedding prior.

Features (the normalised log-mel of the audio and the unit-length CLIP embeddings of the frames) are cached as
one ``.npz`` per file, keyed by the file's path, size and time, the CLIP model and the mel settings, so a second
run (or ``--resume``) decodes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ...atomic import atomic_path
from .config import ClipSonicError, MelConfig

VIDEO_EXTENSIONS = {".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".ogv", ".3gp", ".flv",
                    ".wmv"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".aif", ".aiff", ".wma"}
CAPTIONS_FILE = "captions.tsv"
INSTALL_AV = "pip install 'storyaudio[clipsonic]' (or: pip install av)"


def import_av():
    try:
        import av
    except ImportError as exc:
        raise ClipSonicError(f"reading videos and audio needs PyAV, which is not installed ({exc}). Install with: "
                             f"{INSTALL_AV}.") from None
    return av


@dataclass(frozen=True)
class Item:
    """One training example: a video, or an image and its audio. ``key`` is its path relative to the data
    folder without the extension (what captions.tsv names)."""

    key: str
    kind: str  # "video" or "pair"
    media: tuple[Path, ...]  # (video,) or (image, audio)


@dataclass
class Features:
    """What training needs of one item: its normalised log-mel (n_mels, frames) and CLIP embeddings (k, dim)."""

    key: str
    mel: np.ndarray
    embeddings: np.ndarray
    captions: list[str] = field(default_factory=list)
    audio: np.ndarray | None = None  # float16 at the mel rate, kept only to train a vocoder


# -- finding the data ---------------------------------------------------------------------------------------
def scan(root: str | Path) -> list[Item]:
    """Every video and every image+audio pair under ``root`` (recursively; hidden folders skipped), in path
    order. A folder without any is an error that says what it found and what it needs."""
    root = Path(root)
    if not root.is_dir():
        raise ClipSonicError(f"data folder '{root}' does not exist. Pass a folder of videos and/or image+audio pairs.")
    videos, images, audios = [], {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            ext = path.suffix.lower()
            stem_key = path.relative_to(root).with_suffix("").as_posix()
            if ext in VIDEO_EXTENSIONS:
                videos.append(Item(stem_key, "video", (path,)))
            elif ext in IMAGE_EXTENSIONS:
                images.setdefault(stem_key, path)
            elif ext in AUDIO_EXTENSIONS:
                audios.setdefault(stem_key, path)
    pairs = [Item(k, "pair", (images[k], audios[k])) for k in sorted(images) if k in audios]
    taken = {i.key for i in videos}
    items = videos + [p for p in pairs if p.key not in taken]
    if not items:
        found = f"{len(images)} image(s) and {len(audios)} audio file(s)"
        lonely = sorted(set(images) ^ set(audios))[:3]
        example = f" (unmatched: {', '.join(lonely)})" if lonely else ""
        raise ClipSonicError(
            f"data folder '{root}' holds no videos and no image+audio pairs: found {found}{example}. Add videos "
            f"({', '.join(sorted(VIDEO_EXTENSIONS)[:5])}, ...) with an audio track, or put each picture next to its "
            f"sound under the same name (x.png + x.wav)."
        )
    return sorted(items, key=lambda i: i.key)


def read_captions(root: str | Path, items: Sequence[Item],
                  warn: Callable[[str], None] = print) -> dict[str, list[str]]:
    """``captions.tsv`` of the data folder as {item key: [captions]} (empty when there is no such file). A line
    without a caption is an error naming the line; lines naming files that are not in the folder (a data set
    some of whose videos could not be downloaded) are skipped with one warning."""
    path = Path(root) / CAPTIONS_FILE
    if not path.is_file():
        return {}
    keys = {i.key for i in items}
    by_media = {m.relative_to(root).as_posix(): i.key for i in items for m in i.media}
    out: dict[str, list[str]] = {}
    unknown: list[str] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or not "".join(row).strip() or row[0].startswith("#"):
                continue
            if n == 1 and [c.strip().lower() for c in row[:2]] == ["file", "caption"]:
                continue
            if len(row) < 2 or not row[1].strip():
                raise ClipSonicError(f"{path}, line {n}: expected 'file<TAB>caption', got {row!r}. Separate the "
                                     f"file and its caption with one tab.")
            name = row[0].strip().replace("\\", "/")
            key = by_media.get(name) or (name if name in keys else Path(name).with_suffix("").as_posix())
            if key not in keys:
                unknown.append(f"line {n} '{name}'")
                continue
            out.setdefault(key, []).append(row[1].strip())
    if unknown:
        warn(f"warning: {path}: {len(unknown)} line(s) name files that are not in {root} and are skipped (first: "
             f"{unknown[0]}). Names are paths relative to the data folder, with or without the extension.")
    return out


# -- decoding -------------------------------------------------------------------------------------------------
def read_audio(path: Path, sample_rate: int, max_seconds: float) -> np.ndarray:
    """Mono float32 audio of any file PyAV reads, at ``sample_rate``, at most ``max_seconds`` long."""
    audio, _ = _decode(path, sample_rate, max_seconds, frame_rate=0.0, max_frames=0, want_audio=True)
    return audio


def decode_video(path: Path, sample_rate: int, max_seconds: float, frame_rate: float, max_frames: int):
    """(mono float32 audio, [PIL frames]) of a video: frames at ``frame_rate`` per second (the first at half a
    period), at most ``max_frames``. A video without an audio track is an error naming it."""
    return _decode(path, sample_rate, max_seconds, frame_rate, max_frames, want_audio=True, want_video=True)


def _decode(path: Path, sample_rate: int, max_seconds: float, frame_rate: float, max_frames: int,
            want_audio: bool = True, want_video: bool = False):
    av = import_av()
    try:
        container = av.open(str(path))
    except Exception as exc:  # noqa: BLE001 - PyAV raises many error types for unreadable files
        raise ClipSonicError(f"cannot read '{path}': {exc}. Remove or re-encode it.") from None
    with container:
        audio_streams = list(container.streams.audio)
        video_streams = list(container.streams.video) if want_video else []
        if want_audio and not audio_streams:
            raise ClipSonicError(
                f"'{path}' has no audio track, so there is nothing to learn from it. Remove it from the data folder, "
                f"or put one of its frames and its sound next to each other as a pair (x.png + x.wav)."
            )
        if want_video and not video_streams:
            raise ClipSonicError(f"'{path}' has no video track. Give it as an image+audio pair instead.")
        streams = audio_streams[:1] + video_streams[:1]
        for s in streams:
            s.thread_type = "AUTO"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        have = 0
        limit = int(max_seconds * sample_rate)
        targets = [(k + 0.5) / frame_rate for k in range(max_frames)] if want_video and frame_rate > 0 else []
        frames: list[Any] = []
        last_frame = None
        done_audio = done_video = False
        try:
            for packet in container.demux(*streams):
                for frame in packet.decode():
                    if isinstance(frame, av.AudioFrame):
                        if done_audio:
                            continue
                        for out in resampler.resample(frame):
                            chunks.append(out.to_ndarray().reshape(-1))
                            have += chunks[-1].shape[0]
                        done_audio = have >= limit
                    elif not done_video:
                        t = float(frame.time or 0.0)
                        last_frame = frame
                        while targets and t >= targets[0] - 1e-6:
                            frames.append(frame.to_image())
                            targets.pop(0)
                        done_video = not targets or t > max_seconds
                if done_audio and (done_video or not video_streams):
                    break
            if not done_audio:
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray().reshape(-1))
        except Exception as exc:  # noqa: BLE001 - a broken stream
            raise ClipSonicError(f"cannot decode '{path}': {exc}. Remove or re-encode it.") from None
        if want_video and not frames and last_frame is not None:
            frames.append(last_frame.to_image())  # shorter than half a frame period: its last frame
    audio = np.concatenate(chunks)[:limit].astype(np.float32) if chunks else np.zeros(0, np.float32)
    if want_audio and audio.size == 0:
        raise ClipSonicError(f"'{path}' has an audio track with no samples in it. Remove it from the data folder.")
    if want_video and not frames:
        raise ClipSonicError(f"'{path}' has no decodable video frame. Remove or re-encode it.")
    return audio, frames


def load_media(item: Item, sample_rate: int, max_seconds: float, frame_rate: float, max_frames: int):
    """(audio, [PIL images]) of an item."""
    if item.kind == "video":
        return decode_video(item.media[0], sample_rate, max_seconds, frame_rate, max_frames)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(item.media[0]) as im:
            picture = im.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise ClipSonicError(f"cannot read the image '{item.media[0]}': {exc}. Remove or re-save it.") from None
    return read_audio(item.media[1], sample_rate, max_seconds), [picture]


# -- the feature cache --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureSettings:
    clip: str  # clip_fingerprint
    mel: MelConfig
    frame_rate: float
    max_frames: int
    max_seconds: float

    def signature(self) -> str:
        text = json.dumps([self.clip, self.mel.model_dump(), self.frame_rate, self.max_frames, self.max_seconds],
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_file(cache_dir: Path, item: Item, settings: FeatureSettings) -> Path:
    stats = [f"{m.resolve()}:{m.stat().st_size}:{m.stat().st_mtime_ns}" for m in item.media]
    digest = hashlib.sha256("|".join([settings.signature(), *stats]).encode()).hexdigest()[:24]
    return cache_dir / f"{digest}.npz"


def extract(items: Sequence[Item], cache_dir: Path, settings: FeatureSettings, embed_images: Callable,
            log_mel: Callable, skip_bad: bool = False, workers: int = 2,
            progress: Callable[[int, int], None] | None = None, warn: Callable[[str], None] = print,
            keep_audio: bool = False) -> list[Features]:
    """Features of every item, from the cache or decoded (``workers`` files at once) and cached.
    ``embed_images([PIL]) -> (n, dim)`` and ``log_mel(audio) -> normalised (n_mels, frames)`` are the models'.
    With ``keep_audio`` the audio is cached and returned too (a cache file without it is made again).
    A file that cannot be used stops everything, or is skipped with a warning when ``skip_bad``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    out: dict[int, Features] = {}
    todo: list[tuple[int, Item, Path]] = []
    for i, item in enumerate(items):
        path = cache_file(cache_dir, item, settings)
        if path.is_file():
            try:
                with np.load(path) as z:
                    if not keep_audio or "audio" in z:
                        out[i] = Features(item.key, z["mel"], z["embeddings"],
                                          audio=z["audio"] if keep_audio else None)
                        continue
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache file: make it again
        todo.append((i, item, path))
    done = len(out)
    if progress:
        progress(done, len(items))

    def load(job: tuple[int, Item, Path]):
        try:
            return job, load_media(job[1], settings.mel.sample_rate, settings.max_seconds, settings.frame_rate,
                                   settings.max_frames), None
        except ClipSonicError as exc:
            return job, None, exc

    def decoded():  # in chunks, so decoded files never pile up ahead of the embedding
        chunk = max(8, 4 * workers)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for k in range(0, len(todo), chunk):
                yield from pool.map(load, todo[k : k + chunk])

    for (i, item, path), media, error in decoded():
        if error is not None:
            if not skip_bad:
                raise ClipSonicError(f"{error} (Or pass --skip-bad to leave such files out.)")
            warn(f"warning: skipped: {error}")
        else:
            audio, pictures = media
            mel = np.asarray(log_mel(audio), dtype=np.float16)
            emb = np.asarray(embed_images(pictures), dtype=np.float16)
            arrays = {"mel": mel, "embeddings": emb}
            if keep_audio:
                arrays["audio"] = np.asarray(audio, dtype=np.float16)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **arrays)
            out[i] = Features(item.key, mel, emb, audio=arrays.get("audio"))
        done += 1
        if progress:
            progress(done, len(items))
    feats = [out[i] for i in sorted(out)]
    if not feats:
        raise ClipSonicError("no usable training file is left after skipping the bad ones. Check the data folder.")
    return feats


def attach_captions(feats: Iterable[Features], captions: dict[str, list[str]]) -> int:
    """Give every item its captions; returns how many items have one."""
    n = 0
    for f in feats:
        f.captions = list(captions.get(f.key, []))
        n += bool(f.captions)
    return n
