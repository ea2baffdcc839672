"""Long-form benchmark: does the cost of a render grow linearly with its length, and its memory not at all?

Generates scripts "of the same kind" at several lengths (short lines, 3 to 5 words, so about 1.35 s of audio a
row and 10,000 rows stay under the 4-hour limit; a foreground effect every 10 rows; an ambience begun and
ended every 20 rows; a music bed every 100 rows, about 2 minutes, so no one clip grows with the piece; a
chapter every 500 rows), renders each in its own process (a fresh clip cache: cold renders), and reports for
each: minutes of audio, seconds, seconds per minute of audio, peak RSS, and each stage's seconds and peak RSS
(sampled every 20 ms), then the ratios of the longest render to the shortest. Linear cost: seconds per minute
of audio stays flat. Flat memory: peak RSS stays flat.

Run:  .venv/bin/python bench/longform.py                         # 100 and 1,000 rows, tone backends
      .venv/bin/python bench/longform.py --rows 100 10000        # the issue's pair (needs the streamed master)
      .venv/bin/python bench/longform.py --rows 100 --embedded   # the default (embedded) backends
      add --mp3 --m4b --otio to include those deliveries; --keep to keep the renders in .bench/longform/
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / ".bench" / "longform"
WORDS = ("harbour light storm rope lantern tide keeper boat north wind deck anchor fog bell cold night dawn "
         "signal rock gull salt wave shore map compass engine coffee letter radio key door stair window").split()


def make_script(rows: int, seed: int = 0) -> dict:
    """A script of ``rows`` rows (see the module docstring); deterministic for a seed."""
    rng = random.Random(seed)
    cast = ["Mara", "Pip", "Narrator"]
    out: list[dict] = []
    bed_open = amb_open = False
    chapter = 0

    def add(audio_type, layout="foreground", id=None, character=None, action=None, content=None, duration="auto",
            volume=None):
        out.append({"audio_type": audio_type, "layout": layout, "id": id, "character": character,
                    "volume": volume, "action": action, "content": content, "duration": duration})

    while len(out) < rows:
        n = len(out)
        left = rows - n
        if n % 100 == 0 and left > 10:
            if bed_open:
                add("music", "background", 1, action="end", content=None, duration=None)
                bed_open = False
            add("music", "background", 1, action="begin", content=f"Slow string bed number {n // 100 + 1}.",
                volume=-34)
            if n % 500 == 0:
                chapter += 1
                out[-1]["chapter"] = f"Chapter {chapter}"
            bed_open = True
        elif n % 20 == 5 and left > 8 and not amb_open:
            add("sound_effect", "background", 2, action="begin", content="Wind and waves on a harbour.", volume=-34)
            amb_open = True
        elif n % 20 == 15 and amb_open:
            add("sound_effect", "background", 2, action="end", content=None, duration=None)
            amb_open = False
        elif n % 10 == 9:
            add("sound_effect", content=f"A {rng.choice(WORDS)} knocks once.", duration=1.0)
        else:
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 5)))
            add("speech", character=cast[n % 3], content=words.capitalize() + ".")
    return {"title": f"Long-form bench, {rows} rows", "author": "storyaudio bench", "album": "Benchmarks",
            "cast": [{"name": c, "description": None, "voice": None} for c in cast], "rows": out[:rows]}


# -- one render, in a child process ---------------------------------------------------------------------------

def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(script_path: Path, out: Path, embedded: bool, mp3: bool, m4b: bool, otio: bool) -> dict:
    from peak_memory import high_water_mb  # bench/, beside this file

    from storyaudio.pipeline import RenderConfig, render

    use = {} if embedded else {"speech": "tone", "music": "tone", "sound_effect": "tone"}
    stage = {"name": "start"}
    peaks: dict[str, float] = {}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            name = stage["name"]
            peaks[name] = max(peaks.get(name, 0.0), _rss_mb())
            stop.wait(0.02)

    def on_progress(name, done, total):
        stage["name"] = name

    base = _rss_mb()
    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    with tempfile.TemporaryDirectory(prefix="storyaudio-bench-cache-") as cache:
        t0 = time.perf_counter()
        result = render(script_path, out, RenderConfig(use=use, cache_dir=Path(cache), mp3=mp3, m4b=m4b, otio=otio,
                                                       force=True), on_progress=on_progress)
        seconds = time.perf_counter() - t0
    stop.set()
    watcher.join()
    return {"rows": len(json.loads(script_path.read_text())["rows"]), "audio_s": result.timeline.duration,
            "seconds": seconds, "peak_mb": high_water_mb(),
            "base_mb": base, "stage_s": result.timings, "stage_peak_mb": peaks,
            "chapters": len(result.timeline.chapters), "lufs": result.loudness.integrated_lufs}


# -- the driver -----------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--embedded", action="store_true", help="the default backends instead of tone")
    ap.add_argument("--mp3", action="store_true")
    ap.add_argument("--m4b", action="store_true")
    ap.add_argument("--otio", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the renders in .bench/longform/")
    ap.add_argument("--child", nargs=2, metavar=("SCRIPT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]), args.embedded, args.mp3, args.m4b,
                               args.otio)))
        return

    DATA.mkdir(parents=True, exist_ok=True)
    kind = "embedded" if args.embedded else "tone"
    results = []
    for rows in sorted(args.rows):
        path = DATA / f"bench-{rows}.json"
        path.write_text(json.dumps(make_script(rows)))
        out = DATA / f"out-{kind}-{rows}"
        cmd = [sys.executable, __file__, "--child", str(path), str(out)] + [
            f"--{f}" for f in ("embedded", "mp3", "m4b", "otio") if getattr(args, f)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            print(f"{rows} rows: the render failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}", file=sys.stderr)
            sys.exit(1)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        if not args.keep:
            import shutil

            shutil.rmtree(out, ignore_errors=True)
        minutes = r["audio_s"] / 60
        stages = ", ".join(f"{k} {v:.1f} s / {r['stage_peak_mb'].get(k, 0):.0f} MB" for k, v in r["stage_s"].items())
        print(f"{kind:8s} {r['rows']:6d} rows  {minutes:7.1f} min of audio  {r['seconds']:8.1f} s  "
              f"{r['seconds'] / minutes:6.2f} s per audio minute  peak {r['peak_mb']:7.0f} MB  "
              f"({r['chapters']} chapters, {r['lufs']:.1f} LUFS)")
        print(f"         stages (seconds / peak RSS): {stages}")
    if len(results) > 1:
        a, b = results[0], results[-1]
        cost = (b["seconds"] / b["audio_s"]) / (a["seconds"] / a["audio_s"])
        print(f"ratio {b['rows']} rows / {a['rows']} rows: audio {b['audio_s'] / a['audio_s']:.1f}x, "
              f"seconds per audio minute {cost:.2f}x (linear cost: about 1), peak RSS "
              f"{b['peak_mb'] / a['peak_mb']:.2f}x (flat memory: about 1)")
        for stage in b["stage_s"]:
            pa, pb = a["stage_peak_mb"].get(stage, 0), b["stage_peak_mb"].get(stage, 0)
            ta, tb = a["stage_s"][stage] / a["audio_s"], b["stage_s"][stage] / b["audio_s"]
            print(f"  {stage:8s} seconds per audio minute {tb / ta if ta else float('nan'):5.2f}x, "
                  f"peak RSS {pa:6.0f} -> {pb:6.0f} MB")


if __name__ == "__main__":
    main()
