"""Script extensions: the mechanism (registry, composed schema, readers and writers, hooks at every stage) and
the built-in columns, each checked by what it does to the audio (no listening): Pan -> channel balance,
Fade In/Out -> envelope, File -> the file's audio in the mix at the row's loudness, Speed -> duration, Pitch ->
measured f0, Start -> the bed's onset, the lexicon -> the respelled words reach the voice while the subtitles
keep the written ones. Every column is carried by TSV, CSV, Markdown, JSON and `convert`."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf
from helpers import TONE, end_row, row, rms

from storyaudio import backends as backend_registry
from storyaudio import columns
from storyaudio.backends.base import Backend, Clip
from storyaudio.backends.tone import ToneBackend
from storyaudio.cli import main
from storyaudio.columns import Column, Extension
from storyaudio.errors import ScriptError, ScriptReadError, UserError
from storyaudio.mix.loudness import integrated_loudness
from storyaudio.pipeline import RenderConfig, check, render
from storyaudio.script import (ROW_KEYS, Script, check as check_script, load_schema, parse_script_text,
                               read_script, script_to_text, strict_schema)
from storyaudio.script.schema import _validator

SR = 48000
ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("tsv", "csv", "md", "json")


@pytest.fixture
def fresh_registry():
    """Read the installed extensions afresh around a test that changes them."""
    columns.refresh()
    yield
    columns.refresh()


def config(tmp: Path, **kw) -> RenderConfig:
    kw = {"use": TONE, "preset": "none", "picture": False, "force": True, "cache_dir": tmp / "cache", **kw}
    return RenderConfig(**kw)


def window(audio: np.ndarray, start: float, end: float) -> np.ndarray:
    """Samples [start, end) seconds of a (samples, channels) or (samples,) array read by soundfile."""
    return audio[int(round(start * SR)) : int(round(end * SR))]


def jingle(seconds: float = 1.5, rate: int = SR) -> np.ndarray:
    """A stereo test recording (samples, 2): a rising sweep with a little noise, the right channel softer."""
    t = np.arange(int(round(seconds * rate))) / rate
    mono = 0.3 * np.sin(2 * np.pi * (300 + 200 * t) * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    return np.stack([mono, 0.8 * mono], axis=1).astype(np.float32)


def kitchen() -> dict:
    """A script that uses every built-in column, one row per effect, laid out so each can be measured alone."""
    return {"title": "Kitchen", "lexicon": [{"word": "Kuiper", "say": "KY-per", "phonemes": "k'aIp3"}], "rows": [
        {**row(character="Anna", content="The Kuiper belt is far away."), "pan": -1},
        {**row(character="Anna", content="one two three four five six seven eight"), "speed": 2},
        {**row(character="Ben", content="one two three four"), "pitch": 12},
        {**row("music", content="theme", duration=3, volume=-18), "fade_in": 1, "fade_out": 1},
        {**row("music", "background", 1, None, -30, "begin", "bed"), "start": 1.0},
        {**row("sound_effect", content="jingle", volume=-20), "file": "audio/jingle.wav"},
        end_row(1),
        row(character="Ben", content="Thank you."),
    ]}


@pytest.fixture(scope="module")
def show(tmp_path_factory) -> Path:
    """A script folder: the kitchen script in every format, and the recording its File row names."""
    folder = tmp_path_factory.mktemp("show")
    (folder / "audio").mkdir()
    sf.write(folder / "audio" / "jingle.wav", jingle(), SR)
    script = Script.from_dict(kitchen())
    for fmt in FORMATS:
        (folder / f"kitchen.{fmt}").write_text(script_to_text(script, fmt), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def made(show, tmp_path_factory):
    """The kitchen script rendered from its JSON file (tone backends, no mastering)."""
    out = tmp_path_factory.mktemp("made")
    result = render(show / "kitchen.json", out / "out", config(out))
    mix, rate = sf.read(out / "out" / "mix.wav", dtype="float32")
    assert rate == SR
    return result, mix, out / "out"


def event(result, n: int):
    return next(e for e in result.timeline.events if e.row == n)


# -- the mechanism ------------------------------------------------------------------------------------------

def test_builtin_columns_register_like_plugins_and_compose_the_schema(capsys):
    for name, ref in columns.BUILTIN.items():
        module, _, attr = ref.partition(":")
        assert getattr(__import__(module, fromlist=[attr]), attr).name == name
    reg = columns.registry()
    assert [c.header for c in reg.columns] == ["Pan", "Speed", "Pitch", "Start", "Fade In", "Fade Out", "File"]
    assert reg.failed == ()
    schema = load_schema()
    row_schema = schema["$defs"]["row"]
    assert row_schema["required"] == list(ROW_KEYS)  # the eight core keys stay required and unchanged
    assert {"pan", "speed", "pitch", "start", "fade_in", "fade_out", "file"} <= set(row_schema["properties"])
    assert row_schema["additionalProperties"] is False
    assert schema["properties"]["lexicon"]["items"]["required"] == ["word", "say"]
    # the strict variant carries only what the writer may use
    strict = strict_schema()
    strict_row = strict["$defs"]["row"]["properties"]
    assert {"speed", "start"} <= set(strict_row) and not {"pan", "file", "fade_in"} & set(strict_row)
    assert "lexicon" in strict["required"] and "null" in strict["properties"]["lexicon"]["type"]
    # the CLI prints the same
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema
    assert main(["schema", "--strict"]) == 0
    assert json.loads(capsys.readouterr().out) == strict
    assert main(["columns"]) == 0
    listing = capsys.readouterr().out
    assert "Fade Out" in listing and "# Say" in listing


def test_the_validator_is_built_once_per_set_of_extensions():
    assert _validator(columns.registry()) is _validator(columns.registry())
    assert load_schema() is not load_schema()  # callers get their own copy to change


def test_existing_scripts_read_as_before():
    for name in ("news.tsv", "drama.tsv"):
        script = read_script(ROOT / "examples" / name)
        data = script.to_dict()
        assert all(set(r) <= set(ROW_KEYS) | {"chapter"} for r in data["rows"])
        assert "lexicon" not in data and "File" not in script_to_text(script, "tsv")


def test_an_unknown_column_is_an_error_listing_the_known_ones(tmp_path):
    p = tmp_path / "s.tsv"
    p.write_text("Audio Type\tLayout\tID\tCharacter\tVolume\tAction\tContent\tDuration\tReverb\n"
                 "Speech\tForeground\tN/A\tAnn\tN/A\tN/A\tHello.\tAuto\t0.3\n")
    with pytest.raises(ScriptReadError) as err:
        read_script(p)
    message = str(err.value)
    assert "unknown column 'Reverb'" in message
    assert "Audio Type" in message and "Pan" in message and "Fade In" in message and "File" in message
    data = {"title": "t", "rows": [{**row(content="Hello."), "reverb": 0.3}]}
    [p] = check_script(data)
    assert (p.row, p.field) == (1, None) and "'reverb' was unexpected" in p.message
    assert "optionally chapter, pan, speed" in p.fix


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_value_outside_its_schema_names_row_column_and_fix(fmt, tmp_path):
    data = {"title": "t", "rows": [row(content="Hello."), {**row(content="Again."), "pan": 1.5}]}
    text = script_to_text(Script.from_dict({**data, "rows": [data["rows"][0], {**data["rows"][1], "pan": 1}]}),
                          fmt)
    if fmt == "json":
        text = text.replace('"pan": 1', '"pan": 1.5')
    else:
        text = text.replace("| 1 |", "| 1.5 |").replace("\t1\n", "\t1.5\n").replace(",1\n", ",1.5\n")
    (tmp_path / f"s.{fmt}").write_text(text)
    with pytest.raises(ScriptError) as err:
        read_script(tmp_path / f"s.{fmt}")
    [p] = err.value.problems
    assert (p.row, p.field) == (2, "pan") and "1.5 is greater than the maximum of 1" in p.message
    assert "-1 (left)" in p.fix


def test_a_cell_that_is_not_a_value_and_a_column_on_the_wrong_row_are_named(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("Audio Type,Layout,ID,Character,Volume,Action,Content,Duration,Speed,Start\n"
                 "Speech,Foreground,N/A,Ann,N/A,N/A,Hello.,Auto,fast,N/A\n"
                 "Music,Foreground,N/A,N/A,N/A,N/A,theme,3,1.5x,N/A\n"
                 "Speech,Foreground,N/A,Ann,N/A,N/A,Bye.,Auto,N/A,2 s\n")
    with pytest.raises(ScriptError) as err:
        read_script(p)
    problems = {(q.row, q.field): q for q in err.value.problems}
    assert set(problems) == {(1, "speed"), (2, "speed"), (3, "start")}
    assert "'fast' is not a number (Speed column)" in problems[(1, "speed")].message
    assert "Speed is for speech rows; this is a foreground music row" in problems[(2, "speed")].message
    assert "Start is for background begin rows" in problems[(3, "start")].message


class Gain(Extension):
    """A test extension acting at the mix and deliver stages: a row's gain in dB, and a list of them."""

    name = "gain"
    columns = (Column("gain_db", "Gain dB", {"type": "number", "minimum": -40, "maximum": 12}, units=("db",)),)

    def mix(self, source, event, values, ctx):
        return replace(source, gain=source.gain * 10 ** (values["gain_db"] / 20))

    def deliver(self, folder, timeline, clips, ctx):
        lines = [f"{n}\t{r.get('gain_db')}" for n, r in enumerate(ctx.script.rows, 1) if r.get("gain_db")]
        (folder / "gains.tsv").write_text("\n".join(lines) + "\n")
        return {"gains.tsv": folder / "gains.tsv"}


