"""Casting: one voice per character, distinct while voices last, following names and descriptions, pins win."""

from __future__ import annotations

import pytest

from storyaudio.backends.base import Voice
from storyaudio.backends.speech.espeak import EspeakBackend
from storyaudio.backends.speech.piper import PiperBackend
from storyaudio.backends.tone import ToneBackend
from storyaudio.casting import Character, cast_characters, describe_wish
from storyaudio.errors import UserError

PIPER = PiperBackend().voices()
ESPEAK = EspeakBackend().voices()
TONE = ToneBackend().voices()
# A preset list shaped like a neural model's (e.g. Bark's): terse names, information only in the fields.
PRESETS = [
    Voice("v2/en_speaker_0", "male, neutral American, clear", "male", "adult", ("clear",)),
    Voice("v2/en_speaker_3", "male, deep and gravelly", "male", "adult", ("deep",)),
    Voice("v2/en_speaker_9", "female, soft and warm", "female", "adult", ("warm", "calm")),
    Voice("v2/en_speaker_5", "female, fast upbeat newsreader", "female", "young", ("news", "fast")),
    Voice("v2/en_speaker_7", "elderly male storyteller", "male", "older", ("narrator", "wise")),
]


def cast1(name: str, description: str | None, voices: list[Voice]) -> str:
    return cast_characters([Character(name, description)], voices)[name]


def test_same_script_always_casts_the_same_way_in_order_of_appearance():
    chars = [Character("Narrator"), Character("Ada", "engineer"), Character("Bob"), Character("Host"),
             Character("Zed", "a robot")]
    first = cast_characters(chars, PIPER)
    again = cast_characters(list(chars), list(PIPER))
    assert first == again
    assert list(first) == [c.name for c in chars]


def test_different_characters_get_different_voices_while_voices_last():
    chars = [Character(f"Speaker {i}") for i in range(len(PIPER))]
    cast = cast_characters(chars, PIPER)
    assert len(set(cast.values())) == len(PIPER)


def test_more_characters_than_voices_share_evenly():
    chars = [Character(f"Person {i}") for i in range(len(TONE) * 2 + 1)]
    cast = cast_characters(chars, TONE)
    uses = {v.name: list(cast.values()).count(v.name) for v in TONE}
    assert set(cast.values()) == {v.name for v in TONE}
    assert max(uses.values()) - min(uses.values()) <= 1


def test_a_character_appearing_twice_keeps_one_voice_and_its_description():
    chars = [Character("Gran"), Character("Tom", "a young boy"), Character("Gran", "the grandmother")]
    cast = cast_characters(chars, PIPER)
    assert list(cast) == ["Gran", "Tom"]
    assert cast["Gran"] == "rose"


@pytest.mark.parametrize("name,description,expected", [
    ("Grandmother", None, "rose"),
    ("Nana", "the kind grandmother", "rose"),
    ("Little Girl", None, "lily"),
    ("Kid", "a curious 8-year-old", "lily"),
    ("Robot", None, "victor"),
    ("Old Man", None, "walter"),
    ("Grandpa", "an old sailor", "walter"),
    ("Mary", None, "clara"),
    ("Host", "the show's anchor", None),  # any host voice: checked below
])
def test_piper_casting_follows_name_and_description(name, description, expected):
    got = cast1(name, description, PIPER)
    if expected is None:
        voice = next(v for v in PIPER if v.name == got)
        assert "host" in voice.tags
    else:
        assert got == expected


@pytest.mark.parametrize("name,gender", [("Mary", "female"), ("John", "male"), ("Susan Clark", "female"),
                                         ("Mr. Hale", "male"), ("The Queen", "female"), ("Ada", None),
                                         ("Pilot", None), ("Sam", "male")])
def test_gender_from_names_and_titles(name, gender):
    assert describe_wish(Character(name)).gender == gender
    if gender:
        got = cast1(name, None, PIPER)
        assert next(v for v in PIPER if v.name == got).gender == gender


def test_pronouns_and_ages_in_descriptions():
    w = describe_wish(Character("Pat", "She is a retired teacher in her seventies"))
    assert (w.gender, w.age) == ("female", "older")
    w = describe_wish(Character("Alex", "a 15-year-old skateboarder, he talks fast"))
    assert (w.gender, w.age) == ("male", "young")
    assert "fast" in w.qualities
    w = describe_wish(Character("Unit 7", "ship's computer, emotionless"))
    assert "robot" in w.qualities


def test_casting_works_for_other_catalogues():
    assert cast1("Little girl", None, TONE) == "tone-child"
    assert cast1("Old man", None, TONE) == "tone-old"
    assert cast1("Robot", "a clanking machine", ESPEAK) == "unit"
    assert cast1("Moira", "a Scottish woman", ESPEAK) == "fiona"
    assert cast1("Grandma", None, ESPEAK) == "edna"
    assert cast1("Villain", "deep, gravelly voice", PRESETS) == "v2/en_speaker_3"
    assert cast1("Reporter", "a young woman reading the news", PRESETS) == "v2/en_speaker_5"
    assert cast1("Storyteller", "an elderly man", PRESETS) == "v2/en_speaker_7"


def test_a_whole_cast_gets_the_right_voices_together():
    chars = [Character("Host", "warm, friendly man who runs the show"), Character("Grandma Rose"),
             Character("Tim", "a little boy"), Character("Dr. Jane Ford", "engineer"),
             Character("K-9", "robot dog")]
    cast = cast_characters(chars, PIPER)
    assert len(set(cast.values())) == len(chars)
    assert cast["Grandma Rose"] == "rose"
    assert cast["Tim"] == "lily"  # the child voice beats an adult male voice for a little boy
    assert cast["K-9"] == "victor"
    assert next(v for v in PIPER if v.name == cast["Dr. Jane Ford"]).gender == "female"
    assert next(v for v in PIPER if v.name == cast["Host"]).gender == "male"


def test_pinned_voice_wins_and_is_not_given_to_anyone_else():
    chars = [Character("Mary"), Character("Anna", "a woman")]
    cast = cast_characters(chars, PIPER, {"Mary": "rose"})
    assert cast["Mary"] == "rose"
    assert cast["Anna"] == "clara"
    cast = cast_characters(chars, PIPER, {"Anna": "clara"})
    assert cast["Anna"] == "clara" and cast["Mary"] not in ("clara",)
    # Pins are matched without regard to case; a pin may go against the description.
    assert cast_characters([Character("Robot")], PIPER, {"Robot": "Lily"}) == {"Robot": "lily"}


def test_pinned_unknown_voice_raises_a_user_error_listing_the_voices():
    with pytest.raises(UserError) as info:
        cast_characters([Character("Mary")], PIPER, {"Mary": "gandalf"})
    message = str(info.value)
    assert "gandalf" in message and "Mary" in message
    for v in PIPER:
        assert v.name in message
