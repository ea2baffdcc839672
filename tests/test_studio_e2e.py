"""The studio end to end in a real browser: Debian's Chromium driven by Playwright for Python.

``storyaudio studio`` runs as its own process on a free port with a fresh project folder and a private clip
cache. The test uploads examples/news.tsv through "Script file", chooses the ``tone`` test backends in the
page (instant, so the suite stays fast; the embedded ones go through the same library call), clicks Render,
edits one speech cell, renders again, downloads the mix from "Download mix", and checks that the second render
took every unedited row from the cache. Then it re-renders one row, plays it, uploads a broken script to see
its validation message in the page, and uploads examples/night-ferry.tsv to see its chapters in the Chapter
column and save them, with its episode metadata, after editing one and adding a Pan column ("Add column") with
one row's pan set. No request may leave 127.0.0.1.

The page is saved as a screenshot (``docs/studio.png`` with STORYAUDIO_SCREENSHOT=1, which refreshes the
README's picture; otherwise in the test's temporary folder, so a test run leaves the repository as it was).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from storyaudio.script import read_script

if importlib.util.find_spec("gradio") is None:  # the studio process imports it; this one need not
    pytest.skip("the studio needs gradio: pip install -e '.[studio]' (the dev extra has it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra has it)")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("STORYAUDIO_CHROMIUM", "/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
EDITED_ROW = 14  # the closing line of the news: a speech row under no background track
NEW_TEXT = "That is all from Mars News tonight. Good night."
PANNED_ROW = 3  # night-ferry's first narrator line

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/setup.sh --dev does)",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def studio(tmp_path):
    """A running studio: (url, project folder). Stopped (its own process, by pid) at the end."""
    port = _free_port()
    project = tmp_path / "outputs" / "studio"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    log = open(tmp_path / "studio.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "storyaudio", "studio", "--project", "outputs/studio",
                             "--port", str(port)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the studio exited with {proc.returncode}: {(tmp_path / 'studio.log').read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the studio did not answer within 120 s: {(tmp_path / 'studio.log').read_text()}")
        time.sleep(0.5)
    try:
        yield url, project
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def page(tmp_path):
    """A fresh headless Chromium page (its own profile folder) that records every request it makes."""
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS,
            viewport={"width": 1280, "height": 900}, accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        pg.requests = []
        pg.on("request", lambda r: pg.requests.append(r.url))
        try:
            yield pg
        finally:
            context.close()


def choose(page, label: str, option: str) -> None:
    """Pick an option of the dropdown labelled ``label``."""
    box = page.get_by_label(label, exact=True)
    box.click()
    page.locator(f"#{box.get_attribute('aria-controls')} [role=option][aria-label='{option}']").click()


def upload(page, path: Path) -> None:
    """Drop a file on the "Script file" input."""
    page.locator(".block", has=page.get_by_text("Script file", exact=True)).locator(
        "input[type=file]").first.set_input_files(str(path))


def status(page) -> str:
    return page.locator("#status").inner_text()


def wait_for_render(page, number: str, timeout_s: float = 150) -> str:
    """Wait until the status line reports render ``number`` finished (or a failure); return its text."""
    page.get_by_text(f"Render {number}", exact=True).or_(page.get_by_text("Render failed")).first.wait_for(
        timeout=timeout_s * 1000)
    text = status(page)
    assert f"Render {number}" in text, text
    return text


def mix_source(page) -> str:
    """The URL the Mix player loads its audio from (empty while it has none)."""
    link = page.locator("#mix a[data-testid=download-link]")
    return link.get_attribute("href") if link.count() else ""


def edit_cell(page, row: int, column: int, text: str) -> None:
    """Replace one cell of the Script table (row 1-based, column 0 is the marker column)."""
    cell = page.get_by_role("grid", name="Script").get_by_test_id(f"cell-{row - 1}-{column}")
    cell.scroll_into_view_if_needed()
    # centred in the table's own scroll area too: scrolled up to, a cell would sit under the sticky header
    cell.evaluate("el => el.scrollIntoView({block: 'center'})")
    cell.dblclick()
    editor = page.get_by_label("Edit cell")
    editor.fill(text)
    editor.press("Enter")
    sync_api.expect(cell).to_contain_text(text)


def meta(project: Path, render_id: str) -> dict:
    return json.loads((project / "renders" / render_id / "studio.json").read_text())


def test_upload_edit_render_download_rerender(studio, page, tmp_path):
    url, project = studio
    expect = sync_api.expect
    page.goto(url)

    # 1. Upload the news example through the "Script file" input; the table fills.
    upload(page, ROOT / "examples" / "news.tsv")
    table = page.get_by_role("grid", name="Script")
    expect(table.get_by_test_id("cell-0-1")).to_have_text("Music")
    expect(page.get_by_label("Title")).to_have_value("Mars News: the light-speed probe")

    # 2. The tone backends, chosen in the page (and no MP3, to save time); then the first render.
    for label in ("Speech backend", "Music backend", "Sound effect backend"):
        choose(page, label, "tone")
    page.get_by_label("MP3").uncheck()
    page.get_by_role("button", name="Render", exact=True).click()
    first = wait_for_render(page, "001")
    page.locator("#mix a[data-testid=download-link]").wait_for()  # the Mix player has its source...
    page.locator("#mix audio[src^='blob:']").wait_for(state="attached")  # ...and its waveform loaded it
    first_source = mix_source(page)
    assert "mix.wav" in first_source
    timeline = json.loads((project / "renders" / "001" / "timeline.json").read_text())
    event_rows = sorted(e["row"] for e in timeline["events"])
    assert meta(project, "001")["rendered_rows"] == event_rows, first  # a fresh cache: every clip made

    # 3. Edit one speech cell and render again: only that row is rendered; the mix player gets the new mix.
    edit_cell(page, EDITED_ROW, 7, NEW_TEXT)
    page.get_by_role("button", name="Render", exact=True).click()
    second = wait_for_render(page, "002")
    page.wait_for_function("(old) => { const a = document.querySelector('#mix a[data-testid=download-link]');"
                           " return a && a.href !== old; }", arg=first_source)
    assert "mix.wav" in mix_source(page)
    info = meta(project, "002")
    assert info["rendered_rows"] == [EDITED_ROW]
    assert info["cached_rows"] == [r for r in event_rows if r != EDITED_ROW]
    assert f"rendered 1, from cache {len(event_rows) - 1}" in second
    script = json.loads((project / "renders" / "002" / "script.json").read_text())
    assert script["rows"][EDITED_ROW - 1]["content"] == NEW_TEXT
    assert (project / "renders" / "001" / "mix.wav").is_file()  # the first render is kept

    # 4. Download the mix: the second render's master, whole.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download mix").click()
    saved = tmp_path / "downloaded.wav"
    download.value.save_as(saved)
    assert saved.read_bytes() == (project / "renders" / "002" / "mix.wav").read_bytes()
    audio, rate = sf.read(saved, always_2d=True)
    assert rate == 48000 and audio.shape[1] == 2
    assert np.sqrt(np.mean(audio ** 2)) > 0.01  # a mix, not silence

    # 5. The screenshot the README shows.
    shot = ROOT / "docs" / "studio.png" if os.environ.get("STORYAUDIO_SCREENSHOT") == "1" else tmp_path / "studio.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000

    # 6. A new take of the edited row alone, then play it.
    expect(page.get_by_label("Row", exact=True)).to_have_value(str(EDITED_ROW))  # picked by the edit
    page.get_by_role("button", name="Re-render row").click()
    third = wait_for_render(page, "003")
    info = meta(project, "003")
    assert info["rendered_rows"] == [EDITED_ROW] and info["reseed"] == {str(EDITED_ROW): 1}, third
    expect(page.locator("#row-note")).to_contain_text(f"Row {EDITED_ROW}, take 1 (render 003)")
    page.get_by_role("button", name="Play row").click()
    expect(page.locator("#row-note")).to_contain_text(f"Row {EDITED_ROW} (render 003)")
    page.wait_for_function("() => { const a = document.querySelector('#row-clip a[data-testid=download-link]');"
                           " return a && a.href.includes('row014-speech.wav'); }")

    # 7. A broken upload: the validation message (row, field, fix) in the page, the table untouched.
    bad = tmp_path / "broken.tsv"
    bad.write_text("Audio Type\tLayout\tID\tCharacter\tVolume\tAction\tContent Description\tDuration\n"
                   "Speech\tBackground\t1\tHost\t-15\tBegin\tHello there.\tAuto\n", encoding="utf-8")
    upload(page, bad)
    problems = page.get_by_role("grid", name="Problems")
    expect(problems).to_contain_text("speech is foreground only")
    expect(problems).to_contain_text("make it a foreground row")
    expect(problems).to_contain_text("layout")
    expect(page.locator("#summary")).to_contain_text("problem")
    assert "Traceback" not in page.content()
    expect(table.get_by_test_id(f"cell-{EDITED_ROW - 1}-7")).to_contain_text(NEW_TEXT)

    # 8. A script with chapters and episode metadata: the chapters show in the Chapter column (column 9), and
    # a chapter edited there and the metadata reach the saved script; so does a Pan column added from the page
    # (column 10) with one row's cell set.
    upload(page, ROOT / "examples" / "night-ferry.tsv")
    expect(page.locator("#summary")).to_contain_text("3 chapters")
    expect(table.get_by_test_id("cell-0-9")).to_have_text("Last Crossing")
    edit_cell(page, 6, 9, "Below Deck")
    choose(page, "Extension column", "Pan")
    page.get_by_role("button", name="Add column").click()
    expect(page.locator("#summary")).to_contain_text("Added the Pan column")
    expect(table.get_by_role("columnheader").filter(has_text="Pan")).to_have_count(1)
    edit_cell(page, PANNED_ROW, 10, "-0.5")
    page.get_by_role("button", name="Save script").click()
    expect(page.locator("#summary")).to_contain_text("Saved script.tsv")
    saved = (project / "script.tsv").read_text(encoding="utf-8")
    for line in ("# Chapter: Last Crossing", "# Chapter: Below Deck", "# Chapter: Into the Fog",
                 "# Author: storyaudio examples", "# Year: 2025", "# Cover: night-ferry-cover.png"):
        assert f"\n{line}\n" in saved, line
    rows = read_script(project / "script.tsv").rows
    assert [n for n, r in enumerate(rows, start=1) if r.extra] == [PANNED_ROW]
    assert rows[PANNED_ROW - 1].extra == {"pan": -0.5} and rows[5].chapter == "Below Deck"

    # Nothing left this machine.
    outside = [u for u in page.requests if not u.startswith(("http://127.0.0.1", "blob:", "data:"))]
    assert outside == []
