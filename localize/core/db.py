"""The database localize's apps share (the catalog's batch state, the review's line reviews): one SQLAlchemy
engine per URL, SQLite (WAL) by default, PostgreSQL by URL. Each app keeps its own tables and MetaData."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from localize.core.errors import ConfigError, MissingExtraError

DB_NAME = "localize.db"


def default_url(out: Path | str) -> str:
    """The database of an output folder: ``sqlite:///<out>/localize.db``."""
    return f"sqlite:///{Path(out).resolve() / DB_NAME}"


def open_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL and a busy timeout so readers never block the batch."""
    try:
        engine = create_engine(url, future=True)
    except NoSuchModuleError as exc:
        raise ConfigError(f"database URL {url!r}: unknown dialect ({exc}); use sqlite:///FILE or "
                          f"postgresql+psycopg://USER@HOST/DB.") from exc
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"database URL {url!r} is not valid ({exc}); use sqlite:///FILE.") from exc
    except ImportError as exc:
        raise MissingExtraError("postgres", "postgres", "psycopg") from exc
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
    return engine


__all__ = ["DB_NAME", "default_url", "open_engine"]
