"""Catalog file parsing, job planning, staleness, retries and status (fake jobs; the pipeline is not under test)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localize.apps.catalog import BatchResult, Catalog, RetryPolicy, status
from localize.apps.catalog.db import StateDB, default_url
from localize.apps.catalog.events import EventLog, read_events
from localize.apps.catalog.executors import InlineExecutor, Work, make_executor
from localize.apps.catalog.plan import Job, is_done, plan_catalog
from localize.apps.catalog.runner import run_jobs
from localize.apps.catalog.spec import load_catalog, parse_catalog
from localize.apps.catalog.work import Outcome
from localize.core.errors import ConfigError, InputError, UnknownNameError


def write_catalog(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def episodes(tmp_path: Path) -> Path:
    folder = tmp_path / "eps"
    folder.mkdir()
    for i in (1, 2):
        (folder / f"ep0{i}.mp4").write_bytes(f"episode {i}".encode())
    return folder


CATALOG = """
[defaults]
language = "es"
separation = "off"

[[series]]
name = "love"
episodes = ["eps/*.mp4"]
markets = ["en-US", "pt-BR"]
bible = "love/bible.toml"

[[series]]
name = "night"
episodes = ["eps/ep01.mp4"]
markets = ["pt-BR"]
cast = "night/cast.json"
separation = "on"
"""


def test_parse_resolves_paths_and_merges_defaults(tmp_path: Path) -> None:
    spec = load_catalog(write_catalog(tmp_path, CATALOG))
    love, night = spec.series
    assert love.episodes == (str(tmp_path / "eps/*.mp4"),)
    assert love.bible == str(tmp_path / "love/bible.toml") and love.cast is None
    assert love.settings.language == "es" and love.settings.separation == "off"
    assert night.settings.separation == "on" and night.settings.language == "es"
    assert night.cast == str(tmp_path / "night/cast.json")


def test_commercial_and_voice_consent_reach_the_run_options(tmp_path: Path, episodes: Path) -> None:
    body = CATALOG.replace('separation = "off"', 'separation = "off"\ncommercial = true').replace(
        'cast = "night/cast.json"', 'cast = "night/cast.json"\nvoice_consent = { SPEAKER_00 = "night/lin.toml" }')
    jobs = {j.id: j for j in Catalog.load(write_catalog(tmp_path, body)).plan(tmp_path / "out")}
    night = jobs["night/ep01/pt-BR"].options
    assert night.commercial and jobs["love/ep01/en-US"].options.commercial  # the default reaches every series
    assert night.voice_consent == (("SPEAKER_00", tmp_path / "night/lin.toml"),)
    assert jobs["love/ep01/en-US"].options.voice_consent == ()
    (tmp_path / "night").mkdir()
    (tmp_path / "night/lin.toml").write_text("subject = 'Lin'\n", encoding="utf-8")
    again = {j.id: j for j in Catalog.load(write_catalog(tmp_path, body)).plan(tmp_path / "out")}
    assert again["night/ep01/pt-BR"].input_hash != jobs["night/ep01/pt-BR"].input_hash  # the record is an input


def test_urls_are_kept_as_written(tmp_path: Path) -> None:
    spec = parse_catalog(tmp_path / "c.toml", '[[series]]\nname = "s"\nepisodes = ["s3://b/ep*.mp4"]\nmarkets = ["en-US"]\n')
    assert spec.series[0].episodes == ("s3://b/ep*.mp4",)


@pytest.mark.parametrize(("body", "needle"), [
    ('[[series]]\nname = "s"\nepisodes = ["a.mp4"]\nmarkets = ["en-US"]\ncolour = "red"\n', "colour"),
    ('[[series]]\nname = "s"\nepisodes = "a.mp4"\nmarkets = ["en-US"]\n', "episodes"),
    ('[[series]]\nname = "s"\nmarkets = ["en-US"]\n', "episodes"),
    ('[[series]]\nname = "s"\nepisodes = []\nmarkets = ["en-US"]\n', "episodes is empty"),
    ('[[series]]\nname = "s"\nepisodes = ["a.mp4"]\nmarkets = []\n', "markets is empty"),
    (('[[series]]\nname = "s"\nepisodes = ["a"]\nmarkets = ["en-US"]\n[[series]]\nname = "s"\nepisodes = ["b"]\n'
      'markets = ["en-US"]\n'), "used twice"),
    ('[[series]]\nname = "a/b"\nepisodes = ["a"]\nmarkets = ["en-US"]\n', "folder name"),
    ('[defaults]\nocr = "maybe"\n[[series]]\nname = "s"\nepisodes = ["a"]\nmarkets = ["en-US"]\n', "ocr"),
    ("[defaults]\n", "no [[series]]"),
    ("[[series]\n", "not valid TOML"),
])
def test_errors_name_the_file_and_the_key(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_catalog(write_catalog(tmp_path, body))
    assert str(tmp_path / "catalog.toml") in str(err.value) and needle in str(err.value)


def test_missing_catalog_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such catalog file"):
        Catalog.load(tmp_path / "nope.toml")


def test_plan_is_a_graph_with_shared_understanding(tmp_path: Path, episodes: Path) -> None:
    catalog = Catalog.load(write_catalog(tmp_path, CATALOG))
    jobs = catalog.plan(tmp_path / "out")
    assert [j.id for j in jobs] == [
        "love/ep01/understand", "love/ep01/en-US", "love/ep01/pt-BR",
        "love/ep02/understand", "love/ep02/en-US", "love/ep02/pt-BR",
        "night/ep01/understand", "night/ep01/pt-BR",
    ]
    by_id = {j.id: j for j in jobs}
    assert by_id["love/ep02/pt-BR"].depends == ("love/ep02/understand",)
    assert by_id["love/ep02/pt-BR"].output == str((tmp_path / "out/love/ep02/pt-BR").resolve())
    # Same file, different series options: different understanding.
    assert by_id["love/ep01/understand"].input_hash != by_id["night/ep01/understand"].input_hash
    assert by_id["night/ep01/pt-BR"].depends == ("night/ep01/understand",)
    assert by_id["love/ep01/en-US"].options.cache_dir == Path(os.environ["LOCALIZE_CACHE_DIR"]).resolve()  # the one default
    assert by_id["love/ep01/en-US"].options.series == "love"


def test_unknown_market_and_missing_episode(tmp_path: Path, episodes: Path) -> None:
    bad_market = write_catalog(tmp_path, '[[series]]\nname = "s"\nepisodes = ["eps/ep01.mp4"]\nmarkets = ["xx-YY"]\n')
    with pytest.raises(UnknownNameError, match="xx-YY"):
        Catalog.load(bad_market).plan(tmp_path / "out")
    missing = write_catalog(tmp_path, '[[series]]\nname = "s"\nepisodes = ["eps/*.mkv"]\nmarkets = ["en-US"]\n')
    with pytest.raises(InputError, match="matches no file"):
        Catalog.load(missing).plan(tmp_path / "out")


def test_remote_episodes_are_fetched_into_the_cache(tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/show/ep01.mp4", b"remote one")
    fs.pipe("/bucket/show/ep02.mp4", b"remote two")
    try:
        catalog = Catalog.from_toml('[[series]]\nname = "s"\nepisodes = ["memory://bucket/show/ep*.mp4"]\n'
                                    'markets = ["en-US"]\n', tmp_path / "c.toml")
        jobs = catalog.plan(tmp_path / "out")
    finally:
        fs.rm("/bucket", recursive=True)
    understand = [j for j in jobs if j.kind == "understand"]
    assert [j.episode for j in understand] == ["ep01", "ep02"]
    assert Path(understand[0].path).read_bytes() == b"remote one"
    assert Path(understand[0].path).is_relative_to((tmp_path / "out" / ".sources").resolve())


def _mark_all_done(jobs: list[Job], db: StateDB) -> None:
    for j in jobs:
        db.plan(id=j.id, kind=j.kind, series=j.series, episode=j.episode, market=j.market, input_hash=j.input_hash,
                output=j.output, done=False)
        db.finished(j.id, j.input_hash, 1.0)
        if j.output:
            Path(j.output).mkdir(parents=True, exist_ok=True)
            (Path(j.output) / "video.mp4").write_bytes(b"video")


def test_staleness_follows_inputs(tmp_path: Path, episodes: Path) -> None:
    markets = tmp_path / "markets.toml"
    catalog_path = write_catalog(tmp_path, '[defaults]\nmarkets_files = ["markets.toml"]\n[[series]]\nname = "s"\n'
                                           'episodes = ["eps/*.mp4"]\nmarkets = ["en-US", "xx-XX"]\n')
    markets.write_text('[xx-XX]\nname = "Test"\nlanguage = "fr"\n', encoding="utf-8")
    out = tmp_path / "out"
    db = StateDB(default_url(out))
    spec = load_catalog(catalog_path)
    jobs = plan_catalog(spec, out, db)
    assert not any(is_done(j, db) for j in jobs)
    _mark_all_done(jobs, db)
    assert all(is_done(j, db) for j in plan_catalog(spec, out, db))

    markets.write_text('[xx-XX]\nname = "Test"\nlanguage = "fr"\nmax_speed = 1.5\n', encoding="utf-8")
    (episodes / "ep02.mp4").write_bytes(b"episode 2, re-cut")
    stale = {j.id for j in plan_catalog(spec, out, db) if not is_done(j, db)}
    # Markets files are part of every job's options; the re-cut episode changes all of its jobs.
    assert stale == {j.id for j in jobs}
    _mark_all_done(plan_catalog(spec, out, db), db)
    (Path(out / "s/ep01/en-US/video.mp4")).unlink()  # a missing output is re-made
    assert {j.id for j in plan_catalog(spec, out, db) if not is_done(j, db)} == {"s/ep01/en-US"}


# --- the coordinator, with fake jobs ----------------------------------------------------------------

def ok_work(job: Job) -> Outcome:
    if job.output:
        Path(job.output).mkdir(parents=True, exist_ok=True)
        (Path(job.output) / "video.mp4").write_bytes(job.id.encode())
    return Outcome(job=job.id, ok=True, seconds=0.01, built=(f"stage:{job.id}",))


class FlakyWork:
    """Fails `times` times with a transient error for the jobs in `flaky`; a permanent error for `broken`."""

    def __init__(self, flaky: dict[str, int], broken: frozenset[str] = frozenset()) -> None:
        self.flaky = dict(flaky)
        self.broken = broken
        self.calls: list[str] = []

    def __call__(self, job: Job) -> Outcome:
        self.calls.append(job.id)
        if job.id in self.broken:
            return Outcome(job=job.id, ok=False, seconds=0.0, error="InputError: bad episode", transient=False)
        if self.flaky.get(job.id, 0) > 0:
            self.flaky[job.id] -= 1
            return Outcome(job=job.id, ok=False, seconds=0.0, error="RuntimeError: flaky", transient=True)
        return ok_work(job)


def _run(tmp_path: Path, work: Work, retries: int = 2) -> tuple[list[Job], StateDB, BatchResult]:
    catalog = Catalog.load(write_catalog(tmp_path, CATALOG))
    out = tmp_path / "out"
    db = StateDB(default_url(out))
    jobs = plan_catalog(catalog.spec, out, db)
    events = EventLog(out / "events.jsonl")
    result = run_jobs(jobs, db, InlineExecutor(work), retry=RetryPolicy(retries=retries, backoff_s=0.01),
                      events=events)
    events.close()
    return jobs, db, result


def test_retry_with_backoff_then_success(tmp_path: Path, episodes: Path) -> None:
    work = FlakyWork({"love/ep01/understand": 2})
    jobs, db, result = _run(tmp_path, work)
    assert result.ok and result.ran == len(jobs)
    assert work.calls.count("love/ep01/understand") == 3
    assert db.job("love/ep01/understand").attempts == 3
    retries = [e for e in read_events(tmp_path / "out/events.jsonl") if e["event"] == "job_retry"]
    assert [e["delay_s"] for e in retries] == [0.01, 0.02]  # exponential
    assert all(r.status == "done" for r in db.jobs())


def test_failed_job_is_reported_and_its_dependents_blocked(tmp_path: Path, episodes: Path) -> None:
    work = FlakyWork({"love/ep02/understand": 99}, broken=frozenset({"night/ep01/understand"}))
    _, db, result = _run(tmp_path, work, retries=1)
    assert not result.ok
    assert {f.job: f.attempts for f in result.failed} == {"love/ep02/understand": 2,
                                                          "night/ep01/understand": 1}  # permanent: not retried
    assert set(result.blocked) == {"love/ep02/en-US", "love/ep02/pt-BR", "night/ep01/pt-BR"}
    assert "love/ep02/en-US" not in work.calls
    rows = {r.id: r for r in db.jobs()}
    assert rows["love/ep02/understand"].status == "failed" and "flaky" in (rows["love/ep02/understand"].error or "")
    assert rows["love/ep02/pt-BR"].status == "blocked"
    assert rows["love/ep01/pt-BR"].status == "done"  # other episodes go on

    found = status(tmp_path / "out")
    by_stage = {(s.series, s.stage): s for s in found.stages}
    assert by_stage[("love", "understand")].done == 1 and by_stage[("love", "understand")].failed == 1
    assert by_stage[("love", "pt-BR")].blocked == 1 and by_stage[("love", "pt-BR")].total == 2
    assert {f.job for f in found.failures} == {"love/ep02/understand", "night/ep01/understand"}
    assert not found.complete
    kinds = [e["event"] for e in read_events(tmp_path / "out/events.jsonl")]
    assert kinds[0] == "batch_started" and kinds[-1] == "batch_finished" and "job_blocked" in kinds


def test_rerun_does_only_what_is_missing(tmp_path: Path, episodes: Path) -> None:
    _run(tmp_path, FlakyWork({}, broken=frozenset({"love/ep02/understand"})), retries=0)
    work = FlakyWork({})
    jobs, _, result = _run(tmp_path, work)
    assert result.ok
    assert sorted(work.calls) == ["love/ep02/en-US", "love/ep02/pt-BR", "love/ep02/understand"]
    work = FlakyWork({})
    _, _, result = _run(tmp_path, work)
    assert work.calls == [] and result.skipped == len(jobs)


def test_a_crashed_batch_resumes_its_running_jobs(tmp_path: Path, episodes: Path) -> None:
    catalog = Catalog.load(write_catalog(tmp_path, CATALOG))
    db = StateDB(default_url(tmp_path / "out"))
    jobs = plan_catalog(catalog.spec, tmp_path / "out", db)
    db.plan(id=jobs[0].id, kind="understand", series="love", episode="ep01", market=None,
            input_hash=jobs[0].input_hash, output=None, done=False)
    db.started(jobs[0].id, 1)  # the coordinator died here
    work = FlakyWork({})
    run_jobs(jobs, db, InlineExecutor(work))
    assert jobs[0].id in work.calls and db.job(jobs[0].id).status == "done"


def test_unknown_executor(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="executor must be"):
        make_executor("threads")


def test_model_cache_loads_once_per_process_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    from localize.core import modelcache

    loads: list[int] = []

    def load() -> object:
        loads.append(1)
        return object()

    monkeypatch.setattr(modelcache, "_models", None)
    assert modelcache.shared("m", "k", load) is not modelcache.shared("m", "k", load)  # a normal run: released
    monkeypatch.setattr(modelcache, "_models", {})  # a batch worker
    first = modelcache.shared("m", "k", load)
    assert modelcache.shared("m", "k", load) is first and modelcache.shared("m", "other", load) is not first
    assert len(loads) == 4


def test_jobs_leave_the_database_with_their_market(tmp_path: Path, episodes: Path) -> None:
    _run(tmp_path, FlakyWork({}))
    write_catalog(tmp_path, CATALOG.replace('markets = ["en-US", "pt-BR"]', 'markets = ["en-US"]'))
    catalog = Catalog.load(tmp_path / "catalog.toml")
    db = StateDB(default_url(tmp_path / "out"))
    result = run_jobs(plan_catalog(catalog.spec, tmp_path / "out", db), db, InlineExecutor(FlakyWork({})))
    assert result.ran == 0 and not any(r.market == "pt-BR" and r.series == "love" for r in db.jobs())
    assert status(tmp_path / "out").complete


def test_cli_batch_errors_and_status(tmp_path: Path, episodes: Path) -> None:
    from click.testing import CliRunner

    from localize.apps.cli import main

    runner = CliRunner()
    bad = write_catalog(tmp_path, '[[series]]\nname = "s"\nepisodes = ["eps/*.mp4"]\nmarkets = ["en-US"]\ncolor = 1\n')
    res = runner.invoke(main, ["batch", str(bad), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "color" in res.output and "Traceback" not in res.output
    res = runner.invoke(main, ["status", "--out", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "localize.db" in res.output

    _run(tmp_path, FlakyWork({}, broken=frozenset({"love/ep02/understand"})), retries=0)
    res = runner.invoke(main, ["status", "--out", str(tmp_path / "out"), "--json"])
    assert res.exit_code == 0
    import json

    data = json.loads(res.output)
    assert data["complete"] is False and data["failures"][0]["job"] == "love/ep02/understand"
    assert data["running_batch"] is None
    assert {"series": "love", "stage": "en-US", "total": 2, "done": 1, "running": 0, "pending": 0, "failed": 0,
            "blocked": 1} in data["stages"]
    res = runner.invoke(main, ["status", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0 and "love/ep02/understand" in res.output and "bad episode" in res.output
    assert "no batch is running" in res.output


def test_a_reviewed_line_makes_only_its_market_stale(tmp_path: Path, episodes: Path) -> None:
    from localize.apps.review.store import ReviewStore

    out = tmp_path / "out"
    catalog = Catalog.load(write_catalog(tmp_path, CATALOG))
    jobs = catalog.plan(out)
    db = StateDB(default_url(out))
    _mark_all_done(jobs, db)
    store = ReviewStore(default_url(out))  # the review page's tables, in the batch's database
    store.edit("love/ep01", "pt-BR", "L0001", source_text="Hola.", target_text="Olá!", reviewer="ana")
    replanned = catalog.plan(out)
    stale = [j for j in replanned if not is_done(j, db)]
    assert [j.id for j in stale] == ["love/ep01/pt-BR"]
    (override,) = stale[0].overrides
    assert (override.id, override.source_text, override.target_text) == ("L0001", "Hola.", "Olá!")


# --- one coordinator per database ---------------------------------------------------------------

def test_a_second_batch_on_a_live_database_is_refused(tmp_path: Path, episodes: Path) -> None:
    import os
    import socket

    from localize.core.errors import BatchBusyError

    db = StateDB(default_url(tmp_path / "out"))
    db.acquire("other-machine pid 7 abc", host="other-machine", pid=7)
    with pytest.raises(BatchBusyError, match="other-machine pid 7 abc") as caught:
        _run(tmp_path, FlakyWork({}))
    assert "localize status" in str(caught.value)
    assert all(r.status != "running" for r in db.jobs())  # nothing was started or recovered

    # Silent for longer than the stale limit: dead; the next batch takes over, runs, and lets go.
    with db.engine.begin() as conn:
        from localize.apps.catalog.db import coordinator_table

        conn.execute(coordinator_table.update().values(heartbeat_at=0.0))
    _, _, result = _run(tmp_path, FlakyWork({}))
    assert result.ok
    kinds = [e["event"] for e in read_events(tmp_path / "out/events.jsonl")]
    assert "coordinator_took_over" in kinds
    with db.engine.connect() as conn:
        assert conn.execute(coordinator_table.select()).all() == []  # released at the end

    # A coordinator on this machine whose process is gone is dead at once, however fresh its heartbeat.
    gone = os.getpid()
    while True:
        gone += 7919
        try:
            os.kill(gone, 0)
        except ProcessLookupError:
            break
        except PermissionError:
            continue
    db.acquire(f"{socket.gethostname()} pid {gone} x", host=socket.gethostname(), pid=gone)
    assert db.acquire("me", host=socket.gethostname(), pid=os.getpid()) == f"{socket.gethostname()} pid {gone} x"
    assert db.heartbeat("me") and not db.heartbeat("not me")
    db.release("me")


def test_a_model_scope_shares_models_inside_it_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from localize.core import modelcache

    monkeypatch.setattr(modelcache, "_models", None)
    with modelcache.scope():  # an episode's markets: the LLM loads once for all of them
        first = modelcache.shared("m", "k", object)
        assert modelcache.shared("m", "k", object) is first
    assert not modelcache.enabled() and modelcache.shared("m", "k", object) is not first  # dropped at the end
    monkeypatch.setattr(modelcache, "_models", {})  # a batch worker: the scope leaves its cache alone
    kept = modelcache.shared("m", "k", object)
    with modelcache.scope():
        assert modelcache.shared("m", "k", object) is kept
    assert modelcache.shared("m", "k", object) is kept


CAST_CATALOG = """
[[series]]
name = "night"
episodes = ["eps/*.mp4"]
markets = ["en-US", "pt-BR"]
cast = "night/cast.json"
"""


def test_a_cast_series_understands_its_episodes_in_parallel(tmp_path: Path, episodes: Path) -> None:
    catalog = Catalog.load(write_catalog(tmp_path, CAST_CATALOG))
    out = tmp_path / "out"
    db = StateDB(default_url(out))
    jobs = plan_catalog(catalog.spec, out, db)
    by_id = {j.id: j for j in jobs}
    assert [j.id for j in jobs][:2] == ["night/ep01/understand", "night/ep02/understand"]
    # Every market job needs the merged cast (every understand job); voices are given in plan order.
    assert by_id["night/ep01/en-US"].depends == ("night/ep01/understand", "night/ep02/understand")
    assert by_id["night/ep02/pt-BR"].depends == ("night/ep02/understand", "night/ep01/understand",
                                                 "night/ep02/en-US")

    class TwoWorkers:
        workers = 2

        def __init__(self) -> None:
            self.queue: list[Job] = []
            self.together: list[set[str]] = []

        def submit(self, job: Job) -> None:
            self.queue.append(job)

        def wait(self, timeout: float | None) -> list[Outcome]:
            self.together.append({j.id for j in self.queue})
            done, self.queue = self.queue, []
            return [Outcome(job=j.id, ok=True, seconds=0.0) for j in done]

        def close(self) -> None:
            pass

    executor = TwoWorkers()
    result = run_jobs(jobs, db, executor)
    assert result.ok and result.ran == len(jobs)
    assert executor.together[0] == {"night/ep01/understand", "night/ep02/understand"}
    assert all(len(batch) == 1 for batch in executor.together[1:])  # the market jobs, one after another


def test_jobs_run_through_the_public_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import localize
    from localize.apps.catalog import work
    from localize.core.options import RunOptions

    calls: list[tuple[str, bool]] = []
    monkeypatch.setattr(localize, "prepare_episode",
                        lambda path, options: calls.append(("prepare", options.cast_merge)), raising=False)
    monkeypatch.setattr(localize, "localize_episode",
                        lambda path, markets, out, options, overrides: calls.append(("market", options.cast_merge)),
                        raising=False)
    common = {"series": "s", "episode": "ep01", "path": "ep01.mp4", "input_hash": "h", "out": str(tmp_path),
              "options": RunOptions()}
    assert work.run_job(Job(id="u", kind="understand", market=None, depends=(), **common)).ok
    assert work.run_job(Job(id="m", kind="market", market="en-US", depends=("u",), **common)).ok
    # Understanding leaves the cast's merge to the market jobs.
    assert calls == [("prepare", False), ("market", True)]
