"""The pipeline: script in, finished files out (:func:`render`), and what it would refuse (:func:`check`).

It reads top to bottom as the data flows: validate -> choose backends -> cast -> plan -> render the
foreground -> place -> render the background -> normalise -> mix -> master -> deliver. Each stage returns new
records (:mod:`storyaudio.timeline`): a Plan, a Timeline, a RenderedClip per row; nothing is changed in
place. Everything is written into a staging folder beside the output folder and moved in only when all of it
succeeded, so a failed render never touches a previous good one.

Clips are rendered by an executor (:mod:`storyaudio.executors`: threads here, or actors on a Ray cluster). A
render into a folder that holds an earlier render keeps what did not change (:mod:`storyaudio.reuse`: clip
files, stems, the mix and the mastering outside the edited region), and writes the same bytes a render from
scratch writes. Backends are kept from render to render in a process (:class:`_Pool`).

The script's extensions (its optional columns: :mod:`storyaudio.columns`) take part through one
:class:`~storyaudio.columns.hooks.Hooks` object the stages call (plan, what a backend is asked, clips made or
transformed, placement, mixer sources, delivered files); nothing here names a column.

The five stages ("plan", "clips", "mix", "master", "deliver") are timed (``RenderResult.timings`` and
timeline.json's ``timings``) and reported to an optional ``on_progress(stage, done, total)`` callback.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .backends import DEFAULTS, KINDS, Backend, build_backend, get_backend_class
from .backends.base import Clip
from .backends.base import Event as BackendEvent
from .cache import ClipCache, clip_key
from .casting import Character, cast_characters, find_voice, voice_listing
from .columns.hooks import Hooks
from .errors import BackendUnavailableError, DiskFullError, OptionError, Problem, RenderError, ScriptError
from .executors import Batch, Executor, LocalExecutor
from .fingerprint import code_fingerprint
from .outdir import prepare as prepare_outdir
from .paths import resolve_script_path, script_folder
from .plan import crop, place, plan, preview_range
from .script import Script, read_script
from .script.model import MIN_SECONDS, WORDS_PER_SECOND
from .timeline import Event, PlacedEvent, Plan, RenderedClip, Timeline

if TYPE_CHECKING:  # render's machinery (mixing, mastering, delivery) is imported when a render runs: check() and
    # `storyaudio validate` never need it
    from . import reuse
    from .deliver.tags import EpisodeTags
    from .mix.master import MasterReport

#: ``on_progress(stage, done, total)``: called as each stage starts (done 0) and ends (done == total), and as
#: each clip is ready during "clips" (total: every row's clip, cached ones included).
Progress = Callable[[str, int, int], None]
STAGES = ("plan", "clips", "mix", "master", "deliver")
#: The highest sample peak a sound effect is normalised to (dBFS): loudness normalisation never pushes one past
#: it. Speech and music are brought to their row's loudness whatever their peaks (the master's limiter holds
#: those: a voice's plosives at -15 LUFS can peak a few dB over full scale, and capping them made speech sit up
#: to 6 dB under its row's volume against the beds).
CLIP_PEAK_DBFS = -1.0


class RenderConfig(BaseModel):
    """Everything a render takes besides the script. The CLI fills it from its flags."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: Literal[44100, 48000] = Field(48000, description="sample rate of every file written")
    preset: str = Field("podcast", description="master preset: podcast, ebu-r128 or none")
    use: dict[str, str] = Field(default_factory=dict, description="audio type -> backend name")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="backend name -> options")
    voices: dict[str, str] = Field(default_factory=dict, description="character -> pinned voice")
    seed: int = Field(0, ge=0, description="base seed; every event derives its own from it")
    reseed: dict[int, int] = Field(default_factory=dict,
                                   description="row -> take number: another seed for that row alone (a new take)")
    speech_gap: float = Field(0.35, ge=0, le=5, description="seconds of pause between consecutive speech rows")
    ducking: bool = Field(True, description="lower background tracks under foreground speech")
    duck_db: float = Field(-8.0, ge=-40, le=0, description="ducking depth in dB")
    mp3: bool = Field(False, description="also write mix.mp3")
    stems: bool = Field(True, description="write stems/ (one WAV per track)")
    picture: bool = Field(True, description="write timeline.png")
    jobs: int = Field(2, ge=1, le=32, description="clips rendered at once (the local executor)")
    executor: Literal["local", "ray"] = Field("local", description="where clips render: local (threads here) or "
                                              "ray (actors on a Ray cluster; the mix and master stay here)")
    ray_address: str | None = Field(None, description="the Ray cluster to join (None: start a local one)")
    cache: bool = Field(True, description="reuse clips rendered before")
    cache_dir: Path | None = Field(None, description="clip cache folder (default: $STORYAUDIO_CACHE_DIR or the user cache)")
    progress: bool = Field(False, description="show a progress bar on stderr")
    force: bool = Field(False, description="render into a folder that holds files storyaudio did not write")
    base_dir: Path | None = Field(None, description="folder the script's relative paths start from (default: the "
                                                     "script file's folder, else the current directory)")
    allow_paths: list[Path] = Field(default_factory=list,
                                    description="more folders the script may name files in (--allow-path)")
    reuse: bool = Field(True, description="keep what did not change since the last render into the same folder "
                                          "(the same bytes as a render from scratch, sooner)")
    extensions: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                                  description="script extension name -> its settings "
                                                              "(e.g. {'lexicon': {'files': ['names.tsv']}})")
    m4b: bool = Field(False, description="also write mix.m4b: AAC with chapters, tags and cover (needs PyAV)")
    otio: bool = Field(False, description="also write timeline.otio, the OpenTimelineIO timeline for editors")
    rows: tuple[int, int] | None = Field(None, description="a preview: render only these rows (first, last; "
                                         "1-based) with the background tracks under them (--rows)")
    chapter: int | None = Field(None, ge=1, description="a preview: render only this chapter, counted from 1 "
                                "(--chapter)")


