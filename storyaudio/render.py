"""The render entry point: script in, finished files out.

It reads top to bottom as the data flows: validate -> choose backends -> cast -> plan -> render the
foreground -> place -> render the background -> normalise -> mix -> master -> deliver. Everything is written
into a staging folder beside the output folder and moved in only when all of it succeeded, so a failed
render never touches a previous good one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from . import deliver
from .atomic import replace_dir
from .audio import fit_length, resample
from .backends import DEFAULTS, KINDS, Backend, build_backend, get_backend_class
from .backends.base import Clip
from .backends.base import Event as BackendEvent
from .cache import ClipCache, clip_key
from .fingerprint import code_fingerprint
from .casting import Character, cast_characters
from .errors import BackendUnavailableError, OptionError, Problem, RenderError, StoryAudioError
from .mix.loudness import normalize_gain
from .mix.master import MasterReport, get_preset, master_file
from .mix.mixer import Source, Track, ducking_envelope, mix_to_file
from .plan import Event, Timeline, place, plan
from .script import Script, read_script


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
    jobs: int = Field(2, ge=1, le=32, description="clips rendered at once")
    cache: bool = Field(True, description="reuse clips rendered before")
    cache_dir: Path | None = Field(None, description="clip cache folder (default: $STORYAUDIO_CACHE_DIR or the user cache)")
    progress: bool = Field(False, description="show a progress bar on stderr")


@dataclass
class RenderResult:
    outdir: Path
    files: dict[str, Path]
    timeline: Timeline
    loudness: MasterReport
    rendered_rows: list[int] = field(default_factory=list)
    cached_rows: list[int] = field(default_factory=list)


def render(script: Script | dict | str | os.PathLike, outdir: str | os.PathLike,
           config: RenderConfig | None = None) -> RenderResult:
    config = config or RenderConfig()
    outdir = Path(outdir)
    sr = config.sample_rate

    # 1. Validate the script and the settings (before any work, so bad input costs nothing).
    script = _as_script(script)
    preset = get_preset(config.preset)

    # 2. Choose and build one backend per audio type the script uses; 3. cast a voice for every character.
    backends, casting, _ = _prepare(script, config)
    names = {kind: b.name for kind, b in backends.items()}

    # 4. Plan: tracks, seeds, known durations.
    timeline = plan(script, names, casting, sr, seed=config.seed, speech_gap=config.speech_gap,
                    reseed=config.reseed)

    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.staging-", dir=_parent(outdir)))
    try:
        renderer = _ClipRenderer(backends, ClipCache(config.cache_dir, config.cache), sr, config.jobs, config.progress)

        # 5. Render the foreground; speech lengths become known.
        clips = renderer.run(timeline.foreground)
        lengths = {ev.row: clips[ev.row].seconds for ev in timeline.foreground}

        # 6. Place every event in time; background spans follow from the foreground.
        place(timeline, script, lengths)

        # 7. Render the background at the exact length of its span.
        for ev in timeline.background:
            ev.requested = ev.duration
        clips.update(renderer.run(timeline.background))

        # 8. Fit each clip to its slot, normalise it to its row's loudness, and write clips/.
        clip_dir = staging / "clips"
        clip_dir.mkdir()
        for ev in timeline.events:
            _write_clip(ev, clips.pop(ev.row), clip_dir, sr)

        # 9. Mix the tracks in blocks from the clip files (with ducking, pan and fades); write stems/.
        n_samples = int(round(timeline.duration * sr)) + int(0.25 * sr)  # a short tail of room after the end
        mixed = _mix(timeline, staging, n_samples, config)

        # 10. Master to the preset (integrated loudness, true-peak limiter), streamed from the mix file into
        # mix.wav, which is read back and measured; a float copy is mapped for the MP3 and the picture.
        report = master_file(mixed, staging / "mix.wav", sr, preset, float_copy=staging / ".mastered.npy")
        mastered = np.load(staging / ".mastered.npy", mmap_mode="r").T

        # 11. Deliver the files.
        files = _deliver(staging, script, timeline, mastered, report, config)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        for b in backends.values():
            b.close()

    # 12. Move the finished set into the output folder (the old files stay until each new one is in place).
    outdir.mkdir(parents=True, exist_ok=True)
    final: dict[str, Path] = {}
    for name, path in files.items():
        target = outdir / path.relative_to(staging)
        if path.is_dir():
            replace_dir(path, target)
        else:
            os.replace(path, target)
        final[name] = target
    shutil.rmtree(staging, ignore_errors=True)
    return RenderResult(outdir, final, timeline, report, renderer.rendered_rows, renderer.cached_rows)


def check(script: Script | dict | str | os.PathLike, config: RenderConfig | None = None) -> list[Problem]:
    """Everything ``render`` would refuse, before any audio is made: the script (schema and rules), the
    settings, the backends (known, installed) and the casting (pinned voices exist). Raises the same errors
    render raises; returns the warnings (problems worth a look that do not stop a render). ``storyaudio
    validate`` calls this, so validate and render agree."""
    config = config or RenderConfig()
    script = _as_script(script)
    get_preset(config.preset)
    backends, _, warnings = _prepare(script, config)
    for b in backends.values():
        b.close()
    return warnings


# -- steps --------------------------------------------------------------------------------------------------

def _prepare(script: Script, config: RenderConfig) -> tuple[dict[str, Backend], dict[str, str], list[Problem]]:
    """Backends per audio type, the casting, and the warnings about both (text a voice cannot speak)."""
    backends = _build_backends(script, config)
    casting = _cast(script, backends.get("speech"), config.voices)
    warnings = list(getattr(script, "warnings", []))
    speech = backends.get("speech")
    if speech is not None:
        for n, row in enumerate(script.rows, start=1):
            if row.audio_type == "speech" and row.content:
                for why in speech.text_problems(row.content, casting.get(row.character or "")):
                    warnings.append(Problem(n, "content", why, "respell it in words the voice can say."))
    return backends, casting, warnings


def _as_script(script: Script | dict | str | os.PathLike) -> Script:
    if isinstance(script, Script):
        return Script.from_dict(script.to_dict())
    if isinstance(script, dict):
        return Script.from_dict(script)
    return read_script(script)


def _parent(outdir: Path) -> Path:
    parent = outdir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _build_backends(script: Script, config: RenderConfig) -> dict[str, Backend]:
    for kind in config.use:
        if kind not in KINDS:
            raise OptionError(f"--use {kind}=...: unknown audio type '{kind}'. Use speech, music or sound_effect.")
    used_kinds = [k for k in KINDS if any(r.audio_type == k for r in script.rows)]
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
            made[name] = build_backend(cls, config.options.get(name), name)
        backends[kind] = made[name]
    return backends


def _cast(script: Script, speech: Backend | None, pins: dict[str, str]) -> dict[str, str]:
    if speech is None:
        return {}
    voices = speech.voices()
    if not voices:
        return {}
    characters = [Character(name, next((c.description for c in script.cast if c.name == name), None))
                  for name in script.characters()]
    pinned = {c.name: c.voice for c in script.cast if c.voice}
    pinned.update(pins)
    known = set(script.characters())
    for char in pins:
        if char not in known:
            raise OptionError(f"--voice {char}=...: no character '{char}' speaks in this script. "
                              f"Characters: {', '.join(sorted(known)) or 'none'}.")
    return cast_characters(characters, voices, {k: v for k, v in pinned.items() if k in known})


class _ClipRenderer:
    """Renders events through their backends: cache first, then in parallel (batched where a backend
    batches), with an optional progress bar."""

    def __init__(self, backends: dict[str, Backend], cache: ClipCache, sample_rate: int, jobs: int,
                 progress: bool):
        self.backends = backends
        self.cache = cache
        self.sr = sample_rate
        self.jobs = jobs
        self.progress = progress
        self.locks = {id(b): threading.Lock() for b in backends.values()}
        self.rendered_rows: list[int] = []
        self.cached_rows: list[int] = []

    def _key(self, backend: Backend, bev: BackendEvent) -> str:
        return clip_key(backend.name, backend.version, backend.options.model_dump(mode="json"),
                        bev.cache_fields(), self.sr, code_fingerprint(type(backend).__module__))

    def run(self, events: Sequence[Event]) -> dict[int, Clip]:
        out: dict[int, Clip] = {}
        todo: dict[int, tuple[Backend, list[tuple[Event, BackendEvent, str]]]] = {}
        for ev in events:
            backend = self.backends[ev.audio_type]
            bev = BackendEvent(row=ev.row, kind=ev.audio_type, content=ev.content, duration=ev.requested,
                               layout=ev.layout, character=ev.character, voice=ev.voice,
                               character_description=ev.character_description, seed=ev.seed)
            key = self._key(backend, bev)
            hit = self.cache.get(key)
            if hit is not None:
                out[ev.row] = self._accept(ev, hit)
                self.cached_rows.append(ev.row)
            else:
                todo.setdefault(id(backend), (backend, []))[1].append((ev, bev, key))
        tasks: list[tuple[Backend, list[tuple[Event, BackendEvent, str]]]] = []
        for backend, items in todo.values():
            size = backend.batch_size
            tasks += [(backend, items[i : i + size]) for i in range(0, len(items), size)]
        if not tasks:
            return out
        bar = _progress(self.progress, sum(len(t[1]) for t in tasks))
        try:
            with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                futures = [pool.submit(self._render_group, b, items) for b, items in tasks]
                for fut in as_completed(futures):
                    for ev, clip, key in fut.result():
                        clip = self._accept(ev, clip)  # check and convert first: only good clips are cached
                        self.cache.put(key, clip)
                        out[ev.row] = clip
                        self.rendered_rows.append(ev.row)
                        bar.advance()
        finally:
            bar.close()
        return out

    def _render_group(self, backend: Backend, items):
        bevs = [b for _, b, _ in items]
        try:
            with contextlib.nullcontext() if backend.thread_safe else self.locks[id(backend)]:
                clips = backend.render_batch(bevs, self.sr) if len(bevs) > 1 else [backend.render(bevs[0], self.sr)]
        except StoryAudioError:
            raise
        except Exception as exc:  # a backend bug or a broken model: say which row and backend
            raise RenderError(f"the {backend.name} backend failed: {type(exc).__name__}: {exc}",
                              row=items[0][0].row) from exc
        return [(ev, clip, key) for (ev, _, key), clip in zip(items, clips)]

    def _accept(self, ev: Event, clip: Clip) -> Clip:
        if clip.sample_rate != self.sr:
            clip = Clip(resample(clip.audio, clip.sample_rate, self.sr), self.sr, clip.detail, clip.info,
                        clip.level_db)
        if not np.all(np.isfinite(clip.audio)):
            raise RenderError(f"the {ev.backend} backend returned NaN or infinite samples.", row=ev.row)
        ev.detail, ev.info = clip.detail, dict(clip.info)
        if clip.level_db:
            ev.info["level_db"] = clip.level_db
        return clip


class _NoBar:
    def advance(self) -> None: ...
    def close(self) -> None: ...


class _RichBar:
    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(TextColumn("rendering clips"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=Console(stderr=True), transient=True)
        self.p.start()
        self.task = self.p.add_task("clips", total=total)

    def advance(self) -> None:
        self.p.advance(self.task)

    def close(self) -> None:
        self.p.stop()


def _progress(enabled: bool, total: int):
    return _RichBar(total) if enabled and sys.stderr.isatty() else _NoBar()


def _write_clip(ev: Event, clip: Clip, clip_dir: Path, sr: int) -> None:
    """Fit the clip to the event's slot, bring it to the row's loudness, and write it as a float WAV."""
    audio = fit_length(clip.audio, int(round(ev.duration * sr)), sr)
    # a backend may ask for its clip to sit above or below the row's target ("distant", "light")
    offset = float(ev.info.get("level_db", 0.0) or 0.0)
    gain = normalize_gain(audio, sr, ev.target_lufs + offset)
    audio = (audio * np.float32(gain)).astype(np.float32)
    name = f"row{ev.row:03d}-{ev.audio_type}.wav"
    deliver.write_wav(clip_dir / name, audio, sr, subtype="FLOAT")
    ev.clip_file = f"clips/{name}"
    ev.info.setdefault("gain_db", round(20 * np.log10(max(gain, 1e-12)), 2))


def _mix(timeline: Timeline, staging: Path, n_samples: int, config: RenderConfig) -> Path:
    sr = timeline.sample_rate
    tracks: dict[str, Track] = {}
    for ev in timeline.events:
        track = tracks.setdefault(ev.track, Track(ev.track, ducked=ev.layout == "background" and config.ducking))
        start = int(round(ev.start * sr))
        length = int(round(ev.duration * sr))
        track.sources.append(Source(start=start, length=length, path=staging / ev.clip_file, pan=ev.pan,
                                    fade_in=int(ev.fade_in * sr), fade_out=int(ev.fade_out * sr)))
    duck = None
    if config.ducking:
        speech = [(e.start, e.end) for e in timeline.foreground if e.audio_type == "speech"]
        duck = ducking_envelope(speech, n_samples, sr, config.duck_db)
    writers = {}
    if config.stems:
        import soundfile as sf

        (staging / "stems").mkdir()
        writers = {name: sf.SoundFile(str(staging / "stems" / f"{name}.wav"), "w", samplerate=sr, channels=2,
                                      subtype="FLOAT") for name in tracks}
    try:
        return mix_to_file(list(tracks.values()), n_samples, staging / ".mix.npy", sr, duck,
                           writers if config.stems else None)
    finally:
        for w in writers.values():
            w.close()


def _deliver(staging: Path, script: Script, timeline: Timeline, audio: np.ndarray, report: MasterReport,
             config: RenderConfig) -> dict[str, Path]:
    sr = config.sample_rate
    files: dict[str, Path] = {"clips": staging / "clips"}
    if config.stems:
        files["stems"] = staging / "stems"
    files["mix.wav"] = staging / "mix.wav"  # written by master_file (step 10), read back and measured there
    if config.mp3:
        files["mix.mp3"] = deliver.write_mp3(staging / "mix.mp3", audio, sr, script.title)
    files["script.json"] = deliver.write_json(staging / "script.json", script.to_dict())
    files["timeline.json"] = deliver.write_json(staging / "timeline.json", timeline.to_dict())
    (staging / "subtitles.srt").write_text(deliver.subtitles_srt(timeline), encoding="utf-8")
    (staging / "subtitles.vtt").write_text(deliver.subtitles_vtt(timeline), encoding="utf-8")
    (staging / "labels.txt").write_text(deliver.labels_txt(timeline), encoding="utf-8")
    files.update({n: staging / n for n in ("subtitles.srt", "subtitles.vtt", "labels.txt")})
    files["loudness.json"] = deliver.write_json(staging / "loudness.json", report.to_dict())
    if config.picture:
        files["timeline.png"] = deliver.timeline_png(staging / "timeline.png", timeline, audio)
    return files
