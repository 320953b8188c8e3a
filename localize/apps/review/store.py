"""Review state in a database: each line's reviews (with history) and per-market sign-offs.

The tables live in the catalog's database file (``sqlite:///<out>/localize.db`` by default, WAL) under
their own SQLAlchemy metadata, so the catalog and the review page share one file (opened by
:mod:`localize.core.db`) without sharing code.
Rows are only ever added: a line's current state is its latest row, and the rows before it are its
history.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Engine, Integer, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from localize.apps.review.auth import hash_secret, new_token, split_token, verify_secret
from localize.core.artifacts import LineOverride
from localize.core.db import DB_NAME as DB_NAME  # re-exported: market.py imports it from here
from localize.core.db import default_url as default_url  # re-exported: the review API and tests import it from here
from localize.core.db import open_engine
from localize.core.errors import ConfigError
from localize.core.media.text import reviewed_text

log = logging.getLogger(__name__)

STATUSES = ("approved", "edited", "issue")
MAX_TEXT = 2000  # characters of a line's text or a note
MAX_NAME = 200  # characters of a reviewer's name, a voice or a line id

metadata = MetaData()

line_reviews = Table(
    "review_lines", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("episode", String(255), nullable=False, index=True),
    Column("market", String(64), nullable=False, index=True),
    Column("line_id", String(64), nullable=False),
    Column("source_text", Text, nullable=False),
    Column("target_text", Text, nullable=False),
    Column("voice", String(255), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("reviewer", String(255), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

signoffs = Table(
    "review_signoffs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("episode", String(255), nullable=False, index=True),
    Column("market", String(64), nullable=False, index=True),
    Column("reviewer", String(255), nullable=False),
    Column("render_sha256", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

reviewers = Table(
    "review_reviewers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, index=True),
    Column("markets", Text, nullable=False),  # comma-separated market tags
    Column("lead", Boolean, nullable=False, default=False),
    Column("token_id", String(32), nullable=False, unique=True),
    Column("token_hash", String(255), nullable=False),  # scrypt$n$r$p$salt$hash of the token's secret
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)



@dataclass(frozen=True, slots=True, kw_only=True)
class LineReview:
    """One reviewer action on one line of one episode and market."""

    episode: str
    market: str
    line_id: str
    source_text: str  # the source line when the action was taken
    target_text: str  # the line's text in the market language after the action
    voice: str = ""  # "": the character's cast voice; else a TTS voice for this line only (re-voice)
    status: str  # approved | edited | issue
    note: str = ""
    reviewer: str
    at: str  # ISO 8601, UTC


@dataclass(frozen=True, slots=True, kw_only=True)
class SignOff:
    """A reviewer accepted an episode's render for a market; the render's sha256 pins what they saw."""

    episode: str
    market: str
    reviewer: str
    render_sha256: str
    at: str  # ISO 8601, UTC


@dataclass(frozen=True, slots=True, kw_only=True)
class Reviewer:
    """A person with a review token: the markets they review, and whether they lead (sign off)."""

    id: int
    name: str
    markets: tuple[str, ...]
    lead: bool
    created_at: str
    revoked: bool = False


def _reviewer(row: Any) -> Reviewer:
    return Reviewer(id=row.id, name=row.name, markets=tuple(m for m in row.markets.split(",") if m),
                    lead=bool(row.lead), created_at=_iso(row.created_at), revoked=row.revoked_at is not None)


def _check_length(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise ConfigError(f"{what} is {len(value)} characters long; at most {limit} are kept.")


def _iso(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite keeps no zone; we only ever write UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _review(row: Any) -> LineReview:
    return LineReview(episode=row.episode, market=row.market, line_id=row.line_id, source_text=row.source_text,
                      target_text=row.target_text, voice=row.voice, status=row.status, note=row.note,
                      reviewer=row.reviewer, at=_iso(row.at))


def _signoff(row: Any) -> SignOff:
    return SignOff(episode=row.episode, market=row.market, reviewer=row.reviewer,
                   render_sha256=row.render_sha256, at=_iso(row.at))


class ReviewStore:
    """Line reviews and sign-offs in the database at `url` (any SQLAlchemy URL; SQLite gets WAL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine = open_engine(url)  # SQLite: WAL and a busy timeout; PostgreSQL: psycopg
        try:
            metadata.create_all(self._engine)
        except SQLAlchemyError as exc:
            raise ConfigError(f"review database {url!r} cannot be opened ({exc.__class__.__name__}: "
                              f"{exc.orig if hasattr(exc, 'orig') else exc}); check the path or URL.") from exc

    @classmethod
    def for_out(cls, out: str | Path) -> ReviewStore:
        """The store of an output folder (the one holding ``<episode>/<market>/``)."""
        return cls(default_url(out))

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._engine.begin() as conn:
            yield conn

    # -- lines -----------------------------------------------------------------------------------

    def record(self, episode: str, market: str, line_id: str, *, status: str, source_text: str, target_text: str,
               reviewer: str, voice: str = "", note: str = "") -> LineReview:
        """Add one action on a line; the line's earlier actions stay as its history."""
        if status not in STATUSES:
            raise ConfigError(f"review status {status!r} is not one of {', '.join(STATUSES)}.")
        if not reviewer.strip():
            raise ConfigError("a review needs the reviewer's name; enter it before approving or editing.")
        for what, value, limit in (("the line's text", target_text, MAX_TEXT), ("the note", note, MAX_TEXT),
                                   ("the voice", voice, MAX_NAME), ("the reviewer's name", reviewer, MAX_NAME),
                                   ("the line id", line_id, MAX_NAME)):
            _check_length(what, value, limit)
        target_text = reviewed_text(target_text)  # as the render will write it: one line of plain text, so a
        # stored edit equals the rendered line and does not stay pending (and re-render) for ever
        if status != "issue" and not target_text.strip():
            raise ConfigError(f"line {line_id}: the text in the market language is empty; type the line or mark "
                              "it as an issue.")
        row = {"episode": episode, "market": market, "line_id": line_id, "source_text": source_text,
               "target_text": target_text, "voice": voice, "status": status, "note": note,
               "reviewer": reviewer.strip(), "at": datetime.now(UTC)}
        with self._tx() as conn:
            conn.execute(insert(line_reviews).values(**row))
        log.info("%s/%s %s: %s by %s", episode, market, line_id, status, row["reviewer"])
        return _review(_Row(row))

    def approve(self, episode: str, market: str, line_id: str, *, source_text: str, target_text: str,
                reviewer: str, voice: str = "", note: str = "") -> LineReview:
        return self.record(episode, market, line_id, status="approved", source_text=source_text,
                           target_text=target_text, voice=voice, note=note, reviewer=reviewer)

    def edit(self, episode: str, market: str, line_id: str, *, source_text: str, target_text: str,
             reviewer: str, voice: str = "", note: str = "") -> LineReview:
        return self.record(episode, market, line_id, status="edited", source_text=source_text,
                           target_text=target_text, voice=voice, note=note, reviewer=reviewer)

    def mark_issue(self, episode: str, market: str, line_id: str, *, source_text: str, target_text: str,
                   reviewer: str, note: str, voice: str = "") -> LineReview:
        return self.record(episode, market, line_id, status="issue", source_text=source_text,
                           target_text=target_text, voice=voice, note=note, reviewer=reviewer)

    def history(self, episode: str, market: str, line_id: str | None = None) -> list[LineReview]:
        """Every action, oldest first (of one line, or of the whole episode and market)."""
        query = select(line_reviews).where(line_reviews.c.episode == episode, line_reviews.c.market == market)
        if line_id is not None:
            query = query.where(line_reviews.c.line_id == line_id)
        with self._engine.connect() as conn:
            return [_review(r) for r in conn.execute(query.order_by(line_reviews.c.id))]

    def current(self, episode: str, market: str) -> dict[str, LineReview]:
        """Each reviewed line's latest action, by line id."""
        return {r.line_id: r for r in self.history(episode, market)}

    def overrides(self, episode: str, market: str) -> list[LineOverride]:
        """The approved and edited lines, as the pipeline's overrides: each line's latest approved or
        edited text and voice (a later issue mark leaves the text in force), in line id order."""
        kept: dict[str, LineReview] = {}
        for r in self.history(episode, market):
            if r.status in ("approved", "edited"):
                kept[r.line_id] = r
        return [LineOverride(id=r.line_id, source_text=r.source_text, target_text=r.target_text, voice=r.voice)
                for _, r in sorted(kept.items())]

    # -- sign-off --------------------------------------------------------------------------------

    def sign_off(self, episode: str, market: str, *, reviewer: str, render_sha256: str) -> SignOff:
        if not reviewer.strip():
            raise ConfigError("a sign-off needs the reviewer's name.")
        _check_length("the reviewer's name", reviewer, MAX_NAME)
        row = {"episode": episode, "market": market, "reviewer": reviewer.strip(), "render_sha256": render_sha256,
               "at": datetime.now(UTC)}
        with self._tx() as conn:
            conn.execute(insert(signoffs).values(**row))
        log.info("%s/%s signed off by %s (%s)", episode, market, row["reviewer"], render_sha256[:12])
        return _signoff(_Row(row))

    def signoff(self, episode: str, market: str) -> SignOff | None:
        """The latest sign-off of an episode for a market, or None."""
        query = (select(signoffs).where(signoffs.c.episode == episode, signoffs.c.market == market)
                 .order_by(signoffs.c.id.desc()).limit(1))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _signoff(row) if row is not None else None


    # -- reviewers -------------------------------------------------------------------------------

    def add_reviewer(self, name: str, markets: list[str] | tuple[str, ...], *,
                     lead: bool = False) -> tuple[Reviewer, str]:
        """A new reviewer and their token (shown once: only its scrypt hash is kept)."""
        name = name.strip()
        tags = tuple(dict.fromkeys(m.strip() for m in markets if m.strip()))
        if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
            raise ConfigError(f"reviewer name {name[:40]!r} must be 1 to {MAX_NAME} printable characters.")
        if not tags or any("," in m or "/" in m or len(m) > 64 for m in tags):
            raise ConfigError("give the reviewer's markets as tags, e.g. --markets en-US,pt-BR.")
        if any(r.name == name for r in self.reviewers()):
            raise ConfigError(f"reviewer {name!r} exists; revoke them first or choose another name.")
        token, token_id = new_token()
        parts = split_token(token)
        assert parts is not None
        row = {"name": name, "markets": ",".join(tags), "lead": lead, "token_id": token_id,
               "token_hash": hash_secret(parts[1]), "created_at": datetime.now(UTC), "revoked_at": None}
        with self._tx() as conn:
            row["id"] = conn.execute(insert(reviewers).values(**row)).inserted_primary_key[0]
        log.info("reviewer %s added for %s%s", name, ", ".join(tags), " (lead)" if lead else "")
        return _reviewer(_Row(row)), token

    def reviewers(self, *, revoked: bool = False) -> list[Reviewer]:
        """The active reviewers (and the revoked ones with `revoked`), oldest first."""
        query = select(reviewers).order_by(reviewers.c.id)
        if not revoked:
            query = query.where(reviewers.c.revoked_at.is_(None))
        with self._engine.connect() as conn:
            return [_reviewer(r) for r in conn.execute(query)]

    def reviewer(self, reviewer_id: int) -> Reviewer | None:
        """An active reviewer by id (None once revoked)."""
        query = select(reviewers).where(reviewers.c.id == reviewer_id, reviewers.c.revoked_at.is_(None))
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _reviewer(row) if row is not None else None

    def revoke_reviewer(self, name: str) -> int:
        """Revoke every active token of `name`; how many were revoked."""
        with self._tx() as conn:
            done = conn.execute(update(reviewers).where(reviewers.c.name == name.strip(),
                                                        reviewers.c.revoked_at.is_(None))
                                .values(revoked_at=datetime.now(UTC))).rowcount
        if done:
            log.info("reviewer %s revoked", name)
        return int(done or 0)

    def authenticate(self, token: str) -> Reviewer | None:
        """The active reviewer a token belongs to, or None (unknown, malformed or revoked)."""
        parts = split_token(token) if isinstance(token, str) else None
        row = None
        if parts is not None:
            query = select(reviewers).where(reviewers.c.token_id == parts[0], reviewers.c.revoked_at.is_(None))
            with self._engine.connect() as conn:
                row = conn.execute(query).first()
        ok = verify_secret(parts[1] if parts else "", row.token_hash if row is not None else None)
        return _reviewer(row) if ok and row is not None else None


class _Row:
    """Attribute access to a dict, so a just-inserted row converts like a fetched one."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
