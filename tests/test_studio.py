"""The studio without a browser: the table operations, the engine's calls into the library (tables <->
scripts, uploads, checks, numbered renders, new takes, the render lock), path safety, the writer switch, the
command line, and the page's stable labels. The browser test is tests/test_studio_e2e.py."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import EXAMPLES, TONE, end_row, row

from storyaudio.cli import main
from storyaudio.errors import ScriptError, ScriptReadError, UserError
from storyaudio.script import HEADERS, Script, read_script
from storyaudio.studio import engine, is_local, parse_auth, table

ROOT = Path(__file__).resolve().parent.parent
TONE_SETTINGS = engine.Settings(use=dict(TONE), mp3=False)


def small_script() -> Script:
    return Script.from_dict({"title": "Small", "rows": [
        row("music", content="sting", duration=1, volume=-18),
        row("sound_effect", "background", 1, None, -30, "begin", "rain"),
        row(character="Ann", content="one two three four", volume=-15),
        end_row(1, "sound_effect"),
        row("sound_effect", content="door slam", duration=0.5, volume=-20),
        row(character="Bob", content="five six seven", volume=-15),
    ]})


def page_table(script: Script):
    """The script as the page holds it: marked rows, the title, the cast rows."""
    rows, title, cast = engine.table_from_script(script)
    return table.marked(rows), title, cast


# -- the table --------------------------------------------------------------------------------------------------

def test_table_headers_are_the_scripts():
    assert table.HEADERS == HEADERS
    assert table.COLUMNS[1:] == HEADERS


def test_marked_rows_number_and_flag_and_strip_back():
    rows = [["Speech"] * 8, ["Music"] * 8, ["Music"] * 8]
    out = table.marked(rows, errors=[2], warnings=[3])
    assert [r[0] for r in out] == ["1", f"2 {table.ERROR}", f"3 {table.WARNING}"]
    assert table.script_rows(out) == rows  # the marker column goes again
    # empty rows vanish; missing cells are padded; line breaks and tabs inside a cell become spaces
    assert table.script_rows([["9", "Speech", "Foreground", None, "", "", "", "a\tb\nc", 4.0], [""] * 9]) == [
        ["Speech", "Foreground", "", "", "", "", "a b c", "4"]]


def test_insert_delete_move_carry_the_takes_with_their_rows():
    rows = [[str(i)] * 8 for i in range(1, 5)]
    takes = {2: 1, 4: 3}
    new, moved, sel = table.insert_row(rows, 2, takes)
    assert [r[0] for r in new] == ["1", "2", "Speech", "3", "4"] and sel == 3
    assert moved == {2: 1, 5: 3}
    new, moved, sel = table.delete_row(rows, 2, takes)
    assert [r[0] for r in new] == ["1", "3", "4"] and moved == {3: 3} and sel == 2
    new, moved, sel = table.move_row(rows, 2, +1, takes)
    assert [r[0] for r in new] == ["1", "3", "2", "4"] and moved == {3: 1, 4: 3} and sel == 3
    new, moved, sel = table.move_row(rows, 1, -1, takes)  # the top row cannot go higher
    assert new == rows and moved == takes and sel == 1
    with pytest.raises(IndexError, match="pick a row"):
        table.delete_row(rows, None, takes)
    with pytest.raises(IndexError, match="rows are 1 to 4"):
        table.set_cell(rows, 9, "Layout", "Background")
    assert table.set_cell(rows, 1, "Layout", "Background")[0][1] == "Background"


def test_dropdown_choices_read_any_spelling():
    assert table.choice("sound_effect", "Audio Type") == "Sound effect"
    assert table.choice("BACKGROUND", "Layout") == "Background"
    assert table.choice("", "Action") == "N/A"
    assert table.choice("later", "Action") is None


# -- scripts in and out ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["news", "drama"])
def test_table_round_trip_keeps_the_script(name):
    script = read_script(EXAMPLES / f"{name}.tsv")
    rows, title, cast = page_table(script)
    assert engine.script_from_table(rows, title, cast).to_dict() == script.to_dict()
    assert engine.example(name).to_dict() == script.to_dict()


def test_table_with_mistakes_names_row_field_and_fix():
    rows, title, cast = page_table(small_script())
    rows[2][table.COLUMNS.index("Layout")] = "Background"  # speech under other sounds
    rows[0][table.COLUMNS.index("Volume")] = "loud"
    with pytest.raises(ScriptError) as err:
        engine.script_from_table(rows, title, cast)
    where = {(p.row, p.field) for p in err.value.problems}
    assert (1, "volume") in where and (3, "layout") in where
    assert all(p.fix for p in err.value.problems)
    with pytest.raises(ScriptError, match="no rows"):
        engine.script_from_table([], "Empty", [])


def test_upload_checks_size_format_encoding_and_the_script(tmp_path):
    good = engine.read_upload(EXAMPLES / "news.tsv")
    assert len(good.rows) == 15
    big = tmp_path / "big.tsv"
    big.write_bytes(b"#" * (engine.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(UserError, match="at most 2 MB"):
        engine.read_upload(big)
    with pytest.raises(ScriptReadError, match="unknown script extension"):
        engine.read_upload(EXAMPLES / "news.tsv", name="news.exe")
    latin = tmp_path / "latin.tsv"
    line = "\nSpeech\tForeground\tN/A\tJosé\t-15\tN/A\tOlá\tAuto\n"
    latin.write_bytes("\t".join(HEADERS).encode() + line.encode("latin-1"))
    with pytest.raises(ScriptReadError, match="not UTF-8"):
        engine.read_upload(latin)
    broken = tmp_path / "broken.tsv"
    broken.write_text("\t".join(HEADERS) + "\nSpeech\tBackground\t1\tHost\t-15\tBegin\tHello.\tAuto\n")
    with pytest.raises(ScriptError) as err:
        engine.read_upload(broken)
    assert ("broken.tsv" in str(err.value) and any(p.row == 1 and p.field == "layout" for p in err.value.problems))


def test_check_reports_settings_and_script_problems():
    rows, title, cast = page_table(small_script())
    script, report = engine.check(rows, title, cast, TONE_SETTINGS)
    assert report.ok and script is not None and len(script.rows) == 6
    _, report = engine.check(rows, title, cast, engine.Settings(use={"speech": "nope"}, mp3=False))
    assert not report.ok and "unknown backend 'nope'" in report.errors[0].message
    rows[5][table.COLUMNS.index("Character")] = "N/A"
    _, report = engine.check(rows, title, cast, TONE_SETTINGS)
    assert report.rows("errors") == {6}


def test_backend_choices_and_voices():
    choices = engine.backend_choices()
    for kind in engine.KINDS:
        assert choices[kind][0] == engine.default_backend(kind) or engine.default_backend(kind) not in choices[kind]
        assert "tone" in choices[kind]
    assert ("tone-low — low buzz, 100 Hz", "tone-low") in engine.voices("tone")
    assert engine.voices("no-such-backend") == []


# -- the project: numbered renders, takes, the lock, paths -----------------------------------------------------

def _mix(folder: Path) -> np.ndarray:
    return sf.read(folder / "mix.wav", always_2d=True)[0]


def test_each_render_gets_a_new_folder_and_the_edit_alone_is_rendered(tmp_path):
    project = engine.Project(tmp_path / "proj")
    script = small_script()
    first = project.render(script, TONE_SETTINGS)
    assert first.id == "001" and first.rendered_rows == [1, 2, 3, 5, 6] and first.cached_rows == []
    before = (first.folder / "mix.wav").read_bytes()

    rows, title, cast = page_table(script)
    rows[5][table.COLUMNS.index("Content Description")] = "eight nine"
    second = project.render(engine.script_from_table(rows, title, cast), TONE_SETTINGS)
    assert second.id == "002" and second.rendered_rows == [6] and second.cached_rows == [1, 2, 3, 5]
    assert second.counts == "rendered 1, from cache 4"
    assert (first.folder / "mix.wav").read_bytes() == before  # nothing overwritten
    assert [r.id for r in project.renders()] == ["002", "001"]
    # the second piece is shorter by the one line (tone speech: 0.3 s a word, 3 words -> 2)
    assert _mix(first.folder).shape[0] - _mix(second.folder).shape[0] == pytest.approx(0.3 * 48000, abs=2)
    with zipfile.ZipFile(second.zip) as zf:
        names = set(zf.namelist())
    assert {"render-002/mix.wav", "render-002/timeline.json", "render-002/studio.json",
            "render-002/clips/row006-speech.wav"} <= names
    assert not any(n.endswith(".zip") for n in names)
    saved = json.loads((second.folder / "studio.json").read_text())
    assert saved["rendered_rows"] == [6] and saved["use"] == TONE


def test_rerender_row_makes_a_new_take_of_that_row_only(tmp_path):
    project = engine.Project(tmp_path / "proj")
    script = small_script()
    first = project.render(script, TONE_SETTINGS)
    take = project.render(script, TONE_SETTINGS, reseed={5: 1})
    assert take.rendered_rows == [5] and take.reseed == {5: 1}
    old, _ = project.clip(first.id, 5)
    new, content = project.clip(take.id, 5)
    assert content == "door slam" and new.name == "row005-sound_effect.wav"
    assert not np.allclose(sf.read(old)[0], sf.read(new)[0])  # another take: other noise
    for n in (1, 3, 6):  # the rest is the same audio
        a, _ = project.clip(first.id, n)
        b, _ = project.clip(take.id, n)
        assert np.array_equal(sf.read(a)[0], sf.read(b)[0])
    clip, why = project.clip(take.id, 4)  # an End row has no clip
    assert clip is None and "End row" in why


def test_a_failed_render_leaves_no_folder_and_keeps_the_earlier_ones(tmp_path):
    project = engine.Project(tmp_path / "proj")
    project.render(small_script(), TONE_SETTINGS)
    with pytest.raises(UserError, match="unknown master preset"):
        project.render(small_script(), engine.Settings(use=dict(TONE), preset="loud", mp3=False))
    assert sorted(p.name for p in project.renders_dir.iterdir() if not p.name.startswith(".")) == ["001"]
    assert project.render(small_script(), TONE_SETTINGS).id == "002"


def test_one_render_at_a_time_per_project_the_next_waits(tmp_path):
    project = engine.Project(tmp_path / "proj")
    other = engine.Project(tmp_path / "proj")  # a second page on the same folder shares the lock
    stages: list[str] = []
    with project._render_lock(lambda *a: None):
        worker = threading.Thread(target=lambda: other.render(small_script(), TONE_SETTINGS,
                                                              on_progress=lambda s, d, t: stages.append(s)))
        worker.start()
        deadline = time.monotonic() + 30
        while "queued" not in stages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stages == ["queued"]  # told it waits, and nothing started
        assert not project.renders_dir.exists() or not any(project.renders_dir.iterdir())
    worker.join(timeout=120)
    assert not worker.is_alive() and [r.id for r in project.renders()] == ["001"]
    assert stages[0] == "queued" and "package" in stages


def test_no_page_path_reaches_outside_the_project(tmp_path):
    project = engine.Project(tmp_path / "proj")
    info = project.render(small_script(), TONE_SETTINGS)
    assert project.render_dir(info.id) == info.folder
    for bad in ("../proj", "001/../../x", "/etc", "", None, "1", "abc"):
        with pytest.raises(UserError):
            project.render_dir(bad)
    outside = tmp_path / "outside"
    (outside).mkdir()
    (outside / "mix.wav").write_bytes(b"RIFF")
    os.symlink(outside, project.renders_dir / "999")  # a link out of the project is refused
    with pytest.raises(UserError, match="outside the project"):
        project.render_dir("999")
    assert [r.id for r in project.renders() if r.id != "999"] == ["001"]
    with pytest.raises(UserError, match="outside the project"):
        project.inside("/etc/passwd")
    with pytest.raises(UserError, match="outside the project"):
        project.inside("../elsewhere")
    with pytest.raises(UserError):
        project.save_script(small_script(), "../../evil")


def test_saved_script_is_what_the_next_start_opens(tmp_path):
    project = engine.Project(tmp_path / "proj")
    assert project.saved_script() is None
    project.save_script(small_script(), "json")
    assert project.saved_script().to_dict() == small_script().to_dict()
    path = project.autosave(small_script())  # keeps the format it was saved in
    assert path.name == "script.json" and sorted(p.name for p in project.root.glob("script.*")) == ["script.json"]
    project.save_script(small_script(), "md")
    assert sorted(p.name for p in project.root.glob("script.*")) == ["script.md"]


# -- the writer switch ----------------------------------------------------------------------------------------

@pytest.mark.skipif(importlib.util.find_spec("openai") is None, reason="the writer extra is not installed")
def test_write_is_off_without_an_llm_and_on_with_one(monkeypatch):
    ok, note = engine.writer_status("")
    assert not ok and "no LLM is configured" in note and "OPENAI_API_KEY" in note and "Base URL" in note
    ok, note = engine.writer_status("http://localhost:11434/v1")
    assert ok and "http://localhost:11434/v1" in note
    ok, note = engine.writer_status("not a url")
    assert not ok and "not an endpoint URL" in note
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    ok, note = engine.writer_status("")
    assert ok and "api.openai.com" in note and "sk-test" not in note


# -- the command line -----------------------------------------------------------------------------------------

def test_auth_and_host_rules():
    assert parse_auth("ed:secret:with:colons") == ("ed", "secret:with:colons")
    for bad in ("ed", ":pw", "ed:"):
        with pytest.raises(UserError, match="USER:PASS"):
            parse_auth(bad)
    assert is_local("127.0.0.1") and is_local("localhost") and is_local("::1") and is_local("127.0.0.2")
    assert not is_local("0.0.0.0") and not is_local("192.168.1.5") and not is_local("example.org")


@pytest.fixture
def studio_env(monkeypatch):
    """serve() sets Gradio's environment; put it back afterwards."""
    for key in ("GRADIO_ANALYTICS_ENABLED", "GRADIO_TEMP_DIR"):
        monkeypatch.setenv(key, os.environ.get(key, ""))


