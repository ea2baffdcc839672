"""The script table as the page holds it: rows of text cells, edited by hand, by buttons and by dropdowns.

Pure list editing, no Gradio and no storyaudio library calls, so every operation is tested without a browser.
A page row is the script's eight columns (``HEADERS``) behind one read-only marker column ``#`` that shows
the row number and, after a check, whether the row has an error (✖) or a warning (⚠).

Row numbers are 1-based, as in error messages and ``timeline.json``. Operations that move rows also move
the row's take number (the studio's "Re-render row" keeps one per row), so a new take stays with its row.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

#: The script's columns, in the order of the table files (kept equal to ``storyaudio.script.HEADERS``; a test
#: checks it, and this module stays free of library imports).
HEADERS = ("Audio Type", "Layout", "ID", "Character", "Volume", "Action", "Content Description", "Duration")
MARK = "#"
COLUMNS = (MARK,) + HEADERS
ERROR, WARNING = "✖", "⚠"

#: The choices the row editor's dropdowns offer, spelled as the table files spell them.
CHOICES = {
    "Audio Type": ("Speech", "Music", "Sound effect"),
    "Layout": ("Foreground", "Background"),
    "Action": ("N/A", "Begin", "End"),
}

Rows = list[list[str]]
Takes = dict[int, int]


def blank_row() -> list[str]:
    """A new row: a foreground speech line to fill in (its empty text is flagged by Validate)."""
    return ["Speech", "Foreground", "N/A", "Narrator", "N/A", "N/A", "", "Auto"]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None, NaN
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    # a cell is one line of a table file: tabs and line breaks would split it
    return " ".join(text.split()) if any(c in text for c in "\t\r\n") else text.strip()


def _records(value: Any) -> list[list[Any]]:
    """A Dataframe's value as a list of lists, whatever form it arrives in (list, pandas, dict)."""
    if value is None:
        return []
    if hasattr(value, "values") and hasattr(value, "columns"):  # pandas
        return [list(r) for r in value.values.tolist()]
    if isinstance(value, dict):  # {"headers": [...], "data": [[...]]}
        return [list(r) for r in value.get("data") or []]
    return [list(r) for r in value]


def script_rows(value: Any) -> Rows:
    """The eight script cells of every row of the page's table (marker column dropped, cells as text, rows
    that are entirely empty skipped)."""
    rows: Rows = []
    for rec in _records(value):
        cells = [_cell(c) for c in rec]
        if len(cells) == len(COLUMNS):
            cells = cells[1:]
        cells = (cells + [""] * len(HEADERS))[: len(HEADERS)]
        if any(cells):
            rows.append(cells)
    return rows


def marked(rows: Sequence[Sequence[str]], errors: Iterable[int] = (), warnings: Iterable[int] = ()) -> Rows:
    """The page's table: the marker column (row number, ✖ for a row with an error, ⚠ for a warning) and the
    eight cells."""
    err, warn = set(errors), set(warnings)
    out = []
    for n, row in enumerate(rows, start=1):
        mark = f"{n} {ERROR}" if n in err else f"{n} {WARNING}" if n in warn else str(n)
        out.append([mark, *row])
    return out


def _check_row(rows: Sequence[Any], n: int | None, what: str) -> int:
    if n is None or not 1 <= int(n) <= len(rows):
        raise IndexError(f"{what}: pick a row first (click a cell of the row in the table); "
                         f"rows are 1 to {len(rows)}." if rows else f"{what}: the table has no rows.")
    return int(n)


def insert_row(rows: Rows, after: int | None, takes: Takes) -> tuple[Rows, Takes, int]:
    """A blank row below row ``after`` (at the end when None or out of range). Returns the rows, the takes
    moved with their rows, and the new row's number."""
    at = int(after) if after is not None and 1 <= int(after) <= len(rows) else len(rows)
    new = [list(r) for r in rows[:at]] + [blank_row()] + [list(r) for r in rows[at:]]
    moved = {(n + 1 if n > at else n): t for n, t in takes.items()}
    return new, moved, at + 1


def delete_row(rows: Rows, n: int | None, takes: Takes) -> tuple[Rows, Takes, int | None]:
    """The rows without row ``n``; takes below it move up one. Returns the row to select next."""
    n = _check_row(rows, n, "Delete row")
    new = [list(r) for i, r in enumerate(rows, start=1) if i != n]
    moved = {(k - 1 if k > n else k): t for k, t in takes.items() if k != n}
    return new, moved, (min(n, len(new)) or None)


def move_row(rows: Rows, n: int | None, step: int, takes: Takes) -> tuple[Rows, Takes, int]:
    """Row ``n`` moved up (step -1) or down (+1), swapping with its neighbour (and their takes)."""
    n = _check_row(rows, n, "Move row")
    m = n + step
    if not 1 <= m <= len(rows):
        return [list(r) for r in rows], dict(takes), n
    new = [list(r) for r in rows]
    new[n - 1], new[m - 1] = new[m - 1], new[n - 1]
    moved = dict(takes)
    moved.pop(n, None), moved.pop(m, None)
    if n in takes:
        moved[m] = takes[n]
    if m in takes:
        moved[n] = takes[m]
    return new, moved, m


def set_cell(rows: Rows, n: int | None, column: str, value: str) -> Rows:
    """Row ``n`` with one cell (named by its header) replaced."""
    n = _check_row(rows, n, column)
    new = [list(r) for r in rows]
    new[n - 1][HEADERS.index(column)] = value
    return new


def cell(rows: Sequence[Sequence[str]], n: int | None, column: str) -> str:
    """One cell by row number and header ('' when there is no such row)."""
    if n is None or not 1 <= int(n) <= len(rows):
        return ""
    return rows[int(n) - 1][HEADERS.index(column)]


def choice(value: str, column: str) -> str | None:
    """A cell as one of the dropdown's choices (case-insensitive; N/A and empty as N/A), None when it is
    none of them."""
    low = (value or "").strip().lower()
    for c in CHOICES[column]:
        if low == c.lower() or (c == "N/A" and low in ("", "na", "none", "null", "-")):
            return c
    if column == "Audio Type" and low in ("sound_effect", "sfx", "effect"):
        return "Sound effect"
    return None
