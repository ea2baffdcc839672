"""The studio without a browser: the table operations, the engine's calls into the library (tables <->
scripts, uploads, checks, numbered renders, new takes, the render lock), path safety, the writer switch, the
command line, and the page's stable labels. The browser test is tests/test_studio_e2e.py."""

from __future__ import annotations

import copy
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
from storyaudio.columns import registry
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


def page_table(script: Script) -> engine.Sheet:
    """The script as the page holds it: its rows through the page's table (marked, then read back as the
    handlers read them), the title, the cast, the extension columns and the Episode fields."""
    sheet = engine.table_from_script(script)
    view = table.view(sheet.rows, sheet.columns)
    assert view["headers"] == table.columns(sheet.columns)
    sheet.rows = table.script_rows(view["data"], sheet.columns)
    return sheet


def col(name: str) -> int:
    """A column's index in a Sheet row (no marker column)."""
    return table.index(name)


# -- the table --------------------------------------------------------------------------------------------------

def test_table_headers_are_the_scripts_then_the_studios_chapter():
    assert table.HEADERS == HEADERS
    assert table.COLUMNS == (table.MARK, *HEADERS, table.CHAPTER)
    assert table.columns(["Pan", "File"]) == [*table.COLUMNS, "Pan", "File"]
    assert table.width(["Pan"]) == 10 and table.index("Chapter") == 8 and table.index("Audio Type") == 0


def test_marked_rows_number_and_flag_and_strip_back():
    rows = [["Speech"] * 9, ["Music"] * 9, ["Music"] * 9]
    out = table.marked(rows, errors=[2], warnings=[3])
    assert [r[0] for r in out] == ["1", f"2 {table.ERROR}", f"3 {table.WARNING}"]
    assert table.script_rows(out) == rows  # the marker column goes again
    # empty rows vanish; missing cells are padded; line breaks and tabs inside a cell become spaces
    assert table.script_rows([["9", "Speech", "Foreground", None, "", "", "", "a\tb\nc", 4.0], [""] * 10]) == [
        ["Speech", "Foreground", "", "", "", "", "a b c", "4", ""]]
    # a script with extension columns: the rows are that much wider
    assert table.script_rows([["1", *["x"] * 9, "-0.5"]], ["Pan"]) == [[*["x"] * 9, "-0.5"]]
    assert table.cast_rows([["Ann", None, "v1"], ["", "no name", ""], ["Bob"]]) == [["Ann", "", "v1"],
                                                                                     ["Bob", "", ""]]


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

@pytest.mark.parametrize("name", ["news", "drama", "night-ferry"])
def test_table_round_trip_keeps_the_script(name):
    script = read_script(EXAMPLES / f"{name}.tsv")
    assert engine.script_from_table(page_table(script)).to_dict() == script.to_dict()
    if name in engine.EXAMPLES:
        assert engine.example(name).to_dict() == script.to_dict()


def test_table_with_mistakes_names_row_field_and_fix():
    sheet = page_table(small_script())
    sheet.rows[2][col("Layout")] = "Background"  # speech under other sounds
    sheet.rows[0][col("Volume")] = "loud"
    with pytest.raises(ScriptError) as err:
        engine.script_from_table(sheet)
    where = {(p.row, p.field) for p in err.value.problems}
    assert (1, "volume") in where and (3, "layout") in where
    assert all(p.fix for p in err.value.problems)
    with pytest.raises(ScriptError, match="no rows"):
        engine.script_from_table(engine.Sheet([], "Empty"))


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


# -- chapters, episode metadata, extension columns: nothing a script holds is lost in the page ------------------

FERRY_CHAPTERS = [(1, "Last Crossing"), (6, "The Stowaway"), (11, "Into the Fog")]
FERRY_META = {"author": "storyaudio examples", "album": "Harbour Tales", "year": 2025,
              "cover": "night-ferry-cover.png",
              "description": "A ferry captain, a stowaway and a fog bank: a three-chapter audio drama in miniature."}


def ferry_sheet() -> engine.Sheet:
    """examples/night-ferry.tsv as the page holds it after an upload."""
    return page_table(engine.read_upload(EXAMPLES / "night-ferry.tsv"))


