"""Timeline placement: foreground order and gaps, background spans, never-ended tracks, seeds."""

from __future__ import annotations

import pytest
from helpers import TONE, end_row, row

from storyaudio.errors import ScriptError
from storyaudio.plan import place, plan
from storyaudio.script import MAX_TOTAL_SECONDS, Script


def timeline_for(rows, lengths, gap=0.35):
    script = Script.from_dict({"title": "t", "rows": rows})
    tl = plan(script, TONE, {}, 48000, speech_gap=gap)
    place(tl, script, lengths)
    return {e.row: e for e in tl.events}, tl


def test_foreground_plays_in_order_with_gaps_only_between_speech():
    rows = [row("music", content="sting", duration=3), row(content="one"), row(content="two"),
            row("sound_effect", content="door", duration=1), row(content="three")]
    ev, tl = timeline_for(rows, {1: 3.0, 2: 2.0, 3: 1.5, 4: 1.0, 5: 2.5})
    assert (ev[1].start, ev[1].end) == (0.0, 3.0)
    assert (ev[2].start, ev[2].end) == (3.0, 5.0)
    assert ev[3].start == pytest.approx(5.35) and ev[3].end == pytest.approx(6.85)  # gap between speech lines
    assert ev[4].start == pytest.approx(6.85)  # no gap around the effect
    assert ev[5].start == pytest.approx(7.85)
    assert tl.duration == pytest.approx(10.35)


def test_background_spans_from_next_foreground_to_its_end_row():
    rows = [row(content="intro"),
            row("music", "background", 1, None, -32, "begin", "bed"),
            row(content="a"), row(content="b"),
            end_row(1),
            row(content="c")]
    ev, tl = timeline_for(rows, {1: 2.0, 3: 3.0, 4: 1.0, 6: 2.0}, gap=0.5)
    bed = ev[2]
    assert bed.start == pytest.approx(ev[3].start) == pytest.approx(2.5)
    assert bed.end == pytest.approx(ev[4].end) == pytest.approx(7.0)
    assert bed.fade_in > 0 and bed.fade_out > 0


def test_never_ended_track_runs_to_end_of_piece_and_numeric_durations_cap():
    rows = [row("sound_effect", "background", 1, None, -30, "begin", "rain"),
            row("music", "background", 2, None, -30, "begin", "bed", duration=2),
            row(content="a"), row(content="b")]
    ev, tl = timeline_for(rows, {3: 3.0, 4: 3.0}, gap=0.0)
    assert ev[1].start == 0 and ev[1].end == pytest.approx(6.0) == pytest.approx(tl.duration)
    assert ev[2].end - ev[2].start == pytest.approx(2.0)


def test_foreground_defaults_and_speech_slot_never_cuts_speech():
    script = Script.from_dict({"title": "t", "rows": [row("music", content="sting", duration="auto"),
                                                      row("sound_effect", content="bang", duration=None),
                                                      row(content="short", duration=4)]})
    tl = plan(script, TONE, {}, 48000)
    req = {e.row: e.requested for e in tl.events}
    assert req[1] == 5.0 and req[2] == 2.0 and req[3] == 4.0
    place(tl, script, {1: 5.0, 2: 2.0, 3: 1.0})
    assert tl.events[2].end - tl.events[2].start == pytest.approx(4.0)  # padded to the asked slot


def test_seeds_follow_content_not_position():
    a = Script.from_dict({"title": "t", "rows": [row(content="x"), row(content="y")]})
    b = Script.from_dict({"title": "t", "rows": [row(content="new"), row(content="x"), row(content="y")]})
    sa = {e.content: e.seed for e in plan(a, TONE, {}, 48000).events}
    sb = {e.content: e.seed for e in plan(b, TONE, {}, 48000).events}
    assert sa["x"] == sb["x"] and sa["y"] == sb["y"] and sa["x"] != sa["y"]
    assert plan(a, TONE, {}, 48000, seed=1).events[0].seed != sa["x"]


def test_characters_get_distinct_tracks_and_positions():
    script = Script.from_dict({"title": "t", "rows": [row(character="A"), row(character="B"), row(character="A")]})
    tl = plan(script, TONE, {"A": "v1", "B": "v2"}, 48000)
    a1, b, a2 = tl.events
    assert a1.track == a2.track != b.track
    assert a1.pan == a2.pan == 0.0 and b.pan != 0.0
    assert (a1.voice, b.voice) == ("v1", "v2")


def test_timeline_longer_than_cap_is_refused():
    script = Script.from_dict({"title": "t", "rows": [row(content="x")]})
    tl = plan(script, TONE, {}, 48000)
    with pytest.raises(ScriptError, match="limit"):
        place(tl, script, {1: MAX_TOTAL_SECONDS + 400.0})
