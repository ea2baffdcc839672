"""Tables: TSV and CSV files and Markdown documents <-> the canonical script dict.

**Columns.** The header names exactly ``Audio Type, Layout, ID, Character, Volume, Action, Content Description,
Duration`` (any case, any order; ``Content``, ``Description`` and ``Type`` are accepted too). A column named
twice is an error; empty columns without a header (spreadsheets export them) are ignored, and so are rows
whose cells are all empty. The cells use the table spellings (``Sound effect``, ``Background``, ``N/A``,
``Auto``, ``Begin``, ``End``) and the escapes of :mod:`storyaudio.script.cells`. The installed extensions'
columns (``Pan``, ``Fade In``, ``File``...: :mod:`storyaudio.columns`) may follow, in any order; each reads and
writes its own cells, and writers add only the ones some row sets. Any other header is an error listing the
known ones.

**Comment lines** (TSV and CSV) carry what a table row cannot, one ``# Key: value`` per line:

* ``# Title: Mars News``; ``# Cast: Name | description | voice`` (one per character; ``\\|`` is a pipe);
* episode metadata: ``# Author:``, ``# Album:`` (or ``# Show:``), ``# Year: 2024``, ``# Cover: cover.jpg`` (a
  path relative to the script's folder), ``# Description:``;
* ``# Chapter: The Storm`` between table rows: a chapter starts at the next row;
* the extensions' script-wide fields, one line per item (``# Say: Kuiper = KY-per``).

Other comment lines are notes and are ignored. A CSV's delimiter (``,`` or ``;``, or a tab) is the one that
splits its header into known columns.

**Markdown**: the first ``# `` heading is the title; an ``## About`` table (``| Field | Value |``) holds the
metadata (``Author: ...`` lines are read too); an ``## Cast`` table (``| Character | Description | Voice |``)
the cast; the script table follows. Chapters are headings ``## Chapter: The Storm`` between segments of the
script table; each segment repeats the header row (so the document stays a valid Markdown table document),
and the reader joins the segments into one script. Extension fields are ``Say: ...`` lines (a list item or
not), written under a heading of their own (``## Pronunciation``). Cells escape ``|`` as ``\\|`` and ``\\``
as ``\\\\``.

Every writer here round-trips through its reader without loss.
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..columns import registry
from ..errors import Problem, ScriptError, ScriptReadError
from .cells import (HEADER_KEY, HEADERS, META_KEYS, ROW_KEYS, escape_pipes, read_cell, read_text, split_pipes,
                    write_cell)
from .model import Script, check

#: Comment-line keys of the metadata (``show`` is another name for the album).
_META_ALIASES = {"author": "author", "album": "album", "show": "album", "year": "year", "cover": "cover",
                 "description": "description"}
_META_LABEL = {"author": "Author", "album": "Album", "year": "Year", "cover": "Cover", "description": "Description"}
_DELIMITER_ROW = re.compile(r"\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_MD_META_LINE = re.compile(r"^(?:[-*+]\s+)?(author|album|show|year|cover|description)\s*:\s*(.+)$", re.IGNORECASE)


@dataclass
class _Front:
    """What the lines around a table say: title, cast, metadata, chapters (by the index of the row they start
    at), and problems found on the way."""

    title: str | None = None
    cast: list[dict] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    chapters: dict[int, str] = field(default_factory=dict)
    extra: dict[str, list] = field(default_factory=dict)  # extension fields (the lexicon): key -> items
    problems: list[Problem] = field(default_factory=list)
    unread: set[int] = field(default_factory=set)  # rows whose cells do not fit the header

    def line(self, text: str, next_row: int) -> None:
        """One ``# Key: value`` comment (the ``#`` may be absent); ``next_row`` is the 0-based index of the row
        that follows it."""
        key, sep, rest = text.lstrip().lstrip("#").strip().partition(":")
        key, rest = key.strip().lower(), rest.strip()
        if not sep:
            return
        if key == "title" and rest:
            self.title = rest
        elif key == "cast" and rest:
            parts = split_pipes(rest) + ["", ""]
            self.cast.append(cast_entry(*parts[:3]))
        elif key == "chapter":
            self.chapter(rest, next_row)
        elif key in _META_ALIASES and rest:
            self.set_meta(key, rest)
        elif key in registry().by_label:
            self.field_line(key, rest)

    def field_line(self, label: str, text: str) -> None:
        """One line of an extension's script field (``# Say: Kuiper = KY-per``)."""
        f = registry().by_label[label]
        try:
            self.extra.setdefault(f.key, []).append(f.read_line(text))
        except ValueError as exc:
            self.problems.append(Problem(None, f.key, f"'{f.label}: {text[:60]}': {exc}.", f.fix))

    def set_meta(self, key: str, value: str) -> None:
        key = _META_ALIASES[key]
        self.meta[key] = int(value) if key == "year" and re.fullmatch(r"\d{4}", value) else value

    def chapter(self, title: str, next_row: int) -> None:
        if not title:
            self.problems.append(Problem(next_row + 1, "chapter", "a '# Chapter:' line has no title.",
                                         "write the chapter's title after the colon: # Chapter: The Storm."))
        elif next_row in self.chapters:
            self.problems.append(Problem(next_row + 1, "chapter", f"two chapters start at this row "
                                         f"('{self.chapters[next_row]}' and '{title}').",
                                         "remove one of the chapter lines, or put rows between them."))
        else:
            self.chapters[next_row] = title

    def apply(self, out: dict, rows: list[dict]) -> None:
        """Put metadata and chapters into the script dict ``out`` whose rows are ``rows``."""
        for key in META_KEYS:
            if key in self.meta:
                out[key] = self.meta[key]
        out.update(self.extra)
        for index, title in sorted(self.chapters.items()):
            if index < len(rows):
                rows[index]["chapter"] = title
            else:
                self.problems.append(Problem(None, "chapter", f"chapter '{title}' has no rows after it.",
                                             "put the chapter line above the row where the chapter starts, or "
                                             "remove it."))


