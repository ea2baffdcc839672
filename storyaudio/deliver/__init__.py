"""Delivery: the files a render leaves in its output folder.

Every writer here writes into a staging folder; :func:`storyaudio.pipeline.render` moves the finished set into
the output folder only once everything succeeded. Subtitles and labels are in :mod:`.subtitles`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..timeline import RenderedClip, Timeline


def write_wav(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_24") -> Path:
    """``audio`` ``(channels, samples)`` as a WAV; the same samples always make the same bytes."""
    from ..mix.blockio import open_for_writing

    audio = np.atleast_2d(audio)
    with open_for_writing(path, sample_rate, audio.shape[0], subtype) as fh:
        fh.write(np.ascontiguousarray(audio.T))
    return path


def write_mp3(path: Path, audio: np.ndarray, sample_rate: int, title: str, artist: str = "storyaudio") -> Path:
    """MP3 through libsndfile (LAME), tagged with ID3 title/artist through mutagen."""
    import soundfile as sf

    if "MP3" not in sf.available_formats():
        from ..errors import BackendUnavailableError

        raise BackendUnavailableError("this libsndfile cannot write MP3: pip install --upgrade soundfile (>= 0.12).")
    data = np.clip(np.atleast_2d(audio).T, -1.0, 1.0)
    with sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=data.shape[1], format="MP3",
                      subtype="MPEG_LAYER_III", compression_level=0.2) as fh:  # high-quality VBR
        fh.write(data)
    from mutagen.easyid3 import EasyID3
    from mutagen.id3 import ID3NoHeaderError

    try:
        tags = EasyID3(str(path))
    except ID3NoHeaderError:
        tags = EasyID3()
    tags["title"] = title
    tags["artist"] = artist
    tags.save(str(path))
    return path


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def timeline_dict(timeline: Timeline, clips: Mapping[int, RenderedClip], timings: Mapping[str, float]) -> dict:
    """timeline.json: the timeline, each event with what rendering made of it, and the seconds each stage of
    the render took."""
    out = timeline.to_dict()
    out["events"] = [{**e.to_dict(), **clips[e.row].to_dict()} for e in timeline.events]
    out["timings"] = {stage: round(seconds, 3) for stage, seconds in timings.items()}
    return out


_COLOURS = {"speech": "#3b7dd8", "music": "#d8893b", "sound_effect": "#4caf50"}


#: Bins of the waveform the picture draws (about; each a whole number of samples).
PICTURE_BINS = 2000
#: Samples per bin of the envelope mastering measures for the picture (grouped into about PICTURE_BINS to
#: draw): a fixed size, so a re-render keeps the bins before an edit even when the piece's length changed.
ENVELOPE_STEP = 1024


def timeline_png(path: Path, timeline: Timeline, mix: np.ndarray | None = None,
                 envelope: tuple[np.ndarray, int] | None = None) -> Path:
    """A picture a person reads at a glance: the mix's waveform on top, one lane per track below, each event
    a bar labelled with its row, speaker or description. Drawn on its own Figure (not pyplot's shared state),
    so renders in several threads can draw at once. The waveform is ``mix``'s, or ``envelope`` (the peak of
    each bin and the bin's samples, as mastering measures them while it writes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    tracks: list[str] = []
    for e in timeline.events:
        if e.track not in tracks:
            tracks.append(e.track)
    height = 1.6 + 0.45 * len(tracks)
    fig = Figure(figsize=(14, height + 1.4))
    FigureCanvasAgg(fig)
    ax_w, ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1.4, height]})
    total = timeline.duration or 1.0
    if envelope is None and mix is not None and mix.size:
        env = np.abs(np.atleast_2d(mix)).max(axis=0)
        step = max(1, env.size // PICTURE_BINS)
        envelope = env[: env.size // step * step].reshape(-1, step).max(axis=1), step
    if envelope is not None and envelope[0].size:
        trimmed, step = envelope
        group = -(-trimmed.size // PICTURE_BINS)  # fine bins drawn about PICTURE_BINS at a time
        if group > 1:
            trimmed = np.pad(trimmed, (0, -trimmed.size % group)).reshape(-1, group).max(axis=1)
            step *= group
        t = np.arange(trimmed.size) * step / timeline.sample_rate
        ax_w.fill_between(t, -trimmed, trimmed, color="#555555", linewidth=0)
        ax_w.set_ylim(-1, 1)
    ax_w.set_yticks([])
    ax_w.set_title(f"{timeline.title} — {total:.1f} s", loc="left")
    for e in timeline.events:
        lane = len(tracks) - 1 - tracks.index(e.track)
        colour = _COLOURS.get(e.audio_type, "#888888")
        alpha = 0.55 if e.layout == "background" else 0.9
        ax.barh(lane, e.span, left=e.start, height=0.7, color=colour, alpha=alpha, edgecolor="white")
        label = f"{e.row}: {e.character or e.content}"
        width_chars = max(3, int(e.span / total * 150))
        if len(label) > width_chars:
            label = label[: max(1, width_chars - 1)] + "…"
        ax.text(e.start + total * 0.003, lane, label, va="center", ha="left", fontsize=7, color="black", clip_on=True)
    ax.set_yticks(range(len(tracks)))
    ax.set_yticklabels(list(reversed(tracks)), fontsize=8)
    ax.set_xlim(0, total)
    ax.set_xlabel("seconds")
    ax.grid(axis="x", alpha=0.3)
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in _COLOURS.values()]
    ax_w.legend(handles, ["speech", "music", "sound effect"], loc="upper right", fontsize=7, ncol=3,
                bbox_to_anchor=(1.0, 1.35), frameon=False)
    fig.tight_layout()
    fig.savefig(str(path), dpi=110)
    return path
