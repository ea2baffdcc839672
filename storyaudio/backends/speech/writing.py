"""Which writing systems a voice can read, so a speech backend can say before rendering that a line will come
out as silence or as a string of letter names.

Both embedded backends phonemise with espeak-ng (Piper through its own copy). A voice reads the letters of its
language's writing systems; Latin letters in any language are read too (espeak-ng switches to English for
them). Letters of another writing system are spelled out by name in English ("Cyrillic letter pe, ...";
"Chinese letter" for each character) or read with another language's sounds, and emoji are read by their
Unicode names ("party popper"). The writing system of a character is its Unicode script property, from
fontTools' copy of the Unicode Character Database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = ["SCRIPT_LANGUAGES", "has_words", "languages_reading", "script_name", "scripts_read_by", "speakable",
           "unread_scripts"]

#: Writing systems (ISO 15924 codes) other than Latin, and the espeak-ng languages whose voices read them as
#: their own (checked with ``espeak-ng -q -x -v LANG``: Japanese reads kana but spells kanji; Hakka spells Han).
SCRIPT_LANGUAGES: dict[str, tuple[str, ...]] = {
    "Cyrl": ("ru", "uk", "bg", "be", "mk", "sr", "kk", "ky", "tt", "ba", "cv", "nog"),
    "Grek": ("el", "grc"),
    "Arab": ("ar", "fa", "ur", "sd", "ug"),
    "Hebr": ("he",),
    "Hani": ("cmn", "yue"),
    "Hira": ("ja",),
    "Kana": ("ja",),
    "Hang": ("ko",),
    "Deva": ("hi", "mr", "ne", "kok"),
    "Beng": ("bn", "as", "bpy"),
    "Guru": ("pa",),
    "Gujr": ("gu",),
    "Orya": ("or",),
    "Taml": ("ta",),
    "Telu": ("te",),
    "Knda": ("kn",),
    "Mlym": ("ml",),
    "Sinh": ("si",),
    "Thai": ("th",),
    "Geor": ("ka",),
    "Armn": ("hy", "hyw"),
    "Ethi": ("am",),
    "Mymr": ("my", "shn"),
}
#: Scripts of no one writing system: digits, punctuation, symbols, emoji, combining marks, unassigned.
_NEUTRAL = {"Zyyy", "Zinh", "Zzzz"}


def _base(language: str) -> tuple[str, bool]:
    """``"en-gb-x-rp"`` -> ``("en", False)``; ``"fa-latn"`` -> ``("fa", True)`` (written in Latin letters)."""
    parts = re.split(r"[-_]", language.lower())
    return parts[0], "latn" in parts[1:]


def scripts_read_by(language: str) -> set[str]:
    """The writing systems (ISO 15924 codes) an espeak-ng ``language`` reads: always Latin, and its own."""
    base, latin_only = _base(language)
    if latin_only:
        return {"Latn"}
    return {"Latn"} | {script for script, langs in SCRIPT_LANGUAGES.items() if base in langs}


def languages_reading(script: str) -> tuple[str, ...]:
    """espeak-ng languages that read ``script`` (ISO 15924) as their own; Latin: empty (every one does)."""
    return SCRIPT_LANGUAGES.get(script, ())


def _script(ch: str) -> str:
    from fontTools import unicodedata as ucd  # the Unicode script property (Python's unicodedata lacks it)

    return ucd.script(ch)


def script_name(script: str) -> str:
    from fontTools import unicodedata as ucd

    return ucd.script_name(script, default=script)


def has_words(text: str) -> bool:
    """Whether ``text`` has anything a voice can say: a letter or a digit (not only punctuation, symbols or
    emoji)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def unread_scripts(text: str, language: str) -> dict[str, list[str]]:
    """Writing systems in ``text`` that ``language`` does not read -> up to three of the words written in
    each (ISO 15924 code -> words), in order of appearance."""
    readable = scripts_read_by(language)
    out: dict[str, list[str]] = {}
    for word in re.findall(r"\w+", text):
        letters = (ch for ch in word if unicodedata.category(ch).startswith("L"))
        scripts = {"Latn" if ch.isascii() else _script(ch) for ch in letters}  # plain English: no table lookup
        for script in sorted(scripts - readable - _NEUTRAL):
            words = out.setdefault(script, [])
            if len(words) < 3 and word not in words:
                words.append(word)
    return out


def speakable(text: str, language: str, reader: str, fix: Callable[[str, str], str]) -> list[str]:
    """Why ``reader`` (a voice reading ``language``, named in words) cannot speak (part of) ``text``, one
    sentence each: nothing to say, or words in a writing system it does not read. ``fix(script_name,
    language)`` says what to do about the latter, ``language`` being an espeak-ng language that reads the
    script ("" when none does). ``text`` is what the voice gets (normalised)."""
    if not has_words(text):
        return [f"has no letters or digits, only punctuation, symbols or emoji: {reader} says nothing for "
                "punctuation and reads emoji and symbols by their names ('party popper'), if at all."]
    problems = []
    for script, words in unread_scripts(text, language).items():
        name = script_name(script)
        quoted = ", ".join(f"'{w}'" for w in words)
        others = languages_reading(script)
        problems.append(f"has words in {name} ({quoted}), which {reader} cannot read: it would spell them out "
                        f"letter by letter or misread them. {fix(name, others[0] if others else '')}")
    return problems
