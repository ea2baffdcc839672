"""Shared plumbing of the neural backends (``bark``, ``musicgen``, ``audioldm2``).

Nothing here imports torch, transformers or diffusers at module import: :func:`import_torch` and
:func:`require` do it when a backend first loads its model, and turn a missing package into a
:class:`~storyaudio.errors.BackendUnavailableError` that says what to install.

* options common to every neural backend (:class:`NeuralOptions`: ``model``, ``device``, ``dtype``, ``seed``,
  ``batch_size``);
* device and dtype resolution (``auto`` -> CUDA when present, else CPU; float16 only on CUDA);
* a process-wide model cache keyed by (loader, model, device, dtype), so a model loads once per process however
  many backend instances ask for it (:func:`load_model`);
* local-directory or hub-id model sources, with offline hub failures turned into a message that says how to
  bring the weights over (``--set NAME.model=/path``);
* seeds derived from the events, crossfades and windows; resampling and exact lengths come from
  :mod:`storyaudio.audio` (numpy / scipy only).
* :class:`NeuralBackend`, the base class of the three backends (thread safety, install hint, lazy model,
  ``render`` as a batch of one).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Sequence, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..audio import as_channels, fit_length  # noqa: F401  (fit_length: the backends call nn_.fit_length)
from ..audio import resample as _resample
from ..errors import BackendUnavailableError, OptionError
from ..seeds import derive_seed
from .base import Backend, Clip, Event

T = TypeVar("T")

#: What a user installs to get the neural backends. The CPU-only torch wheel keeps the install small on a
#: machine without a GPU.
INSTALL_HINT = (
    "pip install 'storyaudio[neural]' (it installs torch, transformers, diffusers and accelerate; on a machine "
    "without a GPU install the CPU build of torch first: pip install torch==2.13.0 from PyTorch's CPU wheel index)"
)

_TRUE = {"1", "true", "yes", "on"}


class NeuralOptions(BaseModel):
    """Options every neural backend takes (``--set NAME.key=value``)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field("", description="hub id or local directory holding the weights (save_pretrained layout)")
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        description="auto (CUDA when present, else CPU), cpu, cuda or cuda:N",
    )
    dtype: str = Field(
        "auto",
        pattern=r"^(auto|float32|float16|bfloat16)$",
        description="auto (float16 on CUDA, float32 on CPU), float32, float16 (CUDA only) or bfloat16",
    )
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="fixed seed overriding the script's seeds")
    batch_size: int = Field(8, ge=1, le=64, description="most rows (or text chunks) in one generate call")
    default_seconds: float = Field(10.0, gt=0, le=600, description="length of a row that gives none (music, effects)")


# -- lazy imports -----------------------------------------------------------------------------------------
def import_torch(backend: str = "neural"):
    """Import torch, or say exactly what to install."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendUnavailableError(
            f"backend '{backend}' needs PyTorch, which is not installed ({exc}). Install with: {INSTALL_HINT}."
        ) from None
    return torch


def require(module: str, backend: str):
    """Import ``module`` (``transformers``, ``diffusers``) for ``backend`` or raise a clear error."""
    import importlib

    import_torch(backend)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend '{backend}' needs the Python package '{module}', which is not installed or does not load "
            f"({exc}). Install with: {INSTALL_HINT}."
        ) from None


@contextlib.contextmanager
def quiet():
    """Silence the libraries' advice-level chatter (deprecation notes, padding hints, progress bars) while a
    model loads or generates; errors still raise. Restores the previous levels afterwards."""
    saved = []
    for module in ("transformers", "diffusers"):
        lib = sys.modules.get(module)  # only libraries already imported: never import one just to quiet it
        if lib is None:
            continue
        try:
            log = lib.utils.logging
            saved.append((log, log.get_verbosity(), log.is_progress_bar_enabled()))
            log.set_verbosity_error()
            log.disable_progress_bar()
        except Exception:  # an older logging API: stay as loud as it is
            continue
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level, bars in saved:
            log.set_verbosity(level)
            if bars:
                log.enable_progress_bar()


# -- device and dtype -------------------------------------------------------------------------------------
def resolve_device(device: str, backend: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; an explicit CUDA device must exist."""
    torch = import_torch(backend)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            f"backend '{backend}' was asked for device '{device}', but torch sees no CUDA GPU here (torch "
            f"{torch.__version__}). Use --set {backend}.device=cpu (slow), or install a CUDA build of torch on a "
            f"machine with an NVIDIA GPU."
        )
    if ":" in device:
        index = int(device.split(":", 1)[1])
        count = torch.cuda.device_count()
        if index >= count:
            raise BackendUnavailableError(
                f"backend '{backend}' was asked for device '{device}', but only {count} CUDA device(s) exist "
                f"(cuda:0..cuda:{count - 1}). Use --set {backend}.device=cuda:0."
            )
    return device


