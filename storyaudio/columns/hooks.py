"""The calls a render makes into the installed extensions, one method per stage (:class:`Hooks`).

The pipeline builds one :class:`Hooks` per render and calls it at each stage; it never names an extension or a
column. An extension's hook runs on a row only when the extension applies to that row
(:meth:`~storyaudio.columns.base.Extension.applies`), and only the hooks it overrides are called, in registry
order (:data:`storyaudio.columns.BUILTIN`, then plugins by name), each on what the one before returned.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from pydantic import ValidationError

from ..errors import OptionError, Problem, RenderError, ScriptError, StoryAudioError
from . import registry
from .base import Context, Extension

if TYPE_CHECKING:
    from ..backends.base import Backend, Clip
    from ..backends.base import Event as Ask
    from ..mix.mixer import Source
    from ..script.model import Script
    from ..timeline import PlacedEvent, Plan, RenderedClip, Timeline


#: The hooks an extension may override, by the stage that calls them (``rules`` runs whenever a script is read).
_HOOKS = ("prepare", "plan", "request", "render", "clip", "place", "mix", "deliver")


class Hooks:
    """The installed extensions, set up for one render of ``script``.

    ``settings`` maps an extension's name to its settings (``RenderConfig.extensions``); ``base_dir`` is the
    folder the script's paths start from, ``allow_paths`` the other folders it may name files in.
    """

    def __init__(self, script: "Script", settings: Mapping[str, Mapping[str, Any]] | None, sample_rate: int,
                 base_dir: Path, allow_paths: Iterable[Path] = ()):
        reg = registry()
        settings = dict(settings or {})
        names = [cls.name for cls in reg.extensions]
        for name in settings:
            if name not in names:
                raise OptionError(f"settings for unknown extension '{name}'. Installed extensions: "
                                  f"{', '.join(names) or 'none'} ('storyaudio columns' lists them)."
                                  f"{reg.why_missing()}")
        self.extensions: list[Extension] = [cls(_settings(cls, settings.get(cls.name))) for cls in reg.extensions]
        self.script = script
        self.ctx = Context(script, sample_rate, Path(base_dir), tuple(Path(p) for p in allow_paths))
        self._has = {id(e): {h for h in _HOOKS if e.overrides(h)} for e in self.extensions}
        self._makers: dict[int, Extension] = {}
        renderers = [e for e in self.extensions if "render" in self._has[id(e)]]
        problems = []
        for n, row in enumerate(script.rows, start=1):
            makers = [e for e in renderers if e.applies(row)]
            if len(makers) > 1:
                problems.append(Problem(n, None, f"{' and '.join(e.name for e in makers)} would each make this "
                                        "row's audio.", "set the column of only one of them on this row."))
            elif makers:
                self._makers[n] = makers[0]
        if problems:
            raise ScriptError(problems)
        self._active: dict[int, list[tuple[Extension, dict[str, Any]]]] = {}

    # -- prepare ------------------------------------------------------------------------------------------
    @property
    def made_rows(self) -> dict[int, str]:
        """Rows an extension makes instead of a backend: row -> the extension's name."""
        return {n: e.name for n, e in self._makers.items()}

    def prepare(self, backends: Mapping[str, "Backend"]) -> list[Problem]:
        """Tell the extensions the render's backends and let each prepare (find files, load data); returns
        their warnings, raises what stops the render."""
        self.ctx = replace(self.ctx, backends=dict(backends))
        warnings: list[Problem] = []
        for e in self.extensions:
            with _guard(e):
                warnings += e.prepare(self.ctx)
        for n, row in enumerate(self.script.rows, start=1):
            active = [(e, e.values(row)) for e in self.extensions if e.applies(row)]
            if active:
                self._active[n] = active
        return warnings

    def _on(self, row: int, hook: str) -> list[tuple[Extension, dict[str, Any]]]:
        return [(e, v) for e, v in self._active.get(row, ()) if hook in self._has[id(e)]]

    # -- plan ---------------------------------------------------------------------------------------------
    def plan(self, plan: "Plan") -> "Plan":
        """The plan with each event as the extensions that apply to its row changed it."""
        events = []
        for ev in plan.events:
            for e, values in self._on(ev.row, "plan"):
                with _guard(e, ev.row):
                    ev = e.plan(ev, values, self.ctx)
            events.append(ev)
        return replace(plan, events=tuple(events))

    def request(self, ask: "Ask") -> "Ask":
        """What the backend is asked for a row, as the extensions changed it (the text, the length)."""
        for e, values in self._on(ask.row, "request"):
            with _guard(e, ask.row):
                ask = e.request(ask, values, self.ctx)
        return ask

    def place(self, timeline: "Timeline") -> "Timeline":
        """The timeline with each placed event as the extensions changed it (start, end, fades)."""
        events: list["PlacedEvent"] = []
        problems: list[Problem] = []
        changed = False
        for ev in timeline.events:
            for e, values in self._on(ev.row, "place"):
                try:
                    with _guard(e, ev.row):
                        new = e.place(ev, values, self.ctx)
                except ScriptError as exc:
                    problems += exc.problems
                    continue
                changed = changed or new != ev
                ev = new
            events.append(ev)
        if problems:
            raise ScriptError(problems)
        if not changed:
            return timeline
        return replace(timeline, events=tuple(events), duration=max(e.end for e in events))

    # -- clips --------------------------------------------------------------------------------------------
    def maker(self, ask: "Ask") -> "_Maker | None":
        """What makes this row's clip when an extension does (a backend-like object), else None."""
        ext = self._makers.get(ask.row)
        if ext is None:
            return None
        values = next(v for e, v in self._active[ask.row] if e is ext)
        return _Maker(ext, values, self.ctx)

    def make_key(self, ask: "Ask") -> dict[str, Any] | None:
        """The cache-key parts of a clip an extension makes (None when a backend makes it)."""
        ext = self._makers.get(ask.row)
        if ext is None:
            return None
        values = next(v for e, v in self._active[ask.row] if e is ext)
        return _key_part(ext, ask, values, self.ctx)

    def transform_key(self, ask: "Ask", base_key: str) -> str | None:
        """The cache key of a clip after the extensions' ``clip`` hooks (None when none applies)."""
        parts = [_key_part(e, ask, v, self.ctx) for e, v in self._on(ask.row, "clip")]
        if not parts:
            return None
        blob = json.dumps({"base": base_key, "transforms": parts}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:40]

    def clip(self, ask: "Ask", clip: "Clip") -> "Clip":
        """The clip after every ``clip`` hook that applies to its row (same rate; a new Clip)."""
        import numpy as np

        from ..backends.base import Clip

        hooks = self._on(ask.row, "clip")
        if not hooks:
            return clip
        audio = clip.audio
        for e, values in hooks:
            with _guard(e, ask.row):
                audio = np.asarray(e.clip(audio, clip.sample_rate, ask, values, self.ctx), dtype=np.float32)
            if audio.ndim != 2 or audio.shape[0] not in (1, 2) or not np.all(np.isfinite(audio)):
                raise RenderError(f"the '{e.name}' extension returned {audio.shape} audio or samples that are not "
                                  "finite; it must return (channels, samples) float32.", row=ask.row)
        applied = {e.name: dict(values) for e, values in hooks}
        said = ", ".join(f"{name} {' '.join(_word(v) for v in values.values())}" for name, values in applied.items())
        return Clip(audio, clip.sample_rate, f"{clip.detail}, then {said}" if clip.detail else said,
                    {**clip.info, "columns": applied}, clip.level_db)

    # -- mix and deliver ----------------------------------------------------------------------------------
    def mix(self, event: "PlacedEvent", source: "Source") -> "Source":
        for e, values in self._on(event.row, "mix"):
            with _guard(e, event.row):
                source = e.mix(source, event, values, self.ctx)
        return source

    def deliver(self, folder: Path, timeline: "Timeline", clips: Mapping[int, "RenderedClip"],
                taken: Iterable[str]) -> dict[str, Path]:
        """Files the extensions add to the output folder (``taken``: the names the core wrote)."""
        out: dict[str, Path] = {}
        taken = set(taken)
        for e in self.extensions:
            if "deliver" not in self._has[id(e)]:
                continue
            with _guard(e):
                made = e.deliver(folder, timeline, clips, self.ctx)
            for name, path in made.items():
                if name in taken or name in out:
                    raise RenderError(f"the '{e.name}' extension delivers '{name}', a file another part of "
                                      "storyaudio writes; it must choose another name.")
                out[name] = path
        return out


