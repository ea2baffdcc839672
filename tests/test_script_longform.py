"""Chapters and episode metadata (issue 15, the script side): read from every format, kept by the model,
written back by every writer, checked by the rules."""

from __future__ import annotations

import pytest
from helpers import row

from storyaudio.errors import ScriptError
from storyaudio.script import HEADERS, Script, check, parse_script_text, read_script, script_to_text, write_script

TSV = """\
# Title: The Keeper
# Author: Jane Doe
# Show: Harbour Tales
# Year: 2024
# Cover: art/cover.jpg
# Description: Three short chapters about a storm.
# Cast: Tom | gruff old man | N/A
{header}
# Chapter: The Storm
Sound effect\tBackground\t1\tN/A\t-30\tBegin\tRain on a harbour.\tAuto
Speech\tForeground\tN/A\tTom\t-15\tN/A\tThe storm came at dusk.\tAuto
# a note, not a chapter
Speech\tForeground\tN/A\tTom\t-15\tN/A\tHold the light.\tAuto
# Chapter: The Boat
Sound effect\tBackground\t1\tN/A\tN/A\tEnd\tN/A\tN/A
Speech\tForeground\tN/A\tTom\t-15\tN/A\tThere, a boat!\tAuto
# Chapter: Morning
Music\tForeground\tN/A\tN/A\t-18\tN/A\tA hopeful ending.\t5
""".format(header="\t".join(HEADERS))


def keeper(tmp_path) -> Script:
    path = tmp_path / "keeper.tsv"
    path.write_text(TSV)
    return read_script(path)


def test_chapters_and_metadata_read_from_comment_lines(tmp_path):
    s = keeper(tmp_path)
    assert s.chapters() == [(1, "The Storm"), (4, "The Boat"), (6, "Morning")]
    assert s.chapter_ranges() == [(1, 3, "The Storm"), (4, 5, "The Boat"), (6, 6, "Morning")]
    assert [r.chapter for r in s.rows] == ["The Storm", None, None, "The Boat", None, "Morning"]
    assert (s.author, s.album, s.year, s.cover, s.description) == (
        "Jane Doe", "Harbour Tales", 2024, "art/cover.jpg", "Three short chapters about a storm.")
    data = s.to_dict()
    assert list(data)[:7] == ["title", "author", "album", "year", "cover", "description", "cast"]
    assert data["rows"][0]["chapter"] == "The Storm" and "chapter" not in data["rows"][1]


@pytest.mark.parametrize("ext", [".json", ".tsv", ".csv", ".md"])
def test_every_writer_writes_chapters_and_metadata_back(tmp_path, ext):
    s = keeper(tmp_path)
    path = write_script(s, tmp_path / f"out{ext}")
    text = path.read_text()
    again = read_script(path)
    assert again.to_dict() == s.to_dict()
    if ext in (".tsv", ".csv"):
        assert "# Chapter: The Boat\n" in text and "# Album: Harbour Tales\n" in text and "# Year: 2024\n" in text
    if ext == ".md":
        assert "\n## Chapter: The Boat\n" in text and "| Author | Jane Doe |" in text
        assert text.count("| Audio Type |") == 3  # each segment is a whole Markdown table


def test_markdown_chapters_between_table_segments(tmp_path):
    head = "| " + " | ".join(HEADERS) + " |\n|" + "---|" * 8 + "\n"
    md = ("# Night Shift\n\nAuthor: Sam\n\n## Chapter: Arrival\n\n" + head +
          "| Speech | Foreground | N/A | Ann | -15 | N/A | We're here. | Auto |\n\n"
          "### Chapter: Inside\n\n"  # no header repeated: the rows continue the table above
          "| Speech | Foreground | N/A | Ann | -15 | N/A | It's dark. | Auto |\n"
          "| Sound effect | Foreground | N/A | N/A | -20 | N/A | A door creaks. | 2 |\n")
    s = Script.from_dict(parse_script_text(md, "md", "night.md"))
    assert s.title == "Night Shift" and s.author == "Sam"
    assert s.chapters() == [(1, "Arrival"), (2, "Inside")] and len(s.rows) == 3


def test_json_chapter_key_is_optional_and_null_is_no_chapter():
    data = {"title": "t", "album": None, "rows": [row(content="a"), {**row(content="b"), "chapter": "Two"},
                                                  {**row(content="c"), "chapter": None}]}
    s = Script.from_dict(data)
    assert s.chapters() == [(2, "Two")] and s.album is None
    assert [("chapter" in r) for r in s.to_dict()["rows"]] == [False, True, False]
    assert "album" not in s.to_dict()


@pytest.mark.parametrize("mutate, where, words", [
    (lambda d: d["rows"][0].update(chapter="x" * 201), (1, "chapter"), "longer than 200"),
    (lambda d: d["rows"][0].update(chapter=" \n "), (1, "chapter"), "empty"),
    (lambda d: d.update(year=24), (None, "year"), "1000"),
    (lambda d: d.update(year="2024"), (None, "year"), "integer"),
    (lambda d: d.update(author="a" * 201), (None, "author"), "longer than 200"),
    # a chapter that holds only background rows would last no time
    (lambda d: d["rows"].insert(0, {**row("music", "background", 7, None, -30, "begin", "bed", 3), "chapter": "Empty"}),
     (1, "chapter"), "no foreground row"),
    (lambda d: d["rows"][2].update(chapter="Last"), (3, "chapter"), "no foreground row"),
])
def test_bad_chapters_and_metadata_name_the_row_field_and_fix(mutate, where, words):
    data = {"title": "t", "rows": [{**row(content="a"), "chapter": "One"}, row(content="b"),
                                   row("music", "background", 9, None, -30, "begin", "A last chord.", 3)]}
    assert check(data) == []
    mutate(data)
    hits = [p for p in check(data) if (p.row, p.field) == where]
    assert hits, [str(p) for p in check(data)]
    assert words in hits[0].message and hits[0].fix


def test_table_chapter_lines_that_cannot_start_a_chapter_are_errors(tmp_path):
    path = tmp_path / "s.tsv"
    body = "Speech\tForeground\tN/A\tAnn\t-15\tN/A\tHi.\tAuto\n"
    path.write_text("\t".join(HEADERS) + "\n" + body + "# Chapter: Dangling\n")
    with pytest.raises(ScriptError, match="chapter 'Dangling' has no rows after it"):
        read_script(path)
    path.write_text("\t".join(HEADERS) + "\n# Chapter: A\n# Chapter: B\n" + body)
    with pytest.raises(ScriptError, match=r"two chapters start at this row \('A' and 'B'\)"):
        read_script(path)
    path.write_text("\t".join(HEADERS) + "\n# Chapter:\n" + body)
    with pytest.raises(ScriptError, match="has no title"):
        read_script(path)


def test_a_chapter_line_above_the_header_starts_at_row_one(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("# Chapter: Opening\n" + ",".join(HEADERS) + "\nSpeech,Foreground,N/A,Ann,-15,N/A,Hi.,Auto\n")
    assert read_script(path).chapters() == [(1, "Opening")]


def test_metadata_survive_json_and_markdown_with_awkward_text():
    s = Script.from_dict({"title": "t", "author": "A | B \\ C", "description": "Line one.\nLine two.", "cover": "N/A",
                          "rows": [row(content="hi")]})
    assert s.description == "Line one. Line two."
    for fmt in ("json", "tsv", "csv", "md"):
        assert Script.from_dict(parse_script_text(script_to_text(s, fmt), fmt)).to_dict() == s.to_dict(), fmt
