"""Pronunciation: a lexicon of words the voices should say another way, applied to the text a speech backend
receives (never to the subtitles, which keep the written words).

Entries come from the script and from lexicon files (``--lexicon FILE``; the script's entry wins for a word
both give):

* tables: ``# Say: Kuiper = KY-per`` comment lines (Markdown: ``Say: Kuiper = KY-per`` lines, written under
  ``## Pronunciation``); ``# Say: Kuiper = KY-per | k'aIp3`` adds phonemes;
* JSON: ``"lexicon": [{"word": "Kuiper", "say": "KY-per", "phonemes": null}]``;
* a lexicon file: TSV lines ``word<TAB>say[<TAB>phonemes]`` (``#`` lines are comments; a ``word say`` header is
  skipped).

A word matches whole (``Kuiper's`` too), in any case. ``say`` is a respelling every backend reads; ``phonemes``
(espeak-ng's ASCII phoneme mnemonics) go, as ``[[k'aIp3]]``, to a backend that declares it reads them
(``phoneme_input = "espeak"``), and the respelling to every other.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..errors import Problem, UserError
from .base import Extension, ScriptField

ITEM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["word", "say"],
    "properties": {
        "word": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^=]+$",
                 "description": "The word (or words) as written in the speech rows."},
        "say": {"type": "string", "minLength": 1, "maxLength": 200,
                "description": "How to say it, respelled (KY-per)."},
        "phonemes": {"type": ["string", "null"], "minLength": 1, "maxLength": 200,
                     "description": "Optional: espeak-ng phoneme mnemonics (k'aIp3), for voices that read them."},
    },
}


class SayField(ScriptField):
    """The lexicon as a script holds it: ``Say: word = respelling | phonemes`` lines in tables."""

    def read_line(self, text):
        from ..script.cells import split_pipes

        parts = split_pipes(text)
        if len(parts) > 2:
            raise ValueError("a Say line has at most one '|' (before the phonemes)")
        word, eq, say = parts[0].partition("=")
        if not eq or not word.strip() or not say.strip():
            raise ValueError("it is not of the form 'word = respelling'")
        phonemes = parts[1] if len(parts) == 2 and parts[1] else None
        return {"word": word.strip(), "say": say.strip(), "phonemes": phonemes}

    def write_line(self, item):
        from ..script.cells import escape_pipes

        line = f"{escape_pipes(item['word'])} = {escape_pipes(item['say'])}"
        return line + (f" | {escape_pipes(item['phonemes'])}" if item.get("phonemes") else "")

    def normalise(self, value):
        from ..script.model import clean_text

        if not isinstance(value, list):
            return value
        out = []
        for item in value:
            if isinstance(item, dict):
                item = {k: clean_text(v) if isinstance(v, str) else v for k, v in item.items()}
                if not item.get("phonemes"):
                    item["phonemes"] = None
            out.append(item)
        return out


class LexiconSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[Path] = Field(default_factory=list,
                              description="lexicon files (TSV: word, respelling, optional phonemes)")


class Lexicon(Extension):
    name = "lexicon"
    description = "Pronunciation: '# Say: Kuiper = KY-per' lines and --lexicon files respell words for the voices."
    fields = (SayField("lexicon", "Say", ITEM, heading="Pronunciation", writer=True, max_items=1000,
                       description="words the voices should say another way: the word as written, a "
                                   "respelling, and optional espeak phonemes.",
                       fix="write each entry as 'Say: word = respelling' (JSON: {\"word\": ..., \"say\": ..., "
                           "\"phonemes\": null}); a word holds no '='."),)
    Settings = LexiconSettings

    def __init__(self, settings=None):
        super().__init__(settings)
        self.entries: dict[str, dict] = {}  # folded word -> entry
        self._pattern: re.Pattern | None = None

    @classmethod
    def rules(cls, script):
        seen: dict[str, str] = {}
        problems = []
        for item in script.extra.get("lexicon") or []:
            key = _fold(item["word"])
            if key in seen:
                problems.append(Problem(None, "lexicon", f"'{item['word']}' is in the lexicon twice (also as "
                                        f"'{seen[key]}').", "keep one entry per word."))
            seen[key] = item["word"]
        return problems

    def prepare(self, ctx):
        entries: dict[str, dict] = {}
        for path in self.settings.files:
            for item in read_lexicon_file(path):
                entries[_fold(item["word"])] = item
        for item in ctx.script.extra.get("lexicon") or []:
            entries[_fold(item["word"])] = item
        self.entries = entries
        if not entries:
            return []
        words = sorted(entries, key=len, reverse=True)  # longest first: "New York" before "York"
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)",
                                   re.IGNORECASE)
        spoken = " ".join(r.content or "" for r in ctx.script.rows if r.audio_type == "speech")
        said = {_fold(m.group(0)) for m in self._pattern.finditer(spoken)}
        return [Problem(None, "lexicon", f"'{e['word']}' is in the lexicon, but no speech row says it.",
                        "check its spelling, or remove the entry.") for k, e in entries.items() if k not in said]

    def applies(self, row):
        return row.audio_type == "speech" and self._pattern is not None

    def request(self, ask, values, ctx):
        backend = ctx.backends.get(ask.kind)
        return replace(ask, content=self.respell(ask.content, getattr(backend, "phoneme_input", "") == "espeak"))

    def respell(self, text: str, phonemes: bool = False) -> str:
        """``text`` with every lexicon word replaced: by its phonemes in ``[[...]]`` when ``phonemes`` and the
        entry has some, else by its respelling."""
        if self._pattern is None:
            return text

        def say(m: re.Match) -> str:
            e = self.entries[_fold(m.group(0))]
            return f"[[{e['phonemes']}]]" if phonemes and e.get("phonemes") else e["say"]

        return self._pattern.sub(say, text)


def read_lexicon_file(path: Path) -> list[dict]:
    """The entries of a lexicon file (TSV: word, respelling, optional phonemes); a UserError names the file
    and line of anything else."""
    from ..script.model import clean_text

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"--lexicon {path}: cannot read it ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise UserError(f"--lexicon {path}: not UTF-8 text. Save it as UTF-8.") from None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [clean_text(c) for c in line.split("\t")]
        if number == 1 and [c.lower() for c in cells[:2]] == ["word", "say"]:
            continue  # a header
        if len(cells) not in (2, 3) or not cells[0] or not cells[1] or "=" in cells[0]:
            raise UserError(f"--lexicon {path}, line {number}: '{line.strip()[:60]}' is not 'word<TAB>respelling' "
                            "(optionally <TAB>phonemes). Fix: one entry per line, fields separated by tabs.")
        out.append({"word": cells[0], "say": cells[1], "phonemes": cells[2] if len(cells) == 3 and cells[2] else None})
    return out


def _fold(word: str) -> str:
    return " ".join(word.split()).casefold()