def resolve_dtype(dtype: str, device: str, backend: str):
    """``auto`` -> float16 on CUDA, float32 on CPU. float16 on the CPU is refused (slow and lossy there)."""
    torch = import_torch(backend)
    if dtype == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    if dtype == "float16" and not device.startswith("cuda"):
        raise OptionError(
            f"backend '{backend}': dtype float16 runs only on a CUDA device, and this one renders on '{device}'. "
            f"Use --set {backend}.dtype=float32 (or bfloat16), or --set {backend}.device=cuda."
        )
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


def dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


# -- model sources ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSource:
    """Where weights come from: ``ref`` for ``from_pretrained``, ``local_dir`` when it is a directory here,
    ``local_files_only`` when the hub must not be contacted (a directory, or ``HF_HUB_OFFLINE`` set)."""

    ref: str
    local_dir: str | None
    local_files_only: bool


def hub_offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in _TRUE for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def model_source(model: str, backend: str) -> ModelSource:
    """A local directory (``~`` expanded) or a hub id. A path that looks local but is missing is an error
    right away, not a download attempt."""
    raw = model.strip()
    path = os.path.expanduser(raw)
    if os.path.isdir(path):
        return ModelSource(os.path.abspath(path), os.path.abspath(path), True)
    # a hub id is "name" or "owner/name"; anything else that is not a directory here is a missing path
    looks_local = raw.startswith(("/", ".", "~")) or raw.count("/") > 1 or "\\" in raw or os.path.exists(path)
    if looks_local:
        raise BackendUnavailableError(
            f"backend '{backend}': model directory '{raw}' does not exist (or is not a directory). Point "
            f"--set {backend}.model=/path at a directory holding the downloaded weights."
        )
    return ModelSource(raw, None, hub_offline() or not hub_reachable())


_REACHABLE: dict[str, bool] = {}


def hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP connect to the hub's host (``HF_ENDPOINT`` or huggingface.co), remembered per process.
    Without it, a machine with no network spends minutes in the hub client's retries before failing; with it,
    such a machine loads from the local cache only and fails at once when the weights are not there."""
    import socket
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if endpoint not in _REACHABLE:
        url = urlparse(endpoint)
        try:
            with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout):
                _REACHABLE[endpoint] = True
        except OSError:
            _REACHABLE[endpoint] = False
    return _REACHABLE[endpoint]


def weights_hint(model: str, backend: str) -> str:
    return (
        f"Download the weights on a machine with network access (for example: hf download {model} --local-dir "
        f"{model.split('/')[-1]}), copy the directory here and pass it with --set {backend}.model=/path/to/"
        f"{model.split('/')[-1]}."
    )


def load_error(exc: BaseException, source: ModelSource, backend: str) -> BackendUnavailableError:
    """A loading failure (no network, missing files in a local directory) as a user-fixable error."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if source.local_dir is not None:
        return BackendUnavailableError(
            f"backend '{backend}' could not load the model in '{source.local_dir}': {first}. The directory must "
            f"hold the complete save_pretrained layout of the model (config, weights, tokenizer / processor files)."
        )
    if hub_offline():
        why = "the hub is switched off (HF_HUB_OFFLINE is set)"
    elif source.local_files_only:
        why = "the hub cannot be reached from this machine"
    else:
        why = "it could not be downloaded"
    return BackendUnavailableError(
        f"backend '{backend}' could not load '{source.ref}': it is not in the local cache and {why} ({first}). "
        + weights_hint(source.ref, backend)
    )


