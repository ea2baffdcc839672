"""``chapters.json``: the chapters in the Podcasting 2.0 JSON chapters format (version 1.2).

The format (Podcastindex-org/podcast-namespace, ``docs/examples/chapters/jsonChapters.md``) is what a feed's
``<podcast:chapters url="..." type="application/json+chapters"/>`` points at: an object with ``version``
(a string) and ``chapters`` (in ascending ``startTime``), each chapter with ``startTime`` (seconds, a
number) and here also ``title`` and ``endTime``; the episode's ``title``, ``author``, ``podcastName`` (the
script's album or show) and ``description`` ride along where the script sets them.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..timeline import Chapter
from .tags import EpisodeTags

#: The version of the JSON chapters format written.
VERSION = "1.2.0"


def chapters_json(chapters: Sequence[Chapter], tags: EpisodeTags) -> dict[str, Any]:
    """The chapters file's JSON object. Times are in seconds, to the millisecond."""
    out: dict[str, Any] = {"version": VERSION, "title": tags.title}
    if tags.author:
        out["author"] = tags.author
    if tags.album:
        out["podcastName"] = tags.album
    if tags.description:
        out["description"] = tags.description
    out["chapters"] = [{"startTime": round(c.start, 3), "endTime": round(c.end, 3), "title": c.title}
                       for c in sorted(chapters, key=lambda c: c.start)]
    return out
