"""``timeline.otio``: the render as an OpenTimelineIO timeline, for editors (DaVinci Resolve, Premiere
through its OTIO plug-in, Avid through adapters, Hiero, RV, any OTIO reader).

One audio track per stem (in the order stems/ lists them), one clip per event referencing its file in
``clips/`` by a relative URL (``clips/row012-speech.wav``: the folder can move as a whole), gaps between;
times are exact sample counts at the render's sample rate. Each chapter is a marker on the timeline's stack
spanning the chapter. What the mix did beyond placing clips is kept as metadata under ``storyaudio`` for an
editor or a script to apply: a clip's ``gain_db`` (already applied to its file: the clips are normalised to
their row's loudness), ``pan``, ``fade_in``/``fade_out`` (seconds) and whether the track is ``ducked``
under speech; the timeline's ``master_gain_db`` (what mastering added to the whole mix).

Two events of one track never overlap in a storyaudio timeline; should one ever do, it goes to a second
track of the same stem (``NAME (2)``) rather than being lost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ..errors import BackendUnavailableError
from ..timeline import RenderedClip, Timeline

INSTALL_HINT = "pip install 'storyaudio[export]' (or: pip install opentimelineio)"
#: The colours chapter markers take in turn.
_COLOURS = ("RED", "ORANGE", "YELLOW", "GREEN", "CYAN", "BLUE", "PURPLE", "MAGENTA")


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("opentimelineio") is not None


def require() -> None:
    if not available():
        raise BackendUnavailableError(f"--otio needs OpenTimelineIO: {INSTALL_HINT}.")


def build(timeline: Timeline, clips: Mapping[int, RenderedClip], *, ducked: Mapping[str, bool] | None = None,
          master_gain_db: float | None = None):
    """The ``opentimelineio.schema.Timeline`` of a render (``clips`` by row; ``ducked`` by track name)."""
    require()
    import opentimelineio as otio

    sr = timeline.sample_rate
    rt = lambda samples: otio.opentime.RationalTime(samples, sr)  # noqa: E731
    span = lambda a, n: otio.opentime.TimeRange(rt(a), rt(n))  # noqa: E731
    ducked = ducked or {}

    meta = {"sample_rate": sr, "duration": round(timeline.duration, 6), "tail": timeline.tail}
    if master_gain_db is not None:
        meta["master_gain_db"] = round(master_gain_db, 3)
    if timeline.rows:
        meta["preview"] = {"rows": list(timeline.rows), "offset": round(timeline.offset, 6)}
    out = otio.schema.Timeline(name=timeline.title, global_start_time=rt(0), metadata={"storyaudio": meta})

    lanes: dict[str, list[tuple[object, int]]] = {}  # track name -> [(otio track, samples filled)]
    for ev in sorted(timeline.events, key=lambda e: (e.start, e.row)):
        start, length = int(round(ev.start * sr)), int(round(ev.span * sr))
        tracks = lanes.setdefault(ev.track, [])
        lane = next((i for i, (_, filled) in enumerate(tracks) if filled <= start), None)
        if lane is None:
            name = ev.track if not tracks else f"{ev.track} ({len(tracks) + 1})"
            track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio, metadata={"storyaudio": {
                "stem": f"stems/{ev.track}.wav", "ducked": bool(ducked.get(ev.track, False))}})
            tracks.append((track, 0))
            lane = len(tracks) - 1
        track, filled = tracks[lane]
        if start > filled:
            track.append(otio.schema.Gap(source_range=span(0, start - filled)))
        clip = clips[ev.row]
        ref = otio.schema.ExternalReference(target_url=clip.clip_file, available_range=span(0, length))
        who = ev.character or ev.content
        track.append(otio.schema.Clip(
            name=f"row {ev.row}: {' '.join(who.split())[:60]}", media_reference=ref, source_range=span(0, length),
            metadata={"storyaudio": {
                "row": ev.row, "audio_type": ev.audio_type, "layout": ev.layout, "content": ev.content,
                "character": ev.character, "voice": ev.voice, "backend": ev.backend, "detail": clip.detail,
                "target_lufs": ev.target_lufs, "level_db": clip.level_db, "gain_db": clip.gain_db,
                "gain_applied": True, "pan": ev.pan, "fade_in": round(ev.fade_in, 6),
                "fade_out": round(ev.fade_out, 6)}}))
        tracks[lane] = (track, start + length)
    for name in dict.fromkeys(e.track for e in timeline.events):  # script order, as stems/ and the mixer
        for track, _ in lanes[name]:
            out.tracks.append(track)
    for c in timeline.chapters:
        a = int(round(c.start * sr))
        out.tracks.markers.append(otio.schema.Marker(
            name=c.title, marked_range=span(a, int(round(c.end * sr)) - a),
            color=getattr(otio.schema.MarkerColor, _COLOURS[(c.number - 1) % len(_COLOURS)]),
            metadata={"storyaudio": {"chapter": c.number, "row": c.row}}))
    return out


def write_otio(path: Path, timeline: Timeline, clips: Mapping[int, RenderedClip], **kwargs) -> Path:
    """Write :func:`build`'s timeline as OTIO JSON to ``path``."""
    import opentimelineio as otio

    otio.adapters.write_to_file(build(timeline, clips, **kwargs), str(path), adapter_name="otio_json")
    return path
