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
from graphlib import TopologicalSorter

from localize.apps.catalog.db import HEARTBEAT_S, StateDB
from localize.apps.catalog.events import EventLog
from localize.apps.catalog.executors import Executor
from localize.apps.catalog.plan import Job, is_done
from localize.apps.catalog.work import Outcome
from localize.core.progress import NullProgress, Progress, Task

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
            except Exception as exc:  # a lost heartbeat must not kill the batch
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
    done = _prepare(jobs, db, events)
    todo = [j for j in jobs if j.id not in done]
    events.write("batch_started", jobs=len(jobs), todo=len(todo), skipped=len(done), workers=executor.workers)
    batch = _Batch(jobs, todo, done, db, executor, retry, events, _Bars(progress or NullProgress(), todo))
    try:
        batch.run()
    finally:
        executor.close()
    batch.bars.done()
    return batch.result(len(todo), time.monotonic() - started)


def _prepare(jobs: Sequence[Job], db: StateDB, events: EventLog) -> set[str]:
    """Recover a stopped batch's jobs, forget jobs no longer planned, record the plan; the jobs already done."""
    for job_id in db.recover():
        events.write("job_recovered", job=job_id)
    for job_id in db.prune({j.series for j in jobs}, {j.id for j in jobs}):
        events.write("job_removed", job=job_id)
    done = {j.id for j in jobs if is_done(j, db)}
    for j in jobs:
        db.plan(id=j.id, kind=j.kind, series=j.series, episode=j.episode, market=j.market, input_hash=j.input_hash,
                output=j.output, done=j.id in done)
    return done


class _Batch:
    """One batch's jobs on their way: readiness (a graphlib.TopologicalSorter over the jobs to do), dispatch to
    the executor, each outcome (finished, retried later, failed) and the jobs blocked behind a failure."""

    def __init__(self, jobs: Sequence[Job], todo: Sequence[Job], done: set[str], db: StateDB, executor: Executor,
                 retry: RetryPolicy, events: EventLog, bars: _Bars) -> None:
        self.jobs, self.db, self.executor, self.retry, self.events, self.bars = jobs, db, executor, retry, events, bars
        self.by_id = {j.id: j for j in jobs}
        self.done = done
        self.pending = list(todo)  # plan order; a retried job goes back to the front
        self.running: dict[str, float] = {}
        self.attempts: dict[str, int] = {}
        self.not_before: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.blocked: list[str] = []
        self.ran = 0
        self.graph: TopologicalSorter[str] = TopologicalSorter()
        for job in todo:
            self.graph.add(job.id, *(d for d in job.depends if d not in done))
        self.graph.prepare()
        self.ready = set(self.graph.get_ready())  # every dependency done

    # -- the loop --------------------------------------------------------------------------------------------

    def run(self) -> None:
        while self.pending or self.running:
            self._block()
            now = time.monotonic()
            self._dispatch(now)
            if not self.running:
                if not self.pending:
                    break
                self._sleep_until_retry(now)
                continue
            for outcome in self.executor.wait(timeout=self._next_retry_in(now)):
                self._finish(outcome)

    def _delays(self, now: float) -> list[float]:
        return [t for j in self.pending if (t := self.not_before.get(j.id, 0.0)) > now]

    def _next_retry_in(self, now: float) -> float | None:
        waits = self._delays(now)
        return min(waits) - now if waits else None

    def _sleep_until_retry(self, now: float) -> None:
        waits = self._delays(now)
        if not waits:  # pragma: no cover - the planner never makes a job wait on one outside the graph
            raise RuntimeError(f"no job can start: {[j.id for j in self.pending]}")
        time.sleep(max(0.0, min(waits) - now))

    # -- readiness and dispatch ------------------------------------------------------------------------------

    def _block(self) -> None:
        """Take out of the queue every job depending on one that failed or was blocked."""
        stopped = set(self.failed) | set(self.blocked)
        for job in [j for j in self.pending if any(d in stopped for d in j.depends)]:
            self.pending.remove(job)
            self.blocked.append(job.id)
            reason = f"blocked: {', '.join(d for d in job.depends if d in stopped)} did not finish"
            self.db.blocked(job.id, reason)
            self.events.write("job_blocked", job=job.id, reason=reason)
            self.bars.advance(job)

    def _dispatch(self, now: float) -> None:
        """Start ready jobs, in queue order, while a worker is free."""
        for job in list(self.pending):
            if len(self.running) >= self.executor.workers:
                break
            if job.id in self.ready and self.not_before.get(job.id, 0.0) <= now:
                self.pending.remove(job)
                self._start(job)

    def _start(self, job: Job) -> None:
        self.attempts[job.id] = self.attempts.get(job.id, 0) + 1
        self.running[job.id] = time.monotonic()
        self.db.started(job.id, self.attempts[job.id])
        self.events.write("job_started", job=job.id, kind=job.kind, attempt=self.attempts[job.id])
        self.executor.submit(job)

    # -- outcomes --------------------------------------------------------------------------------------------

    def _finish(self, outcome: Outcome) -> None:
        job = self.by_id[outcome.job]
        self.running.pop(job.id, None)
        common = {"job": job.id, "attempt": self.attempts[job.id], "seconds": round(outcome.seconds, 3)}
        if outcome.ok:
            self._succeeded(job, outcome, common)
        elif outcome.transient and self.attempts[job.id] <= self.retry.retries:
            self._retry_later(job, outcome, common)
        else:
            self._failed(job, outcome, common)

    def _succeeded(self, job: Job, outcome: Outcome, common: dict[str, object]) -> None:
        self.ran += 1
        self.done.add(job.id)
        self.graph.done(job.id)
        self.ready.update(self.graph.get_ready())
        self.db.finished(job.id, job.input_hash, outcome.seconds)
        self.events.write("job_finished", **common, built=list(outcome.built), reused=list(outcome.reused),
                          pid=outcome.pid, **({"node": outcome.node} if outcome.node else {}))
        self.bars.advance(job)

    def _retry_later(self, job: Job, outcome: Outcome, common: dict[str, object]) -> None:
        delay = self.retry.delay(self.attempts[job.id])
        self.not_before[job.id] = time.monotonic() + delay
        self.pending.insert(0, job)
        self.db.retrying(job.id, outcome.error)
        self.events.write("job_retry", **common, error=outcome.error, delay_s=delay)
        log.warning("%s failed (%s); retrying in %.1f s", job.id, outcome.error, delay)

    def _failed(self, job: Job, outcome: Outcome, common: dict[str, object]) -> None:
        self.failed[job.id] = outcome.error
        self.db.failed(job.id, outcome.error)
        self.events.write("job_failed", **common, error=outcome.error, traceback=outcome.traceback)
        log.error("%s failed: %s", job.id, outcome.error)
        self.bars.advance(job)

    def result(self, todo: int, seconds: float) -> BatchResult:
        failures = tuple(JobFailure(job=j, error=e, attempts=self.attempts.get(j, 0)) for j, e in self.failed.items())
        self.events.write("batch_finished", ran=self.ran, failed=len(failures), blocked=len(self.blocked),
                          seconds=round(seconds, 3))
        outputs = tuple(j.output for j in self.jobs if j.output and j.id in self.done)
        return BatchResult(jobs=len(self.jobs), skipped=len(self.jobs) - todo, ran=self.ran, failed=failures,
                           blocked=tuple(self.blocked), outputs=outputs, seconds=seconds)
