"""The extension contract: the columns a script may carry beyond the core eight, and what they do at each
stage of a render.

An extension is a class with a name, the columns (and script-wide fields) it adds, and the hooks it overrides.
Built-in extensions (``Pan``, ``Fade In``/``Fade Out``, ``Speed``, ``Pitch``, ``File``, ``Start``, the
pronunciation lexicon) are written exactly as a third party writes one::

    from dataclasses import replace
    from storyaudio.columns import Column, Extension

    class Pan(Extension):
        name = "pan"
        description = "Per-row stereo position."
        columns = (Column("pan", "Pan", {"type": "number", "minimum": -1, "maximum": 1},
                          description="-1 left, 0 centre, 1 right", fix="give a number from -1 to 1."),)

        def plan(self, event, values, ctx):
            return replace(event, pan=values["pan"])

Hooks, in the order a render calls them (each optional; the default changes nothing). A hook runs on a row
only when :meth:`Extension.applies` says so: by default, when the row sets one of the extension's columns.
``values`` maps each of the extension's column keys to the row's value (the column's default where unset);
``ctx`` is the render's :class:`Context`. Every hook returns a new value and never changes its input.

========  =====================================================  ============================================
stage     hook                                                   what it may change
========  =====================================================  ============================================
read      ``rules(script) -> list[Problem]``                     nothing: rules the schema cannot say
prepare   ``prepare(ctx) -> list[Problem]``                      load what it needs; raise for what stops a
                                                                 render, return warnings
plan      ``plan(event, values, ctx) -> Event``                  the event: pan, loudness target, requested
                                                                 length, backend name
plan      ``request(ask, values, ctx) -> backends.Event``        what the backend is asked: the text it
                                                                 speaks, the length
clip      ``render(ask, sample_rate, values, ctx) -> Clip``      make the clip instead of the backend
clip      ``clip(audio, sample_rate, ask, values, ctx)``         transform the clip ``(channels, samples)``
                                                                 at the render's rate (before it is fitted to
                                                                 its slot and normalised)
plan      ``place(event, values, ctx) -> PlacedEvent``           after placement: start, end, fades (seconds)
mix       ``mix(source, event, values, ctx) -> Source``          the mixer's source: gain, pan, fades
                                                                 (samples)
deliver   ``deliver(folder, timeline, clips, ctx)``              write more files; return ``{name: path}``
========  =====================================================  ============================================

Clips an extension makes or transforms are cached like a backend's, under a key of the row's values, the
extension's settings and a fingerprint of its code (:meth:`Extension.cache_fields` adds more, e.g. a file's
contents).

Nothing here imports numpy or the pipeline: a script is read and validated without them.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from pydantic import BaseModel, ConfigDict

from ..errors import Problem

if TYPE_CHECKING:  # only for the hooks' signatures
    import numpy as np

    from ..backends.base import Backend, Clip
    from ..backends.base import Event as Ask
    from ..mix.mixer import Source
    from ..script.model import Row, Script
    from ..timeline import Event, PlacedEvent, RenderedClip, Timeline

__all__ = ["AUDIO_TYPES", "ROW_KINDS", "Column", "Context", "Extension", "NoSettings", "ScriptField", "row_kind"]

#: The audio types of the core schema.
AUDIO_TYPES = ("speech", "music", "sound_effect")
#: The kinds of row a column may be allowed on: foreground rows, background begin rows, background end rows.
ROW_KINDS = ("foreground", "begin", "end")

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_TRUE = {"yes", "true", "on", "y", "1"}
_FALSE = {"no", "false", "off", "n", "0"}


def row_kind(layout: str, action: str | None) -> str:
    """``foreground``, ``begin`` or ``end``: which of :data:`ROW_KINDS` a row is."""
    if layout != "background":
        return "foreground"
    return "end" if action == "end" else "begin"


@dataclass(frozen=True)
class Column:
    """One optional column: its JSON key in a row, its header in a table, the JSON Schema of its value.

    * ``schema``: the value's JSON Schema fragment (``{"type": "number", "minimum": -1, "maximum": 1}``); null
      is always allowed too and means "not set" (the row gets ``default``). Keep it to what strict structured
      output can say (type, enum, a flat object) when ``writer`` is true.
    * ``audio_types`` and ``rows`` (:data:`ROW_KINDS`) say which rows may set it; others are told so.
    * ``writer``: whether the LLM writer may fill it (the strict schema then carries it).
    * ``units``: words a table cell may put after a number (``("s", "sec", "seconds")``).
    * ``fix``: how to write a good value, for the error a bad one gets.

    Table cells follow the schema's type: numbers (with ``units``), integers, booleans (yes/no), text (with the
    ``N/A`` escapes of :mod:`storyaudio.script.cells`), or one of an ``enum``'s words in any case. Subclass and
    override :meth:`read_cell` / :meth:`write_cell` for anything else.
    """

    key: str
    header: str
    schema: Mapping[str, Any]
    description: str = ""
    fix: str = ""
    default: Any = None
    audio_types: tuple[str, ...] = AUDIO_TYPES
    rows: tuple[str, ...] = ("foreground", "begin")
    writer: bool = False
    aliases: tuple[str, ...] = ()
    units: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        t = self.schema.get("type")
        if isinstance(t, list):
            t = next((x for x in t if x != "null"), None)
        if t is None and "enum" in self.schema:
            return "string"
        return t or "string"

    def allowed_on(self, audio_type: str, kind: str) -> bool:
        return audio_type in self.audio_types and kind in self.rows

    def where(self) -> str:
        """The rows it is for, in words ("speech rows", "background begin rows")."""
        names = {"foreground": "foreground", "begin": "background begin", "end": "background end"}
        kinds = "" if set(self.rows) == set(ROW_KINDS) or tuple(self.audio_types) == ("speech",) else \
            " and ".join(names[k] for k in ROW_KINDS if k in self.rows)  # speech is foreground only anyway
        types = "" if set(self.audio_types) == set(AUDIO_TYPES) else \
            " or ".join(t.replace("_", " ") for t in self.audio_types)
        return " ".join(w for w in (kinds, types, "rows") if w) if kinds or types else "all rows"

    def read_cell(self, text: str) -> Any:
        """A stripped table cell as the column's JSON value (None for ``N/A`` and empty cells). Raises
        ValueError with a message saying what is wrong."""
        from ..script.cells import is_na, read_text, to_number  # here: the script package imports this module

        t = self.type
        if t == "string":
            value = read_text(text)
            enum = self.schema.get("enum")
            if value is not None and enum:
                match = next((e for e in enum if isinstance(e, str) and e.lower() == value.lower()), None)
                if match is None:
                    raise ValueError(f"'{_short(value)}' is not one of {', '.join(str(e) for e in enum if e)}")
                return match
            return value
        if is_na(text):
            return None
        low = text.lower()
        if t == "boolean":
            if low in _TRUE or low in _FALSE:
                return low in _TRUE
            raise ValueError(f"'{_short(text)}' is not yes or no")
        units = "|".join(re.escape(u.lower()) for u in sorted(self.units, key=len, reverse=True))
        m = re.fullmatch(rf"({_NUMBER})\s*(?:{units})?" if units else f"({_NUMBER})", low)
        if not m:
            raise ValueError(f"'{_short(text)}' is not a number")
        number = to_number(m.group(1))
        if t == "integer":
            if not (isinstance(number, int) or (isinstance(number, float) and math.isfinite(number)
                                                 and number.is_integer())):
                raise ValueError(f"'{_short(text)}' is not a whole number")
            return int(number)
        return number

    def write_cell(self, value: Any) -> str:
        """The column's JSON value as a table cell (the inverse of :meth:`read_cell`)."""
        from ..script.cells import escape_na

        if value is None:
            return "N/A"
        if isinstance(value, bool):
            return "Yes" if value else "No"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, str):
            return escape_na(value)
        return str(value)


