"""Text tracks of a render: subtitles (SubRip and WebVTT) of the spoken lines, and an Audacity label track.

A spoken line becomes one or more readable cues: at most :data:`MAX_LINES` lines of at most
:data:`MAX_CHARS` characters, shown for at most :data:`MAX_SECONDS` each. The line's time is shared among its
cues in proportion to their text (speech runs at a roughly even rate of characters), and a cue whose share is
longer than :data:`MAX_SECONDS` (slow or padded speech) leaves the screen after that long.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from ..timeline import PlacedEvent, Timeline

#: Lines per cue, characters per line, seconds per cue (common broadcast and streaming limits).
MAX_LINES = 2
MAX_CHARS = 42
MAX_SECONDS = 7.0


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


def cues(event: PlacedEvent, label: str = "") -> list[Cue]:
    """The cues of one spoken line; ``label`` (e.g. "Ann: ") opens the first cue and counts in its width but
    not in its share of time."""
    groups = _groups(label, " ".join(event.content.split()))
    total = sum(max(1, chars) for _, chars in groups)
    out: list[Cue] = []
    t = event.start
    for lines, chars in groups:
        end = t + event.span * max(1, chars) / total
        out.append(Cue(t, min(end, t + MAX_SECONDS), tuple(lines)))
        t = end
    return out


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _groups(label: str, text: str) -> list[tuple[list[str], int]]:
    """The text cut into cues of at most MAX_LINES lines, each as (lines, characters of text): sentences are
    kept together while they fit, a cue of a line or more breaks at a sentence's end, and longer text runs on
    over several cues."""
    out: list[tuple[list[str], int]] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        prefix = "" if out else label
        trial = f"{current} {sentence}".strip()
        if len(_lines(prefix, trial)) <= MAX_LINES:
            current = trial
            continue
        if len(current) >= MAX_CHARS:  # a cue of a line or more ends with its sentence
            out.append((_lines(prefix, current), len(current)))
            current, prefix = sentence, ""
        else:  # a short sentence runs on into the next rather than flash by alone
            current = trial
        while len(lines := _lines(prefix, current)) > MAX_LINES:
            used = _used(prefix, lines[:MAX_LINES], current)
            out.append((lines[:MAX_LINES], used))
            current, prefix = current[used:].strip(), ""
    if current or not out:
        prefix = "" if out else label
        out.append((_lines(prefix, current), len(current)))
    return out


def _lines(prefix: str, text: str) -> list[str]:
    """``prefix + text`` wrapped to MAX_CHARS; a prefix longer than half a line gets a line of its own
    (shortened to fit)."""
    wrap = dict(width=MAX_CHARS, break_on_hyphens=False)
    if len(prefix) > MAX_CHARS // 2:
        head = prefix.strip() if len(prefix.strip()) <= MAX_CHARS else prefix[: MAX_CHARS - 2].rstrip() + "…:"
        return [head] + textwrap.wrap(text, **wrap)
    return textwrap.wrap(text, initial_indent=prefix, **wrap) or [prefix.strip()]


def _used(prefix: str, lines: list[str], text: str) -> int:
    """How many characters of ``text`` the first ``lines`` of ``_lines(prefix, text)`` hold."""
    if len(prefix) > MAX_CHARS // 2:
        lines = lines[1:]
    elif prefix:
        lines = [lines[0][len(prefix) :], *lines[1:]]
    pos = 0
    for line in lines:  # found in order: a word too long for a line is split across lines with no space
        pos = text.index(line, pos) + len(line)
    return pos


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _speech(timeline: Timeline) -> list[PlacedEvent]:
    return [e for e in timeline.events if e.audio_type == "speech"]


def srt(timeline: Timeline) -> str:
    """SubRip: each cue numbered, the speaker's name opening a line's first cue. SubRip has no escapes: an
    arrow ``-->`` in the text (which a reader could take for a timing line) is written ``→``."""
    out = []
    n = 0
    for e in _speech(timeline):
        for cue in cues(e, f"{e.character}: "):
            n += 1
            text = "\n".join(line.replace("-->", "→") for line in cue.lines)
            out.append(f"{n}\n{_stamp(cue.start, ',')} --> {_stamp(cue.end, ',')}\n{text}\n")
    return "\n".join(out)


def _vtt_escape(text: str) -> str:
    """WebVTT cue text: ``&``, ``<`` and ``>`` as character references (so ``-->`` and tags cannot occur)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt(timeline: Timeline) -> str:
    """WebVTT: every cue of a line in the speaker's voice span ``<v Name>``, text and name escaped."""
    out = ["WEBVTT", ""]
    n = 0
    for e in _speech(timeline):
        speaker = _vtt_escape(" ".join((e.character or "").split()))
        for cue in cues(e):
            n += 1
            text = "\n".join(_vtt_escape(line) for line in cue.lines)
            out += [str(n), f"{_stamp(cue.start, '.')} --> {_stamp(cue.end, '.')}", f"<v {speaker}>{text}", ""]
    return "\n".join(out)


def labels(timeline: Timeline) -> str:
    """Audacity label track: start, end, label (tab-separated, seconds), one event a line, and one line per
    chapter (``chapter N: Title``, spanning the chapter) before the events that start with it."""
    items = [(c.start, 0, c.row, f"{c.start:.6f}\t{c.end:.6f}\tchapter {c.number}: {' '.join(c.title.split())}")
             for c in timeline.chapters]
    for e in timeline.events:
        what = f"{e.character}: {e.content}" if e.audio_type == "speech" else f"[{e.audio_type}] {e.content}"
        items.append((e.start, 1, e.row, f"{e.start:.6f}\t{e.end:.6f}\trow {e.row} {' '.join(what.split())}"))
    return "\n".join(line for *_, line in sorted(items)) + "\n"
