"""The storyaudio command line: parse, call the library, print, exit.

Exit codes: 0 success; 2 bad input (script, option, missing dependency: one readable message, no
traceback); 1 a render failure that is not the user's doing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .errors import OptionError, StoryAudioError, UserError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Turn an audio script (or a prompt) into finished, loudness-correct audio.\n\n"
    "Example: storyaudio render examples/news.tsv -o outputs/news",
)

_KIND_ALIASES = {"speech": "speech", "voice": "speech", "music": "music", "sound_effect": "sound_effect",
                 "sound-effect": "sound_effect", "effect": "sound_effect", "effects": "sound_effect",
                 "sfx": "sound_effect"}


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


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
            raise OptionError(f"--use {kind}={name}: unknown audio type '{kind}'. Use speech, music or sound_effect.")
        out[k] = name
    return out


def _config(use, set_, voice, preset, sample_rate, seed, gap, no_ducking, duck_db, mp3, no_stems, no_picture,
            jobs, no_cache, quiet):
    from pydantic import ValidationError

    from .backends import parse_set_options
    from .render import RenderConfig

    try:
        return RenderConfig(
            use=_use(use), options=parse_set_options(set_),
            voices=_pairs(voice, "--voice", "CHARACTER=VOICE (e.g. --voice 'News Anchor=walter')"),
            preset=preset, sample_rate=sample_rate, seed=seed, speech_gap=gap, ducking=not no_ducking,
            duck_db=duck_db, mp3=mp3, stems=not no_stems, picture=not no_picture, jobs=jobs, cache=not no_cache,
            progress=not quiet)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise OptionError(f"--{field.replace('_', '-')}: {first['msg']}.") from None


# Render options are shared by `render` and `compose`.
UseOpt = typer.Option([], "--use", help="Backend per audio type, KIND=NAME (e.g. --use music=composer). Repeatable.")
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
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar or summary.")


def _wide_console():
    """A rich console at least 120 columns wide, so tables do not wrap in a narrow or piped terminal."""
    from rich.console import Console

    return Console(width=max(120, Console().width))


def _report(result, quiet: bool) -> None:
    if quiet:
        return
    from rich.table import Table

    console = _wide_console()
    tl = result.timeline
    table = Table(title=f"{tl.title} — {tl.duration:.1f} s", show_lines=False)
    for col in ("row", "type", "start", "end", "who / what", "made by"):
        table.add_column(col)
    for e in sorted(tl.events, key=lambda e: e.row):
        who = e.character or (e.content[:40] + ("…" if len(e.content) > 40 else ""))
        table.add_row(str(e.row), e.audio_type.replace("_", " "), f"{e.start:.2f}", f"{e.end:.2f}", who,
                      e.detail[:70])
    console.print(table)
    lo = result.loudness
    verdict = "[green]pass[/green]" if lo.passed else "[red]FAIL[/red]"
    console.print(f"loudness {lo.integrated_lufs:.1f} LUFS, true peak {lo.true_peak_dbtp:.1f} dBTP, "
                  f"LRA {lo.loudness_range_lu:.1f} LU — {lo.preset}: {verdict}")
    console.print(f"clips rendered {len(result.rendered_rows)}, from cache {len(result.cached_rows)}")
    console.print(f"wrote {result.outdir}/mix.wav and {len(result.files) - 1} more")


@app.command()
def render(
    script: Path = typer.Argument(..., help="Script file: .json, .tsv, .csv, .md or .fountain."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: outputs/<script name>)."),
    use: List[str] = UseOpt, set_: List[str] = SetOpt, voice: List[str] = VoiceOpt, preset: str = PresetOpt,
    sample_rate: int = RateOpt, seed: int = SeedOpt, gap: float = GapOpt, no_ducking: bool = NoDuckOpt,
    duck_db: float = DuckOpt, mp3: bool = Mp3Opt, no_stems: bool = NoStemsOpt, no_picture: bool = NoPicOpt,
    jobs: int = JobsOpt, no_cache: bool = NoCacheOpt, quiet: bool = QuietOpt,
):
    """Render a script into OUT: mix.wav, stems/, clips/, timeline.json/png, subtitles, loudness.json.

    Example: storyaudio render examples/news.tsv -o outputs/news --mp3 --use music=composer
    """
    from .render import render as do_render

    config = _config(use, set_, voice, preset, sample_rate, seed, gap, no_ducking, duck_db, mp3, no_stems,
                     no_picture, jobs, no_cache, quiet)
    outdir = out or Path("outputs") / script.stem
    _report(do_render(script, outdir, config), quiet)


@app.command()
def validate(script: Path = typer.Argument(..., help="Script file to check.")):
    """Check a script against the schema and the rules; print every problem with its row and fix.

    Example: storyaudio validate examples/drama.tsv
    """
    from .script import read_script

    s = read_script(script)
    fg = [r for r in s.rows if r.layout == "foreground"]
    typer.echo(f"ok: '{s.title}', {len(s.rows)} rows ({len(fg)} foreground), "
               f"{len(s.characters())} speaking characters: {', '.join(s.characters()) or 'none'}")


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
def schema(strict: bool = typer.Option(False, "--strict", help="The OpenAI strict-output variant.")):
    """Print the audio script's JSON Schema."""
    from .script import load_schema, strict_schema

    typer.echo(json.dumps(strict_schema() if strict else load_schema(), indent=2))


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