class Faulty(Extension):
    """A test extension with a bug in its clip hook (a yes/no column)."""

    name = "faulty"
    columns = (Column("explode", "Explode", {"type": "boolean"}),)

    def clip(self, audio, sample_rate, ask, values, ctx):
        raise ZeroDivisionError("division by zero")


class Clashing(Extension):
    name = "clashing"
    columns = (Column("pan", "Panorama", {"type": "number"}),)


def test_mix_and_deliver_hooks_and_a_clashing_plugin_left_out_with_the_reason(tmp_path, monkeypatch, capsys,
                                                                              fresh_registry):
    monkeypatch.setitem(columns.BUILTIN, "gain", "test_columns:Gain")
    monkeypatch.setitem(columns.BUILTIN, "clashing", "test_columns:Clashing")
    monkeypatch.setitem(columns.BUILTIN, "faulty", "test_columns:Faulty")
    columns.refresh()
    reg = columns.registry()
    assert "gain_db" in reg.by_key and dict(reg.failed) == {"clashing": "column key 'pan' is taken"}
    p = tmp_path / "s.tsv"
    p.write_text("Audio Type\tLayout\tID\tCharacter\tVolume\tAction\tContent\tDuration\tPanorama\n")
    with pytest.raises(ScriptReadError, match=r"extension 'clashing' \(column key 'pan' is taken\)"):
        read_script(p)
    rows = [row("music", content="a", duration=1), row("music", content="a", duration=1)]
    rows[1]["gain_db"] = -12
    result = render({"title": "g", "rows": rows}, tmp_path / "out", config(tmp_path, ducking=False))
    mix, _ = sf.read(tmp_path / "out" / "mix.wav", dtype="float32")
    first, second = (window(mix, e.start + 0.1, e.end - 0.1) for e in result.timeline.events)
    assert 20 * math.log10(rms(second) / rms(first)) == pytest.approx(-12, abs=0.3)  # same clip (cached), 12 dB down
    assert (tmp_path / "out" / "gains.tsv").read_text() == "2\t-12\n"
    assert "gains.tsv" in json.loads((tmp_path / "out" / ".storyaudio-manifest.json").read_text())["files"]
    # a plugin's bug is a render failure naming the plugin and the row (exit 1), not a traceback
    script = tmp_path / "faulty.tsv"
    script.write_text("Audio Type\tLayout\tID\tCharacter\tVolume\tAction\tContent\tDuration\tExplode\n"
                      "Music\tForeground\tN/A\tN/A\tN/A\tN/A\ttheme\t1\tN/A\n"
                      "Music\tForeground\tN/A\tN/A\tN/A\tN/A\ttheme\t1\tyes\n")
    assert main(["render", str(script), "-o", str(tmp_path / "faulty"), "-q", "--use", "music=tone"]) == 1
    assert capsys.readouterr().err.strip() == ("error: row 2: the 'faulty' extension failed: ZeroDivisionError: "
                                               "division by zero")


