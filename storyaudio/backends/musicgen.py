"""``musicgen``: Meta's MusicGen through ``transformers`` (``MusicgenForConditionalGeneration`` + ``AutoProcessor``).

Optional: ``pip install 'storyaudio[neural]'`` and the weights (``facebook/musicgen-small`` by default, or a
local directory passed with ``--set musicgen.model=/path``).

* The row's text is the prompt ("calm piano with soft strings"); the clip comes back at the model's rate and at
  least as long as the timeline asks (whole frames), and the core resamples it and fits it to its slot. The
  model makes 50 frames a second at 32 kHz (mono, or stereo for the ``-stereo`` checkpoints).
* One call makes at most ``window_seconds`` (30 s, what MusicGen was trained on). Longer beds are extended by
  continuation (``extend=continue``: the last ``prompt_seconds`` of audio are the prompt of the next window,
  spliced with a short crossfade) or by independent windows joined with crossfades (``extend=crossfade``).
* Rows whose durations fall in the same ``bucket_seconds`` bucket are generated together in one ``generate``
  call (at the bucket's longest length; each row keeps the frames it asked for).
"""

from __future__ import annotations

import math
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import Field

from . import _neural as nn_
from .base import Clip, Event

DEFAULT_MODEL = "facebook/musicgen-small"


class MusicGenOptions(nn_.NeuralOptions):
    model: str = Field(DEFAULT_MODEL, description="hub id or local directory of a MusicGen model")
    guidance_scale: float = Field(3.0, ge=1, le=20, description="classifier-free guidance (1 = off)")
    temperature: float = Field(1.0, gt=0, le=3, description="sampling temperature")
    top_k: int = Field(250, ge=0, le=4096, description="sample among the k likeliest codes (0 = all)")
    top_p: float = Field(0.0, ge=0, le=1, description="nucleus sampling (0 = off)")
    window_seconds: float = Field(30.0, ge=1, le=30, description="longest audio one generate call makes")
    extend: Literal["continue", "crossfade"] = Field(
        "continue", description="how beds longer than one window are made: continuation or crossfaded windows"
    )
    prompt_seconds: float = Field(10.0, gt=0, le=25, description="audio context of each continuation window")
    crossfade_seconds: float = Field(1.0, ge=0, le=10, description="crossfade between windows")
    bucket_seconds: float = Field(5.0, gt=0, le=60, description="rows within this much length share a call")


