"""Peak memory of a cold render by length: the generated drama of ``bench/render_speed.py`` at each of
``--minutes``, rendered through the CLI in a fresh process from an empty clip cache into a new folder, its
resident memory read from outside every 5 ms, with the highest reading in each stage. The goal (issue 16) is
<= 1.5 GB at any length: the peak should not grow with the piece.

Run: .venv/bin/python bench/render_memory.py [--minutes 5 10 30]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from render_speed import audio_seconds, drama, run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, nargs="+", default=[5.0, 10.0, 30.0])
    opts = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="render-memory-"))
    try:
        for minutes in opts.minutes:
            script = drama(minutes)
            path = work / f"drama-{minutes:g}.json"
            path.write_text(json.dumps(script))
            out = work / f"out-{minutes:g}"
            got = run(["render", str(path), "-o", str(out), "-q", "--timings"], work / f"cache-{minutes:g}")
            print(f"drama({minutes:g}): {audio_seconds(out) / 60:.1f} min, {len(script['rows'])} rows: cold "
                  f"{got['wall']:.1f} s, peak {got['rss_mb']:.0f} MB [goal <= 1500: "
                  f"{'met' if got['rss_mb'] <= 1500 else 'NOT met'}]; by stage (MB) {got['stage_rss_mb']}", flush=True)
            shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
