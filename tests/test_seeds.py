"""One seed helper for the whole package, reproducing each seeder it replaced bit for bit."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from storyaudio.backends import _neural as nn_
from storyaudio.backends.base import Event
from storyaudio.plan import _take, event_seed
from storyaudio.seeds import derive_seed, rng_for

CASES = [(0, "speech", "Good evening.", 0), (7, "sound_effect", "door | creak", 3), (2**31, "music", "", 12),
         (42, "speech", "Ünïcödé — “quotes”", 1)]


def _old_event_seed(base, kind, content, occurrence):  # plan.event_seed before seeds.py
    digest = hashlib.sha256(f"{base}|{kind}|{content}|{occurrence}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _old_take(seed, take):  # plan._take before seeds.py
    digest = hashlib.sha256(f"{seed}|take|{take}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _old_rng_for(*parts):  # backends.base.rng_for before seeds.py
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _old_row_seed(event, override, salt=""):  # _neural.row_seed before seeds.py
    base = event.seed if override is None else override
    text = f"{base}|{event.kind}|{event.content}|{event.voice}|{salt}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def _old_batch_seed(seeds):  # _neural.batch_seed before seeds.py
    text = ",".join(str(s) for s in seeds)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


@pytest.mark.parametrize("case", CASES)
def test_event_and_take_seeds_are_unchanged(case):
    assert event_seed(*case) == _old_event_seed(*case)
    seed = event_seed(*case)
    assert _take(seed, 0) == seed
    assert [_take(seed, k) for k in (1, 2, 99)] == [_old_take(seed, k) for k in (1, 2, 99)]


@pytest.mark.parametrize("parts", [("foley", "1", "rain", 5, 0, "rain"), ("plan", "jazz"), (), (None, 3.5)])
def test_rng_for_draws_what_it_drew(parts):
    assert np.array_equal(rng_for(*parts).standard_normal(16), _old_rng_for(*parts).standard_normal(16))


@pytest.mark.parametrize("case", CASES)
def test_neural_row_and_batch_seeds_are_unchanged(case):
    base, kind, content, _ = case
    e = Event(row=1, kind=kind, content=content, voice=None if kind != "speech" else "v2/en_speaker_1", seed=base)
    for override, salt in ((None, ""), (None, "chunk3"), (123, "w1")):
        assert nn_.row_seed(e, override, salt) == _old_row_seed(e, override, salt) < 2**31
    seeds = [nn_.row_seed(e, None), base, 5]
    assert nn_.batch_seed(seeds) == _old_batch_seed(seeds) < 2**31


def test_bits_cut_the_same_digest():
    full = derive_seed("a", 1, bits=64)
    assert derive_seed("a", 1) == full & 0xFFFFFFFF and derive_seed("a", 1, bits=31) == full & 0x7FFFFFFF
    with pytest.raises(ValueError):
        derive_seed("a", bits=65)
