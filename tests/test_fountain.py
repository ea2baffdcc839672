"""The screenplay (Fountain-like) reader: a multi-character scene with effects and music cues."""

from __future__ import annotations

import pytest

from storyaudio.errors import ScriptReadError
from storyaudio.script import Script, check
from storyaudio.script.fountain import parse_fountain

SCENE = """\
Title: The Last Signal
Author: A. Writer
Cast: MAYA - woman in her thirties, calm, quietly tired

Cast: DR. OKAFOR - older man, deep warm voice

INT. RELAY STATION - NIGHT

AMBIENCE: low electrical hum of a small control room
MUSIC: slow ambient synthesizer pads (bed, -33 LUFS)

Maya leans over the console. [[rewrite this later]]

MAYA
(quietly)
Is it *still* transmitting?

[A sharp electronic beep]

DR. OKAFOR (V.O.)
Every ninety seconds. (beat) Like a heartbeat.
[static crackle (1.5s)]
It never stops.

O'BRIEN
Sir, the door!

SFX: heavy metal door slams shut (2s)
MUSIC OUT

CUT TO:

EXT. DESERT - DAY

MUSIC UNDER: gentle acoustic guitar
MUSIC: a short triumphant brass fanfare (4 seconds, -18 LUFS)

MAYA
We found it.

END MUSIC

(Wind gusts across the dunes)
"""


def _rows(data):
    return data["rows"]


def test_multi_character_scene_reads_into_a_valid_script():
    data = parse_fountain(SCENE, title="fallback")
    assert check(data) == []
    assert Script.from_dict(data).characters() == ["Maya", "Dr. Okafor", "O'Brien"]
    assert data["title"] == "The Last Signal"  # front matter wins over the fallback
    assert data["cast"] == [
        {"name": "Maya", "description": "woman in her thirties, calm, quietly tired", "voice": None},
        {"name": "Dr. Okafor", "description": "older man, deep warm voice", "voice": None}]
    fg = [(r["audio_type"], r["character"], r["content"], r["duration"], r["volume"])
          for r in _rows(data) if r["layout"] == "foreground"]
    assert fg == [
        ("speech", "Maya", "Is it still transmitting?", "auto", None),  # parenthetical and emphasis gone
        ("sound_effect", None, "A sharp electronic beep.", "auto", None),
        ("speech", "Dr. Okafor", "Every ninety seconds. Like a heartbeat.", "auto", None),
        ("sound_effect", None, "Static crackle.", 1.5, None),  # a bracket inside dialogue splits the speech
        ("speech", "Dr. Okafor", "It never stops.", "auto", None),
        ("speech", "O'Brien", "Sir, the door!", "auto", None),
        ("sound_effect", None, "Heavy metal door slams shut.", 2, None),
        ("music", None, "A short triumphant brass fanfare.", 4, -18),
        ("speech", "Maya", "We found it.", "auto", None),
        ("sound_effect", None, "Wind gusts across the dunes.", "auto", None),
    ]


def test_beds_begin_and_end_around_the_right_rows():
    rows = _rows(parse_fountain(SCENE))
    bg = [(n, r["audio_type"], r["id"], r["action"], r["content"], r["volume"])
          for n, r in enumerate(rows, start=1) if r["layout"] == "background"]
    assert bg == [
        (1, "sound_effect", 1, "begin", "Low electrical hum of a small control room.", None),
        (2, "music", 2, "begin", "Slow ambient synthesizer pads.", -33),
        (10, "music", 2, "end", None, None),  # MUSIC OUT, right after the door slam (row 9)
        (11, "sound_effect", 1, "end", None, None),  # the next scene heading ends the ambience
        (12, "music", 3, "begin", "Gentle acoustic guitar.", None),
        (15, "music", 3, "end", None, None),  # END MUSIC
    ]
    assert rows[8]["content"] == "Heavy metal door slams shut."
    assert [r["content"] for r in rows[12:14]] == ["A short triumphant brass fanfare.", "We found it."]


def test_a_new_bed_ends_the_old_one_and_open_tracks_end_at_the_end():
    text = """\
MUSIC: tense strings (bed)

ANNA
Run.

MUSIC: calm piano (bed)
AMBIENCE: rain on a tin roof

ANNA
We're safe.
"""
    data = parse_fountain(text)
    assert check(data) == []
    got = [(r["audio_type"], r["layout"], r["id"], r["action"], r["content"]) for r in _rows(data)]
    assert got == [
        ("music", "background", 1, "begin", "Tense strings."),
        ("speech", "foreground", None, None, "Run."),
        ("music", "background", 1, "end", None),
        ("music", "background", 2, "begin", "Calm piano."),
        ("sound_effect", "background", 3, "begin", "Rain on a tin roof."),
        ("speech", "foreground", None, None, "We're safe."),
        ("music", "background", 2, "end", None),
        ("sound_effect", "background", 3, "end", None),
    ]
    assert data["title"] == "Untitled"


def test_heading_ambience_is_optional_and_replaced_by_an_explicit_one():
    text = "INT. SPACESHIP BRIDGE - NIGHT\n\nCAPTAIN\nReport.\n\nEXT. HULL - CONTINUOUS\n\n" \
           "AMBIENCE: creaking metal in a vacuum suit, heavy breathing\n\nCAPTAIN\nI'm outside.\n"
    plain = parse_fountain(text)
    assert [r["content"] for r in _rows(plain) if r["action"] == "begin"] == [
        "Creaking metal in a vacuum suit, heavy breathing."]  # headings alone start nothing by default
    rows = _rows(parse_fountain(text, heading_ambience=True))
    begins = [r["content"] for r in rows if r["action"] == "begin"]
    # the first scene's heading gives the ambience; the second scene's explicit AMBIENCE: replaces the
    # heading's one before any line is spoken, so that one is dropped rather than begun and ended at once
    assert begins == ["Interior ambience: spaceship bridge, night.",
                      "Creaking metal in a vacuum suit, heavy breathing."]
    assert check(parse_fountain(text, heading_ambience=True)) == []


def test_transitions_action_and_notes_are_not_spoken():
    text = "FADE IN:\n\nThe room is dark. JOHN enters.\n\nJOHN\nHello? [[is he scared?]]\n/* cut line */\n\n" \
           "FADE OUT.\n"
    rows = _rows(parse_fountain(text, title="Dark Room"))
    assert [(r["character"], r["content"]) for r in rows] == [("John", "Hello?")]


def test_text_without_dialogue_or_cues_is_refused():
    with pytest.raises(ScriptReadError, match="no dialogue"):
        parse_fountain("Title: Empty\n\nJust some action text.\n")


def test_read_script_reads_fountain_files(tmp_path):
    from storyaudio.script import read_script

    path = tmp_path / "last_signal.fountain"
    path.write_text(SCENE.replace("Title: The Last Signal\n", ""), encoding="utf-8")
    script = read_script(path)
    assert script.title == "last_signal"  # no Title: -> the file name
    assert len([r for r in script.rows if r.audio_type == "speech"]) == 5
