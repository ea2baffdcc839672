"""The networks, the checkpoint on disk, and generation.

* :class:`Conditioner` turns a standardised CLIP embedding into the UNet's conditioning: the embedding itself
  (added to the time embedding through the UNet's ``class_embed_type="projection"``) and ``cond_tokens`` tokens
  for cross-attention; a learned null embedding takes its place when the condition is dropped (classifier-free
  guidance).
* The denoiser is diffusers' ``UNet2DConditionModel`` over (1, n_mels, frames) normalised log-mels, trained
  with a DDPM schedule (v-prediction by default) and sampled with DDIM.
* The prior is diffusers' ``PriorTransformer`` (DALL-E 2): from the CLIP text embedding and the projected text
  tokens it denoises a standardised image embedding, predicting the clean embedding; guided against the empty
  caption.
* :class:`ClipSonic` loads a checkpoint and generates: image / text (prior or zero-shot) -> embedding -> mels
  (windows of the model's length, crossfaded for longer clips) -> audio (Griffin-Lim, or the checkpoint's
  HiFi-GAN).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import UserError
from .. import _neural as nn_
from .config import ClipSonicError, CheckpointMeta, ModelConfig, read_meta
from .encoders import ClipEncoder

NAME = "clipsonic"
#: Highest sample value of a generated clip (-0.9 dBFS).
PEAK = 0.9


def _torch():
    return nn_.import_torch(NAME)


# -- networks ---------------------------------------------------------------------------------------------
def build_conditioner(cfg: ModelConfig, dim: int):
    torch = _torch()

    class Conditioner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.null = torch.nn.Parameter(torch.zeros(dim))
            self.to_tokens = torch.nn.Linear(dim, cfg.cond_tokens * cfg.cross_attention_dim)

        def forward(self, z, drop=None):
            if drop is not None:
                z = torch.where(drop[:, None], self.null.to(z.dtype).expand_as(z), z)
            tokens = self.to_tokens(z).view(z.shape[0], cfg.cond_tokens, cfg.cross_attention_dim)
            return z, tokens

        def null_batch(self, n: int, like):
            return self.null.to(like.dtype)[None].expand(n, -1)

    return Conditioner()


def build_unet(cfg: ModelConfig, dim: int):
    diffusers = nn_.require("diffusers", NAME)
    levels = len(cfg.channels)
    plain = levels - cfg.attention_levels
    down = ["DownBlock2D"] * plain + ["CrossAttnDownBlock2D"] * cfg.attention_levels
    up = ["CrossAttnUpBlock2D"] * cfg.attention_levels + ["UpBlock2D"] * plain
    heads = [max(1, c // cfg.attention_head_dim) for c in cfg.channels]
    return diffusers.UNet2DConditionModel(
        sample_size=(cfg.mel.n_mels, cfg.mel.window_frames), in_channels=1, out_channels=1,
        block_out_channels=tuple(cfg.channels), layers_per_block=cfg.layers_per_block,
        down_block_types=tuple(down), up_block_types=tuple(up),
        mid_block_type="UNetMidBlock2DCrossAttn" if cfg.attention_levels else "UNetMidBlock2D",
        cross_attention_dim=cfg.cross_attention_dim, attention_head_dim=tuple(heads), norm_num_groups=cfg.norm_groups,
        class_embed_type="projection", projection_class_embeddings_input_dim=dim,
    )


def build_scheduler(cfg: ModelConfig):
    diffusers = nn_.require("diffusers", NAME)
    return diffusers.DDPMScheduler(num_train_timesteps=cfg.train_timesteps, beta_schedule="squaredcos_cap_v2",
                                   prediction_type=cfg.prediction, clip_sample=False)


def build_prior(cfg: ModelConfig, dim: int, text_length: int):
    diffusers = nn_.require("diffusers", NAME)
    return diffusers.PriorTransformer(
        num_attention_heads=cfg.prior_heads, attention_head_dim=cfg.prior_head_dim, num_layers=cfg.prior_layers,
        embedding_dim=dim, num_embeddings=text_length, additional_embeddings=4, dropout=0.0,
    )


def build_prior_scheduler(cfg: ModelConfig):
    diffusers = nn_.require("diffusers", NAME)
    return diffusers.DDPMScheduler(num_train_timesteps=cfg.prior_timesteps, beta_schedule="squaredcos_cap_v2",
                                   prediction_type="sample", clip_sample=True, clip_sample_range=10.0)


def sampler_from(scheduler):
    """The DDIM sampler of a training schedule (trailing timesteps: the first step starts from pure noise).
    The mel sampler does not clip its clean-sample estimates to [-1, 1]: early, noisy estimates overshoot, and
    clipping them turned guided tones into broadband noise (only the finished mel is clamped)."""
    diffusers = nn_.require("diffusers", NAME)
    return diffusers.DDIMScheduler.from_config(scheduler.config, timestep_spacing="trailing")


# -- saving -----------------------------------------------------------------------------------------------
def save_weights(folder: Path, meta: CheckpointMeta, unet, conditioner, scheduler, prior=None,
                 prior_scheduler=None, vocoder=None) -> None:
    """Write the generation side of a checkpoint. Every part is written to a staging folder first and moved into
    place, ``clipsonic.json`` last, so an interrupted save leaves the previous checkpoint readable."""
    from safetensors.torch import save_file

    from ...atomic import replace_dir
    from .config import write_meta

    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / ".saving"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    with nn_.quiet():
        unet.save_pretrained(staging / "unet")
        scheduler.save_pretrained(staging / "scheduler")
        save_file({k: v.detach().cpu().contiguous() for k, v in conditioner.state_dict().items()},
                  str(staging / "conditioner.safetensors"))
        if prior is not None:
            prior.save_pretrained(staging / "prior")
            prior_scheduler.save_pretrained(staging / "prior_scheduler")
        if vocoder is not None:
            vocoder.save_pretrained(staging / "vocoder")
    for part in sorted(staging.iterdir()):
        target = folder / part.name
        if part.is_dir():
            replace_dir(part, target)
        else:
            part.replace(target)
    for stale, present in (("prior", prior), ("prior_scheduler", prior)):
        if present is None and (folder / stale).exists():
            shutil.rmtree(folder / stale)
    shutil.rmtree(staging, ignore_errors=True)
    write_meta(folder, meta)


# -- generation -------------------------------------------------------------------------------------------
class ClipSonic:
    """A loaded checkpoint, ready to generate. ``load`` it with :func:`load` (cached per process)."""

    def __init__(self, folder: Path, meta: CheckpointMeta, clip: ClipEncoder, unet, conditioner, scheduler,
                 prior, prior_scheduler, vocoder, device: str, dtype):
        from .mel import MelSpec

        self.folder, self.meta, self.clip = folder, meta, clip
        self.unet, self.conditioner, self.scheduler = unet, conditioner, scheduler
        self.prior, self.prior_scheduler, self.vocoder = prior, prior_scheduler, vocoder
        self.device, self.dtype = device, dtype
        self.cfg = meta.model
        self.mel = MelSpec(self.cfg.mel, device)
        torch = _torch()
        self.center = torch.tensor(meta.center, dtype=torch.float32)
        self.scale = float(meta.scale)
        self._empty_text: tuple | None = None

    @property
    def sample_rate(self) -> int:
        return self.cfg.mel.sample_rate

    @property
    def window_seconds(self) -> float:
        return self.cfg.mel.window_seconds

    # -- queries -> standardised embeddings ---------------------------------------------------------------
    def standardise(self, embeddings: np.ndarray):
        torch = _torch()
        e = torch.nn.functional.normalize(torch.as_tensor(np.asarray(embeddings), dtype=torch.float32), dim=-1)
        return (e - self.center) / self.scale

    def image_condition(self, pictures: Sequence[Any]):
        """PIL images -> (n, dim) standardised conditions."""
        return self.standardise(self.clip.images(list(pictures)))

    def text_condition(self, texts: Sequence[str], use_prior: bool, seeds: Sequence[int], steps: int = 25,
                       guidance: float = 2.0):
        """Texts -> (n, dim) standardised conditions: through the prior (text embedding -> image embedding), or
        the text embedding itself (zero-shot modality transfer)."""
        emb, tokens, mask = self.clip.texts(list(texts))
        if not use_prior:
            return self.standardise(emb)
        if self.prior is None:
            raise ClipSonicError(
                f"checkpoint '{self.folder}' has no prior (its data folder had no captions.tsv), so text cannot go "
                f"through one. Query zero-shot (--no-prior, or --set clipsonic.query=zero-shot), or retrain with "
                f"captions."
            )
        z = self.sample_prior(emb, tokens, mask, seeds, steps, guidance)
        # back to a unit-length CLIP image embedding, then standardised as the audio model expects
        torch = _torch()
        raw = z * self.scale + self.center
        return self.standardise(torch.nn.functional.normalize(raw, dim=-1).numpy())

    def sample_prior(self, emb: np.ndarray, tokens: np.ndarray, mask: np.ndarray, seeds: Sequence[int], steps: int,
                     guidance: float):
        torch = _torch()
        dev, dt = self.device, self.dtype
        if self._empty_text is None:
            self._empty_text = self.clip.texts([""])
        e0, t0, m0 = self._empty_text
        n = len(emb)
        cond_e = torch.as_tensor(np.concatenate([emb, np.repeat(e0, n, 0)]), device=dev, dtype=dt)
        cond_t = torch.as_tensor(np.concatenate([tokens, np.repeat(t0, n, 0)]), device=dev, dtype=dt)
        cond_m = torch.as_tensor(np.concatenate([mask, np.repeat(m0, n, 0)]), device=dev)
        sampler = sampler_from(self.prior_scheduler)
        sampler.set_timesteps(max(1, steps), device=dev)
        x = torch.stack([torch.randn(self.meta.clip_dim, generator=torch.Generator().manual_seed(int(s) ^ 0x5EED))
                         for s in seeds]).to(dev, dt)
        with torch.inference_mode():
            for t in sampler.timesteps:
                out = self.prior(torch.cat([x, x]), t, proj_embedding=cond_e, encoder_hidden_states=cond_t,
                                 attention_mask=cond_m).predicted_image_embedding
                c, u = out.chunk(2)
                x = sampler.step(u + guidance * (c - u), t, x).prev_sample
        return x.float().cpu()

    # -- conditions -> audio ------------------------------------------------------------------------------
    def sample_mels(self, z, seeds: Sequence[int], steps: int = 50, guidance: float = 3.0):
        """(n, dim) standardised conditions -> (n, n_mels, window_frames) normalised log-mels, one seeded
        generator per row (so a row comes out the same alone or in a batch)."""
        torch = _torch()
        dev, dt = self.device, self.dtype
        mel = self.cfg.mel
        z = torch.as_tensor(z, dtype=torch.float32).to(dev, dt)
        n = z.shape[0]
        shape = (1, mel.n_mels, mel.window_frames)
        x = torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
        x = x.to(dev, dt)
        sampler = sampler_from(self.scheduler)
        sampler.set_timesteps(max(1, steps), device=dev)
        with torch.inference_mode():
            ce, tokens = self.conditioner(z)
            ne, ntokens = self.conditioner(self.conditioner.null_batch(n, z))
            guided = guidance != 1.0
            labels = torch.cat([ce, ne]) if guided else ce
            states = torch.cat([tokens, ntokens]) if guided else tokens
            for t in sampler.timesteps:
                inp = torch.cat([x, x]) if guided else x
                out = self.unet(inp, t, encoder_hidden_states=states, class_labels=labels).sample
                if guided:
                    c, u = out.chunk(2)
                    out = u + guidance * (c - u)
                x = sampler.step(out, t, x).prev_sample
        return x[:, 0].float().clamp(-1.0, 1.0)

    def vocode(self, mels, seeds: Sequence[int], vocoder: str = "auto", iterations: int = 32) -> np.ndarray:
        """(n, n_mels, frames) normalised log-mels -> (n, samples) float32 audio."""
        torch = _torch()
        log_mel = self.mel.denormalise(mels.to(self.device).float())
        use_hifigan = vocoder == "hifigan" or (vocoder == "auto" and self.vocoder is not None)
        if use_hifigan:
            if self.vocoder is None:
                raise ClipSonicError(
                    f"checkpoint '{self.folder}' has no HiFi-GAN vocoder. Use the Griffin-Lim one (vocoder "
                    f"griffin-lim), or train with --vocoder DIR to add one."
                )
            with torch.inference_mode():
                audio = self.vocoder(log_mel.transpose(1, 2).to(self.dtype))
            audio = audio.reshape(log_mel.shape[0], -1)[:, : (log_mel.shape[2] - 1) * self.cfg.mel.hop_length]
        else:
            gens = [torch.Generator().manual_seed(int(s) ^ 0x61F) for s in seeds]
            audio = self.mel.griffin_lim(log_mel, iterations=iterations, generators=gens)
        return nn_.to_numpy(audio)

    def generate(self, z, seconds: Sequence[float], seeds: Sequence[int], steps: int = 50, guidance: float = 3.0,
                 crossfade: float = 0.5, vocoder: str = "auto", iterations: int = 32,
                 batch_size: int = 16) -> tuple[list[np.ndarray], list[int]]:
        """One clip per condition row, each exactly ``seconds[i]`` long at :attr:`sample_rate`; clips longer
        than one window are independent windows (same condition, own seeds) joined with equal-power crossfades.
        Every window of every row is sampled in shared batches of ``batch_size``. A clip whose peak passes
        :data:`PEAK` is scaled down to it (a mel a few dB too loud is common after few steps or strong
        guidance; the renderer sets every clip's loudness anyway). Returns (clips, windows per clip)."""
        torch = _torch()
        sr = self.sample_rate
        win = self.cfg.mel.window_samples
        xfade = int(round(min(crossfade, self.window_seconds / 4) * sr))
        jobs: list[tuple[int, int]] = []  # (row, window index)
        counts = []
        for r, s in enumerate(seconds):
            total = max(1, int(round(s * sr)))
            n = len(nn_.window_starts(total, win, xfade))
            counts.append(n)
            jobs += [(r, k) for k in range(n)]
        z = torch.as_tensor(z, dtype=torch.float32)
        made: dict[tuple[int, int], np.ndarray] = {}
        for start in range(0, len(jobs), max(1, batch_size)):
            chunk = jobs[start : start + batch_size]
            job_seeds = [nn_.batch_seed([seeds[r], k]) if k else int(seeds[r]) for r, k in chunk]
            mels = self.sample_mels(z[[r for r, _ in chunk]], job_seeds, steps, guidance)
            audio = self.vocode(mels, job_seeds, vocoder, iterations)
            for job, a in zip(chunk, audio):
                made[job] = a
        clips = []
        for r, s in enumerate(seconds):
            out = made[(r, 0)][None]
            for k in range(1, counts[r]):
                out = nn_.crossfade_join(out, made[(r, k)][None], xfade)
            out = nn_.fit_length(out, max(1, int(round(s * sr))), sr)[0]
            peak = float(np.abs(out).max()) if out.size else 0.0
            clips.append(out * (PEAK / peak) if peak > PEAK else out)
        return clips, counts


def load(folder: str, clip: str | None = None, device: str = "auto", dtype: str = "auto") -> ClipSonic:
    """Load (once per process and device) the checkpoint in ``folder`` (a local folder or a hub id), with its own
    CLIP or the one ``clip`` names (when the training folder has moved)."""
    options = nn_.NeuralOptions(model=folder, device=device, dtype=dtype)

    def build(diffusers, source: nn_.ModelSource, torch_dtype):
        return _build(source, clip, options.device, torch_dtype)

    def place(model: ClipSonic, dev: str):
        return model

    _, model, _, _ = nn_.load_model(NAME, options, f"ClipSonic|{clip or ''}", ("transformers", "diffusers"), build,
                                    place)
    return model


def _build(source: nn_.ModelSource, clip: str | None, device_option: str, torch_dtype) -> ClipSonic:
    diffusers = nn_.require("diffusers", NAME)
    folder = Path(source.local_dir) if source.local_dir else _download(source)
    meta = read_meta(folder)
    device = nn_.resolve_device(device_option, NAME)
    dtype_name = nn_.dtype_name(torch_dtype)
    try:
        encoder = ClipEncoder(clip or meta.clip_model, device=device_option, dtype=dtype_name)
    except UserError as exc:
        if clip:
            raise
        raise ClipSonicError(
            f"checkpoint '{folder}' was trained with the CLIP model '{meta.clip_model}', which cannot be loaded here "
            f"({exc}). If it has moved, pass its new place: --clip-model DIR (generate) or --set clipsonic.clip=DIR."
        ) from None
    check_clip(encoder, meta, folder, overridden=bool(clip))
    from safetensors.torch import load_file

    unet = diffusers.UNet2DConditionModel.from_pretrained(folder / "unet").to(device, torch_dtype).eval()
    conditioner = build_conditioner(meta.model, meta.clip_dim)
    conditioner.load_state_dict(load_file(str(folder / "conditioner.safetensors")))
    conditioner.to(device, torch_dtype).eval()
    scheduler = diffusers.DDPMScheduler.from_pretrained(folder / "scheduler")
    prior = prior_scheduler = None
    if meta.has_prior:
        prior = diffusers.PriorTransformer.from_pretrained(folder / "prior").to(device, torch_dtype).eval()
        prior_scheduler = diffusers.DDPMScheduler.from_pretrained(folder / "prior_scheduler")
    vocoder = None
    if meta.vocoder == "hifigan":
        transformers = nn_.require("transformers", NAME)
        vocoder = transformers.SpeechT5HifiGan.from_pretrained(folder / "vocoder").to(device, torch_dtype).eval()
    return ClipSonic(folder, meta, encoder, unet, conditioner, scheduler, prior, prior_scheduler, vocoder, device,
                     torch_dtype)


def _download(source: nn_.ModelSource) -> Path:
    """A checkpoint on the hub: its files in the local hub cache (fetched when the hub can be reached)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source.ref, local_files_only=source.local_files_only))
    except Exception as exc:  # noqa: BLE001 - offline, missing repo, no permission
        raise nn_.load_error(OSError(str(exc)), source, NAME) from None


def check_clip(encoder: ClipEncoder, meta: CheckpointMeta, folder: Path, overridden: bool) -> None:
    """The CLIP loaded must be the one the checkpoint learned from: same width, same embedding of the probe."""
    how = ("the CLIP it was trained with" if overridden
           else "--clip-model DIR (generate) or --set clipsonic.clip=DIR")
    if encoder.dim != meta.clip_dim:
        raise ClipSonicError(
            f"the CLIP model '{encoder.ref}' makes {encoder.dim}-wide embeddings, but checkpoint '{folder}' was "
            f"trained on {meta.clip_dim}-wide ones from '{meta.clip_model}'. Pass {how}."
        )
    probe = encoder.probe()
    similarity = float(np.dot(probe, np.asarray(meta.clip_probe, dtype=np.float32)))
    if similarity < 0.98:
        raise ClipSonicError(
            f"the CLIP model '{encoder.ref}' is not the one checkpoint '{folder}' was trained with "
            f"('{meta.clip_model}'; probe similarity {similarity:.3f}). Pass {how}."
        )
