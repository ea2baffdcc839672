"""Script -> timeline: which backend and voice makes each row, and when each row plays.

Planning happens in two steps because speech length is known only once it is spoken:

1. :func:`plan` (before rendering) turns the rows into :class:`~storyaudio.timeline.Event` records: the
   backend and the cast voice of each row, the length the script asks for (``requested``; None where it says
   "auto"), its track and stereo position, and a seed that follows the row's content.
2. :func:`place` (after the foreground is rendered) returns the :class:`~storyaudio.timeline.Timeline`:
   foreground events one after another (speech lines apart by the speech gap), each as long as the script
   asks or, for auto speech, as long as it came out; each background track from the start of the first
   foreground row after its ``begin`` row to the point the foreground has reached at its ``end`` row (the end
   of the piece when it is never ended), or shorter when its row asks for less; and each chapter from the
   start of the first foreground row at or after its ``# Chapter:`` line to the start of the next.

:func:`crop` cuts a placed timeline down to a range of rows (a preview: ``render --rows`` / ``--chapter``).

Both return new records; nothing is changed in place. The casting itself is :mod:`storyaudio.casting`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from .errors import OptionError, Problem, ScriptError
from .script.model import DEFAULT_DURATION, MAX_TOTAL_SECONDS, MIN_SECONDS, Script
from .seeds import derive_seed
from .timeline import Chapter, Event, PlacedEvent, Plan, Timeline

#: Stereo positions handed to characters in order of first appearance (the first speaker sits centre).
PAN_POSITIONS = (0.0, -0.3, 0.3, -0.15, 0.15, -0.4, 0.4)


def event_seed(base_seed: int, kind: str, content: str, occurrence: int) -> int:
    """A seed per event that depends on what the event is, not where it sits, so inserting a row does not
    change (and re-render) every other row."""
    return derive_seed(base_seed, kind, content, occurrence)


def plan(script: Script, backends: dict[str, str], casting: dict[str, str], sample_rate: int,
         seed: int = 0, speech_gap: float = 0.35, reseed: dict[int, int] | None = None) -> Plan:
    """Every row's event with everything known before rendering.

    ``backends`` maps audio type to backend name; ``casting`` maps character to voice name; ``reseed`` maps a
    row to a take number that gives it another seed (a new take of that row alone, as the studio's
    "Re-render row" asks; take 0 is the row's usual seed).
    """
    reseed = reseed or {}
    descriptions = {c.name: c.description for c in script.cast}
    characters = script.characters()
    pans = {name: PAN_POSITIONS[i % len(PAN_POSITIONS)] for i, name in enumerate(characters)}
    voice_tracks = _speech_tracks(characters)
    occurrences: dict[tuple[str, str], int] = {}
    events: list[Event] = []
    for n, row in enumerate(script.rows, start=1):
        if row.is_background and row.action == "end":
            continue
        content = (row.content or "").strip()
        occ = occurrences[(row.audio_type, content)] = occurrences.get((row.audio_type, content), -1) + 1
        speech = row.audio_type == "speech"
        if row.is_background:
            track = f"bg{row.id}-{row.audio_type.replace('_', '-')}"
            requested = row.seconds  # None: the span, known after placement (validation refused < MIN_SECONDS)
        elif speech:
            track = voice_tracks[row.character or ""]
            requested = row.seconds
        else:
            track = f"fg-{row.audio_type.replace('_', '-')}"
            requested = row.seconds or DEFAULT_DURATION[row.audio_type]
        events.append(Event(
            row=n, audio_type=row.audio_type, layout=row.layout, track=track, content=content,
            target_lufs=row.target_lufs(), backend=backends[row.audio_type],
            seed=_take(event_seed(seed, row.audio_type, content, occ), reseed.get(n, 0)), character=row.character,
            voice=casting.get(row.character or "") if speech else None,
            character_description=descriptions.get(row.character or ""), track_id=row.id, requested=requested,
            pan=pans.get(row.character or "") if speech else None,
        ))
    return Plan(script.title, sample_rate, tuple(events), dict(casting), dict(backends), speech_gap)


def place(plan: Plan, script: Script, lengths: Mapping[int, float]) -> Timeline:
    """The timeline: every event with its start and end. ``lengths`` maps a foreground row to its rendered
    length in seconds; only auto speech (``requested`` None) takes its length from there, every other row is
    as long as it asks (its clip is fitted to that)."""
    by_row = {e.row: e for e in plan.events}
    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    cursor = 0.0
    previous: str | None = None
    waiting: list[int] = []  # background rows begun, waiting for the next foreground row
    tracks = script.background_tracks()
    begun_at = {end: begin for begin, end in tracks if end is not None}  # a track's end row -> its begin row
    chapter_rows: list[int] = []  # chapters opened, waiting for their first foreground row
    chapter_starts: dict[int, float] = {}
    for n, row in enumerate(script.rows, start=1):
        if row.chapter is not None:
            chapter_rows.append(n)
        if row.layout == "foreground":
            ev = by_row[n]
            if previous == "speech" and row.audio_type == "speech":
                cursor += plan.speech_gap
            for bg in waiting:
                starts[bg] = cursor
            waiting.clear()
            starts[n] = cursor
            for c in chapter_rows:
                chapter_starts[c] = cursor
            chapter_rows.clear()
            cursor = ends[n] = cursor + (lengths[n] if ev.requested is None else ev.requested)
            previous = row.audio_type
        elif row.action == "begin":
            waiting.append(n)
        elif n in begun_at:
            bg = begun_at[n]
            if bg in waiting:  # no foreground row came between begin and end: it starts here
                waiting.remove(bg)
            start = starts.setdefault(bg, cursor)
            asked = by_row[bg].requested
            ends[bg] = cursor if asked is None else (min(cursor, start + asked) if cursor > start else start + asked)
    for bg in waiting:
        starts[bg] = cursor
    never_ended = [by_row[begin] for begin, end in tracks if end is None]
    piece_end = max([cursor] + [starts[e.row] + e.requested for e in never_ended if e.requested])
    for e in never_ended:
        ends[e.row] = piece_end if e.requested is None else starts[e.row] + e.requested

    placed: list[PlacedEvent] = []
    problems = []
    for ev in plan.events:
        start, end = starts[ev.row], ends[ev.row]
        if ev.layout == "foreground":
            placed.append(PlacedEvent.of(ev, start, end))
        elif end - start < MIN_SECONDS:
            problems.append(Problem(ev.row, "action", "this background track gets no time to play: no "
                                    "foreground row plays between its begin and end rows.",
                                    "put foreground rows between begin and end, or give it a duration."))
        else:
            length = end - start
            placed.append(PlacedEvent.of(ev, start, end, fade_in=min(1.0, 0.15 * length),
                                         fade_out=min(1.5, 0.2 * length)))
    if problems:
        raise ScriptError(problems)
    duration = max([cursor] + [e.end for e in placed])
    if duration > MAX_TOTAL_SECONDS:
        raise ScriptError([Problem(None, "rows", f"the piece would last {duration:.0f} s, more than the "
                                   f"{MAX_TOTAL_SECONDS:.0f} s limit.",
                                   "split it into several scripts (one per chapter, say).")])
    timeline = Timeline(plan.title, plan.sample_rate, tuple(placed), plan.casting, plan.backends,
                        plan.speech_gap, duration)
    return replace(timeline, chapters=_chapters(script, chapter_starts, timeline.mix_samples / plan.sample_rate))


def _chapters(script: Script, starts: Mapping[int, float], mix_end: float) -> tuple[Chapter, ...]:
    """The script's chapters in time: each from the start of its first foreground row (``starts``, by the
    chapter's row) to the next one's start; the last to the end of the mix."""
    marks = [(n, title, starts[n]) for n, title in script.chapters() if n in starts]
    ends = [start for _, _, start in marks[1:]] + [mix_end]
    return tuple(Chapter(i, title, n, start, end)
                 for i, ((n, title, start), end) in enumerate(zip(marks, ends), start=1))


#: Fade (seconds) a preview gives a background track where the preview cuts it.
EDGE_FADE = 0.05


def crop(timeline: Timeline, script: Script, first: int, last: int) -> Timeline:
    """A preview of rows ``first``..``last`` (1-based, inclusive) cut from the whole ``timeline``: the
    foreground events of those rows; the background tracks that play under them (begun in the range or
    before it and still playing), trimmed to the window; the chapters that overlap it. Times are shifted so
    the window starts at 0 (``Timeline.offset`` says where it started in the piece).

    The window runs from the start of the first foreground row in the range to the end of the last one, or
    to the end of the piece when the range reaches the script's last row. A track cut by the window gets a
    short fade (:data:`EDGE_FADE`) where it is cut. Raises ValueError when no foreground row is in the range
    (the pipeline checks that first, naming the option)."""
    fg = [e for e in timeline.foreground if first <= e.row <= last]
    if not fg:
        raise ValueError(f"rows {first}-{last} hold no foreground row")
    t0 = min(e.start for e in fg)
    t1 = timeline.duration if last >= len(script.rows) else max(e.end for e in fg)
    events: list[PlacedEvent] = []
    for e in timeline.events:
        if e.layout == "foreground":
            if first <= e.row <= last:
                events.append(replace(e, start=e.start - t0, end=e.end - t0))
            continue
        start, end = max(e.start, t0), min(e.end, t1)
        if e.row > last or end - start < MIN_SECONDS:
            continue
        fade_in = e.fade_in if start == e.start else EDGE_FADE
        fade_out = e.fade_out if end == e.end else EDGE_FADE
        squeeze = min(1.0, 0.9 * (end - start) / (fade_in + fade_out))  # both fades fit in the cut span
        events.append(replace(e, start=start - t0, end=end - t0, fade_in=fade_in * squeeze,
                              fade_out=fade_out * squeeze))
    duration = t1 - t0
    cut = replace(timeline, events=tuple(events), duration=duration, chapters=(), rows=(first, last), offset=t0)
    chapters = [c for c in timeline.chapters if c.start < t1 and c.end > t0]
    mix_end = cut.mix_samples / cut.sample_rate
    return replace(cut, chapters=tuple(
        replace(c, start=max(c.start, t0) - t0, end=mix_end if i == len(chapters) - 1 else min(c.end, t1) - t0)
        for i, c in enumerate(chapters)))


def _take(seed: int, take: int) -> int:
    """The seed of another take of an event (take 0: the seed itself)."""
    return derive_seed(seed, "take", take) if take else seed


def _speech_tracks(characters: list[str]) -> dict[str, str]:
    """One track name per character, unique and safe as a file name (``speech-mary-ann``; a second character
    whose name reads the same, ``Mary Ann``, gets ``speech-mary-ann-2``), in order of first appearance."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in characters:
        base = f"speech-{_slug(name)}"
        track, k = base, 1
        while track in taken:
            k += 1
            track = f"{base}-{k}"
        taken.add(track)
        out[name] = track
    return out


def _slug(text: str) -> str:
    """Lower-case letters and digits (any script) with single hyphens between words; "voice" when none."""
    out = "".join(c.lower() if c.isalnum() else "-" for c in text).strip("-")
    while "--" in out:
        out = out.replace("--", "-")
    return out or "voice"


def preview_range(script: Script, rows: tuple[int, int] | None = None,
                  chapter: int | None = None) -> tuple[int, int] | None:
    """The rows a preview renders, ``(first, last)`` 1-based and inclusive: ``rows`` as given, or the rows of
    chapter number ``chapter`` (counted from 1); None for the whole script. A range the script cannot give is
    an OptionError naming the flag (``--rows`` / ``--chapter``)."""
    if rows is not None and chapter is not None:
        raise OptionError("--rows and --chapter: give one of them, not both.")
    if chapter is not None:
        ranges = script.chapter_ranges()
        if not ranges:
            raise OptionError(f"--chapter {chapter}: this script has no chapters. Mark where each begins with a "
                              "'# Chapter: Title' line (a \"chapter\" key on a row in JSON), or preview rows with "
                              "--rows FIRST-LAST.")
        if not 1 <= chapter <= len(ranges):
            listing = "; ".join(f"{i} '{title}' (rows {a}-{b})" for i, (a, b, title) in enumerate(ranges, start=1))
            raise OptionError(f"--chapter {chapter}: the script has {len(ranges)} chapter"
                              f"{'' if len(ranges) == 1 else 's'}, numbered from 1: {listing}.")
        first, last, _ = ranges[chapter - 1]
        return first, last
    if rows is None:
        return None
    first, last = rows
    n = len(script.rows)
    if first < 1 or last < first:
        raise OptionError(f"--rows {first}-{last}: give FIRST-LAST with 1 <= FIRST <= LAST (rows count from 1, as "
                          "in the table), e.g. --rows 12-40.")
    if last > n:
        raise OptionError(f"--rows {first}-{last}: the script has {n} rows; give a range within them, e.g. "
                          f"--rows {min(first, n)}-{n}.")
    if not any(r.layout == "foreground" for r in script.rows[first - 1 : last]):
        raise OptionError(f"--rows {first}-{last}: these rows are all background rows, so nothing plays in them "
                          "on its own. Include a speech, music or effect row of the foreground.")
    return first, last
