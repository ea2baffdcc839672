"""Episode tags and chapters inside the audio files: ID3 in ``mix.mp3``, MP4 atoms in ``mix.m4b``.

What podcast and audiobook apps read:

* MP3 (ID3v2.4 through mutagen): ``TIT2`` title, ``TPE1`` author, ``TALB`` album (the show), ``TDRC`` year,
  ``COMM`` description, ``APIC`` front cover; chapters as ID3 ``CHAP`` frames (start and end in
  milliseconds, a ``TIT2`` title each) listed, in order, by one top-level ordered ``CTOC`` table of contents
  (the ID3 chapter frame addendum, which Apple Podcasts, Overcast, Pocket Casts and VLC read).
* MP4/M4B (mutagen): ``©nam``, ``©ART`` and ``aART``, ``©alb``, ``©day``, ``desc``, ``covr`` and
  ``stik`` = 2 (audiobook); the chapters themselves are written by the muxer (:mod:`.m4b`).

A cover is a JPEG or PNG file the script names (``# Cover: cover.jpg``), found by
:func:`storyaudio.paths.resolve_script_path`; :func:`load_cover` reads it and checks what it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import UserError
from ..timeline import Chapter

#: The artist an MP3 gets when the script names no author (what storyaudio always wrote).
DEFAULT_ARTIST = "storyaudio"


@dataclass(frozen=True)
class Cover:
    """Cover art: the file's bytes and their type (``image/jpeg`` or ``image/png``)."""

    data: bytes
    mime: str


@dataclass(frozen=True)
class EpisodeTags:
    """What the files are tagged with: the script's title and episode metadata, and the cover's picture."""

    title: str
    author: str | None = None
    album: str | None = None
    year: int | None = None
    description: str | None = None
    cover: Cover | None = None


def load_cover(path: Path, name: str | None = None) -> Cover:
    """The picture at ``path`` (``name`` is how the script wrote it), which must be a JPEG or a PNG: a
    UserError naming the cover field says otherwise."""
    shown = name or str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cover: cannot read the cover '{shown}' ({exc.strerror}). Fix: check the file.") from None
    if data.startswith(b"\xff\xd8\xff"):
        return Cover(data, "image/jpeg")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Cover(data, "image/png")
    raise UserError(f"cover: '{shown}' is not a JPEG or PNG picture, the only kinds podcast and audiobook apps "
                    "show. Fix: save the cover as .jpg or .png (square, 1400 to 3000 pixels a side is what "
                    "podcast directories ask for) and name that file in # Cover:.")


def tag_mp3(path: Path, tags: EpisodeTags, chapters: Sequence[Chapter] = ()) -> Path:
    """Write ``tags`` and ``chapters`` into the MP3 at ``path`` as ID3v2.4 frames (replacing any tag it had)."""
    from mutagen.id3 import APIC, CHAP, COMM, CTOC, ID3, TALB, TDRC, TIT2, TPE1, CTOCFlags, PictureType

    id3 = ID3()
    id3.add(TIT2(encoding=3, text=[tags.title]))
    id3.add(TPE1(encoding=3, text=[tags.author or DEFAULT_ARTIST]))
    if tags.album:
        id3.add(TALB(encoding=3, text=[tags.album]))
    if tags.year is not None:
        id3.add(TDRC(encoding=3, text=[str(tags.year)]))
    if tags.description:
        id3.add(COMM(encoding=3, lang="eng", desc="", text=[tags.description]))
    if tags.cover is not None:
        id3.add(APIC(encoding=3, mime=tags.cover.mime, type=PictureType.COVER_FRONT, desc="Cover",
                     data=tags.cover.data))
    if chapters:
        ids = [f"chp{c.number}" for c in chapters]
        id3.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids,
                     sub_frames=[TIT2(encoding=3, text=[tags.title])]))
        for cid, c in zip(ids, chapters):
            id3.add(CHAP(element_id=cid, start_time=_ms(c.start), end_time=_ms(c.end),
                         start_offset=0xFFFFFFFF, end_offset=0xFFFFFFFF,  # no byte offsets: times only
                         sub_frames=[TIT2(encoding=3, text=[c.title])]))
    id3.save(str(path), v2_version=4)
    return path


def tag_mp4(path: Path, tags: EpisodeTags, audiobook: bool = True) -> Path:
    """Write ``tags`` into the MP4/M4B at ``path`` (its chapters, written by the muxer, stay as they are)."""
    from mutagen.mp4 import MP4, MP4Cover

    mp4 = MP4(str(path))
    if mp4.tags is None:
        mp4.add_tags()
    mp4.tags["©nam"] = [tags.title]
    if tags.author:
        mp4.tags["©ART"] = [tags.author]
        mp4.tags["aART"] = [tags.author]
    if tags.album:
        mp4.tags["©alb"] = [tags.album]
    if tags.year is not None:
        mp4.tags["©day"] = [str(tags.year)]
    if tags.description:
        mp4.tags["desc"] = [tags.description]
    if tags.cover is not None:
        kind = MP4Cover.FORMAT_PNG if tags.cover.mime == "image/png" else MP4Cover.FORMAT_JPEG
        mp4.tags["covr"] = [MP4Cover(tags.cover.data, imageformat=kind)]
    if audiobook:
        mp4.tags["stik"] = [2]  # media kind: audiobook
    mp4.save()
    return path


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def episode_tags(script, folder: Path, allowed: Sequence[Path] = ()) -> EpisodeTags:
    """The tags of a script (a :class:`storyaudio.script.Script`): its title and episode metadata, and its
    cover read from ``folder`` (the script's folder) or an ``allowed`` one. A missing cover, one outside those
    folders or one that is not a JPEG or PNG is a UserError, raised before any audio is made."""
    cover = None
    if script.cover:
        from ..paths import resolve_script_path

        cover = load_cover(resolve_script_path(script.cover, folder, allowed, what="cover"), script.cover)
    return EpisodeTags(script.title, script.author, script.album, script.year, script.description, cover)
