"""From a description to a musical plan.

Rules, not a model: the description is matched against style and mood vocabularies (genre words, settings such
as "cafe" or "news", moods, tempo words, explicit "140 bpm", "in D minor", "3/4", named instruments). Every
text lands on a plan: with no recognised word at all the style falls back to a gentle acoustic piece.
The key and the tempo come from the text alone (the same cue keeps its key and tempo across rows); the
progressions and the arrangement also depend on the seed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from ..base import rng_for
from .instruments import (
    KITS,
    Alias,
    lead_centre,
    named_instruments,
    negated,
    program_name,
)

NOTE_NAMES = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_PC = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}

SCALES: dict[str, list[int]] = {
    "major": [0, 2, 4, 5, 7, 9, 11],
    "minor": [0, 2, 3, 5, 7, 8, 10],
    "dorian": [0, 2, 3, 5, 7, 9, 10],
    "mixolydian": [0, 2, 4, 5, 7, 9, 10],
    "harmonic minor": [0, 2, 3, 5, 7, 8, 11],
}
MINORISH = {"minor", "dorian", "harmonic minor"}


@dataclass
class Part:
    """One track: its role, General MIDI program (-1 with ``kit`` for drums), pattern style and mix place."""

    role: str  # "chords", "pad", "bass", "lead", "drums", "perc"
    program: int
    name: str
    pattern: str
    pan: float = 0.0  # -1 left .. +1 right
    level: float = 1.0  # 0..1, becomes MIDI channel volume
    kit: int | None = None
    enter: float = 0.0  # section intensity at which the part plays


@dataclass
class MusicPlan:
    style: str
    family: str
    mood: str
    tempo: float
    meter: int  # beats per bar (4 or 3); the beat is a quarter note
    tonic: int  # pitch class
    mode: str
    swing: float
    parts: list[Part]
    progressions: dict[str, list[list[str]]]  # section letter -> bars -> chord symbols
    texture: str
    reverb: float  # seconds of reverb decay (RT60)
    layout: str = "background"
    words: list[str] = field(default_factory=list)  # what in the text decided the plan

    @property
    def key(self) -> str:
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"

    def instruments(self) -> list[str]:
        """The instruments by name, each once, in part order."""
        out: list[str] = []
        for p in self.parts:
            if p.name not in out:
                out.append(p.name)
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["key"] = self.key
        d["meter"] = f"{self.meter}/4"
        d["tempo"] = round(self.tempo, 1)
        d["parts"] = [{"role": p.role, "instrument": p.name, "program": p.program, "pattern": p.pattern,
                       "pan": round(p.pan, 2)} | ({"kit": p.kit} if p.kit is not None else {})
                      for p in self.parts]
        return d

    def detail(self) -> str:
        return (f"composer: {self.style} in {self.key}, {self.tempo:.0f} bpm, {self.meter}/4 — "
                + ", ".join(self.instruments()))


# ---------------------------------------------------------------------------------------------------------
# Styles. Each names its keywords (regex stems), tempo range, default mode, keys, swing, parts and
# progressions (4 bars each; a bar is one chord or two; roman numerals relative to the tonic, upper case
# major, lower case minor, b for flat, 7/maj7/ø7/°/sus4/add9/6 suffixes).
# ---------------------------------------------------------------------------------------------------------

P = Part  # brevity in the tables below

MAJOR_POP = [[["I"], ["V"], ["vi"], ["IV"]], [["I"], ["vi"], ["IV"], ["V"]], [["vi"], ["IV"], ["I"], ["V"]],
             [["I"], ["IV"], ["vi"], ["V"]], [["IV"], ["I"], ["V"], ["vi"]], [["I"], ["iii"], ["IV"], ["V"]]]
MINOR_EPIC = [[["i"], ["bVI"], ["bIII"], ["bVII"]], [["i"], ["iv"], ["bVI"], ["V"]],
              [["i"], ["bVII"], ["bVI"], ["V"]], [["i"], ["bVI"], ["iv"], ["V"]], [["bVI"], ["bVII"], ["i"], ["i"]],
              [["i"], ["bIII"], ["bVII"], ["iv"]]]
MINOR_SUSPENSE = [[["i"], ["i"], ["bVI"], ["V"]], [["i"], ["bII"], ["i"], ["V"]],
                  [["i"], ["iv"], ["i"], ["bVI", "V"]], [["i"], ["bVI"], ["i"], ["vii°7"]]]
JAZZ_MAJOR = [[["Imaj7"], ["vi7"], ["ii7"], ["V7"]], [["ii7"], ["V7"], ["Imaj7"], ["Imaj7"]],
              [["Imaj7", "vi7"], ["ii7", "V7"], ["iii7", "vi7"], ["ii7", "V7"]], [["IVmaj7"], ["iii7"], ["ii7"], ["V7"]],
              [["Imaj7"], ["IV7"], ["iii7", "VI7"], ["ii7", "V7"]]]
JAZZ_MINOR = [[["i7"], ["iv7"], ["iiø7"], ["V7"]], [["i7"], ["bVImaj7"], ["iiø7"], ["V7"]],
              [["iv7"], ["bVII7"], ["bIIImaj7"], ["V7"]]]
BOSSA = [[["Imaj7"], ["II7"], ["ii7"], ["V7"]], [["Imaj7"], ["vi7"], ["ii7"], ["V7"]],
         [["ii7"], ["V7"], ["Imaj7"], ["IVmaj7"]]]
COUNTRY = [[["I"], ["I"], ["IV"], ["I"]], [["I"], ["IV"], ["V"], ["I"]], [["I"], ["V"], ["IV"], ["I"]],
           [["IV"], ["I"], ["V"], ["V"]], [["I"], ["vi"], ["IV"], ["V"]]]
BLUES = [[["I7"], ["IV7"], ["I7"], ["I7"]], [["IV7"], ["IV7"], ["I7"], ["I7"]], [["V7"], ["IV7"], ["I7"], ["V7"]]]
AMBIENT_MAJOR = [[["Imaj7"], ["Imaj7"], ["IVmaj7"], ["IVmaj7"]], [["I"], ["iii"], ["IV"], ["IV"]],
                 [["vi7"], ["IVmaj7"], ["Iadd9"], ["V"]], [["Iadd9"], ["V"], ["vi"], ["IV"]]]
AMBIENT_MINOR = [[["i"], ["i"], ["bVI"], ["bVI"]], [["i7"], ["bIIImaj7"], ["bVImaj7"], ["bVII"]],
                 [["i"], ["iv"], ["i"], ["bVII"]]]
CLASSICAL_MAJOR = [[["I"], ["IV"], ["V"], ["I"]], [["I"], ["vi"], ["ii"], ["V"]], [["I"], ["V"], ["vi"], ["iii"]],
                   [["IV"], ["V"], ["iii"], ["vi"]], [["ii"], ["V7"], ["I"], ["I"]]]
CLASSICAL_MINOR = [[["i"], ["iv"], ["V"], ["i"]], [["i"], ["bVI"], ["iiø7"], ["V"]], [["i"], ["bVII"], ["bIII"], ["V"]],
                   [["iv"], ["V"], ["i"], ["bVI"]]]
FUNK = [[["i7"], ["i7"], ["IV7"], ["i7"]], [["i7"], ["iv7"], ["i7"], ["bVII7"]]]
LOFI = [[["ii7"], ["V7"], ["Imaj7"], ["vi7"]], [["IVmaj7"], ["iii7"], ["ii7"], ["Imaj7"]],
        [["Imaj7"], ["iii7"], ["IVmaj7"], ["iv7"]]]
REGGAE = [[["I"], ["IV"], ["I"], ["V"]], [["I"], ["vi"], ["IV"], ["V"]], [["ii"], ["V"], ["I"], ["I"]]]
ANDALUSIAN = [[["i"], ["bVII"], ["bVI"], ["V"]], [["i"], ["iv"], ["bVII"], ["bIII"]], [["iv"], ["bIII"], ["bII"], ["I"]]]


@dataclass(frozen=True)
class Style:
    name: str
    family: str
    keywords: str  # regex alternatives (stems)
    tempo: tuple[float, float]
    mode: str
    keys: tuple[int, ...]
    parts: tuple[Part, ...]
    major: tuple = ()
    minor: tuple = ()
    meter: int = 4
    swing: float = 0.0
    reverb: float = 1.4
    weight: float = 1.0  # how strongly a keyword hit counts (settings beat generic words like "orchestral")


def _s(name, family, keywords, tempo, mode, keys, parts, major=MAJOR_POP, minor=MINOR_EPIC, **kw) -> Style:
    return Style(name, family, keywords, tempo, mode, tuple(keys), tuple(parts), tuple(major), tuple(minor), **kw)


STYLES: list[Style] = [
    _s("orchestral news theme", "news", r"news|headline|bulletin|broadcast|breaking|anchor|report", (118, 132),
       "minor", (2, 0, 7, 4),
       [P("chords", 48, "strings", "ostinato", -0.35), P("bass", 43, "contrabass", "pulse"),
        P("lead", 61, "brass section", "theme", 0.25, enter=0.4), P("perc", 47, "timpani", "timpani", 0.1),
        P("drums", -1, "drums", "news", kit=KITS["standard"], enter=0.45),
        P("pad", 52, "choir", "pad", 0.4, 0.6, enter=0.8)], reverb=1.6, weight=3),
    _s("cinematic suspense", "suspense", r"suspens|thrill|tense|tension|mystery|mysterious|investigat|detective|"
       r"stealth|sneak|creep|ominous|uneas|crime|spy|heist|danger", (72, 92), "harmonic minor", (9, 4, 2, 11),
       [P("pad", 49, "slow strings", "pad", -0.3, 0.7), P("bass", 42, "cello", "pedal", -0.1),
        P("chords", 45, "pizzicato strings", "ostinato", 0.35, 0.7, enter=0.3),
        P("perc", 47, "timpani", "heartbeat", 0.0, 0.8, enter=0.45),
        P("lead", 46, "harp", "motif", 0.3, 0.6, enter=0.6)], minor=MINOR_SUSPENSE, reverb=2.2, weight=1.3),
    _s("dark horror ambience", "suspense", r"horror|scary|haunt|ghost|zombie|terror|dread|nightmare|sinister|evil|"
       r"eerie|spooky|creepy", (60, 76), "harmonic minor", (1, 3, 6),
       [P("pad", 92, "bowed pad", "pad", -0.3, 0.8), P("bass", 43, "contrabass", "pedal"),
        P("chords", 44, "tremolo strings", "pad", 0.35, 0.6, enter=0.4),
        P("lead", 10, "music box", "motif", 0.3, 0.5, enter=0.5)], minor=MINOR_SUSPENSE, reverb=3.0, weight=1.4),
    _s("epic orchestral action", "orchestral", r"epic|battle|action|chase|war\b|heroic|hero|fight|adventure|"
       r"trailer|triumph|victor|powerful|mighty|blockbuster", (124, 144), "minor", (2, 0, 4, 9),
       [P("chords", 48, "strings", "ostinato", -0.35), P("bass", 43, "contrabass", "pulse"),
        P("lead", 60, "french horn", "theme", 0.25, enter=0.35), P("perc", 116, "taiko", "taiko", 0.0, enter=0.3),
        P("perc", 47, "timpani", "timpani", 0.15, enter=0.5), P("pad", 52, "choir", "pad", 0.4, 0.6, enter=0.7)],
       reverb=2.0, weight=1.1),
    _s("dramatic orchestral", "orchestral", r"orchestra|symphon|cinematic|film score|movie|soundtrack|dramatic|"
       r"majestic|grand\b|emotional|score\b", (84, 104), "minor", (2, 0, 7, 5),
       [P("pad", 48, "strings", "pad", -0.3), P("bass", 42, "cello", "root", -0.15),
        P("lead", 60, "french horn", "theme", 0.25, enter=0.3), P("chords", 46, "harp", "arpeggio", 0.4, 0.7),
        P("perc", 47, "timpani", "timpani", 0.1, 0.8, enter=0.55),
        P("pad", 52, "choir", "pad", 0.4, 0.5, enter=0.8)], reverb=2.2, weight=0.6),
    _s("jazz swing", "jazz", r"jazz|swing|bebop|big band|speakeasy|lounge|club\b|cocktail|bar\b|hotel|noir|"
       r"smooth|cafe|café|coffee|brunch|restaurant|dinner", (108, 132), "major", (5, 10, 3, 0, 7),
       [P("chords", 0, "piano", "jazzcomp", -0.3), P("bass", 32, "upright bass", "walking", 0.1),
        P("drums", -1, "brushed drums", "swing", 0.0, 0.8, kit=KITS["brush"], enter=0.3),
        P("lead", 66, "tenor sax", "theme", 0.3, enter=0.45)], major=JAZZ_MAJOR, minor=JAZZ_MINOR,
       swing=0.17, reverb=1.1),
    _s("bossa nova", "bossa", r"bossa|latin|samba|brazil|beach bar|tropical lounge|ipanema|rio\b", (126, 142),
       "major", (7, 2, 5, 0),
       [P("chords", 24, "nylon guitar", "bossa", -0.3), P("bass", 32, "upright bass", "bossa", 0.1),
        P("drums", -1, "brushed drums", "bossa", 0.0, 0.7, kit=KITS["brush"], enter=0.3),
        P("lead", 73, "flute", "theme", 0.3, 0.8, enter=0.45)], major=BOSSA, minor=JAZZ_MINOR, reverb=1.0, weight=1.2),
    _s("country", "country", r"country|western|cowboy|ranch|prairie|honky|bluegrass|americana|nashville|"
       r"saloon|rodeo|farm|barn|texas", (104, 124), "major", (7, 2, 9, 4, 0),
       [P("chords", 25, "acoustic guitar", "strum", -0.35), P("bass", 33, "electric bass", "rootfifth", 0.05),
        P("drums", -1, "drums", "train", 0.0, 0.75, kit=KITS["standard"], enter=0.3),
        P("lead", 110, "fiddle", "theme", 0.35, enter=0.45),
        P("pad", 105, "banjo", "roll", 0.45, 0.55, enter=0.65)], major=COUNTRY, reverb=0.9, weight=1.3),
    _s("folk", "folk", r"folk|acoustic|campfire|village|pastoral|countryside|meadow|rustic|celtic|irish|scottish|"
       r"medieval|tavern|fantasy|bard|renaissance|shire", (96, 116), "dorian", (2, 9, 7, 4),
       [P("chords", 25, "acoustic guitar", "strum", -0.3), P("bass", 32, "upright bass", "rootfifth", 0.05),
        P("lead", 73, "flute", "theme", 0.3, enter=0.35), P("perc", 117, "hand drum", "handdrum", 0.1, 0.6, enter=0.5),
        P("pad", 40, "violin", "counter", 0.4, 0.6, enter=0.75)], reverb=1.3, weight=0.9),
    _s("blues", "blues", r"blues|bluesy|delta|juke|roadhouse", (78, 96), "mixolydian", (4, 9, 7, 0),
       [P("chords", 0, "piano", "shuffle", -0.3), P("bass", 33, "electric bass", "boogie", 0.05),
        P("drums", -1, "drums", "shuffle", 0.0, 0.8, kit=KITS["standard"], enter=0.3),
        P("lead", 22, "harmonica", "theme", 0.3, 0.85, enter=0.45)], major=BLUES, minor=BLUES, swing=0.17,
       reverb=1.0, weight=1.3),
    _s("rock", "rock", r"rock|punk|grunge|metal|garage|stadium|anthem|biker|road trip|highway", (112, 140),
       "major", (4, 9, 2, 7),
       [P("chords", 29, "overdriven guitar", "power", -0.4), P("bass", 34, "picked bass", "eighths", 0.05),
        P("drums", -1, "drums", "rock", 0.0, 0.9, kit=KITS["standard"], enter=0.25),
        P("pad", 18, "rock organ", "pad", 0.4, 0.5, enter=0.7)], reverb=1.0, weight=1.1),
    _s("funk", "funk", r"funk|groove|disco|motown|soul\b|seventies|70s", (100, 118), "dorian", (4, 9, 2, 7),
       [P("chords", 27, "clean electric guitar", "skank", -0.35), P("bass", 36, "slap bass", "funk", 0.05),
        P("drums", -1, "drums", "funk", 0.0, 0.9, kit=KITS["standard"], enter=0.2),
        P("pad", 4, "electric piano", "pad", 0.35, 0.6, enter=0.5),
        P("lead", 61, "brass section", "stabs", 0.25, 0.7, enter=0.7)], minor=FUNK, major=FUNK, reverb=0.9, weight=1.1),
    _s("lo-fi hip hop", "lofi", r"lo-?fi|chill|study|hip ?hop|boom ?bap|rap\b|beats to|relax\w*|mellow|laid[- ]back|"
       r"rainy|cozy|cosy|evening", (72, 88), "major", (5, 3, 10, 0),
       [P("chords", 4, "electric piano", "pad", -0.25), P("bass", 33, "electric bass", "root", 0.05),
        P("drums", -1, "drums", "lofi", 0.0, 0.8, kit=KITS["room"], enter=0.3),
        P("lead", 11, "vibraphone", "motif", 0.35, 0.6, enter=0.55)], major=LOFI, minor=JAZZ_MINOR, swing=0.1,
       reverb=1.0, weight=0.9),
    _s("electronic", "electronic", r"electro|edm|techno|house music|\bhouse\b|trance|dance|club beat|synthwave|"
       r"cyber|futur|robot|tech\b|digital|neon|80s|eighties|retro synth|rave", (118, 128), "minor", (9, 2, 4, 7),
       [P("pad", 90, "polysynth pad", "pad", -0.3, 0.7), P("bass", 38, "synth bass", "octave", 0.0),
        P("drums", -1, "electronic drums", "four", 0.0, 0.9, kit=KITS["electronic"], enter=0.3),
        P("chords", 81, "saw lead", "arpeggio", 0.35, 0.55, enter=0.45),
        P("lead", 80, "square lead", "motif", 0.2, 0.6, enter=0.7)], reverb=1.2),
    _s("chiptune", "electronic", r"chiptune|8-?bit|video ?game|arcade|retro game|pixel|nintendo", (132, 156),
       "major", (0, 7, 2),
       [P("chords", 80, "square lead", "arpeggio", -0.3, 0.5), P("bass", 38, "synth bass", "octave"),
        P("drums", -1, "electronic drums", "rock", 0.0, 0.7, kit=KITS["electronic"], enter=0.3),
        P("lead", 80, "square lead", "theme", 0.3, 0.8, enter=0.35)], reverb=0.5, weight=1.5),
    _s("ambient", "ambient", r"ambient|atmospher|meditat|spa\b|yoga|calm|peaceful|serene|tranquil|float|space|"
       r"cosmic|dream|ethereal|nature|ocean|underwater|sleep|drone|zen|breath", (66, 80), "major", (2, 9, 4, 7, 0),
       [P("pad", 89, "warm pad", "pad", -0.3), P("bass", 89, "warm pad", "drone", 0.0, 0.6),
        P("chords", 46, "harp", "arpeggio", 0.35, 0.6, enter=0.3), P("lead", 8, "celesta", "motif", 0.3, 0.5, enter=0.5),
        P("pad", 49, "slow strings", "pad", 0.4, 0.5, enter=0.7)], major=AMBIENT_MAJOR, minor=AMBIENT_MINOR,
       reverb=3.0, weight=0.8),
    _s("solo piano", "piano", r"solo piano|piano solo|piano piece|nocturne|reflective|gentle piano|piano ballad",
       (68, 84), "major", (3, 8, 0, 5, 7),
       [P("chords", 0, "piano", "arpeggio", -0.1), P("bass", 0, "piano", "root", -0.2, 0.8),
        P("lead", 0, "piano", "theme", 0.1, 0.8, enter=0.3)], major=CLASSICAL_MAJOR, minor=CLASSICAL_MINOR,
       reverb=1.6, weight=1.5),
    _s("sad strings and piano", "sad", r"sad|melanchol|sorrow|grief|tragic|funeral|loss|lonely|heartbreak|tear|"
       r"mourn|somber|sombre|nostalg|bittersweet|farewell|regret", (60, 74), "minor", (9, 4, 2, 0),
       [P("chords", 0, "piano", "arpeggio", -0.2), P("pad", 49, "slow strings", "pad", 0.3, 0.7),
        P("bass", 42, "cello", "root", 0.0, 0.8), P("lead", 40, "violin", "theme", 0.3, 0.7, enter=0.45)],
       major=CLASSICAL_MAJOR, minor=CLASSICAL_MINOR, reverb=2.0, weight=0.8),
    _s("romantic", "romantic", r"romanc|romantic|love|wedding|tender|intimate|passion|heartfelt|warm\b|sweet",
       (70, 84), "major", (5, 10, 3, 7),
       [P("chords", 0, "piano", "arpeggio", -0.2), P("pad", 48, "strings", "pad", 0.3, 0.7),
        P("bass", 42, "cello", "root", 0.0, 0.8), P("lead", 40, "violin", "theme", 0.3, 0.8, enter=0.4)],
       major=CLASSICAL_MAJOR, minor=CLASSICAL_MINOR, reverb=1.8, weight=0.75),
    _s("classical chamber", "classical", r"classical|baroque|chamber|mozart|bach|vivaldi|elegant|aristocrat|"
       r"palace|ballroom|minuet|string quartet|royal|victorian|period drama", (96, 116), "major", (2, 7, 0, 5),
       [P("chords", 6, "harpsichord", "alberti", -0.3, 0.8), P("bass", 42, "cello", "root", -0.1, 0.9),
        P("lead", 40, "violin", "theme", 0.3), P("pad", 41, "viola", "counter", 0.45, 0.6, enter=0.6)],
       major=CLASSICAL_MAJOR, minor=CLASSICAL_MINOR, reverb=1.5),
    _s("waltz", "waltz", r"waltz|carousel|merry-go-round|fairground|vintage dance", (138, 168), "major",
       (7, 2, 5, 10),
       [P("chords", 48, "strings", "waltz", -0.3, 0.8), P("bass", 42, "cello", "waltzbass", 0.0),
        P("lead", 73, "flute", "theme", 0.3, enter=0.3), P("pad", 46, "harp", "arpeggio", 0.4, 0.5, enter=0.6)],
       major=CLASSICAL_MAJOR, minor=CLASSICAL_MINOR, meter=3, reverb=1.6, weight=1.3),
    _s("lullaby", "lullaby", r"lullab|cradle|nursery|bedtime|baby|child|kids|toy|innocent|fairy ?tale|storybook|"
       r"twinkl", (64, 80), "major", (0, 5, 7, 10),
       [P("chords", 46, "harp", "arpeggio", -0.2, 0.7), P("lead", 10, "music box", "theme", 0.3, 0.7),
        P("bass", 32, "upright bass", "root", 0.0, 0.6), P("pad", 49, "slow strings", "pad", 0.3, 0.45, enter=0.6)],
       major=CLASSICAL_MAJOR, minor=CLASSICAL_MINOR, meter=3, reverb=1.8),
    _s("playful comedy", "comedy", r"comed|funny|playful|quirky|whimsical|silly|cartoon|mischiev|cheeky|circus|"
       r"clown|sneaky fun|bouncy|goofy|light-hearted|lighthearted", (112, 132), "major", (0, 5, 10, 7),
       [P("chords", 45, "pizzicato strings", "oompah", -0.3, 0.8), P("bass", 70, "bassoon", "oompahbass", 0.1),
        P("lead", 71, "clarinet", "theme", 0.3), P("perc", 13, "xylophone", "motif", 0.35, 0.6, enter=0.5),
        P("drums", -1, "orchestral percussion", "march", 0.0, 0.5, kit=KITS["orchestra"], enter=0.6)],
       major=CLASSICAL_MAJOR, minor=CLASSICAL_MINOR, reverb=1.2),
    _s("march", "march", r"march|military|parade|marching|patriot|brass band|soldier", (108, 120), "major",
       (10, 3, 5, 0),
       [P("chords", 61, "brass section", "oompah", -0.3, 0.8), P("bass", 58, "tuba", "oompahbass", 0.0),
        P("lead", 56, "trumpet", "theme", 0.3), P("drums", -1, "marching snare", "march", 0.0, 0.8, kit=KITS["standard"]),
        P("pad", 72, "piccolo", "counter", 0.4, 0.5, enter=0.7)], major=CLASSICAL_MAJOR, minor=CLASSICAL_MINOR,
       reverb=1.3, weight=1.2),
    _s("reggae", "reggae", r"reggae|ska\b|dub\b|caribbean|island|jamaica|calypso|steel ?pan|beach|tropical|"
       r"summer|sunny", (72, 88), "major", (7, 9, 2, 0),
       [P("chords", 27, "clean electric guitar", "skank", -0.35, 0.8), P("bass", 33, "electric bass", "reggae", 0.0),
        P("drums", -1, "drums", "onedrop", 0.0, 0.8, kit=KITS["standard"], enter=0.2),
        P("pad", 16, "organ", "skank", 0.35, 0.55, enter=0.45),
        P("lead", 114, "steel drums", "motif", 0.3, 0.7, enter=0.6)], major=REGGAE, reverb=0.9),
    _s("spanish guitar", "flamenco", r"flamenco|spanish|spain|tango|mexic|mariachi|andalus|desert|western "
       r"showdown", (100, 120), "minor", (4, 9, 2),
       [P("chords", 24, "nylon guitar", "strum", -0.3), P("bass", 32, "upright bass", "rootfifth", 0.05),
        P("lead", 40, "violin", "theme", 0.3, 0.8, enter=0.4), P("perc", 115, "woodblock", "clave", 0.3, 0.4,
                                                                 enter=0.5)],
       minor=ANDALUSIAN, reverb=1.2, weight=1.1),
    _s("uplifting corporate pop", "pop", r"upbeat|happy|cheer|uplift|inspir|corporate|positive|optimis|bright|"
       r"joy|fun\b|pop\b|energetic|motivat|commercial|advert|startup|sunrise|morning|celebrat|success|delight",
       (108, 124), "major", (0, 7, 2, 9, 5),
       [P("chords", 0, "piano", "pulse8", -0.25), P("bass", 33, "electric bass", "eighths", 0.05),
        P("drums", -1, "drums", "pop", 0.0, 0.8, kit=KITS["standard"], enter=0.3),
        P("pad", 25, "acoustic guitar", "strum", 0.35, 0.6, enter=0.45),
        P("lead", 9, "glockenspiel", "motif", 0.3, 0.5, enter=0.6)], reverb=1.1, weight=0.7),
    # fallback: a gentle acoustic piece, used when no other style matched
    _s("gentle acoustic", "acoustic", r"$^", (84, 100), "major", (7, 2, 0, 9),
       [P("chords", 25, "acoustic guitar", "fingerpick", -0.3), P("bass", 32, "upright bass", "root", 0.05, 0.8),
        P("pad", 0, "piano", "pad", 0.3, 0.6, enter=0.35), P("lead", 73, "flute", "motif", 0.3, 0.6, enter=0.55),
        P("drums", -1, "drums", "soft", 0.0, 0.5, kit=KITS["brush"], enter=0.6)], reverb=1.4),
]
STYLE_BY_NAME = {s.name: s for s in STYLES}
FALLBACK = STYLES[-1]

MOODS: list[tuple[str, str, str | None, float]] = [
    # (mood, regex, mode or None, tempo factor)
    ("dark", r"dark|grim|sinister|menac|ominous|evil|bleak", "minor", 0.95),
    ("tense", r"tense|tension|suspens|anxious|nervous|urgent|danger|thrill", "harmonic minor", 1.0),
    ("sad", r"sad|melanchol|sorrow|grief|tragic|mourn|somber|sombre|lonely|bittersweet", "minor", 0.9),
    ("dramatic", r"dramatic|intense|serious|epic|powerful|bold|grand\b|majestic", None, 1.0),
    ("mysterious", r"myster|enigma|curious|secret|magic|wonder", "dorian", 1.0),
    ("romantic", r"romant|love|tender|warm\b|sweet|intimate", "major", 0.95),
    ("happy", r"happy|cheer|joy|delight|fun\b|bright|uplift|sunny|optimis|positive|playful|jolly", "major", 1.05),
    ("calm", r"calm|relax|peace|gentle|soft|smooth|soothing|serene|tranquil|quiet|mellow|chill|cozy|cosy", None, 0.95),
    ("energetic", r"energetic|driving|exciting|lively|vibrant|powerful|pumping|action", None, 1.08),
]

TEMPO_WORDS: list[tuple[str, float]] = [
    (r"very slow|extremely slow|glacial|largo|grave\b|lento", 0.62),
    (r"very fast|extremely fast|frantic|breakneck|presto|furious|hectic", 1.45),
    (r"slow|adagio|languid|leisurely|sluggish|unhurried|slowly", 0.76),
    (r"laid[- ]back|relaxed|easy[- ]going|gentle pace|lazy", 0.9),
    (r"fast|quick|rapid|allegro|vivace|brisk|speedy|racing", 1.3),
    (r"up-?tempo|upbeat|up beat|lively|energetic|driving", 1.15),
    (r"moderate|andante|moderato|walking pace|medium tempo|mid-?tempo", 1.0),
]


def _count(pattern: str, text: str) -> int:
    return len(re.findall(r"\b(?:" + pattern + r")", text))


def choose_style(text: str) -> tuple[Style, list[str]]:
    """The style whose vocabulary the text uses most (earlier words weigh a little more).

    The news theme is a setting, not a genre: it wins over generic words ("dramatic orchestral news theme"),
    but a genre the text names outright wins over it ("jazz news intro", "calm electronic news bed")."""
    low = text.lower()
    scored: list[tuple[float, Style, list[str]]] = []
    for style in STYLES[:-1]:
        score = 0.0
        hits = []
        for m in re.finditer(r"\b(?:" + style.keywords + r")\w*", low):
            score += style.weight * (1.0 + 0.3 * (1.0 - m.start() / max(1, len(low))))
            hits.append(m.group(0))
        if score > 0:
            scored.append((score, style, hits))
    if not scored:
        return FALLBACK, []
    scored.sort(key=lambda x: -x[0])  # stable: on a tie the earlier style in STYLES wins
    best = scored[0]
    if best[1].family in _SETTING_FAMILIES:
        genres = [x for x in scored if x[1].family not in _SETTING_FAMILIES | {"orchestral"}]
        if genres:
            best = genres[0]
    return best[1], best[2]


#: Families that describe where the music plays rather than what it is.
_SETTING_FAMILIES = {"news"}


def parse_tempo(text: str) -> tuple[float | None, float, list[str]]:
    """(explicit bpm or None, factor from tempo words, words used)."""
    low = text.lower()
    m = re.search(r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute|beats a minute)", low) or \
        re.search(r"(?:tempo|bpm)\s*(?:of|=|:)?\s*(\d{2,3}(?:\.\d+)?)", low)
    if m:
        return float(np.clip(float(m.group(1)), 40, 220)), 1.0, [m.group(0)]
    for pattern, factor in TEMPO_WORDS:
        w = re.search(r"\b(?:" + pattern + r")", low)
        if w:
            return None, factor, [w.group(0)]
    return None, 1.0, []


def parse_key(text: str) -> tuple[int | None, str | None]:
    low = text.lower()
    m = re.search(r"\b(?:in|key of|key)\s+([a-g])\s*(#|sharp|b\b|flat)?\s*(major|minor|maj\b|min\b|m\b)?", low)
    if not m or (m.group(1) == "a" and not (m.group(2) or m.group(3)) and "key" not in m.group(0)):
        m = re.search(r"\b([a-g])\s*(#|sharp|b|flat)?[ -](major|minor)\b", low)
    if not m:
        return None, None
    pc = _PC[m.group(1)]
    acc = m.group(2)
    if acc in ("#", "sharp"):
        pc += 1
    elif acc in ("b", "flat"):
        pc -= 1
    mode = None
    if m.group(3):
        mode = "major" if m.group(3).startswith("maj") else "minor"
    return pc % 12, mode


def parse_meter(text: str) -> int | None:
    low = text.lower()
    if re.search(r"\b(3/4|6/8|waltz|in three|triple meter|triple time)", low):
        return 3
    if re.search(r"\b(4/4|2/4|common time|march)", low):
        return 4
    return None


_PERC_PATTERN = {47: "timpani", 116: "taiko", 117: "handdrum"}


def _place_named(parts: list[Part], named: list[tuple[Alias, int]], text: str) -> tuple[list[Part], list[str]]:
    """Put instruments the text names into the style's parts: a named instrument replaces the style's part of
    the same role (the first time), is added otherwise; "solo X" / "only X" keep just what was named (+bass)."""
    low = text.lower()
    parts = [Part(**asdict(p)) for p in parts]
    words = []
    replaced: set[int] = set()
    solo = re.search(r"\b(solo|only|just|alone|unaccompanied)\b", low) is not None
    for alias, _pos in named:
        words.append(program_name(alias.program, alias.kit))
        if alias.role == "drums":
            drums = [i for i, p in enumerate(parts) if p.role == "drums"]
            if drums:
                if alias.kit is not None:
                    parts[drums[0]].kit = alias.kit
                    parts[drums[0]].name = program_name(-1, alias.kit)
                parts[drums[0]].enter = min(parts[drums[0]].enter, 0.3)
                replaced.add(drums[0])
            else:
                kit = alias.kit if alias.kit is not None else KITS["standard"]
                parts.append(Part("drums", -1, program_name(-1, kit), "pop", 0.0, 0.75, kit=kit, enter=0.3))
                replaced.add(len(parts) - 1)
            continue
        if any(p.program == alias.program for i, p in enumerate(parts) if i in replaced):
            continue
        role = alias.role
        same = [i for i, p in enumerate(parts) if p.role == role and i not in replaced]
        if role in ("chords", "pad") and not same:
            same = [i for i, p in enumerate(parts) if p.role in ("chords", "pad") and i not in replaced]
        if same:
            i = same[0]
            parts[i].program = alias.program
            parts[i].name = program_name(alias.program)
            parts[i].enter = min(parts[i].enter, 0.3)
            if role == "perc":
                parts[i].pattern = _PERC_PATTERN.get(alias.program, "taiko")
            replaced.add(i)
        else:
            pattern = {"bass": "root", "lead": "theme", "chords": "block", "pad": "pad", "perc": "timpani"}[role]
            if role == "perc":
                pattern = _PERC_PATTERN.get(alias.program, "taiko")
            parts.append(Part(role, alias.program, program_name(alias.program), pattern, 0.3, 0.8, enter=0.3))
            replaced.add(len(parts) - 1)
    if solo and replaced:
        keep = [p for i, p in enumerate(parts) if i in replaced]
        if not any(p.role in ("chords", "pad") for p in keep):
            # a solo melodic instrument accompanies itself: it also plays the harmony, softly
            src = keep[0]
            keep.append(Part("chords", src.program, src.name, "arpeggio" if src.role == "lead" else "pad",
                             src.pan, 0.55))
        parts = keep
    if negated(low, r"drums?|percussion|beat"):
        parts = [p for p in parts if p.role not in ("drums", "perc")]
    if not any(p.role in ("chords", "pad") for p in parts):  # something must carry the harmony
        parts.insert(0, Part("pad", 48, "strings", "pad", -0.3, 0.6))
    for p in parts:
        if p.role == "chords" and p.program in (45,) and p.pattern == "block":
            p.pattern = "ostinato"
    return parts, words


def make_plan(text: str, seed: int = 0, layout: str = "background", *, style: str | None = None,
              tempo: float | None = None) -> MusicPlan:
    """Read a description into a :class:`MusicPlan`."""
    text = text or ""
    low = text.lower()
    if style is not None and style in STYLE_BY_NAME:
        st, words = STYLE_BY_NAME[style], [style]
    else:
        st, words = choose_style(text)
    text_rng = rng_for("plan", low.strip())

    mood = "neutral"
    mood_mode = None
    mood_factor = 1.0
    for name, pattern, mode, factor in MOODS:
        if re.search(r"\b(?:" + pattern + r")", low):
            mood, mood_mode, mood_factor = name, mode, factor
            break
    if st is FALLBACK and mood != "neutral":
        # no genre word: the mood picks the style
        by_mood = {"dark": "dark horror ambience", "tense": "cinematic suspense", "sad": "sad strings and piano",
                   "dramatic": "dramatic orchestral", "mysterious": "cinematic suspense", "romantic": "romantic",
                   "happy": "uplifting corporate pop", "calm": "ambient", "energetic": "uplifting corporate pop"}
        st = STYLE_BY_NAME[by_mood[mood]]
        words = words + [mood]

    bpm, factor, tempo_words = parse_tempo(text)
    lo, hi = st.tempo
    base = lo + (hi - lo) * float(text_rng.random())
    if bpm is None:
        bpm = base * factor * (mood_factor if factor == 1.0 else 1.0)
        bpm = float(np.clip(bpm, 40, 220))
    if tempo is not None:
        bpm = float(tempo)
    words += tempo_words

    key_pc, key_mode = parse_key(text)
    mode = st.mode
    if (mood_mode is not None and st.family not in ("blues", "suspense", "news", "funk")
            and (mood_mode in MINORISH) != (mode in MINORISH)):
        mode = mood_mode  # the mood flips major/minor (a sad country song is in minor)
    if key_mode is not None:
        if key_mode == "major" and mode in MINORISH:
            mode = "major"
        elif key_mode == "minor" and mode not in MINORISH:
            mode = "minor"
    tonic = key_pc if key_pc is not None else int(st.keys[int(text_rng.integers(len(st.keys)))])

    meter = parse_meter(text) or st.meter
    parts, inst_words = _place_named(list(st.parts), named_instruments(text), text)
    words += inst_words

    # progressions: A, B, C from the style's list for the mode, chosen by the seed
    rng = rng_for("progressions", low.strip(), seed)
    pool = list(st.minor if mode in MINORISH else st.major) or (MINOR_EPIC if mode in MINORISH else MAJOR_POP)
    order = rng.permutation(len(pool))
    progs = {letter: [list(bar) for bar in pool[int(order[i % len(order)])]] for i, letter in enumerate("ABC")}
    if st.family == "blues":  # the 12-bar form, in three 4-bar lines
        progs = {"A": [list(b) for b in BLUES[0]], "B": [list(b) for b in BLUES[1]], "C": [list(b) for b in BLUES[2]]}

    swing = st.swing
    if re.search(r"\bswing|shuffle", low) and swing == 0:
        swing = 0.15
    if re.search(r"\bstraight\b", low):
        swing = 0.0

    density = "dense" if factor > 1.1 or mood == "energetic" else "sparse" if factor < 0.9 or mood == "calm" else "medium"
    for p in parts:
        if p.role == "lead":
            p.pan = p.pan or 0.25
    return MusicPlan(style=st.name, family=st.family, mood=mood, tempo=round(bpm, 1), meter=meter, tonic=tonic,
                     mode=mode, swing=swing, parts=parts, progressions=progs, texture=density, reverb=st.reverb,
                     layout=layout, words=words)


__all__ = [
    "NOTE_NAMES",
    "SCALES",
    "STYLES",
    "MusicPlan",
    "Part",
    "choose_style",
    "lead_centre",
    "make_plan",
    "parse_key",
    "parse_tempo",
]