# -- process-wide model cache -----------------------------------------------------------------------------
_CACHE: dict[tuple, Any] = {}
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple, threading.Lock] = {}
#: How many times each key was really loaded (tests read it to prove a model loads once).
LOAD_COUNTS: dict[tuple, int] = {}


def cached_load(key: tuple, loader: Callable[[], Any]) -> Any:
    """Return the object cached under ``key``, calling ``loader`` once per process (thread-safe)."""
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        with _CACHE_LOCK:
            if key in _CACHE:
                return _CACHE[key]
        value = loader()
        with _CACHE_LOCK:
            _CACHE[key] = value
            LOAD_COUNTS[key] = LOAD_COUNTS.get(key, 0) + 1
        return value


def load_model(
    backend: str,
    options: Any,
    class_key: str,
    modules: Sequence[str],
    build: Callable[[Any, ModelSource, Any], Any],
    place: Callable[[Any, str], Any],
) -> tuple[ModelSource, Any, str, Any]:
    """Load (once per process) what ``options.model`` names on the device and dtype the options ask for.

    ``modules`` are imported in order (a missing one is a clear error); ``build(lib, source, dtype)`` makes the
    object from the last of them, an ``OSError`` there becoming :func:`load_error`; ``place(obj, device)`` moves
    it to the device and returns it. The cache key is ``(class_key, source.ref, device, dtype name)``.
    Returns ``(source, obj, device, dtype)``."""
    lib = None
    for module in modules:
        lib = require(module, backend)
    device = resolve_device(options.device, backend)
    dtype = resolve_dtype(options.dtype, device, backend)
    source = model_source(options.model, backend)

    def load():
        try:
            obj = build(lib, source, dtype)
        except OSError as exc:
            raise load_error(exc, source, backend) from None
        return place(obj, device)

    with quiet():
        obj = cached_load((class_key, source.ref, device, dtype_name(dtype)), load)
    return source, obj, device, dtype


def load_transformers_pair(backend: str, options: Any, model_class: str):
    """Load (once per process) a transformers processor and model named by ``options.model`` on the device and
    dtype the options ask for. Returns ``(source, processor, model, device, dtype)``."""

    def build(transformers, source: ModelSource, dtype):
        processor = transformers.AutoProcessor.from_pretrained(source.ref, local_files_only=source.local_files_only)
        model = getattr(transformers, model_class).from_pretrained(
            source.ref, dtype=dtype, local_files_only=source.local_files_only
        )
        return processor, model

    def place(pair, device: str):
        pair[1].to(device).eval()
        return pair

    source, (processor, model), device, dtype = load_model(
        backend, options, model_class, ("transformers",), build, place
    )
    return source, processor, model, device, dtype


def clear_cache() -> None:
    """Drop every cached model (frees memory; the next render loads again)."""
    with _CACHE_LOCK:
        _CACHE.clear()


# -- seeds ------------------------------------------------------------------------------------------------
def row_seed(event: Event, override: int | None, salt: str = "") -> int:
    """A 31-bit seed for one row (torch takes 31 bits everywhere): the option's seed when set, else the
    event's, mixed with what the row says, so that two rows with the same seed still differ and the same row
    always renders the same."""
    base = event.seed if override is None else override
    return derive_seed(base, event.kind, event.content, event.voice, salt, bits=31)


def batch_seed(seeds: Iterable[int]) -> int:
    """One 31-bit seed for a generate call that samples all its rows from one generator."""
    return derive_seed(",".join(str(s) for s in seeds), bits=31)


def seed_torch(seed: int, backend: str) -> None:
    torch = import_torch(backend)
    torch.manual_seed(seed)  # seeds every CUDA device as well


