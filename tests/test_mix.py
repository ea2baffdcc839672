"""Loudness, mixing and mastering, checked by measurement."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from helpers import sine

from storyaudio.mix.loudness import (
    integrated_loudness,
    loudness_range,
    normalize_gain,
    oversampled_peaks,
    true_peak_dbtp,
)
from storyaudio.mix.master import PRESETS, limit_true_peak, master
from storyaudio.mix.mixer import Source, Track, ducking_envelope, mix, pan_gains


def speechlike(sr, seconds, seed=0):
    """Noise bursts with pauses: something with a real gated loudness and a crest factor."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    env = (np.sin(2 * np.pi * 3.1 * t) > -0.2).astype(np.float32)
    return (rng.standard_normal((2, n)).astype(np.float32) * 0.1 * env)


@pytest.mark.parametrize("sr", [44100, 48000])
@pytest.mark.parametrize("seconds", [0.15, 0.3, 2.0])
@pytest.mark.parametrize("target", [-15.0, -32.0])
def test_event_normalisation_hits_target_even_for_short_clips(sr, seconds, target):
    clip = sine(sr, 997, seconds, amplitude=0.3)
    out = clip * normalize_gain(clip, sr, target)
    # measure the way a listener's meter would: the same clip repeated to a standard 3 s length
    reps = int(np.ceil(3.0 / seconds))
    assert integrated_loudness(np.tile(out, (1, reps)), sr) == pytest.approx(target, abs=1.0)


def _reference_signals():
    """(name, audio (channels, samples), rate): loud and quiet passages, several layouts and rates."""
    rng = np.random.default_rng(7)
    talk = speechlike(48000, 12.0, seed=3)
    dynamic = talk * np.repeat([1.0, 0.05, 0.5, 0.002, 1.0, 0.2], 2 * 48000)[None, :]  # gating has work to do
    yield "speech-like stereo 48k", talk, 48000
    yield "dynamic stereo 48k", dynamic.astype(np.float32), 48000
    yield "mono 44.1k tone", sine(44100, 440, 5.3, amplitude=0.2), 44100
    yield "5.0 at 48k", (rng.standard_normal((5, 4 * 48000)) * [[0.1], [0.1], [0.05], [0.02], [0.02]]).astype(np.float32), 48000
    yield "near the absolute gate", (talk * 10 ** (-58 / 20)).astype(np.float32), 48000
    yield "0.4 s clip", sine(48000, 997, 0.4, amplitude=0.3), 48000


@pytest.mark.parametrize("audio, sr", [pytest.param(a, r, id=name) for name, a, r in _reference_signals()])
def test_loudness_equals_pyloudnorm(audio, sr):
    """The vectorised gating gives pyloudnorm's own figures (integrated loudness and LRA)."""
    import pyloudnorm

    data = audio.T.astype(np.float64)
    data = data[:, 0] if data.shape[1] == 1 else data
    assert integrated_loudness(audio, sr) == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(data), abs=1e-6)
    if audio.shape[1] >= 3.2 * sr:
        with np.errstate(divide="ignore", invalid="ignore"):
            reference = pyloudnorm.Meter(sr).loudness_range(data)
        expected = reference if np.isfinite(reference) else 0.0  # too quiet to measure: pyloudnorm nan, ours 0
        assert loudness_range(audio, sr) == pytest.approx(expected, abs=1e-6)


def test_loudness_of_silence_and_of_a_sine_at_full_scale():
    sr = 48000
    assert integrated_loudness(np.zeros((2, sr), np.float32), sr) == -np.inf
    assert loudness_range(np.zeros((2, 5 * sr), np.float32), sr) == 0.0
    # BS.1770: a 997 Hz sine at 0 dBFS in one channel reads -3.01 LUFS (EBU Tech 3341 allows ±0.1 LU;
    # pyloudnorm's K-weighting, designed from its analogue parameters, reads -3.05)
    assert integrated_loudness(sine(sr, 997, 3.0, amplitude=1.0), sr) == pytest.approx(-3.01, abs=0.1)


def test_silence_is_not_amplified():
    assert normalize_gain(np.zeros((1, 48000), np.float32), 48000, -15) == 1.0