def test_the_page_shows_chapters_and_episode_fields():
    sheet = ferry_sheet()
    assert [(n, r[col("Chapter")]) for n, r in enumerate(sheet.rows, start=1) if r[col("Chapter")]] == \
        FERRY_CHAPTERS
    assert sheet.episode == {k: str(v) for k, v in FERRY_META.items()}
    assert sheet.columns == [] and all(len(r) == table.width() for r in sheet.rows)
    assert [f.key for f in engine.episode_fields()][:5] == list(FERRY_META)


def test_a_cell_edit_keeps_chapters_and_metadata():
    original = read_script(EXAMPLES / "night-ferry.tsv")
    sheet = ferry_sheet()
    sheet.rows[7][col("Content Description")] = "Out you come, stowaway."
    script = engine.script_from_table(sheet)
    assert script.chapters() == original.chapters() == FERRY_CHAPTERS
    assert script.metadata() == original.metadata() == FERRY_META
    assert script.rows[7].content == "Out you come, stowaway."
    assert [r.to_dict() for n, r in enumerate(script.rows) if n != 7] == \
        [r.to_dict() for n, r in enumerate(original.rows) if n != 7]


def test_chapter_and_episode_edits_reach_the_script():
    sheet = ferry_sheet()
    sheet.rows[0][col("Chapter")] = "First Crossing"
    sheet.rows[5][col("Chapter")] = "N/A"  # no chapter here any more: Last Crossing runs on
    sheet.rows[6][col("Chapter")] = "\\None"  # escaped: a chapter titled None
    sheet.episode.update(author="  Mara  Vale ", year="2026", cover="", description="Line one.\nLine two.")
    script = engine.script_from_table(sheet)
    assert script.chapters() == [(1, "First Crossing"), (7, "None"), (11, "Into the Fog")]
    assert (script.author, script.year, script.cover, script.description) == \
        ("Mara Vale", 2026, None, "Line one. Line two.")
    assert script.album == "Harbour Tales"
    sheet.episode["year"] = "next year"
    with pytest.raises(ScriptError) as err:
        engine.script_from_table(sheet)
    assert [p.field for p in err.value.problems] == ["year"]


def test_insert_move_delete_keep_each_chapter_on_its_row():
    sheet = ferry_sheet()
    rows, takes, new = table.insert_row(sheet.rows, 5, {})  # below the horn, the end of Last Crossing
    assert new == 6 and rows[5][col("Chapter")] == "" and len(rows[5]) == table.width()
    rows = table.set_cell(rows, 6, "Content Description", "The horn fades into the night.")
    sheet.rows = rows
    assert engine.script_from_table(sheet).chapters() == [(1, "Last Crossing"), (7, "The Stowaway"),
                                                           (12, "Into the Fog")]
    sheet = ferry_sheet()
    sheet.rows, _, at = table.move_row(sheet.rows, 6, -1, {})  # The Stowaway's first row goes up one
    script = engine.script_from_table(sheet)
    assert at == 5 and script.chapters() == [(1, "Last Crossing"), (5, "The Stowaway"), (11, "Into the Fog")]
    assert script.rows[4].content == "Quiet, curious pizzicato strings."
    assert script.rows[5].content == "A ship's horn blows one long note." and script.rows[5].chapter is None
    sheet = ferry_sheet()
    sheet.rows, _, _ = table.delete_row(sheet.rows, 15, {})  # the fog's End row, then its Begin row
    assert table.delete_note(sheet.rows, 11) == \
        "Chapter 'Into the Fog' now starts at the row after the deleted one (row 11)."
    sheet.rows, _, _ = table.delete_row(sheet.rows, 11, {})
    script = engine.script_from_table(sheet)
    assert script.chapters() == [(1, "Last Crossing"), (6, "The Stowaway"), (11, "Into the Fog")]
    assert script.rows[10].content == "Then keep watch. The fog is coming in."
    assert script.metadata() == FERRY_META


def test_deleting_a_chapters_row_when_it_cannot_move_on():
    rows = [["Speech"] * 8 + ["One"], ["Speech"] * 8 + ["Two"], ["Speech"] * 8 + [""]]
    assert table.delete_note(rows, 1) == \
        "Chapter 'One' was deleted with its first row: the next row starts a chapter of its own."
    new, _, _ = table.delete_row(rows, 1, {})
    assert [r[col("Chapter")] for r in new] == ["Two", ""]
    rows[2][col("Chapter")] = "Three"
    assert table.delete_note(rows, 3) == "Chapter 'Three' was deleted with its first row: no row follows it."
    assert [r[col("Chapter")] for r in table.delete_row(rows, 3, {})[0]] == ["One", "Two"]
    assert table.delete_note(rows, None) == "" and table.delete_note([["Speech"] * 8 + [""]], 1) == ""