@dataclass
class RenderResult:
    """What a render made. ``timeline`` says when each row plays; ``clips`` (by row) what rendering made of it
    (clip file, detail, info, gain); ``warnings`` are the problems :func:`check` reports that did not stop the
    render; ``timings`` the seconds each stage took (keys: :data:`STAGES`)."""

    outdir: Path
    files: dict[str, Path]
    timeline: Timeline
    clips: dict[int, RenderedClip]
    loudness: MasterReport
    rendered_rows: list[int] = field(default_factory=list)
    cached_rows: list[int] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: What this render kept from the last one into the same folder: clip files linked, stems linked or
    #: patched, seconds of mix made again, mastering steps recomputed per pass (of how many).
    reused: dict[str, Any] = field(default_factory=dict)


def render(script: Script | dict | str | os.PathLike, outdir: str | os.PathLike,
           config: RenderConfig | None = None, *, on_progress: Progress | None = None,
           executor: Executor | None = None) -> RenderResult:
    """Render ``script`` (a Script, a script dict, or a script file) into ``outdir``. ``on_progress`` (see
    :data:`Progress`) hears each stage start and end and each clip as it is ready; an exception it raises
    stops the render (the previous output stays). ``executor`` renders the clips (several renders may share
    one, e.g. a Ray cluster's actors); by default the one ``config.executor`` names, made and closed here."""
    from . import deliver, reuse
    from .mix.master import master_to_file
    from .mix.passes import envelope
    from .mix.presets import get_preset

    config = config or RenderConfig()
    outdir = Path(outdir)
    sr = config.sample_rate
    stages = _Stages(on_progress, _progress_bar(config.progress))
    stages.begin("plan")

    # 1. Validate the script and the settings (before any work, so bad input costs nothing): with them the
    # episode's tags and cover, the rows of a preview, the libraries the chosen exports need.
    base_dir = script_folder(script, config.base_dir)
    script = _as_script(script)
    preset = get_preset(config.preset)
    _check_executor(config, executor)
    episode, rows = _longform(script, base_dir, config)

    # 2. Choose and build one backend per audio type the script uses; 3. cast a voice for every character;
    # 4. plan: tracks, seeds, known durations (the script's extensions take part from here on).
    backends, planned, warnings, hooks = _prepare(script, config, base_dir)

    stage = prepare_outdir(outdir, config.force)  # refuses a bad folder; clears what killed renders left
    staging = stage.path
    if config.picture:
        _prefetch("matplotlib.figure", "matplotlib.backends.backend_agg")  # the picture's, while clips render
    own_executor: Executor | None = None
    try:
        wanted = [ev for ev in planned.foreground if rows is None or rows[0] <= ev.row <= rows[1]]
        stages.begin("clips", total=len(planned.events) if rows is None else
                     len(wanted) + sum(1 for ev in planned.background if ev.row <= rows[1]))
        if executor is None:
            executor = own_executor = make_executor(config.executor, config.jobs, config.ray_address)
        renderer = _ClipRenderer(backends, ClipCache(config.cache_dir, config.cache), sr, executor, stages.step,
                                 hooks)

        # 5. Render the foreground (a preview's rows only); speech lengths become known.
        clips = renderer.run([hooks.request(_ask(ev, ev.requested)) for ev in wanted], then=_beds(script, backends))
        lengths = {row: clip.seconds for row, clip in clips.items()}
        if rows is not None:  # rows outside a preview: the length a render cached for them, else an estimate
            lengths = {**renderer.known_lengths(planned.foreground), **lengths}

        # 6. Place every event in time; background spans follow from the foreground. A preview keeps the
        # window of its rows, with the tracks that play under them trimmed to it.
        timeline = hooks.place(place(planned, script, lengths))
        if rows is not None:
            timeline = crop(timeline, script, *rows)
        # The picture's lanes (its labels: nearly all of its drawing) need only the timeline: drawn meanwhile.
        lanes = _Background(deliver.TimelinePicture, timeline) if config.picture else None

        # 7. Render the background at the exact length of its span.
        clips.update(renderer.run([hooks.request(_ask(ev, ev.span)) for ev in timeline.background]))

        # 8. Fit each clip to its slot, normalise it to its row's loudness, and write clips/. What the last
        # render into this folder made from the same clip, slot and target is kept (storyaudio.reuse).
        previous = reuse.load(stage.outdir, _reuse_settings(config)) if config.reuse else None
        clip_dir = staging / "clips"
        clip_dir.mkdir()
        made = _ClipFiles(clip_dir, sr, renderer.cache, previous)
        rendered = {ev.row: made.write(ev, clips.pop(ev.row), renderer.keys[ev.row]) for ev in timeline.events}

        # 9. Mix the tracks in blocks from the clip files (with ducking, pan and fades) and write stems/: the
        # whole piece, or only the ranges whose clips, places or ducking changed since the last render.
        stages.begin("mix")
        plan = reuse.MixPlan.of(timeline, rendered, made.identities, staging, config.ducking, config.duck_db,
                                config.stems, hooks.mix)
        mixed, changed, stats = _mix(plan, previous, staging, config)

        # 10. Master to the preset: integrated loudness and a true-peak limiter, streamed into mix.wav and
        # measured as it is written (a re-render recomputes only the steps the changed ranges reach).
        stages.begin("master")
        try:
            report, mastering = master_to_file(
                mixed, staging / "mix.wav", sr, preset, previous=previous.master if changed is not None else None,
                previous_file=previous.file("mix.wav") if changed is not None else None, changed=changed,
                env_step=deliver.ENVELOPE_STEP)
        finally:
            if isinstance(mixed, reuse.MixSource):
                mixed.close()
            else:
                mixed.unlink(missing_ok=True)  # the float mix: a working file only
        final = mastering.find(mastering.final)
        stats["master_steps"] = [len(r.redone) for r in mastering.passes], final.limiter.shape[0] - 1

        # 11. Deliver the files (the picture draws in a thread meanwhile).
        stages.begin("deliver")
        wave = envelope(final, deliver.ENVELOPE_STEP, plan.frames), deliver.ENVELOPE_STEP
        files = _deliver(staging, script, timeline, rendered, wave, report, config, episode, lanes)
        files.update(hooks.deliver(staging, timeline, rendered, [*files, "timeline.json"]))
        reuse.save(staging, _reuse_settings(config), made.records, plan, mastering,
                   ["mix.wav"] + [f"stems/{t}.wav" for t in plan.names if config.stems])
        stages.end()
        files["timeline.json"] = deliver.write_json(staging / "timeline.json",
                                                    deliver.timeline_dict(timeline, rendered, stages.timings))
    except BaseException as exc:
        full = _disk_full(exc, staging, outdir)  # asked before the partial files go
        stage.abort()
        if full is not None:
            raise full from exc
        raise
    finally:
        stages.close()
        if own_executor is not None:
            own_executor.close()

    # 12. Move the finished set into the output folder; what the previous render wrote and this one did not goes.
    final = stage.commit(files)
    stats["clips_kept"] = made.kept
    return RenderResult(outdir, final, timeline, rendered, report, renderer.rendered_rows, renderer.cached_rows,
                        warnings, dict(stages.timings), stats)


