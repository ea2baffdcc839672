"""The pattern tables: what a part plays, looked up by its role and its pattern name.

A pattern writes one whole part: ``write(writer, channel, part, bars)``. Most are registered through the
decorator of their role's module, which supplies the loop over bars and chords and leaves the pattern one
figure to play (:func:`~.chords.accompaniment`, :func:`~.bass.bassline`, :func:`~.drums.groove`,
:func:`~.perc.percussion`); :func:`pattern` registers a whole-part writer as it is (melodies).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..form import Bar
    from ..plan import Part
    from ..writer import Writer

PartWriter = Callable[["Writer", int, "Part", "list[Bar]"], None]

#: The table each role reads its pattern from (chords and pads share the accompaniments).
TABLE_OF_ROLE = {"chords": "accompaniment", "pad": "accompaniment", "bass": "bass", "lead": "lead",
                 "perc": "perc", "drums": "drums"}


@dataclass(frozen=True)
class Pattern:
    table: str
    name: str
    write: PartWriter


PATTERNS: dict[str, dict[str, Pattern]] = {table: {} for table in dict.fromkeys(TABLE_OF_ROLE.values())}


class UnknownPatternError(ValueError):
    """A part names a pattern its role's table does not have."""


def register(table: str, name: str, write: PartWriter) -> None:
    if table not in PATTERNS:
        raise ValueError(f"unknown pattern table {table!r}; tables: {', '.join(PATTERNS)}")
    if name in PATTERNS[table]:
        raise ValueError(f"the {table} pattern {name!r} is registered twice")
    PATTERNS[table][name] = Pattern(table, name, write)


def pattern(table: str, *names: str) -> Callable[[PartWriter], PartWriter]:
    """Register a whole-part writer under ``names`` in ``table``."""

    def deco(fn: PartWriter) -> PartWriter:
        for name in names:
            register(table, name, fn)
        return fn

    return deco


def find_pattern(role: str, name: str) -> Pattern:
    """The pattern a part of ``role`` plays for ``name``; an unknown one is an error naming the known ones."""
    if role not in TABLE_OF_ROLE:
        raise UnknownPatternError(f"unknown part role {role!r}; roles: {', '.join(TABLE_OF_ROLE)}")
    table = PATTERNS[TABLE_OF_ROLE[role]]
    if name not in table:
        raise UnknownPatternError(f"unknown {role} pattern {name!r}; {TABLE_OF_ROLE[role]} patterns: "
                                  + ", ".join(sorted(table)))
    return table[name]


__all__ = ["PATTERNS", "TABLE_OF_ROLE", "Pattern", "UnknownPatternError", "find_pattern", "pattern", "register"]
