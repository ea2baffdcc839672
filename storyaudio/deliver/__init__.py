"""Delivery: the files a render leaves in its output folder.

Every writer here writes into a staging folder; :func:`storyaudio.render.render` moves the finished set into
the output folder only once everything succeeded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..plan import Timeline


def write_wav(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_24") -> Path:
    import soundfile as sf

    sf.write(str(path), np.atleast_2d(audio).T, sample_rate, subtype=subtype)
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


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _speech(timeline: Timeline):
    return [e for e in timeline.events if e.audio_type == "speech" and e.start is not None]


def subtitles_srt(timeline: Timeline) -> str:
    out = []
    for i, e in enumerate(_speech(timeline), start=1):
        out.append(f"{i}\n{_stamp(e.start, ',')} --> {_stamp(e.end, ',')}\n{e.character}: {e.content}\n")
    return "\n".join(out)


def subtitles_vtt(timeline: Timeline) -> str:
    out = ["WEBVTT", ""]
    for i, e in enumerate(_speech(timeline), start=1):
        speaker = (e.character or "").replace(">", "")
        out += [str(i), f"{_stamp(e.start, '.')} --> {_stamp(e.end, '.')}", f"<v {speaker}>{e.content}", ""]
    return "\n".join(out)


def labels_txt(timeline: Timeline) -> str:
    """Audacity label track: start, end, label (tab-separated, seconds)."""
    lines = []
    for e in sorted(timeline.events, key=lambda e: (e.start or 0, e.row)):
        what = f"{e.character}: {e.content}" if e.audio_type == "speech" else f"[{e.audio_type}] {e.content}"
        lines.append(f"{e.start:.6f}\t{e.end:.6f}\trow {e.row} {what}")
    return "\n".join(lines) + "\n"


_COLOURS = {"speech": "#3b7dd8", "music": "#d8893b", "sound_effect": "#4caf50"}


def timeline_png(path: Path, timeline: Timeline, mix: np.ndarray | None = None) -> Path:
    """A picture a person reads at a glance: the mix's waveform on top, one lane per track below, each event
    a bar labelled with its row, speaker or description."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tracks: list[str] = []
    for e in timeline.events:
        if e.track not in tracks:
            tracks.append(e.track)
    height = 1.6 + 0.45 * len(tracks)
    fig, (ax_w, ax) = plt.subplots(2, 1, figsize=(14, height + 1.4), sharex=True,
                                   gridspec_kw={"height_ratios": [1.4, height]})
    total = timeline.duration or 1.0
    if mix is not None and mix.size:
        env = np.abs(np.atleast_2d(mix)).max(axis=0)
        bins = 2000
        step = max(1, env.size // bins)
        trimmed = env[: env.size // step * step].reshape(-1, step).max(axis=1)
        t = np.arange(trimmed.size) * step / timeline.sample_rate
        ax_w.fill_between(t, -trimmed, trimmed, color="#555555", linewidth=0)
        ax_w.set_ylim(-1, 1)
    ax_w.set_yticks([])
    ax_w.set_title(f"{timeline.title} — {total:.1f} s", loc="left")
    for e in timeline.events:
        lane = len(tracks) - 1 - tracks.index(e.track)
        colour = _COLOURS.get(e.audio_type, "#888888")
        alpha = 0.55 if e.layout == "background" else 0.9
        ax.barh(lane, e.end - e.start, left=e.start, height=0.7, color=colour, alpha=alpha, edgecolor="white")
        label = f"{e.row}: {e.character or e.content}"
        width_chars = max(3, int((e.end - e.start) / total * 150))
        if len(label) > width_chars:
            label = label[: max(1, width_chars - 1)] + "…"
        ax.text(e.start + total * 0.003, lane, label, va="center", ha="left", fontsize=7, color="black", clip_on=True)
    ax.set_yticks(range(len(tracks)))
    ax.set_yticklabels(list(reversed(tracks)), fontsize=8)
    ax.set_xlim(0, total)
    ax.set_xlabel("seconds")
    ax.grid(axis="x", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _COLOURS.values()]
    ax_w.legend(handles, ["speech", "music", "sound effect"], loc="upper right", fontsize=7, ncol=3,
                bbox_to_anchor=(1.0, 1.35), frameon=False)
    fig.tight_layout()
    fig.savefig(str(path), dpi=110)
    plt.close(fig)
    return path
