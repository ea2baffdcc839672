"""``espeak``: formant speech from Debian's ``espeak-ng`` program, for robots, for many languages and for
machines without the Piper voice.

It is fast and fully offline but clearly synthetic and harder to understand than ``piper``. Each catalogue
voice is an espeak-ng accent (``en-us``, ``en-gb-x-rp``, ``en-gb-scotland``, ``en-029``) with a voice variant
(``f3``, ``m3``, ``grandma``, ``robosoft``...) at its own pitch and speed. ``--set espeak.language=de`` reads
the text in another espeak-ng language with the same variants (English text handling is then skipped: espeak-ng
reads numbers in its own languages).

The program runs once per line with SSML input, so sentence pauses from :mod:`.text` become ``<break>``
marks. espeak-ng has no randomness: the same line, voice and options give the same samples.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from pydantic import Field

from ...audio import resample
from ...errors import BackendUnavailableError, OptionError, RenderError
from ..base import Backend, Clip, Event, Voice
from .base import SpeechOptions, catalogue_voice
from .fit import speak, trim_silence
from .text import normalize, segments as text_segments
from .writing import speakable

__all__ = ["ESPEAK_CATALOGUE", "EspeakBackend", "EspeakOptions", "EspeakRecipe"]

INSTALL_HINT = "apt-get install espeak-ng  (Debian/Ubuntu; brew install espeak-ng on macOS)"


@dataclass(frozen=True)
class EspeakRecipe:
    accent: str  # espeak-ng language voice, e.g. en-us
    variant: str  # espeak-ng variant, e.g. f3
    speed: int = 165  # words per minute
    pitch: int = 50  # 0-99
    word_gap: int = 0  # extra pause between words, 10 ms units


def _v(name, gender, age, tags, description, **recipe) -> tuple[Voice, EspeakRecipe]:
    return Voice(name, description, gender, age, tuple(tags)), EspeakRecipe(**recipe)


ESPEAK_CATALOGUE: list[tuple[Voice, EspeakRecipe]] = [
    _v("ava", "female", "adult", ("american", "clear", "narrator", "host", "news"),
       "American woman, clear and brisk (espeak en-us + f3).", accent="en-us", variant="f3", speed=165, pitch=55),
    _v("ben", "male", "adult", ("american", "clear", "narrator", "calm"),
       "American man, plain and steady (espeak en-us + m3).", accent="en-us", variant="m3", speed=165, pitch=45),
    _v("hugh", "male", "adult", ("british", "serious", "clear", "announcer"),
       "British man, received pronunciation, low (espeak en-gb-x-rp + m1).", accent="en-gb-x-rp", variant="m1",
       speed=160, pitch=35),
    _v("fiona", "female", "adult", ("scottish", "british", "warm", "bright"),
       "Scottish woman, bright (espeak en-gb-scotland + f2).", accent="en-gb-scotland", variant="f2", speed=160,
       pitch=60),
    _v("desmond", "male", "adult", ("caribbean", "warm", "calm"),
       "Caribbean man, relaxed (espeak en-029 + m2).", accent="en-029", variant="m2", speed=150, pitch=50),
    _v("edna", "female", "older", ("older", "slow", "gentle", "grandmother", "british"),
       "Older British woman, slow and shaky (espeak en + grandma).", accent="en", variant="grandma", speed=135,
       pitch=50, word_gap=1),
    _v("arthur", "male", "older", ("older", "slow", "grandfather", "wise", "british"),
       "Older British man, slow (espeak en + grandpa).", accent="en", variant="grandpa", speed=135, pitch=40,
       word_gap=1),
    _v("kit", "female", "child", ("child", "bright", "playful", "high", "fast"),
       "Child, high and breathy (espeak en-us + f5, raised pitch).", accent="en-us", variant="f5", speed=175,
       pitch=90),
    _v("unit", "neutral", "adult", ("robot", "flat", "monotone", "mechanical", "deep"),
       "Robot, buzzing and flat (espeak en-us + robosoft).", accent="en-us", variant="robosoft", speed=150,
       pitch=30),
    _v("whisper", "female", "young", ("whisper", "secretive", "soft"),
       "Whispering young woman (espeak en-us + whisperf).", accent="en-us", variant="whisperf", speed=150,
       pitch=50),
]
_BY_NAME = {v.name: (v, r) for v, r in ESPEAK_CATALOGUE}


class EspeakOptions(SpeechOptions):
    language: str | None = Field(None, max_length=40, pattern=r"^[A-Za-z0-9_-]+$",
                                 description="espeak-ng language to read the text in (de, fr, es, pt-br, ja, ... "
                                 "see 'espeak-ng --voices'); unset: each voice's English accent")
    pitch_shift: int = Field(0, ge=-50, le=50, description="added to every voice's espeak pitch (0-99 scale)")
    max_speedup: float = Field(1.4, ge=1.0, le=2.5,
                               description=SpeechOptions.model_fields["max_speedup"].description)
    program: str = Field("espeak-ng", description="the espeak-ng executable (name on PATH or a path)")


_PHONEME_END = re.compile(r"\]\](?:\.(?!\.))?")


class EspeakBackend(Backend[EspeakOptions]):
    name = "espeak"
    kinds = ("speech",)
    description = (f"Formant speech from espeak-ng: {len(ESPEAK_CATALOGUE)} voices, robots, 100+ languages; "
                   "fast, robotic, harder to understand than piper.")
    Options = EspeakOptions
    requires_programs = ("espeak-ng",)
    install_hint = INSTALL_HINT
    thread_safe = True
    phoneme_input = "espeak"  # [[k'aIp3]] in the text is spoken as those phonemes (a lexicon's phoneme entries)

    def voices(self) -> list[Voice]:
        return [v for v, _ in ESPEAK_CATALOGUE]

    @staticmethod
    def recipe(name: str) -> EspeakRecipe:
        return _BY_NAME[name][1]

    def _language(self, voice: str | None) -> str:
        """The espeak-ng language a voice reads in: the ``language`` option, else the voice's accent."""
        if self.options.language:
            return self.options.language
        return _BY_NAME.get(voice or "", ESPEAK_CATALOGUE[0])[1].accent

    def text_problems(self, text: str, voice: str | None) -> list[str]:
        language = self._language(voice)
        english = language.lower().startswith("en")

        def fix(script: str, other: str) -> str:
            if not other:
                return "Write them in Latin letters."
            return f"To read them, set a language that reads {script}: --set espeak.language={other}."

        spoken = normalize(text) if english and self.options.normalize_text else text
        return speakable(spoken, language, f"espeak-ng's '{language}'", fix)

    def _program(self) -> str:
        opts = self.options
        path = shutil.which(opts.program)
        if path is None:
            raise BackendUnavailableError(f"the espeak backend needs the '{opts.program}' program. Install: "
                                          f"{INSTALL_HINT}")
        return path

    def _ssml(self, text: str, english: bool, speed: float) -> str:
        opts = self.options
        segs = text_segments(text, opts.sentence_pause, 400, english and opts.normalize_text)
        parts = []
        for k, seg in enumerate(segs):
            # phoneme input ends at "]]" only where a space follows; a full stop left alone after it would be read
            # out as "dot", so it goes (the pause after the piece is a <break> anyway)
            parts.append(_PHONEME_END.sub("]] ", escape(seg.text)))
            if k < len(segs) - 1 and seg.pause > 0:
                parts.append(f'<break time="{round(seg.pause / (opts.pace * speed) * 1000)}ms"/>')
        return "<speak>" + " ".join(parts) + "</speak>"

    def _run(self, text: str, recipe: EspeakRecipe, speed: float) -> tuple[np.ndarray, int]:
        opts = self.options
        language = opts.language or recipe.accent
        english = language.lower().startswith("en")
        wpm = round(min(450, max(80, recipe.speed * opts.pace * speed)))
        pitch = int(min(99, max(0, recipe.pitch + opts.pitch_shift)))
        cmd = [self._program(), "--stdout", "--stdin", "-m", "-b", "1", "-z", "-v", f"{language}+{recipe.variant}",
               "-s", str(wpm), "-p", str(pitch), "-g", str(recipe.word_gap)]
        proc = subprocess.run(cmd, input=self._ssml(text, english, speed).encode("utf-8"), capture_output=True, check=False,
                              timeout=120)
        err = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode != 0 or len(proc.stdout) < 44 or "Failed to read voice" in err:
            if opts.language and ("voice" in err.lower() or proc.returncode != 0):
                raise OptionError(f"espeak-ng has no language '{opts.language}' ({err or 'no audio'}). Run "
                                  f"'espeak-ng --voices' to list languages and set espeak.language to one of them.")
            raise RenderError(f"espeak-ng failed (exit {proc.returncode}): {err or 'no audio'}")
        return _parse_wav(proc.stdout)

    def _render_once(self, text: str, recipe: EspeakRecipe, speed: float, sample_rate: int) -> np.ndarray:
        opts = self.options
        if not re.search(r"\w", text):
            return np.zeros(0, np.float32)
        audio, rate = self._run(text, recipe, speed)
        out = resample(audio, rate, sample_rate)
        return trim_silence(out, sample_rate, keep=opts.edge_silence)

    def render(self, event: Event, sample_rate: int) -> Clip:
        opts = self.options
        name, (voice, recipe) = catalogue_voice(self.name, event, _BY_NAME)
        audio, speed, over = speak(lambda sp: self._render_once(event.content, recipe, sp, sample_rate),
                                   event.duration, sample_rate, opts.max_speedup, opts.edge_silence)
        language = opts.language or recipe.accent
        bits = [f"{voice.gender}, {voice.age}: {language}+{recipe.variant}",
                f"{round(recipe.speed * opts.pace * speed)} wpm"]
        if speed > 1.0 + 1e-3:
            bits.append(f"sped up x{speed:.2f} to fit")
        if over:
            bits.append("too long even so: its end is cut")
        detail = f"espeak voice '{name}' ({', '.join(bits)})"
        info: dict[str, Any] = {"backend": "espeak", "voice": name, "language": language, "recipe": asdict(recipe),
                                "speed": round(speed, 3), "cut": over}
        return Clip(audio[np.newaxis, :], sample_rate, detail, info)


def _parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """espeak-ng's --stdout WAV: 16-bit mono PCM whose size fields are left at 0x7fffffff (a stream)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RenderError("espeak-ng did not write a WAV stream")
    rate = int.from_bytes(data[24:28], "little")
    bits = int.from_bytes(data[34:36], "little")
    pos = data.find(b"data", 12)
    if pos < 0 or bits != 16:
        raise RenderError("espeak-ng wrote a WAV stream this backend cannot read")
    pcm = data[pos + 8:]
    pcm = pcm[: len(pcm) // 2 * 2]
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0, rate
