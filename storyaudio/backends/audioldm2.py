"""``audioldm2``: AudioLDM 2 text-to-audio through ``diffusers`` (``AudioLDM2Pipeline``), for sound effects.

Optional: ``pip install 'storyaudio[neural]'`` and the weights (``cvssp/audioldm2`` by default, or a local
directory passed with ``--set audioldm2.model=/path``).

* The row's text is the prompt ("heavy rain on a tin roof"); the clip comes back at the model's rate and at
  least as long as the timeline asks; the core resamples it and fits it to its slot. The model makes 16 kHz
  mono audio in windows of up to ``window_seconds`` (10.24 s, its training length); longer effects are
  independent windows joined with ``crossfade_seconds`` crossfades.
* Every row (and every window) has its own seeded generator, so a row renders the same alone or batched with
  rows of its length; rows in the same ``bucket_seconds`` bucket share one pipeline call (``batch_size`` at
  most), generated at the bucket's longest length and each cut to its own.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from pydantic import Field

from . import _neural as nn_
from .base import Clip, Event

DEFAULT_MODEL = "cvssp/audioldm2"
MIN_CALL_SECONDS = 1.0


class AudioLDM2Options(nn_.NeuralOptions):
    model: str = Field(DEFAULT_MODEL, description="hub id or local directory of an AudioLDM 2 pipeline")
    num_inference_steps: int = Field(200, ge=1, le=1000, description="denoising steps (more: cleaner, slower)")
    guidance_scale: float = Field(3.5, ge=1, le=20, description="classifier-free guidance (1 = off)")
    negative_prompt: str = Field("Low quality.", max_length=400, description="what to steer away from")
    window_seconds: float = Field(10.24, ge=0.5, le=30, description="longest audio one pipeline call makes")
    crossfade_seconds: float = Field(1.0, ge=0, le=5, description="crossfade between windows of long effects")
    bucket_seconds: float = Field(2.0, gt=0, le=30, description="rows within this much length share a call")
    default_seconds: float = Field(5.0, gt=0, le=600, description="length when a row gives none")


class AudioLDM2Backend(nn_.NeuralBackend[AudioLDM2Options]):
    name = "audioldm2"
    kinds = ("sound_effect",)
    description = "AudioLDM 2 neural sound effects (diffusers): any effect from a text prompt; GPU advised."
    requires = ("torch", "diffusers", "transformers")
    _loaded: tuple[Any, str, Any] | None

    def _load(self):
        if self._loaded is not None:
            return self._loaded

        def build(diffusers, source: nn_.ModelSource, dtype):
            return diffusers.AudioLDM2Pipeline.from_pretrained(
                source.ref, dtype=dtype, local_files_only=source.local_files_only
            )

        def place(pipe, device: str):
            pipe = pipe.to(device)
            pipe.set_progress_bar_config(disable=True)
            return pipe

        _, pipe, device, dtype = nn_.load_model(
            self.name, self.options, "AudioLDM2Pipeline", ("transformers", "diffusers"), build, place
        )
        self._loaded = (pipe, device, dtype)
        return self._loaded

    @property
    def model_sample_rate(self) -> int:
        pipe, _, _ = self._load()
        return int(pipe.vocoder.config.sampling_rate)

    def render_batch(self, events: Sequence[Event], sample_rate: int) -> list[Clip]:
        opts = self.options
        if not events:
            return []
        torch = nn_.import_torch(self.name)
        pipe, _device, _dtype = self._load()
        sr = self.model_sample_rate
        xfade = min(opts.crossfade_seconds, opts.window_seconds / 2)

        # every window of every row: (row, window index, seconds this call must make)
        jobs: list[tuple[int, int, float]] = []
        plan: dict[int, int] = {}
        for i, e in enumerate(events):
            s = self._seconds(e)
            if s <= opts.window_seconds:
                jobs.append((i, 0, s))
                plan[i] = 1
            else:
                n = len(nn_.window_starts(int(round(s * sr)), int(round(opts.window_seconds * sr)), int(round(xfade * sr))))
                jobs += [(i, k, opts.window_seconds) for k in range(n)]
                plan[i] = n
        # jobs of similar length share a call, generated at the bucket's longest length; sorted by length, a
        # bucket's jobs are adjacent, so the groups come out shortest bucket first
        order = sorted(range(len(jobs)), key=lambda j: jobs[j][2])
        groups = [
            [order[p] for p in g]
            for g in nn_.buckets(order, lambda j: math.ceil(jobs[j][2] / opts.bucket_seconds), opts.batch_size)
        ]

        made: dict[tuple[int, int], np.ndarray] = {}
        for g in groups:
            # very short calls are made at MIN_CALL_SECONDS and cut: the UNet needs a few latent rows per level
            seconds = max(MIN_CALL_SECONDS, max(jobs[j][2] for j in g))
            prompts = [events[jobs[j][0]].content for j in g]
            generators = [
                torch.Generator("cpu").manual_seed(nn_.row_seed(events[jobs[j][0]], opts.seed, salt=f"w{jobs[j][1]}"))
                for j in g
            ]
            with torch.inference_mode(), nn_.quiet():
                out = pipe(
                    prompts,
                    negative_prompt=[opts.negative_prompt] * len(g) if opts.guidance_scale > 1 else None,
                    audio_length_in_s=seconds,
                    num_inference_steps=opts.num_inference_steps,
                    guidance_scale=opts.guidance_scale,
                    generator=generators,
                    output_type="np",
                ).audios
            out = np.asarray(out, dtype=np.float32)
            for j, a in zip(g, out):
                row, k, s = jobs[j]
                made[(row, k)] = nn_.fit_length(a, int(round(s * sr)), sr)

        clips: list[Clip] = []
        for i, e in enumerate(events):
            audio = made[(i, 0)]
            for k in range(1, plan[i]):
                audio = nn_.crossfade_join(audio, made[(i, k)], int(round(xfade * sr)))
            # at the model's rate, at least the asked length: the core resamples and fits it to its slot
            detail = f"AudioLDM 2: {e.content}" + (f" ({plan[i]} crossfaded windows)" if plan[i] > 1 else "")
            clips.append(
                Clip(
                    audio,
                    sr,
                    detail,
                    {
                        "backend": self.name,
                        "model": opts.model,
                        "prompt": e.content,
                        "windows": plan[i],
                        "steps": opts.num_inference_steps,
                        "seed": self.info_seed(e),
                    },
                )
            )
        return clips
