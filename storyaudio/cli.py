"""The storyaudio command line: parse, call the library, print, exit.

Exit codes:

* 0: success (warnings, if any, were printed as ``warning: ...`` on stderr);
* 1: a failure that is not the user's doing (a backend crashed while rendering a row);
* 2: bad input: a usage error (unknown command or option, missing argument, a value of the wrong type), a
  script that breaks the schema or a rule, an unknown backend, a missing dependency, an output folder that
  cannot take the render, a writer that got no valid script. One ``error: ...`` message, no traceback;
* 3: ``--strict-loudness`` and the master misses its preset (the files are written all the same);
* 130: interrupted (Ctrl-C); the staging folder is removed and the output folder keeps the previous render.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from . import __version__
from .errors import OptionError, StoryAudioError, UserError

#: Exit code of a render whose master misses its preset under --strict-loudness.
EXIT_LOUDNESS = 3
#: Exit code after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: Exit code of a usage error (what click uses too).
EXIT_USAGE = 2

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=False,  # a bare `storyaudio` is a usage error (exit 2), not the help page (exit 0)
    help="Turn an audio script (or a prompt) into finished, loudness-correct audio.\n\n"
    "Example: storyaudio render examples/news.tsv -o outputs/news\n\n"
    "Exit codes: 0 done; 1 a backend failed; 2 bad input or usage; 3 --strict-loudness and the master missed "
    "its preset; 130 interrupted.",
)

#: Other spellings of the audio types for --use. "voice" is not one: --voice pins a character's voice.
_KIND_ALIASES = {"speech": "speech", "music": "music", "sound_effect": "sound_effect",
                 "sound-effect": "sound_effect", "effect": "sound_effect", "effects": "sound_effect",
                 "sfx": "sound_effect"}


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def _warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"storyaudio {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    pass


def _pairs(values: list[str], flag: str, example: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, eq, value = v.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise OptionError(f"{flag} '{v}' is not of the form {example}.")
        out[key.strip()] = value.strip()
    return out


def _use(values: list[str]) -> dict[str, str]:
    out = {}
    for kind, name in _pairs(values, "--use", "KIND=NAME (e.g. --use music=composer)").items():
        k = _KIND_ALIASES.get(kind.lower())
        if k is None:
            raise OptionError(f"--use {kind}={name}: unknown audio type '{kind}'. The audio types are speech, "
                              "music and sound_effect (e.g. --use speech=piper).")
        out[k] = name
    return out


def _private_paths() -> None:
    """Keep matplotlib's font cache inside storyaudio's cache folder (it would create ~/.config/matplotlib and
    ~/.cache/matplotlib). A value the user set wins. (main() turns off onnxruntime's telemetry, which writes
    ~/.cache/Microsoft/DeveloperTools/.onnxruntime.)"""
    from .cache import cache_dir

    os.environ.setdefault("MPLCONFIGDIR", str(cache_dir() / "matplotlib"))


def _pipeline():
    """The module that renders (render, check, RenderConfig), imported when a command needs it."""
    from . import pipeline

    return pipeline


def _config(use, set_, voice, preset="podcast", sample_rate=48000, seed=0, gap=0.35, no_ducking=False,
            duck_db=-8.0, mp3=False, no_stems=False, no_picture=False, jobs=2, no_cache=False, quiet=False,
            force=False, allow_path=(), lexicon=(), base_dir=None, *, m4b=False, otio=False, rows=None,
            chapter=None, executor="local", ray_address=None, no_reuse=False):
    from pydantic import ValidationError

    from .backends import parse_set_options

    try:
        return _pipeline().RenderConfig(
            use=_use(use), options=parse_set_options(set_),
            voices=_pairs(voice, "--voice", "CHARACTER=VOICE (e.g. --voice 'News Anchor=walter')"),
            preset=preset, sample_rate=sample_rate, seed=seed, speech_gap=gap, ducking=not no_ducking,
            duck_db=duck_db, mp3=mp3, stems=not no_stems, picture=not no_picture, jobs=jobs, cache=not no_cache,
            progress=not quiet, force=force, allow_paths=list(allow_path), base_dir=base_dir,
            extensions={"lexicon": {"files": list(lexicon)}} if lexicon else {}, m4b=m4b, otio=otio,
            rows=_rows(rows), chapter=chapter, executor=executor, ray_address=ray_address, reuse=not no_reuse)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise OptionError(f"--{field.replace('_', '-')}: {first['msg']}.") from None


def _rows(text: str | None) -> tuple[int, int] | None:
    """``--rows 12-40`` (or one row, ``--rows 12``) as (first, last)."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*(?:[-–:]\s*(\d+)\s*)?", text)
    if m is None:
        raise OptionError(f"--rows '{text}': give the first and last row to render, FIRST-LAST (e.g. --rows 12-40), "
                          "counted from 1 as in the table.")
    first = int(m.group(1))
    return first, int(m.group(2)) if m.group(2) else first


