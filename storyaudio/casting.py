"""Casting: give every character one voice from a speech backend's catalogue.

Rules: pinned characters get their pinned voice; every other character gets the voice that best fits its name
and description, different characters get different voices while voices last, and the same script always
casts the same way.

Casting knows nothing about a particular backend. It reads what the character says about itself (its name and
description: "Host", "grandmother", "little girl", "robot", "a gruff old sailor", "Mary", "she") as a wish for
a gender, an age and some qualities, and compares that with each :class:`Voice`'s ``gender``, ``age``,
``tags`` and ``description`` words. The score matrix is then solved as an assignment problem (each voice used
once) for the characters in order of first appearance; characters beyond the catalogue share the best-fitting,
least-used voice. Ties go to the character that appears first and the voice listed first, so casting is
deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .backends.base import Voice
from .errors import UserError

__all__ = ["Character", "Wish", "best_assignment", "cast_characters", "describe_wish", "find_voice", "score_voice", "voice_listing"]


@dataclass(frozen=True)
class Character:
    name: str
    description: str | None = None


# -- what words say about a voice ---------------------------------------------------------------------------

_FEMALE_WORDS = {
    "she", "her", "hers", "herself", "woman", "women", "girl", "girls", "lady", "ladies", "female", "feminine",
    "mother", "mom", "mum", "mommy", "mummy", "mama", "grandmother", "grandma", "granny", "gran", "nana",
    "aunt", "auntie", "sister", "daughter", "niece", "wife", "bride", "girlfriend", "queen", "princess",
    "duchess", "countess", "empress", "madam", "madame", "mrs", "ms", "miss", "missus", "miz", "nun",
    "actress", "waitress", "hostess", "heroine", "witch", "matriarch", "goddess", "stewardess", "mistress",
    "maid", "lass", "gal", "sorceress", "priestess", "baroness", "widow", "housewife", "businesswoman",
    "spokeswoman", "chairwoman", "congresswoman", "policewoman", "grandmama", "stepmother", "godmother",
}
_MALE_WORDS = {
    "he", "him", "his", "himself", "man", "men", "boy", "boys", "gentleman", "male", "masculine", "guy",
    "father", "dad", "daddy", "papa", "grandfather", "grandpa", "granddad", "grandad", "gramps", "uncle",
    "brother", "son", "nephew", "husband", "groom", "boyfriend", "king", "prince", "duke", "count", "emperor",
    "sir", "mr", "mister", "lord", "monk", "priest", "actor", "waiter", "hero", "wizard", "patriarch", "god",
    "steward", "lad", "fellow", "chap", "bloke", "baron", "widower", "businessman", "spokesman", "chairman",
    "congressman", "policeman", "fisherman", "sailor", "stepfather", "godfather", "butler", "monsieur",
}
_NAMES_FEMALE = {
    "mary", "patricia", "jennifer", "linda", "elizabeth", "barbara", "susan", "jessica", "sarah", "karen",
    "nancy", "lisa", "betty", "margaret", "sandra", "ashley", "kimberly", "emily", "donna", "michelle",
    "dorothy", "carol", "amanda", "melissa", "deborah", "stephanie", "rebecca", "sharon", "laura", "cynthia",
    "kathleen", "amy", "angela", "helen", "anna", "anne", "ann", "emma", "olivia", "sophia", "sophie", "ava",
    "isabella", "mia", "charlotte", "amelia", "harper", "evelyn", "abigail", "ella", "grace", "chloe",
    "lily", "lucy", "alice", "clara", "rose", "ruth", "julia", "julie", "maria", "martha", "jane", "joan",
    "diana", "eve", "hannah", "zoe", "natalie", "victoria", "kate", "katie", "catherine", "claire", "fiona",
    "maya", "nora", "ellen", "irene", "agnes", "edith", "ida", "mabel", "beatrice", "esther", "judith",
    "sally", "wendy", "holly", "molly", "polly", "heidi", "ingrid", "greta", "marie", "sofia", "lucia",
    "elena", "leah", "ruby", "ivy", "hazel", "violet", "stella", "penny", "tina", "nina", "vera", "gloria",
}
_NAMES_MALE = {
    "james", "john", "robert", "michael", "william", "david", "richard", "joseph", "thomas", "charles",
    "christopher", "daniel", "matthew", "anthony", "mark", "donald", "steven", "paul", "andrew", "joshua",
    "kenneth", "kevin", "brian", "george", "timothy", "ronald", "edward", "jason", "jeffrey", "ryan", "jacob",
    "gary", "nicholas", "eric", "jonathan", "stephen", "larry", "justin", "scott", "brandon", "benjamin",
    "samuel", "sam", "frank", "gregory", "raymond", "alexander", "patrick", "jack", "dennis", "jerry", "tyler",
    "aaron", "henry", "peter", "adam", "nathan", "zachary", "walter", "harold", "arthur", "albert", "fred",
    "frederick", "harry", "tom", "tim", "bob", "bill", "jim", "joe", "mike", "dave", "steve", "max", "leo",
    "liam", "noah", "oliver", "elijah", "lucas", "mason", "logan", "ethan", "owen", "victor", "hugo", "oscar",
    "felix", "otto", "hans", "karl", "ivan", "igor", "boris", "pierre", "jean", "carlos", "juan", "luis",
    "jose", "marco", "luca", "ben", "ted", "ed", "ned", "ralph", "roger", "simon", "martin", "hank", "earl",
}
_CHILD_WORDS = {"child", "children", "kid", "kids", "little", "baby", "toddler", "boy", "girl", "tiny",
                "infant", "schoolgirl", "schoolboy", "youngster", "kiddo", "childlike", "small"}
_YOUNG_WORDS = {"young", "teen", "teenager", "teenage", "adolescent", "student", "youth", "intern",
                "junior", "youthful", "twenties", "rookie", "apprentice", "lad", "lass", "newbie", "cadet"}
_OLDER_WORDS = {"old", "older", "elderly", "aged", "grandmother", "grandfather", "grandma", "grandpa",
                "granny", "gran", "gramps", "granddad", "grandad", "nana", "senior", "retired", "ancient",
                "elder", "veteran", "widow", "widower", "wizened", "grey", "gray", "greying", "crone",
                "patriarch", "matriarch", "sage", "aging", "ageing", "seventies", "eighties", "sixties"}
_ADULT_WORDS = {"adult", "grown", "middle-aged", "mother", "father", "mom", "dad", "wife", "husband",
                "professor", "doctor", "engineer", "host", "anchor", "captain", "detective", "manager"}

#: Words in a character's name or description -> the qualities they ask of a voice. Voices match these
#: through their ``tags`` and the words of their ``description``.
_QUALITY_WORDS: dict[str, tuple[str, ...]] = {}
for _words, _tags in [
    (("host", "anchor", "presenter", "newsreader", "newscaster", "announcer", "reporter", "journalist",
      "correspondent", "broadcaster", "dj", "mc", "emcee", "commentator", "interviewer", "moderator", "news",
      "podcaster", "radio"), ("news", "host", "clear", "bright")),
    (("narrator", "storyteller", "voiceover", "voice-over", "documentary", "audiobook", "reader"),
     ("narrator", "warm", "clear", "calm")),
    (("robot", "robotic", "android", "ai", "computer", "machine", "cyborg", "droid", "automaton",
      "synthetic", "mechanical", "bot", "system", "terminal", "hal"), ("robot", "flat", "monotone")),
    (("villain", "menacing", "sinister", "evil", "dark", "ominous", "threatening", "gruff", "stern",
      "commanding", "authoritative", "imposing"), ("deep", "serious", "stern")),
    (("deep", "bass", "gravelly", "booming", "baritone", "low", "resonant", "husky"), ("deep",)),
    (("fast", "energetic", "excited", "hyper", "enthusiastic", "lively", "cheerful", "upbeat", "bubbly",
      "eager", "breathless", "hurried", "nervous", "anxious", "quick", "sporty", "peppy"),
     ("fast", "energetic", "bright")),
    (("calm", "soothing", "gentle", "soft", "kind", "warm", "tender", "friendly", "caring", "motherly",
      "fatherly", "reassuring", "patient", "sweet"), ("calm", "warm", "gentle")),
    (("slow", "tired", "weary", "sleepy", "drowsy", "lazy", "measured", "deliberate", "thoughtful"),
     ("slow", "calm")),
    (("wise", "mentor", "elder", "teacher", "sage", "storyteller"), ("wise", "warm")),
    (("engineer", "scientist", "doctor", "professor", "expert", "technician", "analyst", "lawyer", "pilot",
      "officer", "captain", "detective", "agent", "commander", "mission", "control", "controller"),
     ("clear", "serious")),
    (("playful", "curious", "giggly", "mischievous", "cheeky", "innocent", "squeaky", "high"),
     ("bright", "playful", "high")),
    (("flat", "monotone", "emotionless", "deadpan", "bored", "cold"), ("flat", "monotone")),
    (("british", "english", "london", "posh", "rp"), ("british",)),
    (("american", "yankee", "texan", "californian"), ("american",)),
    (("scottish", "scotland", "scot", "glasgow", "edinburgh"), ("scottish",)),
    (("caribbean", "jamaican", "island"), ("caribbean",)),
    (("whisper", "whispering", "whispers", "hushed", "secretive"), ("whisper",)),
]:
    for _w in _words:
        _QUALITY_WORDS[_w] = tuple(dict.fromkeys(_QUALITY_WORDS.get(_w, ()) + _tags))

_AGES = ("child", "young", "adult", "older")
_STOP = {"a", "an", "the", "and", "or", "of", "with", "in", "on", "at", "to", "for", "who", "is", "voice",
         "speaker", "character", "very", "bit", "slightly", "quite", "tone", "sounding", "sounds", "like",
         "that", "this", "from", "by", "as", "but", "not", "no", "it", "its", "be", "has", "have"}


def _words(text: str | None) -> list[str]:
    return re.findall(r"[a-z][a-z'-]*", (text or "").lower())


@dataclass
class Wish:
    """What a character's name and description ask of a voice."""

    gender: str | None = None
    age: str | None = None
    qualities: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)


