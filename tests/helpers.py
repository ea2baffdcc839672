"""Helpers for tests: signal generators and measures, script rows, the example scripts' folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: The repository's example scripts.
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

TONE = {"speech": "tone", "music": "tone", "sound_effect": "tone"}


def sine(sample_rate: int = 48000, hz: float = 440.0, seconds: float = 1.0, channels: int = 1,
         amplitude: float = 0.5) -> np.ndarray:
    """A (channels, samples) float32 sine."""
    t = np.arange(int(round(sample_rate * seconds))) / sample_rate
    return np.tile((amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32), (channels, 1))


def rms(x) -> float:
    """Root mean square over every sample (0.0 for an empty array)."""
    x = np.asarray(x)
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def row(audio_type="speech", layout="foreground", id=None, character=None, volume=None, action=None,
        content="text", duration="auto"):
    if audio_type == "speech" and character is None:
        character = "Host"
    return {"audio_type": audio_type, "layout": layout, "id": id, "character": character, "volume": volume,
            "action": action, "content": content, "duration": duration}


def end_row(track_id: int, audio_type: str = "music"):
    return {"audio_type": audio_type, "layout": "background", "id": track_id, "character": None, "volume": None,
            "action": "end", "content": None, "duration": None}
