"""storyaudio: turn a scene prompt or an audio script into finished, loudness-correct audio.

The public API (imported lazily, so ``import storyaudio`` stays cheap):

- :func:`render` (script in, files out), :class:`RenderConfig`, :class:`RenderResult`, and :func:`check` (what
  render would refuse, and the warnings), from :mod:`storyaudio.pipeline`;
- :class:`Script`, :func:`read_script`, :func:`write_script`, :func:`load_schema`;
- :class:`Backend`, :class:`Clip`, :class:`Event`, :class:`Voice`: the backend contract;
- the error tree in :mod:`storyaudio.errors`.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "render": "storyaudio.pipeline", "check": "storyaudio.pipeline",
    "RenderConfig": "storyaudio.pipeline", "RenderResult": "storyaudio.pipeline",
    "Script": "storyaudio.script", "read_script": "storyaudio.script", "write_script": "storyaudio.script",
    "load_schema": "storyaudio.script",
    "Backend": "storyaudio.backends.base", "Clip": "storyaudio.backends.base", "Event": "storyaudio.backends.base",
    "Voice": "storyaudio.backends.base",
    "StoryAudioError": "storyaudio.errors", "UserError": "storyaudio.errors", "ScriptError": "storyaudio.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'storyaudio' has no attribute {name!r}")
