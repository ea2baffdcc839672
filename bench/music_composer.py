"""Benchmark of the ``composer`` music backend.

For each description: the plan (style, key, planned tempo), the tempo actually played (the composer nudges it
by at most 4 % to land whole bars on the final chord), the tempo measured from the audio with
``librosa.beat.beat_track`` and how fast a bed renders (× real time, wall clock and CPU time of this
process). A stinger (3 s, foreground) is timed too.

    .venv/bin/python bench/music_composer.py [--seconds 60] [--rate 48000] [--seed 1]

librosa is a bench-only dependency (pip install librosa).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from storyaudio.backends.base import Event
from storyaudio.backends.composer import ComposerBackend

DESCRIPTIONS = [
    "Dramatic orchestral news theme.",
    "relaxing and smooth jazz played in a stylish cafe",
    "delightful country music with acoustic guitars",
    "cinematic and suspenseful orchestral music",
    "upbeat electronic dance track",
    "slow sad piano for a farewell scene",
    "lofi hip hop beats to study to",
    "epic battle music with taiko drums and choir",
    "bossa nova by the beach bar",
    "a playful cartoon chase with pizzicato strings",
    "gentle lullaby with a music box, in 3/4",
    "spooky haunted house ambience",
    "funky seventies groove with slap bass",
    "a military march at 112 bpm in B flat major",
    "peaceful ambient meditation pads",
    "fast rock anthem",
    "qwerty asdf (nonsense)",
]


def measure_tempo(audio: np.ndarray, rate: int) -> float:
    import librosa

    y = librosa.resample(audio.mean(axis=0).astype(np.float32), orig_sr=rate, target_sr=22050)
    tempo, _ = librosa.beat.beat_track(y=y, sr=22050)
    return float(np.atleast_1d(tempo)[0])


def relation(measured: float, played: float) -> str:
    for name, m in (("=", 1.0), ("x2", 2.0), ("/2", 0.5), ("x3/2", 1.5), ("x2/3", 2 / 3)):
        if abs(measured / (played * m) - 1) < 0.05:
            return name
    return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each bed")
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    backend = ComposerBackend()
    t = time.perf_counter()
    backend.render(Event(row=0, kind="music", content="warm up", duration=1.0, seed=0), args.rate)
    print(f"SoundFont load + first render: {time.perf_counter() - t:.2f} s; cores: {os.cpu_count()}; "
          f"load average: {os.getloadavg()[0]:.1f}")
    head = (f"{'description':46} {'style':24} {'key':10} {'plan':>5} {'play':>5} {'meas':>6} {'rel':>4} "
            f"{'×RT wall':>8} {'×RT cpu':>8} {'sting ms':>8}")
    print(head)
    print("-" * len(head))
    walls, cpus, matches = [], [], 0
    for d in DESCRIPTIONS:
        ev = Event(row=1, kind="music", content=d, duration=args.seconds, layout="background", seed=args.seed)
        w0, c0 = time.perf_counter(), time.process_time()
        clip = backend.render(ev, args.rate)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        assert clip.audio.shape == (2, round(args.seconds * clip.sample_rate))  # the core resamples others
        sting = Event(row=1, kind="music", content=d, duration=3.0, layout="foreground", seed=args.seed)
        s0 = time.perf_counter()
        backend.render(sting, args.rate)
        sting_ms = (time.perf_counter() - s0) * 1000
        plan = clip.info["plan"]
        played = clip.info["composition"]["played_tempo"]
        meas = measure_tempo(clip.audio, clip.sample_rate)
        rel = relation(meas, played)
        matches += rel in ("=", "x2", "/2")
        walls.append(args.seconds / wall)
        cpus.append(args.seconds / cpu)
        print(f"{d[:46]:46} {plan['style'][:24]:24} {plan['key']:10} {plan['tempo']:5.0f} {played:5.0f} "
              f"{meas:6.1f} {rel:>4} {args.seconds / wall:8.1f} {args.seconds / cpu:8.1f} {sting_ms:8.0f}")
    print("-" * len(head))
    print(f"{len(DESCRIPTIONS)} descriptions, {args.seconds:.0f} s beds at {args.rate} Hz: "
          f"× real time wall median {statistics.median(walls):.1f} (min {min(walls):.1f}), "
          f"cpu median {statistics.median(cpus):.1f} (min {min(cpus):.1f}); "
          f"measured tempo = played (or x2, /2) in {matches}/{len(DESCRIPTIONS)}")


if __name__ == "__main__":
    main()
