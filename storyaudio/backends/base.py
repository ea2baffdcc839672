"""The backend contract: one event and an explicit sample rate in, one clip out.

A backend is small:

* ``name`` (what ``--use KIND=NAME`` says), ``kinds`` (which audio types it can render), ``description``;
* ``Options``: a pydantic model with ``extra="forbid"``; ``--set NAME.key=value`` fills it. ``Backend`` is
  generic over it: ``class PiperBackend(Backend[PiperOptions])`` makes ``self.options`` a ``PiperOptions``
  and sets ``Options`` (a class that also sets ``Options`` must name the same model or a subclass of it);
* ``requires``: the import names it needs (checked without importing them) and ``install_hint``;
* ``render(event, sample_rate) -> Clip``; backends that render several rows in one call set ``batching = True``
  and implement ``render_batch`` (``batch_size`` rows at most: the option of that name when the Options have
  one);
* the clip cache keys every clip on a fingerprint of the backend's code (its module and every module of its
  package and of storyaudio it imports, found by reading the source), so a change to shared code renders
  afresh; ``version`` is only for what the source does not show (model weights, data files);
* speech backends also list ``voices()`` so the planner can cast characters; effect backends may offer
  ``search(text)`` for ``storyaudio effects``.

The planner and the mixer never know which backend made a clip. A backend never imports the mixer.
Audio is float32 numpy shaped ``(channels, samples)`` everywhere inside storyaudio.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Generic, Sequence, TypeVar, get_args, get_origin

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..seeds import rng_for  # noqa: F401  (re-exported: backends seed their generators through base)

KINDS = ("speech", "music", "sound_effect")


class NoOptions(BaseModel):
    """Options model for a backend that takes none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Event:
    """What a backend is asked to make: one row of the script, resolved by the planner.

    ``duration`` is the length in seconds the clip's slot on the timeline has, or ``None`` when the backend
    decides (speech with ``auto``: the slot is then as long as the clip). The pipeline fits every clip to its
    slot (:func:`storyaudio.audio.fit_length`: cut with a short fade, or padded with silence), so a backend
    returns what it made, near the asked length; it need not cut or pad. ``voice`` is the cast voice name for
    speech (from the backend's ``voices()``).
    """

    row: int
    kind: str
    content: str
    duration: float | None = None
    layout: str = "foreground"
    character: str | None = None
    voice: str | None = None
    character_description: str | None = None
    seed: int = 0
    #: Files the clip is made from (a picture to query by), as the backend's ``input_files`` named them,
    #: resolved inside the script's folder by the pipeline.
    files: tuple[str, ...] = ()

    def cache_fields(self) -> dict[str, Any]:
        """Everything about the event that determines the clip (the row number does not); the contents of its
        files, not their names, so an edited picture renders afresh."""
        fields: dict[str, Any] = {
            "kind": self.kind,
            "content": self.content,
            "duration": None if self.duration is None else round(float(self.duration), 4),
            "layout": self.layout,
            "voice": self.voice,
            "seed": self.seed,
        }
        if self.files:
            fields["files"] = [_file_digest(f) for f in self.files]
        return fields


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Clip:
    """Rendered audio: float32 ``(channels, samples)`` at ``sample_rate``; ``detail`` says what made it
    (the voice, the instruments, the effect) in words; ``info`` holds the same as data for timeline.json.

    The core normalises every clip to its row's loudness target; ``level_db`` shifts that target for this
    clip (in dB, usually negative), so words like "distant" or "light" stay quieter than the row's volume.
    The core owns the clip's final rate and length: it resamples to the render's rate and fits the clip to its
    slot, so a backend returns what it made (near the asked length) at whatever rate it works in."""

    audio: np.ndarray
    sample_rate: int
    detail: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    level_db: float = 0.0

    def __post_init__(self) -> None:
        a = np.asarray(self.audio, dtype=np.float32)
        if a.ndim == 1:
            a = a[np.newaxis, :]
        if a.ndim != 2 or a.shape[0] not in (1, 2):
            raise ValueError(f"clip audio must be (channels, samples) with 1 or 2 channels, got {a.shape}")
        self.audio = np.ascontiguousarray(a)

    @property
    def seconds(self) -> float:
        return self.audio.shape[1] / self.sample_rate


@dataclass(frozen=True)
class Voice:
    """A voice a speech backend offers for casting. ``gender`` is "male" / "female" / "neutral";
    ``age`` is "child" / "young" / "adult" / "older"; ``tags`` are words casting can match
    ("deep", "warm", "fast", "robot", "news")."""

    name: str
    description: str
    gender: str = "neutral"
    age: str = "adult"
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """One candidate from an effect backend's ``search``: recipe name, score in [0, 1], description."""

    name: str
    score: float
    description: str = ""


O = TypeVar("O", bound=BaseModel)