def describe_wish(character: Character) -> Wish:
    """Read a character's name and description as a wish for gender, age and qualities."""
    name_words = _words(character.name)
    desc_words = _words(character.description)
    all_words = name_words + desc_words
    wish = Wish(words={w for w in all_words if w not in _STOP and len(w) > 1})

    female = sum(w in _FEMALE_WORDS for w in all_words)
    male = sum(w in _MALE_WORDS for w in all_words)
    # A first name weighs like a gender word; the first word of the name counts most ("Mary", "John Smith").
    for i, w in enumerate(name_words):
        weight = 2 if i == 0 else 1
        if w in _NAMES_FEMALE:
            female += weight
        elif w in _NAMES_MALE:
            male += weight
    if female > male:
        wish.gender = "female"
    elif male > female:
        wish.gender = "male"

    text = f"{character.name} {character.description or ''}".lower()
    years = re.search(r"\b(\d{1,3})[- ]?(?:years?[- ]old|yo|y/o)\b", text) or re.search(
        r"\b(?:aged?|age)\s+(\d{1,3})\b", text)
    votes = {a: 0.0 for a in _AGES}
    if years:
        n = int(years.group(1))
        votes["child" if n < 13 else "young" if n < 26 else "adult" if n < 60 else "older"] += 3
    for w in all_words:
        if w in _CHILD_WORDS:
            votes["child"] += 1
        if w in _YOUNG_WORDS:
            votes["young"] += 1
        if w in _OLDER_WORDS:
            votes["older"] += 1.5
        if w in _ADULT_WORDS:
            votes["adult"] += 0.5
    if re.search(r"\b(?:little|small|young|tiny|baby)\s+(?:girl|boy|one|child|kid)\b", text):
        votes["child"] += 2
    if re.search(r"\bteen(?:age)?\s+(?:girl|boy)\b", text):
        votes["young"] += 2
    if re.search(r"\bold\s+(?:man|woman|lady|gentleman|timer|sailor|friend)\b", text):
        votes["older"] += 1
    best = max(_AGES, key=lambda a: (votes[a], -_AGES.index(a)))
    if votes[best] > 0:
        wish.age = best

    for w in all_words:
        wish.qualities.update(_QUALITY_WORDS.get(w, ()))
    return wish


