"""``Start``: on a background begin row, how many seconds after the row's place the track comes in (a bed that
enters in the middle of a line). The track still ends where it would have ended; its fades shrink to fit."""

from __future__ import annotations

from dataclasses import replace

from ..errors import Problem, ScriptError
from .base import Column, Extension


class Start(Extension):
    name = "start"
    description = "Start: seconds after its row that a background track comes in."
    columns = (Column("start", "Start", {"type": "number", "minimum": 0, "maximum": 3600},
                      rows=("begin",), units=("s", "sec", "secs", "seconds"), writer=True,
                      description="seconds after the next foreground row starts that this track comes in "
                                  "(e.g. 2.5 to bring a bed in mid-line).",
                      fix="give seconds from 0 (e.g. 2.5), or N/A to start with the row."),)

    def place(self, event, values, ctx):
        from ..script.model import MIN_SECONDS

        start = event.start + float(values["start"])
        if event.end - start < MIN_SECONDS:
            raise ScriptError([Problem(event.row, "start", f"the track would come in {values['start']:g} s "
                                       f"after its row, but it ends {event.span:.2f} s after it.",
                                       "give a smaller Start, or end the track later.")])
        span = event.end - start
        return replace(event, start=start, fade_in=min(event.fade_in, span / 2), fade_out=min(event.fade_out, span / 2))
