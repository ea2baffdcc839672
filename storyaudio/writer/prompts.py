"""The writer's prompts: plain files a developer can read and change.

They live in the repository's ``prompts/`` folder (installed wheels carry them as ``storyaudio/_data/prompts``):

* ``writer_system.md``: the system message (the rules of the table, loudness, casting, content rules);
* ``writer_user.md``: the user turn; ``$prompt`` is replaced by the scene prompt;
* ``writer_repair.md``: the repair turn; ``$problems`` (one ``- row N, field: message Fix: ...`` line each),
  ``$count`` and ``$plural`` are replaced;
* ``examples/*.json``: few-shot examples, ``{"prompt": ..., "script": {...}}``, sent (in name order) as
  earlier user/assistant turns before the real prompt.

``STORYAUDIO_PROMPTS_DIR`` points the writer at another folder with the same files (a missing file falls
back to the shipped one), for experimenting without editing the package.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ..errors import Problem

MAX_PROBLEMS_SHOWN = 40


def prompts_dir() -> Path:
    """The shipped prompts folder: ``storyaudio/_data/prompts`` in a wheel, ``prompts/`` in a checkout."""
    here = Path(__file__).resolve().parent.parent  # .../storyaudio
    for candidate in (here / "_data" / "prompts", here.parent / "prompts"):
        if (candidate / "writer_system.md").is_file():
            return candidate
    raise FileNotFoundError(
        f"the writer's prompts are missing (looked in {here / '_data' / 'prompts'} and {here.parent / 'prompts'}); "
        "reinstall storyaudio.")


def _find(name: str) -> Path:
    override = os.environ.get("STORYAUDIO_PROMPTS_DIR")
    if override and (Path(override) / name).exists():
        return Path(override) / name
    return prompts_dir() / name


def read_prompt(name: str) -> str:
    return _find(name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Example:
    name: str
    prompt: str
    script: dict


def examples() -> list[Example]:
    folder = _find("examples")
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = json.loads(path.read_text(encoding="utf-8"))
        out.append(Example(path.stem, data["prompt"], data["script"]))
    return out


def compact_json(data) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def user_message(prompt: str) -> str:
    return Template(read_prompt("writer_user.md")).safe_substitute(prompt=prompt.strip())


def repair_message(problems: list[Problem]) -> str:
    lines = [f"- {p}" for p in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"- ... and {len(problems) - MAX_PROBLEMS_SHOWN} more of the same kinds.")
    n = len(problems)
    return Template(read_prompt("writer_repair.md")).safe_substitute(
        problems="\n".join(lines), count=str(n), plural="" if n == 1 else "s")


def first_messages(prompt: str, use_examples: bool = True) -> list[dict]:
    """System message, the few-shot turns, then the user's prompt."""
    messages = [{"role": "system", "content": read_prompt("writer_system.md").strip()}]
    if use_examples:
        for ex in examples():
            messages.append({"role": "user", "content": user_message(ex.prompt)})
            messages.append({"role": "assistant", "content": compact_json(ex.script)})
    messages.append({"role": "user", "content": user_message(prompt)})
    return messages
