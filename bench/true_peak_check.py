"""Independent true-peak readings of a WAV, to check what storyaudio's meter and loudness.json say.

* scipy ``resample_poly`` at 4x and 16x (its default Kaiser filter), the check issue 11 used;
* the ideal band-limited interpolation (zero-padded spectrum, 16x): a brick-wall filter at exactly fs/2, which
  gives content between 20 kHz and Nyquist full weight (no converter reconstructs it so; read it as an upper
  bound for such content);
* storyaudio's own meter (8x, BS.1770-4 Annex 2), and the sample peak.

Run: .venv/bin/python bench/true_peak_check.py OUTDIR/mix.wav [more.wav ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def db(x: float) -> float:
    return 20 * np.log10(x) if x > 0 else -np.inf


def check(path: str) -> None:
    import soundfile as sf
    from scipy.signal import resample_poly

    from storyaudio.mix.loudness import true_peak

    x, sr = sf.read(path, dtype="float64", always_2d=True)
    print(f"{path}: {x.shape[0] / sr:.1f} s, {x.shape[1]} channel(s) at {sr} Hz")
    print(f"  sample peak                      {db(np.abs(x).max()):+.3f} dBFS")
    for up in (4, 16):
        peak = max(np.abs(resample_poly(x[:, c], up, 1)).max() for c in range(x.shape[1]))
        print(f"  scipy resample_poly {up:2d}x           {db(peak):+.3f} dBTP")
    best = 0.0
    for c in range(x.shape[1]):
        pad = np.zeros(sr)  # a second of silence each side: no wrap-around between the ends
        padded = np.concatenate([pad, x[:, c], pad])
        best = max(best, np.abs(np.fft.irfft(np.fft.rfft(padded), 16 * padded.size) * 16).max())
    print(f"  band-limited (brick wall) 16x    {db(best):+.3f} dBTP")
    print(f"  storyaudio true_peak (8x)        {db(true_peak(path)):+.3f} dBTP")


if __name__ == "__main__":
    for p in sys.argv[1:] or sys.exit(__doc__):
        check(p)