# -- audio helpers ----------------------------------------------------------------------------------------
def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling to float32 (channels, samples), a 1-D input becoming one channel."""
    return _resample(as_channels(audio), sr_in, sr_out)


def crossfade_join(head: np.ndarray, tail: np.ndarray, overlap: int) -> np.ndarray:
    """Join two (channels, samples) clips, overlapping the last ``overlap`` samples of ``head`` with the first
    ``overlap`` of ``tail`` under an equal-power crossfade."""
    head, tail = as_channels(head), as_channels(tail)
    overlap = max(0, min(overlap, head.shape[1], tail.shape[1]))
    if overlap == 0:
        return np.concatenate([head, tail], axis=1)
    t = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
    fade_in, fade_out = np.sin(0.5 * np.pi * t), np.cos(0.5 * np.pi * t)
    mid = head[:, -overlap:] * fade_out + tail[:, :overlap] * fade_in
    return np.concatenate([head[:, :-overlap], mid, tail[:, overlap:]], axis=1)


def join_with_pauses(parts: Sequence[np.ndarray], pause: int) -> np.ndarray:
    """Concatenate (channels, samples) clips with ``pause`` samples of silence between them."""
    if not parts:
        return np.zeros((1, 0), dtype=np.float32)
    channels = max(as_channels(p).shape[0] for p in parts)
    gap = np.zeros((channels, max(0, pause)), dtype=np.float32)
    out: list[np.ndarray] = []
    for i, p in enumerate(parts):
        p = as_channels(p)
        if p.shape[0] != channels:
            p = np.repeat(p, channels, axis=0)
        if i:
            out.append(gap)
        out.append(p)
    return np.concatenate(out, axis=1)


def window_starts(total: int, window: int, overlap: int) -> list[int]:
    """Start offsets of windows of ``window`` samples, overlapping by ``overlap``, that cover ``total``."""
    if total <= window:
        return [0]
    step = max(1, window - overlap)
    count = 1 + math.ceil((total - window) / step)
    return [i * step for i in range(count)]


def buckets(events: Sequence[T], key: Callable[[T], Any], size: int) -> list[list[int]]:
    """Indices of ``events`` (rows, text chunks, jobs ...) grouped by ``key`` (those that can share one generate
    call), each group cut into runs of at most ``size``, in first-seen order."""
    groups: dict[Any, list[int]] = {}
    for i, e in enumerate(events):
        groups.setdefault(key(e), []).append(i)
    out: list[list[int]] = []
    for idx in groups.values():
        out += [idx[j : j + size] for j in range(0, len(idx), size)]
    return out


def to_numpy(tensor: Any) -> np.ndarray:
    """A torch tensor (any device, any float dtype) as float32 numpy."""
    return tensor.detach().float().cpu().numpy().astype(np.float32, copy=False)


# -- the backend scaffolding ------------------------------------------------------------------------------
NO = TypeVar("NO", bound=NeuralOptions)


class NeuralBackend(Backend[NO]):
    """What the neural backends share: not thread-safe (they seed the global torch generator and share one
    model per process), the install hint, a lazily loaded model in ``self._loaded``, and ``render`` as a batch
    of one. Subclasses implement ``_load`` and ``render_batch`` (``batching`` is on: the renderer groups
    their rows ``batch_size`` at a time). Importing this module imports no torch."""

    requires: ClassVar[tuple[str, ...]] = ("torch", "transformers")
    install_hint: ClassVar[str] = INSTALL_HINT
    thread_safe: ClassVar[bool] = False  # seeds the global torch generator
    batching: ClassVar[bool] = True

    def __init__(self, options=None):
        super().__init__(options)
        self._loaded: Any = None

    def render(self, event: Event, sample_rate: int) -> Clip:
        return self.render_batch([event], sample_rate)[0]

    def render_batch(self, events: Sequence[Event], sample_rate: int) -> list[Clip]:
        raise NotImplementedError  # not Backend's default, which calls render(): that would recurse

    def _seconds(self, e: Event) -> float:
        """The row's duration, or the ``default_seconds`` option."""
        return float(e.duration) if e.duration is not None else self.options.default_seconds

    def info_seed(self, e: Event) -> int | None:
        """The seed a clip's info reports: the ``seed`` option when set, else the row's."""
        return e.seed if self.options.seed is None else self.options.seed

    def wants_gpu(self) -> bool:
        return self.options.device != "cpu"  # auto: a GPU where the cluster has one

    def close(self) -> None:
        self._loaded = None  # the process-wide cache keeps the model for other instances
