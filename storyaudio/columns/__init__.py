"""Script extensions: the optional columns a script may carry, and what they do in a render.

Built-in extensions register exactly like third-party ones: by name, as a ``"module:Class"`` reference in
:data:`BUILTIN`; other packages add theirs through the entry-point group ``storyaudio.columns``
(``reverb = "storyaudio_reverb:Reverb"`` in their pyproject.toml). The contract is in
:mod:`storyaudio.columns.base`; the calls the render makes are in :mod:`storyaudio.columns.hooks`.

The registry is read once per process (:func:`registry`; :func:`refresh` reads it again after a package was
installed). An extension that cannot be loaded, or whose columns clash with the core's or another's, is left
out and remembered with the reason (``Registry.failed``): the other extensions and every script that does not
use it keep working, and a script that does gets an error that says why the column is unknown.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Mapping

from .base import AUDIO_TYPES, ROW_KINDS, Column, Context, Extension, NoSettings, ScriptField, row_kind

__all__ = ["AUDIO_TYPES", "BUILTIN", "ENTRY_POINT_GROUP", "ROW_KINDS", "Column", "Context", "Extension",
           "NoSettings", "Registry", "ScriptField", "refresh", "registry", "row_kind"]

ENTRY_POINT_GROUP = "storyaudio.columns"

#: name -> "module:Class". Their hooks run in this order (plugins follow, by name), and tables list their columns
#: in it.
BUILTIN: dict[str, str] = {
    "pan": "storyaudio.columns.pan:Pan",
    "speed": "storyaudio.columns.speed:Speed",
    "pitch": "storyaudio.columns.pitch:Pitch",
    "start": "storyaudio.columns.start:Start",
    "fades": "storyaudio.columns.fades:Fades",  # after start: a row's own fades win over start's shortened ones
    "file": "storyaudio.columns.file:File",
    "lexicon": "storyaudio.columns.lexicon:Lexicon",
}

_KEY = re.compile(r"[a-z][a-z0-9_]*")
#: Table comment-line labels the core reads itself.
_CORE_LABELS = {"title", "cast", "chapter", "author", "album", "show", "year", "cover", "description", "about"}


@dataclass(frozen=True, eq=False)  # hashed by identity: the schema and its validator are cached per registry
class Registry:
    """The installed extensions (in hook order) and their columns and fields, looked up by key and header."""

    extensions: tuple[type[Extension], ...]
    failed: tuple[tuple[str, str], ...]  # (name, why it was left out)
    columns: tuple[Column, ...]
    fields: tuple[ScriptField, ...]
    by_key: Mapping[str, Column]
    by_header: Mapping[str, Column]  # lower-case header, alias or key -> column
    by_label: Mapping[str, ScriptField]  # lower-case comment label -> field

    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def why_missing(self) -> str:
        """A sentence naming the extensions that failed to load (empty when none did)."""
        if not self.failed:
            return ""
        return " Not loaded: " + "; ".join(f"extension '{n}' ({why})" for n, why in self.failed) + "."


@lru_cache(maxsize=1)
def _plugin_references() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((ep.name, ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP)))


def _load(ref: str) -> type:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@lru_cache(maxsize=1)
def registry() -> Registry:
    """Every extension that loads and fits (built-ins first, then entry points by name)."""
    from ..script.cells import HEADER_KEY, HEADERS, META_KEYS, ROW_KEYS  # the core's: cells imports no columns

    refs = list(BUILTIN.items()) + [(n, v) for n, v in _plugin_references() if n not in BUILTIN]
    taken_keys = set(ROW_KEYS) | {"chapter"}
    taken_headers = {h.lower() for h in HEADERS} | set(HEADER_KEY) | {"chapter"}
    taken_fields = {"title", "rows", "cast", *META_KEYS}
    taken_labels = set(_CORE_LABELS)
    loaded: list[type[Extension]] = []
    failed: list[tuple[str, str]] = []
    by_key: dict[str, Column] = {}
    by_header: dict[str, Column] = {}
    by_label: dict[str, ScriptField] = {}
    for name, ref in refs:
        try:
            cls = _load(ref)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the others
            failed.append((name, f"cannot import {ref}: {type(exc).__name__}: {exc}"))
            continue
        why = _misfit(name, cls, taken_keys, taken_headers, taken_fields, taken_labels)
        if why:
            failed.append((name, why))
            continue
        loaded.append(cls)
        for c in cls.columns:
            taken_keys.add(c.key)
            by_key[c.key] = c
            for h in (c.header, *c.aliases, c.key):
                taken_headers.add(h.lower())
                by_header[h.lower()] = c
        for f in cls.fields:
            taken_fields.add(f.key)
            taken_labels.add(f.label.lower())
            by_label[f.label.lower()] = f
    columns = tuple(c for cls in loaded for c in cls.columns)
    fields = tuple(f for cls in loaded for f in cls.fields)
    return Registry(tuple(loaded), tuple(failed), columns, fields, by_key, by_header, by_label)


def _misfit(name: str, cls: object, keys: set[str], headers: set[str], fields: set[str],
            labels: set[str]) -> str:
    """Why a loaded class cannot be used (empty when it can)."""
    if not (isinstance(cls, type) and issubclass(cls, Extension)):
        return "not a storyaudio.columns.Extension subclass"
    if cls.name != name:
        return f"the class says name = '{cls.name}', but it is registered as '{name}'"
    seen: set[str] = set()
    for c in cls.columns:
        if not _KEY.fullmatch(c.key):
            return f"column key '{c.key}' is not lower-case letters, digits and underscores"
        if c.key in keys or c.key in seen:
            return f"column key '{c.key}' is taken"
        names = {c.key, c.header.lower(), *(a.lower() for a in c.aliases)}
        clash = sorted(names & (headers | seen))
        if clash:
            return f"column header '{clash[0]}' is taken"
        seen |= names
        bad = [t for t in c.audio_types if t not in AUDIO_TYPES] + [k for k in c.rows if k not in ROW_KINDS]
        if bad:
            return f"column '{c.header}' names unknown audio types or rows: {', '.join(bad)}"
        problem = _schema_problem(c.schema)
        if problem:
            return f"column '{c.header}' has a bad schema: {problem}"
    for f in cls.fields:
        if not _KEY.fullmatch(f.key) or f.key in fields or f.key in seen:
            return f"script field '{f.key}' is taken or not a lower-case key"
        if f.label.lower() in labels:
            return f"comment label '{f.label}' is taken"
        problem = _schema_problem(f.schema)
        if problem:
            return f"field '{f.key}' has a bad schema: {problem}"
        seen.add(f.key)
    return ""


def _schema_problem(schema: object) -> str:
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return exc.message
    return ""


def refresh() -> None:
    """Read the installed extensions again (after installing one in this process), and forget the schema
    composed from the old set."""
    _plugin_references.cache_clear()
    registry.cache_clear()
