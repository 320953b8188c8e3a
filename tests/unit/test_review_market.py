"""Review of a market folder without the pipeline: actions, pending edits, sign-off, export and the JSON API
(the re-render is the one stage faked here; tests/integration/test_review.py runs it for real)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from localize.core import jsonio
from localize.core.artifacts import Loudness, Report, ReportLine
from localize.core.errors import ConfigError, InputError
from localize.apps.review import (ReviewStore, act, create_app, export, find_markets, needs_render, review_market,
                             sign_off)
from localize.apps.review.market import market_key

LINES = (("L001", "hola", "hello"), ("L002", "adiós", "bye"))


def _market(out: Path, episode: str = "ep01", market: str = "en-US") -> Path:
    folder = out / episode / market
    folder.mkdir(parents=True)
    lines = tuple(ReportLine(id=i, speaker="C01", source_text=s, target_text=t, slot_start_ms=n * 1000,
                             slot_end_ms=n * 1000 + 900, dub_start_ms=n * 1000, dub_end_ms=n * 1000 + 800,
                             speed=1.0, overflow_ms=0, route=("apertium:es-en",))
                  for n, (i, s, t) in enumerate(LINES))
    report = Report(episode=episode, market=market, language="en", source_language="es", duration_ms=2000,
                    dubbed=True, tts="piper:x", ai_label="AI", lines=lines,
                    loudness=Loudness(target_lufs=-14, target_true_peak_dbtp=-1, integrated_lufs=-14.2,
                                      true_peak_dbtp=-2.0, loudness_range_lu=3.0))
    jsonio.save(report, folder / "report.json")
    for name in ("video.mp4", "subtitles.srt", "subtitles.vtt", "subtitles.ass", "script.json"):
        (folder / name).write_text(f"{name} v1", encoding="utf-8")
    return folder


def _render(folder: Path, store: ReviewStore) -> None:
    """Stands in for the pipeline: the report takes the reviewers' text and the video changes."""
    report = jsonio.load(Report, folder / "report.json")
    kept = {o.id: o for o in store.overrides(report.episode, report.market)}
    lines = tuple(ReportLine(**{**jsonio.to_dict(ln), "target_text": kept[ln.id].target_text,
                                "route": tuple(ln.route), "flags": tuple(ln.flags)})
                  if ln.id in kept else ln for ln in report.lines)
    jsonio.save(Report(**{**{f: getattr(report, f) for f in Report.__dataclass_fields__}, "lines": lines}),
                folder / "report.json")
    (folder / "video.mp4").write_text("video " + "|".join(ln.target_text for ln in lines), encoding="utf-8")


def local_client(app) -> TestClient:
    """A client of a --no-auth app (one local reviewer) on a loopback Host, with the session's CSRF token."""
    client = TestClient(app, base_url="http://127.0.0.1:8765")
    client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf"]
    return client


@pytest.fixture
def store(tmp_path: Path):
    with ReviewStore.for_out(tmp_path) as s:
        yield s


def test_approve_pins_the_rendered_text_and_needs_no_render(tmp_path: Path, store: ReviewStore) -> None:
    folder = _market(tmp_path)
    act(folder, store, "L001", "approve", reviewer="ana")
    kept = store.overrides("ep01", "en-US")
    assert [(o.id, o.source_text, o.target_text) for o in kept] == [("L001", "hola", "hello")]
    assert not needs_render(folder, store)
    review = review_market(folder, store)
    assert [ln.status for ln in review.lines] == ["approved", ""]
    assert review.count("approved") == 1 and review.count("") == 1


def test_edit_is_pending_until_rendered(tmp_path: Path, store: ReviewStore) -> None:
    folder = _market(tmp_path)
    act(folder, store, "L002", "edit", text="  goodbye  ", reviewer="ana")
    assert needs_render(folder, store)
    with pytest.raises(ConfigError, match="not rendered yet"):
        sign_off(folder, store, reviewer="ana")
    _render(folder, store)
    assert not needs_render(folder, store)
    # approving after the edit keeps the edited text
    act(folder, store, "L002", "approve", reviewer="bo")
    assert store.overrides("ep01", "en-US")[0].target_text == "goodbye"
    line = review_market(folder, store).lines[1]
    assert [(h.status, h.reviewer) for h in line.history] == [("edited", "ana"), ("approved", "bo")]