def _preview_dir(script: Path, rows: str | None, chapter: int | None) -> Path:
    """Where a render goes without -o: outputs/<name>, a preview outputs/<name>-rows-12-40 or -chapter-2."""
    if chapter is not None:
        return Path("outputs") / f"{script.stem}-chapter-{chapter}"
    parsed = _rows(rows)
    if parsed is not None:
        return Path("outputs") / f"{script.stem}-rows-{parsed[0]}-{parsed[1]}"
    return Path("outputs") / script.stem


# Render options are shared by `render` and `compose`.
UseOpt = typer.Option([], "--use", help="Backend per audio type, KIND=NAME (KIND: speech, music or sound_effect; "
                      "e.g. --use music=composer). Repeatable.")
SetOpt = typer.Option([], "--set", help="Backend option NAME.key=value (e.g. --set piper.pace=1.1). Repeatable.")
VoiceOpt = typer.Option([], "--voice", help="Pin a character's voice, CHARACTER=VOICE. Repeatable.")
PresetOpt = typer.Option("podcast", "--preset", help="Master preset: podcast (-16 LUFS), ebu-r128 (-23 LUFS), none.")
RateOpt = typer.Option(48000, "--sample-rate", help="44100 or 48000.")
SeedOpt = typer.Option(0, "--seed", help="Base seed: the same seed renders the same audio.")
GapOpt = typer.Option(0.35, "--gap", help="Seconds of pause between consecutive speech lines.")
NoDuckOpt = typer.Option(False, "--no-ducking", help="Do not lower background tracks under speech.")
DuckOpt = typer.Option(-8.0, "--duck-db", help="Ducking depth in dB (negative).")
Mp3Opt = typer.Option(False, "--mp3", help="Also write mix.mp3 (tagged with the title).")
NoStemsOpt = typer.Option(False, "--no-stems", help="Skip stems/.")
NoPicOpt = typer.Option(False, "--no-picture", help="Skip timeline.png.")
JobsOpt = typer.Option(2, "--jobs", "-j", help="Clips rendered at once.")
NoCacheOpt = typer.Option(False, "--no-cache", help="Render every clip anew.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")
ForceOpt = typer.Option(False, "--force", help="Render into a folder that holds files storyaudio did not write "
                        "(they are left in place; files named like storyaudio's are replaced).")
StrictOpt = typer.Option(False, "--strict-loudness", help="Exit with code 3 when the master misses its preset "
                         "(the files are written all the same).")
TimingsOpt = typer.Option(False, "--timings", help="Print the seconds each stage took.")
AllowPathOpt = typer.Option([], "--allow-path", help="A folder outside the script's folder that its File column "
                            "(or cover) may name files in. Repeatable.")
LexiconOpt = typer.Option([], "--lexicon", help="A pronunciation lexicon: TSV lines 'word<TAB>respelling"
                          "[<TAB>phonemes]' applied to what the voices say. Repeatable.")
M4bOpt = typer.Option(False, "--m4b", help="Also write mix.m4b: AAC audiobook with chapters, tags and cover "
                      "(needs PyAV: pip install av, or the storyaudio export extra).")
OtioOpt = typer.Option(False, "--otio", help="Also write timeline.otio for editors: a track per stem, a clip per "
                       "row from clips/, chapter markers (needs OpenTimelineIO: pip install opentimelineio, or "
                       "the storyaudio export extra).")
RowsOpt = typer.Option(None, "--rows", help="Preview: render only rows FIRST-LAST (e.g. 12-40) with the "
                       "background tracks playing under them (default folder outputs/<name>-rows-12-40).")
ChapterOpt = typer.Option(None, "--chapter", help="Preview: render only chapter N, counted from 1 (default folder "
                          "outputs/<name>-chapter-N).")
ExecutorOpt = typer.Option("local", "--executor", help="Where clips render: local (threads here) or ray (actors "
                           "on a Ray cluster, one per backend per device; needs storyaudio[cluster]).")
WatchOpt = typer.Option(False, "--watch", help="Keep running: render again each time the script file is saved, "
                        "keeping what did not change (models stay loaded); Ctrl-C stops.")
NoReuseOpt = typer.Option(False, "--no-reuse", help="Mix and master from scratch. (A re-render into the same folder "
                          "otherwise keeps what did not change: the same files, sooner.)")
RayAddressOpt = typer.Option(None, "--ray-address", help="The Ray cluster to join with --executor ray (e.g. "
                             "ray://HEAD:10001 or auto; default: start a local one).")


