"""The studio's page: Gradio components wired to ``engine`` (the library) and ``table`` (list editing).

The handlers never let an exception reach the page: a user's mistake shows as the library's message (row,
field, fix); anything else as one line, with the traceback in the server's log only.

Labels that tests and users' automation rely on (keep them; the README lists them): the buttons "Write",
"Validate", "Render", "Play row", "Re-render row", "Add row", "Add column", "Delete row"; the file input
"Script file"; the table "Script"; the player "Mix"; the download "Download mix".

A script is more than its table's eight columns: the page keeps its chapters (the table's Chapter column), its
extension columns (after Chapter: those the script uses, and any "Add column" added from the "Extension
column" picker; the ``columns`` state names them), and its episode metadata and script-wide fields (the
Episode fields), so loading, editing, rendering and saving lose none of them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import Problem, ScriptError, StoryAudioError, UserError
from . import engine, table

log = logging.getLogger("storyaudio.studio")

KIND_LABELS = {"speech": "Speech backend", "music": "Music backend", "sound_effect": "Sound effect backend"}
STAGES = ("plan", "clips", "mix", "master", "deliver")
PROBLEM_HEADERS = ["", "Row", "Field", "Problem", "Fix"]
CSS = """
#script-table table { font-size: 0.9em; }
#status p { margin: 0.2em 0; }
"""


# -- helpers --------------------------------------------------------------------------------------------------

def _problem_rows(report: engine.Report) -> list[list[str]]:
    rows = []
    for mark, problems in ((table.ERROR, report.errors), (table.WARNING, report.warnings)):
        for p in problems:
            rows.append([mark, "" if p.row is None else str(p.row), p.field or "", p.message, p.fix or ""])
    return rows


def _summary(report: engine.Report, script=None) -> str:
    if report.errors:
        n = len(report.errors)
        head = f"**✖ {n} problem{'s' if n != 1 else ''} to fix** (rows marked {table.ERROR} in the table)"
    elif script is not None:
        chars = script.characters()
        head = (f"**✓ The script is valid**: {len(script.rows)} rows, {len(chars)} speaking "
                f"character{'s' if len(chars) != 1 else ''}.")
    else:
        head = ""
    if report.warnings:
        n = len(report.warnings)
        head += f" {n} warning{'s' if n != 1 else ''} ({table.WARNING})."
    return head


def _chapter_count(script) -> str:
    """', 3 chapters' for the loaded note ('' without chapters): they are easy to miss in a long table."""
    n = len(script.chapters())
    return f", {n} chapter{'s' if n != 1 else ''} (the Chapter column)" if n else ""


def _error_report(exc: BaseException, field: str = "file") -> engine.Report:
    """Any failure as a report the page shows: the library's problems, a user error's message, or (for a bug)
    one line while the traceback goes to the server's log."""
    if isinstance(exc, ScriptError):
        return engine.Report(errors=list(exc.problems))
    if isinstance(exc, StoryAudioError):
        return engine.Report(errors=[Problem(None, field, str(exc))])
    log.exception("studio: unexpected error")
    return engine.Report(errors=[Problem(None, field, f"unexpected {type(exc).__name__}: {exc}",
                                         "see the studio's terminal for details.")])


def _settings(speech: str, music: str, sfx: str, preset: str, seed: Any, mp3: bool) -> engine.Settings:
    return engine.Settings(use={"speech": speech, "music": music, "sound_effect": sfx}, preset=preset,
                           seed=int(seed or 0), mp3=bool(mp3))


def _loudness_text(info: engine.RenderInfo) -> str:
    lo = info.loudness
    if not lo:
        return ""
    parts = []
    if lo.get("integrated_lufs") is not None:
        target = f" (target {lo['target_lufs']:g})" if lo.get("target_lufs") is not None else ""
        parts.append(f"integrated {lo['integrated_lufs']:.1f} LUFS{target}")
    if lo.get("true_peak_dbtp") is not None:
        parts.append(f"true peak {lo['true_peak_dbtp']:.1f} dBTP")
    if lo.get("loudness_range_lu") is not None:
        parts.append(f"range {lo['loudness_range_lu']:.1f} LU")
    verdict = "pass" if lo.get("pass") else "**FAIL**"
    return f"**Loudness** ({lo.get('preset', '')}: {verdict}): " + ", ".join(parts)