def cast_entry(name: str, description: str, voice: str) -> dict:
    """A cast list entry from table cells (``N/A`` and empty cells become null)."""
    return {"name": name, "description": read_text(description.strip()), "voice": read_text(voice.strip())}


# -- rows ---------------------------------------------------------------------------------------------------

def _columns(header: list[str], records: list[list[str]], source: str) -> list[tuple[int, str]]:
    """``(cell index, row key)`` of each column the header names. Raises ScriptReadError for an unknown,
    duplicate or missing column, or a headerless column that holds something."""
    columns: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        name = h.strip()
        if not name:
            filled = next(((n, rec[i].strip()) for n, rec in enumerate(records, start=1)
                           if i < len(rec) and rec[i].strip()), None)
            if filled:
                raise ScriptReadError(
                    f"{source}: column {i + 1} has no header, but row {filled[0]} has '{filled[1][:40]}' in it. "
                    f"Give the column a header ({', '.join(HEADERS)}) or delete it.")
            continue  # an empty column, as spreadsheets export them
        key = HEADER_KEY.get(name.lower())
        if key is None:
            ext = registry().by_header.get(name.lower())
            key = ext.key if ext is not None else None
        if key is None:
            reg = registry()
            optional = f"; optional columns: {', '.join(reg.headers())}" if reg.columns else ""
            raise ScriptReadError(
                f"{source}: unknown column '{name}'. The table's columns are: {', '.join(HEADERS)}{optional} "
                f"('storyaudio columns' describes them).{reg.why_missing()}")
        if key in seen:
            first = seen[key]
            raise ScriptReadError(
                f"{source}: columns {first + 1} ('{header[first].strip()}') and {i + 1} ('{name}') both give the "
                f"{_header_of(key)}. Keep one column per field.")
        seen[key] = i
        columns.append((i, key))
    missing = [HEADERS[ROW_KEYS.index(k)] for k in ROW_KEYS if k not in seen]
    if missing:
        raise ScriptReadError(f"{source}: the table lacks the column(s) {', '.join(missing)}. "
                              f"Its header must name: {', '.join(HEADERS)}.")
    return columns


