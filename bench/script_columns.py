"""Script extensions: what the composed schema and the extension columns cost, and how fast Speed and Pitch run.

1. Validation of a 10,000-row script (the most a script holds) without extension columns and with four set on
   every row (Pan, Fade In, Speed, Pitch), as a ratio of the plain script's time; and reading it from TSV.
2. The WSOLA time-stretch and the pitch shift on 10 s of a speech-like signal at 48 kHz, in times real time.
3. With ``--speech``: their quality on real speech, without listening. Sixteen everyday sentences in a Piper
   voice, as spoken and through Speed (0.8, 1.25, 1.5) and Pitch (-3, +3 semitones): the word error rate of
   the offline pocketsphinx recogniser (as ``bench/speech_voices.py`` measures voices), the median pitch
   (Praat) and the length, each against the unchanged speech.

    .venv/bin/python bench/script_columns.py [--speech]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from storyaudio.columns.dsp import pitch_shift, time_stretch
from storyaudio.script import Script, check, parse_script_text, script_to_text

ROWS = 10_000
SR = 48_000


def best(f, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def row(n: int, extra: bool) -> dict:
    r = {"audio_type": "speech", "layout": "foreground", "id": None, "character": f"Voice {n % 5}",
         "volume": None, "action": None, "content": f"Line {n}.", "duration": "auto"}
    if extra:
        r.update(pan=round((n % 21) / 10 - 1, 1), fade_in=0.1, speed=1.1, pitch=-2)
    return r


def main() -> None:
    plain = {"title": "plain", "rows": [row(n, False) for n in range(ROWS)]}
    columns = {"title": "columns", "rows": [row(n, True) for n in range(ROWS)]}
    check(plain)  # build the validator once (cached per set of extensions)
    t_plain = best(lambda: check(plain))
    t_columns = best(lambda: check(columns))
    print(f"validate {ROWS:,} rows: plain {t_plain:.2f} s, four extension columns on every row {t_columns:.2f} s "
          f"({t_columns / t_plain:.2f}x)")
    for name, data in (("plain", plain), ("columns", columns)):
        text = script_to_text(Script.from_dict(data), "tsv")
        t = best(lambda: Script.from_dict(parse_script_text(text, "tsv", "bench.tsv")), repeat=2)
        print(f"read {name} TSV ({len(text) / 1e6:.1f} MB) and validate: {t:.2f} s")

    seconds = 10.0
    t = np.arange(int(seconds * SR)) / SR
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8)) * (1 - np.cos(2 * np.pi * 4 * t))
    audio = (0.2 * voice).astype(np.float32)[np.newaxis, :]
    pitch_shift(audio[:, :SR], SR, 1)  # import scipy.signal once, outside the timings
    for rate in (0.5, 0.8, 1.25, 2.0):
        took = best(lambda: time_stretch(audio, SR, rate), repeat=2)
        print(f"time_stretch x{rate}: {seconds / took:.0f}x real time")
    for st in (-12, -3, 3, 12):
        took = best(lambda: pitch_shift(audio, SR, st), repeat=2)
        print(f"pitch_shift {st:+d} st: {seconds / took:.0f}x real time")
    if "--speech" in sys.argv:
        speech()


def speech() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from speech_voices import SENTENCES, Recogniser, measure, wer

    from storyaudio.backends import create_backend
    from storyaudio.backends.base import Event

    backend = create_backend("piper", "speech")
    voice = backend.voices()[0].name
    clips = [backend.render(Event(row=i, kind="speech", content=t, voice=voice), SR).audio for i, t in
             enumerate(SENTENCES)]
    asr = Recogniser()
    base = None
    print(f"\n{len(SENTENCES)} sentences, piper voice '{voice}':")
    print(f"{'':14s} {'WER':>6s} {'pitch Hz':>9s} {'pitch st':>8s} {'length':>7s}")
    for name, change in [("as spoken", lambda a: a)] + \
            [(f"Speed {r:g}", lambda a, r=r: time_stretch(a, SR, r)) for r in (0.8, 1.25, 1.5)] + \
            [(f"Pitch {st:+d}", lambda a, st=st: pitch_shift(a, SR, st)) for st in (-3, 3)]:
        out = [change(c)[0] for c in clips]
        m = measure(out, SR)
        length = sum(len(c) for c in out)
        base = base or (m["pitch"], length)
        print(f"{name:14s} {wer(asr, out, SR, SENTENCES):6.3f} {m['pitch']:9.1f} "
              f"{12 * np.log2(m['pitch'] / base[0]):+8.2f} {length / base[1]:7.3f}")


if __name__ == "__main__":
    main()
