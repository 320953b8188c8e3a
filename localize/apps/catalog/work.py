"""What a worker does with one job; runs in a pool process or a Ray worker, so models load once per worker."""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, replace

from localize.apps.catalog.plan import Job
from localize.core import cache
from localize.core.errors import LocalizeError, ToolFailedError


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    job: str
    ok: bool
    seconds: float
    error: str = ""
    transient: bool = False  # worth a retry: not a problem with the user's input or setup
    traceback: str = ""
    built: tuple[str, ...] = ()  # "stage:key" of artifacts this job built
    reused: tuple[str, ...] = ()  # ... and of those it found in the cache
    pid: int = 0
    node: str = ""  # the Ray node that ran the job ("" on the local pool)


def init_worker(threads: int) -> None:
    """Pool initializer: numeric libraries get this worker's share of the cores, models are kept."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    from localize.core import modelcache

    modelcache.enable()


def run_job(job: Job) -> Outcome:
    """Run `job`; never raises (errors come back in the Outcome, picklable across processes)."""
    started = time.monotonic()
    events: list[cache.CacheEvent] = []
    try:
        with cache.watch() as events:
            _run(job)
        ok, error, transient, tb = True, "", False, ""
    except Exception as exc:  # reported to the coordinator, which retries or fails the job
        ok, error = False, f"{type(exc).__name__}: {exc}"
        transient = not isinstance(exc, LocalizeError) or isinstance(exc, ToolFailedError)
        tb = traceback.format_exc()
    built = tuple(f"{e.stage}:{e.key[:12]}" for e in events if not e.reused)
    reused = tuple(f"{e.stage}:{e.key[:12]}" for e in events if e.reused)
    return Outcome(job=job.id, ok=ok, seconds=time.monotonic() - started, error=error, transient=transient,
                   traceback=tb, built=built, reused=reused, pid=os.getpid())


def _run(job: Job) -> None:
    """One job through the public API. An understand job leaves its episode's speaker clusters for the series
    cast without merging it: its series' market jobs merge every episode's (see localize.apps.catalog.plan)."""
    import localize

    if job.kind == "understand":
        localize.prepare_episode(job.path, options=replace(job.options, cast_merge=False))
    elif job.kind == "market" and job.market:
        overrides = {job.market: job.overrides} if job.overrides else None
        localize.localize_episode(job.path, [job.market], job.out, options=job.options, overrides=overrides)
    else:  # pragma: no cover - the planner makes only these two kinds
        raise ValueError(f"unknown job kind {job.kind!r}")
