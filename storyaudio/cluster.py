"""Clips rendered on a Ray cluster (``render --executor ray [--ray-address ADDR]``).

The driver (this process) plans, mixes and masters; only the clips go out. Each backend gets a pool of actors,
**one per device**: one per GPU of the cluster for a backend that asks for a GPU (each reserving
``num_gpus=1``, so Ray pins it to its own card), otherwise one per node (a CPU backend's libraries use the
node's cores themselves). An actor builds its backend once from the driver's options, so a model loads once
per actor and then serves batch after batch; the batches are the ones the local executor renders (rows of one
backend, ``batch_size`` at a time), so clips come out byte-identical for the same seed. Clips come back
through Ray's object store.

A worker that dies (an actor killed, a node lost, a crash in native code) costs its batch one retry on a fresh
actor; a second death is reported as that row's :class:`~storyaudio.errors.RenderError`, and the render stops
with nothing written (its staging folder is dropped, the previous output stays).

Several renders may share one :class:`RayExecutor` (``storyaudio render A.tsv B.tsv --executor ray``): the
actors live as long as the executor and serve every render's batches.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .errors import BackendUnavailableError, RenderError, StoryAudioError
from .executors import Batch, render_batch

if TYPE_CHECKING:
    from .backends.base import Backend, Clip

INSTALL_HINT = "pip install 'storyaudio[cluster]' (it installs ray)"
#: Batches queued on one actor at once: the next is ready to start when one finishes.
IN_FLIGHT_PER_ACTOR = 2


def require_ray():
    """Import ray, or say what to install (a user error: exit 2)."""
    try:
        import ray
    except ImportError:
        raise BackendUnavailableError(f"--executor ray needs Ray, which is not installed. Install it with: "
                                      f"{INSTALL_HINT}; or render here with --executor local.") from None
    return ray


class _Worker:
    """The actor body: one backend, built once, rendering batch after batch (Ray runs one call at a time)."""

    def __init__(self, cls: type, options: Any, name: str):
        self.backend = cls(options)
        self.name = name

    def fingerprint(self) -> tuple[str, str]:
        """The code this worker renders with (the driver's cache keys name the driver's)."""
        from . import __version__
        from .fingerprint import code_fingerprint

        return __version__, code_fingerprint(type(self.backend).__module__)

    def pid(self) -> int:
        import os

        return os.getpid()

    def render(self, events: Sequence[Any], sample_rate: int) -> list["Clip"]:
        return render_batch(self.backend, events, sample_rate)


@dataclass
class _Pool:
    """The actors of one backend (one options set), and how many batches each has queued."""

    backend: "Backend"
    options: dict[str, Any]  # ray actor options: num_gpus, num_cpus, scheduling
    size: int
    actors: list[Any] = field(default_factory=list)
    load: dict[int, int] = field(default_factory=dict)  # id(actor handle) -> batches queued


@dataclass
class _Task:
    batch: Batch
    pool: _Pool
    actor: Any = None
    attempt: int = 0


class RayExecutor:
    """Runs batches on Ray actors (see the module docstring). ``address``: the cluster to join (``auto``, a
    head's ``ray://HOST:10001`` or ``HOST:6379``); None starts a local Ray (or joins the one this process
    already started, as tests do with ``ray.init(num_cpus=2)``)."""

    def __init__(self, address: str | None = None):
        self.ray = ray = require_ray()
        if not ray.is_initialized():
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         logging_level="ERROR", configure_logging=True)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = address or "a local cluster"
                raise BackendUnavailableError(f"--executor ray: could not start or join {where}: {exc}. Check "
                                              "--ray-address (the head's address, e.g. ray://HOST:10001).") from None
        self._pools: dict[tuple, _Pool] = {}
        self._lock = threading.Lock()
        self._checked: set[str] = set()

    # -- the actors -------------------------------------------------------------------------------------------
    def _resources(self) -> tuple[int, int, int]:
        """(GPUs, CPUs, nodes) of the cluster."""
        total = self.ray.cluster_resources()
        nodes = sum(1 for n in self.ray.nodes() if n.get("Alive"))
        return int(total.get("GPU", 0)), int(total.get("CPU", 1)), max(1, nodes)

    def _pool(self, backend: "Backend") -> _Pool:
        key = (type(backend).__module__, type(backend).__qualname__, backend.name,
               backend.options.model_dump_json())
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                gpus, cpus, nodes = self._resources()
                if getattr(backend, "wants_gpu", lambda: False)() and gpus:
                    options = {"num_gpus": 1, "num_cpus": 0}  # one card each: Ray sets CUDA_VISIBLE_DEVICES
                    size = gpus
                else:  # the CPU backends share each node's cores; a fraction each keeps every pool schedulable
                    options = {"num_cpus": 0.01, "scheduling_strategy": "SPREAD"}
                    size = nodes
                pool = self._pools[key] = _Pool(backend, options, size)
            return pool

    def _new_actor(self, pool: _Pool):
        remote = self.ray.remote(_Worker).options(**pool.options, max_restarts=0, max_task_retries=0)
        actor = remote.remote(type(pool.backend), pool.backend.options, pool.backend.name)
        pool.actors.append(actor)
        pool.load[id(actor)] = 0
        return actor

    def _check_code(self, pool: _Pool, actor) -> None:
        """The worker must run the driver's code: the cache keys (and so the clips reused later) name it."""
        from . import __version__
        from .fingerprint import code_fingerprint

        module = type(pool.backend).__module__
        if module in self._checked:
            return
        theirs = self.ray.get(actor.fingerprint.remote())
        ours = (__version__, code_fingerprint(module))
        if theirs != ours:
            raise BackendUnavailableError(
                f"--executor ray: the cluster's workers run other storyaudio code for the {pool.backend.name} "
                f"backend (storyaudio {theirs[0]}, code {theirs[1]}; here {ours[0]}, {ours[1]}). Install this "
                "version on every node, or start the cluster from this checkout.")
        self._checked.add(module)

    def _pick(self, pool: _Pool, force: bool = False):
        """The least busy actor of ``pool`` with room, making one while the pool is below its size; None when
        every actor has ``IN_FLIGHT_PER_ACTOR`` batches queued (``force``: the least busy one all the same, for
        a render whose batches would otherwise wait on other renders sharing the pool)."""
        with self._lock:
            free = [a for a in pool.actors if pool.load[id(a)] < IN_FLIGHT_PER_ACTOR or force]
            if (not free or min(pool.load[id(a)] for a in free) > 0) and len(pool.actors) < pool.size:
                actor = self._new_actor(pool)
                new = True
            elif free:
                actor, new = min(free, key=lambda a: pool.load[id(a)]), False
            else:
                return None
            pool.load[id(actor)] += 1
        if new:
            try:
                self._check_code(pool, actor)
            except StoryAudioError:
                raise
            except Exception:  # the new actor died at once: the task submitted to it fails and is retried
                pass
        return actor

    def _replace(self, pool: _Pool, dead) -> None:
        """Drop a dead actor; the next batch makes a fresh one in its place."""
        with self._lock:
            if dead in pool.actors:
                pool.actors.remove(dead)
                pool.load.pop(id(dead), None)

    def actors(self) -> list[Any]:
        """Every live actor handle (tests kill one to see the retry)."""
        with self._lock:
            return [a for p in self._pools.values() for a in p.actors]

    # -- running ----------------------------------------------------------------------------------------------
    def run(self, batches: Sequence[Batch], sample_rate: int) -> Iterator[tuple[Batch, list["Clip"]]]:
        ray = self.ray
        from ray.exceptions import RayActorError, RayTaskError

        waiting = [_Task(b, self._pool(b.backend)) for b in batches]
        running: dict[Any, _Task] = {}  # object ref -> task

        def submit() -> None:
            for task in list(waiting):
                if task.attempt:  # a retry runs alone on a fresh actor: a second death is its own
                    with self._lock:
                        actor = self._new_actor(task.pool)
                        task.pool.load[id(actor)] = IN_FLIGHT_PER_ACTOR  # nothing else queues behind it
                else:
                    actor = self._pick(task.pool, force=not running)  # never wait with nothing of ours running
                if actor is None:
                    continue
                task.actor = actor
                running[actor.render.remote(list(task.batch.events), sample_rate)] = task
                waiting.remove(task)

        try:
            submit()
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                ref = ready[0]
                task = running.pop(ref)
                with self._lock:
                    if id(task.actor) in task.pool.load:
                        task.pool.load[id(task.actor)] = 0 if task.attempt else task.pool.load[id(task.actor)] - 1
                try:
                    clips = ray.get(ref)
                except RayActorError as exc:  # the worker died (killed, crashed, node lost): retry once
                    self._replace(task.pool, task.actor)
                    _raise_creation_error(exc, task.batch)  # the backend could not even be built there
                    if task.attempt >= 1:  # it ran alone on a fresh worker, which died too: this batch kills it
                        raise RenderError(
                            f"the {task.batch.backend.name} backend's Ray worker died twice while rendering this "
                            f"row (and the rows batched with it): {_first_line(exc)}", row=task.batch.first_row) from None
                    task.attempt += 1
                    waiting.insert(0, task)
                    submit()
                    continue
                except RayTaskError as exc:  # the backend raised: the same error a local render gives
                    cause = exc.as_instanceof_cause() if hasattr(exc, "as_instanceof_cause") else exc
                    original = getattr(exc, "cause", None)
                    if isinstance(original, StoryAudioError):
                        raise original from None
                    raise RenderError(f"the {task.batch.backend.name} backend failed on the Ray cluster: "
                                      f"{_first_line(cause)}", row=task.batch.first_row) from None
                submit()
                yield task.batch, clips
        finally:
            for ref in running:  # a failure or Ctrl-C: what is still queued is not wanted
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - best effort; the actor finishes and the result is dropped
                    pass
            with self._lock:
                for task in running.values():
                    if id(task.actor) in task.pool.load:
                        task.pool.load[id(task.actor)] = max(0, task.pool.load[id(task.actor)] - 1)

    def close(self) -> None:
        """Let the actors go (their models with them)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            for actor in pool.actors:
                try:
                    self.ray.kill(actor)
                except Exception:  # noqa: BLE001 - already gone
                    pass


def _raise_creation_error(exc: BaseException, batch: Batch) -> None:
    """An actor whose backend raised while being built did not die by accident: raise what it raised (a
    StoryAudioError as is, anything else as that row's RenderError) rather than retry."""
    from ray.exceptions import RayTaskError

    cause = getattr(exc, "cause", None)
    if not isinstance(cause, RayTaskError):
        return
    original = getattr(cause, "cause", None)
    if isinstance(original, StoryAudioError):
        raise original from None
    raise RenderError(f"the {batch.backend.name} backend could not start on the Ray cluster: "
                      f"{_first_line(original or cause)}", row=batch.first_row) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