def _header_of(key: str) -> str:
    return HEADERS[ROW_KEYS.index(key)] if key in ROW_KEYS else registry().by_key[key].header


def _read(value: str, key: str, row: int, problems: list[Problem]) -> Any:
    """One cell: a core column through :func:`read_cell`, an extension column through its own reader."""
    if key in ROW_KEYS:
        return read_cell(value, key, row, problems)
    col = registry().by_key[key]
    text = (value or "").strip()
    try:
        return col.read_cell(text)
    except ValueError as exc:
        problems.append(Problem(row, key, f"{exc} ({col.header} column).", col.fix))
        return text


def _used_columns(script: Script) -> list:
    """The extension columns some row of the script sets, in registry order."""
    used = {k for r in script.rows for k in r.extra}
    return [c for c in registry().columns if c.key in used]


def _cells(row, columns: list) -> list[str]:
    data = row.to_dict()
    return [write_cell(data[k], k) for k in ROW_KEYS] + [c.write_cell(row.extra.get(c.key)) for c in columns]


def _field_lines(script: Script) -> list[tuple[str, str]]:
    """``(label, text)`` of every line of the script's extension fields."""
    return [(f.label, f.write_line(item)) for f in registry().fields for item in script.extra.get(f.key) or []]


def _rows(header: list[str], records: list[list[str]], first: int, source: str, front: _Front) -> list[dict]:
    """Rows from one table's records (numbered from ``first``); unreadable cells become problems."""
    problems = front.problems
    columns = _columns(header, records, source)
    width = len(header)
    need = max(i for i, _ in columns) + 1  # cells under trailing headerless columns may be missing
    rows = []
    for n, rec in enumerate(records, start=first):
        if len(rec) < need or any(c.strip() for c in rec[width:]):
            problems.append(Problem(n, None, f"has {len(rec)} cells, the header has {width}.",
                                    "give every row one cell per column (N/A for empty ones)."))
            rows.append({k: None for k in ROW_KEYS})  # keeps the numbers of the rows below
            front.unread.add(n)
            continue
        rows.append({k: _read(rec[i], k, n, problems) for i, k in columns})
    return rows


def _script_dict(rows: list[dict], front: _Front, source: str) -> dict:
    """The canonical dict of a table's rows and front matter; raises ScriptError naming the rows and cells it
    could not read, with every other problem of the script."""
    out: dict[str, Any] = {"title": front.title or Path(source).stem.replace("_", " ").strip() or "Untitled"}
    front.apply(out, rows)
    if front.cast:
        out["cast"] = front.cast
    out["rows"] = rows
    problems = front.problems
    if problems:
        # report the unreadable cells and, with those cells blanked, every other problem of the script
        bad = {(p.row, p.field) for p in problems}
        for n, r in enumerate(rows, start=1):
            for key in list(r):
                if (n, key) in bad:
                    r[key] = None
        problems = problems + [p for p in check(out) if (p.row, p.field) not in bad and p.row not in front.unread]
        raise ScriptError(sorted(problems, key=lambda p: (p.row or 0)), source)
    return out


def table_to_dict(header: list[str], records: list[list[str]], title: str | None, cast: list[dict],
                  source: str, lines: Iterable[tuple[int, str]] = ()) -> dict:
    """A table given as cells (a header and its records, as a spreadsheet grid or the studio's table holds
    them), with its title and cast list, as the canonical dict: read by the same rules as a table file.
    ``lines`` are the file's comment lines as ``(index of the record that follows, "Key: value")``
    (``Author: ...``, ``Chapter: ...``, ``Say: ...``), read exactly as a TSV file's ``#`` lines."""
    front = _Front(title=title, cast=list(cast))
    for next_row, text in lines:
        front.line(text, next_row)
    return _script_dict(_rows(header, records, 1, source, front), front, source)


# -- TSV and CSV --------------------------------------------------------------------------------------------

