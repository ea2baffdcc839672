"""Delivery: the files a render leaves in its output folder.

Every writer here writes into a staging folder; :func:`storyaudio.pipeline.render` moves the finished set into
the output folder only once everything succeeded. Subtitles and labels are in :mod:`.subtitles`; ID3 and MP4
tags in :mod:`.tags`; ``mix.m4b`` in :mod:`.m4b`; ``chapters.json`` in :mod:`.chapters`; ``timeline.otio``
in :mod:`.otio`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..timeline import Chapter, RenderedClip, Timeline

if TYPE_CHECKING:
    from .tags import EpisodeTags


def write_wav(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_24") -> Path:
    """``audio`` ``(channels, samples)`` as a WAV; the same samples always make the same bytes."""
    from ..mix.blockio import open_for_writing

    audio = np.atleast_2d(audio)
    with open_for_writing(path, sample_rate, audio.shape[0], subtype) as fh:
        fh.write(np.ascontiguousarray(audio.T))
    return path


def write_mp3(path: Path, audio: np.ndarray | Path, sample_rate: int, title: str, artist: str = "storyaudio", *,
              tags: "EpisodeTags | None" = None, chapters: Sequence[Chapter] = ()) -> Path:
    """MP3 through libsndfile (LAME), from an array or a WAV file (``audio``), encoded a block at a time so
    no whole-length copy is made; then tagged with ID3 (:func:`.tags.tag_mp3`): ``tags`` (default: the title
    and ``artist``) and ``chapters`` (CHAP/CTOC frames)."""
    import soundfile as sf

    from .tags import EpisodeTags, tag_mp3

    if "MP3" not in sf.available_formats():
        from ..errors import BackendUnavailableError

        raise BackendUnavailableError("this libsndfile cannot write MP3: pip install --upgrade soundfile (>= 0.12).")
    source = sf.SoundFile(str(audio)) if isinstance(audio, (str, Path)) else None
    try:
        if source is not None:
            channels, blocks = source.channels, source.blocks(blocksize=_MP3_BLOCK, dtype="float32", always_2d=True)
        else:
            data = np.atleast_2d(audio)
            channels = data.shape[0]
            blocks = (data[:, i : i + _MP3_BLOCK].T for i in range(0, data.shape[1], _MP3_BLOCK))
        with sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=channels, format="MP3",
                          subtype="MPEG_LAYER_III", compression_level=0.2) as fh:  # high-quality VBR
            for block in blocks:
                fh.write(np.clip(block, -1.0, 1.0))
    finally:
        if source is not None:
            source.close()
    return tag_mp3(path, tags or EpisodeTags(title, author=artist), chapters)


_MP3_BLOCK = 1 << 16


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
#: Above this many events the picture leaves out their labels (unreadable at that density anyway).
MAX_LABELLED_EVENTS = 300


def timeline_png(path: Path, timeline: Timeline, mix: np.ndarray | Path | None = None,
                 envelope: tuple[np.ndarray, int] | None = None) -> Path:
    """A picture a person reads at a glance: the mix's waveform on top, one lane per track below, each event
    a bar labelled with its row, speaker or description (up to :data:`MAX_LABELLED_EVENTS` events), and each
    chapter a dashed line across both with its number and title. The waveform is ``envelope``'s (the peak of
    each bin and the bin's samples, as mastering measures them while it writes) or ``mix``'s (the audio, or a
    sound file read a block at a time). :class:`TimelinePicture` in one go."""
    if envelope is None and mix is not None:
        envelope = _envelope(mix, PICTURE_BINS)
    return TimelinePicture(timeline).finish(path, envelope)


class TimelinePicture:
    """The picture of :func:`timeline_png` in two layers, so that a render can draw the costly one while it
    is still mastering: the lanes (every label's text: nearly all of the drawing) need only the timeline,
    and are drawn when this is made; :meth:`finish` draws the waveform and the chapter marks on a clear layer
    of the same size, lays it over the lanes' pixels and writes the PNG. Each layer is its own Figure (not
    pyplot's shared state), so renders in several threads can draw at once; a lane's bars are one
    collection, so hours of events draw in about the time of a few."""

    DPI = 110

    def __init__(self, timeline: Timeline):
        self.timeline = timeline
        tracks: list[str] = []
        for e in timeline.events:
            if e.track not in tracks:
                tracks.append(e.track)
        self.tracks = tracks
        self.total = timeline.duration or 1.0
        fig, (ax_w, ax) = self._figure()
        ax_w.set_title(f"{timeline.title} — {self.total:.1f} s", loc="left")
        self._lanes(ax)
        handles = [_rectangle(c) for c in _COLOURS.values()]
        ax_w.legend(handles, ["speech", "music", "sound effect"], loc="upper right", fontsize=7, ncol=3,
                    bbox_to_anchor=(1.0, 1.35), frameon=False)
        fig.canvas.draw()
        self.lanes = np.asarray(fig.canvas.buffer_rgba()).copy()

    def _figure(self, clear: bool = False):
        """A figure of the picture's size with its two axes where they always are; ``clear``: transparent,
        the waveform axes bare (the lanes layer draws their frame)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        height = 1.6 + 0.45 * len(self.tracks)
        fig = Figure(figsize=(14, height + 1.4), dpi=self.DPI)
        FigureCanvasAgg(fig)
        ax_w, ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1.4, height]})
        # Margins set from what they hold (the longest lane name; the title, legend and axis label in
        # inches) rather than by tight_layout, which draws every label once more to measure it.
        fig_h = height + 1.4
        longest = max((len(name) for name in self.tracks), default=4)
        fig.subplots_adjust(left=min(0.3, (0.3 + 0.068 * longest) / 14), right=0.99, top=1 - 0.62 / fig_h,
                            bottom=0.5 / fig_h, hspace=0.12)
        for a in (ax_w, ax):
            a.set_xlim(0, self.total)
        ax_w.set_ylim(-1, 1)
        ax_w.set_yticks([])
        if clear:
            fig.patch.set_alpha(0.0)
            ax_w.patch.set_alpha(0.0)
            ax_w.set_axis_off()
            ax.set_visible(False)
        return fig, (ax_w, ax)

    def _lanes(self, ax) -> None:
        timeline, tracks, total = self.timeline, self.tracks, self.total
        bars: dict[str, list[tuple[float, float]]] = {}
        for e in timeline.events:
            bars.setdefault(e.track, []).append((e.start, e.span))
        for track, spans in bars.items():
            first = next(e for e in timeline.events if e.track == track)
            lane = len(tracks) - 1 - tracks.index(track)
            ax.broken_barh(spans, (lane - 0.35, 0.7), facecolors=_COLOURS.get(first.audio_type, "#888888"),
                           alpha=0.55 if first.layout == "background" else 0.9, edgecolor="white")
        if len(timeline.events) <= MAX_LABELLED_EVENTS:
            for e in timeline.events:
                lane = len(tracks) - 1 - tracks.index(e.track)
                label = f"{e.row}: {e.character or e.content}"
                width_chars = max(3, int(e.span / total * 150))
                if len(label) > width_chars:
                    label = label[: max(1, width_chars - 1)] + "…"
                ax.text(e.start + total * 0.003, lane, label, va="center", ha="left", fontsize=7, color="black",
                        clip_on=True)
        for c in timeline.chapters:
            ax.axvline(c.start, color="#b03030", linewidth=1.0, linestyle="--", alpha=0.8)
        ax.set_yticks(range(len(tracks)))
        ax.set_yticklabels(list(reversed(tracks)), fontsize=8)
        ax.set_xlabel("seconds")
        ax.grid(axis="x", alpha=0.3)

    def finish(self, path: Path, envelope: tuple[np.ndarray, int] | None) -> Path:
        """Draw the waveform (``envelope``: the peak of each bin and the bin's samples; None: none) and the
        chapters' marks over it, lay that over the lanes and write the PNG to ``path``."""
        from PIL import Image
        from matplotlib.transforms import blended_transform_factory

        fig, (ax_w, _ax) = self._figure(clear=True)
        trimmed, step = envelope if envelope is not None else (np.zeros(0, np.float32), 1)
        if trimmed.size:
            group = -(-trimmed.size // PICTURE_BINS)  # fine bins drawn about PICTURE_BINS at a time
            if group > 1:
                trimmed = np.pad(trimmed, (0, -trimmed.size % group)).reshape(-1, group).max(axis=1)
                step *= group
            t = np.arange(trimmed.size) * step / self.timeline.sample_rate
            ax_w.fill_between(t, -trimmed, trimmed, color="#555555", linewidth=0)
        top = blended_transform_factory(ax_w.transData, ax_w.transAxes)
        for c in self.timeline.chapters:
            ax_w.axvline(c.start, color="#b03030", linewidth=1.0, linestyle="--", alpha=0.8)
            width_chars = max(3, int((c.end - c.start) / self.total * 150))
            label = f"{c.number}. {c.title}"
            if len(label) > width_chars:
                label = label[: max(1, width_chars - 1)] + "…"
            ax_w.text(c.start + self.total * 0.003, 0.96, label, transform=top, va="top", ha="left", fontsize=7,
                      color="#b03030", clip_on=True)
        fig.canvas.draw()
        over = Image.fromarray(np.asarray(fig.canvas.buffer_rgba()))
        picture = Image.alpha_composite(Image.fromarray(self.lanes), over).convert("RGB")
        picture.save(str(path), format="PNG", dpi=(self.DPI, self.DPI))
        return path


def _rectangle(colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((0, 0), 1, 1, color=colour)


def _envelope(mix: np.ndarray | Path, bins: int) -> tuple[np.ndarray, int]:
    """The peak of ``mix`` (an array ``(channels, samples)`` or a sound file) over about ``bins`` equal steps,
    and the step in samples; a chunk of steps at a time, so no whole-length copy is made (and a file is read
    in blocks, not mapped: its pages do not stay in the process's memory)."""
    if isinstance(mix, (str, Path)):
        import soundfile as sf

        with sf.SoundFile(str(mix)) as fh:
            n = fh.frames
            step = max(1, n // bins)
            chunk = step * max(1, (1 << 18) // step)
            peaks = []
            for block in fh.blocks(blocksize=chunk, dtype="float32", always_2d=True):
                whole = block.shape[0] // step * step  # chunk is whole steps: only the last block has a rest
                peaks.append(np.abs(block[:whole]).max(axis=1).reshape(-1, step).max(axis=1))
        return (np.concatenate(peaks) if peaks else np.zeros(0, np.float32)), step
    mix = np.atleast_2d(mix)
    n = mix.shape[1]
    step = max(1, n // bins)
    count = n // step
    out = np.empty(count, dtype=np.float32)
    chunk = max(1, (1 << 20) // step)  # steps per chunk: about a million samples
    for i in range(0, count, chunk):
        j = min(count, i + chunk)
        block = np.abs(mix[:, i * step : j * step]).max(axis=0)
        out[i:j] = block.reshape(j - i, step).max(axis=1)
    return out, step