# -- every format carries the columns -----------------------------------------------------------------------

def test_every_format_and_convert_carry_every_column(show, made, tmp_path):
    want = Script.from_dict(kitchen()).to_dict()
    for fmt in FORMATS:
        assert read_script(show / f"kitchen.{fmt}").to_dict() == want, fmt
    # convert through every format, one after another
    current = show / "kitchen.json"
    for fmt in ("tsv", "csv", "md", "json", "tsv"):
        nxt = tmp_path / f"converted-{fmt}.{fmt}"
        assert main(["convert", str(current), str(nxt)]) == 0
        assert read_script(nxt).to_dict() == want, fmt
        current = nxt
    tsv = (tmp_path / "converted-tsv.tsv").read_text()
    assert "# Say: Kuiper = KY-per | k'aIp3" in tsv and "\tPan\tSpeed\tPitch\tStart\tFade In\tFade Out\tFile\n" in tsv
    # and a render from each format makes the same mix
    _, mix, _ = made
    for fmt in ("tsv", "csv", "md"):
        out = tmp_path / fmt
        render(show / f"kitchen.{fmt}", out, config(tmp_path))
        assert np.array_equal(sf.read(out / "mix.wav", dtype="float32")[0], mix), fmt


# -- the built-in columns, by their effect ------------------------------------------------------------------

