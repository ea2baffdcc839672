"""What a CLIPSonic checkpoint is made of, as data: mel settings, model sizes (presets), training settings, and
the ``clipsonic.json`` file that ties a checkpoint folder together. Imports neither torch nor numpy.

A checkpoint folder (``storyaudio clipsonic train ... -o CKPT``) holds::

    clipsonic.json            format and version, mel settings, sizes, the CLIP reference, embedding statistics
    unet/                     the mel-spectrogram denoiser (diffusers UNet2DConditionModel, EMA weights)
    conditioner.safetensors   the embedding -> UNet conditioning (tokens, learned null embedding for guidance)
    scheduler/                its noise schedule (DDPM; sampled with DDIM)
    prior/, prior_scheduler/  the text -> image-embedding diffusion prior (PriorTransformer), when captions existed
    vocoder/                  a HiFi-GAN (SpeechT5HifiGan) when one was given or trained; Griffin-Lim otherwise
    training/state.pt         what --resume needs (raw weights, optimizer, EMA, step, random states)
    metrics.jsonl             one line of losses every few steps
    features/                 cached CLIP embeddings and mels of the training data (safe to delete)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...atomic import atomic_write_text
from ...errors import UserError

FORMAT = "storyaudio-clipsonic"
#: Bumped whenever a checkpoint written by older code could not be read correctly by this code.
FORMAT_VERSION = 1
META_FILE = "clipsonic.json"


class ClipSonicError(UserError):
    """A problem with CLIPSonic data, a checkpoint or a CLIP model that the user can fix (exit code 2)."""


class MelConfig(BaseModel):
    """The log-mel spectrogram the diffusion model generates. The defaults are those of SpeechT5's HiFi-GAN
    (microsoft/speecht5_hifigan: 16 kHz, 1024-point FFT, hop 256, 80 slaney mels over 80-7600 Hz, log10 of the
    magnitude), so its released weights can voice the generated mels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: int = Field(16000, ge=4000, le=48000)
    n_fft: int = Field(1024, ge=64, le=8192)
    hop_length: int = Field(256, ge=16, le=4096)
    n_mels: int = Field(80, ge=8, le=256)
    f_min: float = Field(80.0, ge=0)
    f_max: float = Field(7600.0, gt=0)
    #: magnitudes below this are floored before the log (log10: -5 is silence)
    log_floor: float = Field(1e-5, gt=0)
    #: log10 values mapped linearly onto [-1, 1] for the diffusion model (values beyond are not clipped)
    norm_low: float = -5.0
    norm_high: float = 1.5
    #: mel frames of one generated window (a multiple of 2 ** (levels - 1) of the UNet)
    window_frames: int = Field(256, ge=4, le=4096)

    @property
    def window_samples(self) -> int:
        """Audio samples one window of mel frames voices (centred frames: one hop fewer than the frames)."""
        return (self.window_frames - 1) * self.hop_length

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate


