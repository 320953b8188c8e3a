"""Batch state in a database: SQLite (WAL) by default, PostgreSQL by URL (SQLAlchemy Core).

Tables: ``catalog_series``, ``catalog_episodes``, ``catalog_markets`` and ``catalog_jobs`` (status,
attempts, input hash, output directory, error, timings). Other parts of localize (the review store)
keep their own tables in the same database with their own MetaData.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from localize.core.db import default_url as default_url  # re-exported: api.py and the tests import it from here
from localize.core.db import open_engine
from localize.core.errors import BatchBusyError, ConfigError

metadata = MetaData()

series_table = Table(
    "catalog_series", metadata,
    Column("name", String(200), primary_key=True),
    Column("catalog", Text, nullable=False),
)
episodes_table = Table(
    "catalog_episodes", metadata,
    Column("id", String(400), primary_key=True),  # "<series>/<episode>"
    Column("series", String(200), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("origin", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),  # 64-bit: PostgreSQL's INTEGER stops at 2 GiB
    Column("mtime_ns", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
)
markets_table = Table(
    "catalog_markets", metadata,
    Column("series", String(200), primary_key=True),
    Column("market", String(64), primary_key=True),
)
jobs_table = Table(
    "catalog_jobs", metadata,
    Column("id", String(500), primary_key=True),  # "<series>/<episode>/understand" or ".../<market>"
    Column("kind", String(20), nullable=False),  # "understand" or "market"
    Column("series", String(200), nullable=False, index=True),
    Column("episode", String(200), nullable=False),
    Column("market", String(64), nullable=True),
    Column("status", String(20), nullable=False),  # pending, running, done, failed, blocked
    Column("attempts", Integer, nullable=False, default=0),
    Column("input_hash", String(64), nullable=False),
    Column("done_hash", String(64), nullable=True),  # the input hash of the last finished run
    Column("output", Text, nullable=True),  # the market's output directory
    Column("error", Text, nullable=True),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("seconds", Float, nullable=True),
)

# One row while a coordinator runs a batch on this database: who it is and when it last said it is alive.
coordinator_table = Table(
    "catalog_coordinator", metadata,
    Column("name", String(20), primary_key=True),  # always "batch"
    Column("owner", String(300), nullable=False),  # "<host> pid <pid> <token>"
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
)

STATUSES = ("pending", "running", "done", "failed", "blocked")
STALE_AFTER_S = 60.0  # a coordinator silent this long is dead (it beats every HEARTBEAT_S)
HEARTBEAT_S = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRow:
    id: str
    kind: str
    series: str
    episode: str
    market: str | None
    status: str
    attempts: int
    input_hash: str
    done_hash: str | None
    output: str | None
    error: str | None
    started_at: float | None
    finished_at: float | None
    seconds: float | None


class StateDB:
    """The batch's tables in the database at `url`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)
        try:
            metadata.create_all(self.engine)
        except OperationalError as exc:
            raise ConfigError(f"cannot open the database {url!r} ({exc.orig}); check the URL and that "
                              f"the server is up.") from exc

    def close(self) -> None:
        self.engine.dispose()

    # --- catalog ---
    def save_catalog(self, catalog: str, series: Iterable[tuple[str, tuple[str, ...]]]) -> None:
        with self.engine.begin() as conn:
            for name, markets in series:
                conn.execute(series_table.delete().where(series_table.c.name == name))
                conn.execute(series_table.insert().values(name=name, catalog=catalog))
                conn.execute(markets_table.delete().where(markets_table.c.series == name))
                for m in markets:
                    conn.execute(markets_table.insert().values(series=name, market=m))

    def known_sha256(self, episode_id: str, path: str, size: int, mtime_ns: int) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(episodes_table).where(episodes_table.c.id == episode_id)).first()
        if row and row.path == path and row.size == size and row.mtime_ns == mtime_ns:
            return str(row.sha256)
        return None

    def save_episode(self, *, id: str, series: str, name: str, origin: str, path: str, size: int,
                     mtime_ns: int, sha256: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(episodes_table.delete().where(episodes_table.c.id == id))
            conn.execute(episodes_table.insert().values(id=id, series=series, name=name, origin=origin, path=path,
                                                        size=size, mtime_ns=mtime_ns, sha256=sha256))

    # --- jobs ---
    def jobs(self, series: str | None = None) -> list[JobRow]:
        query = select(jobs_table).order_by(jobs_table.c.id)
        if series is not None:
            query = query.where(jobs_table.c.series == series)
        with self.engine.connect() as conn:
            return [JobRow(**row._mapping) for row in conn.execute(query)]

    def job(self, job_id: str) -> JobRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs_table).where(jobs_table.c.id == job_id)).first()
        return JobRow(**row._mapping) if row else None

    def plan(self, *, id: str, kind: str, series: str, episode: str, market: str | None, input_hash: str,
             output: str | None, done: bool) -> None:
        """Record a planned job: `done` when its last finished run had this input hash and its output is there;
        else pending, with its attempts reset for this batch."""
        values: dict[str, Any] = {"kind": kind, "series": series, "episode": episode, "market": market,
                                  "input_hash": input_hash, "output": output}
        if not done:
            values.update(status="pending", attempts=0, error=None)
        with self.engine.begin() as conn:
            found = conn.execute(select(jobs_table.c.id).where(jobs_table.c.id == id)).first()
            if found:
                conn.execute(update(jobs_table).where(jobs_table.c.id == id).values(**values))
            else:
                conn.execute(jobs_table.insert().values(**{"id": id, "status": "done" if done else "pending",
                                                           "attempts": 0, **values}))

    def _set(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(jobs_table).where(jobs_table.c.id == job_id).values(**values))

    def started(self, job_id: str, attempt: int) -> None:
        self._set(job_id, status="running", attempts=attempt, started_at=time.time(), finished_at=None)

    def finished(self, job_id: str, input_hash: str, seconds: float) -> None:
        self._set(job_id, status="done", done_hash=input_hash, error=None, finished_at=time.time(), seconds=seconds)

    def retrying(self, job_id: str, error: str) -> None:
        self._set(job_id, status="pending", error=error)

    def failed(self, job_id: str, error: str) -> None:
        self._set(job_id, status="failed", error=error, finished_at=time.time())

    def blocked(self, job_id: str, reason: str) -> None:
        self._set(job_id, status="blocked", error=reason)

    def prune(self, series: Iterable[str], keep: set[str]) -> list[str]:
        """Forget the jobs of these series that the catalog no longer has (a removed episode or market)."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(jobs_table.c.id).where(jobs_table.c.series.in_(list(series)))).all()
            gone = [r.id for r in rows if r.id not in keep]
            if gone:
                conn.execute(jobs_table.delete().where(jobs_table.c.id.in_(gone)))
        return gone

    # --- the coordinator lock ---
    def acquire(self, owner: str, *, host: str, pid: int, now: float | None = None) -> str | None:
        """Make `owner` this database's coordinator; return the owner it took over from (a dead one), if any.

        Raises BatchBusyError while another coordinator is alive: it beat within STALE_AFTER_S and, when
        it runs on this host, its process exists."""
        now = time.time() if now is None else now
        row = {"owner": owner, "host": host, "pid": pid, "started_at": now, "heartbeat_at": now}
        table = coordinator_table
        with self.engine.begin() as conn:
            held = conn.execute(select(table).where(table.c.name == "batch")).first()
            if held is None:
                try:
                    conn.execute(table.insert().values(name="batch", **row))
                except IntegrityError as exc:  # another coordinator inserted first
                    raise BatchBusyError(self.url, "another coordinator", 0.0) from exc
                return None
            if held.owner != owner and _alive(held, host, now):
                raise BatchBusyError(self.url, held.owner, now - held.heartbeat_at)
            # Take over from a dead coordinator, only if nobody else did in between.
            took = conn.execute(update(table).where(table.c.name == "batch", table.c.owner == held.owner,
                                                    table.c.heartbeat_at == held.heartbeat_at).values(**row))
            if took.rowcount != 1:
                raise BatchBusyError(self.url, "another coordinator", 0.0)
            return None if held.owner == owner else str(held.owner)

    def heartbeat(self, owner: str) -> bool:
        """Say `owner` is alive; False if it is no longer the coordinator (another took over)."""
        table = coordinator_table
        with self.engine.begin() as conn:
            beat = conn.execute(update(table).where(table.c.name == "batch", table.c.owner == owner)
                                .values(heartbeat_at=time.time()))
        return beat.rowcount == 1

    def coordinator(self, now: float | None = None) -> tuple[str, float] | None:
        """The live coordinator's owner and the seconds since its heartbeat; None when no batch runs."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            held = conn.execute(select(coordinator_table).where(coordinator_table.c.name == "batch")).first()
        if held is None or not _alive(held, socket.gethostname(), now):
            return None
        return str(held.owner), now - float(held.heartbeat_at)

    def release(self, owner: str) -> None:
        table = coordinator_table
        with self.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.name == "batch", table.c.owner == owner))

    def recover(self) -> list[str]:
        """Jobs left `running` by a batch that died: back to pending (call it holding the coordinator lock)."""
        with self.engine.begin() as conn:
            ids = [r.id for r in conn.execute(select(jobs_table.c.id).where(jobs_table.c.status == "running"))]
            conn.execute(update(jobs_table).where(jobs_table.c.status == "running").values(status="pending"))
        return ids


def _alive(held: Any, host: str, now: float) -> bool:
    if now - float(held.heartbeat_at) > STALE_AFTER_S:
        return False
    if held.host == host:  # on this machine we can ask the OS
        try:
            os.kill(int(held.pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True
