"""The writer's exchange log: one JSON object per line, one line per request/reply, appended.

Default place: ``platformdirs.user_log_dir("storyaudio")/writer.jsonl`` (Linux:
``~/.local/state/storyaudio/log/writer.jsonl``; macOS: ``~/Library/Logs/storyaudio/writer.jsonl``; Windows:
``%LOCALAPPDATA%\\storyaudio\\Logs\\writer.jsonl``), or ``writer.jsonl`` in the folder given by ``log_dir`` /
``--log-dir`` / ``STORYAUDIO_LOG_DIR``. API keys are never written: the log names where a key came from, and
any line that would contain the key is scrubbed before it is written.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LOG_NAME = "writer.jsonl"


def default_log_dir() -> Path:
    env = os.environ.get("STORYAUDIO_LOG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_log_dir("storyaudio", appauthor=False))


class ExchangeLog:
    """Appends exchange records to ``<dir>/writer.jsonl``. Failing to write the log never fails the writer:
    it warns once and goes on."""

    def __init__(self, log_dir: str | os.PathLike | None = None, secrets: tuple[str, ...] = ()):
        self.path = Path(log_dir) / LOG_NAME if log_dir is not None else default_log_dir() / LOG_NAME
        self.session = uuid.uuid4().hex[:12]
        self.secrets = tuple(s for s in secrets if s and len(s) >= 6)
        self._warned = False

    def write(self, **record: Any) -> None:
        line = json.dumps({"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                           "session": self.session, **record}, ensure_ascii=False, default=str)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:
            if not self._warned:
                warnings.warn(f"storyaudio writer: cannot write the exchange log {self.path} ({exc}); going on "
                              "without it. Give a writable folder with --log-dir.", RuntimeWarning, stacklevel=2)
                self._warned = True


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self.start, 3)
