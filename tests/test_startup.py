"""Commands import only what they need: `storyaudio --help` loads no numeric library, `validate` none of the
rendering ones (scipy, matplotlib, soundfile), and measuring loudness or fingerprinting a backend's code
imports neither scipy.signal nor the backends' own heavy modules. (Their speed is measured in
bench/render_speed.py; here, only which modules load.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RENDERING = ("scipy", "matplotlib", "soundfile", "pyloudnorm", "onnxruntime", "torch")


def _loaded(code: str) -> list[str]:
    """Top-level packages a fresh interpreter has imported after running ``code``."""
    probe = code + "\nimport sys\nprint(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return eval(out.stdout.strip().splitlines()[-1])


def test_help_imports_no_numeric_or_validation_library():
    loaded = _loaded("from storyaudio.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert not {"numpy", "pydantic", "jsonschema", *RENDERING} & set(loaded)


def test_validate_imports_nothing_that_renders():
    loaded = _loaded(f"from storyaudio.cli import main\nmain(['validate', {str(ROOT / 'examples' / 'news.tsv')!r}])")
    assert not set(RENDERING) & set(loaded)
    assert {"numpy", "pydantic", "jsonschema"} <= set(loaded)  # the backends, their options, the schema


def test_measuring_loudness_and_true_peak_imports_no_scipy_signal_nor_pyloudnorm():
    code = ("import numpy as np\nfrom storyaudio.mix.loudness import measure\n"
            "measure(np.full((2, 96000), 0.1, np.float32), 48000)\n"
            "import sys\nprint([m for m in ('scipy.signal', 'scipy.fft', 'scipy.stats') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "pyloudnorm" not in _loaded(code)


def test_the_meters_filter_is_pyloudnorms_and_scipys():
    """The K-weighting coefficients are pyloudnorm's to the bit, and the filter is scipy's sosfilt."""
    import pyloudnorm
    from scipy.signal import sosfilt as scipy_sosfilt

    from storyaudio.mix.loudness import _k_weighting, sosfilt

    for sr in (44100, 48000):
        sos, gain = _k_weighting(sr)
        stages = list(pyloudnorm.Meter(sr)._filters.values())
        assert np.array_equal(sos, np.array([np.concatenate([f.b, f.a]) for f in stages]))
        assert gain == np.prod([f.passband_gain for f in stages])
    x, zi = np.random.default_rng(1).standard_normal((2, 5000)), np.random.default_rng(2).standard_normal((2, 2, 2))
    mine, theirs = sosfilt(sos, x, zi), scipy_sosfilt(sos, x, axis=-1, zi=zi)
    assert np.array_equal(mine[0], theirs[0]) and np.array_equal(mine[1], theirs[1])


def test_fingerprinting_a_backend_imports_none_of_its_code():
    code = ("from storyaudio.fingerprint import code_fingerprint\n"
            "code_fingerprint('storyaudio.backends.foley')\ncode_fingerprint('storyaudio.backends.speech.piper')")
    loaded = _loaded(code)
    assert "scipy" not in loaded and "onnxruntime" not in loaded
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('storyaudio.backends.foley.dsp' in "
                          "sys.modules)"], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_the_shipped_schema_is_a_valid_json_schema():
    """(Checked here rather than on every command that reads a script.)"""
    import jsonschema

    from storyaudio.script import load_schema

    schema = load_schema()
    jsonschema.validators.validator_for(schema).check_schema(schema)


@pytest.mark.parametrize("seed", range(3))
def test_casting_assignment_is_the_best_as_scipy_finds_it(seed):
    from scipy.optimize import linear_sum_assignment

    from storyaudio.casting import best_assignment

    rng = np.random.default_rng(seed)
    for _ in range(200):
        n = int(rng.integers(1, 9))
        scores = np.round(rng.normal(size=(n, int(rng.integers(n, 14)))), 1 + int(rng.integers(0, 3)))
        rows, cols = linear_sum_assignment(scores, maximize=True)
        mine = best_assignment(scores.tolist())
        assert len(set(mine)) == n  # a voice each
        assert scores[np.arange(n), mine].sum() == pytest.approx(scores[rows, cols].sum(), abs=1e-9)
