"""Backend registry.

Built-in backends register exactly like third-party ones: by name, as a ``"module:Class"`` reference that is
imported only when the backend is used. Other packages add backends through the entry-point group
``storyaudio.backends`` (``name = "package.module:BackendClass"``).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from importlib.metadata import entry_points

from pydantic import ValidationError

from ..errors import OptionError, UnknownBackendError
from .base import KINDS, Backend, Clip, Event, Match, NoOptions, Voice

__all__ = [
    "KINDS", "Backend", "Clip", "Event", "Match", "NoOptions", "Voice",
    "DEFAULTS", "available_backends", "get_backend_class", "create_backend", "build_backend", "parse_set_options",
]

ENTRY_POINT_GROUP = "storyaudio.backends"

#: name -> "module:Class"; imported lazily.
BUILTIN: dict[str, str] = {
    "piper": "storyaudio.backends.speech.piper:PiperBackend",
    "espeak": "storyaudio.backends.speech.espeak:EspeakBackend",
    "composer": "storyaudio.backends.composer:ComposerBackend",
    "foley": "storyaudio.backends.foley:FoleyBackend",
    "bark": "storyaudio.backends.bark:BarkBackend",
    "musicgen": "storyaudio.backends.musicgen:MusicGenBackend",
    "audioldm2": "storyaudio.backends.audioldm2:AudioLDM2Backend",
    "tone": "storyaudio.backends.tone:ToneBackend",
    "clipsonic": "storyaudio.backends.clipsonic:ClipSonicBackend",
}

#: The embedded backends every user meets first.
DEFAULTS: dict[str, str] = {"speech": "piper", "music": "composer", "sound_effect": "foley"}


@lru_cache(maxsize=1)
def _plugin_references() -> tuple[tuple[str, str], ...]:
    """``(name, "module:Class")`` of every installed entry point (scanned once per process)."""
    return tuple((ep.name, ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP))


def _references() -> dict[str, str]:
    refs = dict(BUILTIN)
    for name, value in _plugin_references():
        refs.setdefault(name, value)
    return refs


def _load(ref: str) -> type[Backend]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def available_backends() -> dict[str, type[Backend]]:
    """Every registered backend class by name (built-ins first, then entry points), skipping ones whose
    module cannot even be imported (their error shows when one is asked for by name)."""
    out: dict[str, type[Backend]] = {}
    for name, ref in _references().items():
        try:
            out[name] = _load(ref)
        except Exception:  # noqa: BLE001 - a broken plugin must not hide the others
            continue
    return out


def get_backend_class(name: str, kind: str | None = None) -> type[Backend]:
    refs = _references()
    if name not in refs:
        known = ", ".join(sorted(refs))
        raise UnknownBackendError(
            f"unknown backend '{name}'. Known backends: {known}. Run 'storyaudio backends' to see them all."
        )
    cls = _load(refs[name])
    if kind is not None and kind not in cls.kinds:
        raise UnknownBackendError(
            f"backend '{name}' renders {', '.join(cls.kinds)}, not {kind}. "
            f"Choose one that does ('storyaudio backends' lists them)."
        )
    return cls


def create_backend(name: str, kind: str | None = None, options: dict | None = None) -> Backend:
    """Build a backend with validated options. Missing dependencies are reported by the backend itself
    when it first loads what it needs (``BackendUnavailableError``)."""
    return build_backend(get_backend_class(name, kind), options, name)


def build_backend(cls: type[Backend], options: dict | None = None, name: str | None = None) -> Backend:
    """Build an already looked-up backend class with validated options (``name`` is the registered name,
    for the error message; default ``cls.name``)."""
    name = name or cls.name
    try:
        opts = cls.Options(**(options or {}))
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}" for err in exc.errors()
        )
        fields = ", ".join(cls.Options.model_fields) or "none"
        raise OptionError(f"bad option for backend '{name}': {details}. Its options: {fields}.") from None
    return cls(opts)


def parse_set_options(pairs: list[str]) -> dict[str, dict[str, str]]:
    """``["piper.length_scale=1.1", "composer.tempo=90"]`` -> ``{"piper": {"length_scale": "1.1"}, ...}``.
    Values stay strings; the backend's pydantic Options model converts and validates them."""
    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        name, dot, opt = key.partition(".")
        if not eq or not dot or not name or not opt:
            raise OptionError(f"--set '{pair}' is not of the form NAME.key=value (e.g. --set piper.length_scale=1.1).")
        out.setdefault(name.strip(), {})[opt.strip()] = value.strip()
    return out
