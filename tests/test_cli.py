"""The command line as a person meets it: usage errors, exit codes, Ctrl-C, the output folder, warnings,
--strict-loudness, and -q leaving nothing behind (real subprocesses where signals or the environment matter)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import TONE, row

from storyaudio import __version__
from storyaudio import backends as registry
from storyaudio.backends.base import Backend, Clip
from storyaudio.backends.tone import ToneBackend
from storyaudio.cli import main
from storyaudio.outdir import MANIFEST

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
USE_TONE = [arg for kind, name in TONE.items() for arg in ("--use", f"{kind}={name}")]


class SlowBackend(ToneBackend):
    """The tone backend, but each clip takes $SLOW_SECONDS and is logged to $SLOW_LOG when it starts."""

    name = "slow"

    def render(self, event, sample_rate):
        with open(os.environ["SLOW_LOG"], "a") as log:
            log.write(f"{event.row}\n")
        time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
        return super().render(event, sample_rate)


class SilentBackend(Backend):
    """Silence: a master that can never reach a loudness target."""

    name = "silent"
    kinds = ("sound_effect",)

    def render(self, event, sample_rate):
        return Clip(np.zeros((1, 2 * sample_rate), np.float32), sample_rate, "silence")


class WarnBackend(ToneBackend):
    """The tone backend, which says it cannot speak the word WARNME."""

    name = "warn"

    def text_problems(self, text, voice):
        return ["the voice has no phonemes for WARNME."] if "WARNME" in text else []


@pytest.fixture
def fake_backends(monkeypatch):
    for name, cls in (("silent", "SilentBackend"), ("warn", "WarnBackend"), ("slow", "SlowBackend")):
        monkeypatch.setitem(registry.BUILTIN, name, f"test_cli:{cls}")


def _script(tmp_path, rows=None, name="s.json", **extra) -> Path:
    path = tmp_path / name
    rows = rows or [row(character="Ann", content="one two three"), row("sound_effect", content="door", duration=1),
                    row(character="Bob", content="four five")]
    path.write_text(json.dumps({"title": "Scene", "rows": rows, **extra}))
    return path


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) -> a hash of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(args, env=None, cwd=None, unset=()) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k not in unset}
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS)])
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "storyaudio", *args], env=full, cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=300)


# -- usage errors ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    ([], "Missing command"),
    (["rendr", "x.tsv"], "No such command 'rendr'"),
    (["render", "--seed", "abc", "x.tsv"], "'--seed'"),
])
def test_usage_errors_in_a_real_process_are_one_line_and_exit_2(args, needle):
    proc = _run(args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert "Usage: storyaudio" in lines[0] and "--help" in lines[0]


@pytest.mark.parametrize("args, needle", [
    (["render"], "Missing argument 'script'. Usage: storyaudio render [OPTIONS] SCRIPT"),
    (["render", "x.tsv", "--bogus"], "No such option: --bogus"),
    (["compose", "a scene"], "Missing option '--out'"),
    (["render", "x.tsv", "--jobs", "many"], "'--jobs'"),
    (["effects"], "Missing argument"),
])
def test_usage_errors_exit_2_with_one_line(capsys, args, needle):
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_version_and_help_exit_0(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"storyaudio {__version__}"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "render" in out and "Exit codes" in out
    assert main(["render", "--help"]) == 0
    assert "--strict-loudness" in capsys.readouterr().out


def test_use_voice_is_not_an_audio_type(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["render", str(_script(tmp_path)), "-o", str(out), "--use", "voice=tone"]) == 2
    err = capsys.readouterr().err
    assert "unknown audio type 'voice'" in err and "speech, music and sound_effect" in err
    assert not out.exists()


@pytest.mark.parametrize("top", ["0", "-3"])
def test_effects_top_must_be_positive(capsys, top):
    assert main(["effects", "rain", "--top", top, "--backend", "foley"]) == 2
    assert "--top" in capsys.readouterr().err


# -- Ctrl-C -----------------------------------------------------------------------------------------------------

DRIVER = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if our parent ignores Ctrl-C
from storyaudio import backends
backends.BUILTIN["slow"] = "test_cli:SlowBackend"
from storyaudio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_during_a_render_exits_130_and_keeps_the_previous_output(tmp_path, monkeypatch, fake_backends):
    rows = [row(character="Ann", content=f"line number {i}") for i in range(24)]
    script = _script(tmp_path, rows)
    out = tmp_path / "out"
    log = tmp_path / "slow.log"
    monkeypatch.setenv("SLOW_LOG", str(log))
    args = ["render", str(script), "-o", str(out), "--use", "speech=slow", "-q", "--no-cache", "-j", "2",
            "--no-picture", "--no-stems"]
    assert main(args) == 0
    before = _snapshot(out)
    log.write_text("")

    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]), SLOW_SECONDS="0.5")
    proc = subprocess.Popen([sys.executable, str(driver), *args, "--seed", "7"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not log.read_text().strip() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until the first clip is being rendered
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert _snapshot(out) == before  # the previous render, byte for byte
    assert not [p.name for p in tmp_path.iterdir() if ".staging-" in p.name]
    started = len(log.read_text().split())
    assert started < len(rows) // 2, f"{started} clips were rendered after Ctrl-C instead of being dropped"


# -- the output folder ------------------------------------------------------------------------------------------

def _render(tmp_path, out, *extra, script=None) -> int:
    return main(["render", str(script or _script(tmp_path)), "-o", str(out), "-q", *USE_TONE, *extra])


@pytest.mark.parametrize("where", ["file", "dev-null", "under-a-file", "unwritable"])
def test_bad_output_folder_is_refused_before_any_rendering(tmp_path, capsys, where):
    target = {"file": tmp_path / "taken.wav", "dev-null": Path("/dev/null"),
              "under-a-file": tmp_path / "taken.wav" / "out", "unwritable": tmp_path / "locked" / "out"}[where]
    (tmp_path / "taken.wav").write_bytes(b"RIFF")
    if where == "unwritable":
        if os.geteuid() == 0:
            target = Path("/proc/storyaudio-test-out")  # not even root writes in /proc
        else:
            (tmp_path / "locked").mkdir(mode=0o500)
    cache = Path(os.environ["STORYAUDIO_CACHE_DIR"])
    assert _render(tmp_path, target) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: output folder") and "-o" in err and "Traceback" not in err
    assert (tmp_path / "taken.wav").read_bytes() == b"RIFF"
    assert not list(cache.rglob("*.npy"))  # no clip was rendered


def test_a_render_replaces_exactly_what_the_last_one_wrote(tmp_path):
    out = tmp_path / "out"
    assert _render(tmp_path, out, "--mp3") == 0
    assert {"mix.mp3", "timeline.png", "stems"} <= {p.name for p in out.iterdir()}
    assert _render(tmp_path, out, "--no-stems", "--no-picture") == 0
    names = {p.name for p in out.iterdir()}
    assert not {"mix.mp3", "timeline.png", "stems"} & names
    assert {"mix.wav", "clips", "timeline.json", MANIFEST} <= names
    listed = json.loads((out / MANIFEST).read_text())["files"]
    assert sorted(listed) == sorted(f for f in _snapshot(out) if f != MANIFEST)
    # a later script with fewer rows leaves none of the old clips behind
    assert _render(tmp_path, out, script=_script(tmp_path, [row(character="Ann", content="alone")], "one.json")) == 0
    assert [p.name for p in (out / "clips").iterdir()] == ["row001-speech.wav"]


def test_files_storyaudio_did_not_write_are_refused_unless_force(tmp_path, capsys):
    out = tmp_path / "out"
    assert _render(tmp_path, out, "--mp3") == 0
    mine = out / "clips" / "my_recording.wav"
    mine.write_bytes(b"my voice")
    before = _snapshot(out)
    assert _render(tmp_path, out) == 2
    err = capsys.readouterr().err
    assert "clips/my_recording.wav" in err and "--force" in err
    assert _snapshot(out) == before
    assert _render(tmp_path, out, "--force") == 0
    assert mine.read_bytes() == b"my voice"  # --force renders, and still deletes nothing of the user's
    assert not (out / "mix.mp3").exists()  # while what storyaudio wrote before is replaced


def test_a_folder_not_made_by_storyaudio_is_refused(tmp_path, capsys):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    assert _render(tmp_path, out) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert _render(tmp_path, out, "--force") == 0
    assert (out / "notes.txt").read_text() == "my notes" and (out / "mix.wav").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _render(tmp_path, empty) == 0


def test_a_folder_rendered_before_manifests_is_taken_over(tmp_path):
    out = tmp_path / "out"
    assert _render(tmp_path, out, "--mp3") == 0
    (out / MANIFEST).unlink()  # as an older storyaudio left it
    assert _render(tmp_path, out) == 0
    assert not (out / "mix.mp3").exists() and (out / MANIFEST).is_file()


def test_stale_staging_folders_of_killed_renders_are_removed(tmp_path):
    out = tmp_path / "out"
    assert _render(tmp_path, out) == 0
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process that has ended: its pid names a killed render's folders
    dead = [tmp_path / ".out.staging-x81k_2q", tmp_path / f".out.staging-{gone.pid}-abc",
            tmp_path / f".out.staging-{os.getpid()}-abc", tmp_path / f".out.old-{gone.pid}"]
    alive = tmp_path / f".out.staging-{os.getppid()}-abc"  # a render still running in another process
    for folder in dead + [alive]:
        (folder / "clips").mkdir(parents=True)
        (folder / "clips" / "row001-speech.wav").write_bytes(b"half")
    assert _render(tmp_path, out) == 0
    assert not any(p.exists() for p in dead)
    assert alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")) == [alive.name]


def test_ctrl_c_while_the_files_are_moved_in_waits_for_the_move(tmp_path, monkeypatch):
    from storyaudio import outdir

    out = tmp_path / "out"
    assert _render(tmp_path, out, "--mp3") == 0
    stage = outdir.prepare(out)
    for name in ("mix.wav", "timeline.json", "clips/row001-speech.wav"):
        (stage.path / name).parent.mkdir(parents=True, exist_ok=True)
        (stage.path / name).write_text(f"new {name}")
    real_replace, sent = os.replace, []
    # Ctrl-C handled as in a terminal, even when this test runs with it ignored (a background job)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    def replace_then_ctrl_c(src, dst):  # Ctrl-C arrives as the first file is moved in
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_ctrl_c)
    try:
        with pytest.raises(KeyboardInterrupt):
            stage.commit()
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.undo()
    assert not stage.path.exists()
    assert sorted(_snapshot(out)) == sorted(["mix.wav", "timeline.json", "clips/row001-speech.wav", MANIFEST])
    assert (out / "mix.wav").read_text() == "new mix.wav"
    assert json.loads((out / MANIFEST).read_text())["files"] == ["clips/row001-speech.wav", "mix.wav",
                                                                 "timeline.json"]


# -- warnings, loudness, timings --------------------------------------------------------------------------------

def test_validate_agrees_with_render_and_prints_warnings(tmp_path, capsys, fake_backends):
    pinned = _script(tmp_path, cast=[{"name": "Ann", "description": None, "voice": "nobody"}])
    assert main(["validate", str(pinned), *USE_TONE]) == 2  # render would refuse the pinned voice
    assert "nobody" in capsys.readouterr().err
    assert main(["render", str(pinned), "-o", str(tmp_path / "o"), *USE_TONE]) == 2
    assert "nobody" in capsys.readouterr().err

    script = _script(tmp_path, [row(character="Ann", content="say WARNME now")], "w.json")
    assert main(["validate", str(script), "--use", "speech=warn"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ok:")
    assert err.strip() == "warning: row 1, content: the voice has no phonemes for WARNME. " \
                          "Fix: respell it in words the voice can say."
    assert main(["render", str(script), "-o", str(tmp_path / "w"), "--use", "speech=warn", "--no-picture"]) == 0
    assert "warning: row 1, content: the voice has no phonemes for WARNME." in capsys.readouterr().err
    assert main(["render", str(script), "-o", str(tmp_path / "w"), "--use", "speech=warn", "-q"]) == 0
    assert capsys.readouterr() == ("", "")


def test_a_master_that_misses_its_preset_warns_and_strict_loudness_exits_3(tmp_path, capsys, fake_backends):
    script = _script(tmp_path, [row("sound_effect", content="nothing", duration=2)])
    out = tmp_path / "out"
    assert main(["render", str(script), "-o", str(out), "--use", "sound_effect=silent"]) == 0
    err = capsys.readouterr().err
    assert "warning: the master misses the podcast preset" in err
    assert main(["render", str(script), "-o", str(out), "--use", "sound_effect=silent", "-q",
                 "--strict-loudness"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: the master misses the podcast preset") and "--strict-loudness" in err
    assert json.loads((out / "loudness.json").read_text())["pass"] is False  # written all the same
    # a master on target passes under --strict-loudness
    assert _render(tmp_path, tmp_path / "ok", "--strict-loudness") == 0


def test_timings_prints_each_stage(tmp_path, capsys, monkeypatch):
    import dataclasses
    import importlib

    import storyaudio

    if "timings" not in {f.name for f in dataclasses.fields(storyaudio.RenderResult)}:
        # a pipeline that does not time its stages yet: give its result two, to see them printed
        pipeline = importlib.import_module(storyaudio.RenderResult.__module__)
        real = pipeline.render

        def with_timings(*args, **kwargs):
            result = real(*args, **kwargs)
            result.timings = {"render clips": 1.25, "mix": 0.5}
            return result

        monkeypatch.setattr(pipeline, "render", with_timings)
    assert _render(tmp_path, tmp_path / "out", "--timings") == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"timings: ([a-z ]+ \d+\.\d\d s, )+total \d+\.\d\d s", line), line


# -- quiet means quiet ------------------------------------------------------------------------------------------

def test_quiet_prints_nothing_and_writes_nothing_outside_the_output_and_cache(tmp_path):
    """Piper (onnxruntime) for the speech, and text the picture's font has no glyphs for (matplotlib warns)."""
    pytest.importorskip("piper")
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    script = _script(tmp_path, [row(character="Ann", content="The rain has stopped."),
                                row("sound_effect", content="雨の音 🌧 rain on a roof", duration=1)],
                     title="雨 🌧")
    proc = _run(["render", str(script), "-o", "out", "-q", "--no-cache", "--use", "sound_effect=tone"],
                env={"HOME": str(home), "STORYAUDIO_CACHE_DIR": str(tmp_path / "cache")}, cwd=work,
                unset=("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "MPLCONFIGDIR",
                       "ORT_DISABLE_TELEMETRY"))  # speech by the default backend, piper
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout, proc.stderr) == ("", "")
    assert [p.name for p in home.iterdir()] == []  # no ~/.config/matplotlib, no ~/.cache/Microsoft/...
    assert [p.name for p in work.iterdir()] == ["out"]
    assert (work / "out" / "timeline.png").is_file()


@pytest.mark.parametrize("how", ["ENOSPC", "libsndfile"])
def test_a_full_disk_is_one_line_exit_2_and_the_previous_render_stays(tmp_path, capsys, monkeypatch, how):
    """The disk filling up while the mix is written (an OSError with ENOSPC, or libsndfile's bare "System
    error" with the disk nearly full) is one line naming the folder and the fixes, not a traceback."""
    import errno
    import shutil
    from collections import namedtuple

    import soundfile

    import storyaudio.mix.mixer as mixer

    out = tmp_path / "out"
    assert _render(tmp_path, out) == 0
    before = _snapshot(out)

    def full(*args, **kwargs):
        if how == "ENOSPC":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise soundfile.LibsndfileError(2, "Error writing: ")  # what a full disk looks like through libsndfile

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(mixer, "mix_to_file", full)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 << 30, (10 << 30) - (1 << 20), 1 << 20))
    capsys.readouterr()
    assert _render(tmp_path, out, "--no-reuse", "--seed", "7") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"the disk holding {out} is full" in err and "--no-stems" in err and "-o" in err
    assert _snapshot(out) == before
