"""Read screenplay-style text (a small, Fountain-like grammar) into the audio script table.

Writers can draft a piece as a screenplay and render it with no language model at all::

    Title: The Last Signal
    Cast: MAYA - woman in her thirties, calm, quietly tired
    Cast: DR. OKAFOR - older man, deep warm voice

    INT. RELAY STATION - NIGHT

    AMBIENCE: low electrical hum of a small control room
    MUSIC: slow ambient synthesizer pads (bed, -33 LUFS)

    MAYA
    (quietly)
    Is it still transmitting?

    [A sharp electronic beep]

    DR. OKAFOR (V.O.)
    Every ninety seconds. Like a heartbeat.

    SFX: heavy metal door slams shut (2s)
    MUSIC OUT

The grammar, line by line (blank lines separate blocks):

* **Front matter**: ``Key: value`` lines at the very top, before the first blank line (an indented line
  continues the value above). ``Title:`` names the piece (otherwise the ``title`` argument, otherwise
  "Untitled"); ``Author:`` (or ``Authors:``), ``Album:`` (or ``Show:``), ``Year:``, ``Cover:`` and
  ``Description:`` are the episode metadata; other keys (``Draft date:``...) are ignored.
  ``Cast: NAME - description`` lines (anywhere in the text, ``-``, ``–``, ``—`` or ``:`` after the name)
  describe a character's voice for casting; they become the script's ``cast`` list.
* **Scene headings**: lines starting with ``INT.``, ``EXT.``, ``INT./EXT.``, ``I/E`` or ``EST.``, or forced
  with a leading ``.``. A heading ends the previous scene's ambience. With ``heading_ambience=True`` it also
  begins a quiet ambience described from the location ("Interior ambience: relay station, night.").
* **Character cues**: a line in capital letters (``MAYA``, ``DR. OKAFOR``), optionally with an extension in
  parentheses (``(V.O.)``, ``(O.S.)``, ``(CONT'D)``, dropped), or forced with a leading ``@``, directly
  followed by dialogue lines. The dialogue up to the next blank line is one speech row; the name is written
  in title case ("Dr. Okafor") unless forced with ``@``.
* **Parentheticals** (a dialogue line wholly in parentheses, ``(quietly)``) are delivery notes: never spoken,
  dropped. Bracketed or parenthesised asides inside a spoken line (``Hello [laughs] there``) are removed too,
  as are Fountain emphasis marks (``*``, ``_``).
* **Sound cues**: a line wholly in square brackets (``[Door slams]``), anywhere, or wholly in parentheses
  outside dialogue, or ``SFX: description`` -> a foreground ``sound_effect`` row. A bracketed line inside a
  dialogue block splits the speech around the effect.
* **Music**: ``MUSIC: description`` -> a foreground music row (a sting or interlude played in sequence).
  ``MUSIC: description (bed)`` or ``MUSIC UNDER: description`` begins a background music bed, ending any bed
  still playing (one bed at a time). ``MUSIC OUT``, ``END MUSIC``, ``MUSIC: out`` or ``MUSIC STOPS`` end it.
* **Ambience**: ``AMBIENCE: description`` (or ``SFX: description (bed)``) begins a background effect track,
  ending the ambience still playing; ``AMBIENCE OUT`` / ``END AMBIENCE`` end it.
* **Modifiers**: a trailing parenthesis on ``SFX:``, ``MUSIC:`` and ``AMBIENCE:`` lines and on sound cues
  holds comma-separated settings: ``bed`` (or ``under``), a duration ``4s`` / ``4 sec`` / ``4 seconds``, a
  loudness ``-30 LUFS`` (``dB`` accepted). Anything else in that parenthesis stays in the description.
* **Sections** (``# Act One``) are chapters: each section of the shallowest level used (``#`` if any, else
  ``##``...) starts a chapter at the next row; deeper sections are ignored. A section with nothing to render
  before the next one is dropped (with a warning), as is a leading ``Chapter:`` in its title.
* Everything else is ignored: action lines (write a ``NARRATOR`` cue for narration), transitions
  (``CUT TO:``, ``FADE OUT.``, ``> ... <``), synopses (``=``), page breaks (``===``), notes (``[[...]]``) and
  boneyard (``/* ... */``).

What looked like content but had to be dropped is reported as a warning naming its line (pass a list as
``warnings``; ``read_script`` puts them on ``Script.warnings``): a cue with no dialogue under it, a cue whose
lines are all parentheticals, an ``SFX:``/``MUSIC:``/``AMBIENCE:`` line or ``[ ]`` with no description, a bed
that stops before anything plays over it, a section with nothing in it, and (in one warning) action lines.

Volumes are left at null (the default of each kind: speech -15 LUFS, beds -32 LUFS...) unless a modifier
sets them; durations are ``"auto"`` unless given. Every track still playing at the end is ended there; a
track that would cover no foreground row (begun, then replaced or ended at once) is dropped.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import Problem, ScriptReadError
from .cells import to_number as _number

__all__ = ["parse_fountain"]

_HEADING = re.compile(r"^(?:INT\./EXT\.?|INT/EXT\.?|I/E\.?|INT\.|EXT\.|EST\.)\s+", re.IGNORECASE)
_EXTENSION = re.compile(r"\s*\((?:V\.?O\.?|O\.?S\.?|O\.?C\.?|CONT'?D|CONT\.|CONTINUED|FILTER|PHONE|RADIO|"
                        r"ON RADIO|ON PHONE|OVER|PRELAP|[A-Z .'’]+)\)\s*", re.IGNORECASE)
_MODIFIER = re.compile(r"\(([^()]*)\)\s*$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds)$", re.IGNORECASE)
_VOLUME = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(?:lufs|db|dbfs|lu)$", re.IGNORECASE)
_CUE_CHARS = re.compile(r"^[A-Z0-9 .'’\-&/]+$")
_END_MUSIC = {"MUSIC OUT", "END MUSIC", "MUSIC STOPS", "MUSIC ENDS", "MUSIC FADES OUT", "END OF MUSIC"}
_END_AMBIENCE = {"AMBIENCE OUT", "END AMBIENCE", "AMBIENCE STOPS", "AMBIENCE ENDS", "AMBIENCE FADES OUT"}
_OUT_WORDS = {"out", "end", "stop", "stops", "ends", "off", "fade out", "fades out"}
_TRANSITION = re.compile(r"^(?:(?:FADE|CUT|DISSOLVE|SMASH|MATCH|WIPE|IRIS|JUMP|TIME)\b.*|(?:THE )?END\.?|"
                         r"INTERMISSION\.?|BLACKOUT\.?|BLACK\.?)$|TO:$")
_META_KEYS = {"author": "author", "authors": "author", "album": "album", "show": "album", "year": "year",
              "cover": "cover", "description": "description"}


def _row(audio_type: str, content: str | None, *, layout: str = "foreground", id: int | None = None,
         character: str | None = None, volume: float | None = None, action: str | None = None,
         duration: Any = "auto") -> dict:
    return {"audio_type": audio_type, "layout": layout, "id": id, "character": character, "volume": volume,
            "action": action, "content": content, "duration": duration}


def _modifiers(text: str) -> tuple[str, dict]:
    """Split a trailing ``(bed, 4s, -30 LUFS)`` off a cue's description."""
    mods: dict[str, Any] = {}
    m = _MODIFIER.search(text)
    if not m:
        return text.strip(), mods
    rest = []
    for token in (t.strip() for t in m.group(1).split(",")):
        if not token:
            continue
        low = token.lower()
        if low in ("bed", "under", "background", "loop"):
            mods["bed"] = True
        elif _DURATION.match(token):
            mods["duration"] = _number(_DURATION.match(token).group(1))
        elif _VOLUME.match(token):
            mods["volume"] = _number(_VOLUME.match(token).group(1))
        else:
            rest.append(token)
    desc = text[: m.start()].strip()
    if rest:  # an ordinary parenthesis in the description: keep it
        desc = f"{desc} ({', '.join(rest)})".strip()
    return desc, mods


