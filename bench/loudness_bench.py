"""Loudness and mastering benchmark: 10 minutes of speech-like stereo at 48 kHz (noise bursts with pauses,
so the meters meet digital silence as a real programme does).

* integrated loudness and loudness range: storyaudio's meters against ``pyloudnorm.Meter`` (the baseline,
  same run), with the difference in LU (storyaudio takes pyloudnorm's K-weighting and gating rules, and only
  vectorises the per-block sums);
* ``master()`` with the podcast preset (-16 LUFS, -1 dBTP): its total time, with how often the limiter ran.

Run: .venv/bin/python bench/loudness_bench.py [--minutes 10] [--repeat 3]
Prints the best of --repeat for each contender and the speed-up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
SR = 48000


def programme(minutes: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * SR)
    t = np.arange(n) / SR
    env = (np.sin(2 * np.pi * 3.1 * t) > -0.2).astype(np.float32) * (1 + 0.5 * np.sin(2 * np.pi * t / 40))
    x = rng.standard_normal((2, n)).astype(np.float32) * 0.1 * env
    x[:, ::997] *= 8  # sparse peaks, so the true-peak limiter has work
    return x


def best(fn, repeat: int):
    times, value = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return min(times), value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    import pyloudnorm

    from storyaudio.mix.loudness import integrated_loudness, loudness_range
    from storyaudio.mix.master import PRESETS, master

    x = programme(args.minutes)
    ref = x.T.astype(np.float64)
    print(f"# {args.minutes:g} min stereo at {SR} Hz, best of {args.repeat}")
    rows = []
    for what, ours, theirs in [
        ("integrated loudness", lambda: integrated_loudness(x, SR), lambda: pyloudnorm.Meter(SR).integrated_loudness(ref)),
        ("loudness range", lambda: loudness_range(x, SR), lambda: pyloudnorm.Meter(SR).loudness_range(ref)),
    ]:
        t_ours, v_ours = best(ours, args.repeat)
        t_ref, v_ref = best(theirs, args.repeat)
        rows.append((what, t_ours, t_ref, abs(v_ours - v_ref)))
    print("measure | storyaudio s | pyloudnorm s | speed-up | difference LU")
    print("--- | --- | --- | --- | ---")
    for what, a, b, d in rows:
        print(f"{what} | {a:.2f} | {b:.2f} | {b / a:.1f}x | {d:.1e}")
    t_master, (_, report) = best(lambda: master(x, SR, PRESETS["podcast"]), 1)
    print(f"\nmaster(podcast): {t_master:.1f} s for {args.minutes:g} min -> {report.integrated_lufs:.2f} LUFS, "
          f"{report.true_peak_dbtp:.2f} dBTP, pass={report.passed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
