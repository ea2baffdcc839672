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

* **Front matter**: ``Key: value`` lines at the very top, before the first blank line. ``Title:`` names the
  piece (otherwise the ``title`` argument, otherwise "Untitled"); other keys (``Author:``, ``Draft date:``...)
  are ignored. ``Cast: NAME - description`` lines (anywhere in the text, ``-``, ``–``, ``—`` or ``:`` after
  the name) describe a character's voice for casting; they become the script's ``cast`` list.
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
* Everything else is ignored: action lines (write a ``NARRATOR`` cue for narration), transitions
  (``CUT TO:``, ``FADE OUT.``, ``> ... <``), sections (``#``), synopses (``=``), page breaks (``===``),
  notes (``[[...]]``) and boneyard (``/* ... */``).

Volumes are left at null (the default of each kind: speech -15 LUFS, beds -32 LUFS...) unless a modifier
sets them; durations are ``"auto"`` unless given. Every track still playing at the end is ended there; a
track that would cover no foreground row (begun, then replaced or ended at once) is dropped.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ScriptReadError
from .io import _number

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
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)  # boneyard
    return re.sub(r"\[\[.*?\]\]", "", text, flags=re.DOTALL)  # notes


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
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.next_id = 1
        self.music: int | None = None  # id of the music bed playing
        self.ambience: int | None = None  # id of the ambience playing

    def add(self, row: dict) -> None:
        self.rows.append(row)

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

    def music_cue(self, text: str, bed: bool = False) -> None:
        desc, mods = _modifiers(text)
        if desc.strip().lower().rstrip(".") in _OUT_WORDS:
            self.end_music()
        elif bed or mods.get("bed"):
            self.end_music()
            self.music = self._begin("music", desc, mods)
        elif _describe(desc):
            self.add(_row("music", _describe(desc), volume=mods.get("volume"), duration=mods.get("duration", "auto")))

    def begin_ambience(self, text: str, mods: dict | None = None) -> None:
        if mods is None:
            text, mods = _modifiers(text)
        if text.strip().lower().rstrip(".") in _OUT_WORDS:
            self.end_ambience()
            return
        self.end_ambience()
        self.ambience = self._begin("sound_effect", text, mods)

    def _begin(self, audio_type: str, desc: str, mods: dict) -> int | None:
        if not _describe(desc):
            return None
        track = self.next_id
        self.next_id += 1
        self.add(_row(audio_type, _describe(desc), layout="background", id=track, volume=mods.get("volume"),
                      action="begin", duration=mods.get("duration", "auto")))
        return track

    def _end(self, track: int | None) -> None:
        if track is None:
            return
        begin = next(i for i, r in enumerate(self.rows) if r["id"] == track)
        if not any(r["layout"] == "foreground" for r in self.rows[begin + 1:]):
            del self.rows[begin]  # a track that would cover no foreground row: drop it
        else:
            self.add(_row(self.rows[begin]["audio_type"], None, layout="background", id=track, action="end",
                          duration=None))

    def end_music(self) -> None:
        self._end(self.music)
        self.music = None

    def end_ambience(self) -> None:
        self._end(self.ambience)
        self.ambience = None

    def finish(self) -> None:
        self.end_music()
        self.end_ambience()
        renumber: dict[int, int] = {}  # dropped tracks leave gaps: number tracks 1, 2, 3... in order
        for r in self.rows:
            if r["id"] is not None:
                r["id"] = renumber.setdefault(r["id"], len(renumber) + 1)


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


def parse_fountain(text: str, title: str | None = None, *, heading_ambience: bool = False) -> dict:
    """Parse screenplay text (the grammar in this module's docstring) into a canonical script dict.

    ``title`` is used when the text has no ``Title:`` front matter. The dict is not validated here; read it
    through :func:`storyaudio.script.Script.from_dict` (``read_script`` does). Raises ScriptReadError when
    the text holds no dialogue, effect or music at all.
    """
    text = _strip_notes(text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff"))
    lines = text.split("\n")

    # Front matter: key: value lines at the very top, up to the first blank line.
    front_title = None
    i = 0
    if lines and re.match(r"^\s*[A-Za-z][A-Za-z ]*:\s*\S", lines[0]) and not _directive(lines[0]):
        while i < len(lines) and lines[i].strip():
            key, _, value = lines[i].partition(":")
            if key.strip().lower() == "title" and value.strip():
                front_title = re.sub(r"[*_]", "", value.strip())
            i += 1

    cast: dict[str, str] = {}
    b = _Builder()
    body = lines[i:]
    # Cast lines anywhere (front matter included).
    for line in lines:
        c = _cast_line(line)
        if c and c[1]:
            cast[c[0]] = c[1]

    blocks: list[list[str]] = []
    current: list[str] = []
    for line in body:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)

    for block in blocks:
        first = block[0].strip()
        if _cast_line(first):
            continue
        if _is_heading(first):
            b.end_ambience()
            if heading_ambience:
                b.begin_ambience(_heading_ambience(first), {})
            block = block[1:]
            if not block:
                continue
            first = block[0].strip()
        if len(block) >= 2 and _is_cue(first) and not _directive(first) and not _is_bracketed(first):
            character = _cue_name(first)
            spoken: list[str] = []
            for line in block[1:]:
                s = line.strip()
                if (s.startswith("[") and s.endswith("]")) or _directive(s):
                    b.speech(character, " ".join(spoken))
                    spoken = []
                    _action_line(b, s)
                elif s.startswith("(") and s.endswith(")"):
                    continue  # parenthetical: a delivery note, never spoken
                else:
                    spoken.append(s)
            b.speech(character, " ".join(spoken))
            continue
        for line in block:
            _action_line(b, line.strip())

    b.finish()
    if not b.rows:
        raise ScriptReadError(
            "the screenplay has no dialogue, sound cue or music cue. Write a character name in capitals on its "
            "own line with the spoken text below it, '[a sound]' or 'SFX: ...' for effects, 'MUSIC: ...' for music.")
    out: dict[str, Any] = {"title": (front_title or title or "Untitled").strip()[:200] or "Untitled"}
    if cast:
        out["cast"] = [{"name": n, "description": d[:300], "voice": None} for n, d in cast.items()]
    out["rows"] = b.rows
    return out


def _is_bracketed(s: str) -> bool:
    return (s.startswith("[") and s.endswith("]") and not s.startswith("[[")) or (s.startswith("(") and s.endswith(")"))


def _action_line(b: _Builder, s: str) -> None:
    """A line outside dialogue: a directive, a sound cue, or ignored action/transition text."""
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
        return
    if _is_bracketed(s):
        b.effect(s[1:-1].strip())