def _describe(text: str) -> str:
    """A description as a sentence: first letter capital, ends with a full stop."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _title_case(name: str) -> str:
    def word(w: str) -> str:  # DR. -> Dr., JEAN-LUC -> Jean-Luc, O'BRIEN -> O'Brien, JOHN'S -> John's
        return re.sub(r"(^|-|(?<=^[a-z])['’])([a-z])", lambda m: m.group(1) + m.group(2).upper(), w.lower())
    return " ".join(word(w) for w in name.split())


def _spoken(text: str) -> str:
    """Spoken text only: asides in brackets/parentheses and emphasis marks removed."""
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", text)
    text = text.replace("*", "").replace("_", "")
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+([,.!?;:])", r"\1", text)


def _strip_notes(text: str) -> str:
    def blank(m: re.Match) -> str:  # one \x01 per line break taken out, so line numbers can stay true
        return "\x01" * m.group(0).count("\n")

    text = re.sub(r"/\*.*?\*/", blank, text, flags=re.DOTALL)  # boneyard
    return re.sub(r"\[\[.*?\]\]", blank, text, flags=re.DOTALL)  # notes


def _is_cue(line: str) -> bool:
    s = line.strip()
    if s.startswith("@"):
        return len(s) > 1
    if s.startswith("!") or s.endswith(":") or s.endswith("TO:"):
        return False
    name = _EXTENSION.sub(" ", s).strip().rstrip("^").strip()
    return bool(name) and any(c.isalpha() for c in name) and name == name.upper() and bool(_CUE_CHARS.match(name))


def _cue_name(line: str) -> str:
    s = line.strip().rstrip("^").strip()
    if s.startswith("@"):
        return _EXTENSION.sub(" ", s[1:]).strip()
    return _title_case(_EXTENSION.sub(" ", s).strip())


def _is_heading(line: str) -> bool:
    s = line.strip()
    return bool(_HEADING.match(s)) or (s.startswith(".") and len(s) > 1 and s[1] not in ".")


def _heading_ambience(line: str) -> str:
    s = line.strip().lstrip(".").strip()
    m = _HEADING.match(s)
    kind = ""
    if m:
        tag = m.group(0).strip().upper()
        kind = "Exterior" if tag.startswith("EXT") else "Interior" if tag.startswith("INT") else ""
        s = s[m.end():]
    s = re.sub(r"\s*#[^#]*#\s*$", "", s)  # scene numbers
    parts = [p.strip().lower() for p in re.split(r"\s+[-–—]\s+", s) if p.strip()]
    place = ", ".join(parts) or "the scene"
    return f"{kind + ' ambience' if kind else 'Ambience'}: {place}."


class _Builder:
    def __init__(self, warn) -> None:
        self.rows: list[dict] = []
        self.next_id = 1
        self.music: int | None = None  # id of the music bed playing
        self.ambience: int | None = None  # id of the ambience playing
        self.begun_at: dict[int, int | None] = {}  # track id -> screenplay line of its cue (None: a heading's)
        self.chapter: tuple[str, int] | None = None  # a section waiting for its first row: (title, line)
        self.line: int | None = None  # the screenplay line being read
        self.warn = warn

    def add(self, row: dict) -> None:
        if self.chapter is not None and row["action"] != "end":
            row["chapter"] = self.chapter[0]
            self.chapter = None
        self.rows.append(row)

    def section(self, title: str, line: int) -> None:
        if self.chapter is not None:
            self._empty_section(*self.chapter)
        self.chapter = (title, line)

    def _empty_section(self, title: str, line: int) -> None:
        self.warn(line, f"section '{title}' has nothing to render before the next section or the end, so it is "
                        "not a chapter.", "put dialogue or cues under it, or remove it.")

    def speech(self, character: str, text: str) -> None:
        text = _spoken(text)
        if text:
            self.add(_row("speech", text, character=character))

    def effect(self, text: str) -> None:
        desc, mods = _modifiers(text)
        if mods.get("bed"):
            self.begin_ambience(desc, mods)
        elif _describe(desc):
            self.add(_row("sound_effect", _describe(desc), volume=mods.get("volume"),
                          duration=mods.get("duration", "auto")))
        else:
            self._nothing("sound cue")

    def _nothing(self, what: str) -> None:
        self.warn(self.line, f"this {what} has no description, so nothing plays.",
                  "describe the sound after the colon or inside the brackets.")

    def music_cue(self, text: str, bed: bool = False) -> None:
        desc, mods = _modifiers(text)
        if desc.strip().lower().rstrip(".") in _OUT_WORDS:
            self.end_music()
        elif bed or mods.get("bed"):
            self.end_music()
            self.music = self._begin("music", desc, mods)
        elif _describe(desc):
            self.add(_row("music", _describe(desc), volume=mods.get("volume"), duration=mods.get("duration", "auto")))
        else:
            self._nothing("music cue")

    def begin_ambience(self, text: str, mods: dict | None = None, from_heading: bool = False) -> None:
        if mods is None:
            text, mods = _modifiers(text)
        if text.strip().lower().rstrip(".") in _OUT_WORDS:
            self.end_ambience()
            return
        self.end_ambience()
        self.ambience = self._begin("sound_effect", text, mods, from_heading)

    def _begin(self, audio_type: str, desc: str, mods: dict, from_heading: bool = False) -> int | None:
        if not _describe(desc):
            self._nothing("background cue")
            return None
        track = self.next_id
        self.next_id += 1
        self.begun_at[track] = None if from_heading else self.line
        self.add(_row(audio_type, _describe(desc), layout="background", id=track, volume=mods.get("volume"),
                      action="begin", duration=mods.get("duration", "auto")))
        return track

    def _end(self, track: int | None) -> None:
        if track is None:
            return
        begin = next(i for i, r in enumerate(self.rows) if r["id"] == track)
        if not any(r["layout"] == "foreground" for r in self.rows[begin + 1:]):
            dropped = self.rows.pop(begin)  # a track that would cover no foreground row: drop it
            if self.begun_at[track] is not None:
                self.warn(self.begun_at[track], f"the track '{dropped['content']}' stops before any dialogue or "
                                                "cue plays over it, so it is dropped.",
                          "put dialogue or cues between it and the line that ends or replaces it.")
            if "chapter" in dropped:
                self._move_chapter(dropped["chapter"], begin)
        else:
            self.add(_row(self.rows[begin]["audio_type"], None, layout="background", id=track, action="end",
                          duration=None))

    def _move_chapter(self, title: str, index: int) -> None:
        """A chapter whose row was dropped starts at the next row that can hold it, or waits for one."""
        for r in self.rows[index:]:
            if r["action"] != "end" and "chapter" not in r:
                r["chapter"] = title
                return
        if self.chapter is None:
            self.chapter = (title, self.line or 0)

    def end_music(self) -> None:
        self._end(self.music)
        self.music = None

    def end_ambience(self) -> None:
        self._end(self.ambience)
        self.ambience = None

    def finish(self) -> None:
        self.end_music()
        self.end_ambience()
        if self.chapter is not None:
            self._empty_section(*self.chapter)
        renumber: dict[int, int] = {}  # dropped tracks leave gaps: number tracks 1, 2, 3... in order
        for r in self.rows:
            if r["id"] is not None:
                r["id"] = renumber.setdefault(r["id"], len(renumber) + 1)
        # a chapter needs a foreground row of its own before the next chapter starts
        marks = [i for i, r in enumerate(self.rows) if "chapter" in r] + [len(self.rows)]
        for i, j in zip(marks, marks[1:]):
            if not any(r["layout"] == "foreground" for r in self.rows[i:j]):
                title = self.rows[i].pop("chapter")
                self.warn(None, f"section '{title}' holds only background tracks, so it is not a chapter.",
                          "put dialogue or cues under it, or remove it.")


def _directive(line: str) -> tuple[str, str] | None:
    """Recognise ``SFX:``, ``MUSIC:``, ``AMBIENCE:`` lines and the end forms; returns (kind, rest)."""
    s = line.strip()
    up = s.upper().rstrip(".").strip()
    if up in _END_MUSIC:
        return "music_out", ""
    if up in _END_AMBIENCE:
        return "ambience_out", ""
    m = re.match(r"^(SFX|SOUND|FX|MUSIC UNDER|MUSIC|AMBIENCE|AMBIENT|ATMOS|BED)\s*:\s*(.*)$", s, re.IGNORECASE)
    if not m:
        return None
    key = m.group(1).upper()
    kind = {"SFX": "sfx", "SOUND": "sfx", "FX": "sfx", "MUSIC UNDER": "music_bed", "MUSIC": "music",
            "AMBIENCE": "ambience", "AMBIENT": "ambience", "ATMOS": "ambience", "BED": "music_bed"}[key]
    return kind, m.group(2).strip()


def _cast_line(line: str) -> tuple[str, str] | None:
    m = re.match(r"^\s*cast\s*:\s*(.+)$", line, re.IGNORECASE)
    if not m:
        return None
    parts = re.split(r"\s+[-–—]\s+|\s*[:|]\s*", m.group(1).strip(), maxsplit=1)
    name = parts[0].strip().lstrip("@")
    desc = parts[1].strip() if len(parts) > 1 else ""
    name = _title_case(name) if name == name.upper() else name
    return name, desc


def parse_fountain(text: str, title: str | None = None, *, heading_ambience: bool = False,
                   warnings: list[Problem] | None = None) -> dict:
    """Parse screenplay text (the grammar in this module's docstring) into a canonical script dict.

    ``title`` is used when the text has no ``Title:`` front matter. The dict is not validated here; read it
    through :func:`storyaudio.script.Script.from_dict` (``read_script`` does). What had to be dropped is
    appended to ``warnings`` (when given) as Problems whose field names the screenplay line. Raises
    ScriptReadError when the text holds no dialogue, effect or music at all.
    """
    found: list[Problem] = []

    def warn(line: int | None, message: str, fix: str) -> None:
        found.append(Problem(None, f"line {line}" if line else None, message, fix))

    text = _strip_notes(text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff"))
    lines, numbers, at = [], [], 1  # the lines, and each one's number in the text as written
    for line in text.split("\n"):
        lines.append(line.replace("\x01", ""))
        numbers.append(at)
        at += 1 + line.count("\x01")

    # Front matter: key: value lines at the very top, up to the first blank line; indented lines continue.
    front: dict[str, str] = {}
    i = 0
    if lines and re.match(r"^\s*[A-Za-z][A-Za-z ]*:\s*\S", lines[0]) and not _directive(lines[0]):
        key = ""
        while i < len(lines) and lines[i].strip():
            if lines[i][:1] in (" ", "\t") and key:
                front[key] = f"{front[key]} {lines[i].strip()}".strip()
            else:
                key, _, value = lines[i].partition(":")
                key = key.strip().lower()
                front[key] = value.strip()
            i += 1
    front_title = re.sub(r"[*_]", "", front.get("title", "")).strip() or None

    cast: dict[str, str] = {}
    b = _Builder(warn)
    # Cast lines anywhere (front matter included).
    for line in lines:
        c = _cast_line(line)
        if c and c[1]:
            cast[c[0]] = c[1]

    # Blocks of non-blank lines (with their line numbers); a section line is a block of its own.
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for number, line in zip(numbers[i:], lines[i:]):
        if line.strip() and not _section(line):
            current.append((number, line.rstrip()))
            continue
        if current:
            blocks.append(current)
            current = []
        if _section(line):
            blocks.append([(number, line.strip())])
    if current:
        blocks.append(current)
    levels = [_section(ln)[0] for block in blocks for _, ln in block[:1] if _section(ln)]
    chapter_level = min(levels) if levels else 0

    action_lines: list[int] = []
    for block in blocks:
        number, first = block[0][0], block[0][1].strip()
        b.line = number
        section = _section(first)
        if section:
            if section[0] == chapter_level and section[1]:
                b.section(section[1], number)
            continue
        if _cast_line(first):
            continue
        if _is_heading(first):
            b.end_ambience()
            if heading_ambience:
                b.begin_ambience(_heading_ambience(first), {}, from_heading=True)
            block = block[1:]
            if not block:
                continue
            number, first = block[0][0], block[0][1].strip()
        if len(block) >= 2 and _is_cue(first) and not _directive(first) and not _is_bracketed(first):
            character = _cue_name(first)
            rows_before = len(b.rows)
            spoken: list[str] = []
            for number, line in block[1:]:
                s = line.strip()
                b.line = number
                if (s.startswith("[") and s.endswith("]")) or _directive(s):
                    b.speech(character, " ".join(spoken))
                    spoken = []
                    _action_line(b, s)
                elif s.startswith("(") and s.endswith(")"):
                    continue  # parenthetical: a delivery note, never spoken
                else:
                    spoken.append(s)
            b.speech(character, " ".join(spoken))
            if len(b.rows) == rows_before:
                warn(block[0][0], f"{character}'s cue has no words to speak (only parentheticals or asides), "
                                  "so it is dropped.", "write the spoken line under the name.")
            continue
        if len(block) == 1 and _is_cue(first) and not _directive(first) and not _is_transition(first):
            warn(number, f"'{first}' looks like a character cue, but no dialogue follows it, so nothing is spoken.",
                 "put the spoken line directly under the name, with no blank line between.")
            continue
        for number, line in block:
            b.line = number
            if not _action_line(b, line.strip()):
                action_lines.append(number)

    b.finish()
    if not b.rows:
        raise ScriptReadError(
            "the screenplay has no dialogue, sound cue or music cue. Write a character name in capitals on its "
            "own line with the spoken text below it, '[a sound]' or 'SFX: ...' for effects, 'MUSIC: ...' for music.")
    if action_lines:
        n = len(action_lines)
        shown = ", ".join(str(k) for k in action_lines[:5]) + (f" and {n - 5} more" if n > 5 else "")
        found.append(Problem(None, None, f"{n} line{'s' if n > 1 else ''} of action text (line{'s' if n > 1 else ''} "
                                         f"{shown}) {'are' if n > 1 else 'is'} not spoken.",
                             "to have action read, put a NARRATOR cue on the line above it; write sounds as "
                             "[a sound] or SFX: ..."))
    if warnings is not None:
        warnings.extend(found)
    out: dict[str, Any] = {"title": (front_title or title or "Untitled").strip()[:200] or "Untitled"}
    for key, value in front.items():
        if key in _META_KEYS and value:
            meta = _META_KEYS[key]
            out[meta] = int(value) if meta == "year" and re.fullmatch(r"\d{4}", value) else value
    if cast:
        out["cast"] = [{"name": n, "description": d[:300], "voice": None} for n, d in cast.items()]
    out["rows"] = b.rows
    return out


def _section(line: str) -> tuple[int, str] | None:
    """(level, title) of a section line (``# Act One``; a leading ``Chapter:`` is dropped from the title)."""
    m = re.match(r"^\s*(#+)\s*(.*?)\s*$", line)
    if not m:
        return None
    title = re.sub(r"^chapter\s*:\s*", "", m.group(2), flags=re.IGNORECASE)
    return len(m.group(1)), title


def _is_transition(line: str) -> bool:
    return bool(_TRANSITION.search(line.strip().upper())) or line.strip().startswith(">")


def _is_bracketed(s: str) -> bool:
    return (s.startswith("[") and s.endswith("]") and not s.startswith("[[")) or (s.startswith("(") and s.endswith(")"))


def _action_line(b: _Builder, s: str) -> bool:
    """A line outside dialogue: a directive, a sound cue, or ignored text. Returns False for action text (what
    a reader might have meant to hear), True for everything else."""
    d = _directive(s)
    if d:
        kind, rest = d
        if kind == "music_out":
            b.end_music()
        elif kind == "ambience_out":
            b.end_ambience()
        elif kind == "sfx":
            b.effect(rest)
        elif kind == "music":
            b.music_cue(rest)
        elif kind == "music_bed":
            b.music_cue(rest, bed=True)
        elif kind == "ambience":
            b.begin_ambience(rest)
        return True
    if _is_bracketed(s):
        b.effect(s[1:-1].strip())
        return True
    return _is_transition(s) or _is_heading(s) or s.startswith(("=", "~", "!!")) or bool(_cast_line(s))
