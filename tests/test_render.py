"""End to end through the tone test backend: files, timing, loudness, cache, atomic writes, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import TONE, end_row, row

from storyaudio import backends as registry
from storyaudio.backends.base import Backend, Clip
from storyaudio.cli import main
from storyaudio.errors import BackendUnavailableError, RenderError
from storyaudio.mix.loudness import integrated_loudness, true_peak_dbtp
from storyaudio.render import RenderConfig, render

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def scene():
    return {"title": "Scene", "rows": [
        row("music", content="sting", duration=2, volume=-18),
        row("sound_effect", "background", 1, None, -30, "begin", "rain"),
        row(character="Ann", content="one two three four five six", volume=-15),
        row(character="Bob", content="seven eight nine ten", volume=-15),
        end_row(1, "sound_effect"),
        row("sound_effect", content="door", duration=1, volume=-20),
        row(character="Ann", content="eleven twelve", volume=-15),
    ]}


class FailingBackend(Backend):
    name = "failing"
    kinds = ("speech", "music", "sound_effect")

    def render(self, event, sample_rate):
        if "FAIL" in event.content:
            raise ValueError("synthetic failure")
        return Clip(np.full((1, sample_rate), 0.1, np.float32), sample_rate)


class QuietBackend(Backend):
    """Asks for its clips 6 dB under the row's target, as foley does for "distant"."""

    name = "quiet"
    kinds = ("sound_effect",)

    def render(self, event, sample_rate):
        n = round((event.duration or 1.0) * sample_rate)
        noise = np.random.default_rng(event.seed).standard_normal((1, n)).astype(np.float32) * 0.1
        return Clip(noise, sample_rate, "quiet noise", level_db=-6.0)


class NanBackend(Backend):
    """Returns NaN for content with "NAN" in it; counts its calls (so a test can tell a cache hit)."""

    name = "nan"
    kinds = ("sound_effect",)
    calls = 0

    def render(self, event, sample_rate):
        type(self).calls += 1
        audio = np.full((1, sample_rate), 0.1, np.float32)
        if "NAN" in event.content:
            audio[0, 100] = np.nan
        return Clip(audio, sample_rate)


class HalfRateBackend(Backend):
    """Renders at half the asked sample rate, so the core has to resample every clip."""

    name = "half-rate"
    kinds = ("sound_effect",)

    def render(self, event, sample_rate):
        rate = sample_rate // 2
        n = round((event.duration or 1.0) * rate)
        noise = np.random.default_rng(event.seed).standard_normal((1, n)).astype(np.float32) * 0.1
        return Clip(noise, rate, "half-rate noise")


class MissingDepBackend(Backend):
    name = "needs-missing"
    kinds = ("music",)
    requires = ("storyaudio_no_such_module",)
    install_hint = "pip install storyaudio-no-such-module"


@pytest.fixture
def extra_backends(monkeypatch):
    monkeypatch.setitem(registry.BUILTIN, "failing", "test_render:FailingBackend")
    monkeypatch.setitem(registry.BUILTIN, "needs-missing", "test_render:MissingDepBackend")
    monkeypatch.setitem(registry.BUILTIN, "quiet", "test_render:QuietBackend")
    monkeypatch.setitem(registry.BUILTIN, "nan", "test_render:NanBackend")
    monkeypatch.setitem(registry.BUILTIN, "half-rate", "test_render:HalfRateBackend")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("render") / "out"
    result = render(scene(), out, RenderConfig(use=TONE, mp3=True))
    return result, out


