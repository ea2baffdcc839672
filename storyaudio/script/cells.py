"""Table cells <-> canonical JSON values, shared by the table readers (``io``) and the screenplay reader
(``fountain``): the table spellings, numbers with units, and the escapes that keep text lossless.

Escapes (every writer applies them, every reader undoes them):

* **Text that reads as "none"**: a cell of ``N/A``, ``NA``, ``none``, ``null``, ``-``, ``—`` (any case) or an
  empty cell means null. Content that *is* such a word is written with one leading backslash (``\\N/A``), and
  a cell of backslashes followed by such a word loses one backslash when read (``\\\\N/A`` is the text
  ``\\N/A``), so every text survives.
* **Pipes** in Markdown cells and in ``# Cast:`` lines: ``\\|`` is a literal ``|`` and ``\\\\`` a literal
  backslash. Any other backslash is kept as written, so hand-written text such as ``C:\\voices`` reads as is.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import Problem

#: The eight core keys of a row, in table order, and their table headers (other spellings a header may use
#: in HEADER_KEY). The core's vocabulary: the script's readers and the column registry both read it here.
ROW_KEYS = ("audio_type", "layout", "id", "character", "volume", "action", "content", "duration")
HEADERS = ("Audio Type", "Layout", "ID", "Character", "Volume", "Action", "Content Description", "Duration")
HEADER_KEY = {h.lower(): k for h, k in zip(HEADERS, ROW_KEYS)}
HEADER_KEY.update({"content": "content", "audio_type": "audio_type", "description": "content", "type": "audio_type"})
#: Optional episode metadata, top-level keys of the JSON and fields of the script.
META_KEYS = ("author", "album", "year", "cover", "description")

#: Cell spellings of each audio type (lower case) -> the canonical value.
TYPE_IN = {"speech": "speech", "music": "music", "sound effect": "sound_effect", "sound_effect": "sound_effect",
           "soundeffect": "sound_effect", "sfx": "sound_effect", "effect": "sound_effect",
           "sound": "sound_effect"}
#: Canonical audio type -> the table spelling writers use.
TYPE_OUT = {"speech": "Speech", "music": "Music", "sound_effect": "Sound effect"}
#: Cells (lower case, stripped) that mean null.
NA_WORDS = frozenset({"", "n/a", "na", "none", "null", "-", "—"})

# a plain number, with an optional exponent: 4, -15.5, .5, 1e-3, 2.5E1
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_VOLUME = re.compile(rf"({_NUMBER})\s*(?:lufs|db|lu)?")
_DURATION = re.compile(rf"({_NUMBER})\s*(?:s|sec|secs|seconds)?")
_ESCAPED_NA = re.compile(r"(\\+)(.*)", re.DOTALL)


def to_number(text: str) -> int | float:
    """A number from its text: a whole number as int, otherwise float (may be inf or nan; the rules refuse
    those with the row and field)."""
    f = float(text)
    return int(f) if math.isfinite(f) and f.is_integer() else f


def is_na(text: str) -> bool:
    """Whether a cell (already stripped) means null."""
    return text.lower() in NA_WORDS


def escape_na(text: str) -> str:
    """Text written where a "none" word would read as null: one more leading backslash when needed."""
    m = _ESCAPED_NA.fullmatch(text)
    body = m.group(2) if m else text
    return "\\" + text if body.lower() in NA_WORDS else text


def read_text(text: str) -> str | None:
    """A stripped text cell: null for the "none" words, the literal text for an escaped one."""
    if is_na(text):
        return None
    m = _ESCAPED_NA.fullmatch(text)
    if m and m.group(2).lower() in NA_WORDS:
        return text[1:]
    return text


def escape_pipes(text: str) -> str:
    """Backslashes and pipes escaped, for a Markdown cell or a part of a ``# Cast:`` line."""
    return text.replace("\\", "\\\\").replace("|", "\\|")


def split_pipes(text: str) -> list[str]:
    """Split on unescaped ``|``, undoing ``\\|`` and ``\\\\``; other backslashes stay. Parts are stripped."""
    parts, current, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "\\|":
            current.append(text[i + 1])
            i += 2
            continue
        if c == "|":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current).strip())
    return parts


def read_cell(value: str, key: str, row: int, problems: list[Problem]) -> Any:
    """Turn one table cell into its canonical JSON value (problems are collected, not raised)."""
    text = (value or "").strip()
    low = text.lower()
    if key in ("character", "content"):
        return read_text(text)
    if low in NA_WORDS:
        return None
    if key == "audio_type":
        if low in TYPE_IN:
            return TYPE_IN[low]
        problems.append(Problem(row, key, f"'{_short(text)}' is not an audio type.",
                                "write Speech, Music or Sound effect."))
        return text
    if key == "layout":
        return low if low in ("foreground", "background") else text
    if key == "action":
        return low if low in ("begin", "end") else text
    if key == "id":
        try:
            f = float(text)
        except ValueError:
            f = math.nan
        if not (math.isfinite(f) and f.is_integer()):
            problems.append(Problem(row, key, f"'{_short(text)}' is not a track id: ids are whole numbers.",
                                    "write a whole number such as 1, or N/A on foreground rows."))
            return text
        return int(f)
    if key == "volume":
        m = _VOLUME.fullmatch(low)
        if not m:
            problems.append(Problem(row, key, f"'{_short(text)}' is not a loudness.",
                                    "write a number of LUFS such as -15, or N/A."))
            return text
        return to_number(m.group(1))
    if key == "duration":
        if low == "auto":
            return "auto"
        m = _DURATION.fullmatch(low)
        if not m:
            problems.append(Problem(row, key, f"'{_short(text)}' is not a duration.",
                                    "write seconds such as 4.5, or Auto."))
            return text
        return to_number(m.group(1))
    return text


def write_cell(value: Any, key: str) -> str:
    """One canonical value as its table cell (the inverse of :func:`read_cell`)."""
    if value is None:
        return "N/A"
    if key == "audio_type":
        return TYPE_OUT.get(value, str(value))
    if key in ("layout", "action") or (key == "duration" and value == "auto"):
        return str(value).capitalize()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if key in ("character", "content"):
        return escape_na(str(value))
    return str(value)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
