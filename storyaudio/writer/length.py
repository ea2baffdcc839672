"""How long a script will play, estimated before it is rendered, and what the writer asks for a length.

The estimate is the one the script's rules use: speech takes its words at :data:`WORDS_PER_SECOND` (2.6 a
second, about 156 a minute) unless the row gives seconds; foreground music and effects take their seconds
(their default when "auto"); background rows add nothing (they play under the foreground).
"""

from __future__ import annotations

from string import Template
from typing import Any

from ..errors import OptionError, Problem
from ..script.model import DEFAULT_DURATION, MAX_TOTAL_SECONDS, WORDS_PER_SECOND
from .prompts import read_prompt

#: A reply whose estimated length is further than this share from the target gets a repair turn.
TOLERANCE = 0.25
#: The shortest and longest length ``--minutes`` takes (the longest leaves room under the 4-hour limit).
MIN_MINUTES = 0.25
MAX_MINUTES = 180.0
#: Share of a piece's time given to speech when telling the model how many words to write.
SPEECH_SHARE = 0.85
#: Words in a speech row of one or two sentences (to tell the model about how many rows to write).
WORDS_PER_ROW = 18


def check_minutes(minutes: float) -> float:
    """``minutes`` when it is a length the writer can aim for, else an OptionError naming ``--minutes``."""
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise OptionError(f"--minutes {minutes:g}: give a length between {MIN_MINUTES:g} and {MAX_MINUTES:g} "
                          f"minutes (one script holds at most {MAX_TOTAL_SECONDS / 3600:g} hours).")
    return minutes


def estimate_seconds(script: dict[str, Any]) -> float:
    """Seconds a script dict will last, from its foreground rows (see the module's docstring)."""
    total = 0.0
    for row in script.get("rows") or []:
        if not isinstance(row, dict) or row.get("layout") != "foreground":
            continue
        seconds = row.get("duration")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            total += float(seconds)
        elif row.get("audio_type") == "speech":
            total += words(row.get("content")) / WORDS_PER_SECOND
        else:
            total += DEFAULT_DURATION.get(row.get("audio_type"), 0.0)
    return total


def words(text: Any) -> int:
    return len(text.split()) if isinstance(text, str) else 0


def speech_words(minutes: float) -> int:
    """About how many words of speech fill ``minutes`` (leaving room for music and effects)."""
    return max(10, int(round(minutes * 60 * WORDS_PER_SECOND * SPEECH_SHARE / 10)) * 10)


def length_fields(minutes: float) -> dict[str, str]:
    """The template fields that state a length: ``$minutes``, ``$words``, ``$rows``."""
    w = speech_words(minutes)
    return {"minutes": f"{minutes:g}", "words": str(w), "rows": str(max(2, round(w / WORDS_PER_ROW)))}


def length_request(minutes: float) -> str:
    """The paragraph added to the user's prompt that asks for a length (``prompts/writer_length.md``)."""
    return Template(read_prompt("writer_length.md")).safe_substitute(length_fields(minutes)).strip()


def length_problem(script: dict[str, Any], minutes: float) -> Problem | None:
    """A Problem saying how far off the script's estimated length is, or None when it is within
    :data:`TOLERANCE` of ``minutes``."""
    target = minutes * 60
    got = estimate_seconds(script)
    if abs(got - target) <= TOLERANCE * target:
        return None
    spoken = sum(words(r.get("content")) for r in script.get("rows") or []
                 if isinstance(r, dict) and r.get("audio_type") == "speech" and r.get("layout") == "foreground")
    need = speech_words(minutes)
    if got < target:
        fix = (f"lengthen it to about {minutes:g} minutes: about {need} words of speech in all (it has {spoken}): "
               "more rows and more happening, keeping the rows that are there.")
    else:
        fix = (f"shorten it to about {minutes:g} minutes: about {need} words of speech in all (it has {spoken}), "
               "fewer or shorter rows, keeping the story whole.")
    return Problem(None, "length", f"the script would last about {_minutes(got)}; the piece should last about "
                                   f"{minutes:g} minutes.", fix)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} minutes" if seconds >= 60 else f"{seconds:.0f} seconds"