def check(script: Script | dict | str | os.PathLike, config: RenderConfig | None = None) -> list[Problem]:
    """Everything ``render`` would refuse, before any audio is made: the script (schema and rules), the
    settings, the backends (known, installed), the casting (pinned voices exist) and the plan. Raises the
    same errors render raises; returns the warnings (problems worth a look that do not stop a render; render
    puts them on ``RenderResult.warnings``). ``storyaudio validate`` calls this, so validate and render
    agree."""
    from .mix.presets import get_preset

    config = config or RenderConfig()
    base_dir = script_folder(script, config.base_dir)
    script = _as_script(script)
    get_preset(config.preset)
    _check_executor(config, None)
    _longform(script, base_dir, config)
    _, _, warnings, _ = _prepare(script, config, base_dir)
    return warnings


# -- steps --------------------------------------------------------------------------------------------------

def _prepare(script: Script, config: RenderConfig,
             base_dir: Path) -> tuple[dict[str, Backend], Plan, list[Problem], Hooks]:
    """What render and check share: the backends per audio type, the script's extensions, the casting and
    the plan, and the warnings about them (text a voice cannot speak). The backends come from the process's
    pool (:class:`_Pool`), which closes them."""
    hooks = Hooks(script, config.extensions, config.sample_rate, base_dir, config.allow_paths)
    made = hooks.made_rows  # rows an extension makes (an audio file) need no backend
    backends = _build_backends(script, config, skip=made)
    extension_warnings = hooks.prepare(backends)
    speech = backends.get("speech")
    casting = _cast(script, speech, config.voices)
    names = {kind: b.name for kind, b in backends.items()}
    for n, name in made.items():  # a type whose every row an extension makes: that extension's name
        names.setdefault(script.rows[n - 1].audio_type, name)
    planned = hooks.plan(plan(script, names, casting, config.sample_rate, seed=config.seed,
                              speech_gap=config.speech_gap, reseed=config.reseed))
    for ev in planned.events:  # files the backends need (a picture to query by): missing ones stop it here
        if ev.row not in made:
            backends[ev.audio_type].input_files(_ask(ev, ev.requested), _resolver(hooks.ctx, ev.row))
    warnings = list(getattr(script, "warnings", [])) + extension_warnings
    for n, row in enumerate(script.rows, start=1):
        if speech is not None and row.audio_type == "speech" and row.content and n not in made:
            for why in speech.text_problems(row.content, casting.get(row.character or "")):
                warnings.append(Problem(n, "content", why, "respell it in words the voice can say."))
    return backends, planned, warnings, hooks


