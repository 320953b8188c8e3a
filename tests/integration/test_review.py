"""The review page for real: the sample localized for en-US, the server on a free port, headless Chromium
editing and approving a line, the re-render checked on disk and in the database."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from pathlib import Path

import pysubs2
import pytest

import localize
from localize.core import jsonio
from localize.core.artifacts import LocalizedScript, Report
from localize.core.options import RunOptions
from localize.apps.review import ReviewStore, create_app, export
from tests.conftest import SAMPLE, ffprobe

pytestmark = pytest.mark.integration
MARKET = "en-US"
EDITED = "Here at the school we have five doors, all of them locked."
CHROMIUM = Path("/usr/bin/chromium")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _artifacts(stage_dir: Path) -> set[str]:
    return {p.name for p in stage_dir.glob("*/*") if p.is_dir() and not p.name.startswith(".")}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    localize.localize_episode(SAMPLE, markets=[MARKET], out=out, options=RunOptions(cache_dir=out / ".cache"))
    return out


@pytest.fixture(scope="module")
def server(out: Path):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ReviewStore.for_out(out) as store:
        token = store.add_reviewer("Ana QA", [MARKET], lead=True)[1]
    app = create_app(out)
    app.state.token = token
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "the review server did not start"
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    app.state.store.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium for the browser test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def test_edit_and_approve_in_the_browser_re_renders_and_is_stored(out: Path, server, browser) -> None:
    app, base = server
    folder = out / "episode" / MARKET
    report = jsonio.load(Report, folder / "report.json")
    before = _sha(folder / "video.mp4")
    target = report.lines[1]
    assert target.target_text != EDITED

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(f"{base}/")  # not signed in: the sign-in page; the token link signs in and goes on
    page.wait_for_url(f"{base}/login?next=/")
    page.goto(f"{base}/login?next=/#{app.state.token}")
    page.wait_for_url(f"{base}/")
    page.get_by_role("link", name=MARKET).click()
    page.wait_for_url(f"{base}/review/episode/{MARKET}")
    rows = page.locator("#lines tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(report.lines)
    assert [rows.nth(i).get_attribute("data-line-id") for i in range(rows.count())] == [ln.id for ln in report.lines]
    # the player got the render, with HTTP ranges for seeking
    src = page.locator("#player").get_attribute("src")
    assert src.startswith(f"/media/episode/{MARKET}/video.mp4?v={before[:16]}")
    # clicking a line's time seeks the player to it and highlights the line
    row = page.locator(f'#lines tbody tr[data-line-id="{target.id}"]')
    row.locator("td.t").click()
    page.wait_for_function("document.querySelector('#player').currentTime * 1000 >= %d" % (target.slot_start_ms - 50))
    page.locator("#player").evaluate("v => v.pause()")
    page.locator(f'#lines tbody tr.current[data-line-id="{target.id}"]').wait_for()

    backchecked = _artifacts(out / ".cache" / "backcheck")
    assert page.locator("#reviewer").inner_text() == "Ana QA (lead)"
    row.locator("textarea.target").fill(EDITED)
    row.locator("button.edit").click()
    page.locator('#job[data-state="done"]').wait_for(timeout=240_000)
    page.wait_for_function(f"document.querySelector('#player').getAttribute('src').indexOf('{before[:16]}') < 0")
    row = page.locator(f'#lines tbody tr[data-line-id="{target.id}"]')
    assert row.locator("textarea.target").input_value() == EDITED
    # the player shows the new render's subtitles
    page.wait_for_function("""text => {
        const t = document.querySelector('#player').textTracks[0];
        return t && t.cues && Array.from(t.cues).some(c => c.text.replace(/\\n/g, ' ') === text);
    }""", arg=EDITED)
    row.locator("button.approve").click()
    page.locator(f'#lines tbody tr.approved[data-line-id="{target.id}"]').wait_for()
    assert "approved by Ana QA" in row.locator(".status").inner_text()
    assert row.locator("details summary").inner_text() == "history (2)"
    assert page.locator("#job").get_attribute("data-state") == "done"  # approving the rendered text: no re-render
    assert not errors, errors
    page.close()

    # the database: the edit, then the approval, by the reviewer, of the current source line
    with ReviewStore.for_out(out) as store:
        history = store.history("episode", MARKET, target.id)
        overrides = store.overrides("episode", MARKET)
    assert [(r.status, r.target_text, r.reviewer) for r in history] == [("edited", EDITED, "Ana QA"),
                                                                         ("approved", EDITED, "Ana QA")]
    assert all(r.source_text == target.source_text for r in history)
    assert [(o.id, o.target_text) for o in overrides] == [(target.id, EDITED)]
    # the re-render: new subtitles and report, a changed and valid video
    subs = pysubs2.load(str(folder / "subtitles.srt"))
    assert EDITED in [e.plaintext.replace("\n", " ") for e in subs]
    after = jsonio.load(Report, folder / "report.json")
    assert after.lines[1].target_text == EDITED and after.lines[1].override == "edited"
    assert [ln.target_text for ln in after.lines[::2]] == [ln.target_text for ln in report.lines[::2]]
    assert _sha(folder / "video.mp4") != before
    # back-transcribed again: the edited line, and a line of the same speaker whose pitch (measured
    # over the speaker's clips) moved with the edit; not the whole episode
    assert 1 <= len(_artifacts(out / ".cache" / "backcheck") - backchecked) < len(report.lines)
    info = ffprobe(folder / "video.mp4")
    assert {s["codec_type"] for s in info["streams"]} == {"video", "audio", "subtitle"}
    assert abs(float(info["format"]["duration"]) - float(ffprobe(SAMPLE)["format"]["duration"])) <= 0.1


def test_a_fresh_run_keeps_the_approved_text(out: Path) -> None:
    with ReviewStore.for_out(out) as store:
        overrides = store.overrides("episode", MARKET)
    assert overrides, "the browser test approves a line first"
    result = localize.localize_episode(SAMPLE, markets=[MARKET], out=out, options=RunOptions(cache_dir=out / ".cache"),
                                       overrides={MARKET: overrides})
    script = jsonio.load(LocalizedScript, Path(result.markets[0].script))
    assert script.lines[1].target_text == EDITED


def test_sign_off_and_export(out: Path, server, tmp_path: Path) -> None:
    app, base = server
    import httpx

    folder = out / "episode" / MARKET
    response = httpx.post(f"{base}/api/signoff/episode/{MARKET}", json={},
                          headers={"Authorization": f"Bearer {app.state.token}"})
    assert response.status_code == 200, response.text
    assert response.json()["render_sha256"] == _sha(folder / "video.mp4")

    result = export(out, tmp_path / "delivery")
    shipped = tmp_path / "delivery" / "episode" / MARKET
    assert sorted(p.name for p in shipped.iterdir()) == sorted(
        ["video.mp4", "subtitles.srt", "subtitles.vtt", "subtitles.ass", "subtitles.ttml", "script.json",
         "report.json"])
    assert _sha(shipped / "video.mp4") == _sha(folder / "video.mp4")
    rows = json.loads(Path(result.summary_json).read_text(encoding="utf-8"))["markets"]
    assert len(rows) == 1 and rows[0]["approved"] == 1 and rows[0]["signed_off_by"] == "Ana QA"
    assert rows[0]["exported"] and rows[0]["signoff_current"]
    assert Path(result.summary_csv).read_text(encoding="utf-8").splitlines()[0].startswith("episode,market,lines")
