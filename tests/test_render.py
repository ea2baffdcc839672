"""End to end through the tone test backend: files, timing, loudness, cache, atomic writes, exit codes."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import TONE, end_row, row

from storyaudio import backends as registry
from storyaudio.backends.base import Backend, Clip
from storyaudio.backends.tone import ToneBackend
from storyaudio.cli import main
from storyaudio.errors import BackendUnavailableError, RenderError
from storyaudio.mix.loudness import integrated_loudness, true_peak_dbtp
from storyaudio.pipeline import RenderConfig, render

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


class LongBackend(Backend):
    """Makes twice the asked length, so the core has to cut each clip to its slot."""

    name = "long"
    kinds = ("sound_effect",)

    def render(self, event, sample_rate):
        n = 2 * round((event.duration or 1.0) * sample_rate)
        return Clip(np.full((1, n), 0.2, np.float32), sample_rate, "twice as long")


class PickyBackend(ToneBackend):
    """A tone voice that cannot say a line without letters (as piper's text_problems says of emoji)."""

    name = "picky"

    def text_problems(self, text, voice):
        return [] if any(c.isalpha() for c in text) else ["this line has no letters to speak."]


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
    monkeypatch.setitem(registry.BUILTIN, "long", "test_render:LongBackend")
    monkeypatch.setitem(registry.BUILTIN, "picky", "test_render:PickyBackend")


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
    top = {p.name for p in out.iterdir()}  # nothing else: no working files (the float mix, the master) left over
    assert top == {"mix.wav", "mix.mp3", "script.json", "timeline.json", "subtitles.srt", "subtitles.vtt",
                   "labels.txt", "loudness.json", "timeline.png", "stems", "clips", ".storyaudio-manifest.json",
                   ".storyaudio-reuse"}  # the record a re-render into this folder starts from


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
        clip, sr = sf.read(out / result.clips[e.row].clip_file, dtype="float32", always_2d=True)
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


def test_a_re_render_moves_old_files_aside_rather_than_renaming_over_them(tmp_path, monkeypatch):
    """Renaming a new file over an old one makes ext4 write it out at once (seconds for a long piece's stems):
    the commit moves the old file aside first, and deletes what it moved aside, and what a commit cut short
    left aside is cleared by the next render (not taken for a user's file)."""
    import os

    out = tmp_path / "show"
    cfg = RenderConfig(use=TONE, picture=False)
    render(scene(), out, cfg)
    (out / ".replaced.old-99999").mkdir()
    (out / ".replaced.old-99999" / "0").write_bytes(b"left by a commit cut short")
    over: list[str] = []

    def recording(real):
        def move(src, dst, *a, **k):
            if os.path.exists(dst) and str(dst).endswith(".wav"):
                over.append(str(dst))
            return real(src, dst, *a, **k)
        return move

    monkeypatch.setattr(os, "rename", recording(os.rename))
    monkeypatch.setattr(os, "replace", recording(os.replace))
    edited = scene()
    edited["rows"][3]["content"] = "something else entirely"
    render(edited, out, cfg)
    assert over == []
    assert not [p.name for p in out.iterdir() if p.name.startswith(".replaced")]
    mix, _ = sf.read(out / "mix.wav")
    fresh = render(edited, tmp_path / "fresh", cfg)
    assert np.array_equal(mix, sf.read(fresh.outdir / "mix.wav")[0])


def test_backend_level_offset_is_applied_after_normalisation(tmp_path, extra_backends):
    result = render(scene(), tmp_path / "q", RenderConfig(use={**TONE, "sound_effect": "quiet"}, stems=False,
                                                          picture=False))
    for e in result.timeline.events:
        if e.audio_type == "sound_effect":
            clip, sr = sf.read(tmp_path / "q" / result.clips[e.row].clip_file, dtype="float32", always_2d=True)
            assert integrated_loudness(clip.T, sr) == pytest.approx(e.target_lufs - 6.0, abs=1.0)


class ClickBackend(Backend):
    """A short click in a second of silence: loud for its loudness, as a door slam is."""

    name = "click"
    kinds = ("sound_effect",)

    def render(self, event, sample_rate):
        audio = np.zeros((1, round((event.duration or 1.0) * sample_rate)), np.float32)
        audio[0, 100:148] = np.hanning(48).astype(np.float32) * 0.05
        return Clip(audio, sample_rate, "a click")


def test_normalising_an_impulsive_clip_stops_at_its_peak_ceiling(tmp_path, monkeypatch):
    from storyaudio.pipeline import CLIP_PEAK_DBFS

    monkeypatch.setitem(registry.BUILTIN, "click", "test_render:ClickBackend")
    result = render(scene(), tmp_path / "c", RenderConfig(use={**TONE, "sound_effect": "click"}, stems=False,
                                                          picture=False))
    for e in result.timeline.events:
        if e.audio_type == "sound_effect" and e.layout == "foreground":  # -20 LUFS asked of a click
            clip, sr = sf.read(tmp_path / "c" / result.clips[e.row].clip_file, dtype="float32", always_2d=True)
            peak_db = 20 * np.log10(np.abs(clip).max())
            assert peak_db == pytest.approx(CLIP_PEAK_DBFS, abs=0.01)  # not the +20 dBFS loudness would ask
            assert integrated_loudness(clip.T, sr) < e.target_lufs - 3  # the shortfall is real and visible:
            assert result.clips[e.row].gain_db == pytest.approx(peak_db - 20 * np.log10(0.05), abs=0.05)
    assert result.loudness.passed


class PlosiveSpeech(Backend):
    """A voice whose plosives peak far above its loudness (as espeak's do): a quiet hum with a click a second."""

    name = "plosive"
    kinds = ("speech",)

    def render(self, event, sample_rate):
        n = round(len(event.content.split()) * 0.4 * sample_rate)
        t = np.arange(n) / sample_rate
        audio = (0.01 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)[None]
        audio[0, ::sample_rate] = 0.6
        return Clip(audio, sample_rate, "plosives")


def test_speech_reaches_its_row_loudness_whatever_its_peaks(tmp_path, monkeypatch):
    """The peak ceiling is the sound effects' alone: a line whose plosives would peak over full scale at its
    row's loudness still gets that loudness (the master's limiter holds the peaks)."""
    monkeypatch.setitem(registry.BUILTIN, "plosive", "test_render:PlosiveSpeech")
    result = render(scene(), tmp_path / "p", RenderConfig(use={**TONE, "speech": "plosive"}, stems=False,
                                                          picture=False))
    lines = [e for e in result.timeline.events if e.audio_type == "speech"]
    assert lines
    for e in lines:
        clip, sr = sf.read(tmp_path / "p" / result.clips[e.row].clip_file, dtype="float32", always_2d=True)
        assert integrated_loudness(clip.T, sr) == pytest.approx(e.target_lufs, abs=0.1)
        assert 20 * np.log10(np.abs(clip).max()) > 0  # over full scale in the float clip, as asked
    assert result.loudness.passed and result.loudness.true_peak_dbtp <= -1.0


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


# -- the timeline, its tail, the stages --------------------------------------------------------------------
def test_timeline_json_states_the_tail_and_the_time_of_each_stage(rendered):
    result, out = rendered
    tl = json.loads((out / "timeline.json").read_text())
    frames = sf.info(out / "mix.wav").frames
    assert tl["tail"] == 0.25 and frames == round(tl["duration"] * 48000) + round(tl["tail"] * 48000)
    assert list(tl["timings"]) == ["plan", "clips", "mix", "master", "deliver"] == list(result.timings)
    assert all(v >= 0 for v in tl["timings"].values())
    assert tl["timings"] == {k: round(v, 3) for k, v in result.timings.items()}
    # what rendering made sits beside the placement: the backend's info untouched, gain and level on their own
    e3 = {e["row"]: e for e in tl["events"]}[3]
    assert "gain_db" not in e3["info"] and isinstance(e3["gain_db"], float) and e3["level_db"] == 0.0
    assert e3["clip_file"] == result.clips[3].clip_file == "clips/row003-speech.wav"


def test_on_progress_hears_every_stage_start_and_end_and_each_clip(tmp_path):
    calls = []
    render(scene(), tmp_path / "p", RenderConfig(use=TONE, stems=False, picture=False),
           on_progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert [c[0] for c in calls if c[1] == 0] == ["plan", "clips", "mix", "master", "deliver"]
    clips = [c for c in calls if c[0] == "clips"]
    assert clips == [("clips", k, 6) for k in range(7)] + [("clips", 6, 6)]  # start, each clip, end
    for stage in ("plan", "mix", "master", "deliver"):
        assert [c for c in calls if c[0] == stage] == [(stage, 0, 1), (stage, 1, 1)]


def test_an_exception_from_on_progress_stops_the_render_and_keeps_nothing(tmp_path):
    def stop(stage, done, total):
        if stage == "master":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render(scene(), tmp_path / "stopped", RenderConfig(use=TONE), on_progress=stop)
    assert list(tmp_path.iterdir()) == []  # no output folder, no staging left behind


def test_a_clip_longer_than_its_slot_is_cut_by_the_core_with_a_fade(tmp_path, extra_backends):
    result = render(scene(), tmp_path / "l", RenderConfig(use={**TONE, "sound_effect": "long"}, stems=False,
                                                           picture=False))
    door = {e.row: e for e in result.timeline.events}[6]
    assert door.span == pytest.approx(1.0)  # the row asks 1 s; the backend made 2 s
    clip, sr = sf.read(tmp_path / "l" / result.clips[6].clip_file, dtype="float32", always_2d=True)
    assert clip.shape[0] == sr
    body, edge = np.abs(clip[-2000:-1000]).max(), np.abs(clip[-40:]).max()
    assert body > 0.05 and edge < body / 10  # the last 20 ms fade out: no click at the cut


# -- casting and warnings: check and render agree ----------------------------------------------------------
def test_a_pinned_voice_that_does_not_exist_is_a_clear_error_from_check_and_render(tmp_path):
    from storyaudio.errors import OptionError, ScriptError
    from storyaudio.pipeline import check

    script = scene()
    script["cast"] = [{"name": "Bob", "description": "a man", "voice": "tone-low"},
                      {"name": "Ann", "description": "a woman", "voice": "nobody"}]
    for call in (lambda: check(script, RenderConfig(use=TONE)), lambda: render(script, tmp_path / "x", RenderConfig(use=TONE))):
        with pytest.raises(ScriptError) as err:
            call()
        (problem,) = err.value.problems
        assert problem.field == "cast.1.voice" and "'nobody'" in problem.message and "tone-high" in problem.fix
    with pytest.raises(OptionError, match=r"--voice Ann=ghost: .*Voices: tone-low \(male, adult\)"):
        check(scene(), RenderConfig(use=TONE, voices={"Ann": "ghost"}))
    assert check(script, RenderConfig(use=TONE, voices={"Ann": "TONE-HIGH"})) == []  # --voice wins over the cast
    assert not (tmp_path / "x").exists()


def test_warnings_check_returns_are_on_the_render_result(tmp_path, extra_backends):
    from storyaudio.pipeline import check

    script = scene()
    script["rows"][3]["content"] = "7 8 9 10"
    cfg = RenderConfig(use={**TONE, "speech": "picky"}, stems=False, picture=False)
    warnings = check(script, cfg)
    assert [(w.row, w.field) for w in warnings] == [(4, "content")] and "no letters" in warnings[0].message
    assert render(script, tmp_path / "w", cfg).warnings == warnings


# -- output files ------------------------------------------------------------------------------------------
def test_characters_whose_names_read_alike_get_a_stem_each(tmp_path):
    script = {"title": "t", "rows": [row(character="Mary-Ann", content="one two three"),
                                     row(character="Mary Ann", content="four five six seven")]}
    result = render(script, tmp_path / "m", RenderConfig(use=TONE, picture=False))
    stems = {p.stem: sf.read(p, dtype="float32")[0] for p in (tmp_path / "m" / "stems").glob("*.wav")}
    assert set(stems) == {"speech-mary-ann", "speech-mary-ann-2"}
    first, second = (result.timeline.events[0], result.timeline.events[1])
    sr = 48000
    for name, mine, other in (("speech-mary-ann", first, second), ("speech-mary-ann-2", second, first)):
        audio = stems[name]
        assert np.abs(audio[int(mine.start * sr) : int(mine.end * sr)]).max() > 0.01
        assert np.abs(audio[int(other.start * sr) : int(other.end * sr)]).max() == 0.0


def test_subtitles_are_readable_cues_with_escaped_text(tmp_path):
    long_line = " ".join(f"word{k}" for k in range(40)) + ". Fish & chips <3 --> now."
    script = {"title": "t", "rows": [row(character="Ann <&> Co", content=long_line),
                                     row(character="Bob", content="Short & sweet.")]}
    result = render(script, tmp_path / "s", RenderConfig(use=TONE, picture=False, stems=False))
    vtt = (tmp_path / "s" / "subtitles.vtt").read_text()
    srt = (tmp_path / "s" / "subtitles.srt").read_text()
    assert "<v Ann &lt;&amp;&gt; Co>" in vtt and "Fish &amp; chips &lt;3 --&gt;" in vtt
    assert "<v Bob>Short &amp; sweet." in vtt and "<3" not in vtt
    ann = result.timeline.events[0]
    for text, sep in ((vtt.split("\n\n", 1)[1], "."), (srt, ",")):
        blocks = [b.splitlines() for b in text.strip().split("\n\n")]
        times = []
        for b in blocks:
            assert b[0].isdigit() and b[1].count("-->") == 1  # the arrow only on the timing line
            shown = [html.unescape(re.sub(r"^<v [^>]*>", "", line)) for line in b[2:]]  # what a viewer reads
            assert 1 <= len(shown) <= 2 and all(len(line) <= 42 for line in shown)
            start, end = (_seconds(t, sep) for t in b[1].split(" --> "))
            assert 0 < end - start <= 7.0 + 1e-3
            times.append((start, end))
        ann_cues = [t for t in times if t[0] < ann.end - 1e-3]
        assert len(ann_cues) >= 3  # 12+ s of speech: never one 12 s cue
        assert ann_cues[0][0] == pytest.approx(ann.start, abs=1e-3) and ann_cues[-1][1] <= ann.end + 1e-3
        assert all(a[1] <= b[0] + 1e-3 for a, b in zip(times, times[1:]))  # in order, never overlapping
    srt_lines = [line for b in srt.strip().split("\n\n") for line in b.splitlines()[2:]]
    assert all(len(line) <= 42 for line in srt_lines) and srt_lines[0].startswith("Ann <&> Co: word0")
    assert "-->" not in " ".join(srt_lines) and "→" in srt  # SubRip cannot escape the arrow


def _seconds(stamp: str, sep: str) -> float:
    hms, ms = stamp.split(sep)
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s + int(ms) / 1000


def test_two_renders_sharing_one_cache_at_once_both_succeed_and_match(tmp_path):
    import threading

    cfg = RenderConfig(use=TONE, cache_dir=tmp_path / "cache")
    errors: list[BaseException] = []

    def go(name):
        try:
            render(scene(), tmp_path / name, cfg)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(f"out{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    mixes = [sf.read(tmp_path / f"out{i}" / "mix.wav")[0] for i in range(3)]
    assert all(np.array_equal(mixes[0], m) for m in mixes[1:])
    assert all((tmp_path / f"out{i}" / "timeline.png").stat().st_size > 0 for i in range(3))
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 6


def test_cached_clips_follow_the_core_code_that_converted_them(tmp_path, extra_backends, monkeypatch):
    # the half-rate backend never imports storyaudio.audio, but the core resamples its clips with it before
    # they are cached: a change there must render them afresh
    import storyaudio.pipeline as pipeline

    real = pipeline.code_fingerprint
    version = {"storyaudio.audio": "a"}
    monkeypatch.setattr(pipeline, "code_fingerprint", lambda m: version.get(m) or real(m))
    cfg = RenderConfig(use={**TONE, "sound_effect": "half-rate"}, stems=False, picture=False)
    render(scene(), tmp_path / "a", cfg)
    assert render(scene(), tmp_path / "b", cfg).rendered_rows == []
    version["storyaudio.audio"] = "b"
    assert sorted(render(scene(), tmp_path / "c", cfg).rendered_rows) == [1, 2, 3, 4, 6, 7]


def test_the_beds_rows_are_the_rows_each_background_track_plays_under():
    """What the renderer reads to import a bed's libraries while the foreground renders: only when a row it
    makes anew lies under that bed (news.tsv: the music bed under rows 3-4, the office noise under 8-11)."""
    from storyaudio.pipeline import _beds
    from storyaudio.script import read_script

    script = read_script(Path(__file__).resolve().parent.parent / "examples" / "news.tsv")
    music, effect = object(), object()
    beds = _beds(script, {"music": music, "sound_effect": effect, "speech": object()})
    assert beds == [(music, 2, 5), (effect, 7, 12)]
    script.rows.pop(4)  # the music bed's end row: it plays to the end (and the rows after it move up one)
    assert _beds(script, {"music": music, "sound_effect": effect}) == [(music, 2, len(script.rows) + 1),
                                                                        (effect, 6, 11)]