def _progress_text(stage: str, done: int, total: int, started: float, rows: int) -> str:
    """The status line while a render runs: the library's stages in order, the current one in bold with its
    count (clips 3/12), and the seconds so far."""
    elapsed = f" · {time.monotonic() - started:.0f} s"
    count = f" {done}/{total}" if total else ""
    if stage == "queued":
        return "⏳ Queued: another render of this project is running; this one starts when it ends."
    if stage == "package":
        return f"⏳ Packing the zip…{elapsed}"
    if stage not in STAGES:
        return f"⏳ {stage}{count}{elapsed}"
    at = STAGES.index(stage)
    steps = [f"{s} ✓" if i < at else f"**{s}{count}**" if i == at else s for i, s in enumerate(STAGES)]
    return "⏳ " + " → ".join(steps) + elapsed


def _done_text(info: engine.RenderInfo) -> str:
    length = f" · {info.duration:.1f} s of audio" if info.duration is not None else ""
    took = f" · took {info.seconds:.1f} s" if info.seconds is not None else ""
    text = f"✓ **Render {info.id}**: {info.counts}{length}{took}"
    if info.reseed:
        text += " · takes: " + ", ".join(f"row {r} take {t}" for r, t in sorted(info.reseed.items()))
    if info.timings:
        text += " · " + ", ".join(f"{k} {v:.1f} s" for k, v in info.timings.items())
    return text


# -- the page -------------------------------------------------------------------------------------------------