class MusicGenBackend(nn_.NeuralBackend[MusicGenOptions]):
    name = "musicgen"
    kinds = ("music",)
    description = "MusicGen neural music (transformers): text-prompted beds of any length; GPU advised."
    _loaded: tuple[Any, Any, str, Any] | None

    def _load(self):
        if self._loaded is not None:
            return self._loaded
        opts = self.options
        _, processor, model, device, dtype = nn_.load_transformers_pair(
            self.name, opts, "MusicgenForConditionalGeneration"
        )
        self._loaded = (processor, model, device, dtype)
        return self._loaded

    # -- model facts --------------------------------------------------------------------------------------
    def _facts(self) -> tuple[int, int, int, int]:
        """(sample rate, samples per frame, codebooks, channels) of the loaded model."""
        _, model, _, _ = self._load()
        audio_cfg = model.config.audio_encoder
        sr = int(audio_cfg.sampling_rate)
        hop = int(np.prod(audio_cfg.upsampling_ratios))
        return sr, hop, int(model.decoder.num_codebooks), int(model.decoder.config.audio_channels)

    def _generate(self, texts: list[str], frames: int, seed: int, prompts: np.ndarray | None = None) -> np.ndarray:
        """One generate call: ``frames`` new frames for every text (after the optional audio prompts, shaped
        (rows, channels, samples)). Returns (rows, channels, samples) at the model rate, prompt included."""
        opts = self.options
        torch = nn_.import_torch(self.name)
        processor, model, device, dtype = self._load()
        sr, _hop, codebooks, _channels = self._facts()
        kw: dict[str, Any] = {"text": texts, "padding": True, "return_tensors": "pt"}
        if prompts is not None:
            kw["audio"] = [p if p.shape[0] > 1 else p[0] for p in prompts]
            kw["sampling_rate"] = sr
        inputs = processor(**kw)
        inputs = {
            k: (v.to(device, dtype) if k == "input_values" else v.to(device)) for k, v in inputs.items() if hasattr(v, "to")
        }
        gen: dict[str, Any] = dict(
            do_sample=True,
            guidance_scale=opts.guidance_scale if opts.guidance_scale > 1 else None,
            temperature=opts.temperature,
            top_k=opts.top_k or None,
            max_new_tokens=frames + codebooks - 1,  # the delay pattern costs codebooks-1 steps
        )
        if opts.top_p > 0:
            gen["top_p"] = opts.top_p
        nn_.seed_torch(seed, self.name)
        with torch.inference_mode(), nn_.quiet():
            out = model.generate(**inputs, **gen)
        return nn_.to_numpy(out)

    # -- rendering ----------------------------------------------------------------------------------------
    def render_batch(self, events: Sequence[Event], sample_rate: int) -> list[Clip]:
        opts = self.options
        if not events:
            return []
        sr, hop, _codebooks, _channels = self._facts()
        window = opts.window_seconds

        def key(e: Event) -> tuple[int, int]:  # same number of windows, similar length
            s = self._seconds(e)
            return math.ceil(s / window), math.ceil(s / opts.bucket_seconds)

        groups = nn_.buckets(events, key, opts.batch_size)
        clips: list[Clip | None] = [None] * len(events)
        for idx in groups:
            rows = [events[i] for i in idx]
            seconds = max(self._seconds(e) for e in rows)
            total = math.ceil(seconds * sr / hop)  # frames the longest row needs
            seeds = [nn_.row_seed(e, opts.seed) for e in rows]
            texts = [e.content for e in rows]
            audio, windows = self._make(texts, total, seeds)
            for i, e, a in zip(idx, rows, audio):
                # the frames this row asked for (the call made the longest row's): at least its length, at the
                # model's rate; the core resamples and fits it to its slot
                a = a[:, : math.ceil(self._seconds(e) * sr / hop) * hop]
                detail = f"MusicGen: {e.content}" + (f" ({windows} windows, {opts.extend})" if windows > 1 else "")
                clips[i] = Clip(
                    a,
                    sr,
                    detail,
                    {
                        "backend": self.name,
                        "model": opts.model,
                        "prompt": e.content,
                        "windows": windows,
                        "extend": opts.extend if windows > 1 else None,
                        "seed": self.info_seed(e),
                    },
                )
        return [c for c in clips if c is not None]

    def _make(self, texts: list[str], total: int, seeds: list[int]) -> tuple[np.ndarray, int]:
        """(rows, channels, samples) of at least ``total`` frames for every text, and how many windows it took."""
        opts = self.options
        sr, hop, _codebooks, _channels = self._facts()
        window = max(1, int(opts.window_seconds * sr / hop))
        seed = nn_.batch_seed(seeds)
        if total <= window:
            return self._generate(texts, total, seed), 1
        xfade = int(opts.crossfade_seconds * sr / hop)
        if opts.extend == "crossfade":
            starts = nn_.window_starts(total, window, min(xfade, window // 2))
            # the windows of every row are independent, so they share calls: rows-major, row r's windows are
            # r*n .. r*n+n-1, at most batch_size of them per call
            n = len(starts)
            flat = [t for t in texts for _ in range(n)]
            step = opts.batch_size
            wins = np.concatenate(
                [self._generate(flat[j : j + step], window, nn_.batch_seed([seed, j])) for j in range(0, len(flat), step)]
            )
            out = []
            for r in range(len(texts)):
                acc = wins[r * n]
                for w in range(1, n):
                    acc = nn_.crossfade_join(acc, wins[r * n + w], min(xfade, window // 2) * hop)
                out.append(acc)
            return np.stack(out), n
        # continuation: each window is prompted with the end of what exists
        prompt = max(1, min(int(opts.prompt_seconds * sr / hop), window - 1))
        acc = self._generate(texts, window, seed)
        done, windows = window, 1
        while done < total:
            new = min(window - prompt, total - done)
            context = acc[:, :, -prompt * hop :]
            out = self._generate(texts, new, nn_.batch_seed([seed, windows]), prompts=context)
            # ``out`` re-decodes the prompt then continues: splice at the prompt's end with a short crossfade
            splice = min(prompt * hop, max(1, int(0.05 * sr)))
            mixed = [nn_.crossfade_join(a, o[:, prompt * hop - splice :], splice) for a, o in zip(acc, out)]
            acc = np.stack(mixed)
            done += new
            windows += 1
        return acc, windows
