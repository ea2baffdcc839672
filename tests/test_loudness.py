"""True peak (BS.1770-4 Annex 2) against exact band-limited references, meters and mastering block by block on
pieces held on disk, and the mastered 24-bit file measured independently after it landed."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from storyaudio.mix.blockio import AudioBlocks, open_audio
from storyaudio.mix.loudness import (
    OVERSAMPLING,
    LoudnessMeter,
    TruePeakMeter,
    integrated_loudness,
    loudness_range,
    measure,
    measure_loudness,
    true_peak,
    true_peak_dbtp,
)
from storyaudio.mix.master import PRESETS, limit_true_peak, master, master_file
from storyaudio.mix.mixer import Source, Track, ducking_envelope, mix, mix_to_file


def db(x: float) -> float:
    return 20 * math.log10(x)


def faded(x: np.ndarray, sr: int, seconds: float = 0.05) -> np.ndarray:
    """``x`` with equal-power fades at both ends: a finite signal without the ringing of an abrupt start."""
    k = int(seconds * sr)
    w = np.ones(x.shape[-1])
    ramp = np.sin(np.linspace(0, np.pi / 2, k)) ** 2
    w[:k], w[-k:] = ramp, ramp[::-1]
    return (x * w).astype(np.float32)


def exact_true_peak(x: np.ndarray, up: int = 64) -> float:
    """The peak of the band-limited continuous signal through the samples (silence around them), evaluated at
    64x by zero-padding the spectrum: the ideal interpolator, independent of any FIR design. Within 0.003 dB
    of the continuous peak for content up to 0.45 fs."""
    best = 0.0
    for c in np.atleast_2d(x).astype(np.float64):
        size = 1 << (c.size + 8192).bit_length()  # at least 4096 samples of silence each side; a fast length
        c = np.concatenate([np.zeros(4096), c, np.zeros(size - c.size - 4096)])
        best = max(best, float(np.abs(np.fft.irfft(np.fft.rfft(c), up * c.size) * up).max()))
    return best


def scalloping_db(f_max: float) -> float:
    """How far below the continuous peak the best of 8 points per sample can fall, for content up to ``f_max``
    (a fraction of the sample rate): the peak lies at most 1/16 sample from a point."""
    return -db(math.cos(math.pi * f_max / OVERSAMPLING))


def band_noise(sr: int, seconds: float, lo: float, hi: float, seed: int) -> np.ndarray:
    """Stereo noise with energy only between ``lo`` and ``hi`` Hz, peak-normalised to 0.9."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    spectrum = np.fft.rfft(rng.standard_normal((2, n)), axis=1)
    f = np.fft.rfftfreq(n, 1 / sr)
    spectrum[:, (f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spectrum, n, axis=1)
    return faded(x / np.abs(x).max() * 0.9, sr)


@pytest.mark.parametrize("sr", [44100, 48000])
def test_quarter_rate_sine_at_45_degrees_reads_3_dB_over_its_samples(sr):
    """A full-scale sine at fs/4 sampled 45 degrees off its peaks: every sample is at 0.707 (-3.01 dBFS), the
    waveform between them reaches 1.0 (0 dBTP). Today's 48-tap meter read -0.17 dBTP."""
    t = np.arange(sr // 2)
    x = faded(np.sin(2 * np.pi * t / 4 + np.pi / 4), sr)[None]
    assert db(np.abs(x).max()) == pytest.approx(-3.01, abs=0.01)
    assert true_peak_dbtp(x) == pytest.approx(0.0, abs=0.01)
    assert true_peak_dbtp(x) - db(np.abs(x).max()) == pytest.approx(3.01, abs=0.01)


@pytest.mark.parametrize("sr", [44100, 48000])
@pytest.mark.parametrize("f, phase", [(0.35, 0.3), (0.42, 1.7), (0.45, 0.0), (0.45, np.pi * 0.45), (0.45, 2.9)])
def test_tones_towards_nyquist_match_the_band_limited_peak(sr, f, phase):
    """Tones up to 0.45 fs (19.8 kHz at 44.1 kHz, 21.6 kHz at 48 kHz), phases putting the peak on and between
    samples: the meter reads the continuous peak, never more than 0.01 dB over it and never further under it
    than 8x oversampling allows at that frequency."""
    t = np.arange(sr // 4)
    x = faded(0.8 * np.cos(2 * np.pi * f * t + phase), sr)[None]
    reference = db(exact_true_peak(x))
    assert reference == pytest.approx(db(0.8), abs=0.01)
    error = true_peak_dbtp(x) - reference
    assert -scalloping_db(f) - 0.01 <= error <= 0.01


@pytest.mark.parametrize("sr", [44100, 48000])
@pytest.mark.parametrize("seed", [0, 1])
def test_high_frequency_noise_matches_the_band_limited_peak(sr, seed):
    """Noise between 4 and 20 kHz has inter-sample peaks everywhere. Today's meter under-read it by 0.3 dB (48
    kHz) to 0.5 dB (44.1 kHz)."""
    x = band_noise(sr, 0.5, 4000, 20000, seed)
    error = true_peak_dbtp(x) - db(exact_true_peak(x))
    assert -scalloping_db(20000 / sr) - 0.01 <= error <= 0.01


def test_true_peak_never_reads_below_the_sample_peak_and_skips_what_cannot_matter():
    """Quiet passages (where the filter's gain bound keeps every point under the threshold) keep their sample
    values: the screening is exact for anything that can reach the threshold."""
    from storyaudio.mix.loudness import oversampled_peaks

    sr = 48000
    x = band_noise(sr, 1.0, 100, 20000, 4)
    quiet = x * np.float32(0.05)
    full = oversampled_peaks(quiet, threshold=0.0)
    assert np.all(full >= np.abs(quiet).max(axis=0) - 1e-7)
    screened = oversampled_peaks(quiet, threshold=0.9)  # 0.045 x gain bound < 0.9: nothing is interpolated
    assert np.array_equal(screened, np.abs(quiet).max(axis=0))
    loud = np.concatenate([quiet, x], axis=1)  # the loud half is computed exactly, the quiet half skipped
    peaks = oversampled_peaks(loud, threshold=0.5)
    assert peaks.max() == pytest.approx(true_peak(loud), abs=1e-6)


@pytest.mark.parametrize("sizes", [[1, 7, 48, 1000, 65536, 3, 200000], [48000 * 4], [12345] * 30])
def test_meters_fed_in_any_blocks_give_the_whole_piece_figures(sizes):
    """Block boundaries change nothing: the filters' state (K-weighting, interpolation context) carries over."""
    import pyloudnorm

    sr = 48000
    n = sum(sizes)
    x = band_noise(sr, n / sr, 50, 18000, 5) * np.float32(0.3)
    x[:, n // 3 : n // 2] *= np.float32(0.01)  # a quiet stretch, so gating has work to do
    loud, tp = LoudnessMeter(2, sr, n), TruePeakMeter(2)
    a = 0
    for size in sizes:
        loud.feed(x[:, a : a + size])
        tp.feed(x[:, a : a + size])
        a += size
    lufs, lra = loud.result()
    meter = pyloudnorm.Meter(sr)
    assert lufs == pytest.approx(meter.integrated_loudness(x.T.astype(np.float64)), abs=1e-9)
    assert lra == pytest.approx(meter.loudness_range(x.T.astype(np.float64)), abs=1e-9)
    assert tp.result() == pytest.approx(true_peak(x), rel=1e-6)


def test_measures_read_pieces_from_disk(tmp_path):
    """A .npy of float frames, a float WAV and a 24-bit WAV are measured from disk as the array is."""
    sr = 48000
    x = band_noise(sr, 5.0, 50, 20000, 6) * np.float32(0.5)
    np.save(tmp_path / "mix.npy", np.ascontiguousarray(x.T))
    sf.write(tmp_path / "mix.wav", x.T, sr, subtype="FLOAT")
    for path in (tmp_path / "mix.npy", tmp_path / "mix.wav"):
        assert integrated_loudness(path, sr) == pytest.approx(integrated_loudness(x, sr), abs=1e-9)
        assert loudness_range(path, sr) == pytest.approx(loudness_range(x, sr), abs=1e-9)
        assert true_peak_dbtp(path) == pytest.approx(true_peak_dbtp(x), abs=1e-6)
    mapped = np.load(tmp_path / "mix.npy", mmap_mode="r").T  # a memmap is read in blocks too
    assert measure_loudness(mapped, sr) == pytest.approx(measure_loudness(x, sr), abs=1e-9)
    with pytest.raises(ValueError, match="44100"):
        open_audio(tmp_path / "mix.wav", 44100)


def test_master_file_equals_master_and_the_landed_file_meets_the_ceiling(tmp_path):
    """The streamed master and the in-memory one make the same audio (up to 24-bit rounding) and the same
    report; the 24-bit file, read back and measured independently (pyloudnorm, scipy resample_poly at 4x and
    16x), is on target and under the ceiling."""
    import pyloudnorm
    from scipy.signal import resample_poly

    sr = 44100
    rng = np.random.default_rng(8)
    x = band_noise(sr, 12.0, 60, 20000, 7) * np.float32(0.2)
    x *= (np.sin(2 * np.pi * 0.7 * np.arange(x.shape[1]) / sr) > -0.3).astype(np.float32)  # phrases and pauses
    x[:, rng.integers(0, x.shape[1], 40)] = 1.4  # overs, some of them near high-frequency content
    np.save(tmp_path / "mix.npy", np.ascontiguousarray(x.T))
    preset = PRESETS["podcast"]
    y, report = master(x, sr, preset)
    file_report = master_file(tmp_path / "mix.npy", tmp_path / "mix.wav", sr, preset, float_copy=tmp_path / "f.npy")
    landed, file_sr = sf.read(tmp_path / "mix.wav", dtype="float64")
    assert np.array_equal(np.load(tmp_path / "f.npy"), landed.astype(np.float32))  # the copy is what landed
    assert file_sr == sr and sf.info(tmp_path / "mix.wav").subtype == "PCM_24"
    assert np.abs(landed.T - y).max() <= 2 ** -23  # one 24-bit step
    for key in ("integrated_lufs", "loudness_range_lu", "true_peak_dbtp", "gain_db"):
        assert getattr(file_report, key) == pytest.approx(getattr(report, key), abs=0.005), key
    assert report.passed and file_report.passed
    assert pyloudnorm.Meter(sr).integrated_loudness(landed) == pytest.approx(-16.0, abs=preset.tolerance_lu)
    for up in (4, 16):
        independent = max(np.abs(resample_poly(landed[:, c], up, 1)).max() for c in range(2))
        assert db(independent) <= -1.0
    assert true_peak_dbtp(tmp_path / "mix.wav") == pytest.approx(file_report.true_peak_dbtp, abs=1e-9)
    assert file_report.true_peak_dbtp <= -1.0


def test_loud_full_band_bursts_are_mastered_under_the_ceiling_of_other_meters(tmp_path):
    """White-noise bursts (effects) 20 dB over quiet talk: the bursts dominate the gating until the limiter
    holds them down, so loudness is not monotonic in gain, and their energy reaches Nyquist, where meters
    interpolate differently. The master still lands on target, and scipy's resample_poly at 4x and 16x reads
    the landed file under the ceiling too."""
    from scipy.signal import resample_poly

    sr = 44100
    rng = np.random.default_rng(14)
    x = band_noise(sr, 10.0, 60, 4000, 15) * np.float32(0.2)
    for start in rng.integers(0, x.shape[1] - 500, 10):
        x[:, start : start + 441] += rng.standard_normal((2, 441)).astype(np.float32) * 2.0
    np.save(tmp_path / "mix.npy", np.ascontiguousarray(x.T))
    report = master_file(tmp_path / "mix.npy", tmp_path / "mix.wav", sr, PRESETS["podcast"])
    assert report.passed and report.integrated_lufs == pytest.approx(-16.0, abs=0.05)
    landed = sf.read(tmp_path / "mix.wav", dtype="float64")[0]
    for up in (4, 16):
        assert db(max(np.abs(resample_poly(landed[:, c], up, 1)).max() for c in range(2))) <= -1.0


class _CountingBlocks(AudioBlocks):
    """An array read through the block interface, remembering the longest read."""

    def __init__(self, audio):
        self.audio, self.channels, self.frames, self.sample_rate = audio, audio.shape[0], audio.shape[1], None
        self.longest = 0

    def _read(self, lo, hi):
        self.longest = max(self.longest, hi - lo)
        return self.audio[:, lo:hi]


def test_master_file_reads_and_writes_in_blocks(tmp_path):
    """Memory does not grow with length: however long the piece, no pass reads more than a few seconds of it
    at a time (the bench measures peak memory on 10 and 60 minutes)."""
    sr = 48000
    x = np.tile(band_noise(sr, 2.0, 60, 16000, 9) * np.float32(0.3), (1, 20))  # 40 s
    x[:, ::4801] = 1.2
    src = _CountingBlocks(x)
    report = master_file(src, tmp_path / "mix.wav", sr, PRESETS["ebu-r128"])
    assert src.longest <= 3 * sr
    assert report.passed and report.integrated_lufs == pytest.approx(-23.0, abs=0.5)
    assert true_peak_dbtp(tmp_path / "mix.wav") <= -1.0


def test_limiter_state_carries_across_its_steps(monkeypatch):
    """Peaks on either side of the limiter's step boundaries are limited as with one long step."""
    import storyaudio.mix.limiter as m

    sr = 48000
    x = band_noise(sr, 3.0, 60, 18000, 10) * np.float32(0.4)
    x[:, ::1000] = 1.5  # an over every 1000 samples: many fall at or next to a step edge
    whole = limit_true_peak(x, sr, -1.0)
    monkeypatch.setattr(m, "_STEP_HOPS", 7)
    stepped = limit_true_peak(x, sr, -1.0)
    assert np.allclose(whole, stepped, atol=1e-5)
    assert true_peak_dbtp(stepped) <= -1.0


def test_a_pass_knows_how_much_louder_more_gain_would_make_it():
    """The limiter carries its gain curve's derivative through the same selections (held minimum, released
    peak), so a pass reports dB of output per dB of gain; the loudness search takes Newton steps on it. Checked
    against a finite difference of two real passes."""
    from storyaudio.mix.blockio import open_audio as blocks
    from storyaudio.mix.master import _render

    sr = 48000
    x = band_noise(sr, 4.0, 60, 12000, 16) * np.float32(0.25)
    x[:, ::997] *= 6  # peaks everywhere: the limiter is busy, its release tails overlap
    outputs = []
    for gain in (2.0, 2.0 * 1.002):
        chunks = []
        with blocks(x) as src:
            stats = _render(src, sr, gain, 0.8, chunks.append)
        outputs.append((np.concatenate(chunks, axis=1), stats))
    (y1, s1), (y2, _) = outputs
    measured = 10 * np.log10(np.square(y2, dtype=np.float64).sum() / np.square(y1, dtype=np.float64).sum())
    assert s1.limited and 0.2 < s1.slope < 0.9
    assert s1.slope == pytest.approx(measured / (20 * np.log10(1.002)), abs=0.01)


def test_release_can_resume_from_a_state():
    from storyaudio.mix.limiter import _release

    rng = np.random.default_rng(11)
    need = np.where(rng.random(3000) < 0.02, rng.uniform(0.2, 0.99, 3000), 1.0)
    whole = _release(need, 0.97)
    first = _release(need[:1234], 0.97)
    assert np.allclose(np.concatenate([first, _release(need[1234:], 0.97, first[-1])]), whole, atol=1e-12)


def test_report_fails_a_master_that_cannot_reach_its_target(tmp_path):
    """Clicks in silence cannot be made -16 LUFS under a -1 dBTP ceiling: the limiter holds every click down.
    The report says so (passed False, the loudness that landed) instead of claiming a pass."""
    sr = 48000
    x = np.zeros((2, 6 * sr), np.float32)
    x[:, :: sr // 4] = 0.5  # one-sample clicks, four a second
    np.save(tmp_path / "clicks.npy", np.ascontiguousarray(x.T))
    report = master_file(tmp_path / "clicks.npy", tmp_path / "mix.wav", sr, PRESETS["podcast"])
    landed = measure(tmp_path / "mix.wav", sr)
    assert not report.passed
    assert report.integrated_lufs == pytest.approx(landed.integrated_lufs, abs=1e-6)
    assert landed.integrated_lufs < -16.5
    assert report.true_peak_dbtp == pytest.approx(landed.true_peak_dbtp, abs=1e-9)
    assert landed.true_peak_dbtp <= -1.0
    assert report.to_dict()["pass"] is False


def test_a_master_over_its_ceiling_is_reported_failed():
    """``passed`` checks the true peak measured by the 8x meter, not a sample peak: a file whose samples are
    all under -1 dBFS but whose waveform reaches -0.2 dBTP fails the podcast preset."""
    from storyaudio.mix.loudness import Measurement
    from storyaudio.mix.master import _report

    preset = PRESETS["podcast"]
    on_target = Measurement(-16.0, 5.0, 10 ** (-0.2 / 20), 10 ** (-1.1 / 20))
    assert not _report(preset, on_target, 0.0).passed
    assert _report(preset, Measurement(-16.0, 5.0, 10 ** (-1.01 / 20), 0.8), 0.0).passed
    assert not _report(preset, Measurement(-16.6, 5.0, 0.5, 0.5), 0.0).passed


def test_master_file_replaces_its_output_only_when_done(tmp_path):
    sr = 48000
    (tmp_path / "mix.wav").write_bytes(b"previous good render")
    np.save(tmp_path / "broken.npy", np.zeros((10, 2), np.int16))  # not float frames
    with pytest.raises(ValueError, match="float32"):
        master_file(tmp_path / "broken.npy", tmp_path / "mix.wav", sr, PRESETS["podcast"])
    good = np.full((2, 10 * sr), 0.1, np.float32)

    class Failing(_CountingBlocks):  # a source that breaks in the second pass (the first reads 8 blocks)
        reads = 0

        def _read(self, lo, hi):
            Failing.reads += 1
            if Failing.reads > 9:
                raise OSError("disk gone")
            return super()._read(lo, hi)

    with pytest.raises(OSError, match="disk gone"):
        master_file(Failing(good), tmp_path / "mix.wav", sr, PRESETS["podcast"], float_copy=tmp_path / "f.npy")
    assert (tmp_path / "mix.wav").read_bytes() == b"previous good render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.npy", "mix.wav"]  # no part files left


def test_24_bit_writer_rounds_to_the_nearest_step_and_clips(tmp_path):
    """The writer quantises itself (libsndfile scales floats by 2**23 - 1 on the way in and 2**-23 on the way
    out), so what is read back is exactly the nearest 24-bit step, and full scale is held, never wrapped."""
    from storyaudio.mix.blockio import AudioWriter

    x = np.array([[1.5, -1.5, 0.5, 1e-9, 0.75 * 2.0**-23, -0.49 * 2.0**-23]], np.float32)
    with AudioWriter(tmp_path / "q.wav", 1, x.shape[1], 48000, "PCM_24") as w:
        w.write(x)
    back = sf.read(tmp_path / "q.wav", dtype="float64")[0]
    assert list(back) == [1 - 2.0**-23, -1.0, 0.5, 0.0, 2.0**-23, 0.0]


@pytest.mark.parametrize("suffix", [".npy", ".wav"])
def test_mix_to_file_equals_the_array_mix(tmp_path, suffix):
    sr = 48000
    a, b = band_noise(sr, 1.0, 100, 8000, 12)[:1], band_noise(sr, 1.5, 100, 8000, 13)
    n = 3 * sr
    tracks = [Track("a", [Source(100, a.shape[1], audio=a, pan=-0.5, fade_in=2000)]),
              Track("b", [Source(sr, b.shape[1], audio=b, gain=0.7)], ducked=True)]
    duck = ducking_envelope([(0.0, 1.0)], n, sr, -6)
    path = mix_to_file(tracks, n, tmp_path / f"mix{suffix}", sr, duck, block=5000)
    on_disk = np.load(path).T if suffix == ".npy" else sf.read(path, dtype="float32")[0].T
    assert np.array_equal(on_disk, mix(tracks, n, duck, block=5000))
    assert [p.name for p in tmp_path.iterdir()] == [f"mix{suffix}"]


def test_mastering_modules_import_no_scipy_signal():
    """scipy.signal costs ~0.75 s of every command: the meters import it (and scipy.fft) only when filtering."""
    code = ("import sys, storyaudio.mix.master, storyaudio.mix.loudness, storyaudio.mix.mixer; "
            "print(sorted(m for m in ('scipy.signal', 'scipy.ndimage', 'scipy.fft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