def _wide_console():
    """A rich console at least 120 columns wide, so tables do not wrap in a narrow or piped terminal."""
    from rich.console import Console

    return Console(width=max(120, Console().width))


#: The summary lists this many rows at most (timeline.json lists every one).
MAX_SUMMARY_ROWS = 200


def _clock(seconds: float) -> str:
    """0:04.25, 12:30.00, 1:02:03.50."""
    m, sec = divmod(max(0.0, seconds), 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{sec:05.2f}" if h else f"{m}:{sec:05.2f}"


def _report(result) -> None:
    from rich.table import Table

    console = _wide_console()
    tl = result.timeline
    table = Table(title=f"{tl.title} — {tl.duration:.1f} s", show_lines=False)
    for col in ("row", "type", "start", "end", "who / what", "made by"):
        table.add_column(col)
    clips = getattr(result, "clips", None)  # what made each row: on the result's clips, or on its events
    events = sorted(tl.events, key=lambda e: e.row)
    for e in events[:MAX_SUMMARY_ROWS]:
        who = e.character or (e.content[:40] + ("…" if len(e.content) > 40 else ""))
        detail = clips[e.row].detail if clips else e.detail
        table.add_row(str(e.row), e.audio_type.replace("_", " "), f"{e.start:.2f}", f"{e.end:.2f}", who,
                      detail[:70])
    if len(events) > MAX_SUMMARY_ROWS:
        table.caption = f"and {len(events) - MAX_SUMMARY_ROWS} more rows: timeline.json lists every one"
    console.print(table)
    if getattr(tl, "rows", None):
        console.print(f"preview of rows {tl.rows[0]}-{tl.rows[1]} (about {_clock(tl.offset)} into the piece)")
    chapters = getattr(tl, "chapters", ())
    if chapters:
        ct = Table(title="chapters")
        for col in ("chapter", "title", "starts", "ends", "length", "from row"):
            ct.add_column(col)
        for c in chapters:
            ct.add_row(str(c.number), c.title, _clock(c.start), _clock(c.end), _clock(c.end - c.start), str(c.row))
        console.print(ct)
    lo = result.loudness
    verdict = "[green]pass[/green]" if lo.passed else "[red]FAIL[/red]"
    console.print(f"loudness {lo.integrated_lufs:.1f} LUFS, true peak {lo.true_peak_dbtp:.1f} dBTP, "
                  f"LRA {lo.loudness_range_lu:.1f} LU — {lo.preset}: {verdict}")
    console.print(f"clips rendered {len(result.rendered_rows)}, from cache {len(result.cached_rows)}")
    console.print(f"wrote {result.outdir}/mix.wav and {len(result.files) - 1} more")


def _quiet() -> None:
    """-q: no warnings from storyaudio or the libraries it drives (matplotlib's missing glyphs, ...)."""
    import logging

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)


def _print_problems(problems) -> None:
    for p in problems:
        _warn(str(p))


def _loudness_miss(lo) -> str:
    parts = [f"{lo.integrated_lufs:.1f} LUFS" + (f" (target {lo.target_lufs:g})" if lo.target_lufs is not None
                                                 else "")]
    parts.append(f"true peak {lo.true_peak_dbtp:.1f} dBTP" + (f" (ceiling {lo.max_true_peak_dbtp:g})"
                                                              if lo.max_true_peak_dbtp is not None else ""))
    return (f"the master misses the {lo.preset} preset: {', '.join(parts)}; loudness.json has the figures. "
            "A very short or silent script cannot reach the target: add material, or use --preset none.")


def _finish(result, script, config, quiet: bool, strict_loudness: bool, timings: bool, started: float) -> int:
    """After a render: its warnings, the summary, the timings, and the exit code the loudness verdict sets."""
    if not quiet:
        problems = getattr(result, "warnings", None)
        if problems is None:  # a render that does not report its warnings: ask check(), which render runs too
            problems = _pipeline().check(script, config)
        _print_problems(problems)
        _report(result)
    if timings:
        stages = dict(getattr(result, "timings", None) or {})
        shown = ", ".join(f"{name} {secs:.2f} s" for name, secs in stages.items())
        typer.echo(f"timings: {shown + ', ' if shown else ''}total {time.perf_counter() - started:.2f} s")
    if not result.loudness.passed:
        if strict_loudness:
            _err(_loudness_miss(result.loudness) + " (--strict-loudness)")
            return EXIT_LOUDNESS
        if not quiet:
            _warn(_loudness_miss(result.loudness))
    return 0


