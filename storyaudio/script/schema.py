"""The one JSON Schema of an audio script, and the OpenAI strict-output variant derived from it.

The schema is composed: the core file (``schemas/audio_script.schema.json``: the eight row keys, required and
unchanged, and the optional chapter and metadata) plus the columns and script-wide fields of the installed
extensions (:mod:`storyaudio.columns`). Composition and the validator are cached per set of extensions.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

from ..columns import Registry, registry
from ..errors import Problem

SCHEMA_NAME = "audio_script.schema.json"

# Keywords OpenAI's strict structured output does not accept; the strict variant drops them (local
# validation against the full schema still enforces them).
_STRICT_UNSUPPORTED = {
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minItems", "maxItems", "pattern", "format", "$schema", "$id", "title",
}


def data_path(*parts: str) -> Path:
    """A shipped data file: from the wheel (``storyaudio/_data``) or from the source checkout."""
    here = Path(__file__).resolve().parent.parent
    for base in (here / "_data", here.parent):
        candidate = base.joinpath(*parts)
        if candidate.exists():
            return candidate
    return here.parent.joinpath(*parts)


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return data_path("schemas", SCHEMA_NAME).read_text(encoding="utf-8")


def core_schema() -> dict:
    """The core schema alone, without extensions (a fresh copy each call)."""
    return json.loads(_schema_text())


@lru_cache(maxsize=4)
def _composed(reg: Registry, writer_only: bool) -> str:
    schema = core_schema()
    row = schema["$defs"]["row"]["properties"]
    chapter = row.pop("chapter")  # the core's optional key stays last
    for c in reg.columns:
        if writer_only and not c.writer:
            continue
        sub = _nullable(dict(c.schema))
        sub["description"] = f"Optional ({c.header} column; {c.where()}): {c.description}".rstrip()
        row[c.key] = sub
    row["chapter"] = chapter
    top = schema["properties"]
    rows = top.pop("rows")
    for f in reg.fields:
        if writer_only and not f.writer:
            continue
        top[f.key] = {"type": ["array", "null"], "maxItems": f.max_items, "items": dict(f.schema),
                      "description": f"Optional: {f.description}".rstrip()}
    top["rows"] = rows
    return json.dumps(schema)


def load_schema() -> dict:
    """The canonical JSON Schema with the installed extensions' columns and fields (a fresh copy each call)."""
    return json.loads(_composed(registry(), False))


def strict_schema() -> dict:
    """The schema in the form OpenAI strict structured output accepts: every property required (optional
    ones become nullable), ``additionalProperties: false`` everywhere, unsupported keywords removed. It
    carries the extension columns and fields the writer may use (``writer=True``). Derived from the composed
    schema, never kept as a second copy."""

    def walk(node, in_properties=False):
        if isinstance(node, dict):
            if in_properties:  # keys here are property names, not keywords
                return {k: walk(v) for k, v in node.items()}
            out = {k: walk(v, k in ("properties", "$defs")) for k, v in node.items() if k not in _STRICT_UNSUPPORTED}
            if out.get("type") == "object" or "properties" in out:
                props = out.get("properties", {})
                required = set(node.get("required", []))
                for key, sub in props.items():
                    if key not in required:
                        props[key] = _nullable(sub)
                out["required"] = list(props)
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(json.loads(_composed(registry(), True)))  # walk builds new containers, never mutates its input


def _nullable(sub: dict) -> dict:
    sub = dict(sub)
    t = sub.get("type")
    if isinstance(t, list):
        if "null" not in t:
            sub["type"] = t + ["null"]
    elif isinstance(t, str):
        if t != "null":
            sub["type"] = [t, "null"]
    elif "enum" in sub:
        if None not in sub["enum"]:
            sub["enum"] = list(sub["enum"]) + [None]
    else:
        sub = {"anyOf": [sub, {"type": "null"}]}
    return sub


@lru_cache(maxsize=1)
def shortest_duration() -> float:
    """The schema's minimum number of seconds a row may ask for."""
    return float(core_schema()["$defs"]["row"]["properties"]["duration"]["anyOf"][0]["minimum"])


@lru_cache(maxsize=4)
def _validator(reg: Registry):
    import jsonschema

    schema = json.loads(_composed(reg, False))
    cls = jsonschema.validators.validator_for(schema)
    if any(e.__module__.split(".")[0] != "storyaudio" for e in reg.extensions):
        # a plugin's columns are checked against the meta-schema here; the shipped ones by the tests
        # (tests/test_startup.py), not on every command: that check costs a tenth of `storyaudio validate`
        cls.check_schema(schema)
    return cls(schema)


