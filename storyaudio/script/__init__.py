"""The audio script: its schema, its rules, and its file formats."""

from .io import HEADERS, parse_script_text, read_script, script_to_text, write_script
from .model import (DEFAULT_DURATION, DEFAULT_VOLUME, MAX_TOTAL_SECONDS, CastMember, Row, Script, check,
                    semantic_problems)
from .schema import load_schema, schema_problems, strict_schema

__all__ = [
    "HEADERS", "DEFAULT_DURATION", "DEFAULT_VOLUME", "MAX_TOTAL_SECONDS", "CastMember", "Row", "Script",
    "check", "load_schema", "parse_script_text", "read_script", "schema_problems", "script_to_text",
    "semantic_problems", "strict_schema", "write_script",
]
