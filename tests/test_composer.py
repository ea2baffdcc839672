"""The ``composer`` music backend: description -> plan -> composition -> SoundFont audio.

Plan and composition tests need nothing but numpy; the audio tests need tinysoundfont and a General MIDI
SoundFont (apt: fluid-soundfont-gm or timgm6mb-soundfont) and are skipped, with the reason, without them.
"""

from __future__ import annotations

import json
import re
import threading

import numpy as np
import pytest
from helpers import rms

from storyaudio.backends.base import Event
from storyaudio.backends.composer import ComposerBackend, ComposerOptions
from storyaudio.backends.composer.compose import compose
from storyaudio.backends.composer.harmony import parse_chord, voice_chord
from storyaudio.backends.composer.plan import make_plan
from storyaudio.errors import BackendUnavailableError

SR = 48000


def _soundfont_or_skip() -> None:
    from storyaudio.backends.composer import render

    if ComposerBackend.missing():
        pytest.skip("tinysoundfont is not installed (pip install --no-deps tinysoundfont)")
    try:
        render.find_soundfont(None)
    except BackendUnavailableError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def backend() -> ComposerBackend:
    _soundfont_or_skip()
    return ComposerBackend()


def _music(content: str, duration: float, seed: int = 0, layout: str = "background") -> Event:
    return Event(row=1, kind="music", content=content, duration=duration, layout=layout, seed=seed)


# ---------------------------------------------------------------------------------------------------------
# plan: reading the description
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,family,instrument,minor", [
    ("Dramatic orchestral news theme.", "news", "brass section", True),
    ("relaxing and smooth jazz played in a stylish cafe", "jazz", "upright bass", False),
    ("delightful country music with acoustic guitars", "country", "acoustic guitar", False),
    ("cinematic and suspenseful orchestral music", "suspense", "slow strings", True),
    ("an eerie haunted house", "suspense", "bowed pad", True),
    ("8-bit video game level music", "electronic", "square lead", False),
    ("a sad farewell", "sad", "violin", True),
])
def test_descriptions_land_on_fitting_styles(text, family, instrument, minor):
    plan = make_plan(text, seed=0)
    assert plan.family == family, plan.style
    assert instrument in plan.instruments()
    assert (plan.mode in ("minor", "harmonic minor", "dorian")) == minor, plan.mode


@pytest.mark.parametrize("genre", ["jazz", "country music", "orchestral music", "ambient pads", "rock"])
def test_tempo_words_move_the_tempo_the_right_way(genre):
    for seed in (0, 5):
        slow = make_plan(f"slow {genre}", seed).tempo
        plain = make_plan(genre, seed).tempo
        fast = make_plan(f"fast {genre}", seed).tempo
        assert slow < plain < fast, (slow, plain, fast)
        assert make_plan(f"very slow {genre}", seed).tempo < slow


def test_explicit_bpm_key_and_meter_are_followed():
    plan = make_plan("a march at 140 bpm in B flat major", seed=2)
    assert plan.tempo == 140 and plan.key == "Bb major" and plan.meter == 4
    assert make_plan("gentle piano waltz in E minor", 0).key == "E minor"
    assert make_plan("gentle piano waltz in E minor", 0).meter == 3
    assert make_plan("jazz", 0, tempo=77).tempo == 77  # the option wins


def test_named_instruments_appear_in_the_instrumentation():
    plan = make_plan("a waltz with accordion and tuba", 0)
    assert {"accordion", "tuba"} <= set(plan.instruments())
    plan = make_plan("jazz with a trumpet and no drums", 0)
    assert "trumpet" in plan.instruments() and "tenor sax" not in plan.instruments()
    assert not any(p.role == "drums" for p in plan.parts)
    plan = make_plan("solo cello, slow and sad", 0)
    assert plan.instruments() == ["cello"]
    plan = make_plan("ambient music with a harp, a flute and brushed drums", 0)
    assert {"harp", "flute", "brushed drums"} <= set(plan.instruments())
    # a named instrument really plays: its channel has notes in the composition
    comp = compose(plan, 30.0, seed=1)
    for part, ch in zip(comp.parts, comp.channels):
        if part.name in ("harp", "flute", "brushed drums"):
            assert sum(1 for n in comp.notes if n.channel == ch) >= 8, part.name


@pytest.mark.parametrize("text", ["", "   ", "asdf qwerty zxcv", "12345 !!!", "🙂🎵", "x" * 500,
                                  "colorless green ideas sleep furiously"])