@app.command()
def render(
    script: List[Path] = typer.Argument(..., help="Script file(s): .json, .tsv, .csv, .md or .fountain; or a folder "
                                        "of them."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: outputs/<script name>); "
                                       "with several scripts, each renders into OUT/<script name>."),
    use: List[str] = UseOpt, set_: List[str] = SetOpt, voice: List[str] = VoiceOpt, preset: str = PresetOpt,
    sample_rate: int = RateOpt, seed: int = SeedOpt, gap: float = GapOpt, no_ducking: bool = NoDuckOpt,
    duck_db: float = DuckOpt, mp3: bool = Mp3Opt, no_stems: bool = NoStemsOpt, no_picture: bool = NoPicOpt,
    jobs: int = JobsOpt, no_cache: bool = NoCacheOpt, quiet: bool = QuietOpt, force: bool = ForceOpt,
    strict_loudness: bool = StrictOpt, timings: bool = TimingsOpt, allow_path: List[Path] = AllowPathOpt,
    lexicon: List[Path] = LexiconOpt, m4b: bool = M4bOpt, otio: bool = OtioOpt,
    rows: Optional[str] = RowsOpt, chapter: Optional[int] = ChapterOpt, executor: str = ExecutorOpt,
    ray_address: Optional[str] = RayAddressOpt, no_reuse: bool = NoReuseOpt, watch: bool = WatchOpt,
):
    """Render a script into OUT: mix.wav, stems/, clips/, timeline.json/png, subtitles, loudness.json; with
    chapters also chapters.json (Podcasting 2.0) and chapter marks in labels, MP3 and M4B.

    It replaces what the last render into OUT wrote; a folder with files storyaudio did not write needs --force.
    Several scripts (or a folder of them) render each into OUT/<script name>, sharing the executor.

    Example: storyaudio render examples/news.tsv -o outputs/news --mp3 --use music=composer

    Preview a part: storyaudio render examples/night-ferry.tsv --chapter 2 (into outputs/night-ferry-chapter-2)
    """
    from .outdir import check as check_outdir

    started = time.perf_counter()
    if quiet:
        _quiet()
    config = _config(use, set_, voice, preset, sample_rate, seed, gap, no_ducking, duck_db, mp3, no_stems,
                     no_picture, jobs, no_cache, quiet, force, allow_path, lexicon, m4b=m4b, otio=otio, rows=rows,
                     chapter=chapter, executor=executor, ray_address=ray_address, no_reuse=no_reuse)
    if len(script) == 1 and not script[0].is_dir():
        outdir = out or _preview_dir(script[0], rows, chapter)
        check_outdir(outdir, force)
        _private_paths()
        result = _pipeline().render(script[0], outdir, config)
        code = _finish(result, script[0], config, quiet, strict_loudness, timings, started)
        return _watch(script[0], outdir, config, quiet, timings) if watch else code
    if watch:
        raise OptionError("--watch renders one script: name a single script file.")
    if rows is not None or chapter is not None:
        raise OptionError("--rows and --chapter preview one script: name a single script file.")
    return _render_many(script, out, config, quiet, strict_loudness, timings, started)