def test_pan_puts_the_row_hard_left(made):
    result, mix, _ = made
    e = event(result, 1)
    assert e.pan == -1.0
    left, right = window(mix, e.start, e.end).T
    assert rms(left) > 0.01 and rms(right) < 1e-4 * rms(left)
    other = event(result, 8)  # a row without a Pan keeps its automatic place
    assert other.pan == -0.3


def test_fades_shape_the_row_envelope(made):
    result, mix, _ = made
    e = event(result, 4)
    assert (e.fade_in, e.fade_out) == (1.0, 1.0)
    level = lambda a, b: rms(window(mix, e.start + a, e.start + b))  # noqa: E731
    steady = level(1.2, 1.8)
    assert level(0.0, 0.05) < 0.05 * steady  # rises from silence
    assert level(0.45, 0.55) == pytest.approx(0.5 * steady, rel=0.15)  # sin^2 fade: half the amplitude half-way
    assert level(2.45, 2.55) == pytest.approx(0.5 * steady, rel=0.15)
    assert level(2.95, 3.0) < 0.05 * steady  # and falls back to it


def test_file_plays_the_recording_at_the_rows_loudness(made, show):
    result, mix, outdir = made
    e = event(result, 6)
    assert e.backend == "file" and e.span == pytest.approx(1.5)  # Duration Auto: the file's length
    assert result.clips[6].detail.startswith("file audio/jingle.wav")
    clip, _ = sf.read(outdir / result.clips[6].clip_file, dtype="float32")
    assert integrated_loudness(clip.T, SR) == pytest.approx(-20, abs=0.5)
    source = jingle()
    heard = window(mix, e.start, e.start + 0.9)  # the bed comes in 1 s later (Start)
    for ch in (0, 1):
        assert np.corrcoef(heard[:, ch], source[: heard.shape[0], ch])[0, 1] > 0.995


def test_speed_changes_the_duration(made):
    result, _, _ = made
    assert event(result, 2).span == pytest.approx(8 * 0.3 / 2, rel=0.02)  # tone speech: 0.3 s a word
    assert result.clips[2].detail.endswith(", then speed 2") and result.clips[2].info["columns"] == {
        "speed": {"speed": 2}}


def f0(audio: np.ndarray) -> float:
    """The fundamental (60 Hz to 1 kHz) from the autocorrelation's strongest peak: the period, whatever the
    harmonics' strengths (Pitch keeps the voice's spectral envelope, so the strongest harmonic may change)."""
    x = (audio if audio.ndim == 1 else audio.mean(axis=1)).astype(np.float64)
    x = x - x.mean()
    ac = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * x.size)) ** 2)[: x.size]
    lo, hi = SR // 1000, SR // 60
    lag = lo + int(np.argmax(ac[lo:hi]))
    a, b, c = ac[lag - 1 : lag + 2]
    return SR / (lag + 0.5 * (a - c) / (a - 2 * b + c))  # the peak between samples


def test_pitch_moves_the_voice_by_its_semitones(made):
    result, _, outdir = made
    voice = float(result.clips[3].detail.split("(")[1].split(" Hz")[0])  # "tone voice tone-low (100 Hz)"
    clip, _ = sf.read(outdir / result.clips[3].clip_file, dtype="float32")
    assert f0(clip) == pytest.approx(voice * 2, rel=0.005)  # 12 semitones: an octave
    assert event(result, 3).span == pytest.approx(4 * 0.3, rel=0.01)  # at the same length


