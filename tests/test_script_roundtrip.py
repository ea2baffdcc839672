"""Property: every valid script survives JSON -> TSV -> CSV -> MD -> JSON unchanged (text with pipes,
backslashes, "N/A" and other "none" words, line breaks and control characters, exponent-sized numbers,
chapters, cast and episode metadata, the built-in extension columns and the pronunciation lexicon included)."""

from __future__ import annotations

import math
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyaudio.script import META_KEYS, Script, parse_script_text, script_to_text
from storyaudio.script.model import clean_text

# Text that stresses the formats: their syntax characters, the "none" words, line breaks and other control
# characters, and anything else Unicode has (except lone surrogates, which no UTF-8 file can hold).
_TRICKY = ["|", "\\", "#", ",", ";", "\t", "\n", "\r\n", "\u2028", "\x0b", "\x85", '"', "N/A", "none", "-",
           "—", "null", "na", " ", "\\|", "# Chapter: x", "---", ":", "Auto", "auto", "\x00", "=", "# Say: a = b"]
_piece = st.one_of(st.sampled_from(_TRICKY), st.text(st.characters(exclude_categories=("Cs",)), max_size=6),
                   st.text(string.ascii_letters + " ", min_size=1, max_size=6))
_text = st.lists(_piece, max_size=6).map("".join)
_words = st.lists(_piece, min_size=1, max_size=6).map("".join).filter(clean_text)  # not blank once cleaned

_volume = st.one_of(st.none(), st.floats(-70, 0, allow_nan=False), st.integers(-70, 0))
_seconds = st.one_of(st.floats(0.05, 600, allow_nan=False), st.integers(1, 600))


def _number(lo: float, hi: float):
    return st.one_of(st.none(), st.floats(lo, hi, allow_nan=False), st.integers(math.ceil(lo), math.floor(hi)))


@st.composite
def _columns(draw, kind: str, begin: bool = False) -> dict:
    """Values of the built-in extension columns a row of this kind may set (None: not set)."""
    out = {"pan": draw(_number(-1, 1)), "fade_in": draw(_number(0, 60)), "fade_out": draw(_number(0, 60)),
           "file": draw(st.one_of(st.none(), _words))}
    if kind == "speech":
        out.update(speed=draw(_number(0.5, 2)), pitch=draw(_number(-12, 12)))
    if begin:
        out["start"] = draw(_number(0, 3600))
    return {k: v for k, v in out.items() if v is not None}


_lexicon = st.lists(st.fixed_dictionaries({"word": _words.filter(lambda w: "=" not in w), "say": _words,
                                           "phonemes": st.one_of(st.none(), _words)}),
                    max_size=3, unique_by=lambda e: " ".join(clean_text(e["word"]).split()).casefold())


@st.composite
def scripts(draw) -> dict:
    """A valid script dict: foreground rows of every kind, background tracks around them, chapters, cast and
    metadata, with hostile text everywhere text may go."""
    rows: list[dict] = []
    n_fg = draw(st.integers(1, 6))
    names = draw(st.lists(_words, min_size=1, max_size=3, unique_by=clean_text))
    track = 0
    open_track: int | None = None
    for _ in range(n_fg):
        if open_track is None and draw(st.booleans()):
            track += 1
            open_track = track
            rows.append({"audio_type": draw(st.sampled_from(["music", "sound_effect"])), "layout": "background",
                         "id": track, "character": None, "volume": draw(_volume), "action": "begin",
                         "content": draw(_words), "duration": draw(st.one_of(st.just("auto"), _seconds)),
                         **draw(_columns("music", begin=True))})
        kind = draw(st.sampled_from(["speech", "music", "sound_effect"]))
        rows.append({"audio_type": kind, "layout": "foreground", "id": None,
                     "character": draw(st.sampled_from(names)) if kind == "speech" else None,
                     "volume": draw(_volume), "action": None, "content": draw(_words),
                     "duration": draw(st.one_of(st.just("auto"), st.none(), _seconds)) if kind != "speech"
                     else draw(st.one_of(st.just("auto"), _seconds)), **draw(_columns(kind))})
        if open_track is not None and draw(st.booleans()):
            rows.append({"audio_type": "music", "layout": "background", "id": open_track, "character": None,
                         "volume": None, "action": "end", "content": draw(st.one_of(st.none(), _text)),
                         "duration": None})
            open_track = None
    # chapters start at foreground rows (each then holds one of its own)
    for r in rows:
        if r["layout"] == "foreground" and draw(st.booleans()):
            r["chapter"] = draw(_words)
    data: dict = {"title": draw(_words), "rows": rows}
    for key in META_KEYS:
        if draw(st.booleans()):
            data[key] = draw(st.integers(1000, 9999)) if key == "year" else draw(_words)
    lexicon = draw(_lexicon)
    if lexicon:
        data["lexicon"] = lexicon
    if draw(st.booleans()):
        data["cast"] = [{"name": name, "description": draw(st.one_of(st.none(), _text)),
                         "voice": draw(st.one_of(st.none(), _text))}
                        for name in names]
    return data


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(scripts())
def test_every_format_round_trips_without_loss(data):
    script = Script.from_dict(data)
    want = script.to_dict()
    current = script
    for fmt in ("json", "tsv", "csv", "md", "json"):
        text = script_to_text(current, fmt)
        current = Script.from_dict(parse_script_text(text, fmt, f"piece.{fmt}"))
        assert current.to_dict() == want, (fmt, text)
