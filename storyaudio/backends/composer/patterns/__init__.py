"""What each part plays: pattern tables by role, filled by decorated functions.

``chords.py`` (``@accompaniment``: chords and pad parts), ``bass.py`` (``@bassline``), ``lead.py`` (melodies
and stabs), ``perc.py`` (``@percussion``) and ``drums.py`` (``@groove``) each register their patterns in
:data:`PATTERNS` when imported; importing this package imports them all. A new pattern is one decorated
function in its role's module (or anywhere, before composing)::

    from storyaudio.backends.composer.patterns.chords import ChordSpan, accompaniment

    @accompaniment("charleston")
    def charleston(c: ChordSpan) -> None:
        for off in (0, 1.5):
            for p in c.voicing:
                c.add(off, 0.5, p, c.vel * 0.8)

A plan's parts name their patterns (``Part.pattern``); :func:`find_pattern` looks one up for a part's role
and names the known ones when it is missing.
"""

from __future__ import annotations

from . import bass, chords, drums, lead, perc  # noqa: F401  (each registers its patterns)
from .registry import PATTERNS, TABLE_OF_ROLE, Pattern, UnknownPatternError, find_pattern, pattern, register

__all__ = ["PATTERNS", "TABLE_OF_ROLE", "Pattern", "UnknownPatternError", "find_pattern", "pattern", "register"]
