"""The mastering presets, on their own: checking a preset's name (``storyaudio validate``) imports no mastering."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class Preset:
    name: str
    target_lufs: float | None  # None: leave the level alone
    true_peak_dbtp: float | None
    description: str
    tolerance_lu: float = 0.5


PRESETS: dict[str, Preset] = {
    "podcast": Preset("podcast", -16.0, -1.0, "podcasts and streaming: -16 LUFS, true peak <= -1 dBTP"),
    "ebu-r128": Preset("ebu-r128", -23.0, -1.0, "broadcast (EBU R128): -23 LUFS, true peak <= -1 dBTP"),
    "none": Preset("none", None, None, "no mastering: the mix as summed (still never above 0 dBFS)"),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UserError(f"unknown master preset '{name}'. Choose one of: {', '.join(PRESETS)}.")
    return PRESETS[name]