def test_true_peak_sees_intersample_peaks():
    sr = 48000
    n = np.arange(sr)
    x = (0.5 * np.sin(2 * np.pi * n / 4 + np.pi / 4)).astype(np.float32)[None]  # samples at 0.354, peak 0.5
    assert np.abs(x).max() == pytest.approx(0.3536, abs=1e-3)
    assert true_peak_dbtp(x) == pytest.approx(20 * np.log10(0.5), abs=0.1)  # (the abrupt start rings a little)
    middle = oversampled_peaks(x)[sr // 4 : 3 * sr // 4]
    assert np.mean(np.abs(middle - 0.5) < 1e-3) == pytest.approx(0.5)  # every other interval holds a crest
    assert oversampled_peaks(x, threshold=2.0).max() == pytest.approx(0.3536, abs=1e-3)  # out of reach: cheap


@pytest.mark.parametrize("preset", ["podcast", "ebu-r128"])
@pytest.mark.parametrize("peaky", [False, True])
def test_master_hits_loudness_and_true_peak(preset, peaky):
    sr = 48000
    rng = np.random.default_rng(1)
    x = speechlike(sr, 12)
    x[:, ::4801] = 0.95 * np.sign(rng.standard_normal((2, x[:, ::4801].shape[1])))  # sharp transients
    if peaky:  # 48 spikes a second, 18 dB over the rest: the limiter eats much of each gain step
        x[:, ::997] *= 8
    y, report = master(x, sr, PRESETS[preset])
    target = PRESETS[preset].target_lufs
    assert integrated_loudness(y, sr) == pytest.approx(target, abs=0.5)
    assert report.integrated_lufs == pytest.approx(target, abs=PRESETS[preset].tolerance_lu)
    assert true_peak_dbtp(y) <= -1.0
    assert report.passed and report.true_peak_dbtp <= -1.0


def test_limiter_limits_rather_than_clips():
    sr = 48000
    x = sine(sr, 220, 2.0, channels=2, amplitude=1.6)  # +4 dBFS
    y = limit_true_peak(x, sr, -1.0)
    assert true_peak_dbtp(y) <= -1.0
    assert np.abs(y).max() < 0.9  # gain reduction, not clipping: the waveform keeps its shape
    mid = y[0, sr // 2 : sr]
    peak = np.abs(mid).max()
    clipped = np.mean(np.abs(mid) > 0.999 * peak)
    assert clipped < 0.05  # a pure sine spends 2.8% of its time there; a clipped one over 50%


def test_none_preset_leaves_level_alone():
    sr = 48000
    x = speechlike(sr, 5)
    y, report = master(x, sr, PRESETS["none"])
    assert np.array_equal(y, x) and report.passed


def test_pan_is_constant_power():
    for p in (-1, -0.3, 0, 0.4, 1):
        gl, gr = pan_gains(p, 1)
        assert gl**2 + gr**2 == pytest.approx(1.0)
    assert pan_gains(None, 2) == (1.0, 1.0)
    sr = 48000
    mono = speechlike(sr, 3)[:1]
    t = Track("v", [Source(0, mono.shape[1], audio=mono, pan=0.0)])
    stereo = mix([t], mono.shape[1])
    assert integrated_loudness(stereo, sr) == pytest.approx(integrated_loudness(mono, sr), abs=0.1)


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_24"])  # memory-mapped, and read through soundfile
def test_block_mix_from_files_equals_in_memory_sum(tmp_path, subtype):
    sr = 48000
    a, b = speechlike(sr, 3, 1), speechlike(sr, 2, 2)
    sf.write(tmp_path / "a.wav", a.T, sr, subtype=subtype)
    sf.write(tmp_path / "b.wav", b.T, sr, subtype=subtype)
    a = sf.read(tmp_path / "a.wav", dtype="float32")[0].T  # what the file holds after quantisation
    b = sf.read(tmp_path / "b.wav", dtype="float32")[0].T
    n = 6 * sr
    tracks = [Track("a", [Source(1000, a.shape[1], path=tmp_path / "a.wav", gain=0.5)]),
              Track("b", [Source(2 * sr, b.shape[1], path=tmp_path / "b.wav")])]
    out = mix(tracks, n, block=4096)
    ref = np.zeros((2, n), np.float32)
    ref[:, 1000 : 1000 + a.shape[1]] += 0.5 * a
    ref[:, 2 * sr : 2 * sr + b.shape[1]] += b
    assert np.allclose(out, ref, atol=1e-6)


def test_stems_have_mix_length_and_sum_to_mix(tmp_path):
    sr = 48000
    a, b = speechlike(sr, 1, 1), speechlike(sr, 1, 2)
    n = 3 * sr
    tracks = [Track("a", [Source(0, sr, audio=a)]), Track("b", [Source(sr, sr, audio=b)], ducked=True)]
    duck = ducking_envelope([(0.0, 1.0)], n, sr, -6)
    writers = {t.name: sf.SoundFile(tmp_path / f"{t.name}.wav", "w", samplerate=sr, channels=2, subtype="FLOAT")
               for t in tracks}
    out = mix(tracks, n, duck, writers, block=5000)
    for w in writers.values():
        w.close()
    stems = [sf.read(tmp_path / f"{t.name}.wav", dtype="float32")[0].T for t in tracks]
    assert all(s.shape == (2, n) for s in stems)
    assert np.allclose(stems[0] + stems[1], out, atol=1e-6)


def test_fades_start_and_end_silent():
    sr = 48000
    x = sine(sr, 440, 2, amplitude=0.5)
    t = Track("bg", [Source(0, 2 * sr, audio=x, fade_in=sr // 2, fade_out=sr // 2)])
    out = mix([t], 2 * sr)
    assert np.abs(out[:, :48]).max() < 0.01 and np.abs(out[:, -48:]).max() < 0.01
    assert np.abs(out[:, sr - 100 : sr + 100]).max() > 0.3


def test_ducking_depth_and_recovery():
    sr = 48000
    n = 10 * sr
    bed = sine(sr, 300, 10, amplitude=0.2)
    t = Track("bed", [Source(0, n, audio=bed)], ducked=True)
    duck = ducking_envelope([(3.0, 6.0)], n, sr, -10.0)
    out = mix([t], n, duck)

    def level(a, b):
        seg = out[0, int(a * sr) : int(b * sr)]
        return 20 * np.log10(np.sqrt(np.mean(seg**2)))

    assert level(4.0, 5.0) - level(0.5, 2.0) == pytest.approx(-10.0, abs=0.3)  # full depth under speech
    assert level(8.0, 9.5) == pytest.approx(level(0.5, 2.0), abs=0.1)  # recovered afterwards


def test_limiter_release_is_a_decaying_peak_hold():
    """The vectorised release equals the recursion it stands for: g[i] = min(g[i], 1 - (1 - g[i-1]) * coef)."""
    from storyaudio.mix.limiter import _release

    rng = np.random.default_rng(5)
    need = np.where(rng.random(3000) < 0.02, rng.uniform(0.2, 0.99, 3000), 1.0)
    coef = 0.97
    expected, prev = need.copy(), 1.0
    for i in range(need.size):
        expected[i] = prev = min(need[i], 1.0 - (1.0 - prev) * coef)
    assert np.allclose(_release(need, coef), expected, atol=1e-9)
    assert np.array_equal(_release(np.ones(10), coef), np.ones(10))


def test_master_limits_a_mix_that_arrives_on_target():
    """A mix already at the preset's loudness still goes through the limiter: no true peak over the ceiling."""
    sr = 48000
    x = speechlike(sr, 8)
    x = x * np.float32(10 ** ((-16.0 - integrated_loudness(x, sr)) / 20))
    x[:, ::24000] = 1.15  # two overs a second, too few to move the loudness
    assert integrated_loudness(x, sr) == pytest.approx(-16.0, abs=0.05) and true_peak_dbtp(x) > 1.0
    y, report = master(x, sr, PRESETS["podcast"])
    assert true_peak_dbtp(y) <= -1.0
    assert report.passed
    assert report.integrated_lufs == pytest.approx(-16.0, abs=PRESETS["podcast"].tolerance_lu)


def _allocated(path) -> int:
    import os

    return os.stat(path).st_blocks * 512


def test_sparse_stem_is_the_plain_file_with_its_silence_left_unwritten(tmp_path):
    """A SparseStem holds the very bytes a plain float WAV writer writes, but silent blocks take no disk."""
    from storyaudio.mix.blockio import SparseStem, open_for_writing

    sr, block, n = 48000, 32768, 40 * 32768
    rng = np.random.default_rng(3)
    frames = np.zeros((n, 2), np.float32)
    frames[2 * block : 3 * block] = rng.normal(0, 0.1, (block, 2))  # sound in 2 blocks of 40
    frames[30 * block + 7 : 31 * block - 5] = 0.25
    sparse = SparseStem(tmp_path / "sparse.wav", n, sr)
    with open_for_writing(tmp_path / "plain.wav", sr, 2) as plain:
        for a in range(0, n, block):
            sparse.write(frames[a : a + block])
            plain.write(frames[a : a + block])
    sparse.close()
    assert (tmp_path / "sparse.wav").read_bytes() == (tmp_path / "plain.wav").read_bytes()
    assert _allocated(tmp_path / "sparse.wav") < 0.2 * _allocated(tmp_path / "plain.wav")
    back, rate = sf.read(tmp_path / "sparse.wav", dtype="float32")
    assert rate == sr and np.array_equal(back, frames)


def test_copy_data_copies_the_ranges_asked_and_keeps_holes(tmp_path):
    from storyaudio.mix.blockio import copy_data

    size, mb = 8 << 20, 1 << 20
    src, dst = tmp_path / "src", tmp_path / "dst"
    with open(src, "wb") as fh:  # data in [1, 2) MB and [5, 6) MB, holes elsewhere
        fh.truncate(size)
        for at in (1, 5):
            fh.seek(at * mb)
            fh.write(bytes([at]) * mb)
    with open(dst, "wb") as fh:
        fh.truncate(size)
    copy_data(src, dst, [(0, 3 * mb), (5 * mb + 100, 6 * mb)])  # the second range starts inside the data
    got, want = dst.read_bytes(), bytearray(size)
    want[mb : 2 * mb] = bytes([1]) * mb
    want[5 * mb + 100 : 6 * mb] = bytes([5]) * (mb - 100)
    assert got == bytes(want)
    assert _allocated(dst) < 3 * mb  # the holes were not written


def _programme(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Noise with a slow swell and loud bursts: the limiter works, the gate has quiet blocks to drop."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    env = (0.3 + 0.7 * (np.sin(2 * np.pi * 0.4 * t) > 0)) * (1 + 0.5 * np.sin(2 * np.pi * t / 7))
    x = (0.2 * rng.standard_normal((2, t.size)) * env).astype(np.float32)
    x[:, :: sr // 3] *= 6
    return x


@pytest.mark.parametrize("grow", [0.0, 1.3])
def test_a_measurement_redone_in_part_is_the_full_one(grow):
    """The source's measurement and a mastering pass, given the record of an earlier mix and the range that
    changed (and, with ``grow``, a longer piece), recompute only part of the piece, side by side in threads,
    and land on exactly what measuring the new mix from scratch gives: every figure, state and output sample."""
    from storyaudio.mix.blockio import open_audio
    from storyaudio.mix.passes import measure_source, run_pass

    sr = 48000
    x = _programme(20.0, sr)
    a, b = 9 * sr, int(9.4 * sr)
    y = x.copy()
    y[:, a:b] *= np.float32(0.3)
    if grow:
        y = np.concatenate([y, _programme(grow, sr, seed=1)], axis=1)
    changed = [(a, b)] + ([(x.shape[1], y.shape[1])] if grow else [])

    class Out:
        def __init__(self, n):
            self.audio = np.full((2, n), np.nan, np.float32)

        def write(self, step, lo, hi, block):
            self.audio[:, lo:hi] = block

        def close(self):
            pass

        def abort(self):
            pass

    with open_audio(x) as src:
        old = measure_source(src, sr)
        key = (1.5, 0.85, 1.0, True)
        old_pass = run_pass(src, sr, key, Out(x.shape[1]), env_step=4800)
    with open_audio(y) as src:
        full = measure_source(src, sr)
        part = measure_source(src, sr, old, changed)
        out_full, out_part = Out(y.shape[1]), Out(y.shape[1])
        full_pass = run_pass(src, sr, key, out_full, env_step=4800)
        part_pass = run_pass(src, sr, key, out_part, old_pass, changed, env_step=4800)
    assert part.lufs == full.lufs and part.peak == full.peak
    assert np.array_equal(part.zi, full.zi) and np.array_equal(part.done, full.done)
    assert part.pieces.keys() == full.pieces.keys()
    assert all(np.array_equal(part.pieces[k], full.pieces[k]) for k in full.pieces)
    assert (part_pass.lufs, part_pass.lra, part_pass.true_peak) == (full_pass.lufs, full_pass.lra, full_pass.true_peak)
    assert np.array_equal(part_pass.zi, full_pass.zi) and np.array_equal(part_pass.tp, full_pass.tp)
    assert 0 < len(part_pass.redone) < len(full_pass.redone)  # only part of it, not nothing
    steps = part_pass.redone  # the steps computed again hold the full pass's samples; the rest are unwritten
    from storyaudio.mix.limiter import _Grid

    grid = _Grid(y.shape[1], sr)
    for i in steps:
        lo, hi = grid.output(i)
        assert np.array_equal(out_part.audio[:, lo:hi], out_full.audio[:, lo:hi])
    assert np.isnan(out_part.audio[:, : grid.output(steps[0])[0]]).all()