def test_extension_columns_and_script_fields_survive_the_page():
    original = Script.from_dict({"title": "Ext", "lexicon": [
        {"word": "Kuiper", "say": "KY-per", "phonemes": None},
        {"word": "Oort", "say": "ort", "phonemes": "ɔːɹt"}], "rows": [
        {**row("music", "background", 1, None, -30, "begin", "wind"), "fade_in": 2},
        {**row(character="Ann", content="The Kuiper belt."), "pan": -0.5, "speed": 1.1, "chapter": "Out"},
        end_row(1),
    ]})
    sheet = page_table(original)
    assert sheet.columns == ["Pan", "Speed", "Fade In"]
    assert sheet.episode["lexicon"] == "Kuiper = KY-per\nOort = ort | ɔːɹt"
    assert sheet.rows[1][col("Chapter"):] == ["Out", "-0.5", "1.1", "N/A"]
    sheet.rows[1][col("Content Description")] = "The Oort cloud."
    script = engine.script_from_table(sheet)
    assert script.extra == original.extra and script.chapters() == [(2, "Out")]
    assert [r.extra for r in script.rows] == [{"fade_in": 2}, {"pan": -0.5, "speed": 1.1}, {}]
    sheet.episode["lexicon"] += "\nno equals sign"
    with pytest.raises(ScriptError) as err:
        engine.script_from_table(sheet)
    assert [p.field for p in err.value.problems] == ["lexicon"] and err.value.problems[0].fix
    sheet.rows, _, new = table.insert_row(sheet.rows, 3, {})
    assert sheet.rows[new - 1][col("Chapter"):] == ["", "", "", ""]  # a new row: no chapter, automatic values


def test_add_column_appends_an_empty_registered_column_and_keeps_everything_else():
    sheet = ferry_sheet()
    sheet.episode["lexicon"] = "Kuiper = KY-per"
    before = copy.deepcopy(sheet)
    assert sheet.columns == []
    # the picker offers the installed extension columns (the registry's, not a list of the studio's own)
    assert engine.addable_columns(sheet.columns) == registry().headers()
    assert {"Pan", "Fade In", "File"} <= set(engine.addable_columns(sheet.columns))

    added = engine.add_column(sheet, "Pan")
    assert added.columns == ["Pan"]
    assert [r[:-1] for r in added.rows] == before.rows  # every old cell, the chapters included
    assert [r[-1] for r in added.rows] == [""] * len(before.rows)  # not set: the automatic value
    assert (added.title, added.cast, added.episode) == (before.title, before.cast, before.episode)
    assert sheet == before  # a new sheet; the one passed in is unchanged
    assert "Pan" not in engine.addable_columns(added.columns)
    # the page's table gains the header and keeps its rows' width
    assert table.view(added.rows, added.columns)["headers"] == [*table.COLUMNS, "Pan"]
    assert table.script_rows(table.view(added.rows, added.columns)["data"], added.columns) == added.rows

    # a header written in another case, or an alias, names the column; the next one goes after Pan
    both = engine.add_column(engine.add_column(added, "fade out"), "fadein")
    assert both.columns == ["Pan", "Fade Out", "Fade In"]
    assert engine.addable_columns(both.columns) == [h for h in registry().headers()
                                                    if h not in ("Pan", "Fade Out", "Fade In")]
    # the empty columns change nothing the script says
    script = engine.script_from_table(both)
    assert script.to_dict() == engine.script_from_table(before).to_dict()
    assert script.chapters() == FERRY_CHAPTERS and script.metadata() == FERRY_META


