"""Note events to stereo audio with a General MIDI SoundFont (TinySoundFont), plus pan, reverb and ending.

TinySoundFont renders sample-accurately: the event list is played by rendering exactly the samples between
one event and the next. Each part sits on its own MIDI channel with its pan (CC10) and volume (CC7). A
synthetic stereo room (exponentially decaying, low-passed noise with a few early reflections) adds reverb by
FFT convolution. Rates TinySoundFont handles well are rendered natively; others are rendered at 48 kHz and
the core resamples the clip (it owns every clip's final rate and length).
"""

from __future__ import annotations

import math
import os
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import BackendUnavailableError
from .compose import Composition
from .plan import MusicPlan

#: Where Debian (and most Linux distributions) put General MIDI SoundFonts, best first.
SOUNDFONT_CANDIDATES = [
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # apt: fluid-soundfont-gm
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",  # apt: musescore-general-soundfont(-small)
    "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",  # apt: timgm6mb-soundfont
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
]
APT_HINT = ("install a General MIDI SoundFont: `apt-get install fluid-soundfont-gm` (or the small "
            "`timgm6mb-soundfont`), or point the option at one: --set composer.soundfont=/path/to/file.sf2")
NATIVE_RATES = (32000, 44100, 48000, 88200, 96000)
#: Samples per block of the final high-pass (a block's copy is 8 MB of stereo float32).
_FILTER_BLOCK = 1 << 20
ROLE_GAIN = {"bass": 0.8, "chords": 0.8, "pad": 0.65, "lead": 0.85, "drums": 0.6, "perc": 0.65}


def find_soundfont(option: str | None = None) -> str:
    """The SoundFont to use: the option, $STORYAUDIO_SOUNDFONT, or the first installed GM font."""
    if option:
        p = Path(option).expanduser()
        if not p.is_file():
            raise BackendUnavailableError(f"composer: SoundFont {option} does not exist; {APT_HINT}")
        return str(p)
    env = os.environ.get("STORYAUDIO_SOUNDFONT")
    if env and Path(env).is_file():
        return env
    for c in SOUNDFONT_CANDIDATES:
        if Path(c).is_file():
            return c
    raise BackendUnavailableError(f"composer: no General MIDI SoundFont found; {APT_HINT}")


#: (SoundFont, rate) -> [lock, synth or None]: one synth each, loaded on first use and kept for the process.
_synths: dict[tuple[str, int], list] = {}
_synths_lock = threading.Lock()


def _load_synth(path: str, rate: int):
    try:
        import tinysoundfont
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise BackendUnavailableError(
            "composer needs tinysoundfont: `pip install --no-deps tinysoundfont` (its declared pyaudio "
            "dependency is only for live playback)") from e
    synth = tinysoundfont.Synth(samplerate=rate)
    try:
        sfid = synth.sfload(path, max_voices=384)
    except Exception as e:
        raise BackendUnavailableError(f"composer: cannot load SoundFont {path}: {e}; {APT_HINT}") from e
    return synth, sfid


@contextmanager
def _synth(path: str, rate: int):
    """Borrow the TinySoundFont synth for (path, rate), loaded once and reused. There is one: renders at the
    same time take turns playing their notes (the rest of a render, reverb and filters, runs side by side).
    TinySoundFont holds the SoundFont's samples as float32, twice the file: FluidR3_GM (148 MB) takes 284 MB
    per synth, and the synth a second concurrent render loaded was the largest single cause of a long
    drama's peak memory. Playing is about a third of a bed's render (0.8 s of 1.7 s for 3 minutes)."""
    key = (path, rate)
    with _synths_lock:
        entry = _synths.setdefault(key, [threading.Lock(), None])
    with entry[0]:
        if entry[1] is None:
            entry[1] = _load_synth(path, rate)
        yield entry[1]


def _reset(synth, sfid: int) -> None:
    """Silence every voice and forget channel state so that each render starts from the same state."""
    synth.soundfonts[sfid].reset()
    synth.generate_simple(2048)  # voices stopped "quickly" still release for ~10 ms: render them away


def _select(synth, sfid: int, ch: int, program: int, kit: int | None) -> None:
    if program < 0:
        for k in (kit or 0, 0):
            try:
                synth.program_select(ch, sfid, 128, k, True)
                return
            except RuntimeError:
                continue
        return
    for bank, prog in ((0, program), (0, 0)):
        try:
            synth.program_select(ch, sfid, bank, prog)
            return
        except RuntimeError:
            continue


_levels: dict[tuple, float] = {}
_levels_lock = threading.Lock()