def _voice_words(voice: Voice) -> set[str]:
    words = set(_words(voice.description)) | {t.lower() for t in voice.tags}
    for t in voice.tags:
        words.update(_words(t))
    return words - _STOP


def score_voice(wish: Wish, voice: Voice, character_name: str = "") -> float:
    """How well ``voice`` fits ``wish`` (higher is better, 0 when nothing is known)."""
    score = 0.0
    vgender = (voice.gender or "neutral").lower()
    vage = (voice.age or "adult").lower()
    vwords = _voice_words(voice)
    child_pair = wish.age == "child" and vage == "child"
    if wish.gender and vgender in ("male", "female"):
        if vgender == wish.gender:
            score += 3.0
        else:
            score -= 0.5 if child_pair else 4.0
    elif wish.gender and vgender == "neutral":
        score += 0.5
    if wish.age and vage in _AGES:
        d = abs(_AGES.index(wish.age) - _AGES.index(vage))
        if wish.age == "child" and d > 0:
            score -= 2.5  # a grown-up's voice is a poor child, whatever its gender
        else:
            score += {0: 3.0, 1: 0.5}.get(d, -1.5 * d)
    elif vage == "child":
        score -= 2.0  # a child's voice only for a character that asks for one
    # Qualities count, but never more than a clear gender or age: a "gruff old man" is first an old man.
    quality = sum(1.0 for q in wish.qualities if q in vwords)
    quality += 0.4 * len((wish.words - set(_QUALITY_WORDS)) & vwords)
    score += min(quality, 3.0)
    # A character named like a voice ("Clara") gets that voice when nothing else speaks against it.
    if character_name and character_name.strip().lower() == voice.name.lower():
        score += 2.0
    return score


