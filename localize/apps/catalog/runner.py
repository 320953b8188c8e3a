"""The coordinator: runs a job graph on an executor, keeping state in the database.

Finished jobs whose inputs are unchanged are skipped; a job starts when its dependencies are done; a
failed job is retried with exponential backoff while its error may pass (a crash, a tool failure, not
a bad input), then marked failed with its error, and the jobs depending on it are blocked, not run.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from localize.core.progress import NullProgress, Progress, Task
from localize.apps.catalog.db import HEARTBEAT_S, StateDB
from localize.apps.catalog.events import EventLog
from localize.apps.catalog.executors import Executor
from localize.apps.catalog.plan import Job, is_done
from localize.apps.catalog.work import Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFailure:
    job: str
    error: str
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResult:
    jobs: int  # in the catalog's graph
    skipped: int  # done before, with the same inputs
    ran: int  # finished in this batch
    failed: tuple[JobFailure, ...]
    blocked: tuple[str, ...]  # not run: a job they depend on failed
    outputs: tuple[str, ...]  # every finished market's output folder
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    retries: int = 2  # extra attempts after the first
    backoff_s: float = 2.0  # the wait before the first retry; doubled for each one after

    def delay(self, attempt: int) -> float:
        return float(self.backoff_s * 2 ** (attempt - 1))


class _Bars:
    """An overall bar and one per stage (understand, then each market)."""

    def __init__(self, progress: Progress, todo: Sequence[Job]) -> None:
        self.overall = progress.task("all jobs", len(todo))
        self.stages: dict[str, Task] = {}
        for stage in dict.fromkeys(self.stage(j) for j in todo):
            self.stages[stage] = progress.task(stage, sum(1 for j in todo if self.stage(j) == stage))

    @staticmethod
    def stage(job: Job) -> str:
        return "understand" if job.kind == "understand" else f"market {job.market}"

    def advance(self, job: Job) -> None:
        self.overall.advance()
        self.stages[self.stage(job)].advance()

    def done(self) -> None:
        for task in (self.overall, *self.stages.values()):
            task.done()


class _Coordinator:
    """This batch's hold on the database: taken before anything runs, kept alive by a heartbeat thread, given
    back at the end. A second batch on the same database is refused while this one lives (BatchBusyError)."""

    def __init__(self, db: StateDB, events: EventLog) -> None:
        self.db = db
        host, pid = socket.gethostname(), os.getpid()
        self.owner = f"{host} pid {pid} {uuid.uuid4().hex[:8]}"
        took_over = db.acquire(self.owner, host=host, pid=pid)
        if took_over:
            log.warning("took over the database from a batch that stopped (%s)", took_over)
            events.write("coordinator_took_over", previous=took_over)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="localize-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                if not self.db.heartbeat(self.owner):
                    log.error("another batch took over the database; this one's remaining jobs may run twice")
            except Exception as exc:  # noqa: BLE001 - a lost heartbeat must not kill the batch
                log.warning("heartbeat to the database failed: %s", exc)

    def release(self) -> None:
        self._stop.set()
        self._thread.join()
        self.db.release(self.owner)


def run_jobs(jobs: Sequence[Job], db: StateDB, executor: Executor, *, retry: RetryPolicy | None = None,
             events: EventLog | None = None, progress: Progress | None = None) -> BatchResult:
    retry = retry or RetryPolicy()
    events = events or EventLog(None)
    try:
        coordinator = _Coordinator(db, events)
    except BaseException:
        executor.close()
        raise
    try:
        return _run(jobs, db, executor, retry, events, progress)
    finally:
        coordinator.release()


def _run(jobs: Sequence[Job], db: StateDB, executor: Executor, retry: RetryPolicy, events: EventLog,
         progress: Progress | None) -> BatchResult:
    started = time.monotonic()
    for job_id in db.recover():
        events.write("job_recovered", job=job_id)
    for job_id in db.prune({j.series for j in jobs}, {j.id for j in jobs}):
        events.write("job_removed", job=job_id)
    done = {j.id for j in jobs if is_done(j, db)}
    for j in jobs:
        db.plan(id=j.id, kind=j.kind, series=j.series, episode=j.episode, market=j.market, input_hash=j.input_hash,
                output=j.output, done=j.id in done)
    todo = [j for j in jobs if j.id not in done]
    events.write("batch_started", jobs=len(jobs), todo=len(todo), skipped=len(done), workers=executor.workers)
    bars = _Bars(progress or NullProgress(), todo)
    by_id = {j.id: j for j in jobs}
    pending = list(todo)
    running: dict[str, float] = {}
    attempts: dict[str, int] = {}
    not_before: dict[str, float] = {}
    failed: dict[str, str] = {}
    blocked: list[str] = []
    ran = 0

    def start(job: Job) -> None:
        attempts[job.id] = attempts.get(job.id, 0) + 1
        running[job.id] = time.monotonic()
        db.started(job.id, attempts[job.id])
        events.write("job_started", job=job.id, kind=job.kind, attempt=attempts[job.id])
        executor.submit(job)

    def finish(outcome: Outcome) -> None:
        nonlocal ran
        job = by_id[outcome.job]
        running.pop(job.id, None)
        common = {"job": job.id, "attempt": attempts[job.id], "seconds": round(outcome.seconds, 3)}
        if outcome.ok:
            ran += 1
            done.add(job.id)
            db.finished(job.id, job.input_hash, outcome.seconds)
            events.write("job_finished", **common, built=list(outcome.built), reused=list(outcome.reused),
                         pid=outcome.pid)
            bars.advance(job)
        elif outcome.transient and attempts[job.id] <= retry.retries:
            delay = retry.delay(attempts[job.id])
            not_before[job.id] = time.monotonic() + delay
            pending.insert(0, job)
            db.retrying(job.id, outcome.error)
            events.write("job_retry", **common, error=outcome.error, delay_s=delay)
            log.warning("%s failed (%s); retrying in %.1f s", job.id, outcome.error, delay)
        else:
            failed[job.id] = outcome.error
            db.failed(job.id, outcome.error)
            events.write("job_failed", **common, error=outcome.error, traceback=outcome.traceback)
            log.error("%s failed: %s", job.id, outcome.error)
            bars.advance(job)

    try:
        while pending or running:
            for job in [j for j in pending if any(d in failed or d in blocked for d in j.depends)]:
                pending.remove(job)
                blocked.append(job.id)
                reason = f"blocked: {', '.join(d for d in job.depends if d in failed or d in blocked)} did not finish"
                db.blocked(job.id, reason)
                events.write("job_blocked", job=job.id, reason=reason)
                bars.advance(job)
            now = time.monotonic()
            busy_groups = {by_id[r].group for r in running if by_id[r].group}
            for job in list(pending):
                if len(running) >= executor.workers:
                    break
                if job.group and job.group in busy_groups:
                    continue
                if job.group:
                    busy_groups.add(job.group)  # the group's first pending job holds its turn, ready or not
                if all(d in done for d in job.depends) and not_before.get(job.id, 0.0) <= now:
                    pending.remove(job)
                    start(job)
            if not running:
                if not pending:
                    break
                waits = [t for j in pending if (t := not_before.get(j.id, 0.0)) > now]
                if not waits:  # pragma: no cover - the planner never makes a job wait on one outside the graph
                    raise RuntimeError(f"no job can start: {[j.id for j in pending]}")
                time.sleep(max(0.0, min(waits) - now))
                continue
            waits = [t - now for j in pending if (t := not_before.get(j.id, 0.0)) > now]
            for outcome in executor.wait(timeout=min(waits) if waits else None):
                finish(outcome)
    finally:
        executor.close()
    bars.done()
    seconds = time.monotonic() - started
    failures = tuple(JobFailure(job=j, error=e, attempts=attempts.get(j, 0)) for j, e in failed.items())
    events.write("batch_finished", ran=ran, failed=len(failures), blocked=len(blocked), seconds=round(seconds, 3))
    outputs = tuple(j.output for j in jobs if j.output and j.id in done)
    return BatchResult(jobs=len(jobs), skipped=len(jobs) - len(todo), ran=ran, failed=failures,
                       blocked=tuple(blocked), outputs=outputs, seconds=seconds)