def _program_level(synth, sfid: int, soundfont: str, rate: int, program: int, kit: int | None, pitch: int) -> float:
    """Loudness (RMS of the first 0.4 s) of one note at velocity 100 of a program at a pitch in this SoundFont,
    measured once, so that the mix can even out instruments a SoundFont made much louder or quieter than
    others. A drum kit is the mean of its kick, snare, closed hi-hat and ride, struck one at a time."""
    key = (soundfont, rate, program, kit, pitch)
    with _levels_lock:
        if key in _levels:
            return _levels[key]
    ch = 9 if program < 0 else 0
    n = int(0.4 * rate)
    levels = []
    for k in ((36, 38, 42, 51) if program < 0 else (pitch,)):
        _reset(synth, sfid)
        _select(synth, sfid, ch, program, kit)
        synth.noteon(ch, k, 100)
        a = np.frombuffer(synth.generate_simple(n), dtype=np.float32)
        synth.noteoff(ch, k)
        levels.append(float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))))
    level = float(np.mean(levels))
    _reset(synth, sfid)
    with _levels_lock:
        _levels[key] = level if level > 0 else 1.0
    return _levels[key]


@lru_cache(maxsize=16)
def room_ir(rt60: float, rate: int) -> np.ndarray:
    """A stereo impulse response: early reflections, then decaying, darkening decorrelated noise.
    Unit energy per channel; deterministic."""
    from scipy.signal import lfilter

    rt60 = float(np.clip(rt60, 0.3, 4.0))
    n = int(min(rt60 * 1.1, 4.0) * rate)
    rng = np.random.default_rng(1234)
    t = np.arange(n) / rate
    pre = int(0.012 * rate)
    ir = np.zeros((2, n + pre))
    for c in range(2):
        noise = rng.standard_normal(n)
        # darker as it decays: two low-passes blended over time
        bright = lfilter([0.5], [1, -0.5], noise)
        dark = lfilter([0.12], [1, -0.88], noise) * 2.2
        mix = np.exp(-t / (rt60 * 0.25))
        tail = (bright * mix + dark * (1 - mix)) * np.exp(-6.91 * t / rt60)
        tail[: int(0.02 * rate)] *= np.linspace(0, 1, int(0.02 * rate))
        ir[c, pre:] = tail
        for _ in range(6):  # early reflections
            d = pre + int(rng.uniform(0.004, 0.045) * rate)
            ir[c, d] += rng.uniform(0.3, 0.7) * (1 if rng.random() < 0.5 else -1) * 3
    ir /= np.sqrt((ir ** 2).sum(axis=1, keepdims=True))
    return ir.astype(np.float32)


def _reverb(dry: np.ndarray, rt60: float, rate: int) -> np.ndarray:
    """The wet signal: FFT convolution with :func:`room_ir`, computed at a third of the rate (a room's tail is
    dark anyway) and brought back up, which makes it several times cheaper."""
    from scipy.fft import irfft, next_fast_len, rfft
    from scipy.signal import resample_poly

    n = dry.shape[1]
    down = 3
    low_rate = rate // down
    x = resample_poly(dry, 1, down, axis=1).astype(np.float32, copy=False)
    ir = room_ir(round(rt60, 2), low_rate)
    nfft = next_fast_len(x.shape[1] + ir.shape[1] - 1, real=True)
    spec = rfft(x, nfft, axis=1, workers=2)
    m = x.shape[1]
    del x
    spec *= rfft(ir, nfft, axis=1, workers=2)
    wet = irfft(spec, nfft, axis=1, workers=2)[:, :m]
    del spec  # each intermediate goes as soon as it is used: a 3-minute bed's are 22 MB each
    _forget_fft_plans()
    wet = resample_poly(wet, down, 1, axis=1)[:, :n]
    if wet.shape[1] < n:
        wet = np.pad(wet, ((0, 0), (0, n - wet.shape[1])))
    return wet


#: How many plans scipy's pocketfft keeps per kind of transform (its compiled-in POCKETFFT_CACHE_SIZE).
_FFT_PLANS_KEPT = 16


def _forget_fft_plans() -> None:
    """Push the reverb's plan out of scipy.fft's plan cache. pocketfft keeps the plans of the last 16 lengths
    it transformed, and a bed's length is its own: each bed's plan (12 MB for a 3-minute bed) stayed, up to
    190 MB after 16 beds. Transforming 16 tiny lengths (microseconds) replaces them; a plan is only a
    precomputation, so the samples are the same whatever the cache holds."""
    from scipy.fft import rfft

    for n in range(1, _FFT_PLANS_KEPT + 1):
        rfft(np.zeros(n, np.float32))


