"""The review server: blocking work off the event loop, the market's reading speed on the page, and the
review app's imports (only the public API and localize.core)."""

from __future__ import annotations

import ast
import asyncio
import re
import time
from pathlib import Path

import httpx
import pytest

import localize
import localize.apps.review.market as review_market_module
import localize.apps.review.server as review_server
from localize.apps.review import ReviewStore, create_app
from localize.core import jsonio
from localize.core.artifacts import RunRecord
from localize.core.options import RunOptions
from tests.unit.test_review_market import _market, _render, local_client

REVIEW = Path(review_server.__file__).parent
SLOW_S = 1.0


@pytest.fixture
def store(tmp_path: Path):
    with ReviewStore.for_out(tmp_path) as s:
        yield s


async def _timed(client: httpx.AsyncClient, t0: float, method: str, url: str, **kw) -> tuple[int, float]:
    response = await client.request(method, url, **kw)
    return response.status_code, time.monotonic() - t0


async def _slow_then_cheap(app, slow: tuple[str, str, dict]) -> tuple[tuple[int, float], tuple[int, float]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        client.headers["X-CSRF-Token"] = (await client.get("/api/session")).json()["csrf"]
        t0 = time.monotonic()
        method, url, kw = slow
        slow_task = asyncio.ensure_future(_timed(client, t0, method, url, **kw))
        await asyncio.sleep(0.2)  # the slow request is inside its blocking call by now
        cheap = await _timed(client, t0, "GET", "/api/job/ep01/en-US")
        return await slow_task, cheap


@pytest.mark.parametrize("which", ["market", "line"])
def test_a_slow_blocking_call_does_not_hold_up_other_requests(tmp_path: Path, store: ReviewStore,
                                                              monkeypatch: pytest.MonkeyPatch, which: str) -> None:
    _market(tmp_path)
    if which == "market":  # the sha256 of the video: a blocking read of a large file
        real = review_market_module.file_sha256

        def slow_sha(path):
            time.sleep(SLOW_S)
            return real(path)

        monkeypatch.setattr(review_market_module, "file_sha256", slow_sha)
        slow = ("GET", "/api/market/ep01/en-US", {})
    else:  # a reviewer's action: database writes
        real_act = review_server.act

        def slow_act(*args, **kwargs):
            time.sleep(SLOW_S)
            return real_act(*args, **kwargs)

        monkeypatch.setattr(review_server, "act", slow_act)
        slow = ("POST", "/api/line/L001/ep01/en-US", {"json": {"action": "approve"}})
    app = create_app(tmp_path, store=store, render=_render, local_reviewer="ana")
    (slow_status, slow_s), (cheap_status, cheap_s) = asyncio.run(_slow_then_cheap(app, slow))
    assert slow_status == 200 and slow_s >= SLOW_S
    assert cheap_status == 200
    assert cheap_s < 0.2 + SLOW_S / 2, f"the cheap request waited {cheap_s:.2f} s for the slow one"


def test_market_json_carries_the_markets_reading_speed(tmp_path: Path, store: ReviewStore) -> None:
    """The page marks a line as read too fast against its market's style.reading_speed_cps: built in, or from
    the markets file the run used (run.json)."""
    _market(tmp_path, market="zh-CN")  # built in: 9 characters per second
    custom = _market(tmp_path, market="en-US")
    markets_file = tmp_path / "markets.toml"
    markets_file.write_text('[en-US]\nname = "US, slow readers"\nlanguage = "en"\nstyle = { reading_speed_cps = 13.5 }\n',
                            encoding="utf-8")
    jsonio.save(RunRecord(source="ep01.mp4", out=str(tmp_path), options=RunOptions(markets_files=(markets_file,))),
                custom / "run.json")  # as `localize run` saves it
    _market(tmp_path, market="xx-XX")  # neither built in nor in a markets file: the default
    with local_client(create_app(tmp_path, store=store, render=_render, local_reviewer="ana")) as client:
        speed = {m: client.get(f"/api/market/ep01/{m}").json()["reading_speed_cps"] for m in ("zh-CN", "en-US", "xx-XX")}
    assert speed == {"zh-CN": 9.0, "en-US": 13.5, "xx-XX": 17.0}


def test_the_page_uses_the_markets_reading_speed_not_a_fixed_one() -> None:
    js = (REVIEW / "static" / "review.js").read_text(encoding="utf-8")
    assert "reading_speed_cps" in js
    assert not re.search(r"reading_cps\s*>\s*\d", js), "review.js compares the reading speed with a fixed number"


FORBIDDEN = ("localize.run", "localize.stages", "localize.apps.catalog", "localize.core.options")


def _imports(path: Path) -> set[str]:
    """The modules a file imports; ``from localize import x`` counts as ``localize.x`` unless x is public API."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names
                         if node.module != "localize" or alias.name not in localize.__all__)
    return names


def test_the_review_app_imports_only_the_public_api_and_core() -> None:
    imports = {(path.relative_to(REVIEW.parent).as_posix(), name) for path in REVIEW.rglob("*.py")
               for name in _imports(path)}
    assert ("review/store.py", "localize.core.db") in imports  # the walk sees the imports it should
    bad = sorted(f"{file}: {name}" for file, name in imports
                 if any(name == f or name.startswith(f + ".") for f in FORBIDDEN))
    assert not bad, bad
    # every other localize import is the package's public API, localize.core.* or the review app itself
    allowed = ("localize.core", "localize.apps.review")
    others = sorted(f"{file}: {name}" for file, name in imports if name.startswith("localize.")
                    and not any(name == a or name.startswith(a + ".") for a in allowed))
    assert not others, others
