"""What the embedded speech backends share besides text and timing: the options they all take
(``--set piper.pace=1.1``, ``--set espeak.pace=1.1``: one name, one meaning, one description) and the lookup
of a row's voice in a catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ...errors import RenderError
from ..base import Event

__all__ = ["SpeechOptions", "catalogue_voice"]

T = TypeVar("T")


class SpeechOptions(BaseModel):
    """Pace, pauses, text handling and fitting, shared by ``piper`` and ``espeak``; each backend adds its own."""

    model_config = ConfigDict(extra="forbid")

    pace: float = Field(1.0, ge=0.5, le=2.0, description="speaking rate of every voice: 1.1 is 10% faster, 0.9 "
                        "10% slower (pauses follow)")
    sentence_pause: float = Field(0.35, ge=0.0, le=3.0, description="seconds of silence after a sentence; other "
                                  "breaks scale it (';' 0.7x, '?' 1.15x, '...' 1.6x, line 1.4x, blank line 2.2x)")
    normalize_text: bool = Field(True, description="read numbers, money, times, abbreviations and symbols as "
                                 "words before synthesis (English text only)")
    max_speedup: float = Field(1.3, ge=1.0, le=2.5, description="when a row's duration is too short for the line, "
                               "speak up to this much faster; a line still too long has its end cut (with a fade)")
    edge_silence: float = Field(0.05, ge=0.0, le=1.0, description="silence kept before and after the speech, "
                                "seconds")


def catalogue_voice(backend: str, event: Event, catalogue: Mapping[str, T]) -> tuple[str, T]:
    """The name and catalogue entry of the event's voice (the catalogue's first when the event has none);
    a render error for a non-speech event or a voice the catalogue lacks."""
    if event.kind != "speech":
        raise RenderError(f"the {backend} backend renders speech, not {event.kind}", event.row)
    name = event.voice or next(iter(catalogue))
    if name not in catalogue:
        raise RenderError(f"the {backend} backend has no voice '{name}'; its voices: {', '.join(catalogue)}",
                          event.row)
    return name, catalogue[name]
