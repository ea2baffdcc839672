"""``Pan``: a row's place in the stereo field, instead of the automatic one (characters spread across the
field in order of first appearance, everything else centred). A mono clip is panned with constant power; a
stereo clip (music, a recording) is balanced."""

from __future__ import annotations

from dataclasses import replace

from .base import Column, Extension


class Pan(Extension):
    name = "pan"
    description = "Pan: a row's stereo position, -1 (left) to 1 (right), instead of the automatic one."
    columns = (Column("pan", "Pan", {"type": "number", "minimum": -1, "maximum": 1},
                      description="stereo position: -1 left, 0 centre, 1 right (a stereo clip is balanced).",
                      fix="give a number from -1 (left) through 0 (centre) to 1 (right), or N/A for the "
                          "automatic place."),)

    def plan(self, event, values, ctx):
        return replace(event, pan=float(values["pan"]))
