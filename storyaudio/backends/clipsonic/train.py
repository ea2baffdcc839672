"""Training: data folder -> cached features -> the mel denoiser (and, with captions, the prior) -> checkpoint.

The recipe (CLIPSonic, Dong et al. 2023): the audio of a video is generated from the CLIP embedding of one of
its frames. Every step takes a random window of a clip's log-mel and a random frame of the same clip, noises
the mel at a random timestep and teaches the UNet to predict the noise (v-prediction), conditioned on the
frame's standardised embedding, which is replaced by a learned null embedding ``cond_dropout`` of the time
(classifier-free guidance). With captions, a DALL-E 2 style prior learns in the same loop to denoise the image
embedding of a captioned item's frame from its caption's CLIP text embedding and tokens (the caption dropped to
the empty caption ``prior_text_dropout`` of the time).

Weights are averaged (EMA with warm-up) for generation; checkpoints are written every ``save_every`` steps, at
the end, at ``--max-minutes`` and on Ctrl-C, and ``--resume`` continues from the last one.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ... import __version__
from .. import _neural as nn_
from .config import CheckpointMeta, ClipSonicError, ModelConfig, model_config, read_meta
from .data import FeatureSettings, attach_captions, extract, read_captions, scan
from .encoders import ClipEncoder, check_clip_ref, clip_fingerprint
from .model import (build_conditioner, build_prior, build_prior_scheduler, build_scheduler, build_unet, check_clip,
                    save_weights)

NAME = "clipsonic"
STATE = "training/state.pt"
METRICS = "metrics.jsonl"


@dataclass
class TrainOptions:
    data: Path
    out: Path
    clip_model: str | None = None
    steps: int | None = None  # total steps (the preset's when None)
    max_minutes: float | None = None
    batch_size: int | None = None
    device: str = "auto"
    resume: bool = False
    preset: str = "base"
    sizes: dict[str, str] = field(default_factory=dict)
    learning_rate: float | None = None
    seed: int = 0
    threads: int | None = None
    workers: int = 2
    skip_bad: bool = False
    save_every: int | None = None
    log_every: int = 10
    frame_rate: float = 1.0
    max_frames: int = 10
    max_seconds: float = 10.0
    vocoder: str | None = None
    vocoder_steps: int = 0  # HiFi-GAN training steps (from --vocoder's weights when given)
    features: Path | None = None  # the feature cache (default: OUT/features)
    progress: bool = True


@dataclass
class TrainResult:
    out: Path
    steps: int
    prior_steps: int
    seconds: float
    items: int
    captions: int
    last_loss: float | None
    last_prior_loss: float | None
    stopped: str  # "steps", "time", "interrupted" or "nothing to do"
    vocoder_steps: int = 0


def train(opts: TrainOptions, echo: Callable[[str], None] = print) -> TrainResult:
    torch = nn_.import_torch(NAME)
    nn_.require("diffusers", NAME)
    started = time.monotonic()
    out = Path(opts.out)
    if opts.threads:
        torch.set_num_threads(int(opts.threads))
    device = nn_.resolve_device(opts.device, NAME)

    # 1. What we continue from, or what we start.
    state = None
    if opts.resume:
        meta_old = read_meta(out)
        state_path = out / STATE
        if not state_path.is_file():
            raise ClipSonicError(f"'{out}' has no {STATE} to resume from (it was written without training state). "
                                 f"Train into a new folder instead.")
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        cfg = meta_old.model
        if opts.sizes or (opts.preset not in ("base", cfg.preset)):
            echo(f"note: --resume keeps the checkpoint's sizes (preset {cfg.preset}); --preset/--size are ignored.")
        clip_ref = check_clip_ref(opts.clip_model) if opts.clip_model else meta_old.clip_model
    else:
        if (out / "clipsonic.json").exists():
            raise ClipSonicError(f"'{out}' already holds a CLIPSonic checkpoint. Continue it with --resume, or "
                                 f"train into another folder (-o).")
        cfg = model_config(opts.preset, opts.sizes)
        clip_ref = check_clip_ref(opts.clip_model or "")
        meta_old = None
    total_steps = cfg.steps if opts.steps is None else int(opts.steps)
    batch_size = opts.batch_size or cfg.batch_size
    lr = opts.learning_rate or cfg.learning_rate

    # 2. The data, CLIP, and the data's features.
    items = scan(opts.data)
    captions = read_captions(opts.data, items, warn=echo)
    clip = ClipEncoder(clip_ref, device=opts.device, dtype="float32")
    if meta_old is not None:
        check_clip(clip, meta_old, out, overridden=bool(opts.clip_model))
    from .mel import MelSpec

    mel = MelSpec(cfg.mel, "cpu")
    settings = FeatureSettings(clip_fingerprint(clip_ref), cfg.mel, opts.frame_rate, opts.max_frames, opts.max_seconds)
    with _Bar(opts.progress, "features") as bar:
        feats = extract(items, Path(opts.features or out / "features"), settings, clip.images,
                        lambda a: mel.normalise(mel.log_mel(torch.from_numpy(a))).numpy(), opts.skip_bad,
                        opts.workers, progress=bar.update, warn=echo, keep_audio=opts.vocoder_steps > 0)
    n_captioned = attach_captions(feats, captions)

    # 3. Embedding statistics (kept from the first run when resuming: the networks learned with them).
    if meta_old is not None:
        center = np.asarray(meta_old.center, np.float32)
        scale = float(meta_old.scale)
    else:
        every = np.concatenate([f.embeddings.astype(np.float32) for f in feats])
        center = every.mean(0)
        scale = float(np.sqrt(((every - center) ** 2).mean()) + 1e-6)
    dim = clip.dim

    # 4. Networks, optimisers, EMA.
    from diffusers.optimization import get_constant_schedule_with_warmup
    from diffusers.training_utils import EMAModel

    torch.manual_seed(opts.seed)
    unet = build_unet(cfg, dim).to(device)
    conditioner = build_conditioner(cfg, dim).to(device)
    scheduler = build_scheduler(cfg)
    params = list(unet.parameters()) + list(conditioner.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
    lr_schedule = get_constant_schedule_with_warmup(optimizer, cfg.warmup_steps)
    ema = EMAModel(params, decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=2 / 3)
    with_prior = n_captioned > 0 or (meta_old is not None and meta_old.has_prior)
    prior = prior_scheduler = prior_opt = prior_lr = prior_ema = None
    if with_prior and n_captioned == 0:
        raise ClipSonicError(f"'{out}' was trained with captions, but {opts.data} has no captions.tsv now. "
                             f"Put it back.")
    if with_prior:
        prior = build_prior(cfg, dim, clip.text_length).to(device)
        with torch.no_grad():
            prior.clip_mean.copy_(torch.as_tensor(center)[None])
            prior.clip_std.fill_(scale)
        prior_scheduler = build_prior_scheduler(cfg)
        prior_opt = torch.optim.AdamW(prior.parameters(), lr=cfg.prior_learning_rate, weight_decay=1e-2)
        prior_lr = get_constant_schedule_with_warmup(prior_opt, cfg.warmup_steps)
        prior_ema = EMAModel(prior.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=2 / 3)
    step = prior_step = 0
    if state is not None:
        unet.load_state_dict(state["unet"])
        conditioner.load_state_dict(state["conditioner"])
        optimizer.load_state_dict(state["optimizer"])
        lr_schedule.load_state_dict(state["lr_schedule"])
        ema.load_state_dict(state["ema"])
        if prior is not None and state.get("prior") is not None:
            prior.load_state_dict(state["prior"])
            prior_opt.load_state_dict(state["prior_optimizer"])
            prior_lr.load_state_dict(state["prior_lr_schedule"])
            prior_ema.load_state_dict(state["prior_ema"])
            prior_step = int(state["prior_step"])
        step = int(state["step"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
    ema.to(device)
    if prior_ema is not None:
        prior_ema.to(device)

    # 5. Data on the device: mels stay on the CPU (cropped per step), the caption encodings are made once.
    rng = random.Random(opts.seed + step)
    window = cfg.mel.window_frames
    floor = -1.0  # the normalised value of silence
    # held as float16 (about 100 KB for 10 s of base mels), made float32 a crop at a time
    mels = [torch.from_numpy(np.ascontiguousarray(f.mel, dtype=np.float16)) for f in feats]
    embs = [torch.from_numpy(np.ascontiguousarray(f.embeddings, dtype=np.float16)) for f in feats]
    center_t, scale_t = torch.as_tensor(center), scale
    captioned = [i for i, f in enumerate(feats) if f.captions]
    texts: dict[str, int] = {}
    for i in captioned:
        for c in feats[i].captions:
            texts.setdefault(c, len(texts))
    if with_prior:
        t_emb, t_tok, t_mask = clip.texts(list(texts) + [""])
        t_emb, t_tok = torch.from_numpy(t_emb).to(device), torch.from_numpy(t_tok).to(device)
        t_mask = torch.from_numpy(t_mask).to(device)
        empty = len(texts)

    def standardised(e):
        return (torch.nn.functional.normalize(e, dim=-1) - center_t) / scale_t

    def audio_batch():
        xs, zs = [], []
        for _ in range(batch_size):
            i = rng.randrange(len(feats))
            m = mels[i]
            if m.shape[1] >= window:
                s = rng.randrange(m.shape[1] - window + 1)
                crop = m[:, s : s + window].float()
            else:
                crop = torch.full((m.shape[0], window), floor)
                crop[:, : m.shape[1]] = m.float()
            xs.append(crop)
            zs.append(embs[i][rng.randrange(embs[i].shape[0])].float())
        return torch.stack(xs)[:, None].to(device), standardised(torch.stack(zs)).to(device)

    def prior_batch():
        idx, zs = [], []
        for _ in range(batch_size):
            i = rng.choice(captioned)
            c = texts[rng.choice(feats[i].captions)]
            idx.append(empty if rng.random() < cfg.prior_text_dropout else c)
            zs.append(embs[i][rng.randrange(embs[i].shape[0])].float())
        idx_t = torch.tensor(idx, device=device)
        return t_emb[idx_t], t_tok[idx_t], t_mask[idx_t], standardised(torch.stack(zs)).to(device)

    use_bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()

    def autocast():
        import contextlib

        return torch.autocast("cuda", dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()

    # 6. The loop.
    meta = CheckpointMeta(
        model=cfg, clip_model=clip_ref, clip_dim=dim, clip_text_length=clip.text_length,
        clip_probe=[float(v) for v in clip.probe()], center=[float(v) for v in center], scale=scale,
        has_prior=with_prior, vocoder="griffin-lim", steps=step, prior_steps=prior_step, items=len(feats),
        captions=n_captioned, frame_rate=opts.frame_rate, max_frames=opts.max_frames, max_seconds=opts.max_seconds,
        written_by=f"storyaudio {__version__}",
    )
    vocoder = _load_vocoder(opts.vocoder, cfg, out, meta_old)
    vtrainer = None
    if opts.vocoder_steps > 0:
        from .vocoder import VocoderTrainer, build_generator

        vocoder = vocoder if vocoder is not None else build_generator(cfg)
        vtrainer = VocoderTrainer(vocoder, cfg, MelSpec(cfg.mel, device), device, cfg.vocoder_learning_rate)
        if state is not None and state.get("vocoder") is not None:
            vtrainer.load_state_dict(state["vocoder"])
        vocoder = vtrainer.generator
    if vocoder is not None:
        meta.vocoder = "hifigan"
    save_every = opts.save_every or max(100, min(5000, total_steps // 10 or 100))
    deadline = started + opts.max_minutes * 60 if opts.max_minutes else None
    losses: list[float] = []
    prior_losses: list[float] = []
    last_loss = last_prior = None
    vocoder_done = vtrainer is None or vtrainer.steps >= opts.vocoder_steps
    stopped = "nothing to do" if state is not None and step >= total_steps and vocoder_done else "steps"
    (out / "training").mkdir(parents=True, exist_ok=True)
    metrics = open(out / METRICS, "a", encoding="utf-8")
    loop_start = time.monotonic()

    def save():
        meta.steps, meta.prior_steps = step, prior_step
        if vtrainer is not None:
            vtrainer.generator.eval()
        ema.store(params)
        ema.copy_to(params)
        if prior is not None:
            prior_ema.store(prior.parameters())
            prior_ema.copy_to(prior.parameters())
        try:
            save_weights(out, meta, unet, conditioner, scheduler, prior, prior_scheduler, vocoder)
        finally:
            ema.restore(params)
            if prior is not None:
                prior_ema.restore(prior.parameters())
            if vtrainer is not None:
                vtrainer.generator.train()
        blob = {
            "step": step, "prior_step": prior_step, "unet": unet.state_dict(), "conditioner": conditioner.state_dict(),
            "optimizer": optimizer.state_dict(), "lr_schedule": lr_schedule.state_dict(), "ema": ema.state_dict(),
            "prior": prior.state_dict() if prior is not None else None,
            "prior_optimizer": prior_opt.state_dict() if prior is not None else None,
            "prior_lr_schedule": prior_lr.state_dict() if prior is not None else None,
            "prior_ema": prior_ema.state_dict() if prior is not None else None,
            "vocoder": vtrainer.state_dict() if vtrainer is not None else None,
            "torch_rng": torch.get_rng_state(), "python_rng": rng.getstate(),
        }
        from ...atomic import atomic_path

        with atomic_path(out / STATE) as tmp:
            torch.save(blob, tmp)

    iteration = 0
    vocoder_losses: list[float] = []

    def log_line():
        nonlocal last_loss, last_prior
        last_loss = float(np.mean(losses)) if losses else last_loss
        last_prior = float(np.mean(prior_losses)) if prior_losses else last_prior
        rate = iteration / max(1e-9, time.monotonic() - loop_start)
        line = {
            "step": step, "loss": round(last_loss, 6) if last_loss is not None else None,
            "prior_loss": round(last_prior, 6) if last_prior is not None else None,
            "lr": lr_schedule.get_last_lr()[0], "elapsed": round(time.monotonic() - started, 2),
            "steps_per_second": round(rate, 4),
        }
        if vtrainer is not None:
            line["vocoder_step"] = vtrainer.steps
            line["vocoder_mel_loss"] = round(float(np.mean(vocoder_losses)), 6) if vocoder_losses else None
        metrics.write(json.dumps(line) + "\n")
        metrics.flush()
        losses.clear()
        prior_losses.clear()
        vocoder_losses.clear()

    seg = cfg.vocoder_segment_frames
    hop = cfg.mel.hop_length
    audios = [torch.from_numpy(np.ascontiguousarray(f.audio, dtype=np.float16)) for f in feats] if vtrainer else []

    def vocoder_batch():
        mels_b, audio_b = [], []
        for _ in range(cfg.vocoder_batch_size):
            i = rng.randrange(len(feats))
            m, a = mels[i], audios[i]
            start = rng.randrange(max(1, m.shape[1] - seg + 1))
            crop = torch.full((m.shape[0], seg), -1.0)
            part = m[:, start : start + seg]
            crop[:, : part.shape[1]] = part.float()
            wave = torch.zeros(seg * hop)
            piece = a[start * hop : (start + seg) * hop]
            wave[: piece.shape[0]] = piece.float()
            mels_b.append(crop)
            audio_b.append(wave)
        log_mel = mel.denormalise(torch.stack(mels_b))
        return log_mel.to(device), torch.stack(audio_b).to(device)

    unet.train()
    conditioner.train()
    if prior is not None:
        prior.train()
    try:
        def vocoder_left() -> bool:
            return vtrainer is not None and vtrainer.steps < opts.vocoder_steps

        span = max(total_steps, opts.vocoder_steps)
        with _Bar(opts.progress, "training", total=span, start=min(step, span)) as bar:
            while step < total_steps or vocoder_left():
                if deadline is not None and time.monotonic() >= deadline:
                    stopped = "time"
                    break
                iteration += 1
                if vocoder_left():
                    vocoder_losses.append(vtrainer.step(*vocoder_batch())["vocoder_mel"])
                if step >= total_steps:  # only the vocoder is left
                    if iteration % opts.log_every == 0:
                        log_line()
                    bar.update(vtrainer.steps, span, loss=last_loss, prior=last_prior)
                    if vtrainer.steps % save_every == 0 and vocoder_left():
                        save()
                    continue
                # the mel denoiser
                x0, z = audio_batch()
                noise = torch.randn_like(x0)
                t = torch.randint(0, scheduler.config.num_train_timesteps, (x0.shape[0],), device=device)
                xt = scheduler.add_noise(x0, noise, t)
                target = scheduler.get_velocity(x0, noise, t) if cfg.prediction == "v_prediction" else noise
                drop = torch.rand(x0.shape[0], device=device) < cfg.cond_dropout
                with autocast():
                    ce, tokens = conditioner(z, drop)
                    pred = unet(xt, t, encoder_hidden_states=tokens, class_labels=ce).sample
                loss = torch.nn.functional.mse_loss(pred.float(), target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                lr_schedule.step()
                ema.step(params)
                losses.append(float(loss.detach()))
                # the prior
                if prior is not None:
                    te, tt, tm, target_z = prior_batch()
                    pnoise = torch.randn_like(target_z)
                    pt = torch.randint(0, prior_scheduler.config.num_train_timesteps, (target_z.shape[0],),
                                       device=device)
                    zt = prior_scheduler.add_noise(target_z, pnoise, pt)
                    with autocast():
                        zp = prior(zt, pt, proj_embedding=te, encoder_hidden_states=tt,
                                   attention_mask=tm).predicted_image_embedding
                    ploss = torch.nn.functional.mse_loss(zp.float(), target_z)
                    prior_opt.zero_grad(set_to_none=True)
                    ploss.backward()
                    torch.nn.utils.clip_grad_norm_(prior.parameters(), 1.0)
                    prior_opt.step()
                    prior_lr.step()
                    prior_ema.step(prior.parameters())
                    prior_losses.append(float(ploss.detach()))
                    prior_step += 1
                step += 1
                if step % opts.log_every == 0 or step == total_steps:
                    log_line()
                bar.update(max(step, vtrainer.steps if vtrainer else 0), span,
                           loss=last_loss if last_loss is not None else (losses or [None])[-1], prior=last_prior)
                if step % save_every == 0 and step < total_steps:
                    save()
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        metrics.close()
    save()
    if losses:
        last_loss = float(np.mean(losses))
    if prior_losses:
        last_prior = float(np.mean(prior_losses))
    return TrainResult(out, step, prior_step, time.monotonic() - started, len(feats), n_captioned, last_loss,
                       last_prior, stopped, vtrainer.steps if vtrainer is not None else 0)


def _load_vocoder(ref: str | None, cfg: ModelConfig, out: Path, meta_old: CheckpointMeta | None):
    """A given SpeechT5HifiGan (a folder or hub id) checked against the mel settings, or the checkpoint's own
    when resuming; None for Griffin-Lim."""
    transformers = nn_.require("transformers", NAME)
    if ref is None:
        if meta_old is not None and meta_old.vocoder == "hifigan":
            return transformers.SpeechT5HifiGan.from_pretrained(out / "vocoder")
        return None
    source = nn_.model_source(ref, NAME)
    try:
        with nn_.quiet():
            vocoder = transformers.SpeechT5HifiGan.from_pretrained(source.ref, local_files_only=source.local_files_only)
    except OSError as exc:
        raise ClipSonicError(f"--vocoder '{ref}': {nn_.load_error(exc, source, NAME)}") from None
    c = vocoder.config
    hop = int(np.prod(c.upsample_rates))
    mel = cfg.mel
    if (c.sampling_rate, c.model_in_dim, hop) != (mel.sample_rate, mel.n_mels, mel.hop_length):
        raise ClipSonicError(
            f"--vocoder '{ref}' voices {c.model_in_dim} mels at {c.sampling_rate} Hz with hop {hop}, but this model's "
            f"mels are {mel.n_mels} at {mel.sample_rate} Hz with hop {mel.hop_length}. Use a HiFi-GAN trained on "
            f"these mels (the base presets match microsoft/speecht5_hifigan), or leave --vocoder out (Griffin-Lim)."
        )
    return vocoder


class _Bar:
    """A rich progress bar on stderr with the loss (nothing when off)."""

    def __init__(self, enabled: bool, label: str, total: int = 0, start: int = 0):
        self.enabled, self.label, self.total, self.start = enabled, label, total, start
        self.progress = self.task = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.progress = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                     console=Console(stderr=True), transient=False)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=self.total or None, completed=self.start, info="")
        return self

    def update(self, done: int, total: int, loss: float | None = None, prior: float | None = None) -> None:
        if self.progress is None:
            return
        info = "" if loss is None else f"loss {loss:.4f}"
        if prior is not None:
            info += f" prior {prior:.4f}"
        self.progress.update(self.task, completed=done, total=total, info=info)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False
