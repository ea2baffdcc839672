"""Re-rendering into the same folder keeps what did not change (clip files, stems, the mix and the mastering
outside the edited region), and what it writes is byte for byte what a render from scratch writes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from helpers import TONE, end_row, row

from storyaudio.pipeline import RenderConfig, render
from storyaudio.reuse import STATE_DIR

WORDS = "the storm came in at dusk the way the old keeper said it would and the light held".split()


def story() -> dict:
    """About 55 s with the tone backend: 16 lines of three speakers and a few timed effects, with a music bed
    under the first six lines and rain under lines 3 to 11. The lines' volume puts the piece's loudness
    between two steps of the mastering gain's grid, so the small edits below keep the gain (and with it the
    master outside the edit); test_a_new_mastering_gain_... covers an edit that moves it."""
    rows = [row("music", "background", 1, None, -32, "begin", "slow strings")]
    for i in range(16):
        if i == 3:
            rows.append(row("sound_effect", "background", 2, None, -30, "begin", "rain on the roof"))
        if i == 6:
            rows.append(end_row(1, "music"))
        if i == 12:
            rows.append(end_row(2, "sound_effect"))
        words = " ".join(WORDS[(i * 5 + k) % len(WORDS)] for k in range(6 + i % 4))
        rows.append(row(character=("Ann", "Bob", "Cy")[i % 3], content=f"{words} {i}", volume=-15.04))
        if i % 5 == 4:
            rows.append(row("sound_effect", content=f"a door knock {i}", duration=1.5, volume=-20))
    return {"title": "Storm", "rows": rows}


def files(out: Path) -> dict[str, bytes]:
    """Every output file by path, timeline.json without its timings (seconds differ run to run)."""
    got = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_file() and not rel.startswith((STATE_DIR, ".storyaudio-manifest")):
            data = p.read_bytes()
            if p.name == "timeline.json":
                d = json.loads(data)
                d.pop("timings")
                data = json.dumps(d).encode()
            got[rel] = data
    return got


def rerender(tmp_path: Path, before: dict, *afters: dict, **settings):
    """Render ``before``, then each of ``afters`` in turn into the same folder (each keeping what it can), and
    each from scratch into another folder; each pair must hold the same bytes. Returns the last re-render's
    result. (No picture unless asked: it is drawn from the same envelope either way, and takes time.)"""
    config = RenderConfig(use=TONE, **{"picture": False, **settings})
    render(before, tmp_path / "warm", config)
    for i, after in enumerate(afters):
        again = render(after, tmp_path / "warm", config)
        render(after, tmp_path / f"fresh{i}", config.model_copy(update={"reuse": False}))
        warm, fresh = files(tmp_path / "warm"), files(tmp_path / f"fresh{i}")
        assert warm.keys() == fresh.keys() and "mix.wav" in warm
        assert [k for k in warm if warm[k] != fresh[k]] == [], f"edit {i}"
    return again


def _row_of(script: dict, text: str) -> int:
    return next(i for i, r in enumerate(script["rows"]) if r["content"] and text in r["content"])


def test_editing_a_timed_row_mixes_and_masters_only_around_it(tmp_path):
    before = story()
    after = copy.deepcopy(before)
    after["rows"][_row_of(after, "knock 9")]["content"] = "glass breaks on the floor"
    result = rerender(tmp_path, before, after)
    kept = result.reused
    total = result.timeline.mix_samples / result.timeline.sample_rate
    assert kept["clips_kept"] == len(result.timeline.events) - 1  # only the edited effect was made again
    assert kept["stems_remade"] == 1 and kept["mixed_seconds"] < 0.1 * total
    redone, steps = kept["master_steps"]
    assert max(redone) < steps // 3


def test_a_line_of_another_length_keeps_what_comes_before_it(tmp_path):
    before = story()
    after = copy.deepcopy(before)
    line = _row_of(after, " 13")
    after["rows"][line]["content"] += " and then some more words"  # 1.5 s longer: everything after moves
    result = rerender(tmp_path, before, after)
    kept = result.reused
    total = result.timeline.mix_samples / result.timeline.sample_rate
    start = next(e.start for e in result.timeline.events if e.row == line + 1)
    assert kept["mixed_seconds"] < total - start + 10  # the part before the line is not mixed again
    redone, steps = kept["master_steps"]
    assert result.loudness.gain_db == pytest.approx(-0.35) and redone == [8] and steps == 26  # the last 8 steps


@pytest.mark.slow  # a chain of five re-renders (~11 s); the single edits below stay in `make test`
def test_edits_one_after_another_give_the_same_bytes_as_renders_from_scratch(tmp_path):
    """The first line, the last line, a line made louder, a bed's description, then nothing at all: each
    re-render starts from the one before, and each matches a render from scratch (the picture too)."""
    scripts = [story()]
    for edit in ("first line", "last line", "louder line", "bed", "nothing"):
        after = copy.deepcopy(scripts[-1])
        rows = after["rows"]
        if edit == "first line":
            rows[_row_of(after, " 0")]["content"] = "a different first line"
        elif edit == "last line":
            rows[_row_of(after, " 15")]["content"] += " goodbye"
        elif edit == "louder line":
            rows[_row_of(after, " 7")]["volume"] = -9
        elif edit == "bed":
            rows[_row_of(after, "rain")]["content"] = "a lonely wind"
        scripts.append(after)
    result = rerender(tmp_path, *scripts, picture=True)
    # the last re-render changed nothing: no clip, no mix, no mastering step made again
    assert result.reused["mixed_seconds"] == 0 and max(result.reused["master_steps"][0]) == 0
    assert result.reused["clips_kept"] == len(result.timeline.events)


@pytest.mark.slow  # ~2.5 s; CI runs it (make test-slow)
def test_a_new_mastering_gain_masters_everything_again_and_still_matches(tmp_path):
    before = story()
    after = copy.deepcopy(before)
    for r in after["rows"]:
        if r["audio_type"] == "speech":
            r["volume"] = -21  # 6 dB quieter: mastering needs another gain for the whole piece
    result = rerender(tmp_path, before, after)
    redone, steps = result.reused["master_steps"]
    assert redone[-1] == steps


@pytest.mark.parametrize("settings", [{"stems": False, "ducking": False},
                                      pytest.param({"preset": "ebu-r128"}, marks=pytest.mark.slow),
                                      pytest.param({"preset": "none", "sample_rate": 44100}, marks=pytest.mark.slow)])
def test_other_settings_re_render_to_the_same_bytes(tmp_path, settings):
    before = story()
    after = copy.deepcopy(before)
    after["rows"][_row_of(after, "knock 4")]["duration"] = 1.5 + 0.5  # a timed row made longer
    result = rerender(tmp_path, before, after, **settings)  # same bytes as a render from scratch (it asserts)
    # and it kept every clip file but three: the edited row's, and the music bed's and the rain's, which play
    # across it (their spans grew with it)
    assert result.reused["clips_kept"] == len(result.timeline.events) - 3


@pytest.mark.slow  # ~4 s: five renders; the other reuse checks stay in `make test`
def test_a_record_of_other_settings_or_of_files_changed_since_is_not_trusted(tmp_path):
    script = story()
    out = tmp_path / "out"
    render(script, out, RenderConfig(use=TONE))
    other = render(script, out, RenderConfig(use=TONE, duck_db=-12))  # another ducking depth: mixed whole
    assert other.reused["mixed_seconds"] == other.timeline.mix_samples / other.timeline.sample_rate
    data = bytearray((out / "mix.wav").read_bytes())  # someone edits mix.wav in place
    data[-600:] = bytes(600)
    (out / "mix.wav").write_bytes(bytes(data))
    again = render(script, out, RenderConfig(use=TONE, duck_db=-12))
    assert again.reused["mixed_seconds"] > 0  # the edited file was not taken as the old master
    render(script, tmp_path / "fresh", RenderConfig(use=TONE, duck_db=-12, reuse=False))
    assert files(out) == files(tmp_path / "fresh")


def test_render_watch_renders_again_when_the_script_is_saved(tmp_path):
    """`storyaudio render --watch`: a first render, then another each time the file changes (keeping what did
    not change: its line says so); a broken save is reported and waited out; Ctrl-C ends it with code 0."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script, out = tmp_path / "s.json", tmp_path / "out"
    script.write_text(json.dumps(story()))
    args = [a for kind, name in TONE.items() for a in ("--use", f"{kind}={name}")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    # Ctrl-C as in a terminal, even if our parent ignores it (a shell's background job starts with SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler)
    code = ("import signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "from storyaudio.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.Popen([sys.executable, "-c", code, "render", str(script), "-o", str(out), "--watch",
                             "--no-picture", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def wait_for(check, seconds=60.0):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if check():
                return True
            time.sleep(0.1)
        return False

    try:
        assert wait_for(lambda: (out / "timeline.json").exists())
        first = (out / "mix.wav").stat().st_mtime_ns
        time.sleep(0.6)  # past the first render's watch start
        script.write_text("{ not json")  # a broken save: reported, the watch goes on
        time.sleep(1.0)
        edited = story()
        edited["rows"][_row_of(edited, "knock 9")]["content"] = "glass breaks on the floor"
        script.write_text(json.dumps(edited))
        assert wait_for(lambda: (out / "mix.wav").stat().st_mtime_ns != first)
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "rendered again" in stdout and "1 clips made" in stdout
    assert "not valid JSON" in stderr and "stopped watching" in stderr
    assert json.loads((out / "script.json").read_text())["rows"][_row_of(edited, "glass")]["content"] == \
        "glass breaks on the floor"


def test_edits_to_extension_columns_rerender_the_same_bytes_as_from_scratch(tmp_path):
    """The script's extension columns change clips (Speed, Pitch), placement (Fade In) and the mixer's sources
    (Pan): a re-render after editing them keeps what it can and still writes a render from scratch's bytes."""
    before = story()
    line = _row_of(before, " 4")
    before["rows"][line]["speed"] = 1.25
    before["rows"][_row_of(before, " 7")]["pan"] = -0.5
    after = copy.deepcopy(before)
    after["rows"][line]["speed"] = 0.8  # a slower line: a new clip, longer, everything after it moves
    after["rows"][_row_of(after, " 7")]["pan"] = 0.6  # the same clip, panned the other way
    after["rows"][_row_of(after, " 11")]["pitch"] = 3
    after["rows"][_row_of(after, " 13")]["fade_in"] = 0.4
    result = rerender(tmp_path, before, after)
    assert 0 < result.reused["clips_kept"] < len(result.timeline.events)  # the untouched lines' files were kept
