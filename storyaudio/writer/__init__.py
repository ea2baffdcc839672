"""The writer: a scene prompt in, a validated audio script out, through any OpenAI-compatible LLM or a local
GGUF model.

:func:`generate_script` sends the system prompt (``prompts/writer_system.md``), the few-shot examples
(``prompts/examples/*.json``) and the user's prompt; parses the reply (code fences and prose around the JSON
are tolerated); validates it against the schema and the semantic rules; and, while problems remain, sends
them back (row, field, message, fix; ``prompts/writer_repair.md``) for up to ``max_repairs`` repair turns.
Every exchange is appended to a JSON-lines log (see :mod:`storyaudio.writer.log`). The endpoint, the key
rules and the structured-output fallbacks are in :mod:`storyaudio.writer.providers`. A length (``minutes``)
is asked for and checked (:mod:`storyaudio.writer.length`); a long piece is written in several calls
(:mod:`storyaudio.writer.longform`).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from ..errors import Problem, WriterError
from ..script import Script, check
from . import prompts
from .length import check_minutes, length_problem, length_request
from .log import ExchangeLog, Stopwatch, default_log_dir
from .providers import LlamaCppChat, OpenAIChat, Reply
from .reply import parse_reply

__all__ = ["generate_script", "default_log_dir", "PROVIDERS"]

PROVIDERS = ("openai", "llama-cpp")
#: Pieces longer than this (minutes) are written as an outline, then chapter by chapter.
LONG_MINUTES = 10.0
#: A reply that could not be parsed is kept this short in the conversation (it is useless to the model).
_GARBAGE_CHARS = 2000


def _problems_of(reply: Reply, prompt: str) -> tuple[dict | None, list[Problem]]:
    data, problems = parse_reply(reply.text, prompt)
    if data is not None:
        problems = check(data)
    if reply.finish_reason == "length":
        problems = [Problem(None, None, "the reply was cut off at the token limit before the script ended.",
                            "write a shorter script: fewer and shorter rows.")] + (problems if data else [])
    return data, problems


def generate_script(prompt: str, *, provider: str = "openai", model: str | None = None,
                    base_url: str | None = None, api_key: str | None = None, gguf: str | None = None,
                    max_repairs: int = 3, log_dir: str | Path | None = None, temperature: float | None = None,
                    max_tokens: int | None = None, examples: bool = True, timeout: float = 120.0,
                    status: Callable[[str], AbstractContextManager] | None = None,
                    minutes: float | None = None) -> dict:
    """Ask an LLM for an audio script for ``prompt`` and return it as a canonical, valid script dict.

    ``provider`` is ``"openai"`` (OpenAI or any compatible server: ``base_url``, else ``OPENAI_BASE_URL``, else
    api.openai.com; ``api_key``, else ``OPENAI_API_KEY`` when it belongs to that endpoint, else a placeholder
    for local servers) or ``"llama-cpp"`` (``gguf``: a model file, run in-process). ``max_repairs`` bounds
    the repair turns after the first reply (of each conversation). ``max_tokens`` caps each reply;
    ``examples=False`` leaves out the few-shot examples (for small context windows). ``timeout`` is how many
    seconds to wait for each reply of an endpoint. ``status``, when given, is called with a line saying what
    the writer waits for, and the wait runs inside the context manager it returns (the CLI shows a spinner
    with it).

    ``minutes`` aims for a length: the prompt asks for it, and a reply whose estimated length
    (:mod:`storyaudio.writer.length`) is more than 25 % off gets a repair turn (after the last one, a valid
    script of the wrong length is returned with a warning). Over :data:`LONG_MINUTES` the piece is written
    in several calls (:mod:`storyaudio.writer.longform`): an outline, then each chapter, each validated,
    then assembled into one script with chapters.

    Raises :class:`storyaudio.errors.WriterError` (exit code 2 in the CLI) with the last problems and what to
    try when no valid script came back, or when the endpoint or model cannot be used. Every exchange is
    logged to ``log_dir/writer.jsonl`` (default: :func:`default_log_dir`).
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise WriterError("the prompt is empty. Describe the scene to write, e.g. \"A news anchor reports that "
                          "a probe has reached Alpha Centauri, then interviews its chief engineer.\"")
    if provider not in PROVIDERS:
        raise WriterError(f"unknown writer provider '{provider}'. Use one of: {', '.join(PROVIDERS)}.")
    if max_repairs < 0:
        raise WriterError("max_repairs must be 0 or more.")
    if minutes is not None:
        check_minutes(minutes)
    if provider == "openai":
        chat = OpenAIChat(model=model, base_url=base_url, api_key=api_key, temperature=temperature,
                          max_tokens=max_tokens, timeout=timeout)
    else:
        chat = LlamaCppChat(gguf=gguf, temperature=temperature, max_tokens=max_tokens)
    talk = Conversation(chat, ExchangeLog(log_dir, secrets=chat.secrets), prompt, max_repairs, status)
    shots = prompts.examples() if examples else []
    if minutes is not None and minutes > LONG_MINUTES:
        from .longform import write_long

        return write_long(talk, prompt, minutes, shots)

    asked = prompt if minutes is None else f"{prompt.rstrip()}\n\n{length_request(minutes)}"
    messages = prompts.first_messages(asked, shots)

    def judge(reply: Reply) -> tuple[dict | None, list[Problem], list[Problem]]:
        data, problems = _problems_of(reply, prompt)
        length = length_problem(data, minutes) if data is not None and not problems and minutes else None
        return data, problems, [length] if length else []

    data = talk.run(messages, judge, first={"examples": [e.name for e in shots]})
    return Script.from_dict(data).to_dict()


