"""The review store on SQLite: line actions with history, overrides for the pipeline, sign-offs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from localize.core.artifacts import LineOverride
from localize.core.errors import ConfigError
from localize.apps.review.store import ReviewStore, default_url


@pytest.fixture
def store(tmp_path: Path):
    with ReviewStore(default_url(tmp_path)) as s:
        yield s


def test_default_url_is_the_catalog_database_in_wal(tmp_path: Path, store: ReviewStore) -> None:
    assert default_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'localize.db'}"
    store.approve("ep01", "en-US", "L001", source_text="hola", target_text="hello", reviewer="ana")
    with sqlite3.connect(tmp_path / "localize.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = db.execute("SELECT episode, market, line_id, status, reviewer FROM review_lines").fetchall()
    assert rows == [("ep01", "en-US", "L001", "approved", "ana")]


def test_history_is_kept_and_current_is_the_latest(store: ReviewStore) -> None:
    store.edit("ep01", "en-US", "L002", source_text="adiós", target_text="bye", reviewer="ana")
    store.approve("ep01", "en-US", "L002", source_text="adiós", target_text="goodbye", reviewer="bo")
    store.approve("ep01", "pt-BR", "L002", source_text="adiós", target_text="tchau", reviewer="bo")
    history = store.history("ep01", "en-US", "L002")
    assert [(r.status, r.target_text, r.reviewer) for r in history] == [("edited", "bye", "ana"),
                                                                         ("approved", "goodbye", "bo")]
    assert history[0].at <= history[1].at and history[1].at.endswith("Z")
    current = store.current("ep01", "en-US")
    assert list(current) == ["L002"] and current["L002"].status == "approved"


def test_overrides_are_approved_and_edited_lines_and_survive_an_issue(store: ReviewStore) -> None:
    store.approve("ep01", "en-US", "L003", source_text="c", target_text="C", reviewer="ana")
    store.edit("ep01", "en-US", "L001", source_text="a", target_text="A!", voice="en_US-lessac-medium",
               reviewer="ana")
    store.mark_issue("ep01", "en-US", "L001", source_text="a", target_text="A!", reviewer="bo", note="too fast")
    store.mark_issue("ep01", "en-US", "L002", source_text="b", target_text="B", reviewer="bo", note="wrong name")
    assert store.overrides("ep01", "en-US") == [
        LineOverride(id="L001", source_text="a", target_text="A!", voice="en_US-lessac-medium"),
        LineOverride(id="L003", source_text="c", target_text="C", voice=""),
    ]
    assert store.overrides("ep01", "pt-BR") == []


def test_sign_off_latest_wins(store: ReviewStore) -> None:
    assert store.signoff("ep01", "en-US") is None
    store.sign_off("ep01", "en-US", reviewer="ana", render_sha256="a" * 64)
    store.sign_off("ep01", "en-US", reviewer="bo", render_sha256="b" * 64)
    latest = store.signoff("ep01", "en-US")
    assert latest is not None and (latest.reviewer, latest.render_sha256) == ("bo", "b" * 64)


def test_two_stores_share_the_file(tmp_path: Path, store: ReviewStore) -> None:
    store.approve("ep01", "en-US", "L001", source_text="a", target_text="A", reviewer="ana")
    with ReviewStore(default_url(tmp_path)) as other:
        assert [o.id for o in other.overrides("ep01", "en-US")] == ["L001"]


@pytest.mark.parametrize("kwargs,match", [
    ({"status": "done", "target_text": "x", "reviewer": "ana"}, "not one of"),
    ({"status": "approved", "target_text": "x", "reviewer": " "}, "reviewer"),
    ({"status": "edited", "target_text": "  ", "reviewer": "ana"}, "empty"),
])
def test_bad_actions_are_config_errors(store: ReviewStore, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        store.record("ep01", "en-US", "L001", source_text="a", **kwargs)


@pytest.mark.parametrize(("url", "match"), [("nosuchdialect://x", "unknown dialect"),
                                            ("not a url", "is not valid")])
def test_unusable_url_is_a_config_error(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ReviewStore(url)


def test_an_edit_is_stored_as_the_render_writes_it(store: ReviewStore) -> None:
    """A pasted edit with line breaks, a BOM and a control character is stored as one line of plain text:
    the render writes it so, and a stored text that differed from the rendered one stayed pending for ever."""
    done = store.edit("ep01", "en-US", "L003", source_text="走吧", target_text="\ufeffLet's\r\ngo\x07 now\n",
                      reviewer="ana")
    assert done.target_text == "Let's go now"
    assert store.current("ep01", "en-US")["L003"].target_text == "Let's go now"
