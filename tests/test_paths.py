"""Paths a script names resolve inside its folder, and nowhere else unless allowed."""

from __future__ import annotations

import pytest

from storyaudio.errors import UserError
from storyaudio.paths import resolve_script_path, script_folder


def test_relative_paths_start_at_the_script_folder_and_stay_inside(tmp_path):
    show = tmp_path / "show"
    (show / "audio").mkdir(parents=True)
    (show / "audio" / "intro.wav").write_bytes(b"x")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "jingle.wav").write_bytes(b"y")
    assert script_folder(show / "show.tsv") == show
    assert resolve_script_path("audio/intro.wav", show) == (show / "audio" / "intro.wav").resolve()
    for name in ("../elsewhere/jingle.wav", str(outside / "jingle.wav")):
        with pytest.raises(UserError, match="outside the script's folder.*--allow-path"):
            resolve_script_path(name, show, row=3)
    assert resolve_script_path("../elsewhere/jingle.wav", show, [outside]).name == "jingle.wav"
    (show / "link.wav").symlink_to(outside / "jingle.wav")
    with pytest.raises(UserError, match="outside"):
        resolve_script_path("link.wav", show)
    with pytest.raises(UserError, match="row 2: the file 'audio/missing.wav' does not exist"):
        resolve_script_path("audio/missing.wav", show, row=2)