class ModelConfig(BaseModel):
    """Sizes of the networks. ``--preset`` picks one of :data:`PRESETS`; ``--size key=value`` changes a field."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    preset: str = "base"
    mel: MelConfig = MelConfig()
    # the UNet over (1, n_mels, window_frames) log-mels
    channels: tuple[int, ...] = (128, 256, 384, 512)
    layers_per_block: int = Field(2, ge=1, le=4)
    #: how many of the deepest levels have cross-attention on the embedding tokens (0: none, the embedding
    #: then conditions through the time embedding only)
    attention_levels: int = Field(3, ge=0, le=8)
    attention_head_dim: int = Field(64, ge=4, le=256)
    cross_attention_dim: int = Field(512, ge=8, le=2048)
    cond_tokens: int = Field(4, ge=1, le=64)
    norm_groups: int = Field(32, ge=1, le=64)
    train_timesteps: int = Field(1000, ge=10, le=4000)
    prediction: Literal["v_prediction", "epsilon"] = "v_prediction"
    #: share of training steps whose embedding is replaced by the learned null one (classifier-free guidance)
    cond_dropout: float = Field(0.1, ge=0, le=0.5)
    # the text -> image embedding prior (DALL-E 2 style PriorTransformer, predicting the clean embedding)
    prior_layers: int = Field(8, ge=1, le=48)
    prior_heads: int = Field(8, ge=1, le=64)
    prior_head_dim: int = Field(64, ge=4, le=256)
    prior_timesteps: int = Field(1000, ge=10, le=4000)
    prior_text_dropout: float = Field(0.1, ge=0, le=0.5)
    # the HiFi-GAN trained with --vocoder-steps (SpeechT5HifiGan; 512 = HiFi-GAN V1)
    vocoder_width: int = Field(512, ge=8, le=1024)
    vocoder_segment_frames: int = Field(32, ge=4, le=256)
    vocoder_batch_size: int = Field(16, ge=1, le=256)
    vocoder_learning_rate: float = Field(2e-4, gt=0, le=1)
    # optimisation defaults of the preset (the command line can override them)
    learning_rate: float = Field(1e-4, gt=0, le=1)
    prior_learning_rate: float = Field(1.1e-4, gt=0, le=1)
    batch_size: int = Field(32, ge=1, le=4096)
    steps: int = Field(200_000, ge=0)
    warmup_steps: int = Field(1000, ge=0)


_TINY = ModelConfig(
    preset="tiny",
    mel=MelConfig(n_fft=512, hop_length=256, n_mels=16, f_min=0.0, f_max=8000.0, window_frames=16),
    channels=(16, 32), layers_per_block=1, attention_levels=0, attention_head_dim=8, cross_attention_dim=32,
    cond_tokens=2, norm_groups=8, prior_layers=2, prior_heads=2, prior_head_dim=16, vocoder_width=32,
    vocoder_segment_frames=16, vocoder_batch_size=4, vocoder_learning_rate=1e-3, learning_rate=1e-3,
    prior_learning_rate=1e-3, batch_size=16, steps=150, warmup_steps=10,
)
_SMALL = ModelConfig(
    preset="small", mel=MelConfig(window_frames=128), channels=(64, 128, 256), layers_per_block=1,
    attention_levels=1, attention_head_dim=32, cross_attention_dim=256, cond_tokens=4, norm_groups=16,
    prior_layers=4, prior_heads=4, prior_head_dim=32, vocoder_width=128, learning_rate=3e-4, prior_learning_rate=3e-4,
    batch_size=16, steps=20_000, warmup_steps=200,
)
_BASE = ModelConfig()
_LARGE = ModelConfig(
    preset="large", channels=(192, 384, 576, 768), attention_head_dim=64, cross_attention_dim=768, cond_tokens=8,
    prior_layers=12, prior_heads=12, prior_head_dim=64, batch_size=48, steps=400_000,
)
#: tiny: CPU tests (0.26 s windows); small: a CPU or small-GPU run; base: the default, fits a 24 GB GPU at batch
#: 32 (4.1 s windows, SpeechT5-HiFi-GAN mels); large: a 48-80 GB GPU.
PRESETS: dict[str, ModelConfig] = {"tiny": _TINY, "small": _SMALL, "base": _BASE, "large": _LARGE}


def model_config(preset: str, sizes: dict[str, str] | None = None) -> ModelConfig:
    """The preset's sizes with ``sizes`` (``{"channels": "64,128", "mel.window_frames": "64"}``) applied."""
    if preset not in PRESETS:
        raise ClipSonicError(f"unknown preset '{preset}'. Choose one of: {', '.join(PRESETS)}.")
    data = PRESETS[preset].model_dump()
    for key, value in (sizes or {}).items():
        target, name = data, key
        if key.startswith("mel."):
            target, name = data["mel"], key[4:]
        if name not in target or name == "mel":
            fields = [f for f in ModelConfig.model_fields if f != "mel"] + [f"mel.{f}" for f in MelConfig.model_fields]
            raise ClipSonicError(f"--size {key}=...: unknown size. Known: {', '.join(fields)}.")
        current = target[name]
        target[name] = [int(v) for v in value.split(",")] if isinstance(current, (tuple, list)) else value
    try:
        cfg = ModelConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ClipSonicError(f"--size {where}: {first['msg']}.") from None
    levels = len(cfg.channels)
    if cfg.mel.n_mels % 2 ** (levels - 1) or cfg.mel.window_frames % 2 ** (levels - 1):
        raise ClipSonicError(
            f"the UNet halves the mel {levels - 1} times, so mel.n_mels ({cfg.mel.n_mels}) and mel.window_frames "
            f"({cfg.mel.window_frames}) must be multiples of {2 ** (levels - 1)}. Change them with --size."
        )
    if any(c % cfg.norm_groups for c in cfg.channels):
        raise ClipSonicError(f"every channel count ({cfg.channels}) must be a multiple of norm_groups "
                             f"({cfg.norm_groups}).")
    if cfg.attention_levels > levels - 1:
        raise ClipSonicError(f"attention_levels ({cfg.attention_levels}) can be at most {levels - 1} for {levels} "
                             f"levels.")
    return cfg


