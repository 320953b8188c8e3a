"""Where jobs run: a local process pool (default), Ray for clusters, or inline (tests, debugging).

All three take the same jobs and return the same Outcomes; the coordinator decides what runs when.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from localize.apps.catalog.plan import Job
from localize.apps.catalog.work import Outcome, init_worker, run_job
from localize.core.errors import ConfigError, MissingExtraError

log = logging.getLogger(__name__)

# A market job holds the episode's audio, a Whisper/TTS model and ffmpeg: about this much memory at most.
JOB_MEMORY_BYTES = 1536 << 20
Work = Callable[[Job], Outcome]


def default_workers(job_memory: int = JOB_MEMORY_BYTES) -> int:
    """As many workers as cores, but no more than the available memory holds."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS
        cores = os.cpu_count() or 1
    try:
        import psutil

        memory = int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover
        memory = job_memory * cores
    return max(1, min(cores, memory // job_memory))


class Executor(Protocol):
    workers: int

    def submit(self, job: Job) -> None: ...

    def wait(self, timeout: float | None) -> list[Outcome]: ...

    def close(self) -> None: ...


def _died(job: Job, why: str) -> Outcome:
    return Outcome(job=job.id, ok=False, seconds=0.0, error=why, transient=True)


class InlineExecutor:
    """One job at a time in this process."""

    def __init__(self, work: Work = run_job) -> None:
        self.workers = 1
        self._work = work
        self._queue: list[Job] = []

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def wait(self, timeout: float | None) -> list[Outcome]:
        return [self._work(self._queue.pop(0))] if self._queue else []

    def close(self) -> None:
        self._queue.clear()


class LocalExecutor:
    """A pool of worker processes (spawned: no forked model state); each keeps its models loaded."""

    def __init__(self, workers: int | None = None, work: Work = run_job) -> None:
        self.workers = workers or default_workers()
        self._work = work
        self._threads = max(1, (os.cpu_count() or 1) // self.workers)
        self._pool = self._start()
        self._running: dict[Future[Outcome], Job] = {}

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init_worker, initargs=(self._threads,))

    def submit(self, job: Job) -> None:
        self._running[self._pool.submit(self._work, job)] = job

    def wait(self, timeout: float | None) -> list[Outcome]:
        if not self._running:
            return []
        finished, _ = wait(list(self._running), timeout=timeout, return_when=FIRST_COMPLETED)
        outcomes, broken = [], False
        for future in finished:
            job = self._running.pop(future)
            try:
                outcomes.append(future.result())
            except BrokenProcessPool:
                broken = True
                outcomes.append(_died(job, "a worker process died (killed, or out of memory)"))
        if broken:  # every job still in the broken pool is lost with it: report them and start a new pool
            for job in list(self._running.values()):
                outcomes.append(_died(job, "a worker process died (killed, or out of memory)"))
            self._running.clear()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
        return outcomes

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _ray_work(work: Work, job: Job) -> Outcome:
    import dataclasses

    import ray

    from localize.core import modelcache

    if not modelcache.enabled():
        init_worker(1)
    return dataclasses.replace(work(job), node=ray.get_runtime_context().get_node_id())


class RayExecutor:
    """Ray tasks (one CPU each) on the cluster at `address` (None: start or join a local instance)."""

    def __init__(self, address: str | None = None, workers: int | None = None, work: Work = run_job) -> None:
        try:
            import ray
        except ImportError as exc:
            raise MissingExtraError("ray", "ray", "ray") from exc
        self._ray = ray
        if not ray.is_initialized():
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            except ConnectionError as exc:
                raise ConfigError(f"cannot reach the Ray cluster at {address!r} ({exc}); start it with "
                                  f"`ray start --head` or pass its --address.") from exc
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_ray_work)
        self._work = work
        self._running: dict[Any, Job] = {}

    def submit(self, job: Job) -> None:
        self._running[self._remote.remote(self._work, job)] = job

    def wait(self, timeout: float | None) -> list[Outcome]:
        if not self._running:
            return []
        ready, _ = self._ray.wait(list(self._running), num_returns=1, timeout=timeout)
        outcomes = []
        for ref in ready:
            job = self._running.pop(ref)
            try:
                outcomes.append(self._ray.get(ref))
            except self._ray.exceptions.RayError as exc:  # the worker died, or the node went away
                outcomes.append(_died(job, f"the Ray task failed ({type(exc).__name__}: {exc})"))
        return outcomes

    def close(self) -> None:
        for ref in self._running:
            self._ray.cancel(ref, force=True)
        self._running.clear()


def make_executor(kind: str, *, workers: int | None = None, address: str | None = None,
                  work: Work = run_job) -> Executor:
    if kind == "local":
        return LocalExecutor(workers, work)
    if kind == "ray":
        return RayExecutor(address, workers, work)
    if kind == "inline":
        return InlineExecutor(work)
    raise ConfigError(f"executor must be 'local', 'ray' or 'inline', not {kind!r}.")