def test_every_description_lands_on_a_sensible_plan(text):
    plan = make_plan(text, seed=3)
    assert 40 <= plan.tempo <= 220 and plan.meter in (3, 4)
    assert any(p.role in ("chords", "pad") for p in plan.parts)
    comp = compose(plan, 20.0, seed=3)
    assert len(comp.notes) > 40
    json.dumps(plan.to_dict())


def test_chords_and_voicing():
    assert parse_chord("V7", 0).pcs == [7, 11, 2, 5]
    assert parse_chord("bVI", 9).pcs == [5, 9, 0]  # F major in A minor
    assert parse_chord("iiø7", 0).pcs == [2, 5, 8, 0]
    a = voice_chord(parse_chord("I", 0), None, 62)
    b = voice_chord(parse_chord("IV", 0), a, 62)
    assert sorted(p % 12 for p in b[:3]) == sorted({5, 9, 0})
    assert sum(abs(x - y) for x, y in zip(a, b)) <= 8  # voice leading: small moves


def test_composition_fills_the_duration_with_sections_and_a_final_chord():
    plan = make_plan("relaxing and smooth jazz played in a stylish cafe", 0)
    comp = compose(plan, 120.0, seed=4)
    assert abs(comp.final_time + comp.tail - 120.0) < 1e-6
    assert 1.5 <= comp.tail <= 6
    assert all(0 <= n.start and n.start + n.dur <= 120.0 for n in comp.notes)
    assert "B" in comp.form and "cadence" in comp.form  # not one loop: several sections
    # the bass line does not repeat every 4 bars: compare bar-long windows 4 bars apart
    beat = comp.beat_sec
    bass_ch = comp.channels[[p.role for p in comp.parts].index("bass")]
    bars = {}
    for n in comp.notes:
        if n.channel == bass_ch:
            bars.setdefault(int(n.start / (4 * beat) + 1e-6), []).append(n.pitch)
    diff = sum(bars.get(i) != bars.get(i + 4) for i in range(4, 24))
    assert diff >= 10
    # the played tempo stays within 4 % of the plan
    assert abs(60 / comp.beat_sec - plan.tempo) / plan.tempo <= 0.04


def test_short_cues_odd_lengths_and_seeds():
    news = make_plan("Dramatic orchestral news theme.", 0, "foreground")
    forms = {compose(news, 3.0, seed=s).form for s in range(6)}
    assert all(f.startswith("stinger") for f in forms) and len(forms) >= 3  # seeds pick the variant
    bed = make_plan("Dramatic orchestral news theme.", 0, "background")
    assert not compose(bed, 4.0, seed=0).form.startswith("stinger")  # a short bed is a bar of the piece
    # a length that is not whole bars starts with a pickup instead of bending the tempo
    comp = compose(make_plan("rock at 120 bpm", 0), 13.0, seed=0)  # 11.5 s of beats = 23 beats
    assert comp.form.startswith("pickup3") and abs(60 / comp.beat_sec - 120) < 0.5


def test_options_are_validated():
    from storyaudio.backends import create_backend
    from storyaudio.errors import OptionError

    with pytest.raises(OptionError, match="unknown style"):
        create_backend("composer", "music", {"style": "polka"})
    with pytest.raises(OptionError):
        create_backend("composer", "music", {"tempo": "500"})
    with pytest.raises(OptionError):
        create_backend("composer", "music", {"volume": "1"})
    b = create_backend("composer", "music", {"style": "waltz", "tempo": "100"})
    plan = b.plan(_music("news theme", 10.0))
    assert plan.meter == 3 and plan.tempo == 100


def test_stinger_is_a_pickup_into_a_final_chord():
    plan = make_plan("Dramatic orchestral news theme.", 0, "foreground")
    comp = compose(plan, 2.5, seed=0)
    assert comp.form.startswith("stinger")
    final = [n for n in comp.notes if abs(n.start - comp.final_time) < 1e-6]
    assert len(final) >= 8  # the whole ensemble hits the final chord together
    tonic_pcs = {n.pitch % 12 for n in final if n.channel != 9}
    assert plan.tonic in tonic_pcs and tonic_pcs <= {plan.tonic, (plan.tonic + 3) % 12, (plan.tonic + 7) % 12}


# ---------------------------------------------------------------------------------------------------------
# audio
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("duration,rate,made_at", [(0.5, SR, SR), (1.5, SR, SR), (3.7, 44100, 44100),
                                                   (9.25, SR, SR), (23.41, 22050, 48000)])
