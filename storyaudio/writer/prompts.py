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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ..errors import Problem
from ..script.schema import data_path

MAX_PROBLEMS_SHOWN = 40


def prompts_dir() -> Path:
    """The shipped prompts folder: ``storyaudio/_data/prompts`` in a wheel, ``prompts/`` in a checkout."""
    folder = data_path("prompts", "writer_system.md").parent
    if (folder / "writer_system.md").is_file():
        return folder
    here = Path(__file__).resolve().parent.parent  # .../storyaudio
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


def user_message(prompt: str, template: str | None = None) -> str:
    """The user turn for ``prompt``; ``template`` is ``writer_user.md``'s text when the caller already read it."""
    if template is None:
        template = read_prompt("writer_user.md")
    return Template(template).safe_substitute(prompt=prompt.strip())


def repair_message(problems: list[Problem]) -> str:
    lines = [f"- {p}" for p in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"- ... and {len(problems) - MAX_PROBLEMS_SHOWN} more of the same kinds.")
    n = len(problems)
    return Template(read_prompt("writer_repair.md")).safe_substitute(
        problems="\n".join(lines), count=str(n), plural="" if n == 1 else "s")


def first_messages(prompt: str, shots: Sequence[Example] = ()) -> list[dict]:
    """System message, the few-shot turns (``shots``, e.g. :func:`examples`), then the user's prompt."""
    messages = [{"role": "system", "content": read_prompt("writer_system.md").strip()}]
    template = read_prompt("writer_user.md")  # once per call: STORYAUDIO_PROMPTS_DIR may change between calls
    for ex in shots:
        messages.append({"role": "user", "content": user_message(ex.prompt, template)})
        messages.append({"role": "assistant", "content": compact_json(ex.script)})
    messages.append({"role": "user", "content": user_message(prompt, template)})
    return messages
