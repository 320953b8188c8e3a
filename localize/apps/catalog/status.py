"""Progress per series and market, read from the batch database (while it runs, or after)."""

from __future__ import annotations

from dataclasses import dataclass

from localize.apps.catalog.db import STATUSES, StateDB
from localize.apps.catalog.runner import JobFailure


@dataclass(frozen=True, slots=True, kw_only=True)
class StageStatus:
    series: str
    stage: str  # "understand", or a market tag
    total: int
    done: int
    running: int
    pending: int
    failed: int
    blocked: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogStatus:
    stages: tuple[StageStatus, ...]
    failures: tuple[JobFailure, ...]  # failed jobs with their last error
    blocked: tuple[str, ...]
    running_batch: str | None = None  # the live coordinator ("<host> pid <pid> <token>"), if a batch runs now

    @property
    def complete(self) -> bool:
        return all(s.done == s.total for s in self.stages)


def catalog_status(db: StateDB) -> CatalogStatus:
    counts: dict[tuple[str, str], dict[str, int]] = {}
    failures, blocked = [], []
    for job in db.jobs():
        stage = job.market or "understand"
        row = counts.setdefault((job.series, stage), dict.fromkeys(STATUSES, 0))
        row[job.status] = row.get(job.status, 0) + 1
        if job.status == "failed":
            failures.append(JobFailure(job=job.id, error=job.error or "", attempts=job.attempts))
        elif job.status == "blocked":
            blocked.append(job.id)
    stages = tuple(
        StageStatus(series=series, stage=stage, total=sum(c.values()), done=c["done"], running=c["running"],
                    pending=c["pending"], failed=c["failed"], blocked=c["blocked"])
        for (series, stage), c in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] != "understand", kv[0][1]))
    )
    live = db.coordinator()
    return CatalogStatus(stages=stages, failures=tuple(failures), blocked=tuple(blocked),
                         running_batch=live[0] if live else None)
