"""The script: schema errors per rule, semantic rules with named rows, readers' round trips."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from helpers import EXAMPLES, end_row, row

from storyaudio.errors import ScriptError, ScriptReadError
from storyaudio.columns import registry
from storyaudio.script import (HEADERS, META_KEYS, ROW_KEYS, Script, check, load_schema, parse_script_text,
                               read_script, script_to_text, strict_schema, write_script)



def good() -> dict:
    return {
        "title": "Test",
        "cast": [{"name": "Host", "description": "calm man", "voice": None}],
        "rows": [
            row("music", "background", 1, None, -32, "begin", "soft jazz | cafe", "auto"),
            row("speech", content="Hello, and welcome."),
            row("sound_effect", content="Door knock.", duration=1.5, volume=-20),
            end_row(1),
            row("speech", character="Guest", content="Thanks for having me.", volume=-15),
        ],
    }


def problems_of(data):
    return [(p.row, p.field) for p in check(data)]


def test_good_script_has_no_problems():
    assert check(good()) == []
    assert check({"title": "t", "rows": [row()]}) == []  # only title and rows is complete


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["rows"][1].update(audio_type="narration"), (2, "audio_type")),
        (lambda d: d["rows"][1].update(layout="middle"), (2, "layout")),
        (lambda d: d["rows"][1].update(volume=3), (2, "volume")),
        (lambda d: d["rows"][1].update(duration=-1), (2, "duration")),
        (lambda d: d["rows"][1].update(duration=601), (2, "duration")),
        (lambda d: d["rows"][1].update(duration="long"), (2, "duration")),
        (lambda d: d["rows"][1].pop("volume"), (2, "volume")),
        (lambda d: d["rows"][1].update(speaker="x"), (2, None)),
        (lambda d: d["rows"][0].update(id=0), (1, "id")),
        (lambda d: d["rows"][0].update(action="start"), (1, "action")),
        (lambda d: d.pop("title"), (None, "title")),
    ],
)
def test_schema_errors_name_row_and_field(mutate, expected):
    data = good()
    mutate(data)
    found = problems_of(data)
    assert expected in found, found


@pytest.mark.parametrize(
    "mutate, expected, words",
    [
        (lambda d: d["rows"][0].update(id=None), (1, "id"), "track id"),
        (lambda d: d["rows"][0].update(action=None), (1, "action"), "needs an action"),
        (lambda d: d["rows"][3].update(id=7), (4, "action"), "no earlier begin"),
        (lambda d: d["rows"].insert(1, row("music", "background", 1, None, -30, "begin", "rain")), (2, "id"),
         "already playing"),
        (lambda d: d["rows"][1].update(layout="background", id=3, action="begin"), (2, "layout"), "foreground only"),
        (lambda d: d["rows"][1].update(character=None), (2, "character"), "speaker"),
        (lambda d: d["rows"][1].update(content="  "), (2, "content"), "text to speak"),
        (lambda d: d["rows"][2].update(action="begin"), (3, "action"), "only for background"),
        (lambda d: d["rows"].append(row("sound_effect", "background", 5, None, -30, "begin", "rain")),
         (6, "duration"), "after the last foreground"),
        (lambda d: d["rows"].insert(1, end_row(1)), (2, "action"), "ends right after it begins"),
        (lambda d: d["rows"].extend([row("sound_effect", content="hum", duration=600)] * 25), (None, "rows"),
         "limit"),
        (lambda d: d["cast"].append({"name": "Host", "description": None, "voice": None}), (None, "cast"), "twice"),
    ],
)
def test_semantic_rules_name_row_field_and_fix(mutate, expected, words):
    data = good()
    mutate(data)
    probs = check(data)
    hits = [p for p in probs if (p.row, p.field) == expected]
    assert hits, [str(p) for p in probs]
    assert words in hits[0].message
    assert hits[0].fix, "every problem says how to fix it"


def test_script_error_lists_every_problem():
    data = good()
    data["rows"][0]["id"] = None
    data["rows"][1]["character"] = None
    with pytest.raises(ScriptError) as info:
        Script.from_dict(data, source="x.json")
    text = str(info.value)
    assert "row 1, id" in text and "row 2, character" in text and "3 problems" in text  # the missing id also orphans the end row


@pytest.mark.parametrize("fmt", ["json", "tsv", "csv", "md"])
def test_round_trip(fmt):
    script = Script.from_dict(good())
    text = script_to_text(script, fmt)
    again = Script.from_dict(parse_script_text(text, fmt, f"x.{fmt}"))
    assert again.to_dict() == script.to_dict()
    if fmt == "md":
        assert "soft jazz \\| cafe" in text  # the pipe inside a cell survives


@pytest.mark.parametrize("name", ["news.tsv", "drama.tsv"])
def test_examples_are_valid_and_round_trip_every_format(name, tmp_path):
    script = read_script(EXAMPLES / name)
    assert len(script.rows) >= 10 and len(script.characters()) >= 3
    for ext in (".json", ".tsv", ".csv", ".md"):
        path = write_script(script, tmp_path / f"s{ext}")
        assert read_script(path).to_dict() == script.to_dict()


def test_hand_written_table_spellings_are_case_insensitive(tmp_path):
    text = "\n".join([
        ",".join(h.upper() for h in HEADERS),
        "SOUND EFFECT,background,1,n/a,-30 LUFS,BEGIN,Rain on a roof,AUTO",
        "speech,FOREGROUND,N/A,Ann,-15,n/a,Hello there.,auto",
        "Sound effect,Background,1,,,End,,",
        "Music,Foreground,,,,,A short sting.,3s",
    ])
    p = tmp_path / "my_show.csv"
    p.write_text(text)
    s = read_script(p)
    assert s.title == "my show"
    assert [r.audio_type for r in s.rows] == ["sound_effect", "speech", "sound_effect", "music"]
    assert s.rows[0].volume == -30 and s.rows[0].duration == "auto" and s.rows[3].duration == 3
    assert s.rows[2].action == "end" and s.rows[2].content is None


def test_table_reader_errors_name_row_and_column(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_text("\t".join(HEADERS) + "\nSpeech\tForeground\tN/A\tAnn\tloud\tN/A\tHi\tAuto\n"
                 "Speech\tBackground\t1\tBob\t-15\tBegin\tHi\tAuto\n")
    with pytest.raises(ScriptError) as info:
        read_script(p)
    found = {(q.row, q.field) for q in info.value.problems}
    assert (1, "volume") in found and (2, "layout") in found
    p.write_text("Audio Type\tLayout\tWho\n")
    with pytest.raises(ScriptReadError, match="unknown column 'Who'"):
        read_script(p)
    with pytest.raises(ScriptReadError, match="unknown script extension"):
        read_script(tmp_path / "x.docx")
    (tmp_path / "b.json").write_text("{nope")
    with pytest.raises(ScriptReadError, match="line 1"):
        read_script(tmp_path / "b.json")


def test_strict_schema_is_derived_and_openai_shaped():
    strict = strict_schema()
    canonical = load_schema()

    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object":
                yield node
            for v in node.values():
                yield from objects(v)
        elif isinstance(node, list):
            for v in node:
                yield from objects(v)

    for obj in objects(strict):
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])
    assert "null" in strict["properties"]["cast"]["type"]
    assert "minimum" not in json.dumps(strict) and "maxLength" not in json.dumps(strict)
    # the eight core row keys stay required; the optional ones (the extension columns the writer may use,
    # chapter) become required and nullable
    writer_columns = [c.key for c in registry().columns if c.writer]
    writer_fields = [f.key for f in registry().fields if f.writer]
    assert canonical["$defs"]["row"]["required"] == list(ROW_KEYS)
    assert strict["$defs"]["row"]["required"] == list(ROW_KEYS) + writer_columns + ["chapter"]
    assert "null" in strict["$defs"]["row"]["properties"]["chapter"]["type"]
    assert sorted(strict["required"]) == sorted(["title", "rows", "cast", *META_KEYS, *writer_fields])
    # a script valid under the canonical schema, its optional keys written as null as strict output does,
    # is valid under the strict one, and still valid under the canonical one
    data = good()
    data.update(cast=None, **{k: None for k in META_KEYS + tuple(writer_fields)})
    data["rows"] = [{**r, "chapter": None, **{k: None for k in writer_columns}} for r in data["rows"]]
    data["rows"][1]["chapter"] = "Part One"
    jsonschema.validate(data, strict)
    assert check(data) == []
    assert Script.from_dict(data).chapters() == [(2, "Part One")]
    bad = copy.deepcopy(data)
    bad["rows"][0]["layout"] = "sideways"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, strict)