def _watch(script: Path, outdir: Path, config, quiet: bool, timings: bool, poll: float = 0.25) -> int:
    """render --watch: each time ``script`` is saved, render it again into ``outdir`` in this process (its
    libraries and models already loaded; what did not change is kept), with one line saying what was made
    again. A script saved broken is reported and waited out. Ctrl-C stops, with exit code 0."""
    from .errors import StoryAudioError

    pipeline = _pipeline()
    quiet_config = config.model_copy(update={"progress": False})

    def stamp():
        try:
            st = script.stat()
            return st.st_mtime_ns, st.st_size
        except OSError:
            return None

    seen = stamp()
    typer.echo(f"watching {script} (Ctrl-C stops)", err=True)
    try:
        while True:
            time.sleep(poll)
            now = stamp()
            if now is None or now == seen:
                continue
            time.sleep(poll)  # let an editor finish saving
            if stamp() != now:
                continue
            seen = now
            started = time.perf_counter()
            try:
                result = pipeline.render(script, outdir, quiet_config)
            except StoryAudioError as exc:
                _err(str(exc))
                continue
            kept = result.reused
            line = (f"rendered again in {time.perf_counter() - started:.2f} s: {len(result.rendered_rows)} clips "
                    f"made, {kept.get('clips_kept', 0)} kept; {kept.get('mixed_seconds', 0):.1f} s of "
                    f"{result.timeline.duration:.1f} s mixed again; {result.loudness.integrated_lufs:.1f} LUFS")
            if not quiet:
                _print_problems(result.warnings)
                typer.echo(line)
            if timings:
                typer.echo("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))
    except KeyboardInterrupt:
        typer.echo("stopped watching", err=True)
        return 0


def _render_many(paths, out, config, quiet: bool, strict_loudness: bool, timings: bool, started: float) -> int:
    """Several scripts, each into OUT/<name> (see storyaudio.renders): a line per script, then the exit code
    of the worst outcome (2 bad input, 1 a backend failed, 3 a strict loudness miss)."""
    from . import renders
    from .outdir import check as check_outdir

    scripts = renders.expand(paths)
    outdirs = renders.output_folders(scripts, out or Path("outputs"))
    for d in outdirs:  # every folder is checked before anything renders
        check_outdir(d, config.force)
    _private_paths()
    outcomes = renders.render_all(scripts, outdirs, config, progress=not quiet)
    codes = []
    for o in outcomes:
        name = o.script.stem
        if o.error is not None:
            _err(f"{o.script}: {o.error}")
            codes.append(o.error.exit_code)
            continue
        lo = o.result.loudness
        if not quiet:
            _print_problems([f"{name}: {p}" for p in o.result.warnings])
            typer.echo(f"{name}: {o.result.timeline.duration:.1f} s, {lo.integrated_lufs:.1f} LUFS "
                       f"({lo.preset}: {'pass' if lo.passed else 'FAIL'}), clips rendered "
                       f"{len(o.result.rendered_rows)}, from cache {len(o.result.cached_rows)} -> {o.outdir}")
        if timings:
            shown = ", ".join(f"{k} {v:.2f} s" for k, v in o.result.timings.items())
            typer.echo(f"{name} timings: {shown}, total {o.seconds:.2f} s")
        if not lo.passed:
            if strict_loudness:
                _err(f"{name}: " + _loudness_miss(lo) + " (--strict-loudness)")
                codes.append(EXIT_LOUDNESS)
            elif not quiet:
                _warn(f"{name}: " + _loudness_miss(lo))
    if timings:
        typer.echo(f"timings: {len(scripts)} scripts, total {time.perf_counter() - started:.2f} s")
    for code in (2, 1, EXIT_LOUDNESS):
        if code in codes:
            return code
    return 0


@app.command()
def validate(
    script: Path = typer.Argument(..., help="Script file to check."),
    use: List[str] = UseOpt, set_: List[str] = SetOpt, voice: List[str] = VoiceOpt,
    preset: str = PresetOpt, allow_path: List[Path] = AllowPathOpt, lexicon: List[Path] = LexiconOpt,
):
    """Check a script as render would, before any audio is made: the schema and the rules, the backends it
    would use (known, installed), the options and pinned voices. Every problem is printed with its row and
    fix; warnings (worth a look, not stopping a render) go to stderr as `warning: ...`.

    Example: storyaudio validate examples/drama.tsv --use speech=espeak
    """
    from .script import read_script

    s = read_script(script)
    # the file, not the Script read above: its folder holds the cover and the File column's recordings
    problems = _pipeline().check(script, _config(use, set_, voice, preset, allow_path=allow_path, lexicon=lexicon))
    fg = [r for r in s.rows if r.layout == "foreground"]
    typer.echo(f"ok: '{s.title}', {len(s.rows)} rows ({len(fg)} foreground), "
               f"{len(s.characters())} speaking characters: {', '.join(s.characters()) or 'none'}")
    _print_problems(problems)


@app.command()
def convert(
    script: Path = typer.Argument(..., help="Script to read (.json, .tsv, .csv, .md, .fountain)."),
    out: Path = typer.Argument(..., help="Script to write; the format follows the extension."),
):
    """Convert a script between formats (validated on the way).

    Example: storyaudio convert story.fountain story.tsv
    """
    from .script import read_script, write_script

    write_script(read_script(script), out)
    typer.echo(f"wrote {out}")


@app.command()
def schema(strict: bool = typer.Option(False, "--strict", help="The OpenAI strict-output variant (with the "
                                       "extension columns the writer may use).")):
    """Print the audio script's JSON Schema, with the columns of the installed extensions."""
    from .script import load_schema, strict_schema

    typer.echo(json.dumps(strict_schema() if strict else load_schema(), indent=2))


@app.command()
def columns():
    """List the optional script columns (and script-wide fields) of the installed extensions.

    Example: storyaudio columns
    """
    from rich.table import Table

    from .columns import registry

    reg = registry()
    table = Table(title="optional script columns")
    for col in ("column", "JSON key", "rows", "writer", "extension", "description"):
        table.add_column(col, overflow="fold")
    for cls in reg.extensions:
        for c in cls.columns:
            table.add_row(c.header, c.key, c.where(), "yes" if c.writer else "", cls.name, c.description)
        for f in cls.fields:
            table.add_row(f"# {f.label}: ...", f.key, "script", "yes" if f.writer else "", cls.name, f.description)
    for name, why in reg.failed:
        table.add_row("?", "", "", "", name, f"[red]not loaded: {why}[/red]")
    _wide_console().print(table)


@app.command()
def backends():
    """List every backend: what it renders, whether it is the default, and whether it can run here."""
    from rich.table import Table

    from .backends import BUILTIN, DEFAULTS, available_backends

    table = Table(title="storyaudio backends")
    for col in ("name", "renders", "default for", "status", "description"):
        table.add_column(col, overflow="fold")
    classes = available_backends()
    for name in list(BUILTIN) + [n for n in classes if n not in BUILTIN]:
        cls = classes.get(name)
        if cls is None:
            table.add_row(name, "?", "", "[red]not installed in this version[/red]", "")
            continue
        default = ", ".join(k for k, v in DEFAULTS.items() if v == name)
        status = cls.status()
        colour = "green" if status == "available" else "yellow"
        table.add_row(name, ", ".join(cls.kinds), default, f"[{colour}]{status}[/{colour}]", cls.description)
    _wide_console().print(table)


@app.command()
def voices(
    backend: str = typer.Option("", "--backend", "-b", help="Speech backend (default: the default speech backend)."),
    set_: List[str] = SetOpt,
):
    """List the voices a speech backend offers for casting (pin one with --voice CHARACTER=NAME).

    Example: storyaudio voices --backend espeak
    """
    from rich.console import Console
    from rich.table import Table

    from .backends import DEFAULTS, create_backend, parse_set_options

    name = backend or DEFAULTS["speech"]
    b = create_backend(name, "speech", parse_set_options(set_).get(name))
    table = Table(title=f"voices of {name}")
    for col in ("voice", "gender", "age", "description"):
        table.add_column(col)
    for v in b.voices():
        table.add_row(v.name, v.gender, v.age, v.description)
    Console().print(table)


@app.command()
def effects(
    description: str = typer.Argument(..., help="What the sound effect row says."),
    top: int = typer.Option(5, "--top", help="How many matches to show."),
    backend: str = typer.Option("", "--backend", "-b", help="Effect backend (default: the default one)."),
):
    """Show which effects of the library a description would get, best first.

    Example: storyaudio effects "heavy rain on a tin roof"
    """
    from .backends import DEFAULTS, create_backend

    if top < 1:
        raise OptionError(f"--top {top}: show at least one match (--top 1 or more).")
    name = backend or DEFAULTS["sound_effect"]
    b = create_backend(name, "sound_effect")
    matches = b.search(description, top=top)
    if not matches:
        typer.echo(f"the {name} backend offers no search.")
        return
    for m in matches:
        typer.echo(f"{m.score:5.2f}  {m.name:<24} {m.description}")


# -- the writer ---------------------------------------------------------------------------------------------

def _prompt_text(prompt: Optional[str], prompt_file: Optional[Path]) -> str:
    if prompt_file is not None:
        try:
            return prompt_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read the prompt file {prompt_file}: {exc.strerror}.") from None
    if prompt is None or prompt == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UserError("give a prompt: storyaudio write \"PROMPT\" -o script.json (or -f FILE, or - for stdin).")
        return sys.stdin.read()
    return prompt


ModelOpt = typer.Option(None, "--model", "-m", help="Model name (default: gpt-4o-mini, or the server's).")
BaseUrlOpt = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL or OpenAI).")
ProviderOpt = typer.Option("openai", "--provider", help="openai (any compatible server) or llama-cpp (a local GGUF).")
GgufOpt = typer.Option(None, "--gguf", help="GGUF model file for --provider llama-cpp.")
RepairsOpt = typer.Option(3, "--max-repairs", help="Follow-up turns that send validation errors back.")
LogOpt = typer.Option(None, "--log-dir", help="Where to log every exchange (default on Linux: "
                      "~/.local/state/storyaudio/log/writer.jsonl; or $STORYAUDIO_LOG_DIR).")
