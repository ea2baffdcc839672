"""Training a HiFi-GAN vocoder for the model's mels (``storyaudio clipsonic train --vocoder-steps N``).

The generator is transformers' ``SpeechT5HifiGan`` (HiFi-GAN V1 at the base sizes; started from ``--vocoder``
weights when given, so a released HiFi-GAN can be fine-tuned on the data's sounds). The discriminators are
HiFi-GAN's (Kong et al. 2020), written here small: a multi-period discriminator (periods 2, 3, 5, 7, 11, the
waveform folded into 2-D) and a multi-scale one (the waveform and two average-pooled copies). Losses as in the
paper: least-squares adversarial losses, feature matching (x2) and the L1 distance of log-mels (x45).

Each training step takes random segments of ``vocoder_segment_frames`` mel frames of the cached features and the
audio they came from.
"""

from __future__ import annotations

from typing import Any

from .. import _neural as nn_
from .config import ModelConfig

NAME = "clipsonic"


def upsample_rates(hop: int) -> list[int]:
    """``hop`` as a product of upsampling factors (8, 8, 2, 2 for 256, as HiFi-GAN V1)."""
    rates, left = [], hop
    for r in (8, 8, 4, 2, 2, 2, 2):
        if left % r == 0 and left > 1:
            rates.append(r)
            left //= r
    if left != 1:
        from .config import ClipSonicError

        raise ClipSonicError(f"a HiFi-GAN upsamples by factors of 2, 4 and 8; mel.hop_length {hop} is not their "
                             f"product. Choose a power of two (e.g. --size mel.hop_length=256).")
    return rates


def build_generator(cfg: ModelConfig):
    """A new SpeechT5HifiGan for the model's mels, ``vocoder_width`` channels after its first convolution."""
    transformers = nn_.require("transformers", NAME)
    rates = upsample_rates(cfg.mel.hop_length)
    wide = cfg.vocoder_width >= 128
    config = transformers.SpeechT5HifiGanConfig(
        model_in_dim=cfg.mel.n_mels, sampling_rate=cfg.mel.sample_rate, upsample_initial_channel=cfg.vocoder_width,
        upsample_rates=rates, upsample_kernel_sizes=[2 * r for r in rates],
        resblock_kernel_sizes=[3, 7, 11] if wide else [3],
        resblock_dilation_sizes=[[1, 3, 5]] * 3 if wide else [[1, 3]],
        normalize_before=False,
    )
    return transformers.SpeechT5HifiGan(config)


def build_discriminators(width: int):
    torch = nn_.import_torch(NAME)
    nn = torch.nn
    F = torch.nn.functional
    c = [max(4, int(round(k * width / 512))) for k in (32, 128, 512, 1024)]

    def _layers(d, x):
        """A discriminator's convolutions (leaky ReLU after each), then its last one: the score and every
        layer's features (for the feature-matching loss)."""
        feats = []
        for conv in d.convs:
            x = F.leaky_relu(conv(x), 0.1)
            feats.append(x)
        x = d.post(x)
        feats.append(x)
        return x.flatten(1), feats

    class PeriodD(nn.Module):
        def __init__(self, period: int):
            super().__init__()
            self.period = period
            chans = [1] + c
            self.convs = nn.ModuleList(
                [nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0)) for a, b in zip(chans[:-1], chans[1:])]
                + [nn.Conv2d(chans[-1], chans[-1], (5, 1), 1, padding=(2, 0))]
            )
            self.post = nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0))

        def forward(self, x):
            b, n = x.shape
            if n % self.period:
                x = F.pad(x, (0, self.period - n % self.period), mode="reflect")
            return _layers(self, x.view(b, 1, -1, self.period))

    class ScaleD(nn.Module):
        def __init__(self):
            super().__init__()
            chans = [1, c[0] // 2 or 2, c[1], c[2], c[3], c[3]]
            kernels = [15, 41, 41, 41, 5]
            strides = [1, 4, 4, 4, 1]
            groups = [1, 4, 16, 16, 1]
            self.convs = nn.ModuleList(
                nn.Conv1d(a, b, k, s, padding=k // 2, groups=g if a % g == 0 and b % g == 0 else 1)
                for a, b, k, s, g in zip(chans[:-1], chans[1:], kernels, strides, groups)
            )
            self.post = nn.Conv1d(chans[-1], 1, 3, 1, padding=1)

        def forward(self, x):
            return _layers(self, x[:, None])

    class Discriminators(nn.Module):
        def __init__(self):
            super().__init__()
            self.periods = nn.ModuleList(PeriodD(p) for p in (2, 3, 5, 7, 11))
            self.scales = nn.ModuleList(ScaleD() for _ in range(3))

        def forward(self, x):
            outs = [d(x) for d in self.periods]
            y = x
            for i, d in enumerate(self.scales):
                if i:
                    y = F.avg_pool1d(y[:, None], 4, 2, padding=2)[:, 0]
                outs.append(d(y))
            return outs

    return Discriminators()


class VocoderTrainer:
    """One HiFi-GAN training step at a time: ``step(log_mels (b, mels, frames), audio (b, frames * hop))``."""

    def __init__(self, generator, cfg: ModelConfig, mel, device: str, lr: float = 2e-4):
        torch = nn_.import_torch(NAME)
        self.torch = torch
        self.cfg, self.mel, self.device = cfg, mel, device
        self.generator = generator.to(device).train()
        self.discriminators = build_discriminators(cfg.vocoder_width).to(device).train()
        self.opt_g = torch.optim.AdamW(self.generator.parameters(), lr=lr, betas=(0.8, 0.99), weight_decay=1e-2)
        self.opt_d = torch.optim.AdamW(self.discriminators.parameters(), lr=lr, betas=(0.8, 0.99), weight_decay=1e-2)
        self.steps = 0

    def step(self, log_mel, audio) -> dict[str, float]:
        torch = self.torch
        F = torch.nn.functional
        fake = self.generator(log_mel.transpose(1, 2))[:, : audio.shape[1]]
        # discriminators: real -> 1, fake -> 0 (least squares)
        d_loss = 0.0
        for (real_out, _), (fake_out, _) in zip(self.discriminators(audio), self.discriminators(fake.detach())):
            d_loss = d_loss + ((real_out - 1) ** 2).mean() + (fake_out**2).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        # generator: fool them, match their features, match the mels
        real_outs = self.discriminators(audio)
        fake_outs = self.discriminators(fake)
        adv = sum(((o - 1) ** 2).mean() for o, _ in fake_outs)
        fm = sum(F.l1_loss(f, r.detach()) for (_, rf), (_, ff) in zip(real_outs, fake_outs) for r, f in zip(rf, ff))
        mel_loss = F.l1_loss(self.mel.log_mel(fake), self.mel.log_mel(audio))
        g_loss = adv + 2 * fm + 45 * mel_loss
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.generator.parameters(), 100.0)
        self.opt_g.step()
        self.steps += 1
        return {"vocoder_mel": float(mel_loss.detach()), "vocoder_g": float(g_loss.detach()),
                "vocoder_d": float(d_loss.detach())}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.state_dict(), "discriminators": self.discriminators.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminators.load_state_dict(state["discriminators"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.steps = int(state["steps"])
