"""The script table as the page holds it: rows of text cells, edited by hand, by buttons and by dropdowns.

Pure list editing, no Gradio and no storyaudio library calls, so every operation is tested without a browser.
A page row is one read-only marker column ``#`` (the row number and, after a check, whether the row has an
error ✖ or a warning ⚠), the script's eight columns (``HEADERS``), then the studio's own ``Chapter`` column
(a script keeps a chapter on the row where it starts, not in a column), then the extension columns
(``Pan``, ``File``...) of the script shown, as many as it uses: ``extra`` names those.

Row numbers are 1-based, as in error messages and ``timeline.json``. Operations that move rows also move
the row's take number (the studio's "Re-render row" keeps one per row), so a new take stays with its row,
and every cell of the row, so a chapter stays on the row it starts at (see :func:`delete_row` for the one
case where it moves).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

#: The script's columns, in the order of the table files (kept equal to ``storyaudio.script.HEADERS``; a test
#: checks it, and this module stays free of library imports).
HEADERS = ("Audio Type", "Layout", "ID", "Character", "Volume", "Action", "Content Description", "Duration")
MARK = "#"
#: The studio-only column after the script's eight: the title of the chapter that starts at the row (empty:
#: the row continues the chapter above). Not one of ``HEADERS``: table files carry it as ``# Chapter:`` lines.
CHAPTER = "Chapter"
#: The columns every page table has; the extension columns of the script shown follow them (:func:`columns`).
COLUMNS = (MARK,) + HEADERS + (CHAPTER,)
ERROR, WARNING = "✖", "⚠"

#: The choices the row editor's dropdowns offer, spelled as the table files spell them.
CHOICES = {
    "Audio Type": ("Speech", "Music", "Sound effect"),
    "Layout": ("Foreground", "Background"),
    "Action": ("N/A", "Begin", "End"),
}

Rows = list[list[str]]
Takes = dict[int, int]


def columns(extra: Sequence[str] = ()) -> list[str]:
    """The page table's headers when the script shown uses the extension columns ``extra``."""
    return [*COLUMNS, *extra]


def width(extra: Sequence[str] = ()) -> int:
    """Cells of a row without its marker: the eight, the chapter, one per extension column."""
    return len(COLUMNS) - 1 + len(extra)


def index(column: str) -> int:
    """A column's place in a row without its marker (the eight, then Chapter): ``COLUMNS`` less one."""
    return COLUMNS.index(column) - 1


def blank_row(cells: int = len(HEADERS)) -> list[str]:
    """A new row of ``cells`` cells: a foreground speech line to fill in (its empty text is flagged by
    Validate), no chapter, every extension column empty (its automatic value)."""
    row = ["Speech", "Foreground", "N/A", "Narrator", "N/A", "N/A", "", "Auto"]
    return row + [""] * (cells - len(row))


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


def script_rows(value: Any, extra: Sequence[str] = ()) -> Rows:
    """The cells of every row of the page's table (the marker column dropped, cells as text, ``width(extra)``
    of them, rows that are entirely empty skipped)."""
    n = width(extra)
    rows: Rows = []
    for rec in _records(value):
        cells = [_cell(c) for c in rec[1:]]
        cells = (cells + [""] * n)[:n]
        if any(cells):
            rows.append(cells)
    return rows


def cast_rows(value: Any) -> Rows:
    """The cast table's (character, description, voice) rows as text; rows without a name are skipped."""
    rows = [([_cell(c) for c in rec] + ["", "", ""])[:3] for rec in _records(value)]
    return [r for r in rows if r[0]]


def view(rows: Sequence[Sequence[str]], extra: Sequence[str] = (), errors: Iterable[int] = (),
         warnings: Iterable[int] = ()) -> dict[str, Any]:
    """The page table's value with its headers (they change with the extension columns a script uses, so
    the headers travel with every update, never only the cells)."""
    return {"headers": columns(extra), "data": marked(rows, errors, warnings)}


def marked(rows: Sequence[Sequence[str]], errors: Iterable[int] = (), warnings: Iterable[int] = ()) -> Rows:
    """The page's table cells: the marker column (row number, ✖ for a row with an error, ⚠ for a warning)
    and the row's cells."""
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
    blank = blank_row(max((len(r) for r in rows), default=len(HEADERS)))
    new = [list(r) for r in rows[:at]] + [blank] + [list(r) for r in rows[at:]]
    moved = {(n + 1 if n > at else n): t for n, t in takes.items()}
    return new, moved, at + 1


def delete_row(rows: Rows, n: int | None, takes: Takes) -> tuple[Rows, Takes, int | None]:
    """The rows without row ``n``; takes below it move up one. Returns the row to select next.

    Deleting the row a chapter starts at does not delete the chapter: it starts at the next row instead (the
    chapter's rows are still there), unless that row starts a chapter of its own or there is no next row;
    then it goes with the deleted row. :func:`delete_note` says which, for the page."""
    n = _check_row(rows, n, "Delete row")
    new = [list(r) for i, r in enumerate(rows, start=1) if i != n]
    chapter = _chapter(rows[n - 1])
    if chapter and n <= len(new) and not _chapter(new[n - 1]):
        new[n - 1][index(CHAPTER)] = chapter
    moved = {(k - 1 if k > n else k): t for k, t in takes.items() if k != n}
    return new, moved, (min(n, len(new)) or None)


def delete_note(rows: Sequence[Sequence[str]], n: int | None) -> str:
    """What Delete row does to the chapter row ``n`` starts, in a sentence ('' when it starts none)."""
    if n is None or not 1 <= int(n) <= len(rows) or not _chapter(rows[int(n) - 1]):
        return ""
    n = int(n)
    chapter = _chapter(rows[n - 1])
    if n < len(rows) and not _chapter(rows[n]):
        return f"Chapter '{chapter}' now starts at the row after the deleted one (row {n})."
    why = "the next row starts a chapter of its own" if n < len(rows) else "no row follows it"
    return f"Chapter '{chapter}' was deleted with its first row: {why}."


def _chapter(row: Sequence[str]) -> str:
    i = index(CHAPTER)
    return row[i].strip() if len(row) > i else ""


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
    """Row ``n`` with one cell (named by its header: one of the eight, or Chapter) replaced."""
    n = _check_row(rows, n, column)
    new = [list(r) for r in rows]
    new[n - 1][index(column)] = value
    return new


def cell(rows: Sequence[Sequence[str]], n: int | None, column: str) -> str:
    """One cell by row number and header ('' when there is no such row)."""
    if n is None or not 1 <= int(n) <= len(rows):
        return ""
    row = rows[int(n) - 1]
    return row[index(column)] if len(row) > index(column) else ""


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