def test_every_promised_file_is_there(rendered):
    result, out = rendered
    for name in ("mix.wav", "mix.mp3", "script.json", "timeline.json", "subtitles.srt", "subtitles.vtt",
                 "labels.txt", "loudness.json", "timeline.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    info = sf.info(out / "mix.wav")
    assert info.channels == 2 and info.samplerate == 48000 and info.subtype == "PCM_24"
    stems = sorted((out / "stems").glob("*.wav"))
    assert {p.stem for p in stems} == {"fg-music", "bg1-sound-effect", "speech-ann", "speech-bob", "fg-sound-effect"}
    assert all(sf.info(p).frames == info.frames for p in stems)
    assert len(list((out / "clips").glob("*.wav"))) == 6


def test_timeline_json_describes_every_row(rendered):
    result, out = rendered
    tl = json.loads((out / "timeline.json").read_text())
    assert tl["sample_rate"] == 48000 and tl["duration"] > 0
    rows = {e["row"]: e for e in tl["events"]}
    assert set(rows) == {1, 2, 3, 4, 6, 7}
    for e in rows.values():
        for key in ("audio_type", "layout", "character", "start", "end", "target_lufs", "backend", "detail", "clip_file"):
            assert key in e
        assert (out / e["clip_file"]).is_file()
    assert rows[3]["start"] == pytest.approx(2.0, abs=1e-3)  # after the 2 s sting
    assert rows[2]["start"] == pytest.approx(rows[3]["start"]) and rows[2]["end"] == pytest.approx(rows[4]["end"])
    assert rows[3]["detail"].startswith("tone voice")
    assert tl["casting"]["Ann"] != tl["casting"]["Bob"]


def test_mix_length_and_energy_where_events_are(rendered):
    result, out = rendered
    audio, sr = sf.read(out / "mix.wav", dtype="float32")
    assert audio.shape[0] / sr == pytest.approx(result.timeline.duration + 0.25, abs=0.01)
    tl = {e.row: e for e in result.timeline.events}

    def rms_db(a, b):
        seg = audio[int(a * sr) : int(b * sr)]
        return 10 * np.log10(np.mean(seg**2) + 1e-12)

    speech = tl[3]
    assert rms_db(speech.start + 0.2, speech.end - 0.2) > -40
    assert rms_db(result.timeline.duration + 0.05, result.timeline.duration + 0.25) < -80  # silence after the end


def test_per_event_loudness_and_master(rendered):
    result, out = rendered
    for e in result.timeline.events:
        clip, sr = sf.read(out / e.clip_file, dtype="float32", always_2d=True)
        assert integrated_loudness(clip.T, sr) == pytest.approx(e.target_lufs, abs=1.0), e.row
    audio, sr = sf.read(out / "mix.wav", dtype="float32", always_2d=True)
    assert integrated_loudness(audio.T, sr) == pytest.approx(-16.0, abs=0.5)
    assert true_peak_dbtp(audio.T) <= -1.0 + 0.01  # 24-bit rounding
    report = json.loads((out / "loudness.json").read_text())
    assert report["pass"] is True and report["preset"] == "podcast"


def test_subtitles_and_labels(rendered):
    result, out = rendered
    srt = (out / "subtitles.srt").read_text()
    vtt = (out / "subtitles.vtt").read_text()
    assert srt.count("-->") == 3 and "Ann: one two three" in srt
    assert vtt.startswith("WEBVTT") and "<v Bob>seven eight nine ten" in vtt
    labels = (out / "labels.txt").read_text().strip().splitlines()
    assert len(labels) == 6 and all(len(line.split("\t")) == 3 for line in labels)


def test_cache_rerenders_only_the_edited_row(tmp_path):
    cfg = RenderConfig(use=TONE, stems=False, picture=False)
    first = render(scene(), tmp_path / "a", cfg)
    assert sorted(first.rendered_rows) == [1, 2, 3, 4, 6, 7] and first.cached_rows == []
    edited = scene()
    edited["rows"][3]["content"] = "something else entirely"
    second = render(edited, tmp_path / "b", cfg)
    # the edited speech row; the rain bed spans it, so its length changed too
    assert sorted(second.rendered_rows) == [2, 4]
    again = render(edited, tmp_path / "c", cfg.model_copy(update={"seed": 0}))
    assert again.rendered_rows == []
    a, _ = sf.read(tmp_path / "b" / "mix.wav")
    b, _ = sf.read(tmp_path / "c" / "mix.wav")
    assert np.array_equal(a, b)


def test_failed_render_keeps_previous_good_output(tmp_path, extra_backends):
    out = tmp_path / "show"
    render(scene(), out, RenderConfig(use=TONE, stems=False))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    broken = scene()
    broken["rows"][2]["content"] = "please FAIL here"
    with pytest.raises(RenderError, match="row 3"):
        render(broken, out, RenderConfig(use={**TONE, "speech": "failing"}, stems=False))
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_backend_level_offset_is_applied_after_normalisation(tmp_path, extra_backends):
    result = render(scene(), tmp_path / "q", RenderConfig(use={**TONE, "sound_effect": "quiet"}, stems=False,
                                                          picture=False))
    for e in result.timeline.events:
        if e.audio_type == "sound_effect":
            clip, sr = sf.read(tmp_path / "q" / e.clip_file, dtype="float32", always_2d=True)
            assert integrated_loudness(clip.T, sr) == pytest.approx(e.target_lufs - 6.0, abs=1.0)


def test_bad_clips_are_not_cached(tmp_path, extra_backends):
    broken = scene()
    broken["rows"][5]["content"] = "door NAN"
    cfg = RenderConfig(use={**TONE, "sound_effect": "nan"}, stems=False, picture=False)
    NanBackend.calls = 0
    for attempt in (1, 2):
        with pytest.raises(RenderError, match="NaN"):
            render(broken, tmp_path / "x", cfg)
        # the second try asks the backend again: the NaN clip was never stored
        assert NanBackend.calls == attempt


def test_clips_are_cached_at_the_render_rate(tmp_path, extra_backends):
    cfg = RenderConfig(use={**TONE, "sound_effect": "half-rate"}, stems=False, picture=False)
    first = render(scene(), tmp_path / "a", cfg)
    assert sorted(first.rendered_rows) == [1, 2, 3, 4, 6, 7]
    again = render(scene(), tmp_path / "b", cfg)
    assert again.rendered_rows == [] and sorted(again.cached_rows) == [1, 2, 3, 4, 6, 7]
    a, _ = sf.read(tmp_path / "a" / "mix.wav")
    b, _ = sf.read(tmp_path / "b" / "mix.wav")
    assert np.array_equal(a, b)


def test_missing_dependency_is_a_clear_user_error(tmp_path, extra_backends):
    with pytest.raises(BackendUnavailableError, match="pip install storyaudio-no-such-module"):
        render(scene(), tmp_path / "x", RenderConfig(use={**TONE, "music": "needs-missing"}))


def _write(tmp_path, data, name="s.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize(
    "make_args, needle",
    [
        (lambda p, d: ["render", str(_write(p, {"title": "t", "rows": [row(layout="background")]})), "-o", str(d)],
         "row 1"),
        (lambda p, d: ["render", str(p / "missing.tsv"), "-o", str(d)], "no such file"),
        (lambda p, d: ["render", str(_write(p, scene())), "-o", str(d), "--use", "music=nope"], "unknown backend 'nope'"),
        (lambda p, d: ["render", str(_write(p, scene())), "-o", str(d), "--use", "speech=composer"], "renders music"),
        (lambda p, d: ["render", str(_write(p, scene())), "-o", str(d), "--use", "speech=tone", "--use", "music=tone",
                       "--use", "sfx=tone", "--set", "tone.seconds_per_word=fast"], "seconds_per_word"),
        (lambda p, d: ["render", str(_write(p, scene())), "-o", str(d), "--use", "speech=tone", "--use", "music=tone",
                       "--use", "sfx=tone", "--set", "piper.pace=2"], "not used by this render"),
        (lambda p, d: ["render", str(_write(p, scene())), "-o", str(d), "--use", "speech=tone", "--use", "music=tone",
                       "--use", "sfx=tone", "--preset", "loud"], "unknown master preset"),
        (lambda p, d: ["render", str(_write(p, scene())), "-o", str(d), "--use", "speech=tone", "--use", "music=tone",
                       "--use", "sfx=tone", "--voice", "Zed=tone-low"], "no character 'Zed'"),
        (lambda p, d: ["render", str(_write(p, scene())), "-o", str(d), "--use", "speech=tone", "--use", "music=tone",
                       "--use", "sfx=tone", "--voice", "Ann=nobody"], "pinned to voice 'nobody'"),
        (lambda p, d: ["render", str(_write(p, scene())), "-o", str(d), "--use", "music=needs-missing",
                       "--use", "speech=tone", "--use", "sfx=tone"], "storyaudio-no-such-module"),
        (lambda p, d: ["validate", str(_write(p, {"title": "t", "rows": [row("sound_effect", content="")]}))],
         "row 1, content"),
    ],
)
def test_cli_bad_input_exits_2_with_one_message(tmp_path, capsys, extra_backends, make_args, needle):
    out = tmp_path / "out"
    code = main(make_args(tmp_path, out))
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    assert not out.exists()


def test_cli_render_and_validate_examples(tmp_path, capsys):
    assert main(["validate", str(EXAMPLES / "drama.tsv")]) == 0
    assert "ok:" in capsys.readouterr().out
    out = tmp_path / "news"
    assert main(["render", str(EXAMPLES / "news.tsv"), "-o", str(out), "-q", "--use", "speech=tone",
                 "--use", "music=tone", "--use", "sound_effect=tone", "--preset", "ebu-r128",
                 "--sample-rate", "44100", "--no-stems"]) == 0
    audio, sr = sf.read(out / "mix.wav", dtype="float32", always_2d=True)
    assert sr == 44100 and not (out / "stems").exists()
    assert integrated_loudness(audio.T, sr) == pytest.approx(-23.0, abs=0.5)
