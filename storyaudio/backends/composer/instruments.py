"""General MIDI vocabulary: program numbers, display names, registers, and the words people use for them."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Display names of the General MIDI programs the composer uses (0-based program numbers).
GM_NAMES: dict[int, str] = {
    0: "piano", 1: "bright piano", 2: "electric grand", 3: "honky-tonk piano", 4: "electric piano",
    5: "FM electric piano", 6: "harpsichord", 7: "clavinet", 8: "celesta", 9: "glockenspiel", 10: "music box",
    11: "vibraphone", 12: "marimba", 13: "xylophone", 14: "tubular bells", 15: "dulcimer",
    16: "organ", 17: "percussive organ", 18: "rock organ", 19: "church organ", 20: "reed organ",
    21: "accordion", 22: "harmonica", 23: "bandoneon", 24: "nylon guitar", 25: "acoustic guitar",
    26: "jazz guitar", 27: "clean electric guitar", 28: "muted guitar", 29: "overdriven guitar",
    30: "distortion guitar", 32: "upright bass", 33: "electric bass", 34: "picked bass",
    35: "fretless bass", 36: "slap bass", 38: "synth bass", 39: "synth bass 2", 40: "violin", 41: "viola",
    42: "cello", 43: "contrabass", 44: "tremolo strings", 45: "pizzicato strings", 46: "harp", 47: "timpani",
    48: "strings", 49: "slow strings", 50: "synth strings", 52: "choir", 53: "voice oohs", 54: "synth voice",
    55: "orchestra hit", 56: "trumpet", 57: "trombone", 58: "tuba", 59: "muted trumpet", 60: "french horn",
    61: "brass section", 62: "synth brass", 64: "soprano sax", 65: "alto sax", 66: "tenor sax",
    67: "baritone sax", 68: "oboe", 69: "english horn", 70: "bassoon", 71: "clarinet", 72: "piccolo",
    73: "flute", 74: "recorder", 75: "pan flute", 77: "shakuhachi", 78: "whistle", 79: "ocarina",
    80: "square lead", 81: "saw lead", 84: "charang", 88: "new age pad", 89: "warm pad", 90: "polysynth pad",
    91: "choir pad", 92: "bowed pad", 94: "halo pad", 95: "sweep pad", 99: "atmosphere pad",
    104: "sitar", 105: "banjo", 106: "shamisen", 107: "koto", 108: "kalimba", 109: "bagpipe", 110: "fiddle",
    114: "steel drums", 116: "taiko", 117: "hand drum",
}

#: Drum kits (bank 128 presets) by name.
KITS: dict[str, int] = {"standard": 0, "room": 8, "power": 16, "electronic": 24, "tr808": 25, "jazz": 32,
                        "brush": 40, "orchestra": 48}
KIT_NAMES: dict[int, str] = {0: "drums", 8: "room drums", 16: "power drums", 24: "electronic drums",
                             25: "808 drums", 32: "jazz drums", 40: "brushed drums", 48: "orchestral percussion"}

#: General MIDI drum keys (channel 10) the patterns play.
KICK, SIDESTICK, SNARE, CLAP = 36, 37, 38, 39
CLOSED_HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE = 42, 44, 46, 49, 51
FLOOR_TOM, LOW_TOM, MID_TOM, HIGH_TOM = 41, 45, 47, 50

#: Register centre (MIDI note) of a melody played by each program; others use 72.
LEAD_CENTRE: dict[int, int] = {
    66: 62, 67: 52, 57: 57, 58: 45, 42: 57, 43: 45, 70: 52, 65: 67, 71: 67, 60: 62, 61: 67, 56: 70, 59: 70,
    73: 77, 72: 86, 9: 84, 8: 79, 10: 84, 112: 84, 40: 76, 110: 74, 41: 65, 22: 72, 78: 82, 79: 77, 75: 74,
    24: 67, 25: 67, 26: 65, 27: 67, 28: 62, 29: 64, 30: 64, 104: 67, 105: 69, 107: 72, 68: 74, 69: 67,
    64: 74, 52: 67, 53: 67, 47: 45, 116: 45, 11: 74, 12: 72, 13: 79, 80: 74, 81: 72, 21: 69, 114: 74,
}

#: Register centre of chords (the middle of the voicing) for each program; others use 62.
CHORD_CENTRE: dict[int, int] = {24: 58, 25: 58, 26: 60, 27: 60, 28: 57, 29: 55, 30: 55, 8: 74, 10: 76,
                                9: 80, 46: 64, 42: 52, 43: 45, 47: 45, 60: 58, 61: 60, 57: 52, 58: 45,
                                105: 64, 107: 66, 108: 70, 12: 67, 11: 66, 52: 62, 45: 60}


@dataclass(frozen=True)
class Alias:
    pattern: str  # regex matched against the lower-cased description
    program: int  # GM program, or -1 for the drum kit
    role: str  # "bass", "lead", "chords", "pad", "drums", "perc"
    kit: int | None = None


#: Words for instruments, most specific first. Role says which part a named instrument takes.
ALIASES: list[Alias] = [
    Alias(r"brush(ed)? (drums|kit|snare)|brushes", -1, "drums", KITS["brush"]),
    Alias(r"808|trap drums|drum machine", -1, "drums", KITS["tr808"]),
    Alias(r"electronic drums|synth drums", -1, "drums", KITS["electronic"]),
    Alias(r"upright bass|double bass|acoustic bass|contrabass", 32, "bass"),
    Alias(r"fretless", 35, "bass"),
    Alias(r"slap bass", 36, "bass"),
    Alias(r"synth(esizer)? ?bass|bass ?synth|808 bass", 38, "bass"),
    Alias(r"electric bass|bass guitar|\bbass\b", 33, "bass"),
    Alias(r"tuba|sousaphone", 58, "bass"),
    Alias(r"electric piano|rhodes|wurlitzer|e-piano|keys\b", 4, "chords"),
    Alias(r"honky[- ]?tonk|saloon piano", 3, "chords"),
    Alias(r"harpsichord", 6, "chords"),
    Alias(r"clavinet|clav\b", 7, "chords"),
    Alias(r"piano|pianist", 0, "chords"),
    Alias(r"celesta", 8, "lead"),
    Alias(r"glockenspiel|glock\b", 9, "lead"),
    Alias(r"music ?box", 10, "lead"),
    Alias(r"vibraphone|vibes\b", 11, "lead"),
    Alias(r"marimba", 12, "chords"),
    Alias(r"xylophone", 13, "lead"),
    Alias(r"tubular bells|church bells|chimes", 14, "lead"),
    Alias(r"dulcimer", 15, "chords"),
    Alias(r"church organ|pipe organ|cathedral", 19, "chords"),
    Alias(r"hammond|rock organ", 18, "chords"),
    Alias(r"organ", 16, "chords"),
    Alias(r"accordion|bandoneon", 21, "chords"),
    Alias(r"harmonica", 22, "lead"),
    Alias(r"nylon|classical guitar|spanish guitar|flamenco guitar|ukulele", 24, "chords"),
    Alias(r"jazz guitar|hollow ?body", 26, "chords"),
    Alias(r"distort\w* guitar|heavy guitar|metal guitar", 30, "chords"),
    Alias(r"overdrive\w* guitar|rock guitar|electric guitars?|guitar riff", 29, "chords"),
    Alias(r"clean (electric )?guitar|funk guitar", 27, "chords"),
    Alias(r"muted guitar", 28, "chords"),
    Alias(r"acoustic guitars?|steel[- ]string|guitars?", 25, "chords"),
    Alias(r"banjo", 105, "chords"),
    Alias(r"mandolin|bouzouki", 105, "lead"),
    Alias(r"sitar", 104, "lead"),
    Alias(r"shamisen", 106, "lead"),
    Alias(r"koto", 107, "chords"),
    Alias(r"kalimba|mbira", 108, "chords"),
    Alias(r"bagpipes?", 109, "lead"),
    Alias(r"fiddle", 110, "lead"),
    Alias(r"pizzicato", 45, "chords"),
    Alias(r"tremolo strings", 44, "pad"),
    Alias(r"violas?\b", 41, "lead"),
    Alias(r"violins?\b", 40, "lead"),
    Alias(r"cellos?\b|violoncello", 42, "lead"),
    Alias(r"harp\b|harps\b", 46, "chords"),
    Alias(r"timpani|kettle ?drums?", 47, "perc"),
    Alias(r"hand ?drums?|bongos?|congas?|djembe", 117, "perc"),
    Alias(r"taiko( drums?)?", 116, "perc"),
    Alias(r"string (ensemble|section|quartet)|strings", 48, "pad"),
    Alias(r"choir|chorus|choral|voices|vocals|singing", 52, "pad"),
    Alias(r"orchestra hits?", 55, "chords"),
    Alias(r"muted trumpet", 59, "lead"),
    Alias(r"trumpets?|cornet|flugelhorn", 56, "lead"),
    Alias(r"trombones?", 57, "lead"),
    Alias(r"french horns?|horns?\b", 60, "pad"),
    Alias(r"brass", 61, "chords"),
    Alias(r"soprano sax", 64, "lead"),
    Alias(r"alto sax", 65, "lead"),
    Alias(r"baritone sax|bari sax", 67, "lead"),
    Alias(r"tenor sax|saxophone|sax\b", 66, "lead"),
    Alias(r"english horn|cor anglais", 69, "lead"),
    Alias(r"oboes?\b", 68, "lead"),
    Alias(r"bassoons?", 70, "lead"),
    Alias(r"clarinets?", 71, "lead"),
    Alias(r"piccolo", 72, "lead"),
    Alias(r"pan ?flute|pan ?pipes", 75, "lead"),
    Alias(r"flutes?\b", 73, "lead"),
    Alias(r"recorder", 74, "lead"),
    Alias(r"shakuhachi|bamboo flute", 77, "lead"),
    Alias(r"whistl\w*", 78, "lead"),
    Alias(r"ocarina", 79, "lead"),
    Alias(r"chiptune|8-bit|8 bit|square (wave|lead)", 80, "lead"),
    Alias(r"synth lead|lead synth|saw lead", 81, "lead"),
    Alias(r"synth pads?|pads?\b|synths?\b|synthesi[sz]ers?", 89, "pad"),
    Alias(r"steel (drums?|pan)", 114, "lead"),
    Alias(r"drums?\b|drum ?kit|percussion|beat\b|beats\b", -1, "drums", None),  # last: "taiko drums" is taiko
]


def lead_centre(program: int) -> int:
    return LEAD_CENTRE.get(program, 72)


def chord_centre(program: int) -> int:
    return CHORD_CENTRE.get(program, 62)


def program_name(program: int, kit: int | None = None) -> str:
    if program < 0:
        return KIT_NAMES.get(kit or 0, "drums")
    return GM_NAMES.get(program, f"GM program {program + 1}")


def named_instruments(text: str) -> list[tuple[Alias, int]]:
    """Instruments named in ``text`` in the order they are written: (alias, position). Each stretch of text
    counts once (the most specific alias wins), and negated ones ("no drums", "without piano") are left out."""
    low = text.lower()
    taken: list[tuple[int, int]] = []
    found: list[tuple[Alias, int]] = []
    for alias in ALIASES:
        for m in re.finditer(r"\b(?:" + alias.pattern + r")", low):
            a, b = m.span()
            if any(a < e and s < b for s, e in taken):
                continue
            taken.append((a, b))
            before = low[max(0, a - 12):a]
            if re.search(r"\b(no|without|minus|not|sans)\s+(\w+\s+)?$", before):
                continue
            found.append((alias, a))
    found.sort(key=lambda x: x[1])
    return found


def negated(text: str, word_pattern: str) -> bool:
    """True when the text says "no X" / "without X" for X matching ``word_pattern``."""
    return re.search(r"\b(no|without|minus)\s+(\w+\s+)?(?:" + word_pattern + r")", text.lower()) is not None
