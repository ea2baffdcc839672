"""The foley library: procedural sound-effect recipes (synthesis and DSP in the tradition of Andy Farnell's
*Designing Sound*), each with a name, a kind, descriptions for text matching and four parameters.

Kinds:

* ``bed``: an ambience or a continuous sound that fills any duration (rain, traffic, typing). Built from
  random processes (Poisson grains, wandering control signals), so minutes of it never loop.
* ``oneshot``: one natural event with its own attack and decay (a thunder clap, a door slam). The recipe
  renders the event at its natural length (the requested duration is a hint); :func:`render_recipe` gives it
  its room. In a long background span a one-shot recurs at random intervals (distant thunder, a dog now
  and then).

A rendered sound keeps its natural end: a bed's reverb rings out past the requested duration, a one-shot
lasts as long as it does. Fitting a clip to its slot is the core's job (``storyaudio.audio.fit_length``:
silence after a short clip, a fade where a long one is cut).

Parameters (:class:`Params`), moved by words in the row (see ``match.py``): ``intensity`` 0 (light, gentle)
to 1 (heavy, violent); ``distance`` 0 (close) to 1 (far: low-passed and quieter); ``size`` 0 (tiny: higher,
shorter) to 1 (huge: lower, longer); ``speed`` a rate multiplier; ``room`` 0 (dry, outdoors) to 1
(cathedral reverb).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from . import dsp
from .dsp import (
    TAU,
    adsr,
    bandpass,
    burst,
    highpass,
    impulses,
    lowpass,
    modal,
    one_pole_env,
    pan,
    phase,
    pink,
    place,
    poisson_times,
    resonator,
    saw,
    saw_fast,
    secs,
    smooth,
    sweep,
    white,
)


@dataclass(frozen=True)
class Params:
    intensity: float = 0.5
    distance: float = 0.0
    size: float = 0.5
    speed: float = 1.0
    room: float = 0.0

    def clamp(self) -> Params:
        return Params(float(np.clip(self.intensity, 0, 1)), float(np.clip(self.distance, 0, 1)),
                      float(np.clip(self.size, 0, 1)), float(np.clip(self.speed, 0.25, 4.0)),
                      float(np.clip(self.room, 0, 1)))


@dataclass
class Ctx:
    """What a recipe function gets: sample rate, target length (beds must return exactly ``n`` samples;
    one-shots return their natural length and may read ``seconds`` as a hint), randomness, parameters."""

    sr: int
    n: int
    rng: np.random.Generator
    p: Params
    background: bool = False

    @property
    def seconds(self) -> float:
        return self.n / self.sr

    @property
    def size_pitch(self) -> float:
        """Pitch factor from size: 1 at 0.5, about 1.7 for tiny, 0.6 for huge."""
        return float(2.0 ** (-(self.p.size - 0.5) * 1.5))


@dataclass(frozen=True)
class Recipe:
    name: str
    kind: str  # "bed" | "oneshot"
    category: str
    descriptions: tuple[str, ...]
    words: tuple[str, ...]
    fn: Callable[[Ctx], np.ndarray]
    room: float = 0.0  # default reverb send
    gain: float = 1.0  # relative level in the library (before the core's loudness normalisation)

    @property
    def description(self) -> str:
        return self.descriptions[0]


@dataclass(frozen=True)
class Layer:
    """One recipe inside a combination, with parameter offsets and a relative gain."""

    recipe: str
    gain: float = 1.0
    intensity: float = 0.0
    distance: float = 0.0
    size: float = 0.0


@dataclass(frozen=True)
class Combo:
    name: str
    category: str
    descriptions: tuple[str, ...]
    words: tuple[str, ...]
    layers: tuple[Layer, ...] = field(default_factory=tuple)


RECIPES: dict[str, Recipe] = {}
COMBOS: dict[str, Combo] = {}


def recipe(name: str, kind: str, category: str, descriptions: list[str], words: str = "", room: float = 0.0,
           gain: float = 1.0):
    def deco(fn: Callable[[Ctx], np.ndarray]) -> Callable[[Ctx], np.ndarray]:
        RECIPES[name] = Recipe(name, kind, category, tuple(descriptions), tuple(words.split()), fn, room, gain)
        return fn

    return deco


def combo(name: str, category: str, descriptions: list[str], words: str, *layers: Layer) -> None:
    COMBOS[name] = Combo(name, category, tuple(descriptions), tuple(words.split()), tuple(layers))


def _st(x: np.ndarray) -> np.ndarray:
    return x if x.ndim == 2 else np.vstack([x, x])


def _pool(make: Callable[[int], np.ndarray], count: int) -> list[np.ndarray]:
    return [make(i) for i in range(count)]


def _scatter(c: Ctx, buf: np.ndarray, times: np.ndarray, pool: list[np.ndarray], gain_sigma: float = 0.3,
             spread: float = 0.6) -> None:
    """Place grains from ``pool`` at ``times`` (seconds) with random choice, gain and pan."""
    rng = c.rng
    for t in times:
        g = pool[rng.integers(len(pool))]
        place(buf, g, int(t * c.sr), pan(rng.uniform(-spread, spread)) * rng.lognormal(0, gain_sigma))


def _hit_train(rng: np.random.Generator, rate: np.ndarray, sr: int, low: float) -> np.ndarray:
    """Impulses at a per-sample ``rate`` (Hz): one wherever the accumulated phase crosses a whole cycle, each
    of a random height in [low, 1) (the catches of a creaking hinge, the strikes of an alarm bell)."""
    ph = np.cumsum(rate) / sr
    hits = np.zeros(rate.shape[-1])
    idx = np.nonzero(np.diff(np.floor(ph)) > 0)[0]
    hits[idx] = rng.uniform(low, 1.0, idx.size)
    return hits


def _ensure_first(times: np.ndarray, c: Ctx, latest: float = 0.15) -> np.ndarray:
    """Sparse processes must still sound in a short clip: force one event near the start."""
    first = c.rng.uniform(0.005, min(latest, max(0.01, c.seconds * 0.3)))
    if times.size == 0 or times[0] > first + 0.05:
        times = np.concatenate([[first], times])
    return times


# ====================================================================================================
# weather
# ====================================================================================================

@recipe("rain", "bed", "weather", [
    "rain falling steadily",
    "a downpour of raindrops on the ground and leaves",
    "rainfall, a shower of water drops, wet weather",
    "drizzle pattering outside the window",
], "rain rainy raining rainfall raindrop drizzle downpour shower pour pouring patter pattering torrential "
   "wet precipitation monsoon deluge drops")
def _rain(c: Ctx) -> np.ndarray:
    n, sr, rng, i = c.n, c.sr, c.rng, c.p.intensity
    w = white(rng, n, 2)  # one noise: a coloured band of it is the hiss, its gated copy the drops
    hiss = dsp.band_tilt(w, sr, 450 - 250 * i, 2500) * (1.5 * (1 + 0.2 * smooth(rng, n, sr, 0.25)))
    imp = impulses(rng, n, sr, (250 + 3500 * i) * c.p.speed, 0.8, 2)
    drops = highpass(one_pole_env(imp, sr, 0.002) * w[::-1], sr, 1800)
    # a few resonant plinks (drops on leaves and puddles), three pitches spread across the stereo field
    p1, p2, p3 = (resonator(impulses(rng, n, sr, (8 + 40 * i) / 3, 0.6), sr, f, 30) for f in (2300, 3100, 4200))
    plinks = np.vstack([p1 + 0.5 * p2, p3 + 0.5 * p2]) * 4.0
    rumble = dsp.rumble(rng, n, sr, 250, 2) * (0.1 + 0.5 * i)
    return 0.35 * hiss + drops * (0.5 / (np.std(drops[:, ::16]) + 1e-9)) + 0.25 * plinks + 0.3 * rumble


@recipe("wind", "bed", "weather", [
    "wind blowing in gusts",
    "a howling gale whistling around the house",
    "breeze rustling, gusty windy weather",
], "wind windy gust gusty gale breeze blow blowing blustery howl howling whistle draught draft air "
   "tempest hurricane whirlwind")
def _wind(c: Ctx) -> np.ndarray:
    n, sr, rng, i = c.n, c.sr, c.rng, c.p.intensity
    g = 0.5 + 0.18 * smooth(rng, n, sr, 0.12 * c.p.speed) + 0.08 * smooth(rng, n, sr, 0.7 * c.p.speed)
    gust = np.clip(g + 0.2 * (i - 0.5), 0.05, 1.2)
    src = white(rng, n, 2)
    step = max(64, sr // 20)  # gusts are slow: retune the filters every 50 ms
    body = dsp.tv_bandpass(src, sr, 180 + 650 * gust, 1.6, step) * gust
    whistle = dsp.tv_bandpass(src[::-1], sr, 500 + 1300 * gust ** 1.5, 9.0, step) * gust ** 2 * (0.3 + 0.8 * i)
    low = dsp.rumble(rng, n, sr, 150, 2) * gust
    return body + 0.6 * whistle + 0.35 * low


@recipe("thunder", "oneshot", "weather", [
    "a thunder clap and rolling rumble",
    "lightning strike with a crack of thunder",
    "thunder rumbling in the sky",
], "thunder thunderclap thunderbolt lightning rumble rumbling clap crack roll rolling sky bolt", room=0.15)
def _thunder(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    length = 3.5 + 4.0 * p.size
    n = secs(sr, length)
    env = np.zeros(n)
    for _ in range(rng.integers(3, 7)):
        start = rng.uniform(0.0, 0.45) * length * rng.random()
        seg = adsr(n - secs(sr, start), sr, rng.uniform(0.02, 0.3), rng.uniform(0.8, 2.5) * (0.6 + p.size))
        env[secs(sr, start):] += rng.uniform(0.3, 1.0) * seg[: n - secs(sr, start)]
    rumble = dsp.rumble(rng, n, sr, 110 + 220 * p.intensity, 2, 3) * env
    roll = lowpass(bandpass(white(rng, n, 2), sr, 150, 900, 2), sr, 900, 2) * env * 0.25
    crack_env = adsr(n, sr, 0.002, 0.35)
    crackle = one_pole_env(impulses(rng, n, sr, 900, 1.0, 2), sr, 0.003) * white(rng, n, 2)
    crack = highpass(crackle * crack_env, sr, 900) * (0.9 - 0.8 * p.distance) * 0.6
    return rumble * 2.0 + roll + crack


# ====================================================================================================
# water
# ====================================================================================================

def _bubble(sr: int, rng: np.random.Generator, f0: float, dur: float, rise: float = 1.6) -> np.ndarray:
    """Farnell's bubble: a sine whose pitch rises exponentially as the bubble shrinks, decaying quickly."""
    n = secs(sr, dur)
    ph = sweep(n, sr, f0, f0 * rise)
    return np.sin(ph) * adsr(n, sr, 0.001, dur)


@recipe("ocean_waves", "bed", "water", [
    "ocean waves breaking on a beach",
    "sea surf crashing on the shore and washing back",
    "the tide lapping at a harbour",
], "ocean sea wave waves surf beach shore shoreline tide coast coastal seaside breaker breakers lap lapping "
   "harbor harbour quay pier wash swell")