def find_voice(voices: list[Voice], name: str) -> str | None:
    """The catalogue's name for ``name``: the voice of that name, else one that matches it ignoring case and
    surrounding spaces; None when there is none."""
    if any(v.name == name for v in voices):
        return name
    wanted = str(name).strip().lower()
    return next((v.name for v in voices if v.name.lower() == wanted), None)


def voice_listing(voices: list[Voice]) -> str:
    """The voices as a message lists them: ``name (gender, age), ...``."""
    return ", ".join(f"{v.name} ({v.gender}, {v.age})" for v in voices) or "none"


def _resolve_pins(pinned: dict[str, str], voices: list[Voice]) -> dict[str, str]:
    out = {}
    for char, voice in pinned.items():
        name = find_voice(voices, voice)
        if name is None:
            raise UserError(
                f"character '{char}' is pinned to voice '{voice}', which this speech backend does not have. "
                f"Voices: {voice_listing(voices)} (see 'storyaudio voices')."
            )
        out[char] = name
    return out


def cast_characters(
    characters: list[Character], voices: list[Voice], pinned: dict[str, str] | None = None
) -> dict[str, str]:
    """Return ``{character name: voice name}`` for every character, in order of first appearance."""
    pinned = _resolve_pins(dict(pinned or {}), voices)
    if not voices:
        if any(c.name not in pinned for c in characters):
            raise UserError("this speech backend offers no voices to cast characters with.")
        return {c.name: pinned[c.name] for c in characters}

    # Deduplicate characters by name, keeping the first description that says something.
    order: list[Character] = []
    seen: dict[str, int] = {}
    for c in characters:
        if c.name in seen:
            prev = order[seen[c.name]]
            if not prev.description and c.description:
                order[seen[c.name]] = c
            continue
        seen[c.name] = len(order)
        order.append(c)

    out: dict[str, str] = {c.name: pinned[c.name] for c in order if c.name in pinned}
    use = {v.name: 0 for v in voices}
    for v in out.values():
        use[v] += 1
    free_chars = [c for c in order if c.name not in pinned]
    if not free_chars:
        return {c.name: out[c.name] for c in order}

    n_v = len(voices)
    scores = np.array([[score_voice(describe_wish(c), v, c.name) for v in voices] for c in free_chars])
    # Deterministic tie-breaks: voices listed first win; among equals, earlier characters take earlier voices.
    i_idx = np.arange(len(free_chars))[:, None]
    j_idx = np.arange(n_v)[None, :]
    scores = scores - 0.01 * j_idx + 1e-5 * i_idx * j_idx / max(1, n_v)

    free_voices = [j for j, v in enumerate(voices) if use[v.name] == 0]
    first = free_chars[: len(free_voices)]
    if first and free_voices:
        sub = scores[: len(first)][:, free_voices]
        for r, c in enumerate(best_assignment(sub.tolist())):
            name = voices[free_voices[c]].name
            out[first[r].name] = name
            use[name] += 1
    # Characters beyond the catalogue: best fit, preferring the least-used voice.
    for k in range(len(first), len(free_chars)):
        c = free_chars[k]
        row = scores[k] - 10.0 * np.array([use[v.name] for v in voices])
        j = int(np.argmax(row))
        out[c.name] = voices[j].name
        use[voices[j].name] += 1
    return {c.name: out[c.name] for c in order}


def best_assignment(scores: list[list[float]]) -> list[int]:
    """For an ``n x m`` score matrix with ``n <= m``, the column each row takes so that no column is taken
    twice and the total score is the highest possible (the linear assignment problem, as
    ``scipy.optimize.linear_sum_assignment(..., maximize=True)`` solves it; the tests check they agree).

    The Hungarian method with potentials (shortest augmenting paths, O(n^2 m)): for a cast of a few characters
    and voices it takes microseconds, where importing scipy.optimize would cost ``storyaudio validate`` a
    third of a second."""
    n = len(scores)
    m = len(scores[0]) if n else 0
    if n > m:
        raise ValueError(f"more rows ({n}) than columns ({m})")
    inf = float("inf")
    cost = [[-x for x in r] for r in scores]  # minimise the negated scores
    u, v = [0.0] * (n + 1), [0.0] * (m + 1)  # potentials; index 0 is the virtual start
    owner = [0] * (m + 1)  # owner[j]: the row (1-based) holding column j, 0 for none
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        reach = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:  # grow the tree of alternating paths until a free column is reached
            used[j0] = True
            i0, delta, j1 = owner[j0], inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    c = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if c < reach[j]:
                        reach[j], way[j] = c, j0
                    if reach[j] < delta:
                        delta, j1 = reach[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    reach[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:  # flip the path
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    out = [0] * n
    for j in range(1, m + 1):
        if owner[j]:
            out[owner[j] - 1] = j - 1
    return out
