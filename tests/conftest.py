"""Shared test setup: a private clip cache and a clean environment per test, slow/gpu markers."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    slow_ok = os.environ.get("STORYAUDIO_SLOW") == "1"
    gpu_ok = os.environ.get("STORYAUDIO_GPU") == "1"
    for item in items:
        if "slow" in item.keywords and not slow_ok:
            item.add_marker(pytest.mark.skip(reason="slow: set STORYAUDIO_SLOW=1 to run"))
        if "gpu" in item.keywords and not gpu_ok:
            item.add_marker(pytest.mark.skip(reason="gpu: set STORYAUDIO_GPU=1 on a CUDA machine to run"))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's real cache or keys: every test gets its own cache folder."""
    monkeypatch.setenv("STORYAUDIO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