_FIX = {
    "audio_type": "use speech, music or sound_effect (tables: Speech, Music, Sound effect).",
    "layout": "use foreground or background.",
    "action": "use begin or end on background rows, null (N/A) on foreground rows.",
    "volume": "give a loudness in LUFS between -70 and 0 (speech about -15, beds -30 to -35), or null.",
    "duration": "give seconds (at least 0.05, at most 600), \"auto\", or null on end rows.",
    "id": "give background tracks a positive integer id; null (N/A) on foreground rows.",
    "character": "give the speaker's name (at most 80 characters), or null for music and effects.",
    "content": "give the spoken text or a description (at most 2000 characters).",
    "chapter": "give the chapter a title of 1 to 200 characters, or null on rows that continue a chapter.",
    "title": "give the piece a title of 1 to 200 characters.",
    "author": "give the author's name (at most 200 characters), or leave it out.",
    "album": "give the show or album name (at most 200 characters), or leave it out.",
    "year": "write the year as four digits such as 2024, or leave it out.",
    "cover": "give the cover image's path relative to the script's folder (e.g. cover.jpg), or leave it out.",
    "description": "give a summary of at most 4000 characters, or leave it out.",
    "rows": "split the piece into several scripts (one per chapter, for instance) and render each.",
}


def _where(path: list) -> tuple[int | None, str | None]:
    """(1-based row, field) of a path into the script."""
    if len(path) >= 2 and path[0] == "rows" and isinstance(path[1], int):
        return path[1] + 1, (str(path[2]) if len(path) > 2 else None)
    return None, (".".join(str(p) for p in path) if path else None)


def _non_finite(node, path: list) -> list[tuple[list, float]]:
    """Every NaN or Infinity in the data, with its path (JSON Schema's "number" accepts them)."""
    if isinstance(node, float):
        return [] if math.isfinite(node) else [(path, node)]
    if isinstance(node, dict):
        return [hit for k, v in node.items() for hit in _non_finite(v, path + [k])]
    if isinstance(node, list):
        return [hit for i, v in enumerate(node) for hit in _non_finite(v, path + [i])]
    return []


def _is_non_finite(value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def schema_problems(data) -> list[Problem]:
    """Every schema violation, as Problems naming the 1-based row and the field. NaN and Infinity, which
    JSON Schema's "number" lets through, are violations too."""
    problems: list[Problem] = []
    for path, value in _non_finite(data, []):
        row, field = _where(path)
        problems.append(Problem(row, field, f"{value} is not a number (NaN and Infinity are not allowed).",
                                _FIX.get(field or "", "write a finite number.")))
    reg = registry()
    fixes = {**{c.key: c.fix for c in reg.columns}, **{f.key: f.fix for f in reg.fields}, **_FIX}
    errors = sorted(_validator(reg).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for err in errors:
        if _is_non_finite(err.instance):
            continue  # reported above, once
        path = list(err.absolute_path)
        row, field = _where(path)
        message = err.message
        fix = fixes.get(field or "", "") or (fixes.get(str(path[0]), "") if path else "")
        if err.validator == "required":
            missing = message.split("'")[1] if "'" in message else message
            field = field or missing
            message = f"'{missing}' is missing."
            if row:
                fix = "every row has all eight keys; write null where the table says N/A."
            elif not path:
                fix = "a script needs a \"title\" and \"rows\"."
        elif err.validator == "additionalProperties":
            if row and len(path) == 2:
                optional = ", ".join(["chapter"] + [c.key for c in reg.columns])
                fix = "remove the unknown key; a row has exactly audio_type, layout, id, character, volume, " \
                      f"action, content, duration, and optionally {optional}." + reg.why_missing()
            elif not path:
                optional = ", ".join(["author", "album", "year", "cover", "description", "cast"] +
                                     [f.key for f in reg.fields])
                fix = f"remove the unknown key; a script has title, rows and optionally {optional}." + \
                    reg.why_missing()
            else:
                fix = fixes.get(field or "", "") or "remove the unknown key."
        elif err.validator == "maxItems" and field == "rows":
            message = f"the script has {len(err.instance):,} rows, more than the {err.validator_value:,} a " \
                      "script may hold."
        elif err.validator == "minItems" and field == "rows":
            message = "the script has no rows."
            fix = "add at least one row."
        elif err.validator == "maxLength":
            message = f"longer than {err.validator_value:,} characters (it has {len(err.instance):,})."
        elif err.validator == "minLength":
            message = "is empty."
        elif field == "duration" and isinstance(err.instance, (int, float)) and not isinstance(err.instance, bool) \
                and 0 < err.instance < shortest_duration():
            message = f"{err.instance:g} s is too short to render (the shortest is {shortest_duration():g} s)."
        else:
            if len(message) > 160:
                message = message[:157] + "..."
            if not message.endswith("."):
                message += "."
        problems.append(Problem(row, field, message, fix))
    return problems
