"""Several scripts at once: ``storyaudio render A.tsv B.tsv -o OUT`` (or a folder of scripts).

Each script renders into its own folder ``OUT/<script name>/`` exactly as a single render would, and all of
them share one executor: with ``--executor ray`` they run side by side on the cluster's actors (the models load
once for the whole set); with the local executor they run one after another (the machine's cores are busy with
one). Each script reports its progress on a line of its own, and its outcome: a failed script does not stop
the others.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import StoryAudioError, UserError

#: Script extensions a folder is searched for (the formats ``read_script`` reads).
SCRIPT_SUFFIXES = (".json", ".tsv", ".csv", ".md", ".fountain")
#: Scripts rendered side by side on a cluster at most (their mixing and mastering run here).
MAX_PARALLEL = 4


def expand(paths: Sequence[Path]) -> list[Path]:
    """The script files ``paths`` name: files as given, folders as the script files directly inside them
    (sorted by name). A folder without scripts is a user error."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SCRIPT_SUFFIXES
                           and not f.name.startswith("."))
            if not found:
                raise UserError(f"{p} is a folder without scripts ({', '.join(SCRIPT_SUFFIXES)}). Name script "
                                "files, or a folder that holds some.")
            out += found
        else:
            out.append(p)
    return out


def output_folders(scripts: Sequence[Path], root: Path) -> list[Path]:
    """``root/<script name>`` for each script; two scripts of one name are refused (one would overwrite the
    other)."""
    seen: dict[str, Path] = {}
    for s in scripts:
        if s.stem in seen:
            raise UserError(f"{seen[s.stem]} and {s} would both render into {root / s.stem}. Rename one, or render "
                            "them separately with -o.")
        seen[s.stem] = s
    return [root / s.stem for s in scripts]


@dataclass
class Outcome:
    """How one script's render ended: its result, or the error that stopped it."""

    script: Path
    outdir: Path
    result: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    warnings: list = field(default_factory=list)


class Lines:
    """A progress line per script on stderr: a live bar each on a terminal, otherwise one plain line as each
    stage of each script begins."""

    def __init__(self, names: Sequence[str], enabled: bool):
        self.enabled = enabled
        self.live = None
        self.tasks: dict[str, Any] = {}
        self.lock = threading.Lock()
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.live = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True))
            self.live.start()
            width = max(len(n) for n in names)
            self.tasks = {n: self.live.add_task(f"{n:<{width}}  waiting", total=None) for n in names}
            self.width = width

    def hook(self, name: str) -> Callable[[str, int, int], None]:
        last: dict[str, str] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if not self.enabled:
                return
            if self.live is not None:
                self.live.update(self.tasks[name], description=f"{name:<{self.width}}  {stage}",
                                 completed=done, total=total)
            elif last.get("stage") != stage:
                last["stage"] = stage
                with self.lock:
                    print(f"{name}: {stage}", file=sys.stderr, flush=True)

        return on_progress

    def finish(self, name: str, text: str) -> None:
        if not self.enabled:
            return
        if self.live is not None:
            self.live.update(self.tasks[name], description=f"{name:<{self.width}}  {text}")
        else:
            with self.lock:
                print(f"{name}: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def render_all(scripts: Sequence[Path], outdirs: Sequence[Path], config, *, progress: bool = True) -> list[Outcome]:
    """Render every script into its folder with one executor (see the module docstring). Returns each
    script's outcome, in the order given; Ctrl-C stops them all."""
    from . import pipeline
    from .pipeline import make_executor

    executor = make_executor(config.executor, config.jobs, config.ray_address)
    lines = Lines([s.stem for s in scripts], progress)
    single = config.model_copy(update={"progress": False})

    def one(i: int) -> Outcome:
        out = Outcome(scripts[i], outdirs[i])
        started = time.perf_counter()
        try:
            out.result = pipeline.render(scripts[i], outdirs[i], single, on_progress=lines.hook(scripts[i].stem),
                                         executor=executor)
            lo = out.result.loudness
            lines.finish(scripts[i].stem, f"done in {time.perf_counter() - started:.1f} s: "
                                          f"{out.result.timeline.duration:.1f} s of audio, "
                                          f"{lo.integrated_lufs:.1f} LUFS -> {outdirs[i]}")
        except StoryAudioError as exc:
            out.error = exc
            lines.finish(scripts[i].stem, "failed")
        out.seconds = time.perf_counter() - started
        return out

    try:
        if config.executor == "ray" and len(scripts) > 1:
            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(scripts))) as pool:
                return list(pool.map(one, range(len(scripts))))
        return [one(i) for i in range(len(scripts))]
    finally:
        lines.close()
        executor.close()
