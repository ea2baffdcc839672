"""``File``: an audio file plays instead of a generated clip (a recorded host segment, a jingle, a licensed
effect).

* The path is relative to the script's folder; a path outside it is refused unless its folder is allowed
  (``--allow-path DIR``). Any format soundfile reads (WAV, FLAC, Ogg/Vorbis, Opus, MP3, AIFF...).
* The row keeps its type, layout and text: a speech row's Content is the transcript its subtitles show; its
  Volume is the loudness the file is brought to, like any clip.
* Duration: ``Auto`` on a foreground row plays the whole file; on a background row, the track's span. A
  number plays that long: a longer file is cut with a fade, a shorter one loops with crossfades.
* The clip cache keys the row on the file's contents, so an edited file is read afresh.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from ..errors import Problem, ScriptError, UserError
from .base import Column, Extension

#: Seconds of the fade where a file is cut, and of the crossfade where it loops.
CUT_FADE = 0.5
LOOP_CROSSFADE = 0.5


class File(Extension):
    name = "file"
    description = "File: play an audio file (recording, jingle, licensed effect) instead of generating the row."
    columns = (Column("file", "File", {"type": "string", "minLength": 1, "maxLength": 1000},
                      description="an audio file to play instead of generating the row, relative to the "
                                  "script's folder (e.g. audio/intro.wav).",
                      fix="give the audio file's path relative to the script's folder (e.g. audio/intro.wav), "
                          "or N/A to generate the row."),)

    def __init__(self, settings=None):
        super().__init__(settings)
        self._paths: dict[int, Path] = {}
        self._digests: dict[Path, str] = {}

    def prepare(self, ctx):
        """Find every row's file (inside the allowed folders) and check soundfile can read it."""
        problems = []
        for n, row in enumerate(ctx.script.rows, start=1):
            name = row.get("file")
            if name is None:
                continue
            try:
                path = ctx.resolve(name, "audio file")
            except UserError as exc:
                problems.append(Problem(n, "file", str(exc)))
                continue
            import soundfile as sf  # only for a script that names files (validate stays light)

            try:
                info = sf.info(str(path))
            except RuntimeError as exc:  # soundfile.LibsndfileError
                problems.append(Problem(n, "file", f"'{name}' is not audio storyaudio can read ({exc}).",
                                        "convert it to WAV, FLAC, Ogg or MP3."))
                continue
            if info.frames == 0:
                problems.append(Problem(n, "file", f"'{name}' holds no audio.", "choose another file."))
                continue
            self._paths[n] = path
        if problems:
            raise ScriptError(problems)
        return []

    def plan(self, event, values, ctx):
        row = ctx.script.rows[event.row - 1]
        requested = event.requested
        if event.layout == "foreground" and row.seconds is None:
            requested = None  # Auto: the file's own length, known once it is read
        return replace(event, backend=self.name, requested=requested)

    def cache_fields(self, ask, values, ctx):
        path = self._paths[ask.row]
        if path not in self._digests:
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            self._digests[path] = h.hexdigest()
        return {"sha256": self._digests[path]}

    def render(self, ask, sample_rate, values, ctx):
        import numpy as np
        import soundfile as sf

        from ..audio import resample
        from ..backends.base import Clip
        from .dsp import cut_to, loop_to

        path = self._paths[ask.row]
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        audio = data.T
        if audio.shape[0] > 2:  # surround: folded to mono
            audio = audio.mean(axis=0, keepdims=True)
        audio = resample(np.ascontiguousarray(audio), rate, sample_rate)
        seconds = audio.shape[1] / sample_rate
        how = "whole"
        if ask.duration is not None:
            n = int(round(ask.duration * sample_rate))
            if n < audio.shape[1]:
                audio, how = cut_to(audio, n, sample_rate, CUT_FADE), "cut"
            elif n > audio.shape[1]:
                audio, how = loop_to(audio, n, sample_rate, LOOP_CROSSFADE), "looped"
        detail = f"file {values['file']} ({seconds:.1f} s{'' if how == 'whole' else ', ' + how})"
        return Clip(audio, sample_rate, detail, {"file": values["file"], "seconds": round(seconds, 3), "fit": how})
