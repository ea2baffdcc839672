"""Read and write scripts: canonical JSON, TSV and CSV tables, Markdown tables, screenplay text.

Tables use exactly the headers ``Audio Type, Layout, ID, Character, Volume, Action, Content Description,
Duration`` (any case, any order) and the table's spellings (``Sound effect``, ``Background``, ``N/A``,
``Auto``, ``Begin``, ``End``). Optional comment lines before the table carry what a table cannot:
``# Title: Mars News`` and ``# Cast: Name | description | voice``. Every writer round-trips through its reader.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import Problem, ScriptError, ScriptReadError
from .model import ROW_KEYS, Script

HEADERS = ("Audio Type", "Layout", "ID", "Character", "Volume", "Action", "Content Description", "Duration")
_HEADER_KEY = {h.lower(): k for h, k in zip(HEADERS, ROW_KEYS)}
_HEADER_KEY.update({"content": "content", "audio_type": "audio_type", "description": "content", "type": "audio_type"})

_TYPE = {"speech": "speech", "music": "music", "sound effect": "sound_effect", "sound_effect": "sound_effect",
         "soundeffect": "sound_effect", "sfx": "sound_effect", "effect": "sound_effect", "sound": "sound_effect"}
_TYPE_OUT = {"speech": "Speech", "music": "Music", "sound_effect": "Sound effect"}
_NA = {"", "n/a", "na", "none", "null", "-", "—"}
FORMATS = {".json": "json", ".tsv": "tsv", ".csv": "csv", ".md": "md", ".markdown": "md",
           ".fountain": "fountain", ".txt": "fountain"}


def _cell(value: str, key: str, row: int, problems: list[Problem]) -> Any:
    """Turn one table cell into its canonical JSON value (problems are collected, not raised)."""
    text = (value or "").strip()
    low = text.lower()
    if low in _NA and key != "duration":
        return None
    if key == "audio_type":
        if low in _TYPE:
            return _TYPE[low]
        problems.append(Problem(row, key, f"'{text}' is not an audio type.", "write Speech, Music or Sound effect."))
        return text
    if key == "layout":
        return low if low in ("foreground", "background") else text
    if key == "action":
        return low if low in ("begin", "end") else text
    if key == "id":
        try:
            return int(float(text))
        except ValueError:
            problems.append(Problem(row, key, f"'{text}' is not a track id.", "write a whole number, or N/A."))
            return text
    if key == "volume":
        m = re.fullmatch(r"([+-]?\d+(?:\.\d+)?)\s*(?:lufs|db|lu)?", low)
        if not m:
            problems.append(Problem(row, key, f"'{text}' is not a loudness.", "write a number of LUFS such as -15, or N/A."))
            return text
        return _number(m.group(1))
    if key == "duration":
        if low in _NA:
            return None
        if low == "auto":
            return "auto"
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)?", low)
        if not m:
            problems.append(Problem(row, key, f"'{text}' is not a duration.", "write seconds such as 4.5, or Auto."))
            return text
        return _number(m.group(1))
    return text  # character, content


def _number(text: str) -> int | float:
    f = float(text)
    return int(f) if f.is_integer() else f


def _format_cell(value: Any, key: str) -> str:
    if value is None:
        return "N/A"
    if key == "audio_type":
        return _TYPE_OUT.get(value, str(value))
    if key in ("layout", "action") or value == "auto":
        return str(value).capitalize()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cast_entry(name: str, description: str, voice: str) -> dict:
    """A cast list entry from table cells (N/A and empty cells become null)."""
    return {"name": name, "description": None if description.lower() in _NA else description,
            "voice": None if voice.lower() in _NA else voice}


def _meta_lines(lines: list[str]) -> tuple[str | None, list[dict]]:
    title, cast = None, []
    for line in lines:
        body = line.lstrip("#").strip()
        key, _, rest = body.partition(":")
        if key.strip().lower() == "title" and rest.strip():
            title = rest.strip()
        elif key.strip().lower() == "cast" and rest.strip():
            parts = [p.strip() for p in rest.split("|")] + ["", ""]
            cast.append(_cast_entry(*parts[:3]))
    return title, cast


def table_to_dict(header: list[str], records: list[list[str]], title: str | None, cast: list[dict],
                  source: str) -> dict:
    """Map a parsed table to the canonical dict; raises ScriptError naming rows and cells it cannot read."""
    keys = []
    for h in header:
        k = _HEADER_KEY.get(h.strip().lower())
        if k is None:
            raise ScriptReadError(
                f"{source}: unknown column '{h.strip()}'. The table's columns are: {', '.join(HEADERS)}.")
        keys.append(k)
    missing = [HEADERS[ROW_KEYS.index(k)] for k in ROW_KEYS if k not in keys]
    if missing:
        raise ScriptReadError(f"{source}: the table lacks the column(s) {', '.join(missing)}. "
                              f"Its header must name: {', '.join(HEADERS)}.")
    problems: list[Problem] = []
    rows = []
    for n, rec in enumerate(records, start=1):
        if len(rec) != len(keys):
            problems.append(Problem(n, None, f"has {len(rec)} cells, the header has {len(keys)}.",
                                    "give every row one cell per column (N/A for empty ones)."))
            continue
        rows.append({k: _cell(v, k, n, problems) for k, v in zip(keys, rec)})
    out: dict[str, Any] = {"title": title or Path(source).stem.replace("_", " ").strip() or "Untitled"}
    if cast:
        out["cast"] = cast
    out["rows"] = rows
    if problems:
        # report the unreadable cells and, with those cells blanked, every other problem of the script
        bad = {(p.row, p.field) for p in problems}
        for n, r in enumerate(rows, start=1):
            for key in list(r):
                if (n, key) in bad:
                    r[key] = None
        from .model import check

        problems += [p for p in check(out) if (p.row, p.field) not in bad]
        raise ScriptError(sorted(problems, key=lambda p: (p.row or 0)), source)
    return out


def _read_delimited(text: str, delimiter: str, source: str) -> dict:
    lines = text.splitlines()
    meta = [ln for ln in lines if ln.lstrip().startswith("#")]
    body = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        raise ScriptReadError(f"{source}: no table found. The first row must be the header: {', '.join(HEADERS)}.")
    records = list(csv.reader(body, delimiter=delimiter))
    title, cast = _meta_lines(meta)
    return table_to_dict(records[0], records[1:], title, cast, source)


def _split_md(line: str) -> list[str]:
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|") and not inner.endswith("\\|"):
        inner = inner[:-1]
    cells = re.split(r"(?<!\\)\|", inner)
    return [c.strip().replace("\\|", "|") for c in cells]


def _read_markdown(text: str, source: str) -> dict:
    lines = text.splitlines()
    title = None
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for ln in lines:
        s = ln.strip()
        if s.startswith("# ") and title is None:
            title = s[2:].strip()
        if s.startswith("|"):
            if re.fullmatch(r"\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?", s):
                continue
            if current is None:
                current = []
                tables.append(current)
            current.append(_split_md(s))
        else:
            current = None
    script_table = next((t for t in tables if t and "audio type" in [c.lower() for c in t[0]]), None)
    if script_table is None:
        raise ScriptReadError(f"{source}: no Markdown table with the header | {' | '.join(HEADERS)} |.")
    cast = []
    for t in tables:
        if t is not script_table and t and [c.lower() for c in t[0]][:1] == ["character"]:
            for rec in t[1:]:
                rec = rec + ["", ""]
                cast.append(_cast_entry(*rec[:3]))
    _, meta_cast = _meta_lines([ln for ln in lines if ln.strip().lower().startswith("cast:")])
    return table_to_dict(script_table[0], script_table[1:], title, cast or meta_cast, source)


def parse_script_text(text: str, fmt: str, source: str = "<script>") -> dict:
    """Parse text of a format (json, tsv, csv, md, fountain) into a canonical dict, not yet validated."""
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScriptReadError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    if fmt == "tsv":
        return _read_delimited(text, "\t", source)
    if fmt == "csv":
        return _read_delimited(text, ",", source)
    if fmt == "md":
        return _read_markdown(text, source)
    if fmt == "fountain":
        from .fountain import parse_fountain

        return parse_fountain(text, title=Path(source).stem if source != "<script>" else None)
    raise ScriptReadError(f"unknown script format '{fmt}'.")


def format_of(path: str | os.PathLike) -> str:
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ScriptReadError(
            f"{path}: unknown script extension '{ext or '(none)'}'. Use .json, .tsv, .csv, .md or .fountain.")
    return FORMATS[ext]


def read_script(path: str | os.PathLike) -> Script:
    """Read and validate a script file; the format follows the extension."""
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
    return Script.from_dict(parse_script_text(text, fmt, str(p)), source=str(p))


def script_to_text(script: Script, fmt: str) -> str:
    data = script.to_dict()
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt in ("tsv", "csv"):
        buf = io.StringIO()
        buf.write(f"# Title: {script.title}\n")
        for c in script.cast:
            buf.write(f"# Cast: {c.name} | {c.description or 'N/A'} | {c.voice or 'N/A'}\n")
        w = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        w.writerow(HEADERS)
        for r in data["rows"]:
            w.writerow([_format_cell(r[k], k) for k in ROW_KEYS])
        return buf.getvalue()
    if fmt == "md":
        esc = lambda s: s.replace("|", "\\|").replace("\n", " ")  # noqa: E731
        out = [f"# {script.title}", ""]
        if script.cast:
            out += ["## Cast", "", "| Character | Description | Voice |", "| --- | --- | --- |"]
            out += [f"| {esc(c.name)} | {esc(c.description or 'N/A')} | {esc(c.voice or 'N/A')} |" for c in script.cast]
            out += ["", "## Script", ""]
        out.append("| " + " | ".join(HEADERS) + " |")
        out.append("|" + "|".join(" --- " for _ in HEADERS) + "|")
        for r in data["rows"]:
            out.append("| " + " | ".join(esc(_format_cell(r[k], k)) for k in ROW_KEYS) + " |")
        return "\n".join(out) + "\n"
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
