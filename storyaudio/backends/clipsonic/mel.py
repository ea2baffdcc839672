"""Log-mel spectrograms in torch (batched, any device) and the Griffin-Lim vocoder that turns them back into
audio. The mel filters come from ``transformers.audio_utils.mel_filter_bank`` (slaney scale and area
normalisation, as SpeechT5's feature extractor builds them), so the defaults match SpeechT5's HiFi-GAN.

Imported only when a model is trained or used (it imports torch).
"""

from __future__ import annotations

import math

import torch

from .config import MelConfig


class MelSpec:
    """``log10`` mel magnitudes of (batch, samples) audio, and the [-1, 1] scaling the diffusion model sees."""

    def __init__(self, cfg: MelConfig, device: str | torch.device = "cpu"):
        from transformers.audio_utils import mel_filter_bank

        self.cfg = cfg
        self.device = torch.device(device)
        fb = mel_filter_bank(
            num_frequency_bins=cfg.n_fft // 2 + 1, num_mel_filters=cfg.n_mels, min_frequency=cfg.f_min,
            max_frequency=min(cfg.f_max, cfg.sample_rate / 2), sampling_rate=cfg.sample_rate, norm="slaney",
            mel_scale="slaney",
        )
        self.filters = torch.tensor(fb, dtype=torch.float32, device=self.device)  # (freqs, mels)
        self.window = torch.hann_window(cfg.n_fft, device=self.device)
        self._pinv: torch.Tensor | None = None

    # -- analysis -----------------------------------------------------------------------------------------
    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        return torch.stft(audio, self.cfg.n_fft, self.cfg.hop_length, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True)

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) or (samples,) float audio -> (batch, n_mels, frames) log10 mel magnitudes."""
        squeeze = audio.dim() == 1
        audio = audio.reshape(1, -1) if squeeze else audio
        magnitude = self.stft(audio.float().to(self.device)).abs()
        mel = torch.einsum("bft,fm->bmt", magnitude, self.filters)
        out = torch.log10(mel.clamp_min(self.cfg.log_floor))
        return out[0] if squeeze else out

    def normalise(self, log_mel: torch.Tensor) -> torch.Tensor:
        lo, hi = self.cfg.norm_low, self.cfg.norm_high
        return (log_mel - lo) * (2.0 / (hi - lo)) - 1.0

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self.cfg.norm_low, self.cfg.norm_high
        return ((x + 1.0) * ((hi - lo) / 2.0) + lo).clamp_min(lo)

    def frames(self, samples: int) -> int:
        """Mel frames of ``samples`` samples (centred STFT)."""
        return samples // self.cfg.hop_length + 1

    # -- synthesis ----------------------------------------------------------------------------------------
    def linear_magnitude(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) log10 mels -> (batch, freqs, frames) magnitudes (least squares, non-negative)."""
        if self._pinv is None:
            self._pinv = torch.linalg.pinv(self.filters.T)  # (freqs, mels)
        mel = torch.pow(10.0, log_mel.float())
        mel = torch.where(log_mel <= math.log10(self.cfg.log_floor) + 1e-6, torch.zeros_like(mel), mel)
        return torch.einsum("fm,bmt->bft", self._pinv, mel).clamp_min(0.0)

    def griffin_lim(self, log_mel: torch.Tensor, iterations: int = 32, momentum: float = 0.99,
                    generators: list[torch.Generator] | None = None) -> torch.Tensor:
        """(batch, n_mels, frames) log10 mels -> (batch, (frames - 1) * hop) audio by fast Griffin-Lim
        (Perraudin et al. 2013): phases re-estimated from the STFT of their own inverse, with momentum. The
        starting phases come from ``generators`` (one per row, for reproducible rows) or are zero."""
        magnitude = self.linear_magnitude(log_mel.to(self.device))
        batch, _, frames = magnitude.shape
        length = (frames - 1) * self.cfg.hop_length
        if generators is not None:
            phase = torch.stack([torch.rand(magnitude.shape[1:], generator=g) for g in generators]).to(self.device)
            angles = torch.polar(torch.ones_like(magnitude), 2 * torch.pi * phase)
        else:
            angles = torch.ones_like(magnitude, dtype=torch.complex64)
        previous = torch.zeros_like(angles)
        for _ in range(max(0, iterations)):
            audio = self._istft(magnitude * angles, length)
            rebuilt = self.stft(audio)
            angles = rebuilt - previous * (momentum / (1.0 + momentum))
            angles = angles / angles.abs().clamp_min(1e-16)
            previous = rebuilt
        return self._istft(magnitude * angles, length)

    def _istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spec, self.cfg.n_fft, self.cfg.hop_length, window=self.window, center=True, length=length)
