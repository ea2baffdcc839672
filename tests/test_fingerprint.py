"""The clip cache key follows the code a backend runs: a change in a shared module it imports changes it."""

from __future__ import annotations

import sys
import textwrap

import pytest

from storyaudio.cache import clip_key
from storyaudio.fingerprint import code_fingerprint, module_closure


def test_builtin_backends_depend_on_the_shared_code_they_import():
    piper = module_closure("storyaudio.backends.speech.piper")
    assert "storyaudio.audio" in piper  # resampling and fitting
    assert "storyaudio.backends.speech.text" in piper  # text normalisation
    assert "storyaudio.backends.speech.fit" in piper  # shared with espeak
    foley = module_closure("storyaudio.backends.foley")
    assert "storyaudio.backends.foley.dsp" in foley  # imported lazily, inside render
    assert "storyaudio.mix.mixer" not in foley  # a backend never imports the mixer


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A third-party package: a backend module that imports a helper of its own package lazily, and one of
    storyaudio's modules."""
    pkg = tmp_path / "fpplugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("GAIN = 0.5\n")
    (pkg / "unused.py").write_text("X = 1\n")
    (pkg / "backend.py").write_text(textwrap.dedent("""
        from storyaudio.backends.base import Backend

        class PluginBackend(Backend):
            name = "fpplugin"
            def render(self, event, sample_rate):
                from .helper import GAIN
                from storyaudio.audio import fit_length
                return GAIN
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    for name in [m for m in sys.modules if m.startswith("fpplugin")]:
        del sys.modules[name]


def _key(code: str) -> str:
    return clip_key("fpplugin", "1", {}, {"content": "x"}, 48000, code)


def test_changing_an_imported_helper_changes_the_cache_key(plugin):
    closure = module_closure("fpplugin.backend")
    assert {"fpplugin", "fpplugin.backend", "fpplugin.helper", "storyaudio.audio"} <= set(closure)
    assert "fpplugin.unused" not in closure
    before = code_fingerprint("fpplugin.backend")
    assert code_fingerprint("fpplugin.backend") == before  # stable
    (plugin / "unused.py").write_text("X = 2\n")
    code_fingerprint.cache_clear()
    assert code_fingerprint("fpplugin.backend") == before  # code it does not import does not count
    (plugin / "helper.py").write_text("GAIN = 0.25\n")
    code_fingerprint.cache_clear()
    after = code_fingerprint("fpplugin.backend")
    assert after != before
    assert _key(after) != _key(before)