class Conversation:
    """One writer session: the chat, its log and the user's prompt; :meth:`run` holds one conversation to a
    valid reply (repair turns while problems remain). The long-form writer runs several in one session."""

    def __init__(self, chat, log: ExchangeLog, prompt: str, max_repairs: int,
                 status: Callable[[str], AbstractContextManager] | None):
        self.chat, self.log, self.max_repairs, self.status = chat, log, max_repairs, status
        self.base = {"provider": chat.provider, "model": chat.model, "endpoint": chat.where, "key": chat.key_source,
                     "prompt": prompt}

    def run(self, messages: list[dict], judge: Callable[[Reply], tuple[Any, list[Problem], list[Problem]]], *,
            stage: str | None = None, schema: tuple[str, dict] | None = None, first: dict | None = None) -> Any:
        """Send ``messages`` and, while ``judge(reply)`` finds problems, the repair turns; return the judged
        value. ``judge`` returns (value, problems, soft problems): soft ones (a length off) are sent back while
        repair turns remain and then let go with a warning. ``stage`` names the conversation in the log and the
        status line ("outline", "chapter 2 of 6"); ``schema`` is the structured output asked for (default: the
        script's); ``first`` goes into the first turn's log record."""
        chat, log = self.chat, self.log
        system = messages[0]["content"]
        problems: list[Problem] = []
        turns = self.max_repairs + 1
        what = f"{stage}, reply" if stage else "reply"
        for turn in range(turns):
            sent = messages[-1]["content"]
            watch = Stopwatch()
            waiting = f"waiting for {chat.model} ({chat.where}): {what} {turn + 1} of at most {turns}"
            where = {"stage": stage} if stage else {}
            try:
                with self.status(waiting) if self.status is not None else nullcontext():
                    reply = chat.complete(messages, schema) if schema else chat.complete(messages)
            except WriterError as exc:
                log.write(**self.base, **where, turn=turn, response_format=chat.mode, sent=sent, error=str(exc),
                          seconds=watch.seconds, outcome="error")
                raise WriterError(f"{exc}\nThe exchange log is {log.path}.") from None
            value, hard, soft = judge(reply)
            problems = hard + soft
            last = turn == turns - 1
            outcome = "invalid" if hard else ("off-length" if soft else "valid")
            record = dict(self.base, **where, model=reply.model, turn=turn, response_format=reply.mode, sent=sent,
                          reply=reply.text, finish_reason=reply.finish_reason,
                          problems=[p.to_dict() for p in problems], usage=reply.usage, seconds=watch.seconds,
                          outcome=outcome)
            if turn == 0:
                record["system_sha256"] = hashlib.sha256(system.encode()).hexdigest()[:16]
                record.update(first or {})
            if reply.fallbacks:
                record["fallbacks"] = reply.fallbacks
            log.write(**record)
            if not hard and (not soft or last):
                for p in soft:
                    warnings.warn(f"writer{f' ({stage})' if stage else ''}: {p.message} No repair turn is left "
                                  "(--max-repairs); the script is kept as it is.", UserWarning, stacklevel=2)
                return value
            kept = reply.text or ""
            if value is None and len(kept) > _GARBAGE_CHARS:
                kept = kept[:_GARBAGE_CHARS] + " [...]"
            messages.append({"role": "assistant", "content": kept})
            messages.append({"role": "user", "content": prompts.repair_message(problems)})

        shown = "\n".join(f"  - {p}" for p in problems[:12])
        more = f"\n  - ... and {len(problems) - 12} more" if len(problems) > 12 else ""
        part = f" for the {stage}" if stage else ""
        raise WriterError(
            f"the writer got no valid script{part} from {chat.model} ({chat.where}) in {turns} "
            f"repl{'y' if turns == 1 else 'ies'} ({self.max_repairs} repair "
            f"turn{'' if self.max_repairs == 1 else 's'}). "
            f"The last reply had {len(problems)} problem{'' if len(problems) == 1 else 's'}:\n{shown}{more}\n"
            "Try: a stronger or instruction-tuned model (--model), more repair turns (--max-repairs), a simpler "
            "prompt, or write the script yourself (a .tsv table or a .fountain screenplay). "
            f"Every exchange is in {log.path}.")
