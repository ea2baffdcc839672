"""Bad and awkward input (issue 11, "Input"): every source is checked the same way, every error names the
row, the field and the fix, and nothing is lost on the way through the formats."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest
from helpers import TONE, end_row, row

import storyaudio.script as script_pkg
from storyaudio.errors import Problem, ScriptError, ScriptReadError
from storyaudio.pipeline import RenderConfig, check as render_check, render
from storyaudio.script import (HEADERS, MAX_ROWS, MAX_TOTAL_SECONDS, MIN_SECONDS, Script, check, load_schema,
                               read_script, script_to_text, write_script)
from storyaudio.writer.reply import parse_reply


def at(problems: list[Problem]) -> set[tuple]:
    return {(p.row, p.field) for p in problems}


def table(*rows: str, head: str = "\t".join(HEADERS), pre: str = "") -> str:
    return pre + head + "\n" + "\n".join(rows) + "\n"


# -- non-finite numbers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, token", [("volume", "NaN"), ("duration", "NaN"), ("volume", "-Infinity"),
                                          ("duration", "Infinity")])
def test_non_finite_numbers_in_a_json_file_are_errors_naming_row_and_field(tmp_path, field, token):
    first = json.dumps(row(content="one"))
    second = json.dumps({**row(content="two"), field: 0}).replace(f'"{field}": 0', f'"{field}": {token}')
    path = tmp_path / "s.json"
    path.write_text('{"title": "t", "rows": [' + first + ", " + second + "]}")
    with pytest.raises(ScriptError) as info:
        read_script(path)
    hits = [p for p in info.value.problems if (p.row, p.field) == (2, field)]
    assert len(hits) == 1, [str(p) for p in info.value.problems]  # one problem, not one per failed keyword
    assert "not a number" in hits[0].message and hits[0].fix


def test_non_finite_numbers_from_an_llm_reply_are_caught_by_check():
    reply = '{"title": "t", "rows": [{"audio_type": "speech", "layout": "foreground", "character": "A", ' \
            '"content": "Hi.", "volume": NaN, "duration": "auto"}]}'
    data, problems = parse_reply(reply)
    assert problems == [] and math.isnan(data["rows"][0]["volume"])
    assert (1, "volume") in at(check(data))
    with pytest.raises(ScriptError):
        Script.from_dict(data)


def test_a_number_too_large_for_a_float_reads_as_infinity_and_is_refused(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text(table("Speech\tForeground\tN/A\tAnn\t-1e999\tN/A\tHi.\tAuto"))
    with pytest.raises(ScriptError) as info:
        read_script(path)
    assert (1, "volume") in at(info.value.problems)


# -- size limits -------------------------------------------------------------------------------------------

def test_a_cell_over_the_csv_field_limit_gets_the_columns_own_limit(tmp_path):
    huge = "word " * 40_000  # 200,000 characters, over the csv module's 131,072
    path = tmp_path / "s.csv"
    path.write_text(table("Speech,Foreground,N/A,Ann,-15,N/A,Hello.,Auto",
                          "Speech,Foreground,N/A,Ann,-15,N/A,Again.,Auto",
                          f"Speech,Foreground,N/A,Ann,-15,N/A,{huge},Auto", head=",".join(HEADERS)))
    with pytest.raises(ScriptError) as info:
        read_script(path)
    [p] = info.value.problems
    assert (p.row, p.field) == (3, "content")
    assert "longer than 2,000 characters" in p.message and len(str(p)) < 300


def test_ten_thousand_rows_are_fine_and_one_more_is_one_line_naming_limit_and_fix():
    assert MAX_ROWS == 10_000 == load_schema()["properties"]["rows"]["maxItems"]
    data = {"title": "long", "rows": [row(content="Hello there.") for _ in range(MAX_ROWS)]}
    assert check(data) == []
    data["rows"].append(row(content="One too many."))
    [p] = check(data)
    assert (p.row, p.field) == (None, "rows")
    assert "10,001 rows" in p.message and "10,000" in p.message
    assert "split the piece into several scripts" in p.fix
    assert "\n" not in str(p) and len(str(p)) < 300  # one line, no rows dumped


def test_four_hours_is_the_duration_limit():
    assert MAX_TOTAL_SECONDS == 4 * 3600
    hour = [row("sound_effect", content="hum", duration=600)] * 6
    assert check({"title": "t", "rows": hour * 3 + hour[:5]}) == []  # 3 h 50 min
    [p] = check({"title": "t", "rows": hour * 4 + hour[:1]})  # 4 h 10 min
    assert p.field == "rows" and "4-hour limit" in p.message and "split" in p.fix


# -- table shapes ------------------------------------------------------------------------------------------

def test_a_column_named_twice_is_an_error_naming_both(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text(table("Speech\tForeground\tN/A\tAnn\t-15\tN/A\tHi.\tAuto\tHi.",
                          head="\t".join(HEADERS) + "\tContent"))
    with pytest.raises(ScriptReadError, match=r"columns 7 \('Content Description'\) and 9 \('Content'\)"):
        read_script(path)


def test_empty_columns_and_empty_rows_from_spreadsheets_are_ignored(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(table("Speech,Foreground,N/A,Ann,-15,N/A,Hi.,Auto,,", ",,,,,,,,,",
                          "Music,Foreground,N/A,N/A,-18,N/A,A sting.,3",  # an editor that trims empty cells
                          head=",".join(HEADERS) + ",,", pre='"# Title: My Show",,,,,,,,,\n# Author: Jo,,,,,,,,,\n'))
    s = read_script(path)
    assert [r.audio_type for r in s.rows] == ["speech", "music"]
    assert s.title == "My Show" and s.author == "Jo"
    # a headerless column that holds something is not silently dropped
    path.write_text(table("Speech,Foreground,N/A,Ann,-15,N/A,Hi.,Auto,oops", head=",".join(HEADERS) + ","))
    with pytest.raises(ScriptReadError, match="column 9 has no header, but row 1 has 'oops'"):
        read_script(path)


def test_semicolon_separated_csv_is_sniffed(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(table("Speech;Foreground;N/A;Ann;-15;N/A;Hello, world.;Auto",
                          "Sound effect;Foreground;;;;;Knock;1.5", head=";".join(HEADERS)))
    s = read_script(path)
    assert s.rows[0].content == "Hello, world." and s.rows[1].seconds == 1.5


def test_exponent_numbers_read_as_numbers(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text(table("Sound effect\tForeground\tN/A\tN/A\t-1.5E1 LUFS\tN/A\tKnock.\t2.5e0 s",
                          "Music\tForeground\tN/A\tN/A\t-2e1\tN/A\tSting.\t.5"))
    s = read_script(path)
    assert (s.rows[0].volume, s.rows[0].seconds) == (-15, 2.5)
    assert (s.rows[1].volume, s.rows[1].seconds) == (-20, 0.5)


@pytest.mark.parametrize("cell", ["1.5", "inf", "nan", "one"])
def test_a_track_id_that_is_not_a_whole_number_is_an_error(tmp_path, cell):
    path = tmp_path / "s.tsv"
    path.write_text(table(f"Music\tBackground\t{cell}\tN/A\t-30\tBegin\tRain.\tAuto",
                          "Speech\tForeground\tN/A\tAnn\t-15\tN/A\tHi.\tAuto",
                          "Music\tBackground\t1\tN/A\tN/A\tEnd\tN/A\tN/A"))
    with pytest.raises(ScriptError) as info:
        read_script(path)
    assert (1, "id") in at(info.value.problems)
    assert "whole number" in str(info.value)


def test_a_track_id_written_as_a_whole_float_is_that_integer(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text(table("Music\tBackground\t2.0\tN/A\t-30\tBegin\tRain.\tAuto",
                          "Speech\tForeground\tN/A\tAnn\t-15\tN/A\tHi.\tAuto",
                          "Music\tBackground\t2\tN/A\tN/A\tEnd\tN/A\tN/A"))
    assert read_script(path).rows[0].id == 2 and isinstance(read_script(path).rows[0].id, int)


# -- lossless conversion -----------------------------------------------------------------------------------

def _awkward() -> dict:
    return {"title": "Pipes | and N/A", "cast": [{"name": "Ann | Bo", "description": "calm | warm", "voice": "N/A"},
                                                  {"name": "N/A", "description": None, "voice": None}],
            "rows": [row(character="Ann | Bo", content="N/A"), row(character="N/A", content="none"),
                     row(character="Ann | Bo", content="\\N/A"), row("music", content="-", duration=None),
                     row(character="Ann | Bo", content="back\\slash | pipe \\| both")]}


@pytest.mark.parametrize("ext", [".tsv", ".csv", ".md", ".json"])
def test_convert_keeps_pipes_and_the_text_na(tmp_path, ext):
    script = Script.from_dict(_awkward())
    again = read_script(write_script(script, tmp_path / f"s{ext}"))
    assert again.to_dict() == script.to_dict()
    assert again.rows[0].content == "N/A" and again.rows[1].character == "N/A" and again.cast[0].voice == "N/A"


def test_line_breaks_in_text_become_one_space_everywhere(tmp_path):
    data = {"title": "Two\nlines", "rows": [row(content="Hello,\r\n  world.\u2028Bye."), row(content=" \t\n ok ")]}
    script = Script.from_dict(data)
    assert script.title == "Two lines"
    assert [r.content for r in script.rows] == ["Hello, world. Bye.", "ok"]
    assert json.loads(script_to_text(script, "json"))["rows"][0]["content"] == "Hello, world. Bye."
    # a quoted multi-line CSV cell (as spreadsheets write them) reads the same
    path = tmp_path / "s.csv"
    path.write_text(table('Speech,Foreground,N/A,Host,N/A,N/A,"Hello,\n  world.",Auto', head=",".join(HEADERS)))
    assert read_script(path).rows[0].content == "Hello, world."


# -- validate and render agree -----------------------------------------------------------------------------

def test_a_background_row_too_short_to_render_is_refused_by_validate_and_render_alike(tmp_path):
    data = {"title": "t", "rows": [row("sound_effect", "background", 1, None, -30, "begin", "Rain.", 0.001),
                                   row(content="Hello there."), end_row(1, "sound_effect")]}
    assert MIN_SECONDS == 0.05
    (tmp_path / "s.json").write_text(json.dumps(data))
    with pytest.raises(ScriptError) as validated:
        read_script(tmp_path / "s.json")  # what `storyaudio validate` runs
    config = RenderConfig(use=TONE, picture=False, stems=False)
    with pytest.raises(ScriptError) as checked:
        render_check(data, config)
    with pytest.raises(ScriptError) as rendered:
        render(data, tmp_path / "out", config)
    for info in (validated, checked, rendered):
        [p] = info.value.problems
        assert (p.row, p.field) == (1, "duration")
        assert "too short to render" in p.message and "0.05" in p.message
    assert not (tmp_path / "out").exists()
    data["rows"][0]["duration"] = MIN_SECONDS
    assert check(data) == []


def test_a_speech_duration_far_shorter_than_its_words_is_a_warning_not_an_error():
    words = "This line has quite a few words in it, far too many for one second."
    script = Script.from_dict({"title": "t",
                               "rows": [row(content=words, duration=1), row(content="Fine.", duration=2)]})
    [w] = script.warnings
    assert (w.row, w.field) == (1, "duration") and "far shorter" in w.message and w.fix
    assert "warnings" not in script.to_dict()


# -- warnings ----------------------------------------------------------------------------------------------

def test_cast_entries_that_never_speak_and_names_differing_by_case_are_warnings():
    data = {"title": "t",
            "cast": [{"name": "Anna", "description": "young", "voice": None},
                     {"name": "Ghost", "description": None, "voice": None},
                     {"name": "Bob", "description": None, "voice": None}],
            "rows": [row(character="ANNA", content="Hi."), row(character="Bob", content="Hello."),
                     row(character="Anna", content="Bye."), row(character="Mary Ann", content="Hm."),
                     row(character="MaryAnn", content="Hm?")]}
    script = Script.from_dict(data)  # warnings only: it is still a valid script
    found = {(w.row, w.field): w for w in script.warnings}
    assert "'Anna' and 'ANNA' (row 1)" in found[(3, "character")].message
    assert "'MaryAnn' and 'Mary Ann' (row 4)" in found[(5, "character")].message
    cast = [w.message for w in script.warnings if w.field == "cast"]
    assert cast == ["'Ghost' is in the cast but never speaks."]  # Anna speaks (row 3), so does Bob
    data["rows"] = [r for r in data["rows"] if r["character"] != "Anna"]
    cast = [w.message for w in Script.from_dict(data).warnings if w.field == "cast"]
    assert "'Anna' is in the cast but never speaks; the speech rows spell it 'ANNA'." in cast


def test_read_script_fills_warnings(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text(table("Speech\tForeground\tN/A\tAnn\t-15\tN/A\tHi.\tAuto", pre="# Cast: Zed | quiet | N/A\n"))
    assert [w.field for w in read_script(path).warnings] == ["cast"]


# -- structure ---------------------------------------------------------------------------------------------

def _imports(path: Path) -> set[str]:
    """The storyaudio.script modules a module imports (at any level of the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(a.name for a in node.names)
    return found


def test_the_script_modules_import_each_other_without_a_loop():
    folder = Path(script_pkg.__file__).parent
    graph = {p.stem: _imports(p) - {p.stem} for p in folder.glob("*.py") if p.stem != "__init__"}

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    loops = sorted(m for m in graph if m in reach(m))
    assert loops == [], graph
