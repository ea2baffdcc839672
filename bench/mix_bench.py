"""Mixer benchmark: 10 tracks x 10 minutes, stereo, 48 kHz, with gains, fades and ducking.

Three contenders, each in its own process so peak memory (max RSS) is its own:

* ``storyaudio``: the block mixer reading the clips from disk (what a render does);
* ``numpy-sum``: the tracks already in memory, summed (the memory-bandwidth floor);
* ``pydub``: the overlay chain a user would otherwise write (int16 AudioSegments, gain, fades, overlay;
  no ducking, which pydub cannot do without slicing).

Run: .venv/bin/python bench/mix_bench.py [--minutes 10] [--tracks 10]
Prints seconds, ratios against the yardsticks, and peak memory. Clips go to .bench/ (ignored by git).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SR = 48000
HERE = Path(__file__).resolve().parent
DATA = HERE.parent / ".bench" / "mix"


def make_tracks(n_tracks: int, minutes: float) -> list[Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    import soundfile as sf

    n = int(minutes * 60 * SR)
    paths = []
    for i in range(n_tracks):
        p = DATA / f"track{i:02d}_{minutes:g}min.wav"
        if not p.exists() or sf.info(p).frames != n:
            rng = np.random.default_rng(i)
            with sf.SoundFile(p, "w", samplerate=SR, channels=2, subtype="FLOAT") as fh:
                for s in range(0, n, SR * 30):
                    m = min(SR * 30, n - s)
                    fh.write((0.05 * rng.standard_normal((m, 2))).astype(np.float32))
        paths.append(p)
    return paths


def speech_intervals(minutes: float):
    """Speech every 12 s for 8 s: what the ducked tracks duck under."""
    return [(t, t + 8.0) for t in np.arange(0, minutes * 60, 12.0)]


def run_storyaudio(paths, minutes):
    from storyaudio.mix.mixer import Source, Track, ducking_envelope, mix

    n = int(minutes * 60 * SR)
    tracks = [Track(f"t{i}", [Source(0, n, path=p, gain=10 ** (-(i % 5) / 20), fade_in=SR, fade_out=2 * SR)],
                    ducked=i % 2 == 0) for i, p in enumerate(paths)]
    t0 = time.perf_counter()
    duck = ducking_envelope(speech_intervals(minutes), n, SR, -8.0)
    out = mix(tracks, n, duck)
    return time.perf_counter() - t0, float(np.abs(out[:, SR * 5 : SR * 6]).mean())


def run_numpy(paths, minutes):
    import soundfile as sf

    arrays = [sf.read(p, dtype="float32")[0].T for p in paths]  # load first: not timed
    t0 = time.perf_counter()
    out = np.zeros_like(arrays[0])
    for a in arrays:
        out += a
    return time.perf_counter() - t0, float(np.abs(out[:, SR * 5 : SR * 6]).mean())


def run_pydub(paths, minutes):
    import soundfile as sf
    from pydub import AudioSegment

    segs = []
    for p in paths:  # load and convert to int16 segments first: not timed
        data, _ = sf.read(p, dtype="int16")
        segs.append(AudioSegment(data.tobytes(), frame_rate=SR, sample_width=2, channels=2))
    t0 = time.perf_counter()
    out = AudioSegment.silent(duration=int(minutes * 60 * 1000), frame_rate=SR).set_channels(2).set_sample_width(2)
    for i, seg in enumerate(segs):
        # gains, fades, overlay: pydub has no gain envelope, so it does no ducking (storyaudio does, so the
        # comparison favours pydub). Slicing and re-joining every ducked stretch took 169 s here instead.
        seg = seg.apply_gain(-(i % 5)).fade_in(1000).fade_out(2000)
        out = out.overlay(seg)
    return time.perf_counter() - t0, float(len(out))


def worker(name: str, minutes: float, tracks: int) -> None:
    paths = make_tracks(tracks, minutes)
    fn = {"storyaudio": run_storyaudio, "numpy-sum": run_numpy, "pydub": run_pydub}[name]
    seconds, check = fn(paths, minutes)
    from peak_memory import high_water_mb  # bench/, beside this file

    peak_mb = high_water_mb()
    print(json.dumps({"name": name, "seconds": seconds, "peak_mb": peak_mb, "check": check}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--tracks", type=int, default=10)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--skip-pydub", action="store_true")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.minutes, args.tracks)
        return
    make_tracks(args.tracks, args.minutes)
    gb = args.tracks * args.minutes * 60 * SR * 2 * 4 / 1e9
    print(f"{args.tracks} tracks x {args.minutes:g} min, stereo {SR} Hz: {gb:.2f} GB as float32")
    results = {}
    names = ["numpy-sum", "storyaudio"] + ([] if args.skip_pydub else ["pydub"])
    for name in names:
        proc = subprocess.run([sys.executable, __file__, "--worker", name, "--minutes", str(args.minutes),
                               "--tracks", str(args.tracks)], capture_output=True, text=True, check=True)
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    sa = results["storyaudio"]["seconds"]
    print(f"{'contender':<12} {'seconds':>8} {'peak MB':>8}  vs storyaudio")
    for name, r in results.items():
        print(f"{name:<12} {r['seconds']:8.2f} {r['peak_mb']:8.0f}  {r['seconds'] / sa:6.2f}x")
    print(f"storyaudio is {results['pydub']['seconds'] / sa:.1f}x faster than pydub (goal >= 5x)"
          if "pydub" in results else "")
    print(f"storyaudio takes {sa / results['numpy-sum']['seconds']:.2f}x the plain numpy sum (goal <= 2x); "
          f"peak memory {results['storyaudio']['peak_mb']:.0f} MB (goal < 1000 MB)")


if __name__ == "__main__":
    main()
