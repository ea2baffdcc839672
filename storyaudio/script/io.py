"""Read and write scripts in every format: canonical JSON, TSV and CSV tables, Markdown tables (all in
:mod:`storyaudio.script.tables`), screenplay text (:mod:`storyaudio.script.fountain`, read only).

The format follows the file's extension. Every writer round-trips through its reader without loss; readers
that had to drop something (a screenplay cue with nothing to render) say so in ``Script.warnings``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import Problem, ScriptReadError
from .model import Script
from .tables import HEADERS, read_delimited, read_markdown, write_delimited, write_markdown

__all__ = ["FORMATS", "HEADERS", "format_of", "parse_script_text", "read_script", "script_to_text", "write_script"]

FORMATS = {".json": "json", ".tsv": "tsv", ".csv": "csv", ".md": "md", ".markdown": "md",
           ".fountain": "fountain", ".txt": "fountain"}


def parse_script_text(text: str, fmt: str, source: str = "<script>", *,
                      warnings: list[Problem] | None = None) -> dict:
    """Parse text of a format (json, tsv, csv, md, fountain) into a canonical dict, not yet validated.
    What a reader had to drop or ignore is appended to ``warnings`` when a list is given."""
    if fmt == "json":
        try:
            return json.loads(text)  # NaN and Infinity load as floats; validation names their row and field
        except json.JSONDecodeError as exc:
            raise ScriptReadError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
        except RecursionError:
            raise ScriptReadError(f"{source}: the JSON is nested too deeply to be a script.") from None
    if fmt == "tsv":
        return read_delimited(text, "\t", source)
    if fmt == "csv":
        return read_delimited(text, None, source)
    if fmt == "md":
        return read_markdown(text, source, warnings)
    if fmt == "fountain":
        from .fountain import parse_fountain

        return parse_fountain(text, title=Path(source).stem if source != "<script>" else None, warnings=warnings)
    raise ScriptReadError(f"unknown script format '{fmt}'.")


def format_of(path: str | os.PathLike) -> str:
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ScriptReadError(
            f"{path}: unknown script extension '{ext or '(none)'}'. Use .json, .tsv, .csv, .md or .fountain.")
    return FORMATS[ext]


def read_script(path: str | os.PathLike) -> Script:
    """Read and validate a script file; the format follows the extension. ``Script.warnings`` holds the
    reader's warnings, then the rules' ones."""
    p = Path(path)
    fmt = format_of(p)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScriptReadError(f"{p}: no such file.") from None
    except UnicodeDecodeError:
        raise ScriptReadError(f"{p}: not UTF-8 text. Save the file as UTF-8.") from None
    except OSError as exc:
        raise ScriptReadError(f"{p}: cannot read it ({exc.strerror}).") from None
    reader_warnings: list[Problem] = []
    script = Script.from_dict(parse_script_text(text, fmt, str(p), warnings=reader_warnings), source=str(p))
    script.warnings[:0] = reader_warnings
    return script


def script_to_text(script: Script, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(script.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt == "tsv":
        return write_delimited(script, "\t")
    if fmt == "csv":
        return write_delimited(script, ",")
    if fmt == "md":
        return write_markdown(script)
    raise ScriptReadError(f"cannot write scripts as '{fmt}': use .json, .tsv, .csv or .md.")


def write_script(script: Script, path: str | os.PathLike) -> Path:
    """Write a script in the format its extension names, atomically."""
    from ..atomic import atomic_write_text

    p = Path(path)
    fmt = format_of(p)
    if fmt == "fountain":
        raise ScriptReadError(f"{p}: storyaudio reads screenplays but writes tables: use .json, .tsv, .csv or .md.")
    atomic_write_text(p, script_to_text(script, fmt))
    return p
