"""The audio script: its schema, its rules, and its file formats.

Modules: ``schema`` (the JSON Schema and its strict variant), ``model`` (Script, Row, CastMember, the rules and
warnings), ``cells`` (table cells <-> values, the escapes), ``tables`` (TSV, CSV, Markdown), ``fountain``
(screenplays), ``io`` (read and write any format by extension).
"""

from .io import HEADERS, parse_script_text, read_script, script_to_text, write_script
from .model import (DEFAULT_DURATION, DEFAULT_VOLUME, MAX_ROWS, MAX_TOTAL_SECONDS, META_KEYS, MIN_SECONDS, ROW_KEYS,
                    CastMember, Row, Script, check, normalise, script_warnings, semantic_problems)
from .schema import load_schema, schema_problems, strict_schema

__all__ = [
    "HEADERS", "DEFAULT_DURATION", "DEFAULT_VOLUME", "MAX_ROWS", "MAX_TOTAL_SECONDS", "META_KEYS", "MIN_SECONDS",
    "ROW_KEYS", "CastMember", "Row", "Script", "check", "load_schema", "normalise", "parse_script_text",
    "read_script", "schema_problems", "script_to_text", "script_warnings", "semantic_problems", "strict_schema",
    "write_script",
]