def _longform(script: Script, folder: Path, config: RenderConfig) -> tuple[EpisodeTags, tuple[int, int] | None]:
    """The episode's tags (its cover read and checked), the rows of a preview (None: the whole script), and
    a clear error now when an export asked for is missing its library."""
    from .deliver import m4b, otio
    from .deliver.tags import episode_tags

    if config.m4b:
        m4b.require()
    if config.otio:
        otio.require()
    return episode_tags(script, folder, config.allow_paths), preview_range(script, config.rows, config.chapter)


class _Background:
    """``fn(*args)`` run in a daemon thread from now on; :meth:`result` waits for it and returns its value or
    raises what it raised (a render that fails first leaves it to finish on its own)."""

    def __init__(self, fn: Callable[..., Any], *args: Any):
        import threading

        self._value: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - raised again in result(), in the caller's thread
                self._error = exc

        self._thread = threading.Thread(target=run, name=f"storyaudio-{getattr(fn, '__name__', 'work')}",
                                        daemon=True)
        self._thread.start()

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value


def _prefetch(*modules: str) -> None:
    """Import ``modules`` in a background thread, so their import overlaps work that does not hold the GIL
    (models loading and running, numpy): a command pays once for libraries it will need soon. Whoever imports
    one meanwhile waits for it (Python's per-module import lock); a failure is left for that importer."""
    import importlib
    import threading

    missing = [m for m in modules if m not in sys.modules]
    if not missing:
        return

    def load() -> None:
        for m in missing:
            try:
                importlib.import_module(m)
            except Exception:  # noqa: BLE001 - the real import raises it where it matters
                return

    threading.Thread(target=load, name="storyaudio-prefetch", daemon=True).start()


def make_executor(kind: str, jobs: int = 2, address: str | None = None) -> Executor:
    """The executor ``render --executor KIND`` asks for: ``local`` (threads here) or ``ray`` (a Ray cluster at
    ``address``; a local one when None)."""
    if kind == "local":
        return LocalExecutor(jobs)
    if kind == "ray":
        from .cluster import RayExecutor

        return RayExecutor(address)
    raise OptionError(f"--executor {kind}: unknown executor. Use local (this machine) or ray (a Ray cluster).")


#: Free bytes under which a write error from libsndfile (which says only "System error") is taken for a full
#: disk.
_NEARLY_FULL = 64 << 20


def _disk_full(exc: BaseException, staging: Path, outdir: Path) -> DiskFullError | None:
    """A clear error for a render that filled its disk (``exc`` from writing into ``staging``), else None."""
    import errno
    import shutil

    def nearly_full() -> bool:
        try:
            return shutil.disk_usage(staging).free < _NEARLY_FULL
        except OSError:
            return False

    enospc = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    libsndfile = isinstance(exc, RuntimeError) and type(exc).__name__ == "LibsndfileError"
    if not (enospc or (libsndfile and nearly_full())):
        return None
    return DiskFullError(
        f"the disk holding {outdir} is full: the render's files did not fit (nothing was changed there). Free "
        "some space or render into a folder on another disk with -o; --no-stems leaves out the per-track WAVs "
        "(a long piece's largest files: each is as large as the mix in 32-bit float).")


def _check_executor(config: RenderConfig, executor: Executor | None) -> None:
    """``--executor ray`` without Ray installed is the user's to fix (exit 2), before any work."""
    if executor is None and config.executor == "ray":
        from .cluster import require_ray

        require_ray()


def _as_script(script: Script | dict | str | os.PathLike) -> Script:
    if isinstance(script, Script):  # validated afresh (it may have been edited), keeping the reader's warnings
        fresh = Script.from_dict(script.to_dict())
        fresh.warnings = list(script.warnings) + [w for w in fresh.warnings if w not in script.warnings]
        return fresh
    if isinstance(script, dict):
        return Script.from_dict(script)
    return read_script(script)


def _build_backends(script: Script, config: RenderConfig, skip: Collection[int] = ()) -> dict[str, Backend]:
    """One backend per audio type the script's rows use (rows in ``skip`` need none)."""
    for kind in config.use:
        if kind not in KINDS:
            raise OptionError(f"--use {kind}=...: unknown audio type '{kind}'. Use speech, music or sound_effect.")
    used_kinds = [k for k in KINDS if any(r.audio_type == k and n not in skip
                                          for n, r in enumerate(script.rows, start=1))]
    chosen = {kind: config.use.get(kind, DEFAULTS[kind]) for kind in used_kinds}
    for name in config.options:
        if name not in chosen.values():
            get_backend_class(name)  # unknown names get the unknown-backend message
            raise OptionError(
                f"--set {name}.…: backend '{name}' is not used by this render "
                f"({', '.join(f'{k}={v}' for k, v in chosen.items())}). Add --use KIND={name} or drop the option.")
    backends: dict[str, Backend] = {}
    made: dict[str, Backend] = {}
    for kind, name in chosen.items():
        cls = get_backend_class(name, kind)
        missing = cls.missing()
        if missing:
            raise BackendUnavailableError(
                f"the {kind} backend '{name}' cannot run: missing {', '.join(missing)}. "
                f"{cls.install_hint or 'Install its dependencies.'} Or choose another with --use {kind}=NAME "
                f"('storyaudio backends' lists them).")
        if name not in made:
            made[name] = _POOL.get(cls, config.options.get(name), name)
        backends[kind] = made[name]
    return backends


