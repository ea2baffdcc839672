"""``bark``: Suno's Bark text-to-speech through ``transformers`` (``BarkModel`` + ``AutoProcessor``).

Optional: ``pip install 'storyaudio[neural]'`` and the weights (``suno/bark-small`` by default; a hub id that
is not in the local cache, or a local directory passed with ``--set bark.model=/path``).

* Text is split at sentences into chunks of about 13 s of speech (``max_chunk_chars``; the speech package's
  :func:`~storyaudio.backends.speech.text.chunks`), rendered with the row's speaker preset and joined with short pauses (``sentence_pause``).
* A preset (``v2/en_speaker_6`` ...) is a voice prompt: a ``.npz`` file with ``semantic_prompt``,
  ``coarse_prompt`` and ``fine_prompt``, looked up in ``voices_dir``, in the model directory (its
  ``speaker_embeddings`` folder, where the hub layout keeps them) and through the processor's
  ``speaker_embeddings_path.json``. With no preset file the row still renders, without a history prompt (the
  voice then varies from chunk to chunk), and ``Clip.detail`` says so.
* Chunks that share a preset are batched into one ``generate`` call (Bark takes one history prompt per call).
* Output is Bark's 24 kHz mono, resampled to the requested rate.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
from pydantic import Field

from . import _neural as nn_
from .base import Clip, Event, Voice
from .speech.text import chunks as text_chunks

DEFAULT_MODEL = "suno/bark-small"
DEFAULT_SPEAKER = "v2/en_speaker_6"
PROMPT_KEYS = ("semantic_prompt", "coarse_prompt", "fine_prompt")
_PROMPT_NDIM = {"semantic_prompt": 1, "coarse_prompt": 2, "fine_prompt": 2}


def _v(name: str, description: str, gender: str, tags: tuple[str, ...] = ()) -> Voice:
    return Voice(name, description, gender, "adult", tags)


#: Bark's v2 speaker presets with the genders Suno's speaker library gives them. Ages are not published
#: (all "adult"). Non-English presets speak English with that language's accent.
CATALOGUE: list[Voice] = [
    _v("v2/en_speaker_0", "English male, even and clear", "male", ("english", "calm")),
    _v("v2/en_speaker_1", "English male, relaxed", "male", ("english",)),
    _v("v2/en_speaker_2", "English male, bright", "male", ("english",)),
    _v("v2/en_speaker_3", "English male, lower voice", "male", ("english", "deep")),
    _v("v2/en_speaker_4", "English male, quick delivery", "male", ("english", "fast")),
    _v("v2/en_speaker_5", "English male, grainy voice", "male", ("english", "rough")),
    _v("v2/en_speaker_6", "English male, clear narrator (Suno's favourite)", "male", ("english", "narrator", "news")),
    _v("v2/en_speaker_7", "English male, soft", "male", ("english", "soft")),
    _v("v2/en_speaker_8", "English male, casual", "male", ("english",)),
    _v("v2/en_speaker_9", "English female, clear", "female", ("english", "narrator")),
    _v("v2/de_speaker_3", "female voice with a German accent", "female", ("german", "accent")),
    _v("v2/de_speaker_8", "female voice with a German accent", "female", ("german", "accent")),
    _v("v2/es_speaker_8", "female voice with a Spanish accent", "female", ("spanish", "accent")),
    _v("v2/es_speaker_9", "female voice with a Spanish accent", "female", ("spanish", "accent")),
    _v("v2/fr_speaker_1", "female voice with a French accent", "female", ("french", "accent")),
    _v("v2/fr_speaker_2", "female voice with a French accent", "female", ("french", "accent")),
    _v("v2/it_speaker_2", "female voice with an Italian accent", "female", ("italian", "accent")),
    _v("v2/it_speaker_9", "female voice with an Italian accent", "female", ("italian", "accent")),
    _v("v2/de_speaker_0", "male voice with a German accent", "male", ("german", "accent")),
    _v("v2/fr_speaker_0", "male voice with a French accent", "male", ("french", "accent")),
]
_CATALOGUE_NAMES = {v.name for v in CATALOGUE}


class BarkOptions(nn_.NeuralOptions):
    model: str = Field(DEFAULT_MODEL, description="hub id or local directory of a Bark model (suno/bark-small, suno/bark)")
    speaker: str = Field(DEFAULT_SPEAKER, description="preset for rows without a cast voice")
    voices_dir: str | None = Field(None, description="extra directory of .npz speaker presets")
    text_temperature: float = Field(0.7, gt=0, le=2, description="sampling temperature of the text -> semantic stage")
    waveform_temperature: float = Field(0.7, gt=0, le=2, description="sampling temperature of the coarse acoustic stage")
    fine_temperature: float = Field(0.5, gt=0, le=2, description="sampling temperature of the fine acoustic stage")
    min_eos_p: float | None = Field(0.2, gt=0, le=1, description="stop a chunk once end-of-speech is this likely")
    semantic_max_new_tokens: int = Field(
        768, ge=8, le=768, description="most semantic tokens per chunk (49.9 a second; 768 is about 15 s)"
    )
    max_chunk_chars: int = Field(220, ge=20, le=600, description="longest text chunk (about 13 s of speech)")
    sentence_pause: float = Field(0.25, ge=0, le=3, description="silence between chunks of one row, seconds")


def _valid_preset(data: Any) -> dict[str, np.ndarray] | None:
    try:
        out = {k: np.asarray(data[k]) for k in PROMPT_KEYS}
    except (KeyError, ValueError, TypeError):
        return None
    if any(out[k].ndim != _PROMPT_NDIM[k] for k in PROMPT_KEYS):
        return None
    return {k: out[k].astype(np.int64) for k in PROMPT_KEYS}


class BarkBackend(nn_.NeuralBackend[BarkOptions]):
    name = "bark"
    kinds = ("speech",)
    description = "Bark neural speech (transformers BarkModel): expressive voices from speaker presets; GPU advised."
    Options = BarkOptions
    _loaded: tuple[Any, Any, str, Any] | None

    def __init__(self, options=None):
        super().__init__(options)
        self._source: nn_.ModelSource | None = None
        self._presets: dict[str, tuple[dict[str, np.ndarray] | None, str]] = {}
        self._preset_index: dict[str, str] | None = None

    # -- loading ------------------------------------------------------------------------------------------
    def _load(self):
        if self._loaded is not None:
            return self._loaded
        opts = self.options
        source, processor, model, device, dtype = nn_.load_transformers_pair(self.name, opts, "BarkModel")
        self._source = source
        self._loaded = (processor, model, device, dtype)
        return self._loaded

    @property
    def model_sample_rate(self) -> int:
        _, model, _, _ = self._load()
        gc = model.generation_config
        return int(getattr(gc, "sample_rate", None) or model.config.codec_config.sampling_rate)

    # -- voices -------------------------------------------------------------------------------------------
    def _preset_dirs(self) -> list[str]:
        opts = self.options
        dirs = []
        if opts.voices_dir:
            dirs.append(os.path.expanduser(opts.voices_dir))
        local = os.path.abspath(os.path.expanduser(opts.model))
        if os.path.isdir(local):
            dirs += [os.path.join(local, "speaker_embeddings"), local]
        return dirs

    def _preset_files(self) -> dict[str, str]:
        """name -> .npz path for every preset file in the preset directories, found once per instance. A file
        is named relative to the innermost preset directory holding it (``v2/en_speaker_0`` in
        ``model/speaker_embeddings``), so the walk of a directory skips the other preset directories inside it
        (the model directory holds ``speaker_embeddings``) and each file is listed once."""
        if self._preset_index is not None:
            return self._preset_index
        found: dict[str, str] = {}
        dirs = [d for d in self._preset_dirs() if os.path.isdir(d)]
        real = {os.path.realpath(d) for d in dirs}
        walked: set[str] = set()
        for d in dirs:
            if os.path.realpath(d) in walked:
                continue
            walked.add(os.path.realpath(d))
            for root, subdirs, files in os.walk(d):
                subdirs[:] = [s for s in subdirs if os.path.realpath(os.path.join(root, s)) not in real]
                for f in sorted(files):
                    if f.endswith(".npz"):
                        rel = os.path.relpath(os.path.join(root, f), d)[: -len(".npz")].replace(os.sep, "/")
                        found.setdefault(rel, os.path.join(root, f))
        self._preset_index = found
        return found

    def voices(self) -> list[Voice]:
        """The v2 presets of Suno's speaker library, then any other preset files found locally."""
        extra = [
            Voice(name, f"custom Bark preset ({os.path.basename(path)})", "neutral", "adult", ("custom",))
            for name, path in self._preset_files().items()
            if name not in _CATALOGUE_NAMES and f"v2/{name}" not in _CATALOGUE_NAMES
        ]
        return list(CATALOGUE) + extra

    def load_preset(self, name: str) -> tuple[dict[str, np.ndarray] | None, str]:
        """The preset's prompt arrays and where they came from, or ``(None, reason)``."""
        if name not in self._presets:
            self._presets[name] = self._find_preset(name)
        return self._presets[name]

    def _find_preset(self, name: str) -> tuple[dict[str, np.ndarray] | None, str]:
        path = os.path.expanduser(name)
        candidates = [path] if path.endswith(".npz") and os.path.isfile(path) else []
        files = self._preset_files()
        for key in (name, name.split("/")[-1], f"v2/{name}"):
            if key in files:
                candidates.append(files[key])
        for cand in candidates:
            try:
                with np.load(cand) as z:
                    data = _valid_preset(z)
            except (OSError, ValueError):
                data = None
            if data is not None:
                return data, cand
        # the hub layout: speaker_embeddings_path.json maps each preset to three .npy files
        processor, _, _, _ = self._load()
        source = self._source
        assert source is not None  # set by _load
        table = getattr(processor, "speaker_embeddings", None) or {}
        if name in table and isinstance(table[name], dict):
            from transformers.utils import cached_file

            repo = table.get("repo_or_path") or source.ref
            arrays = {}
            for k in PROMPT_KEYS:
                rel = table[name].get(k)
                if not rel:
                    break
                try:
                    p = cached_file(
                        repo, rel, local_files_only=source.local_files_only,
                        _raise_exceptions_for_missing_entries=False, _raise_exceptions_for_connection_errors=False,
                    )
                except OSError:
                    p = None
                if p is None:
                    break
                arrays[k] = np.load(p)
            data = _valid_preset(arrays) if len(arrays) == len(PROMPT_KEYS) else None
            if data is not None:
                return data, f"{repo}:{name}"
        return None, "not found"

    # -- rendering ----------------------------------------------------------------------------------------
    def render_batch(self, events: Sequence[Event], sample_rate: int) -> list[Clip]:
        opts = self.options
        torch = nn_.import_torch(self.name)
        processor, model, device, _dtype = self._load()
        sr_model = self.model_sample_rate

        # every chunk of every row: (row index, chunk index, text, preset name)
        chunks: list[tuple[int, int, str, str]] = []
        voice_of: list[str] = []
        for i, e in enumerate(events):
            voice = e.voice or opts.speaker
            voice_of.append(voice)
            texts = text_chunks(e.content, opts.max_chunk_chars) or ["..."]
            chunks += [(i, j, t, voice) for j, t in enumerate(texts)]

        audio: dict[tuple[int, int], np.ndarray] = {}
        preset_note: dict[str, str] = {}
        # chunks that share a preset share generate calls, batch_size at most, voices in first-seen order
        for idx in nn_.buckets(chunks, lambda c: c[3], opts.batch_size):
            part = [chunks[k] for k in idx]
            voice = part[0][3]
            preset, where = self.load_preset(voice)  # remembered per name: one lookup per voice
            preset_note[voice] = where
            seeds = [nn_.row_seed(events[r], opts.seed, salt=f"chunk{j}") for r, j, _t, _v in part]
            texts = [t for _r, _j, t, _v in part]
            inputs = processor(texts, voice_preset=preset, return_tensors="pt")
            history = inputs.pop("history_prompt", None)
            kwargs: dict[str, Any] = {k: v.to(device) for k, v in inputs.items() if hasattr(v, "to")}
            if history is not None:
                kwargs["history_prompt"] = {k: v.to(device) for k, v in history.items()}
            nn_.seed_torch(nn_.batch_seed(seeds), self.name)
            with torch.inference_mode(), nn_.quiet():
                wave, lengths = model.generate(
                    **kwargs,
                    do_sample=True,
                    semantic_temperature=opts.text_temperature,
                    coarse_temperature=opts.waveform_temperature,
                    fine_temperature=opts.fine_temperature,
                    semantic_max_new_tokens=opts.semantic_max_new_tokens,
                    min_eos_p=opts.min_eos_p,
                    return_output_lengths=True,
                )
            wave_np = nn_.to_numpy(wave)
            for (r, j, _t, _v), row, n in zip(part, wave_np, lengths):
                audio[(r, j)] = row[: int(n)]

        pause = int(round(opts.sentence_pause * sample_rate))
        clips: list[Clip] = []
        for i, e in enumerate(events):
            parts = [nn_.resample(audio[(r, j)], sr_model, sample_rate) for r, j, _t, _v in chunks if r == i]
            joined = nn_.join_with_pauses(parts, pause)
            if e.duration is not None:
                joined = nn_.fit_length(joined, int(round(e.duration * sample_rate)), sample_rate)
            voice = voice_of[i]
            found = preset_note[voice] != "not found"
            detail = f"Bark voice {voice}" if found else (
                f"Bark without a history prompt: no preset file for '{voice}' was found, so the voice varies"
            )
            if len(parts) > 1:
                detail += f", {len(parts)} chunks"
            clips.append(
                Clip(
                    joined,
                    sample_rate,
                    detail,
                    {
                        "backend": self.name,
                        "model": opts.model,
                        "voice": voice,
                        "preset": preset_note[voice] if found else None,
                        "chunks": len(parts),
                        "seed": self.info_seed(e),
                    },
                )
            )
        return clips
