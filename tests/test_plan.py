"""Timeline placement: foreground order and gaps, background spans, never-ended tracks, seeds."""

from __future__ import annotations

import pytest
from helpers import TONE, end_row, row

from storyaudio.errors import ScriptError
from storyaudio.plan import place, plan
from storyaudio.script import MAX_TOTAL_SECONDS, Script


def timeline_for(rows, lengths, gap=0.35):
    script = Script.from_dict({"title": "t", "rows": rows})
    tl = place(plan(script, TONE, {}, 48000, speech_gap=gap), script, lengths)
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
    planned = plan(script, TONE, {}, 48000)
    req = {e.row: e.requested for e in planned.events}
    assert req[1] == 5.0 and req[2] == 2.0 and req[3] == 4.0
    tl = place(planned, script, {1: 5.0, 2: 2.0, 3: 1.0})
    assert tl.events[2].span == pytest.approx(4.0)  # padded to the asked slot


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
    with pytest.raises(ScriptError, match="limit"):
        place(plan(script, TONE, {}, 48000), script, {1: MAX_TOTAL_SECONDS + 400.0})


def test_place_builds_a_new_timeline_and_changes_no_event():
    rows = [row("music", "background", 1, None, -32, "begin", "bed"), row(content="one two"),
            row(content="three"), end_row(1)]
    script = Script.from_dict({"title": "t", "rows": rows})
    planned = plan(script, TONE, {}, 48000)
    before = list(planned.events)
    tl = place(planned, script, {2: 2.0, 3: 1.0})
    assert list(planned.events) == before  # the plan is as it was
    bed = {e.row: e for e in tl.events}[1]
    # one meaning per name: requested is what the script asked (auto), span is the placed length
    assert bed.requested is None and planned.events[0].requested is None
    assert bed.span == pytest.approx(2.0 + 0.35 + 1.0) == pytest.approx(bed.end - bed.start)
    with pytest.raises(AttributeError):
        bed.start = 5.0  # placed events are frozen: a later stage makes new ones
    assert not hasattr(planned.events[0], "start")


def test_characters_whose_names_read_alike_get_their_own_tracks():
    names = ["Mary-Ann", "Mary Ann", "mary ann", "???", "!!", "Mary Ann 2", "Zoë"]
    script = Script.from_dict({"title": "t", "rows": [row(character=n, content="hi") for n in names]})
    tracks = [e.track for e in plan(script, TONE, {}, 48000).events]
    assert tracks == ["speech-mary-ann", "speech-mary-ann-2", "speech-mary-ann-3", "speech-voice", "speech-voice-2",
                      "speech-mary-ann-2-2", "speech-zoë"]
    assert len({t.lower() for t in tracks}) == len(tracks)  # unique on a case-blind file system too
    assert all(t.replace("-", "").isalnum() for t in tracks)  # safe in a file name


def test_a_background_track_too_short_to_play_is_a_script_error_before_planning():
    rows = [row("sound_effect", "background", 1, None, -30, "begin", "rain", duration=0.001), row(content="a"),
            end_row(1, "sound_effect")]
    with pytest.raises(ScriptError) as err:  # validation refuses it, so validate and render say the same
        Script.from_dict({"title": "t", "rows": rows})
    (problem,) = err.value.problems
    assert (problem.row, problem.field) == (1, "duration") and "too short" in problem.message


def test_a_track_begun_and_ended_between_two_lines_starts_where_it_ends():
    rows = [row(content="a"), row("sound_effect", "background", 1, None, -30, "begin", "thud", duration=1.0),
            end_row(1, "sound_effect"), row(content="b")]
    ev, tl = timeline_for(rows, {1: 2.0, 4: 1.0})
    assert (ev[2].start, ev[2].end) == (pytest.approx(2.0), pytest.approx(3.0))  # not moved past the gap