def build(project: engine.Project) -> gr.Blocks:
    """The studio's Blocks for ``project`` (not launched)."""
    choices = engine.backend_choices()
    writer_ok, writer_note = engine.writer_status("")

    with gr.Blocks(title="storyaudio studio", analytics_enabled=False) as demo:
        takes = gr.State({})
        current = gr.State(None)
        gr.Markdown(f"# storyaudio studio\nProject folder `{project.shown}`: the script, and every render in a "
                    "new numbered folder under `renders/`.")

        # Start: write, open or save a script ---------------------------------------------------------------
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, variant="panel"):
                gr.Markdown("### Write")
                prompt = gr.Textbox(label="Prompt", lines=2, placeholder="Mars News: an anchor, then a reporter "
                                    "interviews the chief engineer of the first light-speed probe…")
                with gr.Row():
                    base_url = gr.Textbox(label="Base URL", scale=2, placeholder="empty: $OPENAI_BASE_URL or "
                                          "OpenAI; Ollama: http://localhost:11434/v1")
                    model = gr.Textbox(label="Model", placeholder="empty: gpt-4o-mini, or the server's")
                writer_md = gr.Markdown(writer_note, elem_id="writer-note")
                write_btn = gr.Button("Write", interactive=writer_ok)
            with gr.Column(scale=2, variant="panel"):
                gr.Markdown("### Open")
                upload = gr.File(label="Script file", type="filepath", height=110,
                                 file_types=[".tsv", ".csv", ".json", ".md", ".fountain", ".txt"])
                with gr.Row():
                    news_btn = gr.Button("News example", size="sm")
                    drama_btn = gr.Button("Drama example", size="sm")
            with gr.Column(scale=1, variant="panel"):
                gr.Markdown("### Save")
                save_fmt = gr.Dropdown(list(engine.SAVE_FORMATS), value="TSV", label="Format")
                save_btn = gr.Button("Save script", size="sm")
                saved = gr.File(label="Saved script", interactive=False, height=60, visible=False)

        # Script --------------------------------------------------------------------------------------------
        title = gr.Textbox(label="Title")
        columns = gr.State([])  # the extension columns the table shows after Chapter (those the script uses)
        grid = gr.Dataframe(headers=table.columns(), value=[], type="array", label="Script",
                            interactive=True, static_columns=[0], wrap=True, elem_id="script-table",
                            column_widths=["5%", "9%", "9%", "5%", "11%", "6%", "6%", "33%", "8%", "8%"],
                            max_height=480)
        with gr.Row(equal_height=True):
            row_no = gr.Number(label="Row", precision=0, minimum=1, value=None, min_width=80, scale=0)
            type_dd = gr.Dropdown(list(table.CHOICES["Audio Type"]), label="Audio Type", value=None,
                                  min_width=120)
            layout_dd = gr.Dropdown(list(table.CHOICES["Layout"]), label="Layout", value=None, min_width=120)
            action_dd = gr.Dropdown(list(table.CHOICES["Action"]), label="Action", value=None, min_width=100)
            with gr.Column(scale=2, min_width=260):
                with gr.Row():
                    add_btn = gr.Button("Add row", size="sm")
                    del_btn = gr.Button("Delete row", size="sm")
                with gr.Row():
                    up_btn = gr.Button("Move up", size="sm")
                    down_btn = gr.Button("Move down", size="sm")
            with gr.Column(scale=2, min_width=220):
                column_dd = gr.Dropdown(engine.addable_columns([]), label="Extension column", value=None,
                                        info="an optional column the table does not show yet", min_width=160)
                add_col_btn = gr.Button("Add column", size="sm")
        with gr.Accordion("Cast: descriptions guide casting; a voice pins one", open=False):
            cast = gr.Dataframe(headers=["Character", "Description", "Voice"], value=[], type="array",
                                label="Cast", interactive=True, wrap=True)
            with gr.Row(equal_height=True):
                cast_char = gr.Dropdown([], label="Character", allow_custom_value=True)
                cast_voice = gr.Dropdown(engine.voices(choices["speech"][0] if choices["speech"] else ""),
                                         label="Voice", allow_custom_value=True)
                pin_btn = gr.Button("Pin voice", size="sm")
        with gr.Accordion("Episode: tags for the MP3 and M4B (chapters are the table's Chapter column)",
                          open=False):
            episode = [gr.Textbox(label=f.label, info=f.info or None, lines=3 if f.multi_line else 1,
                                  max_lines=12 if f.multi_line else 1, elem_id=f"episode-{f.key}")
                       for f in engine.episode_fields()]
        validate_btn = gr.Button("Validate")
        summary = gr.Markdown(elem_id="summary")
        problems = gr.Dataframe(headers=PROBLEM_HEADERS, value=[], type="array", label="Problems",
                                interactive=False, wrap=True, column_widths=["4%", "6%", "10%", "45%", "35%"],
                                visible=False, elem_id="problems")

        # Render --------------------------------------------------------------------------------------------
        gr.Markdown("## Render")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, variant="panel"):
                kind_dd = {kind: gr.Dropdown(choices[kind], value=choices[kind][0] if choices[kind] else None,
                                             label=KIND_LABELS[kind]) for kind in engine.KINDS}
                preset = gr.Dropdown(list(engine.PRESETS), value="podcast", label="Preset")
                with gr.Row():
                    seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, min_width=80)
                    mp3 = gr.Checkbox(label="MP3", value=engine.mp3_available(), interactive=engine.mp3_available())
                render_btn = gr.Button("Render", variant="primary")
            with gr.Column(scale=3):
                status = gr.Markdown(elem_id="status")
                mix = gr.Audio(label="Mix", type="filepath", interactive=False, elem_id="mix")
                with gr.Row():
                    dl_mix = gr.DownloadButton("Download mix", interactive=False, size="md")
                    dl_mp3 = gr.DownloadButton("Download MP3", interactive=False, size="md")
                    dl_zip = gr.DownloadButton("Download all (zip)", interactive=False, size="md")
                loudness = gr.Markdown(elem_id="loudness")
                history = gr.Dropdown([], label="Earlier renders", info="pick one to play or download it")
        picture = gr.Image(label="Timeline", type="filepath", interactive=False, height=320)

        # Audition ------------------------------------------------------------------------------------------
        gr.Markdown("## Audition\nPick a row (click a cell of it, or type its number in Row), then play its "
                    "clip from the render shown above, or make a new take of that row alone: every other row "
                    "comes from the clip cache.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                with gr.Row():
                    play_btn = gr.Button("Play row")
                    rerender_btn = gr.Button("Re-render row")
                row_note = gr.Markdown(elem_id="row-note")
            row_audio = gr.Audio(label="Row clip", type="filepath", interactive=False, elem_id="row-clip",
                                 scale=2)

        settings_in = [kind_dd["speech"], kind_dd["music"], kind_dd["sound_effect"], preset, seed, mp3]
        script_in = [grid, title, cast, columns, *episode]
        check_out = [grid, summary, problems, cast_char]

        def _sheet(values) -> engine.Sheet:
            """The page's script (the values of ``script_in``, in order) as the engine's Sheet."""
            rows, ttl, members, extra, *texts = values
            keys = [f.key for f in engine.episode_fields()]
            return engine.Sheet(table.script_rows(rows, extra or []), ttl or "", table.cast_rows(members),
                                list(extra or []), dict(zip(keys, texts)))
        render_out = [status, mix, dl_mix, dl_mp3, dl_zip, loudness, picture, history, current]

        # -- script in and out ----------------------------------------------------------------------------
        def _show_script(script, origin: str = "") -> list:
            sheet = engine.table_from_script(script)
            where = f" from `{origin}`" if origin else ""
            episode_texts = [sheet.episode.get(f.key, "") for f in engine.episode_fields()]
            return [table.view(sheet.rows, sheet.columns), sheet.title, sheet.cast, sheet.columns, *episode_texts,
                    gr.Dropdown(choices=script.characters(), value=None),
                    f"Loaded **{script.title}**{where}: {len(script.rows)} rows{_chapter_count(script)}.",
                    gr.Dataframe(value=[], visible=False), {}, None]

        load_out = [*script_in, cast_char, summary, problems, takes, row_no]

        def _show_error(exc: BaseException, field: str = "file") -> list:
            report = _error_report(exc, field)
            return [gr.skip()] * (len(script_in) + 1) + [
                _summary(report), gr.Dataframe(value=_problem_rows(report), visible=True), gr.skip(), gr.skip()]

        def on_upload(path):
            """Load the file, then empty the input so the next file can be dropped at once."""
            if not path:
                return [gr.skip()] * len(load_out) + [None]
            try:
                return _show_script(engine.read_upload(path), Path(path).name) + [None]
            except Exception as exc:  # noqa: BLE001 - shown in the page, never a traceback
                return _show_error(exc) + [None]

        def on_example(name):
            def load():
                try:
                    return _show_script(engine.example(name), f"{name}.tsv")
                except Exception as exc:  # noqa: BLE001
                    return _show_error(exc)
            return load

        def on_write(text, url, name):
            try:
                return _show_script(engine.write(text, url, name), "the writer")
            except Exception as exc:  # noqa: BLE001
                return _show_error(exc, "writer")

        def on_base_url(url):
            ok, note = engine.writer_status(url)
            return gr.Button(interactive=ok), note

        upload.upload(on_upload, [upload], load_out + [upload])
        news_btn.click(on_example("news"), None, load_out)
        drama_btn.click(on_example("drama"), None, load_out)
        write_btn.click(on_write, [prompt, base_url, model], load_out, concurrency_limit=1, concurrency_id="write")
        base_url.change(on_base_url, [base_url], [write_btn, writer_md])

        def _check(sheet: engine.Sheet, settings: engine.Settings):
            script, report = engine.check(sheet, settings, project.root)
            marked = table.view(sheet.rows, sheet.columns, report.rows("errors"), report.rows("warnings"))
            chars = script.characters() if script is not None else []
            outs = [marked, _summary(report, script),
                    gr.Dataframe(value=_problem_rows(report), visible=bool(report.errors or report.warnings)),
                    gr.Dropdown(choices=chars)]
            return script, report, outs

        def on_validate(*values):
            try:
                n = len(script_in)
                return _check(_sheet(values[:n]), _settings(*values[n:]))[2]
            except Exception as exc:  # noqa: BLE001
                report = _error_report(exc, "settings")
                return [gr.skip(), _summary(report), gr.Dataframe(value=_problem_rows(report), visible=True),
                        gr.skip()]

        validate_btn.click(on_validate, script_in + settings_in, check_out)

        def on_save(*values):
            try:
                *page, fmt = values
                script = engine.script_from_table(_sheet(page))
                path = project.save_script(script, engine.SAVE_FORMATS[fmt])
                return (gr.File(value=str(path), visible=True), f"Saved `{path.name}` in the project folder.",
                        gr.Dataframe(value=[], visible=False))
            except Exception as exc:  # noqa: BLE001
                report = _error_report(exc)
                return gr.skip(), _summary(report), gr.Dataframe(value=_problem_rows(report), visible=True)

        save_btn.click(on_save, script_in + [save_fmt], [saved, summary, problems])

        # -- editing rows ---------------------------------------------------------------------------------
        def on_select(evt: gr.SelectData):
            return evt.index[0] + 1 if isinstance(evt.index, (list, tuple)) else gr.skip()

        def row_fields(rows, n):
            rows = table.script_rows(rows)  # the eight come first: the extension columns do not matter here
            return [table.choice(table.cell(rows, n, col), col) for col in ("Audio Type", "Layout", "Action")]

        grid.select(on_select, None, [row_no])
        row_no.change(row_fields, [grid, row_no], [type_dd, layout_dd, action_dd])

        def set_column(column):
            def handler(rows, extra, n, value):
                rows = table.script_rows(rows, extra)
                try:
                    return table.view(table.set_cell(rows, n, column, value or "N/A"), extra), ""
                except IndexError as exc:
                    return gr.skip(), f"✖ {exc}"
            return handler

        for dd, column in ((type_dd, "Audio Type"), (layout_dd, "Layout"), (action_dd, "Action")):
            dd.input(set_column(column), [grid, columns, row_no, dd], [grid, summary])

        def edit(op, note=lambda rows, n: ""):
            """A row button's handler: ``op`` on the rows, the takes moved with them, and ``note`` (what the
            operation does beyond the obvious, worked out before it runs) in the summary."""
            def handler(rows, extra, n, tk):
                rows = table.script_rows(rows, extra)
                try:
                    said = note(rows, n)
                    new, moved, sel = op(rows, n, tk)
                except IndexError as exc:
                    return gr.skip(), gr.skip(), gr.skip(), f"✖ {exc}"
                return table.view(new, extra), moved, sel, said
            return handler

        edit_in = [grid, columns, row_no, takes]
        edit_out = [grid, takes, row_no, summary]
        add_btn.click(edit(table.insert_row), edit_in, edit_out)
        del_btn.click(edit(table.delete_row, table.delete_note), edit_in, edit_out)
        up_btn.click(edit(lambda r, n, t: table.move_row(r, n, -1, t)), edit_in, edit_out)
        down_btn.click(edit(lambda r, n, t: table.move_row(r, n, +1, t)), edit_in, edit_out)

        def on_add_column(rows, extra, name):
            """The picked extension column after the ones shown, empty in every row; the picker then offers
            the columns still missing."""
            extra = list(extra or [])
            sheet = engine.Sheet(table.script_rows(rows, extra), columns=extra)
            try:
                new = engine.add_column(sheet, name)
            except Exception as exc:  # noqa: BLE001 - a refusal shows in the page, never a traceback
                said = _error_report(exc, "column").errors[0]
                fix = f" Fix: {said.fix}" if said.fix else ""
                return gr.skip(), gr.skip(), gr.skip(), f"✖ {said.message}{fix}"
            return (table.view(new.rows, new.columns), new.columns,
                    gr.Dropdown(choices=engine.addable_columns(new.columns), value=None),
                    engine.column_note(new.columns[-1]))

        add_col_btn.click(on_add_column, [grid, columns, column_dd], [grid, columns, column_dd, summary])
        # a loaded script shows its own extension columns: the picker offers the others
        columns.change(lambda extra: gr.Dropdown(choices=engine.addable_columns(extra or []), value=None),
                       [columns], [column_dd])

        # -- cast -----------------------------------------------------------------------------------------
        def on_speech_backend(name):
            return gr.Dropdown(choices=engine.voices(name), value=None)

        kind_dd["speech"].change(on_speech_backend, [kind_dd["speech"]], [cast_voice])

        def on_pin(members, who, voice):
            members = table.cast_rows(members)
            who = (who or "").strip()
            if not who:
                return gr.skip(), "✖ Pin voice: pick a character first (Validate fills the list)."
            for r in members:
                if r[0] == who:
                    r[2] = voice or ""
                    break
            else:
                members.append([who, "", voice or ""])
            return members, f"Pinned **{who}** to voice `{voice or 'none'}`."

        pin_btn.click(on_pin, [cast, cast_char, cast_voice], [cast, summary])

        # -- rendering ------------------------------------------------------------------------------------
        def _render_updates(info: engine.RenderInfo) -> list:
            renders = project.renders()
            return [
                _done_text(info) + ("" if not info.warnings else "  \n⚠ " + "  \n⚠ ".join(info.warnings)),
                str(info.mix_wav),
                gr.DownloadButton(value=str(info.mix_wav), interactive=True),
                gr.DownloadButton(value=str(info.mix_mp3) if info.mix_mp3 else None, interactive=bool(info.mix_mp3)),
                gr.DownloadButton(value=str(info.zip) if info.zip else None, interactive=bool(info.zip)),
                _loudness_text(info),
                str(info.picture) if info.picture else None,
                gr.Dropdown(choices=[(r.label(), r.id) for r in renders], value=info.id),
                info.id,
            ]

        def _run_render(sheet: engine.Sheet, settings, reseed):
            """Check, then render in a worker thread; yields (check outputs, status text or RenderInfo)."""
            script, report, check_outs = _check(sheet, settings)
            if not report.ok or script is None:
                yield check_outs, "✖ Not rendered: fix the problems listed under Validate first."
                return
            yield check_outs, "⏳ Starting…"
            events: queue.Queue = queue.Queue()
            outcome: dict[str, Any] = {}

            def work():
                try:
                    outcome["info"] = project.render(script, settings, reseed,
                                                     lambda stage, done, total: events.put((stage, done, total)))
                except BaseException as exc:  # noqa: BLE001 - reported in the page
                    outcome["error"] = exc

            started = time.monotonic()
            worker = threading.Thread(target=work, name="studio-render", daemon=True)
            worker.start()
            last, latest = "", ("plan", 0, 0)
            while worker.is_alive() or not events.empty():
                try:
                    latest = events.get(timeout=0.3)
                except queue.Empty:
                    pass
                text = _progress_text(*latest, started, len(script.rows))
                if text != last:
                    last = text
                    yield None, text
            worker.join()
            try:
                project.autosave(script)
            except StoryAudioError as exc:
                log.warning("studio: could not save the project's script: %s", exc)
            if "error" in outcome:
                exc = outcome["error"]
                if not isinstance(exc, StoryAudioError):
                    log.error("studio: render failed", exc_info=exc)
                failed = None
                if isinstance(exc, ScriptError):  # found while placing: mark the rows as Validate does
                    report = engine.Report(errors=list(exc.problems))
                    failed = [table.view(sheet.rows, sheet.columns, report.rows("errors")), _summary(report),
                              gr.Dataframe(value=_problem_rows(report), visible=True), gr.skip()]
                yield failed, f"✖ **Render failed**: {exc}"
            else:
                yield None, outcome["info"]

        def _stream(sheet: engine.Sheet, settings, reseed, extra):
            """Turns _run_render's steps into the outputs render_out + check_out + extra outputs."""
            skip_render = [gr.skip()] * len(render_out)
            for check_outs, step in _run_render(sheet, settings, reseed):
                checked = check_outs if check_outs is not None else [gr.skip()] * len(check_out)
                if isinstance(step, engine.RenderInfo):
                    yield _render_updates(step) + checked + extra(step)
                else:
                    yield [step] + skip_render[1:] + checked + [gr.skip()] * len(extra_out)

        extra_out = [row_audio, row_note, takes]

        def on_render(*values):
            n = len(script_in)
            tk, settings = values[n], values[n + 1:]
            try:
                yield from _stream(_sheet(values[:n]), _settings(*settings), tk, lambda info: [gr.skip()] * 3)
            except Exception as exc:  # noqa: BLE001
                log.exception("studio: render handler failed")
                yield [f"✖ **Render failed**: {type(exc).__name__}: {exc}"] + [gr.skip()] * (
                    len(render_out) - 1 + len(check_out) + len(extra_out))

        def on_rerender(*values):
            sheet = _sheet(values[:len(script_in)])
            tk, n, *settings = values[len(script_in):]
            if n is None or not 1 <= int(n) <= len(sheet.rows):
                yield [gr.skip()] * (len(render_out) + len(check_out)) + [
                    gr.skip(), "✖ Re-render row: pick a row first (click a cell of the row).", gr.skip()]
                return
            n = int(n)
            new_takes = dict(tk or {})
            new_takes[n] = new_takes.get(n, 0) + 1

            def extra(info: engine.RenderInfo):
                clip, content = project.clip(info.id, n)
                note = (f"Row {n}, take {new_takes[n]} (render {info.id}): {content}" if clip else f"✖ {content}")
                return [str(clip) if clip else None, note, new_takes]

            try:
                yield from _stream(sheet, _settings(*settings), new_takes, extra)
            except Exception as exc:  # noqa: BLE001
                log.exception("studio: re-render handler failed")
                yield [f"✖ **Render failed**: {type(exc).__name__}: {exc}"] + [gr.skip()] * (
                    len(render_out) - 1 + len(check_out) + len(extra_out))

        all_out = render_out + check_out + extra_out
        render_btn.click(on_render, script_in + [takes] + settings_in, all_out,
                         concurrency_limit=1, concurrency_id="render")
        rerender_btn.click(on_rerender, script_in + [takes, row_no] + settings_in, all_out,
                           concurrency_limit=1, concurrency_id="render")

        def on_history(render_id):
            try:
                return _render_updates(project.info(render_id))
            except Exception as exc:  # noqa: BLE001
                return [f"✖ {_error_report(exc, 'render').errors[0].message}"] + [gr.skip()] * (len(render_out) - 1)

        history.input(on_history, [history], render_out)

        def on_play(render_id, n):
            if not render_id:
                return None, "✖ Play row: render first; the row's clip comes from the render shown above."
            if n is None:
                return None, "✖ Play row: pick a row first (click a cell of the row)."
            try:
                clip, content = project.clip(render_id, int(n))
            except UserError as exc:
                return None, f"✖ {exc}"
            if clip is None:
                return None, f"✖ {content}"
            return str(clip), f"Row {int(n)} (render {render_id}): {content}"

        play_btn.click(on_play, [current, row_no], [row_audio, row_note])

        # -- the page opens on the project's saved script and latest render ---------------------------------
        def on_load():
            script = project.saved_script()
            renders = project.renders()
            loaded = _show_script(script) if script is not None else [gr.skip()] * len(load_out)
            shown = _render_updates(renders[0]) if renders else [gr.skip()] * len(render_out)
            if renders:
                shown[0] = f"Latest render: {renders[0].label()}"
            return loaded + shown

        demo.load(on_load, None, load_out + render_out)
    return demo


def launch(project: engine.Project, host: str, port: int, auth: tuple[str, str] | None,
           block: bool = True) -> gr.Blocks:
    """Build and start the studio (no share link; uploads capped at 2 MB; files served only from the
    project's own Gradio cache)."""
    demo = build(project)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=host, server_port=port, auth=auth, share=False, inbrowser=False,
                max_file_size=engine.MAX_UPLOAD_BYTES, ssr_mode=False, prevent_thread_lock=not block,
                show_error=False, quiet=True, css=CSS, footer_links=[], enable_monitoring=False,
                mcp_server=False, pwa=False)
    return demo


__all__ = ["build", "launch"]