def test_an_added_columns_cell_is_checked_rendered_and_saved(tmp_path):
    project = engine.Project(tmp_path / "proj")
    sheet = engine.add_column(page_table(engine.example("news")), "Pan")
    pan = col("Chapter") + 1
    speech = next(n for n, r in enumerate(sheet.rows, start=1) if r[col("Audio Type")] == "Speech")
    sheet.rows[speech - 1][pan] = "5"  # out of range: validated like a column a file brought
    _, report = engine.check(sheet, TONE_SETTINGS, project.root)
    assert [(p.row, p.field) for p in report.errors] == [(speech, "pan")] and report.errors[0].fix
    sheet.rows[speech - 1][pan] = "-0.5"
    script, report = engine.check(sheet, TONE_SETTINGS, project.root)
    assert report.ok, report.errors

    path = project.save_script(script, "tsv")
    saved = read_script(path)
    assert [r.extra.get("pan") for r in saved.rows] == [-0.5 if n == speech else None
                                                        for n in range(1, len(saved.rows) + 1)]
    header = next(ln for ln in path.read_text().splitlines() if ln.startswith("Audio Type"))
    assert header.split("\t")[-1] == "Pan"
    reopened = page_table(project.saved_script())  # the next start shows the column with its value
    assert reopened.columns == ["Pan"] and reopened.rows[speech - 1][pan] == "-0.5"

    info = project.render(script, TONE_SETTINGS)
    events = json.loads((info.folder / "timeline.json").read_text())["events"]
    assert next(e["pan"] for e in events if e["row"] == speech) == -0.5


def test_add_column_refuses_a_shown_or_unknown_column_with_a_message():
    sheet = engine.add_column(page_table(engine.example("news")), "Pan")
    with pytest.raises(UserError, match="already has the Pan column") as err:
        engine.add_column(sheet, "pan")
    assert "Columns you can add: Speed" in str(err.value)
    with pytest.raises(UserError, match="no extension column 'Reverb'. Columns you can add: Speed"):
        engine.add_column(sheet, "Reverb")
    with pytest.raises(UserError, match="pick a column first"):
        engine.add_column(sheet, "  ")
    for name in registry().headers()[1:]:
        sheet = engine.add_column(sheet, name)
    with pytest.raises(UserError, match="already shows every installed extension column"):
        engine.add_column(sheet, "File")


@pytest.mark.parametrize("fmt", ["tsv", "json", "md"])
def test_saving_the_page_writes_chapters_and_metadata(tmp_path, fmt):
    project = engine.Project(tmp_path / "proj")
    sheet = ferry_sheet()
    sheet.rows[12][col("Chapter")] = "Land Ho"  # Pip's sighting starts a fourth chapter
    path = project.save_script(engine.script_from_table(sheet), fmt)
    saved = read_script(path)
    assert saved.chapters() == FERRY_CHAPTERS + [(13, "Land Ho")]
    assert saved.metadata() == FERRY_META
    if fmt == "tsv":
        text = path.read_text()
        assert "# Chapter: Land Ho\n" in text and "# Author: storyaudio examples\n" in text
    assert project.saved_script().to_dict() == saved.to_dict()  # what the next start opens


def test_a_render_keeps_chapters_and_finds_the_cover_in_the_project(tmp_path):
    project = engine.Project(tmp_path / "proj")
    sheet = page_table(small_script())
    sheet.rows[0][col("Chapter")] = "Opening"
    sheet.rows[4][col("Chapter")] = "The Door"
    sheet.episode.update(author="Ann Author", year="2025", cover="night-ferry-cover.png")
    _, report = engine.check(sheet, TONE_SETTINGS, project.root)
    assert not report.ok and "night-ferry-cover.png" in report.errors[0].message
    assert str(project.root) in report.errors[0].message  # looked for in the project folder
    (project.root / "night-ferry-cover.png").write_bytes((EXAMPLES / "night-ferry-cover.png").read_bytes())
    script, report = engine.check(sheet, TONE_SETTINGS, project.root)
    assert report.ok, report.errors
    info = project.render(script, TONE_SETTINGS)
    rendered = json.loads((info.folder / "script.json").read_text())
    assert (rendered["author"], rendered["year"], rendered["cover"]) == ("Ann Author", 2025, "night-ferry-cover.png")
    assert [(n, r["chapter"]) for n, r in enumerate(rendered["rows"], start=1) if "chapter" in r] == \
        [(1, "Opening"), (5, "The Door")]
    chapters = json.loads((info.folder / "chapters.json").read_text())
    assert [c["title"] for c in chapters["chapters"]] == ["Opening", "The Door"]


