"""Read a model's reply as a script dict: tolerate code fences, prose around the JSON and ``<think>`` blocks;
fill the small gaps every model leaves (keys it omits where the value is null); everything else is left
for validation and the repair turn."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import Problem
from ..script.model import ROW_KEYS

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n(.*?)```", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def _candidates(text: str) -> list[Any]:
    """Every JSON value the reply contains, best guesses first."""
    found: list[Any] = []
    stripped = text.strip()
    try:
        return [json.loads(stripped)]
    except (json.JSONDecodeError, ValueError):
        pass
    for m in _FENCE.finditer(text):
        try:
            found.append(json.loads(m.group(2)))
        except (json.JSONDecodeError, ValueError):
            continue
    decoder = json.JSONDecoder()
    i = 0
    while True:
        starts = [p for p in (text.find("{", i), text.find("[", i)) if p >= 0]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, ValueError):
            i = start + 1
            continue
        found.append(value)
        i = end
    return found


def _rows_of(value: Any) -> list | None:
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return value
    return None


def _script_rows(value: Any) -> list | None:
    """``value`` when it is a list of rows that looks like a script's (its first row has an audio_type)."""
    rows = _rows_of(value)
    return rows if rows and "audio_type" in rows[0] else None


def _as_script(value: Any) -> dict | None:
    """A script-shaped dict from a candidate value, or None."""
    if isinstance(value, dict):
        if "rows" in value:
            return value
        # {"script": {...}} or {"audio_script": {...}}: one wrapper level
        for v in value.values():
            if isinstance(v, dict) and "rows" in v:
                return v
        lists = [(k, v) for k, v in value.items() if _script_rows(v)]
        if len(lists) == 1:  # rows under another name ("script": [...])
            out = {k: v for k, v in value.items() if k != lists[0][0]}
            out["rows"] = lists[0][1]
            return out
        return None
    rows = _script_rows(value)
    return {"rows": rows} if rows else None


def title_from_prompt(prompt: str) -> str:
    words = re.sub(r"\s+", " ", prompt).strip().split(" ")
    title = " ".join(words[:8]).strip(" .,:;")
    return (title[:1].upper() + title[1:]) if title else "Untitled"


def parse_reply(text: str | None, prompt: str = "") -> tuple[dict | None, list[Problem]]:
    """The script in a reply, lightly normalised, or None and the Problem that says why not."""
    if text is None or not text.strip():
        return None, [Problem(None, None, "the reply was empty.",
                              "reply with the script as one JSON object: "
                              "{\"title\": ..., \"cast\": [...], \"rows\": [...]}.")]
    text = _THINK.sub("", text)
    candidates = _candidates(text)
    for value in candidates:
        script = _as_script(value)
        if script is not None:
            return normalise(script, prompt), []
    if any(isinstance(c, dict) for c in candidates):
        return None, [Problem(None, "rows", "the reply's JSON has no \"rows\" list.",
                              "reply with one JSON object with the keys title, cast and rows.")]
    snippet = re.sub(r"\s+", " ", text.strip())[:120]
    return None, [Problem(None, None, f"the reply is not JSON (it begins: {snippet!r}).",
                          "reply with only the JSON object, no prose and no code fences.")]


def normalise(script: dict, prompt: str = "") -> dict:
    """Fill what models routinely leave out and validation would only bounce back: a missing title (from the
    prompt), row keys omitted where the value is null, a null cast. Nothing is guessed beyond that."""
    out = dict(script)
    if not isinstance(out.get("title"), str) or not out["title"].strip():
        out["title"] = title_from_prompt(prompt)
    if "cast" in out and out["cast"] is None:
        del out["cast"]
    rows = out.get("rows")
    if isinstance(rows, list):
        out["rows"] = [{**{k: None for k in ROW_KEYS}, **r} if isinstance(r, dict) else r for r in rows]
    return out
