"""`Catalog`: run a catalog file's series and episodes into their markets, as one resumable batch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localize.apps.catalog.db import StateDB, default_url
from localize.apps.catalog.events import EventLog
from localize.apps.catalog.executors import make_executor
from localize.apps.catalog.plan import Job, OverrideSource, plan_catalog
from localize.apps.catalog.runner import BatchResult, RetryPolicy, run_jobs
from localize.apps.catalog.spec import CatalogSpec, load_catalog, parse_catalog
from localize.apps.catalog.status import CatalogStatus, catalog_status
from localize.core.progress import Progress

log = logging.getLogger(__name__)


def review_overrides(url: str) -> OverrideSource | None:
    """The review store's approved and edited lines (episode id "<series>/<episode>", market), if it is installed."""
    try:
        from localize.apps.review.store import ReviewStore
    except ImportError:  # the review store is optional in a trimmed install
        return None
    store = ReviewStore(url)

    def overrides(episode: str, market: str) -> Sequence[Any]:
        return store.overrides(episode, market)

    return overrides


class Catalog:
    """Series, their episodes and the markets they go to.

        catalog = Catalog.load("catalog.toml")
        result = catalog.run("out/", workers=4)
        for failure in result.failed:
            print(failure.job, failure.error)
    """

    def __init__(self, spec: CatalogSpec) -> None:
        self.spec = spec

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        return cls(load_catalog(path))

    @classmethod
    def from_toml(cls, text: str, path: str | Path = "catalog.toml") -> Catalog:
        """From TOML text; relative paths in it are relative to `path`'s folder."""
        return cls(parse_catalog(path, text))

    def plan(self, out: str | Path, *, db: str | None = None, cache_dir: str | Path | None = None) -> list[Job]:
        """Every job of the batch, in run order (episode files are hashed; remote ones fetched)."""
        url = db or default_url(out)
        state = StateDB(url)
        try:
            return plan_catalog(self.spec, Path(out), state, cache_dir=Path(cache_dir) if cache_dir else None,
                                overrides=review_overrides(url))
        finally:
            state.close()

    def run(
        self,
        out: str | Path,
        *,
        executor: str = "local",
        workers: int | None = None,
        address: str | None = None,
        db: str | None = None,
        cache_dir: str | Path | None = None,
        retries: int = 2,
        backoff_s: float = 2.0,
        progress: Progress | None = None,
    ) -> BatchResult:
        """Run what is missing or stale into ``out/<series>/<episode>/<market>/``; state in `db`
        (default ``sqlite:///out/localize.db``), events in ``out/events.jsonl``."""
        out = Path(out)
        url = db or default_url(out)
        state = StateDB(url)
        events = EventLog(out / "events.jsonl")
        try:
            jobs = plan_catalog(self.spec, out, state, cache_dir=Path(cache_dir) if cache_dir else None,
                                overrides=review_overrides(url))
            runner = make_executor(executor, workers=workers, address=address)
            return run_jobs(jobs, state, runner, retry=RetryPolicy(retries=retries, backoff_s=backoff_s),
                            events=events, progress=progress)
        finally:
            events.close()
            state.close()


def status(out: str | Path | None = None, *, db: str | None = None) -> CatalogStatus:
    """Progress per series and market of the batch whose database is `db` (default: in `out`)."""
    if db is None and out is None:
        raise ValueError("status() needs out or db")
    state = StateDB(db or default_url(out or "."))
    try:
        return catalog_status(state)
    finally:
        state.close()