def test_revoice_and_issue(tmp_path: Path, store: ReviewStore) -> None:
    folder = _market(tmp_path)
    act(folder, store, "L001", "revoice", voice="en_US-lessac-medium", reviewer="ana")
    assert store.overrides("ep01", "en-US")[0].voice == "en_US-lessac-medium"
    with pytest.raises(ConfigError, match="describe the issue"):
        act(folder, store, "L002", "issue", reviewer="ana")
    act(folder, store, "L002", "issue", note="name is wrong", reviewer="ana")
    with pytest.raises(ConfigError, match="L002 are marked as issues"):
        sign_off(folder, store, reviewer="ana")


def test_bad_actions(tmp_path: Path, store: ReviewStore) -> None:
    folder = _market(tmp_path)
    with pytest.raises(InputError, match="no line 'L009'"):
        act(folder, store, "L009", "approve", reviewer="ana")
    with pytest.raises(ConfigError, match="unchanged"):
        act(folder, store, "L001", "edit", text="hello", reviewer="ana")
    with pytest.raises(ConfigError, match="not one of"):
        act(folder, store, "L001", "delete", reviewer="ana")
    with pytest.raises(InputError, match="no report.json"):
        review_market(tmp_path, store)


def test_a_changed_source_makes_the_review_stale(tmp_path: Path, store: ReviewStore) -> None:
    folder = _market(tmp_path)
    act(folder, store, "L001", "edit", text="hi there", reviewer="ana")
    report = jsonio.load(Report, folder / "report.json")
    changed = ReportLine(**{**jsonio.to_dict(report.lines[0]), "source_text": "buenas", "route": ("x",), "flags": ()})
    jsonio.save(Report(**{**{f: getattr(report, f) for f in Report.__dataclass_fields__},
                          "lines": (changed, report.lines[1])}), folder / "report.json")
    line = review_market(folder, store).lines[0]
    assert line.stale and not line.pending


def test_export_ships_signed_off_markets_and_refuses_a_changed_render(tmp_path: Path) -> None:
    out = tmp_path / "out"
    signed, unsigned = _market(out, market="en-US"), _market(out, market="pt-BR")
    store = ReviewStore.for_out(out)
    act(signed, store, "L001", "approve", reviewer="ana")
    sign_off(signed, store, reviewer="ana")
    result = export(out, tmp_path / "ship", store=store)
    assert [(r.market, r.exported, r.signoff_current) for r in result.rows] == [("en-US", True, True),
                                                                               ("pt-BR", False, False)]
    assert sorted(p.name for p in (tmp_path / "ship" / "ep01" / "en-US").iterdir()) == sorted(
        ["video.mp4", "subtitles.srt", "subtitles.vtt", "subtitles.ass", "script.json", "report.json"])
    assert not (tmp_path / "ship" / "ep01" / "pt-BR").exists()
    with open(result.summary_csv, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["market"], r["approved"], r["signed_off_by"], r["integrated_lufs"]) for r in rows] == [
        ("en-US", "1", "ana", "-14.2"), ("pt-BR", "0", "", "-14.2")]
    data = json.loads(Path(result.summary_json).read_text(encoding="utf-8"))
    assert data["markets"][0]["render_sha256"] == review_market(signed, store).render_sha256

    (signed / "video.mp4").write_text("re-rendered", encoding="utf-8")
    with pytest.raises(ConfigError, match="ep01/en-US changed after its sign-off"):
        export(out, tmp_path / "ship2", store=store)
    result = export(out, tmp_path / "ship3", store=store, include_unsigned=True)
    assert all(r.exported for r in result.rows) and not result.rows[0].signoff_current
    assert unsigned.name == "pt-BR"
    store.close()


