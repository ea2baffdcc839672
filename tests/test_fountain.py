"""The screenplay (Fountain-like) reader: a multi-character scene with effects and music cues."""

from __future__ import annotations

import pytest

from storyaudio.errors import ScriptReadError
from storyaudio.script import Script, check, read_script
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


ACTS = """\
Title: The Relay
Authors: A. Writer
    and B. Writer
Show: Signals
Year: 2025
Cover: cover.png
Description: Two acts at a relay station.
Draft date: 1 May

# Act One

## The station

AMBIENCE: electrical hum

MAYA
Is it still transmitting?

# Chapter: Act Two

MUSIC OUT
AMBIENCE OUT

EXT. DESERT - DAY

AMBIENCE: wind

MAYA
We found it.
"""


def test_sections_become_chapters_and_front_matter_becomes_metadata():
    data = parse_fountain(ACTS)
    s = Script.from_dict(data)
    assert s.chapters() == [(1, "Act One"), (4, "Act Two")]  # '##' sections are deeper: not chapters
    assert [(r.action, r.content) for r in s.rows[2:5]] == [("end", None), ("begin", "Wind."), (None, "We found it.")]
    assert s.rows[2].chapter is None  # the end of act one's ambience stays in act one
    assert (s.author, s.album, s.year, s.cover, s.description) == (
        "A. Writer and B. Writer", "Signals", 2025, "cover.png", "Two acts at a relay station.")


def test_a_section_with_nothing_to_render_is_not_a_chapter_and_says_so():
    text = "# Prologue\n\n# Act One\n\nANNA\nHello.\n\n# Act Two\n\nAMBIENCE: rain\n\n# Act Three\n\nANNA\nBye.\n"
    warnings: list = []
    s = Script.from_dict(parse_fountain(text, warnings=warnings))
    assert s.chapters() == [(1, "Act One"), (3, "Act Three")]  # row 2 is the rain, in no chapter of its own
    said = [str(w) for w in warnings]
    assert any("line 1" in w and "'Prologue' has nothing to render" in w for w in said), said
    assert any("'Act Two' holds only background tracks" in w for w in said), said


def test_dropped_cues_are_warnings_naming_their_line():
    text = """\
Title: Drops

ANNA

Hello? Anyone?

BOB
(sighs)

SFX:

MUSIC: soft piano (bed)
MUSIC OUT

/* a cut
   paragraph */
[ ]

The room is empty.

CARL
I'm here.
"""
    warnings: list = []
    data = parse_fountain(text, warnings=warnings)
    assert [r["content"] for r in data["rows"]] == ["I'm here."]
    said = {w.field: w.message for w in warnings}
    assert "'ANNA' looks like a character cue, but no dialogue follows" in said["line 3"]
    assert "Bob's cue has no words to speak" in said["line 7"]
    assert "no description" in said["line 10"]
    assert "'Soft piano.' stops before any dialogue or cue plays over it" in said["line 12"]
    assert "no description" in said["line 17"]  # line numbers stay true after a multi-line boneyard
    assert "2 lines of action text (lines 5, 19) are not spoken" in said[None]
    assert all(w.row is None and w.fix for w in warnings)


def test_read_script_puts_the_screenplay_warnings_on_the_script(tmp_path):
    path = tmp_path / "s.fountain"
    path.write_text("# One\n\nANNA\n\nHello.\n\nBOB\nHi.\n", encoding="utf-8")
    s = read_script(path)
    assert s.chapters() == [(1, "One")]
    assert [w.field for w in s.warnings] == ["line 3", None]
