"""Where clips are rendered: one small protocol, two places.

The pipeline decides *what* to render (cache first, then the rows of one backend grouped into batches of its
``batch_size``) and turns what comes back into clips at the render's rate; an executor only runs batches:

    executor.run(batches, sample_rate) -> iterator of (batch, clips), in the order they finish

* :class:`LocalExecutor`: a thread pool in this process (``jobs`` batches at once; a backend that is not
  thread-safe renders one batch at a time);
* :class:`storyaudio.cluster.RayExecutor`: actors on a Ray cluster, one per backend per device, each loading
  its model once (``render --executor ray``).

Both render the same batches with the same backends and options, so they give the same clips for the same
seed. A failure raises: the backend's own :class:`~storyaudio.errors.StoryAudioError` (a missing model is the
user's to fix), or a :class:`~storyaudio.errors.RenderError` naming the batch's first row; batches not yet
started are dropped.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Protocol, Sequence

from .errors import RenderError, StoryAudioError

if TYPE_CHECKING:
    from .backends.base import Backend, Clip, Event


@dataclass(frozen=True)
class Batch:
    """Rows one backend renders in one call (``render_batch``; ``render`` for a batch of one)."""

    backend: "Backend"
    events: tuple["Event", ...]

    @property
    def first_row(self) -> int:
        return self.events[0].row


class Executor(Protocol):
    """Runs batches of clips somewhere; see the module docstring."""

    def run(self, batches: Sequence[Batch], sample_rate: int) -> Iterator[tuple[Batch, list["Clip"]]]: ...

    def close(self) -> None: ...


def render_batch(backend: "Backend", events: Sequence["Event"], sample_rate: int) -> list["Clip"]:
    """What every executor runs for one batch: ``render_batch`` for several rows, ``render`` for one, with a
    bug in the backend reported as a RenderError naming the first row and the backend."""
    try:
        if len(events) > 1:
            clips = list(backend.render_batch(list(events), sample_rate))
        else:
            clips = [backend.render(events[0], sample_rate)]
    except StoryAudioError:
        raise
    except Exception as exc:  # a backend bug or a broken model: say which row and backend
        raise RenderError(f"the {backend.name} backend failed: {type(exc).__name__}: {exc}",
                          row=events[0].row) from exc
    if len(clips) != len(events):
        raise RenderError(f"the {backend.name} backend returned {len(clips)} clips for {len(events)} rows.",
                          row=events[0].row)
    return clips


#: One lock per backend instance that is not thread-safe, for the whole process (renders at once may share a
#: backend: the pipeline keeps built backends from render to render).
_LOCKS: "weakref.WeakKeyDictionary[Backend, threading.Lock]" = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


class LocalExecutor:
    """A thread pool in this process: ``jobs`` batches at once; one batch at a time per backend that is not
    thread-safe (process-wide)."""

    def __init__(self, jobs: int = 2):
        self.jobs = max(1, int(jobs))

    def _lock(self, backend: "Backend"):
        if backend.thread_safe:
            return contextlib.nullcontext()
        with _GUARD:
            lock = _LOCKS.get(backend)
            if lock is None:
                lock = _LOCKS[backend] = threading.Lock()
            return lock

    def _run_one(self, batch: Batch, sample_rate: int) -> list["Clip"]:
        with self._lock(batch.backend):
            return render_batch(batch.backend, batch.events, sample_rate)

    def run(self, batches: Sequence[Batch], sample_rate: int) -> Iterator[tuple[Batch, list["Clip"]]]:
        if not batches:
            return
        pool = ThreadPoolExecutor(max_workers=min(self.jobs, len(batches)))
        futures = {pool.submit(self._run_one, b, sample_rate): b for b in batches}
        left = Counter(b.backend for b in batches)
        try:
            for fut in as_completed(futures):
                batch = futures.pop(fut)  # a finished future holds its clips: let them go once taken
                clips = fut.result()
                left[batch.backend] -= 1
                trim = getattr(batch.backend, "trim", None)  # (an extension's maker has none)
                if not left[batch.backend] and trim is not None:  # its last batch: what it kept for speed can go
                    with self._lock(batch.backend):
                        trim()
                yield batch, clips
                del fut, clips  # not held while the next batch renders (a 3-minute bed is 66 MB)
        except BaseException:  # Ctrl-C or a failed clip: drop the batches not started yet
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def close(self) -> None:
        pass