@contextmanager
def _field_limit(size: int) -> Iterator[None]:
    """Let the csv module read cells as long as the whole text (the rules then name the column's own limit)."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, size + 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _comment(line: str, delimiter: str) -> str | None:
    """The text of a comment line, or None. Spreadsheets pad comment lines with delimiters and may quote
    them (``"# Cast: Ann | calm, warm",,,,``); both forms are read."""
    s = line.strip()
    if s.startswith("#"):
        return s.rstrip(delimiter).strip()
    if s.startswith('"#'):
        cells = next(csv.reader([s], delimiter=delimiter), [])
        if cells and cells[0].lstrip().startswith("#") and not any(c.strip() for c in cells[1:]):
            return cells[0].strip()
    return None


def _sniff(lines: list[str]) -> str:
    """The delimiter that splits the header (the first line that is not a comment) into the most known
    columns: ``,`` when none does."""
    for line in lines:
        if not line.strip() or _comment(line, ",") is not None:
            continue
        def known(d: str) -> int:
            cells = next(csv.reader([line], delimiter=d), [])
            return sum(c.strip().lower() in HEADER_KEY for c in cells)
        best = max((",", ";", "\t"), key=known)
        return best if known(best) >= 2 else ","
    return ","


def read_delimited(text: str, delimiter: str | None, source: str) -> dict:
    """A TSV or CSV script as its canonical dict (not yet validated; cells it cannot read raise
    ScriptError). ``delimiter`` None: sniff ``,`` / ``;`` / tab from the header."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    delim = delimiter or _sniff(lines)
    front = _Front()
    records: list[list[str]] = []

    def body() -> Iterator[str]:
        for line in lines:
            comment = _comment(line, delim)
            if comment is not None:
                front.line(comment, max(0, len(records) - 1))  # records[0] is the header
            elif line.strip():
                yield line + "\n"

    with _field_limit(len(text)):
        for rec in csv.reader(body(), delimiter=delim):
            if any(c.strip() for c in rec):
                records.append(rec)
    if not records:
        raise ScriptReadError(f"{source}: no table found. The first row must be the header: {', '.join(HEADERS)}.")
    rows = _rows(records[0], records[1:], 1, source, front)
    return _script_dict(rows, front, source)