def _waves(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    cf = max(1, sr // 400)  # the wave envelope is slow: build it at ~400 Hz
    cr = sr / cf
    env = np.zeros(n // cf + 2)
    t = rng.uniform(-6.0, 0.0)
    while t < c.seconds:
        period = rng.uniform(6.0, 11.0) * (0.7 + 0.6 * p.size) / p.speed
        rise, fall = 0.45 * period, 0.9 * period
        u = np.arange(int((rise + fall) * cr)) / cr
        shape = np.where(u < rise, (u / rise) ** 2, np.exp(-3.0 * (u - rise) / fall))
        place(env, shape * rng.uniform(0.5, 1.0), int(t * cr))
        t += period * rng.uniform(0.6, 1.0)
    env = dsp.upsample(0.12 + env, cf, n)
    fc = 300 + 2600 * np.clip(env, 0, 1.2)
    surf = dsp.tv_bandpass(pink(rng, n, 2, sr), sr, fc, 0.7) * env
    fizz = highpass(white(rng, n, 2), sr, 3000) * np.maximum(env - 0.35, 0) ** 1.5 * 0.6
    low = dsp.rumble(rng, n, sr, 200, 2) * env * (0.5 + 0.5 * p.intensity)
    return surf + fizz + 0.5 * low


@recipe("stream", "bed", "water", [
    "a babbling brook of running water",
    "a stream trickling over stones",
    "a small river flowing and gurgling",
], "stream brook creek river flowing flow running trickle trickling babbling burbling gurgle gurgling "
   "rill rapids waterfall fountain water")
def _stream(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    wash = bandpass(pink(rng, n, 2, sr), sr, 250, 3500) * (1 + 0.4 * smooth(rng, n, sr, 6.0, 2))
    pitch = c.size_pitch
    pool = _pool(lambda k: _bubble(sr, rng, rng.uniform(450, 1900) * pitch, rng.uniform(0.01, 0.045)), 48)
    buf = np.zeros((2, n))
    _scatter(c, buf, poisson_times(rng, (60 + 160 * p.intensity) * p.speed, c.seconds), pool, 0.5, 0.8)
    return 0.25 * wash + 0.5 * buf


@recipe("dripping", "bed", "water", [
    "water dripping slowly in a cave",
    "drops falling from a leaking tap, plip plop",
    "single water drips echoing",
], "drip dripping drips drop droplet leak leaking leaky tap faucet plip plop plink cave cavern trickle",
   room=0.45)
def _drips(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    pitch = c.size_pitch
    def drop(k: int) -> np.ndarray:
        g = _bubble(sr, rng, rng.uniform(700, 1700) * pitch, rng.uniform(0.04, 0.09), 2.2)
        place(g, 0.3 * burst(rng, sr, 0.004, 2000, 8000), 0)
        return g

    pool = _pool(drop, 12)
    times = _ensure_first(poisson_times(rng, (0.7 + 2.5 * p.intensity) * p.speed, c.seconds), c)
    buf = np.zeros((2, n))
    _scatter(c, buf, times, pool, 0.3, 0.5)
    return buf + 0.004 * dsp.rumble(rng, n, sr, 300, 2)


@recipe("splash", "oneshot", "water", [
    "a splash of something falling into water",
    "someone jumps into a pool with a big splash",
], "splash splashing plunge dive diving jump jumps pool lake sploosh plop dunk", room=0.1)
def _splash(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    length = 1.2 + 0.8 * p.size
    n = secs(sr, length)
    fc = 3200 * np.exp(-np.arange(n) / sr * 4.0) + 500
    body = dsp.tv_bandpass(white(rng, n, 2), sr, fc, 0.8) * adsr(n, sr, 0.004, 0.5 + 0.4 * p.size)
    low = lowpass(white(rng, n), sr, 300) * adsr(n, sr, 0.003, 0.25) * (0.5 + p.size)
    buf = np.zeros((2, n))
    pool = _pool(lambda k: _bubble(sr, rng, rng.uniform(400, 1600) * c.size_pitch, rng.uniform(0.015, 0.05)), 24)
    _scatter(c, buf, 0.05 + rng.exponential(0.25, int(30 + 50 * p.intensity)), pool, 0.4, 0.7)
    return body + 0.6 * _st(low) + 0.25 * buf


@recipe("bubbles", "bed", "water", [
    "bubbling water, an aquarium pump",
    "a pot boiling and bubbling on the stove",
    "underwater bubbles rising",
], "bubble bubbles bubbling boil boiling simmer aquarium underwater diver submerged gurgle fizz blub")
def _bubbles(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    pool = _pool(lambda k: _bubble(sr, rng, rng.uniform(180, 900) * c.size_pitch, rng.uniform(0.02, 0.08), 1.8), 32)
    buf = np.zeros((2, n))
    times = _ensure_first(poisson_times(rng, (12 + 50 * p.intensity) * p.speed, c.seconds), c)
    _scatter(c, buf, times, pool, 0.4, 0.6)
    return buf + 0.08 * dsp.rumble(rng, n, sr, 400, 2)


# ====================================================================================================
# fire
# ====================================================================================================

@recipe("fire", "bed", "fire", [
    "a crackling fire burning",
    "a campfire with popping logs and flames",
    "a fireplace hearth with crackles and hiss",
], "fire crackle crackling burn burning flame flames blaze blazing campfire bonfire fireplace hearth logs "
   "embers inferno wood pop popping hiss")
def _fire(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    lap = dsp.rumble(rng, n, sr, 220, 2) * (0.7 + 0.3 * smooth(rng, n, sr, 3.0, 2))
    flick = np.clip(0.5 + 0.5 * smooth(rng, n, sr, 9.0, 2), 0, None) ** 2
    w = white(rng, n, 2)  # one noise, shaped three ways
    imp = impulses(rng, n, sr, (10 + 45 * p.intensity) * p.speed, 1.1, 2)
    # the flickering hiss and the crackles share one band (one filter pass for both)
    bright = bandpass(w * (0.08 * flick + 0.6 * one_pole_env(imp, sr, 0.0025)), sr, 1200, 9000)
    pops = impulses(rng, n, sr, 0.8 + 2 * p.intensity, 0.6, 2)
    pop = bandpass(one_pole_env(pops, sr, 0.012) * w[::-1], sr, 250, 2500)
    return 0.6 * lap * (0.5 + p.intensity) + bright + 0.8 * pop


# ====================================================================================================
# city and office
# ====================================================================================================

@recipe("traffic", "bed", "city", [
    "city traffic with cars passing by",
    "a busy road with vehicles driving past",
    "street noise of cars, buses and trucks",
], "traffic car cars vehicle vehicles road street highway motorway freeway bus buses truck trucks lorry "
   "commute rush city urban passing drive driving avenue junction")
def _traffic(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    out = 0.5 * dsp.rumble(rng, n, sr, 220, 2) + 0.2 * bandpass(pink(rng, n, 2, sr), sr, 200, 1800) * (
        1 + 0.3 * smooth(rng, n, sr, 0.2))
    tire = bandpass(pink(rng, n, None, sr), sr, 300, 2500)
    rate = (0.12 + 0.45 * p.intensity) * p.speed
    times = poisson_times(rng, rate, c.seconds + 3, start=-3.0)
    if times.size == 0 or times[0] > 1.0:
        times = np.concatenate([[rng.uniform(-1.0, 1.0)], times])
    for tc in times:
        w = rng.uniform(1.2, 2.5) / p.speed
        a, b = max(0, int((tc - 2.5 * w) * sr)), min(n, int((tc + 2.5 * w) * sr))
        if b <= a:
            continue
        t = np.arange(a, b) / sr - tc
        env = np.exp(-(t / w) ** 2 * 2.0) * rng.uniform(0.4, 1.0)
        f0 = rng.uniform(30, 75) * (1.0 - 0.05 * np.tanh(2.0 * t / w))
        ph = phase(f0, sr)
        eng = (np.sin(ph) + 0.5 * np.sin(2 * ph) + 0.3 * np.sin(3 * ph) + 0.2 * np.sin(5 * ph)) * 0.5
        sig = 0.8 * tire[a:b] + eng
        direction = 1 if rng.random() < 0.5 else -1
        pos = np.tanh(direction * t / w)
        ang = (pos + 1) * np.pi / 4
        out[0, a:b] += sig * env * np.cos(ang) * 1.4
        out[1, a:b] += sig * env * np.sin(ang) * 1.4
    return out


def _babble(c: Ctx, voices: int, level_sigma: float = 0.4, excited: float = 0.0) -> np.ndarray:
    """Speech-like murmur: voiced buzz and breath through vowel formants, gated by many talkers' syllable
    envelopes (computed at a control rate and summed into four groups, each with its own source). Voices
    carry nothing above 4 kHz, so it is synthesised at about 16 kHz and interpolated up to ``c.sr``; the
    final band-pass removes the interpolation's images."""
    sr_out, rng = c.sr, c.rng
    up = max(1, sr_out // 16000)
    sr = sr_out / up
    n = c.n // up + 2
    ctl_factor = max(1, int(sr // 200))
    cr = sr / ctl_factor
    m = n // ctl_factor + 2
    vowels = [(700, 1200, 2600), (400, 2000, 2700), (500, 900, 2400), (300, 2300, 3000)]
    out = np.zeros((2, n), dtype=np.float32)
    for gidx in range(4):
        env = np.zeros(m)
        for _ in range(max(1, voices // 4 + (gidx < voices % 4))):
            syl = np.clip(smooth(rng, m, cr, rng.uniform(4.0, 7.0)) + 0.2, 0, None) ** 1.5
            phrase = np.clip(smooth(rng, m, cr, 0.4) + 0.6 + excited, 0, 1.5)
            env += syl * phrase * rng.lognormal(0, level_sigma)
        e = dsp.upsample(env, ctl_factor, n)
        f0 = rng.uniform(100, 240) * (1 + (0.12 + 0.2 * excited) * smooth(rng, n, sr, 3.0))
        src = saw_fast(phase(f0, sr)) + 0.5 * white(rng, n)
        voiced = dsp.formants(src, sr, vowels[gidx], (1.0, 0.6, 0.25), q=5.0)
        out += np.outer(pan(rng.uniform(-0.7, 0.7)), voiced * e).astype(np.float32)
    if up > 1:
        out = dsp.upsample(out, up, c.n)
    return bandpass(out[:, : c.n], sr_out, 180, 4000, 2)


@recipe("crowd_murmur", "bed", "crowd", [
    "murmur of a crowd of people talking",
    "indistinct chatter and conversation in a busy room",
    "a restaurant full of voices, walla",
], "crowd crowded murmur murmuring chatter chattering talk talking conversation conversations voices people "
   "babble walla restaurant cafe bar pub party gathering audience hubbub busy mall market", room=0.25)
def _crowd(c: Ctx) -> np.ndarray:
    return _babble(c, 6 + int(18 * c.p.intensity))


def _key(sr: int, rng: np.random.Generator, heavy: bool = False) -> np.ndarray:
    n = secs(sr, 0.16)
    press = burst(rng, sr, 0.012, 1800, 7000, 0.0003, 0.008)
    body = modal(sr, 0.04, rng.uniform(350, 1300, 3) * (0.6 if heavy else 1.0), [0.03, 0.02, 0.015],
                 [1.0, 0.6, 0.4], rng)
    rel = burst(rng, sr, 0.01, 2500, 7000, 0.0003, 0.006) * 0.45
    g = np.zeros(n)
    place(g, press, 0)
    place(g, body * (1.0 if heavy else 0.5), 0)
    place(g, rel, secs(sr, rng.uniform(0.06, 0.1)))
    return g * (1.4 if heavy else 1.0)


@recipe("keyboard_typing", "bed", "office", [
    "typing on a computer keyboard",
    "fingers clicking keys, someone writing an email",
    "a typist at a clacking mechanical keyboard",
], "typing type typed typist keyboard keys key keystrokes clicking clacking computer laptop mechanical "
   "writing email desk", room=0.1)
def _typing(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    pool = _pool(lambda k: _key(sr, rng, heavy=k >= 10), 12)
    buf = np.zeros((2, n))
    t = rng.uniform(0.0, 0.1)
    while t < c.seconds:
        for _ in range(rng.integers(2, 9)):
            g = pool[rng.integers(10)] if rng.random() > 0.12 else pool[10 + rng.integers(2)]
            place(buf, g, int(t * sr), pan(rng.uniform(-0.3, 0.3)) * rng.lognormal(0, 0.25))
            t += rng.uniform(0.07, 0.18) / p.speed
        t += rng.exponential(0.35) / p.speed
    return buf + 0.002 * dsp.soft_noise(rng, n, sr, 2000, 2)


def _hammered(sr: int, rng: np.random.Generator, seconds: float, rate: float, freqs, q: float, pattern) -> np.ndarray:
    """A bell re-struck by an electric hammer ``rate`` times a second while ``pattern(t)`` is on."""
    n = secs(sr, seconds)
    hits = np.zeros(n)
    k = np.arange(0, seconds, 1.0 / rate)
    k = k[np.array([bool(pattern(x)) for x in k], dtype=bool)] if k.size else k
    idx = (k * sr).astype(int)
    idx = idx[idx < n]
    hits[idx] = rng.uniform(0.7, 1.0, idx.size)
    return sum(resonator(hits, sr, f, q) / (j + 1) ** 0.5 for j, f in enumerate(freqs))


@recipe("phone_ring", "oneshot", "office", [
    "a telephone ringing",
    "an old phone bell rings on the desk",
    "the landline rings twice",
], "phone telephone ring ringing rings ringtone landline call calling handset receiver bell trill", room=0.15)
def _phone(c: Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    cycles = int(np.clip(c.seconds // 3.0, 1, 3))
    length = cycles * 3.0 - 1.6

    def on(x: float) -> bool:
        u = x % 3.0
        return u < 0.4 or 0.6 <= u < 1.0

    f = 1000.0 * c.size_pitch
    x = _hammered(sr, rng, length, 20.0, (f, f * 1.27, f * 2.31, f * 3.05), 120.0, on)
    return x * 0.15


@recipe("air_conditioning", "bed", "office", [
    "air conditioning hum in an office",
    "the drone of a ventilation fan",
    "electrical hum of machines and an HVAC unit",
], "air conditioning conditioner aircon ac hvac ventilation vent fan hum humming drone whir whirring "
   "electrical buzz refrigerator fridge server room tone blower extractor")
def _aircon(c: Ctx) -> np.ndarray:
    # everything here lives below ~2 kHz: synthesise at about 12 kHz and interpolate up
    up = max(1, c.sr // 12000)
    if up > 1:
        low = _aircon(Ctx(round(c.sr / up), c.n // up + 2, c.rng, c.p, c.background))
        return dsp.upsample(low, up, c.n)
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    mains = 50.0 if rng.random() < 0.5 else 60.0
    drift = 1 + 0.2 * smooth(rng, n, sr, 0.1)
    hum = sum(a * np.sin(TAU * mains * k * t + rng.uniform(0, TAU)) for k, a in ((1, 0.25), (2, 1.0), (3, 0.35), (4, 0.2)))
    fan = lowpass(pink(rng, n, 2, sr), sr, 900 + 900 * p.intensity) * (1 + 0.1 * smooth(rng, n, sr, 0.3, 2))
    blade = bandpass(white(rng, n, 2), sr, 120, 700) * (1 + 0.3 * np.sin(TAU * rng.uniform(18, 30) * t))
    return 0.08 * hum * drift + 0.8 * fan + 0.2 * blade


@recipe("car_horn", "oneshot", "city", [
    "a car horn honking",
    "a driver beeps the horn in traffic",
], "horn honk honking hoot toot beep klaxon driver impatient jam", room=0.1)
def _horn(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    honks = [rng.uniform(0.35, 0.9)]
    if c.seconds > 1.4 and rng.random() < 0.6 + 0.3 * p.intensity:
        honks = [rng.uniform(0.15, 0.25), rng.uniform(0.4, 0.9)]
    length = sum(honks) + 0.2 * len(honks) + 0.3
    n = secs(sr, length)
    out = np.zeros(n)
    t0 = 0.0
    for h in honks:
        m = secs(sr, h)
        f1 = 405.0 * c.size_pitch
        x = saw_fast(phase(np.full(m, f1), sr)) + saw_fast(phase(np.full(m, f1 * 1.26), sr))
        x = np.tanh(2.0 * lowpass(x, sr, 4000))
        x = dsp.formants(x, sr, (500, 1600, 3000), (1.0, 0.7, 0.4), 3.0)
        place(out, dsp.fade(x, sr, 0.012, 0.04), secs(sr, t0))
        t0 += h + 0.2
    return out


@recipe("church_bell", "oneshot", "city", [
    "a church bell tolling",
    "a large bell chiming the hour from a tower",
], "church bell bells toll tolling chime chimes chiming tower cathedral belfry carillon peal hour gong",
   room=0.35)
def _church_bell(c: Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    strikes = int(np.clip(c.seconds // 2.5, 1, 6))
    length = (strikes - 1) * 2.4 + 7.0
    f0 = 330.0 * c.size_pitch
    ratios = [0.5, 1.0, 1.183, 1.506, 2.0, 2.514, 2.662, 3.011, 4.166, 5.433]
    decays = [9.0, 6.5, 5.0, 4.0, 3.5, 2.5, 2.2, 1.8, 1.2, 0.9]
    amps = [0.6, 1.0, 0.7, 0.4, 0.8, 0.35, 0.3, 0.25, 0.2, 0.15]
    n = secs(sr, length)
    out = np.zeros(n)
    for s in range(strikes):
        strike = modal(sr, 7.0, [f0 * r for r in ratios], decays, amps, rng)
        strike[: secs(sr, 0.02)] += burst(rng, sr, 0.02, 500, 4000)[: secs(sr, 0.02)] * 0.3
        place(out, strike, secs(sr, s * 2.4))
    return out


# ====================================================================================================
# nature
# ====================================================================================================

def _chirp(sr: int, rng: np.random.Generator, fb: float, style: int) -> np.ndarray:
    dur = rng.uniform(0.04, 0.14)
    n = secs(sr, dur)
    u = np.linspace(0, 1, n)
    if style == 0:  # up-sweep
        f = fb * (0.8 + 0.6 * u ** 1.5)
    elif style == 1:  # down-sweep
        f = fb * (1.4 - 0.6 * u)
    elif style == 2:  # arch
        f = fb * (1.0 + 0.4 * np.sin(np.pi * u))
    else:  # trill
        f = fb * (1.0 + 0.15 * np.sin(TAU * rng.uniform(25, 45) * u * dur))
    return np.sin(phase(f, sr)) * np.sin(np.pi * u) ** 2


@recipe("birds", "bed", "nature", [
    "birds chirping and tweeting in the morning",
    "birdsong in a garden, songbirds singing",
    "sparrows and finches twittering in the trees",
], "bird birds birdsong songbird songbirds chirp chirping chirps tweet tweeting twitter twittering warble "
   "warbling sing singing song sparrow finch robin blackbird dawn chorus nature garden park morning", room=0.15)
def _birds(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    buf = np.zeros((2, n))
    for b in range(2 + int(4 * p.intensity)):
        fb = rng.uniform(2400, 5200) * c.size_pitch ** 0.5
        pool = [_chirp(sr, rng, fb * rng.uniform(0.9, 1.1), int(rng.integers(4))) for _ in range(6)]
        position = pan(rng.uniform(-0.8, 0.8))
        level = rng.uniform(0.3, 1.0)
        phrases = poisson_times(rng, rng.uniform(0.15, 0.5) * p.speed, c.seconds)
        if b == 0:
            phrases = _ensure_first(phrases, c, 0.3)
        for t in phrases:
            motif = rng.integers(len(pool), size=rng.integers(2, 6))
            for _ in range(rng.integers(1, 3)):
                for k in motif:
                    place(buf, pool[k], int(t * sr), position * level * rng.uniform(0.7, 1.0))
                    t += pool[k].shape[0] / sr + rng.uniform(0.02, 0.09) / p.speed
    return buf + 0.003 * dsp.soft_noise(rng, n, sr, 5000, 2)


@recipe("crickets", "bed", "nature", [
    "crickets chirping on a summer night",
    "insects buzzing and cicadas singing in the heat",
], "cricket crickets insect insects cicada cicadas grasshopper chirring night summer evening countryside "
   "meadow field buzz katydid")
def _crickets(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    out = np.zeros((2, n))
    for _ in range(3 + int(5 * p.intensity)):
        fcar = min(rng.uniform(3800, 5600), 0.42 * sr)
        chirp_rate = rng.uniform(1.2, 2.6) * p.speed * (1 + 0.05 * smooth(rng, n, sr, 0.2))
        cph = np.cumsum(chirp_rate) / sr + rng.random()
        pulses = rng.integers(3, 6)
        pulse_rate = rng.uniform(28, 45)
        within = (cph % 1.0) * (1.0 / chirp_rate.mean()) * pulse_rate
        gate = (within < pulses) * np.sin(np.pi * (within % 1.0)) ** 2
        amp = rng.uniform(0.3, 1.0) * (1 + 0.2 * smooth(rng, n, sr, 0.5))
        sig = np.sin(TAU * fcar * t + rng.uniform(0, TAU)) * gate * amp
        out += np.outer(pan(rng.uniform(-0.8, 0.8)), sig)
    return out + 0.004 * dsp.soft_noise(rng, n, sr, 4000, 2)


def _voiced(sr: int, rng: np.random.Generator, f0: np.ndarray, forms, gains, q: float = 6.0,
            breath: float = 0.2) -> np.ndarray:
    src = saw(phase(f0, sr), 16) + breath * white(rng, f0.shape[0])
    return dsp.formants(src, sr, forms, gains, q)


@recipe("dog_bark", "oneshot", "nature", [
    "a dog barking",
    "a dog goes woof woof",
    "a hound barks and growls at a stranger",
], "dog dogs bark barking barks woof bow wow puppy pup hound canine growl yap yapping yelp mutt", room=0.1)
def _dog(c: Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    barks = 1 if c.seconds < 1.2 else (2 if c.seconds < 2.5 else 3)
    length = barks * 0.45 + 0.4
    out = np.zeros(secs(sr, length))
    pitch = c.size_pitch
    for b in range(barks):
        dur = rng.uniform(0.16, 0.26)
        m = secs(sr, dur)
        u = np.linspace(0, 1, m)
        f0 = rng.uniform(330, 430) * pitch * (1 + 0.35 * np.sin(np.pi * np.minimum(u * 1.6, 1.0)) - 0.3 * u)
        f0 = f0 * (1 + 0.04 * white(rng, m).cumsum() / np.sqrt(m))
        forms = tuple(np.array([550, 1250, 2400]) * pitch ** 0.9)  # a small dog's mouth is small too
        x = _voiced(sr, rng, f0, forms, (1.0, 0.8, 0.35), 4.0, 0.6)
        x *= adsr(m, sr, 0.008, dur * 1.3) * np.minimum(1.0, 5 * (1 - u))
        x = np.tanh(3.0 * x / (np.max(np.abs(x)) + 1e-9))
        place(out, x, secs(sr, b * rng.uniform(0.38, 0.5)))
    return out


@recipe("owl", "oneshot", "nature", [
    "an owl hooting at night",
    "a tawny owl calls hoo hoo in the dark woods",
], "owl owls hoot hooting hoo night nocturnal woods midnight twit", room=0.3)
def _owl(c: Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    f = rng.uniform(380, 460) * c.size_pitch
    notes = [(0.0, 0.55, 1.0), (1.2, 0.13, 0.6), (1.42, 0.13, 0.6), (1.66, 0.8, 0.9)]
    out = np.zeros(secs(sr, 2.8))
    for start, dur, a in notes:
        m = secs(sr, dur)
        u = np.linspace(0, 1, m)
        f0 = f * (1 + 0.08 * np.sin(np.pi * u) + 0.015 * np.sin(TAU * 7 * u * dur))
        ph = phase(f0, sr)
        x = np.sin(ph) + 0.15 * np.sin(2 * ph) + 0.05 * bandpass(white(rng, m), sr, f * 1.5, f * 3, 2)
        place(out, x * np.sin(np.pi * u) ** 1.5 * a, secs(sr, start))
    return out


def _step(c: Ctx, surface: str) -> np.ndarray:
    sr, rng = c.sr, c.rng
    pitch = c.size_pitch
    if surface == "wood":
        g = modal(sr, 0.25, rng.uniform(0.9, 1.1) * np.array([105, 170, 310, 520]) * pitch, [0.12, 0.1, 0.07, 0.05],
                  [1.0, 0.7, 0.5, 0.3], rng)
        g[: secs(sr, 0.006)] += burst(rng, sr, 0.006, 1000, 5000)[: secs(sr, 0.006)] * 0.4
        if rng.random() < 0.2:  # a creaking board
            m = secs(sr, 0.2)
            pulses = np.zeros(m)
            pulses[:: max(1, secs(sr, 1 / rng.uniform(60, 110)))] = 1
            creak = dsp.formants(pulses, sr, (700, 1500), (1.0, 0.5), 15) * adsr(m, sr, 0.03, 0.25)
            g = np.concatenate([g, np.zeros(max(0, m - g.shape[0] + secs(sr, 0.03)))])
            place(g, 0.6 * creak, secs(sr, 0.03))
        return g
    if surface == "gravel":
        m = secs(sr, rng.uniform(0.12, 0.2))
        env = adsr(m, sr, 0.01, 0.15)
        grains = one_pole_env(impulses(rng, m, sr, 1200, 1.0), sr, 0.0015) * white(rng, m)
        return bandpass(grains, sr, 700, 7000) * env * 1.5 + lowpass(white(rng, m), sr, 200) * adsr(m, sr, 0.003, 0.05) * 0.4
    if surface == "snow":
        m = secs(sr, rng.uniform(0.18, 0.3))
        env = adsr(m, sr, 0.04, 0.25)
        grains = one_pole_env(impulses(rng, m, sr, 2000, 0.7), sr, 0.003) * white(rng, m)
        return bandpass(grains, sr, 250, 2800) * env * 1.5
    # hard floor: concrete, stone, marble, tiles
    g = burst(rng, sr, 0.02, 1800, 9000, 0.0003, 0.012) * 0.8
    thud = modal(sr, 0.08, np.array([90, 140, 600]) * pitch, [0.05, 0.04, 0.02], [1.0, 0.5, 0.3], rng)
    place(thud, g, 0)
    return thud


def _footsteps(c: Ctx, surface: str) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    buf = np.zeros((2, n))
    period = 0.56 / p.speed
    t = rng.uniform(0.02, 0.15)
    side = 0
    while t < c.seconds:
        heel = highpass(_step(c, surface), sr, 30.0, 2)  # a thud's net area would add up to sub-audio drift
        position = pan(0.15 if side else -0.15) * rng.lognormal(0, 0.15)
        place(buf, heel, int(t * sr), position)
        if surface in ("wood", "concrete"):
            toe = highpass(_step(c, surface), sr, 30.0, 2)
            place(buf, toe * 0.35, int((t + rng.uniform(0.03, 0.06)) * sr), position)
        t += period * rng.uniform(0.92, 1.08)
        side ^= 1
    return buf + 0.002 * dsp.soft_noise(rng, n, sr, 1000, 2)


_STEP_WORDS = "footsteps footstep steps step walking walk walks walker pacing pace stride striding tread treading"

recipe("footsteps_wood", "bed", "footsteps", [
    "footsteps on a wooden floor",
    "someone walking across creaking floorboards",
    "steps on a wooden deck or stairs",
], _STEP_WORDS + " wood wooden floor floorboards boards plank planks deck stairs staircase creaky creaking "
   "hollow porch attic", room=0.2)(lambda c: _footsteps(c, "wood"))
recipe("footsteps_gravel", "bed", "footsteps", [
    "footsteps crunching on gravel",
    "walking on a stony path",
], _STEP_WORDS + " gravel crunch crunching stones stony pebble pebbles path driveway trail dirt grit",
)(lambda c: _footsteps(c, "gravel"))
recipe("footsteps_concrete", "bed", "footsteps", [
    "footsteps on a concrete floor",
    "heels clicking on a stone pavement",
    "shoes echoing down a tiled corridor",
], _STEP_WORDS + " concrete stone pavement sidewalk tile tiles tiled marble heel heels shoes boots hallway "
   "corridor clicking clack", room=0.3)(lambda c: _footsteps(c, "concrete"))
recipe("footsteps_snow", "bed", "footsteps", [
    "footsteps crunching through snow",
    "walking in deep fresh snow in winter",
], _STEP_WORDS + " snow snowy winter frozen powder trudge trudging slush crunch crunching icy")(
    lambda c: _footsteps(c, "snow"))


# ====================================================================================================
# domestic
# ====================================================================================================

@recipe("door_close", "oneshot", "domestic", [
    "a door slams shut",
    "someone closes a heavy door with a thud",
], "door slam slams slammed shut close closes closing closed thud bang latch entrance gate", room=0.25)
def _door_close(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    n = secs(sr, 1.2)
    pitch = c.size_pitch
    body = modal(sr, 1.2, np.array([68, 105, 160, 240, 410, 650]) * pitch, [0.35, 0.3, 0.22, 0.16, 0.1, 0.07],
                 [1.0, 0.8, 0.6, 0.4, 0.25, 0.15], rng)
    thump = lowpass(white(rng, n), sr, 400) * adsr(n, sr, 0.002, 0.08)
    out = body * (0.6 + 0.6 * p.intensity) + 0.6 * thump
    place(out, burst(rng, sr, 0.015, 2000, 7000, 0.0003, 0.01) * 0.5, 0)
    for k in range(rng.integers(2, 5)):
        place(out, burst(rng, sr, 0.01, 1500, 6000) * 0.15, secs(sr, 0.03 + 0.03 * k + rng.uniform(0, 0.02)))
    return out


def _knock(sr: int, rng: np.random.Generator, pitch: float, hard: float) -> np.ndarray:
    g = modal(sr, 0.25, rng.uniform(0.95, 1.05) * np.array([190, 310, 480, 760, 1180]) * pitch,
              [0.1, 0.08, 0.06, 0.05, 0.03], [1.0, 0.7, 0.5, 0.35, 0.2 + 0.3 * hard], rng)
    place(g, burst(rng, sr, 0.004, 1500, 6000) * (0.2 + 0.4 * hard), 0)
    return g


@recipe("door_knock", "oneshot", "domestic", [
    "knocking on a wooden door",
    "three knocks at the door",
], "knock knocks knocking knocked rap raps rapping tap tapping door wooden visitor", room=0.2)
def _door_knock(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    count = 2 if c.seconds < 0.8 else 3
    gap = 0.22 / p.speed
    out = np.zeros(secs(sr, count * gap + 0.4))
    for k in range(count):
        place(out, _knock(sr, rng, c.size_pitch, p.intensity) * rng.uniform(0.8, 1.0),
              secs(sr, k * gap * rng.uniform(0.9, 1.1)))
    return out


@recipe("door_creak", "oneshot", "domestic", [
    "a creaking door slowly opening",
    "the squeak of a rusty hinge",
], "creak creaking creaky squeak squeaking squeaky hinge hinges rusty groan groaning open opening opens door "
   "haunted slowly", room=0.2)
def _door_creak(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    length = float(np.clip(1.8 / p.speed, 0.6, 4.0))
    n = secs(sr, length)
    rate = (35 + 55 * np.clip(0.5 + 0.5 * smooth(rng, n, sr, 2.5), 0, 1.4)) * (1.0 + 0.5 * (1 - p.size))
    hits = _hit_train(rng, rate, sr, 0.5)
    pitch = c.size_pitch
    x = dsp.formants(hits, sr, np.array([420, 980, 1650, 2600]) * pitch, (1.0, 0.8, 0.5, 0.3), 12.0)
    x += 0.3 * resonator(hits, sr, 220 * pitch, 8)
    return x * dsp.fade(np.ones(n), sr, 0.15, 0.25)


@recipe("clock_tick", "bed", "domestic", [
    "a clock ticking",
    "tick tock of an old grandfather clock",
], "clock ticking tick tock ticktock pendulum grandfather timepiece watch time seconds mantel", room=0.15)
def _clock(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    pitch = c.size_pitch
    # a few slightly different strikes of each: escapements never click exactly alike
    ticks = [modal(sr, 0.08, np.array([2300, 3400, 5200]) * pitch * rng.uniform(0.99, 1.01), [0.03, 0.02, 0.015],
                   [1.0, 0.6, rng.uniform(0.2, 0.5)], rng) for _ in range(5)]
    tocks = [modal(sr, 0.08, np.array([1900, 2900, 4500]) * pitch * rng.uniform(0.99, 1.01), [0.035, 0.025, 0.015],
                   [1.0, 0.6, rng.uniform(0.2, 0.5)], rng) for _ in range(5)]
    buf = np.zeros((2, n))
    period = 1.0 / p.speed
    t = rng.uniform(0.01, 0.1)
    k = 0
    while t < c.seconds:
        g = (ticks if k % 2 == 0 else tocks)[rng.integers(5)]
        place(buf, g, int((t + rng.normal(0, 0.002)) * sr), pan(0.0) * rng.lognormal(0, 0.05))
        t += period
        k += 1
    return buf + 0.003 * dsp.soft_noise(rng, n, sr, 4000, 2)


@recipe("glass_break", "oneshot", "domestic", [
    "glass shattering",
    "a window smashing into pieces",
    "a bottle breaking on the floor",
], "glass break breaking broken shatter shattering shattered smash smashing window bottle shards crash "
   "pane vase", room=0.2)
def _glass_break(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    length = 2.0
    n = secs(sr, length)
    out = np.zeros(n)
    out += highpass(white(rng, n), sr, 2500) * adsr(n, sr, 0.001, 0.25) * 0.5
    out += lowpass(white(rng, n), sr, 300) * adsr(n, sr, 0.001, 0.05) * 0.3
    for _ in range(int(25 + 50 * p.intensity)):
        f = rng.uniform(2000, 9000) * c.size_pitch ** 0.5
        shard = modal(sr, 0.35, [f, f * rng.uniform(1.3, 2.4)], [rng.uniform(0.05, 0.3), 0.08], [1.0, 0.5], rng)
        place(out, shard * rng.uniform(0.1, 0.5), secs(sr, min(rng.exponential(0.25), 1.5)))
    return out


@recipe("glass_clink", "oneshot", "domestic", [
    "two glasses clinking together in a toast",
    "a wine glass chimes when tapped",
], "glass glasses clink clinking chink toast cheers wine champagne tap ting chime cup cutlery dishes", room=0.2)
def _glass_clink(c: Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    f1, f2 = rng.uniform(1200, 1700) * c.size_pitch, rng.uniform(1300, 1900) * c.size_pitch
    a = modal(sr, 1.6, [f1, f1 * 2.32, f1 * 4.25], [1.4, 0.8, 0.4], [1.0, 0.5, 0.25], rng)
    b = modal(sr, 1.6, [f2, f2 * 2.28, f2 * 4.3], [1.2, 0.7, 0.35], [0.9, 0.45, 0.2], rng)
    click = burst(rng, sr, 0.004, 3000, 9000) * 0.4
    out = a + b
    place(out, click, 0)
    return out


@recipe("kettle_whistle", "oneshot", "domestic", [
    "a kettle whistling as the water boils",
    "a steam whistle from a teapot on the stove",
], "kettle whistle whistling whistles teapot tea steam stove boil boiling kitchen hob", room=0.1)
def _kettle(c: Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    length = float(np.clip(c.seconds, 2.0, 15.0))
    n = secs(sr, length)
    u = np.linspace(0, 1, n)
    boil = dsp.rumble(rng, n, sr, 500) * np.minimum(1, u * 4) * 0.3
    onset = np.clip((u - 0.2) / 0.3, 0, 1) ** 2
    f = 1900.0 * c.size_pitch * (1 + 0.08 * onset + 0.01 * smooth(rng, n, sr, 5.0))
    tone = (np.sin(phase(f, sr)) + 0.5 * np.sin(phase(f * 1.015, sr))) * onset
    breath = bandpass(white(rng, n), sr, 1500 * c.size_pitch, 3500 * c.size_pitch) * onset * 0.2
    return dsp.fade(boil + 0.5 * tone + breath, sr, 0.05, 0.1)


@recipe("doorbell", "oneshot", "domestic", [
    "a doorbell ding dong",
    "the door chime rings as a visitor arrives",
], "doorbell bell ding dong dingdong chime chimes buzzer visitor front door ring", room=0.15)
def _doorbell(c: Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    out = np.zeros(secs(sr, 2.6))
    for k, f in enumerate((659.3 * c.size_pitch, 523.3 * c.size_pitch)):
        bar = modal(sr, 2.0, [f, f * 2.76, f * 5.4], [1.8, 0.8, 0.4], [1.0, 0.4, 0.2], rng)
        place(out, bar, secs(sr, 0.6 * k))
    return out


# ====================================================================================================
# machines
# ====================================================================================================

@recipe("car_engine", "bed", "machines", [
    "a car engine running and revving",
    "a motor idling, an engine rumble",
    "a motorcycle revving its engine",
    "an engine hums as it idles",
], "engine engines motor motorbike motorcycle rev revving revs idle idling ignition car vroom rumble exhaust "
   "start starting throttle accelerate accelerating", room=0.05)
def _engine(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    revs = np.clip(smooth(rng, n, sr, 0.3 * p.speed), 0, None) * (0.4 + 1.2 * p.intensity)
    rpm = 850.0 * (1 + revs + 0.01 * smooth(rng, n, sr, 4.0)) / c.size_pitch ** 0.5  # never a steady cycle
    firing = rpm / 60.0 * 2.0
    ph = phase(firing, sr)
    pulses = (0.5 + 0.5 * np.cos(ph)) ** 6
    body = lowpass(pulses + 0.3 * saw_fast(phase(firing * 0.5, sr)), sr, 900)
    body = body + 0.5 * resonator(body, sr, 140, 3)
    exhaust = bandpass(white(rng, n), sr, 80, 900) * (0.3 + pulses)
    mech = highpass(white(rng, n), sr, 2500) * 0.03 * (1 + revs)
    mono = body + 0.25 * exhaust + mech
    return dsp.stereo(mono - np.mean(mono), 0.3, sr=sr)


@recipe("hedge_trimmer", "bed", "machines", [
    "a hedge trimmer running",
    "a gardener cutting bushes with a buzzing power trimmer",
    "a chainsaw or lawnmower engine buzzing in the garden",
], "hedge trimmer trimming trim bush bushes shrubs hedges cutter cutting clipper clippers garden gardener "
   "gardening chainsaw lawnmower mower strimmer buzz buzzing two-stroke", room=0.05)
def _trimmer(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    load = np.clip(smooth(rng, n, sr, 0.6 * p.speed), -1, 1.5)
    f0 = 118.0 * (1 - 0.12 * np.clip(load, 0, None) + 0.006 * smooth(rng, n, sr, 5.0)) * (0.9 + 0.2 * p.intensity)
    ph = phase(f0, sr)
    motor = np.tanh(2.5 * (saw_fast(ph) + 0.5 * np.sign(np.sin(2 * ph))))
    motor = lowpass(motor, sr, 5000) * (1 + 0.35 * np.sin(TAU * 31.0 * t))
    cutting = bandpass(white(rng, n), sr, 2000, 7000) * (0.05 + np.clip(load, 0, None)) * 0.4
    return dsp.stereo(0.5 * motor + cutting, 0.3, sr=sr)


@recipe("drill", "bed", "machines", [
    "an electric drill whirring into a wall",
    "a power drill spinning up and boring holes",
], "drill drilling drills power tool electric whir whirring screw screwdriver bore boring construction "
   "workshop renovation diy", room=0.1)
def _drill(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    gate = np.zeros(n)
    t = 0.0 if c.seconds < 6 else rng.uniform(0, 0.5)
    while t < c.seconds:
        on = rng.uniform(1.5, 4.0)
        m = secs(sr, on)
        seg = dsp.fade(np.ones(m), sr, 0.25, 0.35)
        place(gate, seg, int(t * sr))
        t += on + rng.uniform(0.4, 1.5)
    spin = np.clip(gate, 0, 1)
    f = (60 + 340 * spin) * (1 + 0.03 * smooth(rng, n, sr, 3.0)) * c.size_pitch ** 0.5
    ph = phase(f, sr)
    whine = lowpass(saw_fast(ph), sr, 3500) * 0.4 + 0.3 * np.sin(2 * ph) + 0.15 * np.sin(4 * ph)
    grind = bandpass(white(rng, n), sr, 500, 4500) * (0.5 + 0.5 * np.sin(ph)) * (0.2 + 0.5 * p.intensity)
    mono = (whine + grind) * spin + 0.003 * white(rng, n)
    return dsp.stereo(mono, 0.2, sr=sr)


@recipe("siren", "bed", "machines", [
    "a police siren wailing",
    "an ambulance siren passing through the streets",
    "a fire engine with its siren on",
], "siren sirens wail wailing police ambulance fire engine emergency cop patrol nee naw", room=0.25)
def _siren(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    period = 4.5 / p.speed * (1 + 0.05 * smooth(rng, n, sr, 0.2))
    cyc = np.cumsum(1.0 / period) / sr + rng.random()
    f = (650 + 550 * (0.5 - 0.5 * np.cos(TAU * cyc))) * c.size_pitch ** 0.3
    x = lowpass(np.tanh(1.5 * saw_fast(phase(f, sr))), sr, 3000)
    amp = 1 + 0.1 * smooth(rng, n, sr, 0.3)
    return dsp.stereo(x * amp, 0.4, sr=sr) + 0.01 * dsp.rumble(rng, n, sr, 300, 2)


@recipe("beep", "oneshot", "electronic", [
    "a short electronic beep",
    "a microwave timer beeping three times",
    "a digital notification bleep",
], "beep beeps beeping bleep blip electronic digital timer microwave notification alert tone ping "
   "computer device machine signal")
def _beep(c: Ctx) -> np.ndarray:
    sr = c.sr
    count = 1 if c.seconds < 0.8 else 3
    f = 1000.0 * c.size_pitch
    on, off = 0.13, 0.12
    out = np.zeros(secs(sr, count * (on + off) + 0.05))
    for k in range(count):
        m = secs(sr, on)
        x = np.sin(TAU * f * np.arange(m) / sr) + 0.1 * np.sin(TAU * 2 * f * np.arange(m) / sr)
        place(out, dsp.fade(x, sr, 0.004, 0.01), secs(sr, k * (on + off)))
    return out


@recipe("alarm_bell", "bed", "machines", [
    "an alarm bell ringing loudly",
    "a fire alarm going off in a building",
    "an old alarm clock rings",
], "alarm alarms bell ringing ring rings fire school clanging clang emergency buzzer alarm-clock wake "
   "burglar", room=0.2)
def _alarm(c: Ctx) -> np.ndarray:
    n, sr, rng = c.n, c.sr, c.rng
    rate = rng.uniform(17, 23)
    jitter = 1 + 0.03 * smooth(rng, n, sr, 0.5)
    hits = _hit_train(rng, rate * jitter, sr, 0.8)
    f = 2100.0 * c.size_pitch
    x = sum(resonator(hits, sr, f * r, 90) * a for r, a in ((1.0, 1.0), (1.38, 0.7), (2.14, 0.5), (2.81, 0.3)))
    x += highpass(one_pole_env(hits, sr, 0.002) * white(rng, n), sr, 3000) * 0.05
    return dsp.stereo(x, 0.3, sr=sr)


# ====================================================================================================
# transitions
# ====================================================================================================

@recipe("whoosh", "oneshot", "transition", [
    "a swoosh transition",
    "a fast whoosh of air as something flies past",
    "a swish sweeping by",
], "whoosh swoosh swish swoop woosh transition pass passing fly flies flying past by sweep swipe zip "
   "wind-rush", room=0.1)
def _whoosh(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    length = min(0.9 / p.speed * (0.6 + 0.8 * p.size), max(0.05, c.seconds))  # a transition fits its slot
    n = secs(sr, length)
    u = np.linspace(0, 1, n)
    peak = rng.uniform(0.5, 0.65)
    shape = np.where(u < peak, (u / peak) ** 2.5, np.exp(-5 * (u - peak) / (1 - peak)))
    fc = 250 + 2600 * shape * c.size_pitch
    x = dsp.tv_bandpass(pink(rng, n, 2, sr), sr, fc, 1.2) * shape
    ang = (np.clip(2 * u - 1, -1, 1) * (1 if rng.random() < 0.5 else -1) + 1) * np.pi / 4
    return np.vstack([x[0] * np.cos(ang), x[1] * np.sin(ang)]) * np.sqrt(2)


@recipe("riser", "oneshot", "transition", [
    "a rising tension riser building up",
    "an upward sweep building suspense before a drop",
], "riser rise rising build building buildup build-up tension suspense crescendo upward ascending sweep "
   "uplifter anticipation climax", room=0.2)
def _riser(c: Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    length = float(np.clip(c.seconds * 0.95, 0.05, 12.0))
    n = secs(sr, length)
    u = np.linspace(0, 1, n)
    fc = 200 * (30.0 ** u)
    noise = dsp.tv_bandpass(white(rng, n, 2), sr, fc, 2.0)
    f = 80 * (8.0 ** u)
    tone = lowpass(saw_fast(phase(f, sr)) + saw_fast(phase(f * 1.007, sr)), sr, 4000) * 0.3
    return dsp.fade((noise + tone) * u ** 2, sr, 0.01, 0.03)


@recipe("impact", "oneshot", "transition", [
    "a heavy cinematic impact hit",
    "a loud thud of something hitting the ground",
    "a punch or strike, a hit",
], "impact hit hits strike struck thud thump slam punch crash collide collision bang smash cinematic trailer "
   "drop land landing", room=0.35)
def _impact(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    n = secs(sr, 2.2 + p.size)
    pitch = c.size_pitch
    sub = np.sin(sweep(n, sr, 120 * pitch, 38 * pitch)) * adsr(n, sr, 0.002, 0.8 + 0.6 * p.size)
    crack = bandpass(white(rng, n), sr, 300, 8000) * adsr(n, sr, 0.0005, 0.06 + 0.1 * p.intensity)
    body = modal(sr, n / sr, np.array([90, 143, 231, 377]) * pitch, [0.6, 0.45, 0.3, 0.2], [1.0, 0.6, 0.4, 0.3], rng)
    return 1.0 * sub + 0.6 * crack + 0.5 * body


@recipe("boom", "oneshot", "transition", [
    "a deep boom",
    "a low cinematic sub drop rumble",
], "boom booming sub drop bass deep low rumble braam cinematic trailer thunderous", room=0.3)
def _boom(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    n = secs(sr, 4.0 + 2.0 * p.size)
    pitch = c.size_pitch
    sub = np.sin(sweep(n, sr, 75 * pitch, 26 * pitch)) * adsr(n, sr, 0.005, 2.5 + p.size)
    rumble = dsp.rumble(rng, n, sr, 160) * adsr(n, sr, 0.01, 3.0)
    thump = bandpass(white(rng, n), sr, 40, 900) * adsr(n, sr, 0.001, 0.08)
    return sub + 0.5 * rumble + 0.4 * thump


@recipe("explosion", "oneshot", "transition", [
    "an explosion blast",
    "a bomb detonating with debris falling",
], "explosion explode explodes exploding blast bomb detonation detonate grenade dynamite kaboom burst "
   "debris war blow", room=0.3)
def _explosion(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    n = secs(sr, 4.0 + 2.0 * p.size)
    blast = bandpass(white(rng, n, 2), sr, 40, 3000 - 1500 * p.size) * adsr(n, sr, 0.003, 1.2 + p.size)
    rumble = dsp.rumble(rng, n, sr, 150, 2) * adsr(n, sr, 0.02, 3.5)
    debris = bandpass(one_pole_env(impulses(rng, n, sr, 40, 1.0, 2), sr, 0.006) * white(rng, n, 2), sr, 1000, 7000)
    debris *= np.clip(np.arange(n) / sr - 0.3, 0, None) * adsr(n, sr, 0.5, 3.0)
    sub = np.sin(sweep(n, sr, 60, 25)) * adsr(n, sr, 0.005, 2.0)
    return blast + 1.5 * rumble + 0.4 * debris + _st(sub)


# ====================================================================================================
# sci-fi
# ====================================================================================================

@recipe("laser", "oneshot", "scifi", [
    "a laser gun firing, pew pew",
    "a sci-fi ray gun zap",
], "laser lasers pew zap blaster raygun ray phaser beam shot shoot shooting fire firing sci-fi scifi space", room=0.15)
def _laser(c: Ctx) -> np.ndarray:
    sr, p = c.sr, c.p
    shots = 1 if c.seconds < 1.0 else (2 if c.seconds < 2.0 else 3)
    gap = 0.35 / p.speed
    out = np.zeros(secs(sr, shots * gap + 0.4))
    for k in range(shots):
        length = 0.25 / p.speed * (0.7 + 0.6 * p.size)
        m = secs(sr, length)
        ph = sweep(m, sr, 2800 * c.size_pitch, 220 * c.size_pitch)
        x = np.sin(ph + 2.0 * np.sin(1.5 * ph)) + 0.3 * np.sign(np.sin(ph))
        place(out, lowpass(x, sr, 9000) * adsr(m, sr, 0.002, length), secs(sr, k * gap))
    return out


@recipe("scifi_hum", "bed", "scifi", [
    "the hum of a spaceship reactor",
    "a sci-fi drone, a humming reactor on a starship",
    "a futuristic machine room hum",
], "spaceship starship spacecraft ship engine reactor hum humming drone sci-fi scifi futuristic space "
   "bridge alien ufo hover engine-room")
def _scifi_hum(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    f0 = 55.0 * c.size_pitch
    drift = 1 + 0.003 * smooth(rng, n, sr, 0.1)
    sawmix = saw_fast(phase(f0 * drift, sr)) + saw_fast(phase(f0 * 1.004 * drift, sr)) + 0.5 * saw_fast(phase(f0 * 2.01, sr))
    sweepf = 250 + 200 * (1 + smooth(rng, n, sr, 0.08))
    tone = dsp.tv_bandpass(sawmix, sr, sweepf, 0.7) + 0.6 * np.sin(phase(f0 * drift, sr))
    shimmer = resonator(pink(rng, n, None, sr), sr, 1800, 25) * 0.5 * (1 + 0.5 * smooth(rng, n, sr, 0.3))
    mono = tone + shimmer + 0.2 * lowpass(pink(rng, n, None, sr), sr, 600) * (0.5 + p.intensity)
    return dsp.stereo(mono, 0.6, sr=sr)


@recipe("teleport", "oneshot", "scifi", [
    "a teleport effect, materializing with a shimmer",
    "a magic sparkle and energy transporter sound",
], "teleport teleporting teleportation transporter beam materialize materialise dematerialize warp portal "
   "magic magical sparkle shimmer spell energy", room=0.3)
def _teleport(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    length = 2.0 / p.speed
    n = secs(sr, length)
    u = np.linspace(0, 1, n)
    trem = 0.6 + 0.4 * np.sin(TAU * rng.uniform(12, 18) * u * length)
    out = np.zeros(n)
    for _ in range(12):
        f0, f1 = rng.uniform(250, 900), rng.uniform(1500, 4500)
        out += np.sin(sweep(n, sr, f0, f1)) * rng.uniform(0.3, 1.0)
    noise = dsp.tv_bandpass(white(rng, n), sr, 500 * 12 ** u, 3.0) * 0.5
    env = np.sin(np.pi * u) ** 1.5
    return (out * 0.15 * trem + noise) * env


# ====================================================================================================
# crowd reactions
# ====================================================================================================

def _clap(sr: int, rng: np.random.Generator) -> np.ndarray:
    lo = rng.uniform(500, 1400)
    return burst(rng, sr, 0.03, lo, lo * rng.uniform(2.5, 5.0), 0.0005, rng.uniform(0.012, 0.03))


@recipe("applause", "bed", "crowd", [
    "an audience applauding",
    "people clapping their hands after a show",
], "applause applaud applauding clap claps clapping hands audience ovation standing bravo theatre "
   "concert show", room=0.3)
def _applause(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    pool = _pool(lambda k: _clap(sr, rng), 32)
    buf = np.zeros((2, n))
    for _ in range(8 + int(40 * p.intensity)):
        rate = rng.uniform(3.0, 5.5) * p.speed
        position = pan(rng.uniform(-0.9, 0.9))
        g = pool[rng.integers(len(pool))]
        level = rng.lognormal(0, 0.4)
        t = rng.uniform(0, 0.3)
        while t < c.seconds:
            place(buf, g, int(t * sr), position * level * rng.uniform(0.7, 1.0))
            t += rng.normal(1.0 / rate, 0.08 / rate)
    return buf


@recipe("laughter", "oneshot", "crowd", [
    "people laughing",
    "a group laughs at a joke, ha ha ha",
    "giggling and chuckling",
], "laugh laughs laughing laughter giggle giggling chuckle chuckling haha ha joke funny amused guffaw "
   "cackle snicker", room=0.2)
def _laughter(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    length = float(np.clip(c.seconds, 1.5, 5.0))
    n = secs(sr, length)
    out = np.zeros((2, n))
    for _ in range(1 + int(3 * p.intensity)):
        f_start = rng.choice([rng.uniform(110, 160), rng.uniform(200, 320)])
        t = rng.uniform(0, 0.4)
        syllables = rng.integers(5, 11)
        position = pan(rng.uniform(-0.6, 0.6))
        for k in range(syllables):
            dur = rng.uniform(0.09, 0.14)
            m = secs(sr, dur)
            f0 = np.full(m, f_start * (1.15 - 0.3 * k / syllables) * rng.uniform(0.97, 1.03))
            x = _voiced(sr, rng, f0, (800, 1250, 2700), (1.0, 0.6, 0.3), 5.0, 0.5)
            x *= adsr(m, sr, 0.015, dur * 1.2)
            h = bandpass(white(rng, secs(sr, 0.04)), sr, 600, 3500) * 0.08
            place(out, h, int(t * sr), position)
            place(out, x, int((t + 0.03) * sr), position * rng.uniform(0.6, 1.0))
            t += rng.uniform(0.17, 0.24)
            if t > length - 0.3:
                break
    return out


@recipe("cheering", "bed", "crowd", [
    "a crowd cheering and shouting",
    "fans roaring at a stadium after a goal",
    "people cheer hooray and whistle",
], "cheer cheers cheering hooray hurrah yay yell yelling shout shouting roar roaring crowd fans stadium "
   "celebrate celebration goal victory whoop whistle", room=0.3)
def _cheering(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    voices = _babble(c, 14 + int(20 * p.intensity), 0.3, excited=0.6)
    roar = bandpass(pink(rng, n, 2, sr), sr, 300, 3000) * (1 + 0.3 * smooth(rng, n, sr, 0.5))
    claps = _applause(c) * 0.3
    whistles = np.zeros((2, n))
    for t in _ensure_first(poisson_times(rng, 0.4, c.seconds), c, 1.0):
        m = secs(sr, rng.uniform(0.3, 0.8))
        f = rng.uniform(1800, 3000) * (1 + 0.15 * np.sin(np.linspace(0, np.pi, m)))
        place(whistles, np.sin(phase(f, sr)) * np.sin(np.linspace(0, np.pi, m)), int(t * sr), pan(rng.uniform(-.8, .8)))
    v = voices / (dsp.rms(voices) + 1e-9)
    return 0.6 * v + 0.25 * roar / (dsp.rms(roar) + 1e-9) + claps / (dsp.rms(claps) + 1e-9) * 0.3 + 0.15 * whistles


# ====================================================================================================
# body and misc
# ====================================================================================================

@recipe("heartbeat", "bed", "body", [
    "a heartbeat thumping",
    "a heart pounding, lub dub",
], "heart heartbeat heartbeats pulse pounding throb throbbing thump lub dub beat beating chest nervous "
   "tension", room=0.0)
def _heartbeat(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    bpm = (60 + 60 * p.intensity) * p.speed
    period = 60.0 / bpm
    pitch = c.size_pitch
    buf = np.zeros(n)
    t = rng.uniform(0.02, 0.1)
    while t < c.seconds:
        # each beat its own: pitch, strength and the lub-dub gap wander a little, as a real heart's do
        dub = 0.28 * period ** 0.5 + rng.uniform(-0.012, 0.012)
        for offs, f, a, d in ((0.0, 55, 1.0, 0.12), (dub, 68, rng.uniform(0.45, 0.75), 0.09)):
            m = secs(sr, d * 1.5)
            f1 = f * pitch * rng.uniform(0.92, 1.08)
            g = np.sin(sweep(m, sr, f1 * rng.uniform(1.2, 1.4), f1)) * adsr(m, sr, rng.uniform(0.008, 0.015), d)
            place(buf, g * a * rng.uniform(0.85, 1.0), int((t + offs) * sr))
        t += period * rng.uniform(0.96, 1.04)
    murmur = dsp.rumble(rng, n, sr, 200) * (1 + 0.5 * smooth(rng, n, sr, 1.5))  # blood flow, felt more than heard
    return _st(buf + 0.04 * murmur)


@recipe("helicopter", "bed", "machines", [
    "a helicopter flying overhead",
    "the chop of rotor blades",
], "helicopter chopper rotor rotors blades chop whirlybird aircraft flying overhead", room=0.05)
def _helicopter(c: Ctx) -> np.ndarray:
    n, sr, rng = c.n, c.sr, c.rng
    rate = 5.5 * c.size_pitch * (1 + 0.02 * smooth(rng, n, sr, 0.2))
    ph = phase(rate, sr)
    chop = (0.5 + 0.5 * np.cos(ph)) ** 12
    blades = highpass(bandpass(white(rng, n, 2), sr, 60, 1200) * chop, sr, 35)
    turbine = np.sin(phase(np.full(n, 1700.0), sr)) * 0.02 + highpass(white(rng, n), sr, 4000) * 0.02
    return blades + 0.3 * dsp.rumble(rng, n, sr, 120, 2) + _st(turbine)


@recipe("train", "bed", "machines", [
    "a train passing on the railway tracks, clickety-clack",
    "a steam train rumbling along the rails",
], "train trains railway railroad rail rails track tracks locomotive carriage subway metro tram clickety "
   "clack station steam", room=0.05)
def _train(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    rumble = dsp.rumble(rng, n, sr, 300, 2) + 0.3 * bandpass(pink(rng, n, 2, sr), sr, 300, 2500)
    rumble *= 1 + 0.15 * smooth(rng, n, sr, 0.3)
    buf = np.zeros((2, n))
    def make_clack(k: int) -> np.ndarray:
        g = modal(sr, 0.15, rng.uniform(300, 900, 3), [0.08, 0.06, 0.04], [1, .6, .3], rng)
        place(g, burst(rng, sr, 0.02, 1000, 5000) * 0.5, 0)
        return g

    clack = _pool(make_clack, 6)
    period = 1.1 / p.speed * (0.8 + 0.4 * p.size)
    t = rng.uniform(0, 0.3)
    while t < c.seconds:
        for off in (0.0, 0.12):
            place(buf, clack[rng.integers(6)], int((t + off) * sr), pan(rng.uniform(-.2, .2)) * rng.uniform(0.6, 1.0))
        t += period * rng.uniform(0.95, 1.05)
    return 0.6 * rumble + 0.5 * buf


@recipe("gunshot", "oneshot", "transition", [
    "a gunshot echoing",
    "a pistol shot, a rifle firing",
], "gun gunshot gunshots gunfire shot shots shoot shooting pistol rifle revolver firearm bullet "
   "firing bang crack sniper", room=0.35)
def _gunshot(c: Ctx) -> np.ndarray:
    sr, rng, p = c.sr, c.rng, c.p
    shots = 1 if c.seconds < 1.5 else int(rng.integers(2, 4))
    out = np.zeros(secs(sr, shots * 0.5 + 1.2))
    for k in range(shots):
        n = secs(sr, 1.0)
        crack = highpass(white(rng, n), sr, 1000) * adsr(n, sr, 0.0003, 0.03)
        body = bandpass(white(rng, n), sr, 150, 2500, 2) * adsr(n, sr, 0.001, 0.25 + 0.2 * p.size)
        thump = np.sin(sweep(n, sr, 160 * c.size_pitch, 60 * c.size_pitch)) * adsr(n, sr, 0.001, 0.12)
        place(out, crack + 0.8 * body + 0.6 * thump, secs(sr, k * rng.uniform(0.35, 0.6)))
    return out


@recipe("horse_gallop", "bed", "nature", [
    "a horse galloping",
    "hooves clip-clop, a horse trotting along a road",
], "horse horses gallop galloping hoof hooves clip-clop clop trot trotting canter rider riding cavalry "
   "pony stallion carriage", room=0.1)
def _horse(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    buf = np.zeros((2, n))
    gallop = p.speed >= 1.0 and p.intensity >= 0.3
    period = (0.55 if gallop else 0.7) / p.speed
    beats = (0.0, 0.09, 0.19) if gallop else (0.0, period / 2)
    t = rng.uniform(0.02, 0.1)
    while t < c.seconds:
        for b in beats:
            hoof = modal(sr, 0.12, rng.uniform(0.9, 1.1) * np.array([160, 280, 450]) * c.size_pitch,
                         [0.05, 0.04, 0.03], [1.0, 0.6, 0.4], rng)
            place(hoof, burst(rng, sr, 0.01, 800, 4000) * 0.5, 0)
            place(buf, highpass(hoof, sr, 30.0, 2), int((t + b) * sr), pan(rng.uniform(-0.2, 0.2)) * rng.uniform(0.7, 1.0))
        t += period * rng.uniform(0.95, 1.05)
    return buf + 0.003 * dsp.soft_noise(rng, n, sr, 3000, 2)


@recipe("cat_meow", "oneshot", "nature", [
    "a cat meowing",
    "a kitten mews, meow",
], "cat cats meow meowing mew mewing kitten kitty purr feline miaow", room=0.1)
def _cat(c: Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    dur = rng.uniform(0.6, 0.9)
    m = secs(sr, dur)
    u = np.linspace(0, 1, m)
    pitch = c.size_pitch
    f0 = 520 * pitch * (1 + 0.45 * np.sin(np.pi * np.minimum(u * 1.3, 1.0)) - 0.2 * u)
    src = saw(phase(f0, sr), 12) + 0.1 * white(rng, m)
    f1 = (400 + 600 * np.sin(np.pi * u)) * pitch ** 0.5  # "m-ee-ow": the mouth opens then closes
    x = dsp.tv_bandpass(src, sr, f1, 4.0) + 0.6 * dsp.tv_bandpass(src, sr, 2.2 * f1, 5.0)
    return x * np.sin(np.pi * u) ** 0.7


@recipe("airplane", "bed", "machines", [
    "an airplane flying overhead, a jet engine roar",
    "the cabin drone inside a plane in flight",
], "airplane aeroplane plane jet jets aircraft airliner flight flying overhead cabin takeoff take-off "
   "airport runway engine roar propeller", room=0.05)
def _airplane(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    swell = np.clip(0.7 + 0.3 * smooth(rng, n, sr, 0.05 * p.speed), 0.2, 1.2)
    roar = lowpass(pink(rng, n, 2, sr), sr, 1500 + 1500 * p.intensity) * swell
    rumble = dsp.rumble(rng, n, sr, 120, 2) * swell
    whine = np.sin(phase(np.full(n, 3800.0 * c.size_pitch) * (1 + 0.01 * smooth(rng, n, sr, 0.2)), sr)) * 0.03
    return roar + 0.5 * rumble + _st(whine * swell)


@recipe("sword_clash", "oneshot", "transition", [
    "swords clashing, metal on metal",
    "a blade is drawn with a metallic ring",
], "sword swords blade blades clash clashing clang metal metallic steel knife dagger duel fencing unsheathe "
   "unsheathed drawn scrape ring", room=0.25)
def _sword(c: Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    n = secs(sr, 1.8)
    f = rng.uniform(900, 1300) * c.size_pitch
    ring = modal(sr, 1.8, [f, f * 2.76, f * 3.9, f * 5.4, f * 7.1], [1.2, 0.9, 0.7, 0.5, 0.35],
                 [1.0, 0.7, 0.5, 0.4, 0.3], rng)
    hit = burst(rng, sr, 0.02, 2000, 9000) * 0.6
    scrape = bandpass(white(rng, n), sr, 2500, 8000, 2) * adsr(n, sr, 0.01, 0.3) * 0.3
    out = ring + scrape
    place(out, hit, 0)
    return out


@recipe("paper_rustle", "bed", "domestic", [
    "paper rustling, pages turning",
    "someone leafing through a book and shuffling papers",
], "paper papers page pages rustle rustling rustles turn turning leafing book books newspaper document "
   "shuffle shuffling crumple crumpling crinkle letter envelope", room=0.1)
def _paper(c: Ctx) -> np.ndarray:
    n, sr, rng, p = c.n, c.sr, c.rng, c.p
    gate = np.zeros(n)
    t = rng.uniform(0.0, 0.2)
    while t < c.seconds:
        d = rng.uniform(0.25, 0.8)
        place(gate, np.sin(np.linspace(0, np.pi, secs(sr, d))) ** 2, int(t * sr))
        t += d + rng.exponential(0.8) / p.speed
    crinkle = one_pole_env(impulses(rng, n, sr, 1500, 1.2, 2), sr, 0.001) * white(rng, n, 2)
    swish = bandpass(white(rng, n, 2), sr, 800, 6000, 1) * 0.15
    room = dsp.soft_noise(rng, n, sr, 4000, 2) * 0.03  # the quiet room between the pages
    return bandpass(crinkle + swish, sr, 700, 9000) * gate + room


@recipe("room_tone", "bed", "ambience", [
    "quiet room tone, a faint background ambience",
    "the silence of an empty room with soft air noise",
], "room tone ambience ambient background quiet silence silent empty still calm interior indoor "
   "atmosphere presence")
def _room_tone(c: Ctx) -> np.ndarray:
    n, sr, rng = c.n, c.sr, c.rng
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    return (0.6 * dsp.rumble(rng, n, sr, 400, 2) + 0.15 * lowpass(pink(rng, n, 2, sr), sr, 3000)
            + 0.01 * np.sin(TAU * 100 * t))


# ====================================================================================================
# combinations
# ====================================================================================================

combo("storm", "weather", [
    "a thunderstorm with heavy rain, wind and thunder",
    "a violent storm raging outside",
], "storm stormy thunderstorm tempest squall rainstorm raging weather cyclone typhoon hurricane",
    Layer("rain", 1.0, intensity=0.25), Layer("wind", 0.7, intensity=0.2), Layer("thunder", 0.9, distance=0.2))
combo("office", "office", [
    "busy office background noise with typing and people talking",
    "an open-plan workplace with computers and colleagues",
], "office offices workplace open-plan coworking newsroom cubicle cubicles agency company engineering "
   "colleagues coworkers staff busy work working bureau",
    Layer("air_conditioning", 0.6), Layer("keyboard_typing", 0.6, distance=0.3),
    Layer("crowd_murmur", 0.5, intensity=-0.3, distance=0.4))
combo("city_street", "city", [
    "a busy city street with traffic, horns and pedestrians",
    "downtown ambience with cars and people",
], "city street downtown urban town centre center sidewalk pedestrians metropolis square",
    Layer("traffic", 1.0), Layer("crowd_murmur", 0.5, distance=0.3), Layer("car_horn", 0.5, distance=0.4))
combo("forest", "nature", [
    "a forest ambience with birds and a light breeze in the trees",
    "a peaceful woodland morning",
], "forest woods woodland wood trees jungle grove glade countryside outdoors nature wilderness",
    Layer("birds", 1.0), Layer("wind", 0.35, intensity=-0.3, distance=0.3))
combo("harbor", "water", [
    "a harbour with water lapping against the boats and wind",
    "a port with waves against the pier and seagulls",
], "harbor harbour port marina dock docks quay wharf pier boats boat ship jetty seagull seagulls gulls",
    Layer("ocean_waves", 1.0, intensity=-0.2), Layer("wind", 0.5, intensity=-0.2), Layer("birds", 0.25, distance=0.5))
combo("beach", "water", [
    "a beach with waves rolling in and a sea breeze",
], "beach seaside coast sand sandy shore holiday", Layer("ocean_waves", 1.0), Layer("wind", 0.35, intensity=-0.3))
combo("night", "nature", [
    "a quiet night in the countryside with crickets and an owl",
], "night nighttime midnight nocturnal evening dark countryside", Layer("crickets", 1.0),
    Layer("owl", 0.5, distance=0.4))
combo("campfire", "fire", [
    "a campfire crackling at night under the stars",
], "campfire bonfire camp camping", Layer("fire", 1.0), Layer("crickets", 0.3, distance=0.4))
combo("cafe", "crowd", [
    "a cafe with people chatting and cups clinking",
    "a busy restaurant with diners and cutlery",
], "cafe coffee shop restaurant diner bistro canteen cafeteria brunch diners dinner cutlery tavern",
    Layer("crowd_murmur", 1.0), Layer("glass_clink", 0.4, distance=0.4))
combo("stadium", "crowd", [
    "a stadium crowd cheering and applauding",
], "stadium arena match game sports fans concert", Layer("cheering", 1.0), Layer("applause", 0.5))
combo("blizzard", "weather", [
    "a blizzard with howling wind and snow",
], "blizzard snowstorm whiteout arctic polar freezing", Layer("wind", 1.0, intensity=0.4))


# ====================================================================================================
# rendering one recipe into a layer
# ====================================================================================================

def level_gain(intensity: float) -> float:
    """+-6 dB around the middle for light..heavy."""
    return float(10 ** ((intensity - 0.5) * 12 / 20))


def render_event(r: Recipe, sr: int, seconds: float, p: Params, rng: np.random.Generator,
                 background: bool = False,
                 post: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """One recipe's sound, calibrated in level, stereo float32. A bed fills exactly ``round(seconds*sr)``
    samples. A one-shot is its event after a 10 ms lead, at the event's natural length (``seconds`` is a
    hint), or, in a long background span, events recurring at random through ``seconds``; ``post(event)``
    (room and distance) is applied to each event before it is placed, so sparse events are not processed as
    minutes of silence."""
    n = max(1, round(float(seconds * sr)))
    if r.kind == "bed":
        x = _st(np.asarray(r.fn(Ctx(sr, n, rng, p, background)), dtype=np.float32))
        if x.shape[1] != n:
            raise ValueError(f"the bed recipe {r.name!r} returned {x.shape[1]} samples for {n}: a bed fills "
                             "exactly Ctx.n")
        x = x - x.mean(axis=1, keepdims=True)
        # RMS sets the level of dense beds; sparse ones (steps, ticks) are held to a peak instead
        r_, pk = dsp.rms(x), float(np.max(np.abs(x)))
        if r_ > 1e-12:
            x = x * min(0.1 / r_, 0.7 / pk) * level_gain(p.intensity)
        # a bed swells in and dies away over its span: its own start and end, whatever the slot
        return dsp.fade(x, sr, min(0.03, seconds / 8), min(0.05, seconds / 8))

    def one(sub: np.random.Generator, hint: float) -> np.ndarray:
        e = _st(np.asarray(r.fn(Ctx(sr, max(1, round(float(hint * sr))), sub, p, background)), dtype=np.float32))
        e = highpass(e, sr, 20.0, 1) if e.shape[1] > 16 else e  # no DC in the event, so none in its silence
        return dsp.normalise_peak(e, 0.5 * level_gain(p.intensity))

    first = one(rng, seconds)
    natural = first.shape[1] / sr
    events: list[tuple[int, np.ndarray]] = []  # (sample, sound)
    if background and seconds > 2.5 * natural and seconds > 6.0:
        t = rng.uniform(0.2, min(6.0, seconds / 4))
        k = 0
        while t < seconds:
            ev = first if k == 0 else one(np.random.default_rng(rng.integers(2 ** 63)), min(natural, 4.0))
            events.append((int(t * sr), (post(ev) if post else ev) * rng.uniform(0.5, 1.0)))
            t += ev.shape[1] / sr + rng.exponential(max(4.0, 2.5 * natural)) / (0.5 + p.intensity) / p.speed
            k += 1
    else:
        events.append((secs(sr, 0.01), post(first) if post else first))
    out = np.zeros((2, max(at + e.shape[1] for at, e in events)), dtype=np.float32)
    for at, e in events:
        place(out, e, at)
    return out


#: beds longer than CHUNK + 15 s are made of independent CHUNK-second renders joined by OVERLAP-second
#: equal-power crossfades: memory stays bounded for beds of many minutes, and nothing repeats
CHUNK = 60.0
OVERLAP = 2.0


def render_recipe(r: Recipe, sr: int, seconds: float, p: Params, rng: np.random.Generator,
                  background: bool = False) -> np.ndarray:
    """A recipe with its room and distance applied, stereo float32: a bed of ``round(seconds*sr)`` samples
    and then its reverb ringing out, or a one-shot at its natural length with its reverb (see
    :func:`render_event`)."""
    p = p.clamp()
    n = max(1, round(float(seconds * sr)))
    if r.kind != "bed" or seconds <= CHUNK + 15.0:
        return _render_piece(r, sr, n, p, rng, background)
    step, ov = secs(sr, CHUNK), secs(sr, OVERLAP)
    count = -(-(n - ov) // step)
    out = np.zeros((2, n + _room(r, p, sr).ring), dtype=np.float32)
    ramp = np.sin(np.linspace(0.0, np.pi / 2, ov, dtype=np.float32))
    for i in range(count):
        last = i == count - 1
        start = i * step
        end = n if last else start + step + ov
        piece = _render_piece(r, sr, end - start, p, np.random.default_rng(rng.integers(2 ** 63)), background,
                              ring_out=last)  # the joins are crossfaded: only the end rings out
        if i > 0:
            piece[:, :ov] *= ramp
        if not last:
            piece[:, -ov:] *= ramp[::-1]
        out[:, start:start + piece.shape[1]] += piece
    return out


@dataclass(frozen=True)
class _Room:
    """The space a recipe sounds in: reverb send ``wet`` with decay ``t60`` (seconds), and ``ring``, the
    samples its reverb rings on after the sound (none when dry)."""

    wet: float
    t60: float
    ring: int


def _room(r: Recipe, p: Params, sr: int) -> _Room:
    wet = float(np.clip(r.room + p.room + 0.35 * p.distance, 0, 0.9))
    t60 = 0.4 + 2.2 * max(p.room, r.room, 0.3 * p.distance) + 0.5 * p.size
    return _Room(wet, t60, secs(sr, t60 + 0.1) if wet > 0.02 else 0)


def _render_piece(r: Recipe, sr: int, n: int, p: Params, rng: np.random.Generator, background: bool,
                  ring_out: bool = True) -> np.ndarray:
    room = _room(r, p, sr)
    ir_seed = int(rng.integers(2 ** 63))  # one room for every event of the layer

    def space(x: np.ndarray) -> np.ndarray:
        if ring_out and room.ring:  # the reverb rings out after the sound
            x = np.pad(x, ((0, 0), (0, room.ring)))
        if room.wet > 0.02:
            x = dsp.reverb(x, sr, np.random.default_rng(ir_seed), t60=room.t60, wet=room.wet)
        return np.asarray(dsp.distance_filter(x, sr, p.distance), dtype=np.float32)

    if r.kind == "bed":
        return space(render_event(r, sr, n / sr, p, rng, background))
    return render_event(r, sr, n / sr, p, rng, background, post=space)


def with_offsets(p: Params, layer: Layer) -> Params:
    return replace(p, intensity=p.intensity + layer.intensity, distance=p.distance + layer.distance,
                   size=p.size + layer.size).clamp()


__all__ = [
    "COMBOS",
    "RECIPES",
    "Combo",
    "Ctx",
    "Layer",
    "Params",
    "Recipe",
    "level_gain",
    "render_event",
    "render_recipe",
    "with_offsets",
]