def test_json_api(tmp_path: Path, store: ReviewStore) -> None:
    folder = _market(tmp_path)
    app = create_app(tmp_path, store=store, render=_render, local_reviewer="ana")
    with local_client(app) as client:
        listing = client.get("/api/markets").json()["markets"]
        assert [(m["episode"], m["market"], m["url"]) for m in listing] == [("ep01", "en-US", "/review/ep01/en-US")]
        assert "review.js" in client.get("/review/ep01/en-US").text
        assert client.get("/review/ep01/xx-XX").status_code == 404
        data = client.get("/api/market/ep01/en-US").json()
        assert [ln["id"] for ln in data["lines"]] == ["L001", "L002"]
        sha = data["render_sha256"]
        assert data["video"] == f"/media/ep01/en-US/video.mp4?v={sha[:16]}"
        ranged = client.get("/media/ep01/en-US/video.mp4", headers={"Range": "bytes=0-4"})
        assert ranged.status_code == 206 and ranged.content == b"video"
        vtt = client.get(data["subtitles"])
        assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")

        r = client.post("/api/line/L002/ep01/en-US", json={"action": "edit", "text": "see you", "reviewer": "mallory"})
        assert r.status_code == 200 and r.json()["rerender"] is True
        app.state.renders.wait(folder.resolve(), timeout=10)
        assert client.get("/api/job/ep01/en-US").json()["state"] == "done"
        data = client.get("/api/market/ep01/en-US").json()
        assert data["render_sha256"] != sha and data["lines"][1]["target_text"] == "see you"
        assert data["lines"][1]["review"]["status"] == "edited" and not data["lines"][1]["review"]["pending"]
        assert [h["target_text"] for h in data["lines"][1]["review"]["history"]] == ["see you"]
        assert data["lines"][1]["review"]["reviewer"] == "ana"  # the server's reviewer, not the name sent

        bad = client.post("/api/line/L001/ep01/en-US", json={"action": "approve", "text": 5})
        assert bad.status_code == 400 and "string" in bad.json()["error"]
        assert client.post("/api/signoff/ep01/en-US", content=b"not json",
                           headers={"Content-Type": "application/json"}).status_code == 400
        signed = client.post("/api/signoff/ep01/en-US", json={}).json()
        assert signed["render_sha256"] == data["render_sha256"]
        assert client.get("/api/markets").json()["markets"][0]["signed_off"] is True


def test_catalog_layout_keys_episodes_by_series(tmp_path: Path, store: ReviewStore) -> None:
    """A batch writes OUT/<series>/<episode>/<market>/ and asks the store for "<series>/<episode>"."""
    folder = _market(tmp_path / "drama", episode="ep01")
    _market(tmp_path, episode="ep01")  # a single run beside it: same episode name, another key
    (tmp_path / ".cache" / "x" / "y").mkdir(parents=True)
    (tmp_path / ".cache" / "x" / "y" / "report.json").write_text("{}", encoding="utf-8")
    assert [p.relative_to(tmp_path).as_posix() for p in find_markets(tmp_path)] == ["drama/ep01/en-US",
                                                                                     "ep01/en-US"]
    assert market_key(folder) == ("drama/ep01", "en-US")  # found from OUT/localize.db
    act(folder, store, "L001", "approve", reviewer="ana")
    assert [o.id for o in store.overrides("drama/ep01", "en-US")] == ["L001"]
    assert store.overrides("ep01", "en-US") == []
    with local_client(create_app(tmp_path, store=store, render=_render, local_reviewer="ana")) as client:
        data = client.get("/api/market/drama/ep01/en-US").json()
        assert (data["episode"], data["market"], data["url"]) == ("drama/ep01", "en-US", "/review/drama/ep01/en-US")
        assert data["lines"][0]["review"]["status"] == "approved"
        assert client.get("/api/market/drama/../../etc/en-US").status_code == 404


def test_cli_export(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from localize.apps.cli import main

    folder = _market(tmp_path / "out")
    with ReviewStore.for_out(tmp_path / "out") as store:
        sign_off(folder, store, reviewer="ana")
    runner = CliRunner()
    ok = runner.invoke(main, ["export", str(tmp_path / "out"), "--to", str(tmp_path / "ship")])
    assert ok.exit_code == 0, ok.output
    assert "ep01/en-US: exported" in ok.output and (tmp_path / "ship" / "qa_summary.csv").is_file()
    (folder / "video.mp4").write_text("changed", encoding="utf-8")
    refused = runner.invoke(main, ["export", str(tmp_path / "out"), "--to", str(tmp_path / "ship2")])
    assert refused.exit_code == 2 and "changed after its sign-off" in refused.output