MaxTokOpt = typer.Option(None, "--max-tokens", help="Cap on tokens per reply.")
NoExOpt = typer.Option(False, "--no-examples", help="Leave out the few-shot examples (small context windows).")
TempOpt = typer.Option(None, "--temperature", help="Sampling temperature.")
PromptFileOpt = typer.Option(None, "--prompt-file", "-f", help="Read the prompt from a file.")
MinutesOpt = typer.Option(None, "--minutes", help="Aim for a piece about this long (minutes of audio): the prompt "
                          "asks for it and a reply far off is sent back; over 10 minutes the piece is written as "
                          "an outline, then chapter by chapter.")
TimeoutOpt = typer.Option(120.0, "--timeout", help="Seconds to wait for each reply of the server (a request that "
                          "times out is not retried).")


class _Waiting:
    """The writer's status line on stderr while it waits for a reply: a spinner with the seconds waited on a
    terminal, one line per request otherwise."""

    @contextmanager
    def __call__(self, message: str) -> Iterator[None]:
        if not sys.stderr.isatty():
            typer.echo(f"{message} ...", err=True)
            yield
            return
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            bar.add_task(message, total=None)
            yield


def _generate(prompt, prompt_file, model, base_url, provider, gguf, max_repairs, log_dir, max_tokens,
              no_examples, temperature, timeout, quiet, minutes=None) -> dict:
    from .writer import generate_script

    if not timeout > 0:
        raise OptionError(f"--timeout {timeout:g}: give the seconds to wait for a reply, more than 0.")
    if minutes is not None:
        from .writer.length import check_minutes

        check_minutes(minutes)
    return generate_script(_prompt_text(prompt, prompt_file), provider=provider, model=model, base_url=base_url,
                           gguf=str(gguf) if gguf else None, max_repairs=max_repairs, log_dir=log_dir,
                           temperature=temperature, max_tokens=max_tokens, examples=not no_examples,
                           timeout=timeout, status=None if quiet else _Waiting(), minutes=minutes)