def test_a_missing_cover_is_told_in_the_studios_words(tmp_path):
    """The library's message speaks of the script's folder, --allow-path and # Cover: (the command line's
    words, kept); the page's names the project folder it looked in and the Cover box."""
    project = engine.Project(tmp_path / "proj")
    sheet = page_table(small_script())
    sheet.episode["cover"] = "art/cover.png"

    def cover_error():
        script, report = engine.check(sheet, TONE_SETTINGS, project.root)
        assert script is not None and [p.field for p in report.errors] == ["cover"], report.errors
        problem = report.errors[0]
        for words in ("script's folder", "--allow-path", "# Cover"):
            assert words not in str(problem), words
        return script, problem

    script, problem = cover_error()
    assert problem.message == (f"the cover picture 'art/cover.png' is not in the project folder (looked for "
                               f"{project.root / 'art' / 'cover.png'}).")
    assert problem.fix.startswith(f"put the picture in the project folder {project.root}, or clear the Cover box")
    with pytest.raises(UserError, match="script's folder"):  # the command line's message is the library's own
        engine._library().check(script, engine.render_config(TONE_SETTINGS, base_dir=project.root))
    # a render that finds the cover gone says the same, and leaves no render folder
    with pytest.raises(UserError) as err:
        project.render(script, TONE_SETTINGS)
    assert f"project folder {project.root}, or clear the Cover box" in str(err.value) and project.renders() == []

    (tmp_path / "outside.png").write_bytes((EXAMPLES / "night-ferry-cover.png").read_bytes())
    sheet.episode["cover"] = "../outside.png"
    _, problem = cover_error()
    assert "'../outside.png' is outside the project folder" in problem.message
    assert f"in the project folder {project.root} and write its name in the Cover box" in problem.fix

    (project.root / "cover.png").write_text("not a picture")
    sheet.episode["cover"] = "cover.png"
    _, problem = cover_error()
    assert "'cover.png' is not a JPEG or PNG picture" in problem.message
    assert f"in the project folder {project.root} and write its name in the Cover box" in problem.fix

    sheet.episode["cover"] = ""  # cleared: nothing stops the render
    assert engine.check(sheet, TONE_SETTINGS, project.root)[1].ok


def test_a_missing_file_recording_is_told_in_the_studios_words(tmp_path):
    """The library's messages for a File cell speak of the script's folder and --allow-path (the command line's
    words, kept); the page's name the project folder it looked in and the row's File cell, one problem per
    row, all at once."""
    project = engine.Project(tmp_path / "proj")
    sheet = engine.add_column(page_table(engine.example("news")), "File")
    file = col("Chapter") + 1
    intro, swoosh = 1, 6  # the opening sting and the first transition swoosh
    assert [sheet.rows[n - 1][col("Audio Type")] for n in (intro, swoosh)] == ["Music", "Sound effect"]
    sheet.rows[intro - 1][file] = "audio/intro.wav"
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(24000) / 24000)).astype(np.float32)

    def file_errors():
        script, report = engine.check(sheet, TONE_SETTINGS, project.root)
        assert script is not None
        for problem in report.errors:
            for words in ("script's folder", "--allow-path"):
                assert words not in str(problem), words
        return script, report.errors

    script, errors = file_errors()
    assert [(p.row, p.field) for p in errors] == [(intro, "file")]
    looked = project.root / "audio" / "intro.wav"
    assert errors[0].message == f"the recording 'audio/intro.wav' is not in the project folder (looked for {looked})."
    assert errors[0].fix == (f"put the recording in the project folder {project.root} and write its name relative "
                             "to it in the File cell (e.g. audio/intro.wav), or clear the cell to generate the row.")
    with pytest.raises(ScriptError) as err:  # the command line's message is the library's own
        engine._library().check(script, engine.render_config(TONE_SETTINGS, base_dir=project.root))
    assert [(p.row, p.field) for p in err.value.problems] == [(intro, "file")]
    assert "script's folder" in str(err.value) and "'audio/intro.wav' does not exist" in str(err.value)

    # a recording outside the project folder (it exists, next to it): refused on its row, with the first one
    sf.write(tmp_path / "outside.wav", tone, 24000)
    sheet.rows[swoosh - 1][file] = "../outside.wav"
    script, errors = file_errors()
    assert [(p.row, p.field) for p in errors] == [(intro, "file"), (swoosh, "file")]
    assert errors[1].message == (f"the recording '../outside.wav' is outside the project folder {project.root} "
                                 f"(it points to {tmp_path.resolve() / 'outside.wav'}); the studio reads files only "
                                 "inside the project folder.")
    assert errors[1].fix == errors[0].fix
    with pytest.raises(ScriptError, match="outside the script's folder") as err:
        engine._library().check(script, engine.render_config(TONE_SETTINGS, base_dir=project.root))
    assert "--allow-path" in str(err.value)

    # a render says the same (the rows to mark included) and leaves no render folder
    with pytest.raises(ScriptError) as err:
        project.render(script, TONE_SETTINGS)
    assert err.value.problems == errors and project.renders() == []
    assert not (project.root / "renders").is_dir() or not any((project.root / "renders").iterdir())

    # the recording put in the project folder, the outside one's cell cleared: the row plays the file
    looked.parent.mkdir()
    sf.write(looked, tone, 24000)
    sheet.rows[swoosh - 1][file] = ""
    script, report = engine.check(sheet, TONE_SETTINGS, project.root)
    assert report.ok, report.errors
    info = project.render(script, TONE_SETTINGS)
    events = {e["row"]: e for e in json.loads((info.folder / "timeline.json").read_text())["events"]}
    assert events[intro]["backend"] == "file" and events[swoosh]["backend"] != "file"