# -- the checkpoint's description -------------------------------------------------------------------------
class CheckpointMeta(BaseModel):
    """The content of ``clipsonic.json``."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    format: str = FORMAT
    version: int = FORMAT_VERSION
    model: ModelConfig
    #: the CLIP the embeddings come from: a local folder (absolute path) or a hub id
    clip_model: str
    clip_dim: int
    clip_text_length: int
    #: the unit-normalised CLIP embedding of a fixed probe image, to notice a different CLIP at load time
    clip_probe: list[float]
    #: embeddings are standardised as (e - center) / scale before they condition the networks
    center: list[float]
    scale: float
    has_prior: bool = False
    vocoder: Literal["griffin-lim", "hifigan"] = "griffin-lim"
    steps: int = 0
    prior_steps: int = 0
    items: int = 0
    captions: int = 0
    #: video frames per second sampled for embeddings, at most this many per video (CLIPSep: 1 fps)
    frame_rate: float = 1.0
    max_frames: int = 10
    max_seconds: float = 10.0
    written_by: str = ""


def read_meta(folder: str | Path) -> CheckpointMeta:
    """``clipsonic.json`` of a checkpoint folder, refusing one that is not a checkpoint or is of another
    format version (with what to do)."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise ClipSonicError(
            f"'{folder}' is not a CLIPSonic checkpoint (no {META_FILE} in it). Train one with: storyaudio clipsonic "
            f"train DATA -o {folder} --clip-model CLIP"
        )
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ClipSonicError(f"cannot read {path}: {exc}. Retrain the checkpoint (storyaudio clipsonic "
                             f"train).") from None
    if raw.get("format") != FORMAT:
        raise ClipSonicError(f"{path} is not a storyaudio CLIPSonic checkpoint (format {raw.get('format')!r}).")
    version = raw.get("version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        fix = (
            "upgrade storyaudio to the version that wrote it" if newer
            else f"retrain it with this version (storyaudio clipsonic train DATA -o {folder} --clip-model CLIP)"
        )
        writer = raw.get("written_by") or "another storyaudio"
        raise ClipSonicError(
            f"checkpoint '{folder}' has format version {version} (written by {writer}); this storyaudio reads "
            f"version {FORMAT_VERSION}. Fix: {fix}."
        )
    try:
        return CheckpointMeta.model_validate(raw)
    except ValidationError as exc:
        raise ClipSonicError(f"{path} is damaged ({exc.errors()[0]['msg']}). Retrain the checkpoint.") from None


def write_meta(folder: str | Path, meta: CheckpointMeta) -> None:
    atomic_write_text(Path(folder) / META_FILE, meta.model_dump_json(indent=1))
