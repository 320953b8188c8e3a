"""The catalog and the review store on a real PostgreSQL server (started by the test session): the same job
graph, retries, status, review edits and re-runs as on SQLite, through the CLI's --db and the library."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from localize.apps.catalog import Catalog, RetryPolicy, status
from localize.apps.catalog.db import StateDB
from localize.apps.catalog.events import read_events
from localize.apps.catalog.executors import InlineExecutor
from localize.apps.catalog.plan import Job, is_done, plan_catalog
from localize.apps.catalog.runner import run_jobs
from localize.apps.catalog.work import Outcome
from localize.apps.cli import main
from localize.apps.review.store import ReviewStore
from tests.integration.test_catalog import cut
from tests.conftest import SAMPLE, ffprobe
from tests.postgres import new_database
from tests.unit.test_catalog import FlakyWork, ok_work

pytestmark = pytest.mark.integration

CATALOG = """
[defaults]
language = "es"
tts_backend = "espeak"

[[series]]
name = "love"
episodes = ["eps/*.mp4"]
markets = ["en-US", "pt-BR"]
"""


def test_job_graph_retries_and_reviews_in_postgres(tmp_path: Path, postgres_url: str) -> None:
    url = new_database(postgres_url, "fake_jobs")
    (tmp_path / "eps").mkdir()
    for i in (1, 2):
        (tmp_path / "eps" / f"ep0{i}.mp4").write_bytes(f"episode {i}".encode())
    catalog = Catalog.from_toml(CATALOG, tmp_path / "catalog.toml")
    out = tmp_path / "out"
    work = FlakyWork({"love/ep02/understand": 1})  # the pipeline is not under test here: the database is

    db = StateDB(url)
    result = run_jobs(plan_catalog(catalog.spec, out, db), db, InlineExecutor(work),
                      retry=RetryPolicy(retries=2, backoff_s=0.01))
    assert result.ok and result.ran == 6 and work.calls.count("love/ep02/understand") == 2
    rows = {r.id: r for r in db.jobs()}
    assert rows["love/ep02/understand"].attempts == 2 and {r.status for r in rows.values()} == {"done"}
    found = status(db=url)
    assert found.complete and {(s.stage, s.done) for s in found.stages} == {("understand", 2), ("en-US", 2),
                                                                             ("pt-BR", 2)}
    # Reviews live in the same server; a reviewed line makes only its market stale, with the review passed to its
    # job (an approval pins the line's text, so it is part of the job's inputs too).
    store = ReviewStore(url)
    store.edit("love/ep01", "pt-BR", "L0001", source_text="Hola.", target_text="Olá!", reviewer="ana")
    store.approve("love/ep02", "en-US", "L0001", source_text="Hola.", target_text="Hello.", reviewer="bo")
    assert [r.reviewer for r in store.history("love/ep01", "pt-BR")] == ["ana"]
    store.close()
    stale = [j for j in catalog.plan(out, db=url) if not is_done(j, db)]
    assert {j.id: [o.target_text for o in j.overrides] for j in stale} == {"love/ep01/pt-BR": ["Olá!"],
                                                                          "love/ep02/en-US": ["Hello."]}
    db.close()


def test_real_batch_edit_and_status_through_the_cli(tmp_path: Path, postgres_url: str) -> None:
    url = new_database(postgres_url, "real_batch")
    (tmp_path / "eps").mkdir()
    cut(SAMPLE, tmp_path / "eps" / "ep01.mp4", 0, 4)
    (tmp_path / "catalog.toml").write_text(CATALOG.replace('["en-US", "pt-BR"]', '["pt-BR"]'), encoding="utf-8")
    out = tmp_path / "out"
    runner = CliRunner()
    batch = ["batch", str(tmp_path / "catalog.toml"), "--out", str(out), "--db", url, "--workers", "1"]
    res = runner.invoke(main, batch)
    assert res.exit_code == 0, res.output
    video = out / "love" / "ep01" / "pt-BR" / "video.mp4"
    assert sorted(s["codec_type"] for s in ffprobe(video)["streams"]) == ["audio", "subtitle", "video"]
    assert not (out / "localize.db").exists()  # the state went to the server, not to a file beside the outputs
    episode = StateDB(url)
    with episode.engine.connect() as conn:
        from localize.apps.catalog.db import episodes_table

        (row,) = conn.execute(episodes_table.select()).all()
    assert row.mtime_ns == os.stat(tmp_path / "eps" / "ep01.mp4").st_mtime_ns  # 64-bit, not truncated
    episode.close()

    script = json.loads((out / "love" / "ep01" / "pt-BR" / "script.json").read_text(encoding="utf-8"))
    line = script["lines"][0]
    store = ReviewStore(url)
    store.edit("love/ep01", "pt-BR", line["id"], source_text=line["source_text"],
               target_text="Isto foi revisto.", reviewer="ana")
    store.close()
    res = runner.invoke(main, batch)
    assert res.exit_code == 0, res.output
    srt = (out / "love" / "ep01" / "pt-BR" / "subtitles.srt").read_text(encoding="utf-8")
    assert "Isto foi revisto." in srt
    finished = [e["job"] for e in read_events(out / "events.jsonl") if e["event"] == "job_finished"]
    assert finished.count("love/ep01/understand") == 1 and finished.count("love/ep01/pt-BR") == 2

    res = runner.invoke(main, ["status", "--db", url, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["complete"] is True
    assert {(s["stage"], s["done"], s["total"]) for s in data["stages"]} == {("understand", 1, 1), ("pt-BR", 1, 1)}


def test_a_server_that_is_down_is_one_clear_error(tmp_path: Path, postgres_url: str) -> None:
    dead = postgres_url.rsplit(":", 1)[0] + ":1/postgres"
    res = CliRunner().invoke(main, ["status", "--db", dead])
    assert res.exit_code == 2 and "check the URL and that the server is up" in res.output
    assert "Traceback" not in res.output


def test_a_server_lost_mid_run_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    import localize.apps.catalog

    def lost(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(localize.apps.catalog, "status", lost)
    res = CliRunner().invoke(main, ["status", "--db", "postgresql+psycopg://team@127.0.0.1:5/catalog"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "the database stopped answering" in res.output and "server closed the connection" in res.output


def test_a_second_coordinator_is_refused_while_the_first_runs(tmp_path: Path, postgres_url: str) -> None:
    import socket
    import threading

    from localize.core.errors import BatchBusyError

    url = new_database(postgres_url, "two_coordinators")
    (tmp_path / "eps").mkdir()
    (tmp_path / "eps" / "ep01.mp4").write_bytes(b"episode 1")
    (tmp_path / "catalog.toml").write_text(CATALOG, encoding="utf-8")
    catalog = Catalog.load(tmp_path / "catalog.toml")
    out = tmp_path / "out"
    running, go = threading.Event(), threading.Event()

    def slow(job: Job) -> Outcome:
        running.set()
        assert go.wait(60)
        return ok_work(job)

    first_db = StateDB(url)
    results: list[object] = []
    first = threading.Thread(target=lambda: results.append(
        run_jobs(plan_catalog(catalog.spec, out, first_db), first_db, InlineExecutor(slow))))
    first.start()
    try:
        assert running.wait(30)
        second_db = StateDB(url)
        with pytest.raises(BatchBusyError):
            run_jobs(plan_catalog(catalog.spec, out, second_db), second_db, InlineExecutor(slow))
        second_db.close()
        res = CliRunner().invoke(main, ["batch", str(tmp_path / "catalog.toml"), "--out", str(out), "--db", url])
        assert res.exit_code == 2 and "another batch" in res.output and "Traceback" not in res.output
        assert {r.status for r in first_db.jobs()} >= {"running"}  # the refused batches reset nothing
        assert (status(db=url).running_batch or "").startswith(socket.gethostname())
    finally:
        go.set()
        first.join(60)
    assert results and results[0].ok  # type: ignore[attr-defined]
    again = Catalog.load(tmp_path / "catalog.toml").run(out, db=url, executor="inline")
    assert again.ran == 0 and again.skipped == 3 and status(db=url).running_batch is None
    first_db.close()
