"""Seeds from content: the one place storyaudio turns values into random seeds.

A seed is the SHA-256 of the values' ``str`` forms joined by ``"|"``, read as a little-endian integer from the
first eight bytes of the digest and cut to ``bits``. It is stable across processes, platforms and Python
versions (Python's ``hash`` is not), so the same script renders the same audio everywhere, and a seed that
depends on what an event is (not where it sits) means inserting a row re-renders nothing else.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(*parts: object, bits: int = 32) -> int:
    """The low ``bits`` (1 to 64) of the little-endian first eight bytes of ``sha256("|".join(parts))``."""
    if not 1 <= bits <= 64:
        raise ValueError(f"bits must be between 1 and 64, not {bits}")
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << bits) - 1)


def rng_for(*parts: object) -> np.random.Generator:
    """A numpy generator seeded with the full 64-bit :func:`derive_seed` of ``parts``."""
    return np.random.default_rng(derive_seed(*parts, bits=64))
