"""Render speed: the edit -> listen loop, long pieces, peak memory and command start-up, as the ratios of
issue 16, each measured in one run on this machine.

* **Start-up**: wall seconds of ``storyaudio --help`` and ``storyaudio validate examples/news.tsv`` (fresh
  processes; the goal: well under 0.5 s), and which heavy libraries each imported.
* **Short piece** (``examples/news.tsv``, the embedded backends): a cold render (empty clip cache, new output
  folder) and a warm one after editing one row, both through the CLI in fresh processes (what a writer at the
  command line feels) and both in one long-lived process (what the studio feels: its imports are paid once).
  Goals: cold <= 0.2x real time, warm <= 0.15x the cold render.
* **Long piece** (a generated drama of ``--minutes``, default 30): a cold render through the CLI, then warm
  re-renders after a one-line edit: a timed row (its slot keeps its length) and a speech line in the middle
  (everything after it moves). Goals: cold <= 0.2x real time, warm <= 0.05x the cold render, peak memory
  <= 1.5 GB (the highest resident memory of each render's process, read from outside every 5 ms).

Every warm render is checked byte for byte against a render of the same script from scratch.

Run: .venv/bin/python bench/render_speed.py [--minutes 30] [--repeat 3] [--skip-long] [--skip-short]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
HEAVY = ("numpy", "scipy", "scipy.signal", "matplotlib", "pydantic", "rich", "soundfile", "jsonschema", "torch")

WORDS = ("the light over the harbour keeps turning while the storm gathers near the rocks and we wait for news "
         "from the boat that left at dawn with my brother and two old friends who know these waters better than "
         "anyone alive but tonight even they could lose their way in the dark").split()
SCENES = [("Heavy rain and wind on a wooden harbour.", "Slow suspenseful strings."),
          ("Quiet kitchen with a ticking clock and a kettle.", "Warm gentle piano."),
          ("Busy street market, voices and carts.", "Light playful woodwinds.")]
#: Piper's embedded voices speak about this many words a second (measured on the drama below).
SPOKEN_WORDS_PER_SECOND = 3.7


def drama(minutes: float, seed: int = 0) -> dict:
    """A drama of about ``minutes``: scenes of about three minutes (a chapter each), each with an ambience
    bed and a music bed under four speakers' lines, a door every twelve lines, and a sting between scenes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chars = ["Narrator", "Old Tom", "Lily", "Mara"]
    rows: list[dict] = []
    seconds, scene = 0.0, 0

    def add(audio_type, layout="foreground", id=None, character=None, volume=None, action=None, content=None,
            duration="auto", chapter=None):
        r = dict(audio_type=audio_type, layout=layout, id=id, character=character, volume=volume, action=action,
                 content=content, duration=duration)
        if chapter:
            r["chapter"] = chapter
        rows.append(r)

    while seconds < minutes * 60:
        ambience, music = SCENES[scene % len(SCENES)]
        add("sound_effect", "background", 1, None, -30, "begin", ambience, chapter=f"Scene {scene + 1}")
        add("music", "background", 2, None, -34, "begin", music)
        scene_seconds, n = 0.0, 0
        while scene_seconds < 180 and seconds + scene_seconds < minutes * 60:
            k = int(rng.integers(8, 22))
            add("speech", character=chars[n % 4], content=" ".join(rng.choice(WORDS, k)).capitalize() + ".")
            scene_seconds += k / SPOKEN_WORDS_PER_SECOND + 0.35
            n += 1
            if n % 12 == 0:
                add("sound_effect", volume=-20, content="A door creaks open and shuts.", duration=2)
                scene_seconds += 2
        add("music", "background", 2, action="end", duration=None)
        add("sound_effect", "background", 1, action="end", duration=None)
        add("music", volume=-18, content="Short orchestral sting between scenes.", duration=4)
        seconds += scene_seconds + 4
        scene += 1
    return {"title": f"A {minutes:g}-minute drama", "rows": rows}


# -- measuring ---------------------------------------------------------------------------------------------

