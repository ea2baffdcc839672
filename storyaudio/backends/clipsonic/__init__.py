"""``clipsonic``: sound effects from a model storyaudio trains itself from videos, queried by text or by image.

CLIPSonic (Dong et al., WASPAA 2023, arXiv 2306.09635) learns text-to-audio without text-audio pairs: a
diffusion model generates a clip's log-mel spectrogram from the CLIP image embedding of one of its video
frames. At generation time the query is

* a picture (a row whose content is ``image: pictures/harbour.jpg``): its CLIP image embedding (``IQ``);
* a text through the **prior** (``--set clipsonic.query=prior``, the default): a small DALL-E 2 style diffusion
  prior, trained on the data folder's ``captions.tsv``, turns the CLIP text embedding into an image embedding
  (``PD``);
* a text **zero-shot** (``--set clipsonic.query=zero-shot``): the CLIP text embedding in the image embedding's
  place (``ZS``; it relies on CLIP's shared space, and sounds less relevant than the prior in the paper).

Train a model with ``storyaudio clipsonic train DATA -o CKPT --clip-model CLIP`` and use it with
``--use sound_effect=clipsonic --set clipsonic.model=CKPT``. Image paths are taken relative to
the script's folder in a render (or an ``--allow-path`` folder); ``--set clipsonic.root=DIR`` (default: the current
folder) only where the backend is used on its own.

Rows are batched (every window of every row shares the sampler's batches); effects longer than the model's
window (0.26 s for ``tiny``, 4.1 s for ``base``) are independent windows joined with equal-power crossfades.
Modules: ``config`` (settings, checkpoint file), ``data`` (PyAV decoding, feature cache), ``encoders`` (CLIP),
``mel`` (mels, Griffin-Lim), ``model`` (networks, generation), ``train``, ``synthetic`` (a tiny CLIP and a
learning set for tests). Importing this package imports no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import Field

from ...errors import Problem, ScriptError
from .. import _neural as nn_
from ..base import Clip, Event

IMAGE_PREFIX = "image:"
PEAK = 0.9  # highest sample value of a clip (as storyaudio.backends.clipsonic.model.PEAK, without importing it)


class ClipSonicOptions(nn_.NeuralOptions):
    model: str = Field("", description="checkpoint folder (storyaudio clipsonic train ... -o CKPT) or hub id")
    query: Literal["prior", "zero-shot"] = Field(
        "prior", description="text rows: through the text->image prior, or the CLIP text embedding (zero-shot)")
    root: str = Field("", description="folder image rows ('image: x.jpg') are relative to when the backend is used "
                                      "on its own (in a render: the script's folder)")
    clip: str = Field("", description="CLIP folder or hub id, when the one the checkpoint names has moved")
    steps: int = Field(50, ge=1, le=1000, description="DDIM denoising steps of the mel")
    guidance: float = Field(3.0, ge=1, le=20, description="classifier-free guidance of the mel (1 = off)")
    prior_steps: int = Field(25, ge=1, le=1000, description="denoising steps of the prior")
    prior_guidance: float = Field(2.0, ge=1, le=20, description="classifier-free guidance of the prior (1 = off)")
    vocoder: Literal["auto", "griffin-lim", "hifigan"] = Field(
        "auto", description="auto: the checkpoint's HiFi-GAN when it has one, else Griffin-Lim")
    griffin_lim_iterations: int = Field(32, ge=0, le=500, description="Griffin-Lim iterations")
    crossfade_seconds: float = Field(0.5, ge=0, le=5,
                                     description="crossfade between windows (at most a quarter window)")
    default_seconds: float = Field(5.0, gt=0, le=600, description="length when a row gives none")


def checkpoint_token(model: str) -> str:
    """A short hash of a local checkpoint's description and the size and time of its weight files (empty for a
    hub id or a folder that is not there); cheap: reads one small file, imports nothing."""
    import hashlib

    folder = Path(model).expanduser() if model.strip() else None
    if folder is None or not (folder / "clipsonic.json").is_file():
        return ""
    parts = [(folder / "clipsonic.json").read_text(encoding="utf-8", errors="replace")]
    for name in ("unet", "prior", "vocoder"):
        for f in sorted((folder / name).glob("*.safetensors")) if (folder / name).is_dir() else []:
            st = f.stat()
            parts.append(f"{f.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}")
    cond = folder / "conditioner.safetensors"
    if cond.is_file():
        parts.append(f"cond:{cond.stat().st_size}:{cond.stat().st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


class ClipSonicBackend(nn_.NeuralBackend[ClipSonicOptions]):
    name = "clipsonic"
    kinds = ("sound_effect",)
    description = ("CLIPSonic effects from a model you train on videos (storyaudio clipsonic train); rows are text, "
                   "or 'image: picture.jpg'.")
    Options = ClipSonicOptions
    requires = ("torch", "transformers", "diffusers")
    install_hint = "pip install 'storyaudio[clipsonic]' (install torch==2.13.0 first, as for the neural backends)"

    def __init__(self, options=None):
        super().__init__(options)
        # the clip cache keys on ``version`` for what the code does not show: here the checkpoint's weights, so a
        # model trained further in the same folder (--resume) renders afresh
        self.version = f"1+{checkpoint_token(self.options.model)}"

    def _load(self):
        if self._loaded is not None:
            return self._loaded
        from .config import ClipSonicError

        opts = self.options
        if not opts.model.strip():
            raise ClipSonicError(
                "backend 'clipsonic' needs a trained checkpoint: --set clipsonic.model=CKPT (make one with: "
                "storyaudio clipsonic train DATA -o CKPT --clip-model CLIP)."
            )
        from .model import load

        self._loaded = load(opts.model, clip=opts.clip or None, device=opts.device, dtype=opts.dtype)
        return self._loaded

    def input_files(self, event: Event, resolve) -> list[Path]:
        """In a render, the picture of an ``image:`` row is found in the script's folder (or an --allow-path
        one); the clip cache then keys on the picture's contents."""
        rel = self._image_name(event)
        return [] if rel is None else [resolve(rel, "picture")]

    @staticmethod
    def _image_name(event: Event) -> str | None:
        text = event.content.strip()
        return text[len(IMAGE_PREFIX):].strip() if text.lower().startswith(IMAGE_PREFIX) else None

    def image_path(self, event: Event) -> Path | None:
        """The picture a row queries by (``image: path``): the one the pipeline found in the script's folder,
        else (the backend used on its own) resolved against ``root``; None for a text row."""
        rel = self._image_name(event)
        if rel is None:
            return None
        if event.files:
            return Path(event.files[0])
        base = Path(self.options.root).expanduser() if self.options.root else Path.cwd()
        path = Path(rel).expanduser()
        return path if path.is_absolute() else base / path

    def render_batch(self, events: Sequence[Event], sample_rate: int) -> list[Clip]:
        if not events:
            return []
        opts = self.options
        # 1. Check inputs: every picture exists and opens.
        pictures: dict[int, Any] = {}
        problems = []
        for i, e in enumerate(events):
            path = self.image_path(e)
            if path is None:
                continue
            try:
                from PIL import Image

                with Image.open(path) as im:
                    pictures[i] = im.convert("RGB")
            except (OSError, ValueError) as exc:
                where = f"--set clipsonic.root={opts.root}" if opts.root else "the current folder"
                problems.append(Problem(
                    e.row, "content", f"the picture '{path}' cannot be read ({type(exc).__name__}: {exc}).",
                    f"give a path to an image relative to {where} (--set clipsonic.root=DIR changes it), e.g. "
                    f"'image: pictures/harbour.jpg'."))
        if problems:
            raise ScriptError(problems)
        model = self._load()
        torch = nn_.import_torch(self.name)

        # 2. Queries -> conditions (pictures through CLIP; texts through the prior or zero-shot).
        seeds = [nn_.row_seed(e, opts.seed) for e in events]
        z = torch.zeros((len(events), model.meta.clip_dim))
        image_rows = sorted(pictures)
        if image_rows:
            z[image_rows] = model.image_condition([pictures[i] for i in image_rows])
        text_rows = [i for i in range(len(events)) if i not in pictures]
        if text_rows:
            z[text_rows] = model.text_condition([events[i].content for i in text_rows], opts.query == "prior",
                                                [seeds[i] for i in text_rows], opts.prior_steps, opts.prior_guidance)

        # 3. Conditions -> audio: every window of every row in shared batches, crossfaded, exact lengths.
        seconds = [self._seconds(e) for e in events]
        with nn_.quiet():
            audio, windows = model.generate(z, seconds, seeds, opts.steps, opts.guidance, opts.crossfade_seconds,
                                            opts.vocoder, opts.griffin_lim_iterations, opts.batch_size)
        sr = model.sample_rate
        clips = []
        for i, (e, a) in enumerate(zip(events, audio)):
            a = nn_.fit_length(nn_.resample(a, sr, sample_rate), int(round(seconds[i] * sample_rate)), sample_rate)
            peak = float(np.abs(a).max()) if a.size else 0.0
            if peak > PEAK:  # resampling can overshoot the model-rate peak limit
                a = a * (PEAK / peak)
            query = "image" if i in pictures else ("text via prior" if opts.query == "prior" else "text zero-shot")
            detail = f"CLIPSonic ({query}): {e.content}"
            if windows[i] > 1:
                detail += f" ({windows[i]} crossfaded windows)"
            clips.append(Clip(a, sample_rate, detail, {
                "backend": self.name, "model": opts.model, "query": query, "prompt": e.content,
                "windows": windows[i], "steps": opts.steps, "guidance": opts.guidance, "seed": self.info_seed(e),
            }))
        return clips
