"""Content-addressed clip cache: a clip is stored under a hash of everything that determines it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path, atomic_write_text
from .paths import cache_dir  # noqa: F401  (the cache folder; defined low, so fingerprint can find it too)
from .backends.base import Clip


def clip_key(backend: str, version: str, options: dict[str, Any], event_fields: dict[str, Any],
             sample_rate: int, code: str = "") -> str:
    """The key of a clip: everything that determines it. ``code`` is the backend's code fingerprint
    (:func:`storyaudio.fingerprint.code_fingerprint`), so a change in the code it runs renders afresh."""
    blob = json.dumps({"backend": backend, "version": version, "code": code, "options": options,
                       "event": event_fields, "sample_rate": sample_rate}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


class ClipCache:
    def __init__(self, root: Path | None = None, enabled: bool = True):
        self.root = Path(root) if root is not None else cache_dir()
        self.enabled = enabled

    def _paths(self, key: str) -> tuple[Path, Path]:
        base = self.root / key[:2]
        return base / f"{key}.npy", base / f"{key}.json"

    def get(self, key: str, mapped: bool = False) -> Clip | None:
        """The clip under ``key``, or None. ``mapped``: its samples as a read-only memory map of the cache
        file, read only when used (a render holding thousands of clips keeps them on disk, not in memory)."""
        if not self.enabled:
            return None
        audio_path, meta_path = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text())
            audio = np.load(audio_path, mmap_mode="r" if mapped else None, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return Clip(audio, int(meta["sample_rate"]), meta.get("detail", ""), meta.get("info", {}),
                    float(meta.get("level_db", 0.0)))

    def gain(self, key: str, frames: int, target: float) -> float | None:
        """The gain that brought the clip under ``key``, fitted to ``frames`` samples, to ``target`` LUFS when a
        render last measured it (so a re-render does not measure unchanged clips again)."""
        if not self.enabled:
            return None
        try:
            gains = json.loads(self._paths(key)[1].with_suffix(".gains.json").read_text())
            return float.fromhex(gains[f"{frames}|{float(target).hex()}"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put_gain(self, key: str, frames: int, target: float, gain: float) -> None:
        if not self.enabled:
            return
        path = self._paths(key)[1].with_suffix(".gains.json")
        try:
            try:
                gains = json.loads(path.read_text())
            except (OSError, ValueError):
                gains = {}
            gains[f"{frames}|{float(target).hex()}"] = float(gain).hex()
            atomic_write_text(path, json.dumps(gains))
        except OSError:
            pass  # a full or read-only cache must not fail a render

    def frames(self, key: str) -> int | None:
        """How many samples the clip under ``key`` holds (read from the file's header alone), or None."""
        if not self.enabled:
            return None
        try:
            return int(np.load(self._paths(key)[0], mmap_mode="r", allow_pickle=False).shape[-1])
        except (OSError, ValueError, IndexError):
            return None

    def put(self, key: str, clip: Clip) -> None:
        if not self.enabled:
            return
        audio_path, meta_path = self._paths(key)
        try:
            with atomic_path(audio_path) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, clip.audio, allow_pickle=False)
            atomic_write_text(meta_path, json.dumps({"sample_rate": clip.sample_rate, "detail": clip.detail,
                                                     "info": clip.info, "level_db": clip.level_db}, default=str))
        except OSError:
            pass  # a full or read-only cache must not fail a render
