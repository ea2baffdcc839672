"""Long pieces, written in several calls so that none depends on one giant reply.

1. **Outline** (``prompts/writer_outline.md`` as the system message, ``writer_outline_user.md`` as the
   user's): the title, a description, the whole cast, and the chapters, each with a title, its minutes and
   its beats. Checked against :data:`OUTLINE_SCHEMA` and the rules of :func:`outline_problems` (enough
   chapters, none too long), repaired like a script.
2. **Chapters**, one conversation each (the usual system message and few-shot examples, then
   ``writer_chapter.md``: the outline, the cast, how the previous chapter ended, this chapter's beats and
   length). Each reply is a script, validated on its own; background tracks it left playing are ended at its
   end (so ids can be used again in the next chapter); a length far off gets a repair turn.
3. **Assembly**: the chapters' rows one after another, the first row of each carrying its chapter title; the
   outline's cast with any character a chapter added; validated as a whole.
"""

from __future__ import annotations

import copy
import math
from string import Template
from typing import Any, Sequence

from ..errors import Problem, WriterError
from ..script import check
from ..script.model import ROW_KEYS
from . import prompts
from .length import length_fields, length_problem
from .reply import _candidates, parse_reply

#: Minutes a chapter lasts when the piece is split (a 30-minute piece gets 6 chapters).
CHAPTER_MINUTES = 5.0
#: The longest chapter (minutes) one reply is asked to write.
MAX_CHAPTER_MINUTES = 10.0
#: Speech rows of the previous chapter shown to the next one, for continuity.
PREVIOUS_LINES = 6

OUTLINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "description", "cast", "chapters"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": ["string", "null"]},
        "cast": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "description", "voice"],
            "properties": {"name": {"type": "string", "minLength": 1}, "description": {"type": ["string", "null"]},
                           "voice": {"type": ["string", "null"]}}}},
        "chapters": {"type": "array", "minItems": 2, "items": {
            "type": "object", "additionalProperties": False, "required": ["title", "minutes", "beats"],
            "properties": {"title": {"type": "string", "minLength": 1, "maxLength": 200},
                           "minutes": {"type": "number", "exclusiveMinimum": 0},
                           "beats": {"type": "array", "minItems": 1, "items": {"type": "string"}}}}},
    },
}
_STRICT_DROP = {"minLength", "maxLength", "minItems", "maxItems", "exclusiveMinimum", "minimum", "maximum"}


def strict_outline_schema() -> dict:
    """:data:`OUTLINE_SCHEMA` as strict structured output accepts it (the bounds are checked locally)."""
    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items() if k not in _STRICT_DROP}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(OUTLINE_SCHEMA)


def chapter_count(minutes: float) -> int:
    return max(2, math.ceil(minutes / CHAPTER_MINUTES - 1e-9))


def write_long(talk, prompt: str, minutes: float, shots: Sequence[prompts.Example] = ()) -> dict:
    """A script of about ``minutes`` for ``prompt``, written through ``talk`` (a
    :class:`storyaudio.writer.Conversation`): outline, chapters, assembly (see the module's docstring)."""
    count = chapter_count(minutes)
    outline = _outline(talk, prompt, minutes, count)
    scale = minutes / sum(c["minutes"] for c in outline["chapters"])
    chapters: list[dict] = []
    for i, ch in enumerate(outline["chapters"]):
        chapters.append(_chapter(talk, outline, i, ch["minutes"] * scale, chapters[-1] if chapters else None,
                                 shots))
    script = assemble(outline, chapters)
    problems = check(script)
    if problems:  # each chapter was valid on its own; this would be a bug in the assembly
        raise WriterError("the chapters did not assemble into a valid script: " + "; ".join(map(str, problems[:5])))
    from ..script import Script

    return Script.from_dict(script).to_dict()


# -- 1. the outline -----------------------------------------------------------------------------------------