def write_delimited(script: Script, delimiter: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")

    def comment(text: str) -> None:
        if text.endswith(delimiter):  # the reader strips padding delimiters: quote the line instead
            w.writerow([text])
        else:
            buf.write(text + "\n")

    comment(f"# Title: {script.title}")
    for key, value in script.metadata().items():
        comment(f"# {_META_LABEL[key]}: {value}")
    for c in script.cast:
        comment(f"# Cast: {_cast_line(c.name, c.description, c.voice)}")
    for label, text in _field_lines(script):
        comment(f"# {label}: {text}")
    columns = _used_columns(script)
    w.writerow(list(HEADERS) + [c.header for c in columns])
    for r in script.rows:
        if r.chapter is not None:
            comment(f"# Chapter: {r.chapter}")
        w.writerow(_cells(r, columns))
    return buf.getvalue()


def _cast_line(name: str, description: str | None, voice: str | None) -> str:
    parts = [escape_pipes(name)] + [escape_pipes(write_cell(v, "content")) for v in (description, voice)]
    return " | ".join(parts)


# -- Markdown -----------------------------------------------------------------------------------------------

def _md_cells(line: str) -> list[str]:
    s = line.strip()
    cells = split_pipes(s)
    if s.startswith("|"):
        cells = cells[1:]
    if cells and s.endswith("|") and cells[-1] == "" and len(s) > 1:
        cells = cells[:-1]
    return cells


def _md_field_line(line: str, front: _Front) -> bool:
    """Read ``Say: ...`` (or ``- Say: ...``) as a line of an extension's field; False when it is not one."""
    body = re.sub(r"^[-*+]\s+", "", line)
    label, sep, rest = body.partition(":")
    if not sep or label.strip().lower() not in registry().by_label:
        return False
    front.field_line(label.strip().lower(), rest.strip())
    return True


def read_markdown(text: str, source: str, warnings: list[Problem] | None = None) -> dict:
    """A Markdown script (module docstring) as its canonical dict (not yet validated)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    front = _Front()
    table_cast: list[dict] = []
    line_cast = _Front()
    header: list[str] | None = None  # the script table's header, once seen
    rows: list[dict] = []
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if not s.startswith("|"):
            i += 1
            heading = _HEADING.match(s)
            if heading:
                level, words = len(heading.group(1)), heading.group(2)
                if level == 1 and front.title is None:
                    front.title = words
                elif words.split(":", 1)[0].strip().lower() == "chapter" and ":" in words:
                    front.chapter(words.split(":", 1)[1].strip(), len(rows))
            elif s.lower().startswith("cast:"):
                line_cast.line(s, 0)
            elif _md_field_line(s, front):
                pass
            elif _MD_META_LINE.match(s):
                m = _MD_META_LINE.match(s)
                front.set_meta(m.group(1).lower(), m.group(2).strip())
            continue
        block: list[list[str]] = []
        start = i
        while i < len(lines) and lines[i].strip().startswith("|"):
            if not (i == start + 1 and _DELIMITER_ROW.fullmatch(lines[i].strip())):
                block.append(_md_cells(lines[i]))
            i += 1
        has_delimiter = i > start + 1 and bool(_DELIMITER_ROW.fullmatch(lines[start + 1].strip()))
        first = [c.lower() for c in block[0]]
        if "audio type" in first or sum(c in HEADER_KEY for c in first) >= 4:
            header = block[0]
            rows += _rows(block[0], block[1:], len(rows) + 1, source, front)
        elif first[:1] == ["character"]:
            table_cast += [cast_entry(*(rec + ["", ""])[:3]) for rec in block[1:]]
        elif first[:2] == ["field", "value"]:
            for rec in block[1:]:
                key, value = (rec + ["", ""])[:2]
                if key.lower() in _META_ALIASES:
                    if value:
                        front.set_meta(key.lower(), value)
                elif warnings is not None:
                    warnings.append(Problem(None, "about", f"'{key}' in the About table is not a field storyaudio "
                                                           "reads; it is ignored.",
                                            "use Author, Album (or Show), Year, Cover or Description."))
        elif header is not None and not has_delimiter:
            rows += _rows(header, block, len(rows) + 1, source, front)  # rows split by a heading
    if header is None:
        raise ScriptReadError(f"{source}: no Markdown table with the header | {' | '.join(HEADERS)} |.")
    front.cast = table_cast or line_cast.cast
    return _script_dict(rows, front, source)


def write_markdown(script: Script) -> str:
    out = [f"# {script.title}", ""]
    meta = script.metadata()
    if meta:
        out += ["## About", "", "| Field | Value |", "| --- | --- |"]
        out += [f"| {_META_LABEL[k]} | {escape_pipes(str(v))} |" for k, v in meta.items()]
        out.append("")
    if script.cast:
        out += ["## Cast", "", "| Character | Description | Voice |", "| --- | --- | --- |"]
        out += [f"| {_cast_line(c.name, c.description, c.voice)} |" for c in script.cast]
        out.append("")
    for f in registry().fields:
        items = script.extra.get(f.key) or []
        if items:
            out += [f"## {f.heading or f.label}", ""]
            out += [f"- {f.label}: {f.write_line(item)}" for item in items]
            out.append("")
    if (meta or script.cast or script.extra) and script.rows[0].chapter is None:
        out += ["## Script", ""]
    columns = _used_columns(script)
    headers = list(HEADERS) + [c.header for c in columns]
    head = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    for n, r in enumerate(script.rows):
        if r.chapter is not None:
            if n:
                out.append("")
            out += [f"## Chapter: {r.chapter}", ""]
        if n == 0 or r.chapter is not None:
            out += head
        out.append("| " + " | ".join(escape_pipes(c) for c in _cells(r, columns)) + " |")
    return "\n".join(out) + "\n"
