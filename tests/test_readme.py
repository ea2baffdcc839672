"""The README's backend example is real code: it runs, registers and renders."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import TONE, row

from storyaudio import backends as registry
from storyaudio.pipeline import RenderConfig, render

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_backend_example_renders(tmp_path, monkeypatch):
    text = README.read_text()
    block = re.search(r"#### Adding a backend.*?```python\n(.*?)```", text, re.S).group(1)
    module = types.ModuleType("readme_beep")
    exec(compile(block, "README.md", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, "readme_beep", module)
    monkeypatch.setitem(registry.BUILTIN, "beep", "readme_beep:BeepBackend")
    script = {"title": "beep", "rows": [row(content="hello there"), row("sound_effect", content="a beep", duration=1.5)]}
    result = render(script, tmp_path / "out", RenderConfig(use={**TONE, "sound_effect": "beep"},
                                                          options={"beep": {"hz": "440"}}, picture=False))
    fx = next(e for e in result.timeline.events if e.audio_type == "sound_effect")
    made = result.clips[fx.row]
    assert made.detail == "beep 440.0 Hz" and fx.span == pytest.approx(1.5)
    clip, sr = sf.read(tmp_path / "out" / made.clip_file, dtype="float32")
    spectrum = np.abs(np.fft.rfft(clip))
    assert np.fft.rfftfreq(clip.size, 1 / sr)[spectrum.argmax()] == pytest.approx(440, abs=2)