def parse_outline(text: str | None) -> tuple[dict | None, list[Problem]]:
    """The outline in a reply (fences and prose around it tolerated), or None and why not."""
    for value in _candidates(text or ""):
        if isinstance(value, dict) and isinstance(value.get("chapters"), list):
            return value, []
        if isinstance(value, dict):
            for v in value.values():  # {"outline": {...}}
                if isinstance(v, dict) and isinstance(v.get("chapters"), list):
                    return v, []
    return None, [Problem(None, "chapters", "the reply holds no outline (a JSON object with a \"chapters\" list).",
                          "reply with one JSON object: {\"title\": ..., \"description\": ..., \"cast\": [...], "
                          "\"chapters\": [{\"title\": ..., \"minutes\": ..., \"beats\": [...]}]}.")]


def outline_problems(outline: dict, minutes: float, count: int) -> list[Problem]:
    """What is wrong with an outline: its shape (:data:`OUTLINE_SCHEMA`), a chapter count far from ``count``,
    a chapter longer than :data:`MAX_CHAPTER_MINUTES` once the lengths are scaled to ``minutes``."""
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(OUTLINE_SCHEMA).iter_errors(outline), key=lambda e: list(e.path))
    if errors:
        return [Problem(None, ".".join(str(p) for p in e.path) or None, e.message,
                        "follow the outline's shape: title, description, cast, chapters with title, minutes, beats.")
                for e in errors[:20]]
    problems = []
    chapters = outline["chapters"]
    if abs(len(chapters) - count) > max(1, count // 4):
        problems.append(Problem(None, "chapters", f"the outline has {len(chapters)} chapters; a piece of {minutes:g} "
                                f"minutes needs about {count}.", f"write {count} chapters of about "
                                f"{minutes / count:.0f} minutes each."))
    scale = minutes / sum(c["minutes"] for c in chapters)
    for i, c in enumerate(chapters):
        if c["minutes"] * scale > MAX_CHAPTER_MINUTES:
            problems.append(Problem(None, f"chapters.{i}.minutes", f"chapter '{c['title']}' would last "
                                    f"{c['minutes'] * scale:.0f} of the {minutes:g} minutes.",
                                    f"split it: no chapter longer than {MAX_CHAPTER_MINUTES:g} minutes."))
    titles = [c["title"].strip() for c in chapters]
    for t in sorted({t for t in titles if titles.count(t) > 1}):
        problems.append(Problem(None, "chapters", f"two chapters are called '{t}'.",
                                "give each chapter its own title."))
    return problems


def _outline(talk, prompt: str, minutes: float, count: int) -> dict:
    fields = {"prompt": prompt.strip(), "minutes": f"{minutes:g}", "chapters": str(count),
              "each": f"{minutes / count:.0f}"}
    messages = [{"role": "system", "content": prompts.read_prompt("writer_outline.md").strip()},
                {"role": "user", "content": Template(prompts.read_prompt("writer_outline_user.md"))
                 .safe_substitute(fields).strip()}]

    def judge(reply):
        data, problems = parse_outline(reply.text)
        if data is not None:
            problems = outline_problems(data, minutes, count)
        if reply.finish_reason == "length":
            problems = [Problem(None, None, "the reply was cut off at the token limit before the outline ended.",
                                "write shorter beats.")] + problems
        return data, problems, []

    return talk.run(messages, judge, stage="outline", schema=("audio_outline", strict_outline_schema()))


# -- 2. the chapters ----------------------------------------------------------------------------------------

def _chapter(talk, outline: dict, index: int, minutes: float, previous: dict | None,
             shots: Sequence[prompts.Example]) -> dict:
    chapters = outline["chapters"]
    ch = chapters[index]
    listing = "\n".join(f"{i}. {c['title']} (about {c['minutes']:g} minutes): {' '.join(c['beats'])}"
                        for i, c in enumerate(chapters, start=1))
    cast = "\n".join(f"- {c['name']}: {c.get('description') or 'no description'}" for c in outline["cast"]) or "- none"
    if previous is None:
        before = "This is the first chapter: it opens the piece."
    else:
        lines = [f"{r['character']}: {r['content']}" for r in previous["rows"]
                 if r.get("audio_type") == "speech" and r.get("content")][-PREVIOUS_LINES:]
        before = "The previous chapter ended like this:\n\n" + "\n".join(lines) if lines else \
            "The previous chapter ended without speech."
    fields = {"title": outline["title"], "outline": listing, "cast": cast, "previous": before,
              "number": str(index + 1), "count": str(len(chapters)), "chapter": ch["title"],
              "beats": " ".join(ch["beats"]), **length_fields(round(minutes, 1))}
    text = Template(prompts.read_prompt("writer_chapter.md")).safe_substitute(fields).strip()
    messages = [{"role": "system", "content": prompts.read_prompt("writer_system.md").strip()}]
    for ex in shots:
        messages.append({"role": "user", "content": prompts.user_message(ex.prompt)})
        messages.append({"role": "assistant", "content": prompts.compact_json(ex.script)})
    messages.append({"role": "user", "content": text})

    def judge(reply):
        data, problems = parse_reply(reply.text, ch["title"])
        if data is not None:
            data = close_tracks(data)
            problems = check(data)
        if reply.finish_reason == "length":
            problems = [Problem(None, None, "the reply was cut off at the token limit before the chapter ended.",
                                "write a shorter chapter: fewer and shorter rows.")] + (problems if data else [])
        soft = []
        if data is not None and not problems:
            p = length_problem(data, minutes)
            soft = [p] if p else []
        return data, problems, soft

    stage = f"chapter {index + 1} of {len(chapters)}"
    return talk.run(messages, judge, stage=stage, first={"examples": [e.name for e in shots]})


def close_tracks(script: dict) -> dict:
    """A copy of ``script`` with an end row added at its end for every background track still playing, so
    the next chapter starts with none (and may use the same ids). A chapter marks where it begins only on
    its first row: any other ``chapter`` keys are dropped."""
    out = copy.deepcopy(script)
    rows = [r for r in out.get("rows") or [] if isinstance(r, dict)]
    open_tracks: dict[Any, str] = {}
    for r in rows:
        r.pop("chapter", None)
        if r.get("layout") == "background" and r.get("id") is not None:
            if r.get("action") == "begin":
                open_tracks[r["id"]] = r.get("audio_type") or "music"
            elif r.get("action") == "end":
                open_tracks.pop(r["id"], None)
    for track_id, kind in open_tracks.items():
        rows.append({**{k: None for k in ROW_KEYS}, "audio_type": kind, "layout": "background", "id": track_id,
                     "action": "end"})
    out["rows"] = rows if isinstance(out.get("rows"), list) else out.get("rows")
    return out


# -- 3. assembly --------------------------------------------------------------------------------------------

def assemble(outline: dict, chapters: Sequence[dict]) -> dict:
    """One script of the chapters in order: the first row of each carries the chapter's title (from the
    outline); the cast is the outline's, then any character a chapter added (first description wins)."""
    cast: dict[str, dict] = {}
    for c in outline.get("cast") or []:
        cast.setdefault(c["name"].strip(), {"name": c["name"].strip(), "description": c.get("description"),
                                            "voice": None})
    rows: list[dict] = []
    for ch, script in zip(outline["chapters"], chapters):
        for c in script.get("cast") or []:
            cast.setdefault(c["name"].strip(), {"name": c["name"].strip(), "description": c.get("description"),
                                                "voice": None})
        body = [dict(r) for r in script["rows"]]
        for r in body:
            r.pop("chapter", None)
        body[0]["chapter"] = ch["title"].strip()
        rows += body
    speaking = {r.get("character") for r in rows if r.get("audio_type") == "speech"}
    out: dict[str, Any] = {"title": outline["title"].strip()}
    if outline.get("description"):
        out["description"] = outline["description"]
    out["cast"] = [c for name, c in cast.items() if name in speaking]
    out["rows"] = rows
    return out