def test_the_piece_fills_the_requested_duration(backend, duration, rate, made_at):
    """The composition is written to the requested length, at the rate the synth renders (the asked one, or
    48 kHz where TinySoundFont is poor); the core resamples it (it owns the final rate and length)."""
    clip = backend.render(_music("uplifting corporate pop", duration, layout="foreground"), rate)
    assert clip.sample_rate == made_at
    assert clip.audio.dtype == np.float32 and clip.audio.shape == (2, round(duration * made_at))
    assert np.isfinite(clip.audio).all()
    assert rms(clip.audio) > 0.01
    assert np.max(np.abs(clip.audio)) <= 1.0


def test_event_without_duration_gets_a_default_length(backend):
    sting = backend.render(Event(row=1, kind="music", content="news sting", layout="foreground"), SR)
    bed = backend.render(Event(row=1, kind="music", content="calm bed", layout="background"), 24000)
    assert sting.audio.shape == (2, 3 * SR) and bed.audio.shape == (2, 30 * 48000)


@pytest.mark.parametrize("text,duration,layout", [
    ("Dramatic orchestral news theme.", 2.0, "foreground"),
    ("country music with banjo", 4.5, "foreground"),
    ("relaxing and smooth jazz played in a stylish cafe", 20.0, "background"),
    ("cinematic and suspenseful orchestral music", 14.0, "background"),
])
def test_endings_decay_rather_than_cut(backend, text, duration, layout):
    clip = backend.render(_music(text, duration, layout=layout), SR)
    a = clip.audio
    final_at = clip.info["composition"]["final_chord_at"]
    i = int(final_at * SR)
    ring = rms(a[:, i: i + int(0.3 * SR)])
    last = rms(a[:, -int(0.05 * SR):])
    assert ring > 0.02  # the final chord sounds
    assert last < 0.05 * ring  # ... and has died away by the end
    assert np.max(np.abs(a[:, -16:])) < 0.01  # no cut: the very end is (nearly) silent
    # the envelope decreases through the tail (slow-attack strings may still swell in its first half)
    q = np.array_split(a[:, i:], 4, axis=1)
    levels = [rms(x) for x in q]
    assert levels[3] < levels[2] < max(levels[:2]), levels