def test_check_reports_settings_and_script_problems():
    sheet = page_table(small_script())
    script, report = engine.check(sheet, TONE_SETTINGS)
    assert report.ok and script is not None and len(script.rows) == 6
    _, report = engine.check(sheet, engine.Settings(use={"speech": "nope"}, mp3=False))
    assert not report.ok and "unknown backend 'nope'" in report.errors[0].message
    sheet.rows[5][col("Character")] = "N/A"
    _, report = engine.check(sheet, TONE_SETTINGS)
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

    sheet = page_table(script)
    sheet.rows[5][col("Content Description")] = "eight nine"
    second = project.render(engine.script_from_table(sheet), TONE_SETTINGS)
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
    for name in ("Write", "Validate", "Render", "Play row", "Re-render row", "Add row", "Delete row", "Add column"):
        assert name in buttons, name
    assert buttons["Write"].interactive is False  # no LLM in the test environment
    picker = next(c for c in components if isinstance(c, gr.Dropdown) and c.label == "Extension column")
    assert [value for _, value in picker.choices] == registry().headers()
    labels = {(type(c).__name__, getattr(c, "label", None)) for c in components}
    assert {("File", "Script file"), ("Dataframe", "Script"), ("Audio", "Mix"),
            ("DownloadButton", "Download mix")} <= labels
    script_table = next(c for c in components if isinstance(c, gr.Dataframe) and c.label == "Script")
    assert list(script_table.headers) == list(table.COLUMNS) and script_table.headers[-1] == "Chapter"
    episode = {c.elem_id: c.label for c in components if isinstance(c, gr.Textbox)
               and (c.elem_id or "").startswith("episode-")}
    assert episode == {"episode-author": "Author", "episode-album": "Album", "episode-year": "Year",
                       "episode-cover": "Cover", "episode-description": "Description",
                       "episode-lexicon": "Pronunciation"}

    # "Add column" through the page's own handler: the table gains the column; a refusal is a line in the
    # summary, never an exception
    add = next(f.fn for f in demo.fns.values() if f.name == "on_add_column")
    sheet = page_table(small_script())
    grid, extra, offered, note = add(table.view(sheet.rows, sheet.columns)["data"], [], "Pan")
    assert grid["headers"] == [*table.COLUMNS, "Pan"] and extra == ["Pan"]
    assert table.script_rows(grid["data"], extra) == [r + [""] for r in sheet.rows]
    assert "Pan" not in [value for _, value in offered.choices] and "Added the **Pan** column" in note
    *unchanged, note = add(grid["data"], extra, "Pan")
    assert unchanged == [gr.skip()] * 3  # the table, the columns and the picker stay as they are
    assert note.startswith("✖ Add column: the table already has the Pan column")


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
    for name in ("Write", "Validate", "Render", "Play row", "Re-render row", "Add row", "Delete row", "Add column",
                 "Script file", "Script", "Mix", "Download mix"):
        assert f'"{name}"' in section, name
    assert "storyaudio studio" in text[: text.index("## What it does")]  # on the first screen