@app.command()
def write(
    prompt: Optional[str] = typer.Argument(None, help="The scene to write, or - to read stdin."),
    out: Path = typer.Option(..., "--out", "-o", help="Script file to write (.json, .tsv, .csv or .md)."),
    prompt_file: Optional[Path] = PromptFileOpt, model: Optional[str] = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt, provider: str = ProviderOpt, gguf: Optional[Path] = GgufOpt,
    max_repairs: int = RepairsOpt, log_dir: Optional[Path] = LogOpt, max_tokens: Optional[int] = MaxTokOpt,
    no_examples: bool = NoExOpt, temperature: Optional[float] = TempOpt, timeout: float = TimeoutOpt,
    quiet: bool = QuietOpt, minutes: Optional[float] = MinutesOpt,
):
    """Ask an LLM to write an audio script from a prompt; validated and repaired before it is saved.

    Example: storyaudio write "Mars News: an anchor, then a reporter..." -o mars.tsv --model gpt-4o-mini
    """
    from .script import Script, write_script
    from .script.io import format_of

    if quiet:
        _quiet()
    fmt = format_of(out)  # refuse a bad extension before spending tokens
    if fmt == "fountain":
        raise UserError(f"{out}: write the script as .json, .tsv, .csv or .md.")
    if out.is_dir():
        raise UserError(f"{out} is a folder. Name the script file to write with -o (e.g. -o script.tsv).")
    data = _generate(prompt, prompt_file, model, base_url, provider, gguf, max_repairs, log_dir, max_tokens,
                     no_examples, temperature, timeout, quiet, minutes)
    write_script(Script.from_dict(data), out)
    if not quiet:
        typer.echo(f"wrote {out}")