def run(args: list[str], cache: Path, timeout: float = 7200) -> dict:
    """One storyaudio command in a fresh process: wall seconds and its peak resident memory (MB)."""
    env = {**ENV, "STORYAUDIO_CACHE_DIR": str(cache)}
    code = ("import json, os, sys, threading, time\n"
            "t = time.perf_counter()\n"
            "from storyaudio import pipeline\n"
            "from storyaudio.cli import main\n"
            "peaks, now = {}, {'stage': 'start'}\n"
            "def rss():\n"
            "    with open('/proc/self/statm') as f:\n"
            "        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20\n"
            "def sample():\n"
            "    while True:\n"
            "        peaks[now['stage']] = max(peaks.get(now['stage'], 0), rss())\n"
            "        time.sleep(0.02)\n"
            "threading.Thread(target=sample, daemon=True).start()\n"
            "begin = pipeline._Stages.begin\n"
            "def spy(self, stage, total=1):\n"
            "    peaks[now['stage']] = max(peaks.get(now['stage'], 0), rss()); now['stage'] = stage\n"
            "    return begin(self, stage, total)\n"
            "pipeline._Stages.begin = spy\n"
            f"rc = main({args!r})\n"
            "print('STAGES', json.dumps({k: round(v) for k, v in peaks.items()}))\n"
            "hwm = int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024\n"
            "print('BENCH', rc, time.perf_counter() - t, hwm, flush=True)\n")
    started = time.perf_counter()
    out, polled = _polled([PY, "-c", code], env, timeout)
    wall = time.perf_counter() - started
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH")), None)
    if out.returncode != 0 or line is None or line.split()[1] != "0":
        raise SystemExit(f"storyaudio {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    _, _, inner, rss = line.split()
    timings = next((ln for ln in out.stdout.splitlines() if ln.startswith("timings:")), "")
    stages = json.loads(next((ln for ln in out.stdout.splitlines() if ln.startswith("STAGES")), "STAGES {}")[7:])
    return {"wall": wall, "inner": float(inner), "rss_mb": polled, "maxrss_mb": float(rss), "timings": timings,
            "stage_rss_mb": stages}


def _polled(cmd: list[str], env: dict, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``cmd``, reading its resident memory (VmRSS) from outside every 5 ms (a reader in another process
    is not held up by the measured one's GIL); returns the finished process and the highest reading (MB).
    The process reports its own high-water mark beside it (``VmHWM``: not ``ru_maxrss``, which a process
    started by fork and exec inherits from its parent's high-water mark)."""
    import threading

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result: dict[str, str] = {}
    reader = threading.Thread(target=lambda: result.update(zip(("out", "err"), proc.communicate(timeout=timeout))))
    reader.start()
    best = 0
    while reader.is_alive():
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                best = max(best, int(f.read().split("VmRSS:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.005)
    reader.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, result.get("out", ""), result.get("err", "")), best / 1024


def startup(repeat: int) -> dict:
    """Wall seconds of --help and validate (fresh processes), and the heavy modules each loaded."""
    out = {}
    for name, args in (("--help", ["--help"]), ("validate", ["validate", str(ROOT / "examples" / "news.tsv")])):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            subprocess.run([PY, "-m", "storyaudio", *args], env=ENV, capture_output=True, check=True)
            times.append(time.perf_counter() - t)
        code = ("import sys\nfrom storyaudio.cli import main\n"
                f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
                f"print('MODULES', [m for m in {HEAVY!r} if m in sys.modules])")
        mods = subprocess.run([PY, "-c", code], env=ENV, capture_output=True, text=True).stdout
        loaded = next((ln for ln in mods.splitlines() if ln.startswith("MODULES")), "MODULES []")[8:]
        out[name] = {"seconds": times, "loaded": loaded}
    return out


def files(out: Path) -> dict[str, str]:
    """A digest of every file a render wrote (``timeline.json`` without its timings), read a megabyte at a
    time: the drama's stems are gigabytes."""
    import hashlib

    got = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_file() and not rel.startswith((".storyaudio-reuse", ".storyaudio-manifest")):
            h = hashlib.sha256()
            if p.name == "timeline.json":
                d = json.loads(p.read_bytes())
                d.pop("timings")
                h.update(json.dumps(d).encode())
            else:
                with open(p, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            got[rel] = h.hexdigest()
    return got


def same(a: Path, b: Path) -> bool:
    return files(a) == files(b)


def audio_seconds(out: Path) -> float:
    return json.loads((out / "timeline.json").read_text())["duration"]


def edit_line(script: dict, which: str) -> dict:
    """One edited row: ``speech`` (a line in the middle, a few words more: its length changes) or ``timed``
    (a timed effect in the middle, described otherwise: its slot keeps its length)."""
    edited = copy.deepcopy(script)
    rows = edited["rows"]
    kind = "speech" if which == "speech" else "sound_effect"
    candidates = [i for i, r in enumerate(rows) if r["audio_type"] == kind and r["layout"] == "foreground"]
    i = candidates[len(candidates) // 2]
    rows[i]["content"] = (rows[i]["content"].rstrip(".") + ", and then they said nothing more."
                          if which == "speech" else "A heavy iron gate clangs shut.")
    return edited


#: One-row edits of news.tsv (row index in its rows, old text, new text).
NEWS_EDITS = {
    "speech line": (13, "That's all for tonight.", "That is all from us tonight."),  # under no bed: one clip
    "speech under a bed": (2, "Tonight:", "Tonight, at last:"),  # its bed is rendered again at its new span
    "timed effect": (5, "Transition swoosh.", "A soft whoosh of air."),  # its slot keeps its length
}
#: Ten rewordings of the speech-line edit's line (NEWS_EDITS' row 13), each a new clip: how the speech-line
#: figure spreads over edits (an edit that moves the piece's loudness across a step of the mastering gain's
#: 0.05 dB grid makes the second pass whole; others keep both passes' records).
LINE_VARIANTS = ["That is all from us tonight.", "That's all for this evening.", "And that is all for tonight.",
                 "That's everything for tonight.", "That's all for tonight, friends.", "That is the news for tonight.",
                 "That's all we have tonight.", "Thanks for listening tonight.", "Good night, and that's all.",
                 "That's our report for tonight."]


def short_piece(work: Path, repeat: int) -> dict:
    """news.tsv: a cold render, then each edit of NEWS_EDITS (from the base script each time), through the
    CLI in fresh processes and in one long-lived process (a fresh one per repeat: its first render is cold)."""
    from storyaudio.script import Script, read_script, write_script

    base = read_script(ROOT / "examples" / "news.tsv")
    write_script(base, work / "news.json")
    for name, (i, old, new) in NEWS_EDITS.items():
        d = base.to_dict()
        assert old in d["rows"][i]["content"], (name, d["rows"][i]["content"])
        d["rows"][i]["content"] = d["rows"][i]["content"].replace(old, new)
        write_script(Script.from_dict(d), work / f"news-{name.replace(' ', '-')}.json")
    i, old, _ = NEWS_EDITS["speech line"]
    for k, text in enumerate(LINE_VARIANTS):
        d = base.to_dict()
        d["rows"][i]["content"] = d["rows"][i]["content"].replace(old, text)
        write_script(Script.from_dict(d), work / f"news-line-{k}.json")
    cli = []
    for r in range(repeat):
        cache, out = work / f"cache-n{r}", work / f"news-{r}"
        entry = {"cold": run(["render", str(work / "news.json"), "-o", str(out), "-q", "--timings"], cache),
                 "audio": audio_seconds(out), "edits": {}}
        for name in NEWS_EDITS:
            edited = work / f"news-{name.replace(' ', '-')}.json"
            run(["render", str(work / "news.json"), "-o", str(out), "-q"], cache)  # back to the base
            warm = run(["render", str(edited), "-o", str(out), "-q", "--timings"], cache)
            fresh = work / f"news-fresh-{r}"
            run(["render", str(edited), "-o", str(fresh), "-q"], cache)  # from scratch (its clips cached)
            warm["identical"] = same(out, fresh)
            shutil.rmtree(fresh)
            entry["edits"][name] = warm
        cli.append(entry)
        shutil.rmtree(cache)
    code = ("import json, sys, time\nfrom pathlib import Path\n"
            "t = time.perf_counter()\nfrom storyaudio.pipeline import render, RenderConfig\n"
            "w, r = Path(sys.argv[1]), sys.argv[2]\nconfig = RenderConfig(cache_dir=w / f'lc{r}')\n"
            "render(str(w / 'news.json'), w / f'lib-{r}', config)\nout = {'cold': time.perf_counter() - t}\n"
            f"for name in {list(NEWS_EDITS)!r}:\n"
            "    render(str(w / 'news.json'), w / f'lib-{r}', config)\n"
            "    t = time.perf_counter()\n"
            "    res = render(str(w / ('news-' + name.replace(' ', '-') + '.json')), w / f'lib-{r}', config)\n"
            "    out[name] = {'seconds': time.perf_counter() - t, 'reused': res.reused, 'timings': res.timings}\n"
            "out['lines'] = []\n"
            f"for k in range({len(LINE_VARIANTS)}):\n"
            "    render(str(w / 'news.json'), w / f'lib-{r}', config)\n"
            "    t = time.perf_counter()\n"
            "    res = render(str(w / f'news-line-{k}.json'), w / f'lib-{r}', config)\n"
            "    out['lines'].append({'seconds': time.perf_counter() - t, 'master_steps': res.reused['master_steps'],"
            " 'gain_db': res.loudness.gain_db})\n"
            "print('LIB', json.dumps(out))\n")
    lib = []
    for r in range(repeat):
        done = subprocess.run([PY, "-c", code, str(work), str(r)], env=ENV, capture_output=True, text=True, check=True)
        lib.append(json.loads(next(ln for ln in done.stdout.splitlines() if ln.startswith("LIB"))[4:]))
    return {"cli": cli, "lib": lib}


def long_piece(work: Path, minutes: float) -> dict:
    """The generated drama: cold, then a timed row and a speech line edited (each warm render checked
    against a render from scratch of the same script, from a warm clip cache so it costs no speech)."""
    script = drama(minutes)
    paths = {"base": script, "timed": edit_line(script, "timed"), "speech": edit_line(script, "speech")}
    for name, s in paths.items():
        (work / f"drama-{name}.json").write_text(json.dumps(s))
    cache, out = work / "cache-d", work / "drama"
    result = {"rows": len(script["rows"])}
    result["cold"] = run(["render", str(work / "drama-base.json"), "-o", str(out), "-q", "--timings"], cache)
    result["audio"] = audio_seconds(out)
    for name in ("timed", "speech"):
        # back to the base script (warm), then the edit: each edit is one row away from what the folder holds
        run(["render", str(work / "drama-base.json"), "-o", str(out), "-q"], cache)
        warm = run(["render", str(work / f"drama-{name}.json"), "-o", str(out), "-q", "--timings"], cache)
        fresh = work / f"drama-fresh-{name}"
        run(["render", str(work / f"drama-{name}.json"), "-o", str(fresh), "-q"], cache)  # clips cached
        warm["identical"] = same(out, fresh)
        shutil.rmtree(fresh)
        result[name] = warm
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-long", action="store_true")
    ap.add_argument("--skip-short", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    opts = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="render-speed-"))
    report: dict = {"cpus": os.cpu_count(), "load": os.getloadavg()}
    try:
        report["startup"] = startup(max(3, opts.repeat))
        if not opts.skip_short:
            report["short"] = short_piece(work, opts.repeat)
        if not opts.skip_long:
            report["long"] = long_piece(work, opts.minutes)
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    (ROOT / "bench" / "render_speed.last.json").write_text(json.dumps(report, indent=1))
    print_report(report)


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"


def print_report(report: dict) -> None:
    print(f"machine: {report['cpus']} CPUs, load average at start {report['load'][0]:.2f}")
    for name, s in report["startup"].items():
        met = statistics.median(s["seconds"]) < 0.5
        print(f"storyaudio {name}: {_spread(s['seconds'])} s; loaded {s['loaded']}  [goal < 0.5 s: "
              f"{'met' if met else 'NOT met'}]")
    if "short" in report:
        cli, lib = report["short"]["cli"], report["short"]["lib"]
        audio = cli[0]["audio"]
        cold_rt = [r["cold"]["wall"] / audio for r in cli]
        print(f"news.tsv ({audio:.1f} s): CLI cold render {_spread([r['cold']['wall'] for r in cli])} s = "
              f"{_spread(cold_rt)} x real time  [goal <= 0.2: {'met' if statistics.median(cold_rt) <= 0.2 else 'NOT met'}]")
        print(f"  cold stage timings: {cli[0]['cold']['timings']}")
        lib_rt = [r["cold"] / audio for r in lib]
        print(f"  one process (studio, render --watch): first render {_spread(lib_rt)} x real time")
        for name in NEWS_EDITS:
            ratio = [r["edits"][name]["wall"] / r["cold"]["wall"] for r in cli]
            same_bytes = all(r["edits"][name]["identical"] for r in cli)
            in_proc = [lr[name]["seconds"] / lr["cold"] for lr in lib]
            print(f"  edit '{name}': CLI warm {_spread([r['edits'][name]['wall'] for r in cli])} s = {_spread(ratio)} x "
                  f"the cold render [goal <= 0.15: {'met' if statistics.median(ratio) <= 0.15 else 'NOT met'}]; "
                  f"one process: {_spread(in_proc)} x its first render [goal <= 0.15: "
                  f"{'met' if statistics.median(in_proc) <= 0.15 else 'NOT met'}]; byte-identical: {same_bytes}")
            print(f"      CLI {cli[0]['edits'][name]['timings']}; kept: {lib[0][name]['reused']}")
        if all("lines" in lr for lr in lib):
            ratios = [x["seconds"] / lr["cold"] for lr in lib for x in lr["lines"]]
            whole = sum(1 for lr in lib for x in lr["lines"] if x["master_steps"][0][-1] == x["master_steps"][1])
            print(f"  the speech line reworded {len(LINE_VARIANTS)} ways, one process, {len(lib)} runs: "
                  f"{_spread(ratios)} x its first render; {sum(r <= 0.15 for r in ratios)} of {len(ratios)} "
                  f"at <= 0.15; {whole} of {len(ratios)} mastered their final pass whole (a new gain step)")
    if "long" in report:
        lp = report["long"]
        audio, cold = lp["audio"], lp["cold"]
        rt = cold["wall"] / audio
        print(f"drama ({audio / 60:.1f} min, {lp['rows']} rows): CLI cold render {cold['wall']:.1f} s = {rt:.3f} x real "
              f"time  [goal <= 0.2: {'met' if rt <= 0.2 else 'NOT met'}]; peak memory {cold['rss_mb']:.0f} MB "
              f"[goal <= 1500: {'met' if cold['rss_mb'] <= 1500 else 'NOT met'}] (its own high-water mark {cold['maxrss_mb']:.0f} MB)")
        print(f"  cold stage timings: {cold['timings']}; peak memory (MB) by stage: {cold['stage_rss_mb']}")
        for name in ("timed", "speech"):
            w = lp[name]
            ratio = w["wall"] / cold["wall"]
            print(f"  warm after editing a {name} row: {w['wall']:.2f} s = {ratio:.4f} x the cold render  [goal <= "
                  f"0.05: {'met' if ratio <= 0.05 else 'NOT met'}]; peak memory {w['rss_mb']:.0f} MB (high-water "
                  f"mark {w['maxrss_mb']:.0f} MB); byte-identical: "
                  f"{w['identical']}; {w['timings']}; by stage {w['stage_rss_mb']}")


if __name__ == "__main__":
    main()