def test_start_brings_the_bed_in_after_its_row(made):
    result, _, outdir = made
    bed, under = event(result, 5), event(result, 6)
    assert bed.start == pytest.approx(under.start + 1.0)
    stem, _ = sf.read(outdir / "stems" / f"{bed.track}.wav", dtype="float32")
    assert rms(window(stem, under.start, bed.start - 0.01)) == 0.0
    assert rms(window(stem, bed.start + 0.2, bed.end - 0.1)) > 1e-3


# -- File ---------------------------------------------------------------------------------------------------

def file_script(name: str = "audio/jingle.wav", duration="auto", audio_type="sound_effect") -> dict:
    content = "Welcome back." if audio_type == "speech" else "jingle"
    return {"title": "f", "rows": [{**row(audio_type, content=content, duration=duration, volume=-20), "file": name}]}


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "show" / "audio").mkdir(parents=True)
    sf.write(tmp_path / "show" / "audio" / "jingle.wav", jingle(), SR)
    return tmp_path / "show"


def test_a_file_row_is_cut_with_a_fade_or_looped_with_crossfades(folder, tmp_path):
    cfg = config(tmp_path, base_dir=folder)
    short = render(file_script(duration=0.8), tmp_path / "short", cfg)
    assert short.timeline.events[0].span == pytest.approx(0.8)
    clip, _ = sf.read(tmp_path / "short" / short.clips[1].clip_file, dtype="float32")
    assert clip.shape[0] == round(0.8 * SR) and rms(clip[-200:]) < 0.02 * rms(clip)  # faded at the cut
    long = render(file_script(duration=4), tmp_path / "long", cfg)
    clip, _ = sf.read(tmp_path / "long" / long.clips[1].clip_file, dtype="float32")
    assert clip.shape[0] == 4 * SR and "looped" in long.clips[1].detail
    source, c = jingle(), int(0.375 * SR)  # crossfades of a quarter of the 1.5 s file
    step = source.shape[0] - c
    second = clip[step + c : step + c + SR // 2, 0]  # the second pass, past its crossfade: the file's own audio
    assert np.corrcoef(second, source[c : c + SR // 2, 0])[0, 1] > 0.999
    levels = [rms(clip[i : i + 2400]) for i in range(0, 3 * SR, 2400)]
    assert min(levels) > 0.5 * np.median(levels)  # no gap where it loops


def test_a_file_outside_the_script_folder_needs_allow_path(folder, tmp_path, capsys):
    outside = tmp_path / "library"
    outside.mkdir()
    sf.write(outside / "sting.flac", jingle(1.0, 44100), 44100)  # another format, another rate
    script = folder / "show.json"
    script.write_text(json.dumps(file_script("../library/sting.flac")))
    assert main(["validate", str(script)]) == 2
    err = capsys.readouterr().err
    assert "row 1, file: the audio file '../library/sting.flac' is outside the script's folder" in err
    assert f"--allow-path {outside.resolve()}" in err
    assert main(["render", str(script), "-o", str(tmp_path / "out"), "-q", "--use", "sound_effect=tone",
                 "--allow-path", str(outside), "--no-picture"]) == 0
    timeline = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert timeline["events"][0]["end"] == pytest.approx(1.0, abs=1e-3)  # the FLAC's length, resampled to 48 kHz


def test_a_file_row_is_rendered_afresh_when_the_file_changes(folder, tmp_path):
    script = folder / "show.json"
    script.write_text(json.dumps(file_script()))
    cfg = config(tmp_path)
    assert render(script, tmp_path / "a", cfg).rendered_rows == [1]
    assert render(script, tmp_path / "b", cfg).cached_rows == [1]
    sf.write(folder / "audio" / "jingle.wav", jingle()[::-1].copy(), SR)  # new contents, same name
    again = render(script, tmp_path / "c", cfg)
    assert again.rendered_rows == [1]
    old, _ = sf.read(tmp_path / "b" / "mix.wav", dtype="float32")
    new, _ = sf.read(tmp_path / "c" / "mix.wav", dtype="float32")
    assert not np.allclose(old, new)


def test_file_rows_need_no_backend_and_bad_files_are_named(folder, tmp_path, monkeypatch):
    monkeypatch.setitem(backend_registry.BUILTIN, "needs-missing", "test_render:MissingDepBackend")
    cfg = config(tmp_path, base_dir=folder, use={"speech": "needs-missing"})
    result = render(file_script(audio_type="speech"), tmp_path / "out", cfg)  # a recorded host segment
    assert result.timeline.events[0].backend == "file"
    assert "Welcome back." in (tmp_path / "out" / "subtitles.srt").read_text()  # its transcript
    (folder / "notes.wav").write_text("not audio")
    with pytest.raises(ScriptError) as err:
        check(file_script("notes.wav"), config(tmp_path, base_dir=folder))
    [p] = err.value.problems
    assert (p.row, p.field) == (1, "file") and "'notes.wav' is not audio storyaudio can read" in p.message
    with pytest.raises(ScriptError, match="does not exist"):
        check(file_script("audio/missing.wav"), config(tmp_path, base_dir=folder))


# -- pronunciation ------------------------------------------------------------------------------------------

class Recorder(Backend):
    """Speech that remembers the text it was given (the tone backend's buzz)."""

    name = "recorder"
    kinds = ("speech",)
    heard: ClassVar[list[str]] = []

    def render(self, event, sample_rate):
        type(self).heard.append(event.content)
        return ToneBackend().render(event, sample_rate)


class PhonemeRecorder(Recorder):
    name = "phoneme-recorder"
    phoneme_input = "espeak"
    heard: ClassVar[list[str]] = []


@pytest.fixture
def recorders(monkeypatch):
    monkeypatch.setitem(backend_registry.BUILTIN, "recorder", "test_columns:Recorder")
    monkeypatch.setitem(backend_registry.BUILTIN, "phoneme-recorder", "test_columns:PhonemeRecorder")
    Recorder.heard.clear()
    PhonemeRecorder.heard.clear()


LEXICON_TSV = ("# Title: Outer\n# Say: Kuiper = KY-per | k'aIp3\n"
               "Audio Type\tLayout\tID\tCharacter\tVolume\tAction\tContent\tDuration\n"
               "Speech\tForeground\tN/A\tAnn\tN/A\tN/A\tThe Kuiper belt, Kuiper's objects.\tAuto\n"
               "Speech\tForeground\tN/A\tAnn\tN/A\tN/A\tNothing to respell.\tAuto\n")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_lexicon_respells_what_the_voice_says_and_subtitles_keep_the_words(fmt, recorders, tmp_path):
    script = Script.from_dict(parse_script_text(LEXICON_TSV, "tsv", "outer.tsv"))
    path = tmp_path / f"outer.{fmt}"
    path.write_text(script_to_text(script, fmt))
    assert main(["render", str(path), "-o", str(tmp_path / "out"), "-q", "--use", "speech=recorder",
                 "--no-picture"]) == 0
    assert sorted(Recorder.heard) == ["Nothing to respell.", "The KY-per belt, KY-per's objects."]
    srt = (tmp_path / "out" / "subtitles.srt").read_text()
    assert "Kuiper belt, Kuiper's objects" in srt and "KY-per" not in srt


def test_phonemes_go_to_a_voice_that_reads_them(recorders, tmp_path):
    script = Script.from_dict(parse_script_text(LEXICON_TSV, "tsv", "outer.tsv"))
    render(script, tmp_path / "out", config(tmp_path, use={"speech": "phoneme-recorder"}))
    assert "The [[k'aIp3]] belt, [[k'aIp3]]'s objects." in PhonemeRecorder.heard


def test_a_lexicon_file_adds_entries_and_the_scripts_own_win(recorders, tmp_path, capsys):
    (tmp_path / "names.tsv").write_text("word\tsay\n# the crew\nKuiper\tKOO-per\nNguyen\tnwin\nVega\tVAY-ga\n")
    script = tmp_path / "s.tsv"
    script.write_text(LEXICON_TSV.replace("Nothing to respell.", "Doctor Nguyen is here."))
    assert main(["render", str(script), "-o", str(tmp_path / "out"), "--use", "speech=recorder", "--no-picture",
                 "--lexicon", str(tmp_path / "names.tsv")]) == 0
    assert sorted(Recorder.heard) == ["Doctor nwin is here.", "The KY-per belt, KY-per's objects."]
    err = capsys.readouterr().err
    assert "warning: script, lexicon: 'Vega' is in the lexicon, but no speech row says it." in err
    (tmp_path / "bad.tsv").write_text("Kuiper KY-per\n")
    assert main(["validate", str(script), "--lexicon", str(tmp_path / "bad.tsv")]) == 2
    assert f"--lexicon {tmp_path / 'bad.tsv'}, line 1" in capsys.readouterr().err


def test_a_word_twice_in_the_lexicon_is_an_error():
    data = {"title": "t", "lexicon": [{"word": "Kuiper", "say": "KY-per"}, {"word": "kuiper", "say": "x"}],
            "rows": [row(content="Kuiper.")]}
    [p] = check_script(data)
    assert (p.row, p.field) == (None, "lexicon") and "'kuiper' is in the lexicon twice" in p.message


# -- a third party's extension, installed for real ----------------------------------------------------------

def test_readme_shows_the_example_plugin_as_it_is():
    readme = (ROOT / "README.md").read_text()
    code = (ROOT / "examples" / "plugins" / "reverb" / "storyaudio_reverb.py").read_text()
    assert len(code.splitlines()) < 60
    assert f"```python\n{code}```" in readme


@pytest.fixture
def reverb_installed(tmp_path, monkeypatch, fresh_registry):
    """examples/plugins/reverb installed with pip into a folder put on sys.path (not into the shared venv)."""
    source = tmp_path / "reverb-src"
    shutil.copytree(ROOT / "examples" / "plugins" / "reverb", source)  # pip builds in the source tree
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, capture_output=True)
    monkeypatch.syspath_prepend(str(target))
    columns.refresh()
    yield
    sys.modules.pop("storyaudio_reverb", None)


def test_the_example_plugin_installs_and_adds_a_reverb_tail(reverb_installed, tmp_path, capsys):
    assert "reverb" in columns.registry().by_key and "reverb" in load_schema()["$defs"]["row"]["properties"]
    assert main(["columns"]) == 0 and "Reverb" in capsys.readouterr().out
    lines = ["Audio Type\tLayout\tID\tCharacter\tVolume\tAction\tContent\tDuration\tReverb",
             "Speech\tForeground\tN/A\tAnn\tN/A\tN/A\tone two three four\tAuto\t{}",
             "Speech\tForeground\tN/A\tAnn\tN/A\tN/A\tfive six\tAuto\tN/A"]
    spans, mixes = {}, {}
    for name, wet in (("dry", "N/A"), ("wet", "0.6")):
        path = tmp_path / f"{name}.tsv"
        path.write_text("\n".join(lines).format(wet) + "\n")
        result = render(path, tmp_path / name, config(tmp_path, ducking=False))
        spans[name] = event(result, 1).span
        mixes[name] = sf.read(tmp_path / name / "mix.wav", dtype="float32")[0]
    dry_end = spans["dry"]
    assert dry_end == pytest.approx(4 * 0.3)
    assert spans["wet"] > dry_end + 1.0  # the tail lengthens the Auto row
    after = lambda m: rms(window(m, dry_end + 0.05, dry_end + 0.3))  # noqa: E731 - the dry render's pause
    assert after(mixes["dry"]) < 1e-4 and after(mixes["wet"]) > 0.01


def test_pitch_shift_keeps_the_voice_envelope_and_time_stretch_the_pitch():
    from storyaudio.columns.dsp import pitch_shift, time_stretch

    t = np.arange(2 * SR) / SR
    formants = lambda f: 1 / (1 + ((f - 700) / 150) ** 2) + 0.5 / (1 + ((f - 1200) / 200) ** 2)  # noqa: E731
    voice = sum(formants(k * 150) * np.sin(2 * np.pi * k * 150 * t) for k in range(1, 26))
    x = (0.3 * voice / np.abs(voice).max()).astype(np.float32)[np.newaxis, :]

    def centroid(a):
        spectrum = np.abs(np.fft.rfft(a[0])) ** 2
        freqs = np.fft.rfftfreq(a.shape[1], 1 / SR)
        return float(spectrum @ freqs / spectrum.sum())

    kept, moved = pitch_shift(x, SR, 5), pitch_shift(x, SR, 5, formants=False)
    for y in (kept, moved):
        assert y.shape == x.shape and f0(y[0]) == pytest.approx(150 * 2 ** (5 / 12), rel=0.005)
    assert centroid(kept) == pytest.approx(centroid(x), rel=0.08)  # the same voice, higher
    assert centroid(moved) > 1.25 * centroid(x)  # the resampled formants moved up with it
    slow = time_stretch(x, SR, 0.8)
    assert slow.shape[1] == round(x.shape[1] / 0.8) and f0(slow[0]) == pytest.approx(150, rel=0.005)
