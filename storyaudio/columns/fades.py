"""``Fade In`` and ``Fade Out``: how long a row's audio takes to rise from silence and to fall back to it, in
seconds, instead of the automatic fades (5 ms on foreground rows; up to 1 s in and 1.5 s out on background
tracks). A fade longer than the row is as long as the row."""

from __future__ import annotations

from dataclasses import replace

from .base import Column, Extension

_SECONDS = {"type": "number", "minimum": 0, "maximum": 60}
_UNITS = ("s", "sec", "secs", "seconds")


class Fades(Extension):
    name = "fades"
    description = "Fade In / Fade Out: a row's fades in seconds, instead of the automatic ones."
    columns = (
        Column("fade_in", "Fade In", _SECONDS, units=_UNITS, aliases=("fadein",),
               description="seconds the row's audio takes to rise from silence.",
               fix="give seconds from 0 to 60 (e.g. 0.5), or N/A for the automatic fade."),
        Column("fade_out", "Fade Out", _SECONDS, units=_UNITS, aliases=("fadeout",),
               description="seconds the row's audio takes to fall to silence at its end.",
               fix="give seconds from 0 to 60 (e.g. 2), or N/A for the automatic fade."),
    )

    def place(self, event, values, ctx):
        span = max(0.0, event.span)
        fade_in = event.fade_in if values["fade_in"] is None else min(float(values["fade_in"]), span)
        fade_out = event.fade_out if values["fade_out"] is None else min(float(values["fade_out"]), span)
        return replace(event, fade_in=fade_in, fade_out=fade_out)