def test_stinger_ends_clearly(backend):
    clip = backend.render(_music("Dramatic orchestral news theme.", 2.5, layout="foreground"), SR)
    env = np.sqrt(np.mean(clip.audio.astype(np.float64) ** 2, axis=0))
    win = int(0.05 * SR)
    frames = env[: len(env) // win * win].reshape(-1, win).mean(axis=1)
    loudest = int(np.argmax(frames)) * 0.05
    final_at = clip.info["composition"]["final_chord_at"]
    assert final_at - 0.15 <= loudest <= final_at + 0.5  # the final hit is the climax
    assert frames[-1] < 0.05 * frames.max()


def test_same_seed_repeats_exactly_and_seeds_differ(backend):
    ev = _music("delightful country music with acoustic guitars", 8.0, seed=11)
    a = backend.render(ev, SR).audio
    backend.render(_music("epic battle", 3.0, seed=2), SR)  # state from another render must not leak
    b = backend.render(ev, SR).audio
    assert np.array_equal(a, b)
    c = backend.render(_music("delightful country music with acoustic guitars", 8.0, seed=12), SR).audio
    assert a.shape == c.shape
    assert not np.allclose(a, c, atol=1e-3)
    corr = float(np.corrcoef(a[0], c[0])[0, 1])
    assert corr < 0.8, corr


def test_stereo_field_detail_and_info(backend):
    clip = backend.render(_music("relaxing and smooth jazz played in a stylish cafe", 10.0, seed=1), SR)
    left, right = clip.audio.astype(np.float64)
    assert float(np.corrcoef(left, right)[0, 1]) < 0.99  # instruments are placed, not mono
    assert re.match(r"composer: jazz swing in [A-G][b#]? major, \d+ bpm, 4/4 — piano, upright bass, "
                    r"brushed drums, tenor sax$", clip.detail), clip.detail
    info = json.loads(json.dumps(clip.info))
    assert info["plan"]["tempo"] > 0 and info["plan"]["key"] and info["plan"]["parts"]


def test_named_instrument_changes_the_sound(backend):
    """Same plan except the lead: a flute melody puts more energy up high than a tuba would."""
    flute = backend.render(_music("solo flute", 6.0, seed=1, layout="foreground"), SR).audio.mean(axis=0)
    tuba = backend.render(_music("solo tuba", 6.0, seed=1, layout="foreground"), SR).audio.mean(axis=0)

    def centroid(x):
        spec = np.abs(np.fft.rfft(x))
        f = np.fft.rfftfreq(len(x), 1 / SR)
        return float((spec * f).sum() / spec.sum())

    assert centroid(flute) > 1.5 * centroid(tuba)


def test_reverb_option_adds_a_room():
    _soundfont_or_skip()
    ev = _music("solo piano", 6.0, seed=3)
    dry = ComposerBackend(ComposerOptions(reverb=0.0)).render(ev, SR).audio.astype(np.float64)
    wet = ComposerBackend(ComposerOptions(reverb=0.8)).render(ev, SR).audio.astype(np.float64)

    def floor(a):  # the quietest 20 ms frames before the ending, relative to the loudest
        e = np.sqrt(np.mean(a[:, : a.shape[1] // 960 * 960].reshape(2, -1, 960) ** 2, axis=(0, 2)))
        e = e[: int(len(e) * 0.7)]
        return np.percentile(e, 10) / e.max()

    assert floor(wet) > floor(dry) + 0.01  # the room fills the gaps between notes
    # and decorrelates left and right
    assert np.corrcoef(wet[0], wet[1])[0, 1] < np.corrcoef(dry[0], dry[1])[0, 1] - 0.1


def test_tempo_option_and_words_reach_the_audio(backend):
    """The pulse read from the audio (onset autocorrelation) follows the tempo asked for."""
    def beat_period(text: str) -> float:
        clip = backend.render(_music(text, 12.0, seed=5), SR)
        x = clip.audio.mean(axis=0).astype(np.float64)
        hop = 480
        env = np.sqrt(np.mean(x[: len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1))
        flux = np.maximum(np.diff(env), 0)
        flux -= flux.mean()
        ac = np.correlate(flux, flux, mode="full")[len(flux) - 1:]
        lags = np.arange(len(ac)) * hop / SR
        ok = (lags > 0.3) & (lags < 1.2)  # one beat between 50 and 200 bpm
        return float(lags[ok][np.argmax(ac[ok])]), clip.info["composition"]["played_tempo"]

    for text, bpm in (("slow rock at 60 bpm", 60), ("fast rock at 160 bpm", 160), ("rock", None)):
        period, played = beat_period(text)
        if bpm is not None:
            assert abs(played - bpm) / bpm <= 0.04
        beat = 60 / played
        # the strongest periodicity is the beat, or its half or double (eighths, bars)
        assert min(abs(period / (beat * m) - 1) for m in (0.5, 1, 2)) < 0.04, (text, period, beat)


def test_missing_soundfont_says_what_to_install(monkeypatch, tmp_path):
    from storyaudio.backends.composer import render

    monkeypatch.setattr(render, "SOUNDFONT_CANDIDATES", [str(tmp_path / "none.sf2")])
    monkeypatch.delenv("STORYAUDIO_SOUNDFONT", raising=False)
    with pytest.raises(BackendUnavailableError, match="apt-get install fluid-soundfont-gm"):
        render.find_soundfont(None)
    with pytest.raises(BackendUnavailableError, match="composer.soundfont"):
        ComposerBackend(ComposerOptions(soundfont=str(tmp_path / "nope.sf2"))).render(_music("jazz", 1.0), SR)


def test_two_threads_render_the_same_as_one(backend):
    events = [_music("lofi hip hop beats to study to", 5.0, seed=s) for s in (1, 2)]
    serial = [backend.render(e, SR).audio for e in events]
    out: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        out[i] = backend.render(events[i], SR).audio

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.array_equal(out[0], serial[0]) and np.array_equal(out[1], serial[1])


@pytest.mark.slow
def test_two_minute_bed_in_every_style(backend):
    from storyaudio.backends.composer.plan import STYLES

    for st in STYLES:
        b = ComposerBackend(ComposerOptions(style=st.name))
        clip = b.render(_music("background music", 120.0, seed=1), SR)
        assert clip.audio.shape == (2, 120 * SR)
        assert rms(clip.audio) > 0.02, st.name


@pytest.mark.parametrize("text, style", [
    ("Dramatic orchestral news theme.", "orchestral news theme"),
    ("news sting", "orchestral news theme"),
    ("jazz news intro", "jazz swing"),
    ("Calm electronic news bed, light pulses, steady tempo.", "electronic"),
    ("breaking news with rock guitars", "rock"),
])
def test_a_named_genre_beats_the_news_setting(text, style):
    from storyaudio.backends.composer.plan import choose_style

    assert choose_style(text)[0].name == style


# ---------------------------------------------------------------------------------------------------------
# pattern tables
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def scratch_tables(monkeypatch):
    """The pattern tables as they are, restored after the test (a test registers patterns of its own)."""
    from storyaudio.backends.composer.patterns import PATTERNS

    for table, entries in PATTERNS.items():
        monkeypatch.setitem(PATTERNS, table, dict(entries))
    return PATTERNS


def _with_pattern(plan, role: str, name: str):
    """``plan`` with its first part of ``role`` playing pattern ``name``."""
    import dataclasses

    i = next(i for i, p in enumerate(plan.parts) if p.role == role)
    parts = list(plan.parts)
    parts[i] = dataclasses.replace(parts[i], pattern=name, enter=0.0)
    return dataclasses.replace(plan, parts=parts), i


def test_every_pattern_the_styles_name_is_in_the_tables():
    from storyaudio.backends.composer.patterns import find_pattern
    from storyaudio.backends.composer.plan import STYLES

    for st in STYLES:
        for part in st.parts:
            assert find_pattern(part.role, part.pattern).name == part.pattern, (st.name, part)


def test_a_decorated_accompaniment_is_played_by_the_composer(scratch_tables):
    """A new accompaniment pattern is one decorated function, and a part naming it plays it."""
    from storyaudio.backends.composer.patterns.chords import ChordSpan, accompaniment

    roots: list[int] = []

    @accompaniment("test-octave-stab")
    def octave_stab(c: ChordSpan) -> None:
        roots.append(c.chord.root)
        c.add(0, 0.5, c.chord.root + 84, 100, jitter=0.0)

    plan, i = _with_pattern(make_plan("gentle acoustic folk", 0), "chords", "test-octave-stab")
    comp = compose(plan, 40.0, seed=2)
    ch = comp.channels[i]
    played = [n for n in comp.notes if n.channel == ch and n.start < comp.final_time - 1e-6]
    # one note per chord it was handed, in order, and nothing else
    assert len(roots) >= 8 and [n.pitch for n in played] == [r + 84 for r in roots]


@pytest.mark.parametrize("role,module,decorator", [
    ("bass", "bass", "bassline"), ("drums", "drums", "groove"), ("perc", "perc", "percussion"),
])
def test_each_role_takes_a_decorated_pattern(scratch_tables, role, module, decorator):
    import importlib

    mod = importlib.import_module(f"storyaudio.backends.composer.patterns.{module}")
    deco = getattr(mod, decorator)
    key = 81  # an unmistakable note (a triangle on channel 10, A5 elsewhere)

    if role == "drums":
        @deco("test-pattern")
        def fig(c):
            return [(0, key, 1.0)]
    else:
        @deco("test-pattern")
        def fig(c):
            c.add(0, 0.5, key, 90, jitter=0.0)

    text = {"bass": "rock", "drums": "rock", "perc": "epic battle music with taiko drums"}[role]
    plan, i = _with_pattern(make_plan(text, 0), role, "test-pattern")
    comp = compose(plan, 30.0, seed=1)
    ch = comp.channels[i]
    body = [n.pitch for n in comp.notes if n.channel == ch and n.start < comp.final_time - 1e-6]
    assert body and key in body
    assert body.count(key) >= 4  # every bar the part plays


def test_an_unknown_pattern_is_an_error_naming_the_known_ones():
    from storyaudio.backends.composer.patterns import UnknownPatternError

    plan, _ = _with_pattern(make_plan("jazz", 0), "bass", "polka-dots")
    with pytest.raises(UnknownPatternError, match=r"unknown bass pattern 'polka-dots'; bass patterns: .*walking"):
        compose(plan, 10.0)
    plan, _ = _with_pattern(make_plan("jazz", 0), "chords", "nope")
    with pytest.raises(UnknownPatternError, match=r"accompaniment patterns: .*arpeggio.*counter.*jazzcomp"):
        compose(plan, 10.0)


def test_a_pattern_name_is_registered_once(scratch_tables):
    from storyaudio.backends.composer.patterns.chords import accompaniment

    with pytest.raises(ValueError, match="'strum' is registered twice"):
        accompaniment("strum")(lambda c: None)