@app.command()
def compose(
    prompt: Optional[str] = typer.Argument(None, help="The scene to write and render, or - to read stdin."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder; the script is kept there as script.json."),
    prompt_file: Optional[Path] = PromptFileOpt, model: Optional[str] = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt, provider: str = ProviderOpt, gguf: Optional[Path] = GgufOpt,
    max_repairs: int = RepairsOpt, log_dir: Optional[Path] = LogOpt, max_tokens: Optional[int] = MaxTokOpt,
    no_examples: bool = NoExOpt, temperature: Optional[float] = TempOpt, timeout: float = TimeoutOpt,
    use: List[str] = UseOpt, set_: List[str] = SetOpt, voice: List[str] = VoiceOpt, preset: str = PresetOpt,
    sample_rate: int = RateOpt, seed: int = SeedOpt, gap: float = GapOpt, no_ducking: bool = NoDuckOpt,
    duck_db: float = DuckOpt, mp3: bool = Mp3Opt, no_stems: bool = NoStemsOpt, no_picture: bool = NoPicOpt,
    jobs: int = JobsOpt, no_cache: bool = NoCacheOpt, quiet: bool = QuietOpt, force: bool = ForceOpt,
    strict_loudness: bool = StrictOpt, timings: bool = TimingsOpt, allow_path: List[Path] = AllowPathOpt,
    lexicon: List[Path] = LexiconOpt, m4b: bool = M4bOpt, otio: bool = OtioOpt,
    minutes: Optional[float] = MinutesOpt,
):
    """Write a script from a prompt with an LLM, then render it exactly as `render` does.

    Example: storyaudio compose "A cosy audio drama about a lighthouse in a storm" -o outputs/lighthouse
    """
    from .outdir import check as check_outdir

    started = time.perf_counter()
    if quiet:
        _quiet()
    config = _config(use, set_, voice, preset, sample_rate, seed, gap, no_ducking, duck_db, mp3, no_stems,
                     no_picture, jobs, no_cache, quiet, force, allow_path, lexicon, m4b=m4b, otio=otio)
    check_outdir(out, force)  # before the LLM spends tokens
    data = _generate(prompt, prompt_file, model, base_url, provider, gguf, max_repairs, log_dir, max_tokens,
                     no_examples, temperature, timeout, quiet, minutes)
    _private_paths()
    result = _pipeline().render(data, out, config)
    return _finish(result, data, config, quiet, strict_loudness, timings, started)


# -- the entry point ----------------------------------------------------------------------------------------

_GLYPH = re.compile(r"Glyph \d+ .*missing from (current )?font")


class _Warnings:
    """Python warnings (ours and the libraries') printed as one `warning: ...` line each, each once; the
    missing-glyph warnings matplotlib gives per character become one line."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split())
        if _GLYPH.search(text):
            text = "timeline.png: some characters are not in the picture's font and show as boxes."
        if text in self.seen:
            return
        self.seen.add(text)
        _warn(text)


def _usage_types() -> tuple[type, ...]:
    """The exception classes of click as typer uses it: typer >= 0.19 carries its own copy (typer._click),
    whose classes derive from typer.TyperException; older typers raise click's."""
    types: list[type] = [t for t in (getattr(typer, "TyperException", None),) if t is not None]
    try:
        import click

        types.append(click.ClickException)
    except ImportError:
        pass
    return tuple(types)


def _abort_types() -> tuple[type, ...]:
    types: list[type] = [typer.Abort]
    try:
        import click

        types.append(click.exceptions.Abort)
    except ImportError:
        pass
    return tuple(types)


def _usage_message(exc) -> str:
    """One line: what is wrong, the command's usage, and where the help is."""
    ctx = getattr(exc, "ctx", None)
    msg = " ".join(exc.format_message().split()) if type(exc).__name__ != "NoArgsIsHelpError" else "no command."
    if not msg.endswith((".", "?", "!")):
        msg += "."
    if ctx is None:
        return f"{msg} See 'storyaudio --help'."
    usage = " ".join(ctx.get_usage().split())
    usage = usage[len("Usage:"):].strip() if usage.startswith("Usage:") else usage
    # typer writes a required argument as {script} and an optional one as [prompt]
    usage = re.sub(r"\{([a-z_]+)\}", lambda m: m.group(1).upper(), usage)
    usage = re.sub(r"\[([a-z_]+)\]", lambda m: f"[{m.group(1).upper()}]", usage)
    line = f"{msg} Usage: {usage}"
    commands = getattr(ctx.command, "list_commands", None)
    if commands is not None:
        line += f" (commands: {', '.join(commands(ctx))})"
    return f"{line}; see '{ctx.command_path} --help'."


def _interrupted() -> int:
    _err("interrupted.")
    return EXIT_INTERRUPTED


@app.command()
def studio(
    project: Path = typer.Option(Path("outputs/studio"), "--project", help="Folder of the script and every render."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; another than this one needs --auth."),
    port: int = typer.Option(7860, "--port", help="Port to listen on."),
    auth: Optional[str] = typer.Option(None, "--auth", help="USER:PASS the page asks for."),
):
    """Open the browser studio to write, edit, validate, audition and render a script (needs the 'studio' extra).

    Example: storyaudio studio --project outputs/mars, then open http://127.0.0.1:7860
    """
    from .studio import serve

    serve(project, host=host, port=port, auth=auth)


from .cli_clipsonic import app as _clipsonic_app  # noqa: E402  (the `storyaudio clipsonic` sub-commands)
app.add_typer(_clipsonic_app, name="clipsonic")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; every error becomes one message and an exit code (see the module docstring)."""
    import logging

    # onnxruntime (piper) writes a device id and a telemetry database under ~/.cache unless told not to
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    with warnings.catch_warnings():
        warnings.showwarning = _Warnings()
        try:
            rv = app(args=argv, prog_name="storyaudio", standalone_mode=False)
        except StoryAudioError as exc:
            _err(str(exc))
            return exc.exit_code
        except KeyboardInterrupt:
            return _interrupted()
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 0
        except Exception as exc:
            if isinstance(exc, _abort_types()):  # older typers turn Ctrl-C into Abort
                if isinstance(exc.__context__, KeyboardInterrupt):
                    return _interrupted()
                _err("aborted.")
                return 1
            if isinstance(exc, _usage_types()):  # a usage error: click's exception class, not ours
                _err(_usage_message(exc))
                return EXIT_USAGE
            raise
        finally:
            logging.disable(logging.NOTSET)  # -q turned the libraries' logging off for this command
        # Without standalone mode, typer returns the command's return value, or the exit code of a
        # typer.Exit; it turns Ctrl-C into Exit(130) (which it would otherwise report as a silent exit 0).
        if rv == EXIT_INTERRUPTED:
            return _interrupted()
        return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