def _play(comp: Composition, plan: MusicPlan, synth, sfid: int, soundfont: str, rate: int) -> np.ndarray:
    """Play the notes through the synth, sample-accurately: interleaved stereo float32 at ``rate``."""
    gains: list[float] = []
    levels: list[float] = []
    for part, ch in zip(comp.parts, comp.channels):
        pitches = [n.pitch for n in comp.notes if n.channel == ch]
        ref = 38 if part.role == "drums" else int(np.median(pitches)) if pitches else 60
        levels.append(_program_level(synth, sfid, soundfont, rate, part.program, part.kit, ref))
    # even out SoundFont loudness, by at most 6 dB either way around the piece's typical instrument
    corr = 1.0 / np.maximum(np.asarray(levels or [1.0]), 1e-4)
    corr = np.clip(corr / np.exp(np.mean(np.log(corr))), 0.5, 2.0)
    for part, c in zip(comp.parts, corr):
        gain = ROLE_GAIN.get(part.role, 0.8) * part.level * float(c)
        if part.role == "lead" and plan.layout == "background":
            gain *= 0.7
        gains.append(gain)
    top = max(gains) if gains else 1.0
    _reset(synth, sfid)
    for part, ch, gain in zip(comp.parts, comp.channels, gains):
        _select(synth, sfid, ch, part.program, part.kit)
        # linear channel gain (MIDI CC7 is a steep curve in TinySoundFont: half the value is -18 dB)
        synth.soundfonts[sfid].channel_set_volume(ch, float(gain / top))
        synth.control_change(ch, 10, int(np.clip(round(64 + 63 * part.pan), 0, 127)))

    n_int = round(comp.duration * rate)
    events: list[tuple[int, int, int, int, int]] = []  # (sample, order, channel, key, velocity)
    for nt in comp.notes:
        on = round(nt.start * rate)
        off = round((nt.start + nt.dur) * rate)
        if on >= n_int:
            continue
        events.append((on, 1, nt.channel, nt.pitch, nt.vel))
        if nt.channel != 9:
            events.append((max(off, on + 1), 0, nt.channel, nt.pitch, 0))
    events.sort()
    buf = np.zeros(n_int * 2, dtype=np.float32)
    mv = memoryview(buf).cast("B")
    pos = 0
    # a key struck again before its previous note-off: end the old one first (offs sort before ons)
    for when, kind, ch, key, vel in events:
        when = min(when, n_int)
        if when > pos:
            synth.generate_simple(when - pos, buffer=mv[pos * 8: when * 8])
            pos = when
        if kind == 1:
            synth.noteon(ch, key, vel)
        else:
            synth.noteoff(ch, key)
    if pos < n_int:
        synth.generate_simple(n_int - pos, buffer=mv[pos * 8: n_int * 8])
    _reset(synth, sfid)
    return buf


def synth_rate(sample_rate: int) -> int:
    """The rate to render at for a render at ``sample_rate``: the same when TinySoundFont handles it well,
    else 48 kHz."""
    return sample_rate if sample_rate in NATIVE_RATES else 48000


def render_composition(comp: Composition, plan: MusicPlan, rate: int, soundfont: str,
                       reverb: float = 0.25, peak: float | None = 0.89) -> np.ndarray:
    """Stereo float32 audio at ``rate``, ``round(comp.duration * rate)`` samples (the composition's own
    length: the piece is written to end there), scaled to ``peak`` (None: unscaled)."""
    from scipy.signal import butter, sosfilt

    with _synth(soundfont, rate) as (synth, sfid):
        buf = _play(comp, plan, synth, sfid, soundfont, rate)
    n_int = buf.shape[0] // 2
    dry = np.ascontiguousarray(buf.reshape(-1, 2).T)  # float32 throughout: a long bed stays small
    del buf

    # reverb
    amount = float(np.clip(reverb, 0.0, 1.0))
    if amount > 0 and n_int > 0:
        wet = _reverb(dry, plan.reverb, rate)
        # equal-power blend: 0 dry only, 1 mostly wet
        # (in place, in float32 as before: a bed's whole-length temporaries are 66 MB each for 3 minutes)
        dry *= np.float32(math.cos(amount * math.pi / 2 * 0.8))
        wet *= math.sin(amount * math.pi / 2 * 0.8)
        dry += wet
        del wet
    # remove DC and sub-rumble: filtered in place a block at a time, the filter's state carried from block to
    # block (the same samples as one call, without a whole-length copy)
    if n_int > 64:
        sos = butter(2, 25.0, btype="highpass", fs=rate, output="sos").astype(np.float32)
        zi = np.zeros((sos.shape[0], 2, 2), np.float32)
        for a in range(0, n_int, _FILTER_BLOCK):
            dry[:, a:a + _FILTER_BLOCK], zi = sosfilt(sos, dry[:, a:a + _FILTER_BLOCK], axis=1, zi=zi)

    # The ending is part of the music, not a fit to the slot: the piece is composed to end at its duration,
    # its final chord rings through the tail and dies away (a cos² fade from 30 % into the tail to silence),
    # so the last note and the reverb have decayed when the piece ends. A tiny fade-in keeps the first
    # attack from clicking.
    n = n_int
    out = np.ascontiguousarray(dry, dtype=np.float32)
    i0 = min(n, max(0, math.floor((comp.final_time + 0.3 * comp.tail) * rate)))
    if n - i0 > 0:
        fade = np.linspace(0.0, 1.0, n - i0, endpoint=False) + 1.0 / (n - i0)
        out[:, i0:] *= (np.cos(fade * np.pi / 2) ** 2).astype(np.float32)
    k = min(n, int(0.004 * rate))
    if k:
        out[:, :k] *= np.linspace(0, 1, k, dtype=np.float32)
    top = float(np.max(np.abs(out))) if n else 0.0
    if peak is not None and top > 0:
        out *= np.float32(peak / top)
    return out
