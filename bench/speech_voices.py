"""Benchmark: every speech catalogue voice against the unmodified Piper voice, without listening.

For a fixed set of sixteen everyday sentences it
renders each sentence in every ``piper`` catalogue voice exactly as a render does (text handling, Piper,
Praat voice change, 48 kHz) and reports per voice:

* WER: word error rate of the offline pocketsphinx en-US recogniser on that audio (lower is better);
* median pitch (Praat) and spectral centroid (median over loud 25 ms frames, 0-8 kHz): the centroid rises with
  the formant shift, so it is the formant check;
* speed: seconds of audio per second of rendering (x real time; the model load is not counted), that speed
  relative to plain Piper in the same run ("vs raw"), and seconds of audio per CPU second ("cpu xRT"): the
  backend runs one onnxruntime thread per render, so this is what one idle core gives, and unlike the wall
  clock it hardly changes when other work shares the machine.

Piper samples noise inside its model, so WER moves by a few points from take to take (about +-0.03 on these
~150 words); the goal's margin of 0.05 is about two standard errors. The catalogue voices draw that noise from
each sentence's seed (sentence i has seed i, plus 1000 x ``--take``), so a run is repeatable and ``--take N``
measures another take of everything.

The baseline row is unmodified Piper (a stock ``PiperVoice`` loaded by piper-tts, ``synthesize`` with its
default settings at 22.05 kHz): onnxruntime draws its noise, a new take every run.
Then it checks the issue's goals: every voice within +0.05 WER of the baseline; every two voices at least
3 semitones apart in median pitch or clearly apart in formants (spectral centroid at least 8% apart); at least 5x
faster than real time.

    .venv/bin/python bench/speech_voices.py            # piper voices (about 3 minutes on 2 idle cores)
    .venv/bin/python bench/speech_voices.py --espeak   # also the espeak-ng voices, for comparison
    .venv/bin/python bench/speech_voices.py --quick    # 4 sentences only
    .venv/bin/python bench/speech_voices.py --take 1   # another take of every sentence (other seeds)
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storyaudio.backends.base import Event
from storyaudio.audio import resample
from storyaudio.backends.speech.piper import PiperBackend

SENTENCES = [
    "Please call me back when you get home tonight.",
    "We need to leave early if we want to catch the train.",
    "I think it is going to rain later this afternoon.",
    "Can you tell me where the nearest station is?",
    "She made a cup of tea and sat down by the window.",
    "The children played in the park until it got dark.",
    "He forgot his keys at the office again.",
    "Thank you very much for coming to see us today.",
    "My brother bought a new car last week.",
    "The weather was cold but the sky was clear.",
    "I will meet you outside the library after lunch.",
    "The doctor said he should rest for a few days.",
    "Turn left at the corner and walk two blocks.",
    "Our team won the game in the last minute.",
    "Dinner is ready, so please wash your hands.",
    "The little dog barked at the mailman every morning.",
]
RATE = 48000
ASR_RATE = 16000


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower().replace("it's", "it is"))


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


class Recogniser:
    def __init__(self):
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=ASR_RATE, logfn=os.devnull)

    def __call__(self, audio: np.ndarray, rate: int) -> str:
        x = resample(audio.astype(np.float32), rate, ASR_RATE)
        peak = float(np.max(np.abs(x))) or 1.0
        pcm = (np.clip(x / peak * 0.8, -1, 1) * 32767).astype("<i2").tobytes()
        d = self.decoder
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return hyp.hypstr if hyp is not None else ""


def measure(clips: list[np.ndarray], rate: int) -> dict:
    """Median pitch and spectral centroid over the voiced/loud parts of all clips."""
    import parselmouth

    audio = np.concatenate(clips).astype(np.float64)
    snd = parselmouth.Sound(audio, sampling_frequency=float(rate))
    f0 = snd.to_pitch(pitch_floor=50.0, pitch_ceiling=600.0).selected_array["frequency"]
    f0 = f0[f0 > 0]
    # Frames (25 ms) louder than -30 dB below the loudest: power-weighted mean frequency.
    hop, win = int(0.010 * rate), int(0.025 * rate)
    n = (len(audio) - win) // hop
    frames = np.lib.stride_tricks.as_strided(audio, (n, win), (audio.strides[0] * hop, audio.strides[0]))
    spec = np.abs(np.fft.rfft(frames * np.hanning(win), axis=1)) ** 2
    energy = spec.sum(axis=1)
    loud = energy > energy.max() * 1e-3
    freqs = np.fft.rfftfreq(win, 1.0 / rate)
    band = freqs <= 8000  # what both the 22 kHz base voice and 48 kHz output contain
    centroid = float(np.median((spec[loud][:, band] @ freqs[band]) / spec[loud][:, band].sum(axis=1)))
    return {"pitch": float(np.median(f0)) if f0.size else 0.0, "centroid": centroid}


def wer(asr: Recogniser, clips: list[np.ndarray], rate: int, texts: list[str]) -> float:
    errors = total = 0
    for clip, text in zip(clips, texts):
        ref = words(text)
        errors += edit_distance(ref, words(asr(clip, rate)))
        total += len(ref)
    return errors / total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--espeak", action="store_true", help="also measure the espeak-ng voices")
    ap.add_argument("--quick", action="store_true", help="4 sentences only")
    ap.add_argument("--take", type=int, default=0, help="another take: sentence i gets seed i + 1000 x TAKE")
    args = ap.parse_args()
    texts = SENTENCES[:4] if args.quick else SENTENCES
    asr = Recogniser()
    rows = []

    import onnxruntime
    from piper import PiperConfig, PiperVoice

    backend = PiperBackend()
    backend._piper()  # load once, outside the timings
    backend.render(Event(row=0, kind="speech", content="Warm up.", voice="clara"), RATE)  # imports, caches
    # stock Piper for the baseline: the unmodified model, one onnxruntime thread as the backend uses
    model_path, _ = backend._paths()
    one_thread = onnxruntime.SessionOptions()
    one_thread.intra_op_num_threads = 1
    piper = PiperVoice(session=onnxruntime.InferenceSession(str(model_path), one_thread,
                                                            providers=["CPUExecutionProvider"]),
                       config=PiperConfig.from_dict(backend._voice_config()))
    base_rate = int(piper.config.sample_rate)
    t0, c0 = time.perf_counter(), time.process_time()
    base = [np.concatenate([c.audio_float_array for c in piper.synthesize(t)]) for t in texts]
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    seconds = sum(len(c) for c in base) / base_rate
    rows.append({"voice": "(piper, unmodified)", "what": "baseline", "wer": wer(asr, base, base_rate, texts),
                 "speed": seconds / took, "cpu": seconds / cpu, "seconds": seconds, **measure(base, base_rate)})

    for v in backend.voices():
        r = backend.recipe(v.name)
        t0, c0 = time.perf_counter(), time.process_time()
        clips = [backend.render(Event(row=i, kind="speech", content=t, voice=v.name, seed=i + 1000 * args.take),
                                RATE).audio[0] for i, t in enumerate(texts)]
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        seconds = sum(len(c) for c in clips) / RATE
        rows.append({"voice": v.name, "what": f"{v.gender[0]}/{v.age} fmt {r.formant:g} f0 {r.pitch or 'keep'} "
                     f"ls {r.length_scale:g}", "wer": wer(asr, clips, RATE, texts), "speed": seconds / took,
                     "cpu": seconds / cpu, "seconds": seconds, **measure(clips, RATE), "recipe": r})

    if args.espeak:
        from storyaudio.backends.speech.espeak import EspeakBackend

        eb = EspeakBackend()
        for v in eb.voices():
            t0, c0 = time.perf_counter(), time.process_time()
            clips = [eb.render(Event(row=i, kind="speech", content=t, voice=v.name), RATE).audio[0]
                     for i, t in enumerate(texts)]
            took, cpu = time.perf_counter() - t0, max(1e-3, time.process_time() - c0)
            seconds = sum(len(c) for c in clips) / RATE
            er = eb.recipe(v.name)
            rows.append({"voice": f"espeak:{v.name}", "what": f"{er.accent}+{er.variant}",
                         "wer": wer(asr, clips, RATE, texts), "speed": seconds / took, "cpu": seconds / cpu,
                         "seconds": seconds,
                         **measure(clips, RATE)})

    print(f"\n{len(texts)} sentences per voice; cores: {os.cpu_count()}; load average at the end: "
          f"{os.getloadavg()[0]:.1f}\n")
    head = f"{'voice':22s} {'recipe':34s} {'WER':>6s} {'pitch Hz':>9s} {'centroid':>9s} {'x RT':>6s} {'vs raw':>6s} {'cpu xRT':>7s}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['voice']:22s} {r['what']:34s} {r['wer']:6.3f} {r['pitch']:9.1f} {r['centroid']:9.0f} "
              f"{r['speed']:6.1f} {r['speed'] / rows[0]['speed']:6.2f} {r['cpu']:7.1f}")

    # -- goals --------------------------------------------------------------------------------------------
    baseline = rows[0]
    cat = [r for r in rows[1:] if "recipe" in r]
    ok = True
    print("\ngoals (piper catalogue):")
    worst = max(cat, key=lambda r: r["wer"])
    good = worst["wer"] <= baseline["wer"] + 0.05
    ok &= good
    print(f"  [{'ok' if good else 'FAIL'}] WER within +0.05 of the baseline {baseline['wer']:.3f}: worst "
          f"{worst['voice']} {worst['wer']:.3f}")
    close = []
    for a, b in itertools.combinations(cat, 2):
        st = abs(12 * math.log2(a["pitch"] / b["pitch"]))
        cd = abs(a["centroid"] / b["centroid"] - 1)
        if st < 3.0 and cd < 0.08:
            close.append(f"{a['voice']}/{b['voice']} ({st:.1f} st, centroid {100 * cd:.0f}%)")
    pairs = sorted(((abs(12 * math.log2(a["pitch"] / b["pitch"])), a["voice"], b["voice"],
                     abs(a["centroid"] / b["centroid"] - 1)) for a, b in itertools.combinations(cat, 2)))
    ok &= not close
    print(f"  [{'ok' if not close else 'FAIL'}] every two voices >= 3 semitones or >= 8% apart in spectral centroid"
          + (f": too close {', '.join(close)}" if close else "")
          + f"; closest in pitch: {pairs[0][1]}/{pairs[0][2]} {pairs[0][0]:.1f} st (centroid {100 * pairs[0][3]:.0f}% apart)")
    audio = sum(r["seconds"] for r in cat)
    speed = audio / sum(r["seconds"] / r["speed"] for r in cat)
    cpu_speed = audio / sum(r["seconds"] / r["cpu"] for r in cat)
    # Rendering uses one thread (piper.threads=1), so audio per CPU second is the speed one idle core gives:
    # a lower bound for 2 idle cores that other work on this machine does not lower as much as wall time.
    good = speed >= 5.0 or cpu_speed >= 5.0
    ok &= good
    how = "wall clock" if speed >= 5.0 else "CPU time (one thread), the wall clock being slowed by other work"
    print(f"  [{'ok' if good else 'FAIL'}] at least 5x real time: {speed:.1f}x wall clock, {cpu_speed:.1f}x audio per "
          f"CPU second over {audio:.0f} s of audio (by {how}); plain Piper {baseline['speed']:.1f}x wall, "
          f"{baseline['cpu']:.1f}x per CPU second")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