def _generate(prompt, prompt_file, model, base_url, provider, gguf, max_repairs, log_dir, max_tokens,
              no_examples, temperature) -> dict:
    from .writer import generate_script

    return generate_script(_prompt_text(prompt, prompt_file), provider=provider, model=model, base_url=base_url,
                           gguf=str(gguf) if gguf else None, max_repairs=max_repairs, log_dir=log_dir,
                           temperature=temperature, max_tokens=max_tokens, examples=not no_examples)


@app.command()
def write(
    prompt: Optional[str] = typer.Argument(None, help="The scene to write, or - to read stdin."),
    out: Path = typer.Option(..., "--out", "-o", help="Script file to write (.json, .tsv, .csv or .md)."),
    prompt_file: Optional[Path] = PromptFileOpt, model: Optional[str] = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt, provider: str = ProviderOpt, gguf: Optional[Path] = GgufOpt,
    max_repairs: int = RepairsOpt, log_dir: Optional[Path] = LogOpt, max_tokens: Optional[int] = MaxTokOpt,
    no_examples: bool = NoExOpt, temperature: Optional[float] = TempOpt,
):
    """Ask an LLM to write an audio script from a prompt; validated and repaired before it is saved.

    Example: storyaudio write "Mars News: an anchor, then a reporter..." -o mars.tsv --model gpt-4o-mini
    """
    from .script import Script, write_script
    from .script.io import format_of

    fmt = format_of(out)  # refuse a bad extension before spending tokens
    if fmt == "fountain":
        raise UserError(f"{out}: write the script as .json, .tsv, .csv or .md.")
    data = _generate(prompt, prompt_file, model, base_url, provider, gguf, max_repairs, log_dir, max_tokens,
                     no_examples, temperature)
    write_script(Script.from_dict(data), out)
    typer.echo(f"wrote {out}")


@app.command()
def compose(
    prompt: Optional[str] = typer.Argument(None, help="The scene to write and render, or - to read stdin."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder; the script is kept there as script.json."),
    prompt_file: Optional[Path] = PromptFileOpt, model: Optional[str] = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt, provider: str = ProviderOpt, gguf: Optional[Path] = GgufOpt,
    max_repairs: int = RepairsOpt, log_dir: Optional[Path] = LogOpt, max_tokens: Optional[int] = MaxTokOpt,
    no_examples: bool = NoExOpt, temperature: Optional[float] = TempOpt,
    use: List[str] = UseOpt, set_: List[str] = SetOpt, voice: List[str] = VoiceOpt, preset: str = PresetOpt,
    sample_rate: int = RateOpt, seed: int = SeedOpt, gap: float = GapOpt, no_ducking: bool = NoDuckOpt,
    duck_db: float = DuckOpt, mp3: bool = Mp3Opt, no_stems: bool = NoStemsOpt, no_picture: bool = NoPicOpt,
    jobs: int = JobsOpt, no_cache: bool = NoCacheOpt, quiet: bool = QuietOpt,
):
    """Write a script from a prompt with an LLM, then render it exactly as `render` does.

    Example: storyaudio compose "A cosy audio drama about a lighthouse in a storm" -o outputs/lighthouse
    """
    from .render import render as do_render

    config = _config(use, set_, voice, preset, sample_rate, seed, gap, no_ducking, duck_db, mp3, no_stems,
                     no_picture, jobs, no_cache, quiet)
    data = _generate(prompt, prompt_file, model, base_url, provider, gguf, max_repairs, log_dir, max_tokens,
                     no_examples, temperature)
    _report(do_render(data, out, config), quiet)


from .cli_clipsonic import app as _clipsonic_app  # noqa: E402  (the `storyaudio clipsonic` sub-commands)
app.add_typer(_clipsonic_app, name="clipsonic")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning storyaudio errors into one message and an exit code."""
    try:
        app(args=argv, standalone_mode=False)
    except StoryAudioError as exc:
        _err(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted; nothing in the output folder was changed.")
        return 130
    except SystemExit as exc:  # typer/click exits (--help, usage errors)
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
