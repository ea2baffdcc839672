"""Long-form delivery (issue 15, the audio side): chapters in the timeline and in every file that carries them
(ID3 CHAP/CTOC in mix.mp3, chapter atoms in mix.m4b, Podcasting 2.0 chapters.json, labels, the picture),
episode tags and cover art, previews of a range of rows or a chapter, and the OpenTimelineIO export. The
example examples/night-ferry.tsv is rendered with the tone backends and read back with mutagen, PyAV and
OpenTimelineIO."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import soundfile as sf
from helpers import EXAMPLES, TONE, end_row, row

from storyaudio import cli
from storyaudio.deliver import m4b as m4b_module
from storyaudio.deliver import timeline_png
from storyaudio.errors import BackendUnavailableError, OptionError, UserError
from storyaudio.pipeline import RenderConfig, check, render
from storyaudio.plan import place, plan
from storyaudio.script import Script, read_script

EXAMPLE = EXAMPLES / "night-ferry.tsv"
COVER = EXAMPLES / "night-ferry-cover.png"

#: The Podcasting 2.0 JSON chapters format, version 1.2 (Podcastindex-org/podcast-namespace,
#: docs/examples/chapters/jsonChapters.md), written out as a JSON Schema: `version` (string) and `chapters`
#: (array) required; a chapter requires `startTime` (number, seconds); the optional fields typed as the spec
#: says. Unknown keys are refused here (the spec allows extensions, but ours should use none).
PODCAST_CHAPTERS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "chapters"],
    "additionalProperties": False,
    "properties": {
        "version": {"type": "string", "pattern": r"^1\.2(\.\d+)?$"},
        "author": {"type": "string"},
        "title": {"type": "string"},
        "podcastName": {"type": "string"},
        "description": {"type": "string"},
        "fileName": {"type": "string"},
        "waypoints": {"type": "boolean"},
        "chapters": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["startTime"],
                "additionalProperties": False,
                "properties": {
                    "startTime": {"type": "number", "minimum": 0},
                    "endTime": {"type": "number", "minimum": 0},
                    "title": {"type": "string"},
                    "img": {"type": "string"},
                    "url": {"type": "string"},
                    "toc": {"type": "boolean"},
                    "location": {"type": "object", "required": ["name", "geo"],
                                 "properties": {"name": {"type": "string"}, "geo": {"type": "string"},
                                                "osm": {"type": "string"}}},
                },
            },
        },
    },
}


def _config(tmp_path_factory_or_path, **kw) -> RenderConfig:
    return RenderConfig(use=TONE, cache_dir=tmp_path_factory_or_path, **kw)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("clip-cache")


@pytest.fixture(scope="module")
def full(tmp_path_factory, cache):
    """The example rendered whole, with every export."""
    out = tmp_path_factory.mktemp("ferry") / "out"
    result = render(EXAMPLE, out, _config(cache, mp3=True, m4b=True, otio=True))
    return result, out


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


# -- chapters in the timeline ---------------------------------------------------------------------------------

def test_a_chapter_starts_at_the_first_foreground_row_at_or_after_its_mark():
    rows = [{**row("music", "background", 1, None, -32, "begin", "bed"), "chapter": "One"},  # starts with row 2
            row(content="a"), row(content="b"),
            {**row(content="c"), "chapter": "Two"},  # after speech: starts after the gap, with the line
            end_row(1),
            {**row("music", "background", 2, None, -32, "begin", "bed two"), "chapter": "Three"},
            row("sound_effect", content="door", duration=1.5)]
    script = Script.from_dict({"title": "t", "rows": rows})
    tl = place(plan(script, TONE, {}, 48000, speech_gap=0.5), script, {2: 2.0, 3: 1.0, 4: 3.0})
    assert [(c.number, c.title, c.row) for c in tl.chapters] == [(1, "One", 1), (2, "Two", 4), (3, "Three", 6)]
    starts = [c.start for c in tl.chapters]
    assert starts == pytest.approx([0.0, 2.0 + 0.5 + 1.0 + 0.5, 7.0])
    assert [c.end for c in tl.chapters[:-1]] == pytest.approx(starts[1:])
    assert tl.chapters[-1].end == pytest.approx(tl.mix_samples / 48000)  # the last reaches the end of the file
    assert tl.to_dict()["chapters"][1] == {"number": 2, "title": "Two", "row": 4, "start": 4.0, "end": 7.0}


def test_chapters_reach_timeline_json_labels_and_script_json(full):
    result, out = full
    tl = json.loads((out / "timeline.json").read_text())
    assert [c["title"] for c in tl["chapters"]] == ["Last Crossing", "The Stowaway", "Into the Fog"]
    events = {e["row"]: e for e in tl["events"]}
    assert [c["start"] for c in tl["chapters"]] == [events[2]["start"], events[7]["start"], events[12]["start"]]
    labels = (out / "labels.txt").read_text().splitlines()
    marks = [line.split("\t") for line in labels if "\tchapter " in line]
    assert [m[2] for m in marks] == ["chapter 1: Last Crossing", "chapter 2: The Stowaway", "chapter 3: Into the Fog"]
    assert [float(m[0]) for m in marks] == pytest.approx([c.start for c in result.timeline.chapters], abs=1e-6)
    assert len(labels) == len(result.timeline.events) + 3
    meta = json.loads((out / "script.json").read_text())
    assert (meta["author"], meta["album"], meta["year"], meta["cover"]) == (
        "storyaudio examples", "Harbour Tales", 2025, "night-ferry-cover.png")
    assert meta["rows"][5]["chapter"] == "The Stowaway"


def test_the_picture_marks_each_chapter(tmp_path):
    script = read_script(EXAMPLE)
    planned = plan(script, TONE, {}, 48000)
    lengths = {e.row: 2.0 for e in planned.foreground}
    tl = place(planned, script, lengths)
    plain = place(planned, Script.from_dict({**script.to_dict(), "rows": [
        {k: v for k, v in r.items() if k != "chapter"} for r in script.to_dict()["rows"]]}), lengths)
    red = []
    for name, timeline in (("with.png", tl), ("without.png", plain)):
        from PIL import Image

        px = np.asarray(Image.open(timeline_png(tmp_path / name, timeline)).convert("RGB")).astype(int)
        near = (abs(px[..., 0] - 0xB0) < 40) & (abs(px[..., 1] - 0x30) < 40) & (abs(px[..., 2] - 0x30) < 40)
        red.append(int(near.sum()))
    assert red[1] == 0 and red[0] > 100  # the dashed lines and titles, only where there are chapters


# -- MP3, M4B, chapters.json ----------------------------------------------------------------------------------

def test_mp3_carries_id3_chapters_tags_and_cover(full):
    from mutagen.id3 import ID3, CTOCFlags
    from mutagen.mp3 import MP3

    result, out = full
    id3 = ID3(out / "mix.mp3")
    (toc,) = id3.getall("CTOC")
    assert toc.flags & CTOCFlags.TOP_LEVEL and toc.flags & CTOCFlags.ORDERED
    chaps = {c.element_id: c for c in id3.getall("CHAP")}
    assert toc.child_element_ids == ["chp1", "chp2", "chp3"] and set(chaps) == set(toc.child_element_ids)
    for cid, planned in zip(toc.child_element_ids, result.timeline.chapters):
        chap = chaps[cid]
        assert chap.sub_frames["TIT2"].text == [planned.title]
        assert (chap.start_time, chap.end_time) == (_ms(planned.start), _ms(planned.end))
    assert chaps["chp3"].end_time == pytest.approx(MP3(out / "mix.mp3").info.length * 1000, abs=30)
    assert id3["TIT2"].text == ["The Night Ferry"] and id3["TPE1"].text == ["storyaudio examples"]
    assert id3["TALB"].text == ["Harbour Tales"] and str(id3["TDRC"].text[0]) == "2025"
    assert id3.getall("COMM")[0].text[0].startswith("A ferry captain")
    (apic,) = id3.getall("APIC")
    assert apic.type == 3 and apic.mime == "image/png" and apic.data == COVER.read_bytes()


def test_m4b_is_aac_with_chapter_atoms_tags_and_cover(full):
    import av
    from mutagen.mp4 import MP4

    result, out = full
    path = out / "mix.m4b"
    assert path.read_bytes()[4:12] == b"ftypM4B "
    mp4 = MP4(path)
    planned = result.timeline.chapters
    assert [c.title for c in mp4.chapters] == [c.title for c in planned]
    assert [c.start for c in mp4.chapters] == pytest.approx([c.start for c in planned], abs=0.0005)
    tags = mp4.tags
    assert tags["©nam"] == ["The Night Ferry"] and tags["©ART"] == ["storyaudio examples"]
    assert tags["©alb"] == ["Harbour Tales"] and tags["©day"] == ["2025"] and tags["stik"] == [2]
    assert tags["desc"][0].startswith("A ferry captain")
    assert bytes(tags["covr"][0]) == COVER.read_bytes() and tags["covr"][0].imageformat == tags["covr"][0].FORMAT_PNG
    wav = sf.info(str(out / "mix.wav"))
    with av.open(str(path)) as container:  # FFmpeg's reader: the QuickTime chapter track, and the audio
        chapters = container.chapters()
        assert [c["metadata"]["title"] for c in chapters] == [c.title for c in planned]
        for got, want in zip(chapters, planned):
            tb = got["time_base"]
            assert float(got["start"] * tb) == pytest.approx(want.start, abs=0.0005)
            assert float(got["end"] * tb) == pytest.approx(want.end, abs=0.0005)
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac" and stream.rate == 48000 and stream.channels == 2
        decoded = np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)
    assert abs(decoded.shape[1] - wav.frames) <= 2048  # the encoder's priming and padding, at most
    ref, _ = sf.read(str(out / "mix.wav"), dtype="float32")
    level = lambda x: 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))))  # noqa: E731
    assert level(decoded) == pytest.approx(level(ref), abs=0.5)


def test_chapters_json_is_podcasting_2_chapters(full):
    result, out = full
    data = json.loads((out / "chapters.json").read_text())
    jsonschema.Draft202012Validator(PODCAST_CHAPTERS_SCHEMA).validate(data)
    assert data["version"] == "1.2.0" and data["podcastName"] == "Harbour Tales"
    assert data["author"] == "storyaudio examples" and data["title"] == "The Night Ferry"
    starts = [c["startTime"] for c in data["chapters"]]
    assert starts == sorted(starts)  # the spec assumes ascending startTime
    for got, want in zip(data["chapters"], result.timeline.chapters, strict=True):
        assert got["title"] == want.title
        assert _ms(got["startTime"]) == _ms(want.start) and _ms(got["endTime"]) == _ms(want.end)
    bad = {**data, "chapters": [{"title": "no start"}]}
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail
        jsonschema.Draft202012Validator(PODCAST_CHAPTERS_SCHEMA).validate(bad)


def test_a_script_without_chapters_writes_no_chapter_files(tmp_path):
    data = {"title": "plain", "rows": [row(content="one two three"), row(content="four five")]}
    result = render(data, tmp_path / "out", RenderConfig(use=TONE, mp3=True, stems=False, picture=False))
    assert result.timeline.chapters == () and "chapters.json" not in result.files
    from mutagen.id3 import ID3

    id3 = ID3(tmp_path / "out" / "mix.mp3")
    assert not id3.getall("CHAP") and not id3.getall("CTOC") and id3["TPE1"].text == ["storyaudio"]


# -- the cover -------------------------------------------------------------------------------------------------

def _with_cover(folder: Path, cover: str) -> Path:
    text = EXAMPLE.read_text().replace("# Cover: night-ferry-cover.png", f"# Cover: {cover}")
    path = folder / "ferry.tsv"
    path.write_text(text)
    return path


def test_a_cover_that_is_missing_outside_or_not_a_picture_is_refused_before_rendering(tmp_path):
    show = tmp_path / "show"
    show.mkdir()
    (show / "cover.gif").write_bytes(b"GIF89a" + bytes(20))
    (tmp_path / "outside.png").write_bytes(COVER.read_bytes())
    cases = [("missing.jpg", "does not exist"), ("cover.gif", "not a JPEG or PNG"),
             ("../outside.png", "--allow-path")]
    for name, words in cases:
        with pytest.raises(UserError, match=words) as err:
            check(_with_cover(show, name), RenderConfig(use=TONE))
        assert "cover" in str(err.value)
    assert check(_with_cover(show, "../outside.png"), RenderConfig(use=TONE, allow_paths=[tmp_path])) == []
    code = cli.main(["validate", str(_with_cover(show, "cover.gif")), "--use", "speech=tone", "--use", "music=tone",
                     "--use", "sfx=tone"])
    assert code == 2


def test_a_jpeg_cover_is_embedded_as_jpeg(tmp_path):
    from mutagen.id3 import ID3
    from PIL import Image

    Image.new("RGB", (32, 32), (10, 200, 30)).save(tmp_path / "c.jpg", "JPEG")
    data = {"title": "t", "cover": "c.jpg", "rows": [row(content="one two")]}
    render(data, tmp_path / "out", RenderConfig(use=TONE, mp3=True, stems=False, picture=False, base_dir=tmp_path))
    (apic,) = ID3(tmp_path / "out" / "mix.mp3").getall("APIC")
    assert apic.mime == "image/jpeg" and apic.data == (tmp_path / "c.jpg").read_bytes()


def test_m4b_without_pyav_says_what_to_install(monkeypatch):
    monkeypatch.setattr(m4b_module, "available", lambda: False)
    with pytest.raises(BackendUnavailableError, match=r"--m4b needs PyAV.*pip install"):
        check(EXAMPLE, RenderConfig(use=TONE, m4b=True))


# -- previews ----------------------------------------------------------------------------------------------------

def test_a_row_range_preview_keeps_the_tracks_playing_under_it_trimmed(full, cache, tmp_path):
    result, _ = full
    whole = {e.row: e for e in result.timeline.events}
    out = tmp_path / "preview"
    prev = render(EXAMPLE, out, _config(cache, rows=(7, 9)))
    tl = prev.timeline
    t0 = whole[7].start
    assert tl.rows == (7, 9) and tl.offset == pytest.approx(t0)
    assert sorted(e.row for e in tl.events) == [1, 6, 7, 8, 9]  # track 1 began at row 1 and is still playing
    ev = {e.row: e for e in tl.events}
    for r in (7, 8, 9):  # the foreground keeps its spacing, shifted to start at 0
        assert (ev[r].start, ev[r].end) == pytest.approx((whole[r].start - t0, whole[r].end - t0))
    assert (ev[1].start, ev[1].end) == pytest.approx((0.0, whole[9].end - t0))  # trimmed to the window
    assert ev[1].fade_in == pytest.approx(0.05)
    assert set(prev.cached_rows) >= {7, 8, 9, 6}  # the full render's clips (track 6 spans the same rows)
    assert 1 in prev.rendered_rows  # the trimmed track is a new, shorter clip
    assert [(c.number, c.title, c.start) for c in tl.chapters] == [(2, "The Stowaway", 0.0)]
    audio, rate = sf.read(str(out / "mix.wav"), dtype="float32")
    assert len(audio) == tl.mix_samples
    first = audio[: int(0.3 * rate)]
    assert np.sqrt(np.mean(first ** 2)) > 1e-3  # the engine rumble plays from the first moment
    srt = (out / "subtitles.srt").read_text()
    assert srt.count("-->") == 3 and "Pip:" in srt and "Narrator" in srt
    assert json.loads((out / "timeline.json").read_text())["preview"] == {"rows": [7, 9], "offset": round(t0, 4)}


def test_a_chapter_preview_goes_to_its_own_folder_by_default(full, cache, tmp_path, monkeypatch):
    result, _ = full
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORYAUDIO_CACHE_DIR", str(cache))
    code = cli.main(["render", str(EXAMPLE), "--chapter", "3", "--use", "speech=tone", "--use", "music=tone",
                     "--use", "sfx=tone", "--no-picture", "--quiet"])
    assert code == 0
    out = tmp_path / "outputs" / "night-ferry-chapter-3"
    tl = json.loads((out / "timeline.json").read_text())
    assert tl["preview"]["rows"] == [11, 16]
    whole = {e.row: e for e in result.timeline.events}
    assert tl["duration"] == pytest.approx(result.timeline.duration - whole[12].start, abs=1e-3)
    assert sorted(e["row"] for e in tl["events"]) == [1, 11, 12, 13, 16]
    assert [c["title"] for c in json.loads((out / "chapters.json").read_text())["chapters"]] == ["Into the Fog"]


@pytest.mark.parametrize("args, words", [
    (["--rows", "9-3"], "--rows 9-3"),
    (["--rows", "2-99"], "the script has 16 rows"),
    (["--rows", "ten"], "--rows 'ten'"),
    (["--rows", "10"], "all background rows"),
    (["--chapter", "4"], "--chapter 4: the script has 3 chapters"),
    (["--chapter", "1", "--rows", "2-3"], "--rows and --chapter"),
])
def test_a_bad_range_is_one_message_naming_the_flag(tmp_path, capsys, args, words):
    code = cli.main(["render", str(EXAMPLE), "-o", str(tmp_path / "o"), "--use", "speech=tone", "--use",
                     "music=tone", "--use", "sfx=tone", "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_a_chapter_preview_of_a_script_without_chapters_is_refused():
    data = {"title": "plain", "rows": [row(content="one two")]}
    with pytest.raises(OptionError, match="--chapter 1: this script has no chapters"):
        render(data, "unused", RenderConfig(use=TONE, chapter=1))


# -- OpenTimelineIO --------------------------------------------------------------------------------------------

def test_otio_has_a_track_per_stem_a_clip_per_event_and_chapter_markers(full, monkeypatch, tmp_path):
    import opentimelineio as otio

    result, out = full
    tl = result.timeline
    sr = tl.sample_rate
    read = otio.adapters.read_from_file(str(out / "timeline.otio"))
    assert read.name == "The Night Ferry"
    stems = sorted(p.stem for p in (out / "stems").glob("*.wav"))
    assert sorted(t.name for t in read.tracks) == stems
    assert all(t.kind == otio.schema.TrackKind.Audio for t in read.tracks)
    clips = list(read.find_clips())
    assert len(clips) == len(tl.events)
    by_row = {e.row: e for e in tl.events}
    timeline_json = {e["row"]: e for e in json.loads((out / "timeline.json").read_text())["events"]}
    for clip in clips:
        meta = clip.metadata["storyaudio"]
        ev = by_row[meta["row"]]
        placed = clip.range_in_parent()
        assert placed.start_time.rate == sr
        assert placed.start_time.value == round(ev.start * sr) and placed.duration.value == round(ev.span * sr)
        url = clip.media_reference.target_url
        assert url == timeline_json[ev.row]["clip_file"] and not Path(url).is_absolute()
        assert sf.info(str(out / url)).frames == placed.duration.value  # the file is the clip's length
        assert meta["gain_db"] == timeline_json[ev.row]["gain_db"] and meta["fade_out"] == pytest.approx(ev.fade_out)
        assert read.tracks[[t.name for t in read.tracks].index(ev.track)].metadata["storyaudio"]["ducked"] == (
            ev.layout == "background")
    markers = read.tracks.markers
    assert [m.name for m in markers] == [c.title for c in tl.chapters]
    for m, c in zip(markers, tl.chapters):
        assert m.marked_range.start_time.value == round(c.start * sr)
        assert m.marked_range.end_time_exclusive().value == round(c.end * sr)
    # round trips through the adapters that ship with OpenTimelineIO
    again = otio.adapters.read_from_string(otio.adapters.write_to_string(read, "otio_json"), "otio_json")
    assert again.is_equivalent_to(read)
    monkeypatch.chdir(out)  # the bundles resolve the relative clip paths from here
    for ext in ("otioz", "otiod"):
        bundle = tmp_path / f"ferry.{ext}"
        otio.adapters.write_to_file(read, str(bundle))
        back = otio.adapters.read_from_file(str(bundle))
        assert len(list(back.find_clips())) == len(tl.events)
        assert [m.name for m in back.tracks.markers] == [c.title for c in tl.chapters]
    assert len(list((tmp_path / "ferry.otiod" / "media").iterdir())) == len(tl.events)  # the clips travelled


def test_render_folder_holds_exactly_the_promised_files(full):
    result, out = full
    names = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert {"mix.wav", "mix.mp3", "mix.m4b", "chapters.json", "timeline.otio", "labels.txt"} <= names
    assert set(result.files) == names


def test_example_folder_is_self_contained(tmp_path):
    """The example and its cover travel together (a copy renders from its new folder)."""
    for p in (EXAMPLE, COVER):
        shutil.copy(p, tmp_path / p.name)
    assert check(tmp_path / EXAMPLE.name, RenderConfig(use=TONE)) == []


def test_the_picture_reads_a_long_mix_from_its_file_in_blocks(tmp_path):
    from storyaudio.deliver import _envelope

    audio = (0.3 * np.random.default_rng(1).standard_normal((2, 700_001))).astype(np.float32)
    audio[1, 123_456] = 0.97  # one peak, in the right channel
    sf.write(str(tmp_path / "m.wav"), audio.T, 48000, subtype="FLOAT")
    from_array, step = _envelope(audio, 2000)
    from_file, step2 = _envelope(tmp_path / "m.wav", 2000)
    assert step == step2 == 350 and from_file.shape == from_array.shape == (2000,)
    assert np.array_equal(from_file, from_array)
    assert from_file[123_456 // step] == pytest.approx(0.97)


@pytest.mark.slow  # conftest.py skips it unless STORYAUDIO_SLOW=1: the embedded backends take a while
def test_the_example_renders_with_the_embedded_defaults(tmp_path):
    from mutagen.id3 import ID3

    from storyaudio.backends import DEFAULTS, get_backend_class

    missing = [n for n in set(DEFAULTS.values()) if get_backend_class(n).missing()]
    if missing:
        pytest.skip(f"embedded backends not installed: {missing}")
    result = render(EXAMPLE, tmp_path / "out", RenderConfig(mp3=True, m4b=True, cache_dir=tmp_path / "cache"))
    tl = result.timeline
    assert [c.title for c in tl.chapters] == ["Last Crossing", "The Stowaway", "Into the Fog"]
    chaps = sorted(ID3(tmp_path / "out" / "mix.mp3").getall("CHAP"), key=lambda c: c.start_time)
    assert [(c.start_time, c.end_time) for c in chaps] == [(_ms(c.start), _ms(c.end)) for c in tl.chapters]
    audio, rate = sf.read(str(tmp_path / "out" / "mix.wav"), dtype="float32")
    for c in tl.chapters:  # every chapter has sound in it
        part = audio[int(c.start * rate) : int(c.end * rate)]
        assert np.sqrt(np.mean(part**2)) > 0.01
    assert result.loudness.passed


def test_rendered_clips_wait_for_placement_on_disk_not_in_memory(tmp_path):
    """A 10,000-row script holds hours of clips between rendering and placement: the renderer hands them on
    as read-only maps of the cache files, fresh ones and cached ones alike."""
    from storyaudio.backends import build_backend, get_backend_class
    from storyaudio.backends.base import Event as Ask
    from storyaudio.cache import ClipCache
    from storyaudio.executors import LocalExecutor
    from storyaudio.pipeline import _ClipRenderer

    from storyaudio.columns.hooks import Hooks

    tone = build_backend(get_backend_class("tone", "speech"), None, "tone")
    asks = [Ask(row=i, kind="speech", content=f"line {i} of the piece", voice="tone-low", seed=i) for i in (1, 2, 3)]
    script = Script.from_dict({"title": "t", "rows": [row(content=a.content) for a in asks]})
    hooks = Hooks(script, None, 48000, tmp_path)  # no extension columns in play
    for attempt in ("fresh", "cached"):
        renderer = _ClipRenderer({"speech": tone}, ClipCache(tmp_path / "cache"), 48000, LocalExecutor(2), lambda: None, hooks)
        clips = renderer.run(asks)
        assert sorted(clips) == [1, 2, 3]
        assert sorted(renderer.rendered_rows if attempt == "fresh" else renderer.cached_rows) == [1, 2, 3]
        for clip in clips.values():
            assert _mapped(clip.audio) and not clip.audio.flags.writeable
            assert clip.seconds == pytest.approx(5 * 0.3)  # five words at the tone voice's 0.3 s a word
    off = _ClipRenderer({"speech": tone}, ClipCache(tmp_path / "off", enabled=False), 48000, LocalExecutor(2), lambda: None, hooks)
    assert not _mapped(off.run(asks[:1])[1].audio)  # without a cache they stay in memory


def test_backends_take_turns_and_each_is_trimmed_after_its_last_batch(tmp_path):
    """The renderer hands the executor one batch of each backend in turn (long beds of two kinds render side by
    side, not two of one kind), and the local executor calls a backend's trim() once, after its last batch."""
    from storyaudio.backends import build_backend, get_backend_class
    from storyaudio.backends.base import Event as Ask
    from storyaudio.cache import ClipCache
    from storyaudio.columns.hooks import Hooks
    from storyaudio.executors import LocalExecutor
    from storyaudio.pipeline import _ClipRenderer

    log: list[tuple[str, int | None]] = []

    def recording(kind: str):
        backend = build_backend(get_backend_class("tone", kind), None, "tone")
        render_one = backend.render
        backend.render = lambda ev, sr: log.append((kind, ev.row)) or render_one(ev, sr)
        backend.trim = lambda: log.append((kind, None))
        return backend

    backends = {"speech": recording("speech"), "sound_effect": recording("sound_effect")}
    asks = [Ask(row=i, kind="speech", content=f"line {i}", voice="tone-low", seed=i) for i in (1, 2, 3)]
    asks += [Ask(row=i, kind="sound_effect", content=f"a door {i}", duration=1.0, seed=i) for i in (4, 5)]
    script = Script.from_dict({"title": "t", "rows": [row(content=a.content) for a in asks]})
    renderer = _ClipRenderer(backends, ClipCache(tmp_path / "cache"), 48000, LocalExecutor(1), lambda: None,
                             Hooks(script, None, 48000, tmp_path))
    assert sorted(renderer.run(asks)) == [1, 2, 3, 4, 5]
    # one worker renders the batches in the order given; a trim comes when the render takes the last clip
    assert [entry for entry in log if entry[1] is not None] == [("speech", 1), ("sound_effect", 4), ("speech", 2),
                                                                ("sound_effect", 5), ("speech", 3)]
    for kind, last in (("speech", 3), ("sound_effect", 5)):
        assert log.count((kind, None)) == 1 and log.index((kind, None)) > log.index((kind, last))


def _mapped(a: np.ndarray) -> bool:
    """Whether ``a``'s samples live in a memory map (a view of one, at any depth)."""
    import mmap

    while isinstance(a, np.ndarray):
        a = a.base
    return isinstance(a, mmap.mmap)
