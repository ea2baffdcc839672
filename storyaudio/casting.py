"""Casting: give every character one voice from a speech backend's catalogue.

Rules: pinned characters get their pinned voice; every other character gets the voice that best fits its name
and description, different characters get different voices while voices last, and the same script always
casts the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backends.base import Voice
from .errors import UserError


@dataclass(frozen=True)
class Character:
    name: str
    description: str | None = None


def cast_characters(
    characters: list[Character], voices: list[Voice], pinned: dict[str, str] | None = None
) -> dict[str, str]:
    """Return ``{character name: voice name}`` for every character, in order of first appearance."""
    pinned = dict(pinned or {})
    names = {v.name for v in voices}
    for char, voice in pinned.items():
        if voice not in names:
            raise UserError(
                f"character '{char}' is pinned to voice '{voice}', which this speech backend does not have. "
                f"Voices: {', '.join(sorted(names))} (see 'storyaudio voices')."
            )
    out: dict[str, str] = {}
    used = set(pinned.values())
    for char in characters:
        if char.name in pinned:
            out[char.name] = pinned[char.name]
            continue
        free = [v for v in voices if v.name not in used] or list(voices)
        choice = free[0].name
        out[char.name] = choice
        used.add(choice)
    return out