class _Maker:
    """An extension that makes a row's clip, shaped as the clip renderer sees a backend."""

    thread_safe = True
    batch_size = 1

    def __init__(self, ext: Extension, values: dict[str, Any], ctx: Context):
        self.ext, self.values, self.ctx = ext, values, ctx
        self.name = f"'{ext.name}' extension's"

    def render(self, ask: "Ask", sample_rate: int) -> "Clip":
        return self.ext.render(ask, sample_rate, self.values, self.ctx)

    def render_batch(self, asks, sample_rate: int) -> list["Clip"]:
        return [self.render(a, sample_rate) for a in asks]

    def input_files(self, ask: "Ask", resolve) -> list:
        return []  # the extension keys its own files (cache_fields)


def _key_part(ext: Extension, ask: "Ask", values: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """Everything of an extension that determines a clip it makes or transforms."""
    from ..fingerprint import code_fingerprint

    return {"extension": ext.name, "version": ext.version, "code": code_fingerprint(type(ext).__module__),
            "settings": ext.settings.model_dump(mode="json"), "values": dict(values),
            "event": ask.cache_fields(), "more": ext.cache_fields(ask, values, ctx)}


@contextmanager
def _guard(ext: Extension, row: int | None = None) -> Iterator[None]:
    """An extension's bug (not a StoryAudioError it raises on purpose) as a RenderError naming it and the row."""
    try:
        yield
    except StoryAudioError:
        raise
    except Exception as exc:
        raise RenderError(f"the '{ext.name}' extension failed: {type(exc).__name__}: {exc}", row=row) from exc


def _word(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _settings(cls: type[Extension], given: Mapping[str, Any] | None):
    try:
        return cls.Settings(**(given or {}))
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
                            for err in exc.errors())
        fields = ", ".join(cls.Settings.model_fields) or "none"
        raise OptionError(f"bad setting for extension '{cls.name}': {details}. Its settings: {fields}.") from None