def test_cli_refuses_another_host_without_auth(tmp_path, capsys, studio_env):
    code = main(["studio", "--project", str(tmp_path / "p"), "--host", "0.0.0.0"])
    err = capsys.readouterr().err
    assert code == 2 and "--auth USER:PASS" in err and "Traceback" not in err
    assert main(["studio", "--project", str(tmp_path / "p"), "--auth", "nopassword"]) == 2
    assert main(["studio", "--project", str(tmp_path / "p"), "--port", "70000"]) == 2


def test_cli_without_gradio_says_what_to_install(tmp_path, capsys, monkeypatch, studio_env):
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if gradio were not installed
    monkeypatch.delitem(sys.modules, "storyaudio.studio.app", raising=False)
    code = main(["studio", "--project", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'storyaudio[studio]'" in err and "Traceback" not in err


def test_help_lists_studio_without_importing_gradio():
    code = ("import sys; from storyaudio.cli import main; main(['--help']); "
            "print('GRADIO', 'gradio' in sys.modules, 'storyaudio.studio' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120).stdout
    assert "studio" in out and "GRADIO False False" in out


# -- the page -------------------------------------------------------------------------------------------------

@pytest.mark.skipif(importlib.util.find_spec("gradio") is None, reason="the studio extra is not installed")
def test_page_has_the_stable_labels_and_write_is_off_without_an_llm(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    import gradio as gr

    from storyaudio.studio import app

    demo = app.build(engine.Project(tmp_path / "proj"))
    components = list(demo.blocks.values())
    buttons = {c.value: c for c in components if isinstance(c, gr.Button) and not isinstance(c, gr.DownloadButton)}
    for name in ("Write", "Validate", "Render", "Play row", "Re-render row", "Add row", "Delete row"):
        assert name in buttons, name
    assert buttons["Write"].interactive is False  # no LLM in the test environment
    labels = {(type(c).__name__, getattr(c, "label", None)) for c in components}
    assert {("File", "Script file"), ("Dataframe", "Script"), ("Audio", "Mix"),
            ("DownloadButton", "Download mix")} <= labels
    script_table = next(c for c in components if isinstance(c, gr.Dataframe) and c.label == "Script")
    assert list(script_table.headers) == list(table.COLUMNS)


def test_the_pipelines_progress_reports_reach_the_page(tmp_path):
    """Every stage of the library's render, and each clip, reach the page's callback, then the zip."""
    stages: list[tuple[str, int, int]] = []
    project = engine.Project(tmp_path / "proj")
    project.render(small_script(), TONE_SETTINGS, on_progress=lambda *a: stages.append(a))
    names = [s for s, _, _ in stages]
    for stage in ("plan", "clips", "mix", "master", "deliver", "package"):
        assert stage in names, stage
    assert names.index("plan") < names.index("clips") < names.index("mix") < names.index("master") \
        < names.index("deliver") < names.index("package")
    clips = [(done, total) for s, done, total in stages if s == "clips"]
    assert clips[-1][0] == clips[-1][1] == len(small_script().rows) - sum(
        r.action == "end" for r in small_script().rows)  # each clip counted once, to the last


@pytest.mark.skipif(importlib.util.find_spec("gradio") is None, reason="the studio extra is not installed")
def test_status_line_names_the_stage_and_its_count(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    from storyaudio.studio import app

    line = app._progress_text("clips", 3, 12, time.monotonic(), 15)
    assert "plan ✓ → **clips 3/12** → mix → master → deliver" in line
    assert "Queued" in app._progress_text("queued", 0, 0, time.monotonic(), 15)


def test_readme_documents_the_stable_names():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The studio"):]
    for name in ("Write", "Validate", "Render", "Play row", "Re-render row", "Add row", "Delete row",
                 "Script file", "Script", "Mix", "Download mix"):
        assert f'"{name}"' in section, name
    assert "storyaudio studio" in text[: text.index("## What it does")]  # on the first screen
