"""Mastering at length: peak memory and time of ``master_file`` on synthetic stereo mixes of several lengths
(48 kHz float32 ``.npy`` written block by block, never whole in memory), and the true-peak meter's speed
against a plain scipy ``resample_poly`` 4x in the same run.

The programme is the loudness bench's: noise bursts with pauses and a slow swell, with a spike every 997
samples, so the limiter works all through and the true-peak meter finds full-band content near the ceiling
everywhere (a stress case: speech and music leave most of it out of the meter's reach).

Each ``master_file`` runs in a fresh process, which reports its own peak resident memory (``VmHWM``) and
the memory it held after importing everything (the baseline), so the growth with length is visible directly.

Run: .venv/bin/python bench/master_memory.py [--minutes 10 60] [--tp-minutes 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SR = 48000
BLOCK = 1 << 20


def programme_block(start: int, n: int, seed: int = 0) -> np.ndarray:
    """Samples [start, start + n) of the programme, ``(2, n)`` float32; any block boundaries give the same
    piece."""
    rng = np.random.default_rng([seed, start])
    t = (start + np.arange(n)) / SR
    env = (np.sin(2 * np.pi * 3.1 * t) > -0.2).astype(np.float32) * (1 + 0.5 * np.sin(2 * np.pi * t / 40))
    x = rng.standard_normal((2, n)).astype(np.float32) * np.float32(0.1) * env.astype(np.float32)
    x[:, (start + np.arange(n)) % 997 == 0] *= 8
    return x


def write_programme(path: Path, minutes: float) -> Path:
    from storyaudio.mix.blockio import AudioWriter

    n = int(minutes * 60 * SR)
    with AudioWriter(path, 2, n, SR) as w:
        for a in range(0, n, BLOCK):
            w.write(programme_block(a, min(BLOCK, n - a)))
    return path


def rss_mb() -> float:
    from peak_memory import high_water_mb  # bench/, beside this file

    return high_water_mb()


def child(src: str, dst: str, mode: str) -> None:
    """In a fresh process: import, note the memory, master, report."""
    import pyloudnorm  # noqa: F401  (everything the meters import, so the baseline holds it)
    import scipy.fft  # noqa: F401
    import scipy.signal  # noqa: F401
    import soundfile  # noqa: F401

    from storyaudio.mix.master import PRESETS, master, master_file

    base = rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "file":
        report = master_file(src, dst, SR, PRESETS["podcast"])
    else:  # the in-memory master, for comparison: the whole piece as an array, and its output
        audio = np.load(src).T
        _, report = master(audio, SR, PRESETS["podcast"])
    print(json.dumps({"baseline_mb": base, "peak_mb": rss_mb(), "wall_s": time.perf_counter() - wall,
                      "cpu_s": time.process_time() - cpu, "lufs": report.integrated_lufs,
                      "dbtp": report.true_peak_dbtp, "passed": report.passed}))


def run_child(src: Path, dst: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(src), str(dst), mode],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def true_peak_speed(minutes: float) -> None:
    from scipy.signal import resample_poly

    from storyaudio.mix.loudness import oversampled_peaks, true_peak

    x = programme_block(0, int(minutes * 60 * SR))
    rows = []
    for name, fn in [("storyaudio true_peak (8x, 385 taps)", lambda: true_peak(x)),
                     ("scipy resample_poly 4x, per channel", lambda: max(float(np.abs(resample_poly(c, 4, 1)).max()) for c in x)),
                     ("storyaudio, every point computed (no screening)", lambda: float(oversampled_peaks(x, 0.0).max()))]:
        cpu = time.process_time()
        value = fn()
        rows.append((name, time.process_time() - cpu, 20 * np.log10(value)))
    base = rows[1][1]
    print(f"\n# true peak of {minutes:g} min stereo (CPU seconds, same run)")
    print("meter | CPU s | x resample_poly 4x | dBTP")
    print("--- | --- | --- | ---")
    for name, t, v in rows:
        print(f"{name} | {t:.2f} | {t / base:.2f} | {v:+.3f}")
    # a mastered programme: the meter skips what cannot reach the running peak
    from storyaudio.mix.master import PRESETS, master

    y, _ = master(x, SR, PRESETS["podcast"])
    cpu = time.process_time()
    true_peak(y)
    ours = time.process_time() - cpu
    cpu = time.process_time()
    max(float(np.abs(resample_poly(c, 4, 1)).max()) for c in y)
    print(f"same, mastered to -16 LUFS / -1 dBTP | {ours:.2f} | {ours / (time.process_time() - cpu):.2f} | -")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    ap.add_argument("--tp-minutes", type=float, default=5.0)
    ap.add_argument("--in-memory", type=float, default=10.0,
                    help="also run the in-memory master() on this many minutes, for comparison (0: skip)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0

    print("# master_file(podcast) on a synthetic stereo mix at 48 kHz (a fresh process each)")
    print("minutes | mix on disk | baseline MB | peak MB | growth MB | wall s | CPU s | CPU s / min | LUFS | dBTP | pass")
    print("--- | --- | --- | --- | --- | --- | --- | --- | --- | --- | ---")
    with tempfile.TemporaryDirectory(prefix="master-memory-") as tmp:
        cases = [(m, "file") for m in args.minutes]
        if args.in_memory:
            cases.append((args.in_memory, "memory"))
        for minutes, mode in cases:
            src = Path(tmp) / f"mix-{minutes:g}.npy"
            if not src.exists():
                write_programme(src, minutes)
            r = run_child(src, Path(tmp) / "mix.wav", mode)
            label = f"{minutes:g}" + ("" if mode == "file" else " (in-memory master())")
            print(f"{label} | {src.stat().st_size / 1e9:.2f} GB | {r['baseline_mb']:.0f} | {r['peak_mb']:.0f} | "
                  f"{r['peak_mb'] - r['baseline_mb']:.0f} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
                  f"{r['cpu_s'] / minutes:.2f} | {r['lufs']:.2f} | {r['dbtp']:.2f} | {r['passed']}")
            if mode == "file":
                src.unlink()
    if args.tp_minutes:
        true_peak_speed(args.tp_minutes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