@dataclass(frozen=True)
class ScriptField:
    """A script-wide value an extension adds: a top-level JSON key holding a list (the lexicon's entries).

    Tables carry it as one comment line per item, ``# Label: ...`` (TSV and CSV), and Markdown as ``Label: ...``
    lines under a ``## heading`` section; :meth:`read_line` and :meth:`write_line` turn one line's text into one
    item and back (subclass to define them). ``schema`` is the JSON Schema of one item.
    """

    key: str
    label: str
    schema: Mapping[str, Any]
    heading: str = ""
    description: str = ""
    fix: str = ""
    writer: bool = False
    max_items: int = 1000

    def read_line(self, text: str) -> Any:
        """One line's text (after ``Label:``, stripped) as one item; ValueError says what is wrong."""
        raise NotImplementedError

    def write_line(self, item: Any) -> str:
        """One item as the text after ``Label:`` (the inverse of :meth:`read_line`)."""
        raise NotImplementedError

    def normalise(self, value: Any) -> Any:
        """The value as a script holds it (text cleaned), before validation; anything not shaped right is
        returned as it is, for the schema to name."""
        return value


class NoSettings(BaseModel):
    """Settings of an extension that takes none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Context:
    """What a render tells its extensions: the script, the render's sample rate, the folder the script's paths
    start from and the other folders allowed (``--allow-path``), and the backend of each audio type the
    script uses (``backends["speech"]``)."""

    script: "Script"
    sample_rate: int
    base_dir: Path
    allow_paths: tuple[Path, ...] = ()
    backends: Mapping[str, "Backend"] = field(default_factory=dict)

    def resolve(self, name: str, what: str = "file", row: int | None = None) -> Path:
        """A path the script names, as an existing file inside the script's folder or an allowed one; a
        UserError (saying how to allow it) otherwise."""
        from ..paths import resolve_script_path

        return resolve_script_path(name, self.base_dir, self.allow_paths, what, row)


class Extension:
    """Base class of every script extension. Subclasses set the class attributes and override the hooks they
    need (see the module docstring); :attr:`settings` holds the validated ``Settings``."""

    #: The name it is registered under (``BUILTIN`` or the entry point's name) and configured by.
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    columns: ClassVar[tuple[Column, ...]] = ()
    fields: ClassVar[tuple[ScriptField, ...]] = ()
    #: Its settings (a pydantic model, ``extra="forbid"``), from ``RenderConfig.extensions[name]``.
    Settings: ClassVar[type[BaseModel]] = NoSettings
    #: Bump only for what the code does not show (data files); code changes reach the cache key by themselves.
    version: ClassVar[str] = "1"

    def __init__(self, settings: BaseModel | None = None):
        self.settings = settings if settings is not None else self.Settings()

    # -- which rows ---------------------------------------------------------------------------------------
    def applies(self, row: "Row") -> bool:
        """Whether the hooks run on ``row``: by default, when it sets one of this extension's columns."""
        return any(row.extra.get(c.key) is not None for c in self.columns)

    def values(self, row: "Row") -> dict[str, Any]:
        """The row's value of each of this extension's columns, the column's default where unset."""
        out = {}
        for c in self.columns:
            v = row.extra.get(c.key)
            out[c.key] = c.default if v is None else v
        return out

    # -- read ---------------------------------------------------------------------------------------------
    @classmethod
    def rules(cls, script: "Script") -> list[Problem]:
        """Problems of a script the schema cannot say (checked whenever a script is validated, without any
        render context). The column's audio types and rows are checked for you."""
        return []

    # -- prepare ------------------------------------------------------------------------------------------
    def prepare(self, ctx: Context) -> list[Problem]:
        """Before a render, and in ``validate``: find files, load data. Raise a UserError (ScriptError for
        problems of rows) for what stops the render; return warnings."""
        return []

    # -- plan ---------------------------------------------------------------------------------------------
    def plan(self, event: "Event", values: Mapping[str, Any], ctx: Context) -> "Event":
        return event

    def request(self, ask: "Ask", values: Mapping[str, Any], ctx: Context) -> "Ask":
        return ask

    def place(self, event: "PlacedEvent", values: Mapping[str, Any], ctx: Context) -> "PlacedEvent":
        return event

    # -- clip ---------------------------------------------------------------------------------------------
    def render(self, ask: "Ask", sample_rate: int, values: Mapping[str, Any], ctx: Context) -> "Clip":
        """Make the row's clip instead of its backend (override to do so)."""
        raise NotImplementedError

    def clip(self, audio: "np.ndarray", sample_rate: int, ask: "Ask", values: Mapping[str, Any],
             ctx: Context) -> "np.ndarray":
        return audio

    def cache_fields(self, ask: "Ask", values: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        """What else determines the clips this extension makes or transforms, beyond the row's values, its
        settings and its code (e.g. a file's contents)."""
        return {}

    # -- mix and deliver ----------------------------------------------------------------------------------
    def mix(self, source: "Source", event: "PlacedEvent", values: Mapping[str, Any], ctx: Context) -> "Source":
        return source

    def deliver(self, folder: Path, timeline: "Timeline", clips: Mapping[int, "RenderedClip"],
                ctx: Context) -> dict[str, Path]:
        """Write more files into ``folder`` (the output folder being staged); return ``{name: path}``."""
        return {}

    # -- what it overrides --------------------------------------------------------------------------------
    @classmethod
    def overrides(cls, hook: str) -> bool:
        """Whether the class overrides ``hook`` (the core calls only the hooks an extension has)."""
        return inspect.getattr_static(cls, hook) is not inspect.getattr_static(Extension, hook)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."