class _Pool:
    """The backends this process built, kept from render to render (by class, name and options): a model,
    a voice or a sound font loads once, and a re-render (the studio's, a script's next take) starts at once.
    The least recently used of more than ``size`` is closed. Several renders at once may share one: the local
    executor renders one batch at a time per backend that is not thread-safe, process-wide."""

    def __init__(self, size: int = 8):
        import threading
        from collections import OrderedDict

        self.size = size
        self._backends: OrderedDict[tuple, Backend] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cls: type[Backend], options: dict | None, name: str) -> Backend:
        import json

        key = (cls.__module__, cls.__qualname__, name, json.dumps(options or {}, sort_keys=True, default=str))
        with self._lock:
            backend = self._backends.get(key)
            if backend is not None:
                self._backends.move_to_end(key)
                return backend
        backend = build_backend(cls, options, name)  # outside the lock: options are checked here (OptionError)
        with self._lock:
            backend = self._backends.setdefault(key, backend)
            self._backends.move_to_end(key)
            evicted = []
            while len(self._backends) > self.size:
                evicted.append(self._backends.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return backend

    def clear(self) -> None:
        """Close and forget every backend (tests that change a backend's class or environment)."""
        with self._lock:
            backends, self._backends = list(self._backends.values()), type(self._backends)()
        for b in backends:
            b.close()


_POOL = _Pool()


def _cast(script: Script, speech: Backend | None, pins: dict[str, str]) -> dict[str, str]:
    """Casting, after checking every pin: a ``--voice`` for a character who never speaks is an OptionError; a
    voice the backend does not have is an OptionError (``--voice``) or a ScriptError naming the cast entry
    (``# Cast:``), both listing the voices there are."""
    if speech is None:
        return {}
    voices = speech.voices()
    if not voices:
        return {}
    known = script.characters()
    for char in pins:
        if char not in known:
            raise OptionError(f"--voice {char}=...: no character '{char}' speaks in this script. "
                              f"Characters: {', '.join(sorted(known)) or 'none'}.")
    pinned: dict[str, str] = {}
    problems = []
    for i, c in enumerate(script.cast):
        if c.voice and c.name in known and c.name not in pins:
            found = find_voice(voices, c.voice)
            if found is None:
                problems.append(Problem(None, f"cast.{i}.voice", f"character '{c.name}' is pinned to voice "
                                        f"'{c.voice}', which the {speech.name} backend does not have.",
                                        f"choose one of its voices: {voice_listing(voices)} ('storyaudio voices' "
                                        "describes them), or leave the voice empty to cast one."))
            else:
                pinned[c.name] = found
    if problems:
        raise ScriptError(problems)
    for char, voice in pins.items():
        found = find_voice(voices, voice)
        if found is None:
            raise OptionError(f"--voice {char}={voice}: '{char}' is pinned to voice '{voice}', which the "
                              f"{speech.name} backend does not have. Voices: {voice_listing(voices)} "
                              "('storyaudio voices' describes them).")
        pinned[char] = found
    characters = [Character(name, next((c.description for c in script.cast if c.name == name), None))
                  for name in known]
    return cast_characters(characters, voices, pinned)


def _resolver(ctx, row: int) -> Callable[[str, str], Path]:
    """``resolve(name, what)`` for a backend's ``input_files``: inside the script's folder or an allowed one
    (``ctx``: the extensions' render context, which holds both)."""
    return lambda name, what="file": resolve_script_path(name, ctx.base_dir, ctx.allow_paths, what, row)


def _beds(script: Script, backends: dict[str, Backend]) -> list[tuple[Backend, int, int]]:
    """Each background track's backend with the rows of its begin and end (an unended track: past the last
    row): the foreground rows between them set its span."""
    kinds = [(script.rows[begin - 1].audio_type, begin, end or len(script.rows) + 1)
             for begin, end in script.background_tracks()]
    return [(backends[kind], begin, end) for kind, begin, end in kinds if kind in backends]


def _ask(ev: Event, seconds: float | None) -> BackendEvent:
    """What the backend is asked for one event: ``seconds`` long (None: as long as it takes)."""
    return BackendEvent(row=ev.row, kind=ev.audio_type, content=ev.content, duration=seconds, layout=ev.layout,
                        character=ev.character, voice=ev.voice, character_description=ev.character_description,
                        seed=ev.seed)


class _ClipRenderer:
    """Renders events through their backends: cache first, then the rest on the executor, grouped into
    batches of each backend's ``batch_size`` (:mod:`storyaudio.executors`: threads here, or a Ray cluster).
    Rows an extension makes (an audio file) are made here, whatever the executor. ``on_clip()`` is called as
    each clip is ready (in the calling thread)."""

    def __init__(self, backends: dict[str, Backend], cache: ClipCache, sample_rate: int, executor: Executor,
                 on_clip: Callable[[], None], hooks: Hooks):
        self.backends = backends
        self.hooks = hooks
        self.cache = cache
        self.sr = sample_rate
        self.executor = executor
        self.on_clip = on_clip
        self.rendered_rows: list[int] = []
        self.cached_rows: list[int] = []
        #: row -> the cache key of its final clip (after the extensions' clip hooks): what reuse compares
        self.keys: dict[int, str] = {}

    def _key(self, backend: Backend, bev: BackendEvent) -> str:
        # a cached clip is the backend's output as _accept converted it (resampled by storyaudio.audio)
        made = self.hooks.make_key(bev)  # a clip an extension makes (an audio file)
        if made is not None:
            return clip_key(made["extension"], made["version"], made["settings"], made, self.sr,
                            f"{made['code']}+{code_fingerprint('storyaudio.audio')}")
        code = f"{code_fingerprint(type(backend).__module__)}+{code_fingerprint('storyaudio.audio')}"
        return clip_key(backend.name, backend.version, backend.options.model_dump(mode="json"),
                        bev.cache_fields(), self.sr, code)

    def _finish(self, bev: BackendEvent, key: str, clip: Clip) -> Clip:
        """The clip after the extensions' clip hooks (speed, pitch...), cached on its own key."""
        tkey = self.hooks.transform_key(bev, key)
        if tkey is None:
            return clip
        self.keys[bev.row] = tkey
        hit = self.cache.get(tkey, mapped=True)
        if hit is not None:
            return hit
        clip = self.hooks.clip(bev, clip)
        self.cache.put(tkey, clip)
        return self.cache.get(tkey, mapped=True) or clip

    def known_lengths(self, events: Sequence[Event]) -> dict[int, float]:
        """Seconds of each auto-length event without rendering it: its clip's length where the cache holds
        one (a render made it before), else an estimate from its words."""
        out: dict[int, float] = {}
        for ev in events:
            if ev.requested is None:
                bev = self.hooks.request(_ask(ev, None))
                frames = self.cache.frames(self._key(self.hooks.maker(bev) or self.backends[bev.kind], bev))
                guess = max(MIN_SECONDS, len(ev.content.split()) / WORDS_PER_SECOND)
                out[ev.row] = frames / self.sr if frames else guess
        return out

    def run(self, asks: Sequence[BackendEvent], then: Sequence[tuple[Backend, int, int]] = ()) -> dict[int, Clip]:
        """Each asked event's clip, by row, at the render's sample rate. ``then``: the background beds rendered
        next, as (backend, first row, last row) of the rows they play under (:func:`_beds`): a bed under a row
        this run makes anew gets a new span, so its backend's heavy imports (:attr:`Backend.imports`) are made
        while this run renders (scipy.signal's 0.6 s import otherwise waits in front of the beds)."""
        out: dict[int, Clip] = {}
        todo: dict[int, tuple[Backend, list[tuple[BackendEvent, str]]]] = {}
        local: list[Batch] = []  # rows an extension makes: here, whatever the executor
        for bev in asks:
            maker = self.hooks.maker(bev)
            backend = maker or self.backends[bev.kind]
            files = backend.input_files(bev, _resolver(self.hooks.ctx, bev.row))
            if files:
                bev = dataclasses.replace(bev, files=tuple(str(f) for f in files))
            key = self.keys[bev.row] = self._key(backend, bev)
            hit = self.cache.get(key, mapped=True)
            if hit is not None:  # checked before it was cached, and at the render's rate: not read again here
                hit = hit if hit.sample_rate == self.sr else self._accept(backend, bev, hit)
                out[bev.row] = self._finish(bev, key, hit)
                self.cached_rows.append(bev.row)
                self.on_clip()
            elif maker is not None:
                local.append(Batch(maker, (bev,)))
            else:
                todo.setdefault(id(backend), (backend, []))[1].append((bev, key))
        if todo and isinstance(self.executor, LocalExecutor):  # imported while models load
            made = {bev.row for _, items in todo.values() for bev, _ in items}
            moved = [b for b, first, last in then if any(first < r < last for r in made)]
            _prefetch(*dict.fromkeys(m for b in [b for b, _ in todo.values()] + moved for m in b.imports))
        # The backends' batches taken in turn (one of each, then the next of each...), not one backend's after
        # another's: the background's long beds then render an effect's beside a music bed, not two effects'
        # at once (a 3-minute foley bed peaks near 300 MB while it renders, a composer bed near 150 MB).
        queues = [[Batch(backend, tuple(b for b, _ in items[i : i + backend.batch_size]))
                   for i in range(0, len(items), backend.batch_size)] for backend, items in todo.values()]
        batches = [b for turn in itertools.zip_longest(*queues) for b in turn if b is not None]
        keys = {bev.row: key for _, items in todo.values() for bev, key in items}
        keys.update({b.events[0].row: self.keys[b.events[0].row] for b in local})
        if local and not isinstance(self.executor, LocalExecutor):
            self._take(LocalExecutor(1).run(local, self.sr), keys, out)
            local = []
        self._take(self.executor.run(local + batches, self.sr), keys, out)
        return out

    def _take(self, done, keys: dict[int, str], out: dict[int, Clip]) -> None:
        """Check, convert and cache each clip an executor returns, as it returns it."""
        try:
            for batch, clips in done:
                for bev, clip in zip(batch.events, clips):
                    clip = self._accept(batch.backend, bev, clip)  # check and convert first: only good clips are cached
                    self.cache.put(keys[bev.row], clip)
                    clip = self.cache.get(keys[bev.row], mapped=True) or clip  # held on disk until it is placed
                    out[bev.row] = self._finish(bev, keys[bev.row], clip)
                    self.rendered_rows.append(bev.row)
                    self.on_clip()
                clips = clip = None  # the clips as made (now read from the cache): not held while the next render
        finally:
            close = getattr(done, "close", None)
            if close is not None:
                close()  # a failure here: the executor drops the batches not started yet

    def _accept(self, backend: Backend, bev: BackendEvent, clip: Clip) -> Clip:
        """The clip at the render's rate (a new Clip when resampled); NaN or infinite samples are an error."""
        from .audio import resample

        if clip.sample_rate != self.sr:
            clip = Clip(resample(clip.audio, clip.sample_rate, self.sr), self.sr, clip.detail, clip.info,
                        clip.level_db)
        if not np.all(np.isfinite(clip.audio)):
            raise RenderError(f"the {backend.name} backend returned NaN or infinite samples.", row=bev.row)
        return clip


class _Stages:
    """Times the stages of a render (``timings``, seconds) and tells ``on_progress`` and the progress bar
    ``(stage, done, total)`` as each stage begins, advances (``step``) and ends."""

    def __init__(self, on_progress: Progress | None, bar: _RichBar | None):
        self.listeners = [f for f in (on_progress, bar) if f is not None]
        self.bar = bar
        self.timings: dict[str, float] = {}
        self.stage: str | None = None
        self.done = self.total = 0
        self.t0 = 0.0

    def _tell(self, stage: str) -> None:
        for f in self.listeners:
            f(stage, self.done, self.total)

    def begin(self, stage: str, total: int = 1) -> None:
        """End the running stage (if any) and start ``stage`` of ``total`` steps."""
        self.end()
        self.stage, self.done, self.total, self.t0 = stage, 0, total, time.perf_counter()
        self._tell(stage)

    def step(self) -> None:
        if self.stage is not None:
            self.done = min(self.total, self.done + 1)
            self._tell(self.stage)

    def end(self) -> None:
        if self.stage is None:
            return
        stage, self.stage = self.stage, None
        self.timings[stage] = time.perf_counter() - self.t0
        self.done = self.total
        self._tell(stage)

    def close(self) -> None:
        """Take the progress bar down, however the render ended."""
        if self.bar is not None:
            self.bar.close()


class _RichBar:
    """A progress bar on stderr while clips render (the CLI's, unless ``-q``)."""

    def __init__(self) -> None:
        self.p: Any = None
        self.task: Any = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != "clips":
            return self.close()
        if self.p is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.p = Progress(TextColumn("rendering clips"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                              console=Console(stderr=True), transient=True)
            self.p.start()
            self.task = self.p.add_task("clips", total=total)
        self.p.update(self.task, completed=done)

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()
            self.p = None


def _progress_bar(enabled: bool) -> _RichBar | None:
    return _RichBar() if enabled and sys.stderr.isatty() else None


class _ClipFiles:
    """clips/: each clip fitted to its slot, brought to its row's loudness and written as a float WAV; or,
    when the last render into this folder made that file from the same clip, slot and target, the old file
    linked. ``identities`` (by row) and ``records`` (by file) say what made each file, for the mix plan and the
    next render."""

    def __init__(self, folder: Path, sample_rate: int, cache: ClipCache, previous: reuse.Previous | None):
        self.folder, self.sr, self.cache, self.previous = folder, sample_rate, cache, previous
        self.identities: dict[int, dict[str, Any]] = {}
        self.records: dict[int, dict[str, Any]] = {}
        self.kept = 0

    def write(self, ev: PlacedEvent, clip: Clip, key: str) -> RenderedClip:
        from . import deliver, reuse
        from .audio import fit_length
        from .mix.loudness import normalize_gain

        n = int(round(ev.span * self.sr))
        target = ev.target_lufs + clip.level_db  # a backend may ask to sit above or below it ("distant")
        name = f"row{ev.row:03d}-{ev.audio_type}.wav"
        identity = {"key": key, "n": n, "target": float(target).hex()}
        old = self.previous.clip(name, identity) if self.previous is not None else None
        if old is not None:
            reuse.link_or_copy(old[0], self.folder / name)
            gain = old[1]
            self.kept += 1
        else:
            audio = fit_length(clip.audio, n, self.sr)
            gain = self.cache.gain(key, n, target)  # the loudness gain, measured once per clip, slot and target
            if gain is None:
                gain = normalize_gain(audio, self.sr, target)
                self.cache.put_gain(key, n, target, gain)
            # An impulsive sound (a slam, a gunshot) measured over its slot is quiet for its peak: brought to the
            # row's loudness it could peak far over full scale, and the master's limiter would then duck the whole
            # mix under it. A sound effect's gain stops where its peak reaches CLIP_PEAK_DBFS; the loudness it
            # falls short by shows in gain_db.
            peak = float(np.max(np.abs(audio))) if audio.size and ev.audio_type == "sound_effect" else 0.0
            if peak > 0:
                gain = min(gain, 10 ** (CLIP_PEAK_DBFS / 20) / peak)
            deliver.write_wav(self.folder / name, (audio * np.float32(gain)).astype(np.float32), self.sr,
                              subtype="FLOAT")
        self.identities[ev.row] = {**identity, "gain": float(gain).hex()}
        self.records[ev.row] = {"name": name, "id": identity, "gain": gain}
        return RenderedClip(ev.row, f"clips/{name}", clip.detail, dict(clip.info), clip.level_db,
                            round(20 * float(np.log10(max(gain, 1e-12))), 2))


def _reuse_settings(config: RenderConfig) -> dict[str, Any]:
    """The settings a mix and master depend on besides the clips and their places: a record made with others
    is not reused."""
    return {"sample_rate": config.sample_rate, "preset": config.preset, "ducking": config.ducking,
            "duck_db": config.duck_db, "stems": config.stems}


def _mix(plan: reuse.MixPlan, previous: reuse.Previous | None, staging: Path,
         config: RenderConfig) -> tuple[Path | reuse.MixSource, list[tuple[int, int]] | None, dict[str, Any]]:
    """The mix mastering reads, the ranges that changed since the last render (None: all of it), and what was
    kept. A first render (or one of another length) mixes the whole piece into ``.mix.npy`` and writes
    stems/ alongside; a re-render mixes on demand only where mastering reads (:class:`reuse.MixSource`), and
    links or patches the stems."""
    from . import reuse
    from .mix.blockio import SparseStem
    from .mix.mixer import mix_to_file

    changed = plan.changed(previous)
    sr = plan.sample_rate
    if changed is None:
        writers = {}
        if config.stems:
            (staging / "stems").mkdir()
            writers = {t.name: SparseStem(staging / "stems" / f"{t.name}.wav", plan.frames, sr) for t in plan.tracks}
        try:
            path = mix_to_file(plan.tracks, plan.frames, staging / ".mix.npy", sr, plan.duck,
                               writers if config.stems else None)
        finally:
            for w in writers.values():
                w.close()
        return path, None, {"mixed_seconds": plan.frames / sr, "stems_remade": len(writers)}
    source = reuse.MixSource(plan, staging / ".mix.part")
    try:
        remade = reuse.write_stems(plan, previous, staging / "stems", source) if config.stems else []
    except BaseException:
        source.close()
        raise
    return source, changed, {"mixed_seconds": sum(b - a for a, b in changed) / sr, "stems_remade": len(remade)}


def _deliver(staging: Path, script: Script, timeline: Timeline, rendered: dict[int, RenderedClip],
             wave: tuple[np.ndarray, int], report: MasterReport, config: RenderConfig,
             episode: EpisodeTags | None = None, lanes: "_Background | None" = None) -> dict[str, Path]:
    """Every file but timeline.json (written after this stage, with its time); the MP3 and M4B are made from
    mix.wav, read a block at a time. ``wave``: the picture's waveform, the peak of each bin of the master and
    the bin's samples (the picture is finished in a thread meanwhile, on ``lanes``, its lanes drawn while the
    render went on)."""

    from . import deliver
    from .deliver import m4b, otio, subtitles
    from .deliver.chapters import chapters_json
    from .deliver.tags import EpisodeTags

    sr = config.sample_rate
    episode = episode or EpisodeTags(script.title)
    files: dict[str, Path] = {"clips": staging / "clips"}
    if config.stems:
        files["stems"] = staging / "stems"
    files["mix.wav"] = staging / "mix.wav"  # written by mastering (step 10), measured as it was written

    def draw() -> Path:
        picture = lanes.result() if lanes is not None else deliver.TimelinePicture(timeline)
        return picture.finish(staging / "timeline.png", wave)

    drawing = _Background(draw) if config.picture else None  # finished meanwhile: the rest is file writing
    try:
        if config.mp3:  # encoded from mix.wav a block at a time; ID3 tags, cover and CHAP/CTOC chapters
            files["mix.mp3"] = deliver.write_mp3(staging / "mix.mp3", files["mix.wav"], sr, script.title,
                                                 tags=episode, chapters=timeline.chapters)
        if config.m4b:  # AAC from mix.wav; chapter track and chpl atom, MP4 tags and cover
            files["mix.m4b"] = m4b.write_m4b(staging / "mix.m4b", files["mix.wav"], episode, timeline.chapters)
        if timeline.chapters:
            files["chapters.json"] = deliver.write_json(staging / "chapters.json",
                                                        chapters_json(timeline.chapters, episode))
        if config.otio:
            ducked = {e.track: e.layout == "background" and config.ducking for e in timeline.events}
            files["timeline.otio"] = otio.write_otio(staging / "timeline.otio", timeline, rendered, ducked=ducked,
                                                     master_gain_db=report.gain_db)
        files["script.json"] = deliver.write_json(staging / "script.json", script.to_dict())
        (staging / "subtitles.srt").write_text(subtitles.srt(timeline), encoding="utf-8")
        (staging / "subtitles.vtt").write_text(subtitles.vtt(timeline), encoding="utf-8")
        (staging / "labels.txt").write_text(subtitles.labels(timeline), encoding="utf-8")
        files.update({n: staging / n for n in ("subtitles.srt", "subtitles.vtt", "labels.txt")})
        files["loudness.json"] = deliver.write_json(staging / "loudness.json", report.to_dict())
    except BaseException:
        if drawing is not None:
            drawing.wait()  # not left drawing into a staging folder about to be removed
        raise
    if drawing is not None:
        files["timeline.png"] = drawing.result()  # raises what drawing raised, in the render's thread
    return files