class Backend(Generic[O]):
    """Base class of every backend. Subclasses set the class attributes and implement ``render``."""

    name: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]] = ()
    #: Bump only for what the code does not show (new weights, new data files); code changes reach the cache
    #: key through :func:`storyaudio.fingerprint.code_fingerprint`.
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions
    requires: ClassVar[tuple[str, ...]] = ()  # import names
    requires_programs: ClassVar[tuple[str, ...]] = ()  # executables on PATH
    install_hint: ClassVar[str] = ""
    #: Heavy modules render() imports when it first runs: when this backend has rows to render, the renderer
    #: imports them in a background thread while models load (scipy.signal takes 0.5-0.7 s).
    imports: ClassVar[tuple[str, ...]] = ()
    #: True when render() may be called from several threads at once.
    thread_safe: ClassVar[bool] = True
    #: True when ``render_batch`` renders several events in one call (neural models); the renderer then groups
    #: rows of this backend ``batch_size`` at a time.
    batching: ClassVar[bool] = False
    #: Group size for batching backends whose Options have no ``batch_size`` field.
    default_batch_size: ClassVar[int] = 8
    #: Speech backends: the phoneme notation they read inside ``[[...]]`` in their text ("espeak": espeak-ng's
    #: ASCII phoneme mnemonics), so a pronunciation lexicon may send phonemes; "" when they read none.
    phoneme_input: ClassVar[str] = ""

    options: O

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """``Options`` follows the type argument (``Backend[PiperOptions]``), so it is said once; a class that
        says it twice must say the same thing."""
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            origin = get_origin(base)
            if not (isinstance(origin, type) and issubclass(origin, Backend)):
                continue
            args = [a for a in get_args(base) if isinstance(a, type) and issubclass(a, BaseModel)]
            if not args:
                continue  # Backend[SomeTypeVar]: a generic intermediate class
            if "Options" not in cls.__dict__:
                cls.Options = args[0]
            elif not issubclass(cls.Options, args[0]):
                raise TypeError(f"{cls.__name__}.Options is {cls.Options.__name__}, but the class is declared "
                                f"over {args[0].__name__}: name one options model.")

    def __init__(self, options: O | None = None):
        # Options is the class of O (set from the type argument above); a ClassVar cannot say so to a checker
        self.options = options if options is not None else self.Options()  # type: ignore[assignment]

    @property
    def batch_size(self) -> int:
        """Most rows one ``render_batch`` call takes: the ``batch_size`` option when the Options declare one,
        else ``default_batch_size``; 1 for a backend that does not batch."""
        if not self.batching:
            return 1
        return max(1, int(getattr(self.options, "batch_size", self.default_batch_size)))

    # -- availability -------------------------------------------------------------------------------------
    @classmethod
    def missing(cls) -> list[str]:
        """Names of missing modules or programs (empty when the backend can run). Imports nothing."""
        out = [m for m in cls.requires if importlib.util.find_spec(m) is None]
        out += [p for p in cls.requires_programs if shutil.which(p) is None]
        return out

    @classmethod
    def status(cls) -> str:
        miss = cls.missing()
        if not miss:
            return "available"
        return f"missing {', '.join(miss)}: {cls.install_hint}" if cls.install_hint else f"missing {', '.join(miss)}"

    # -- the contract -------------------------------------------------------------------------------------
    def render(self, event: Event, sample_rate: int) -> Clip:
        raise NotImplementedError

    def render_batch(self, events: Sequence[Event], sample_rate: int) -> list[Clip]:
        """Render several events at once. The default renders one by one; backends with ``batching = True``
        render them in one call."""
        return [self.render(e, sample_rate) for e in events]

    def voices(self) -> list[Voice]:
        """Speech backends: the voices casting may choose from."""
        return []

    def text_problems(self, text: str, voice: str | None) -> list[str]:
        """Speech backends: why ``voice`` cannot speak (some of) ``text``, in words (no letters at all, a
        writing system the voice has no phonemes for); empty when it can. Checked before rendering, reported
        as warnings."""
        return []

    def input_files(self, event: Event, resolve: Callable[[str, str], Path]) -> list[Path]:
        """Files the event's clip is made from (a picture named in its content, say), found with
        ``resolve(name, what)``: inside the script's folder (or an ``--allow-path`` folder), else a UserError
        naming the row and the fix. The pipeline checks them before rendering (so ``validate`` sees a missing
        picture), hands them on in ``Event.files`` and keys the cache on their contents. Default: none."""
        return []

    def search(self, text: str, top: int = 5) -> list[Match]:
        """Effect backends: the library entries closest to ``text``, best first."""
        return []

    def wants_gpu(self) -> bool:
        """True when this backend, as its options stand, renders on a GPU (``--executor ray`` then gives each
        of its actors a card of its own)."""
        return False

    def trim(self) -> None:
        """Give back memory kept between calls for speed (an inference arena grown to the longest input),
        keeping what lets the next call start at once (the model). The local executor calls it when a
        render's last batch for this backend is done; it must not fail. Default: nothing to give back."""

    def close(self) -> None:
        """Free models or processes. Called once at the end of a render."""
