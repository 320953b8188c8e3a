"""The review server: a JSON API and one static page per episode and market (Starlette).

    GET  /                              every episode and market the reviewer may see
    GET  /login                         the sign-in page (a token pasted, or in the link's #fragment)
    GET  /review/{key}                  the review page of a market folder (key: its path under the
                                        output folder, "ep01/en-US" or "<series>/ep01/en-US")
    POST /api/login                     {token} -> a session cookie and the CSRF token
    POST /api/logout
    GET  /api/session                   who is signed in: reviewer, markets, lead, csrf
    GET  /api/markets                   the list, with review counts and sign-off
    GET  /api/market/{key}              the market's lines with their review state
    GET  /api/peaks/{key}               the render's audio envelope, for the timeline
    GET  /api/job/{key}                 the re-render's state: idle | running | done | failed
    POST /api/line/{line_id}/{key}      {action, text?, voice?, note?}
    POST /api/signoff/{key}             {} (a lead reviewer only)
    GET  /media/{key}/video.mp4         the render (HTTP ranges, for seeking)
    GET  /media/{key}/subtitles.vtt     its subtitles, shown over the player

Every request but the sign-in page, the static files and ``/api/login`` needs a reviewer: a session cookie
(from ``/api/login``), ``Authorization: Bearer <token>``, or the one local reviewer of a loopback-only server
started without tokens. A reviewer reads and writes only their markets; only a lead signs off; every action
is recorded under the authenticated reviewer. Writes also need the session's CSRF token in
``X-CSRF-Token`` (not with a bearer token). :class:`~localize.apps.review.auth.Guard` checks Host, Origin,
content type and body size first.

An action that leaves a reviewer's text or voice out of the render starts a re-render of that market
in a background thread (one at a time per market; an edit made meanwhile runs right after).
The market's JSON carries its ``reading_speed_cps`` (the market's ``style.reading_speed_cps``): the page
marks lines read faster than that.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from localize.apps.review.auth import (
    CSRF_HEADER,
    MAX_BODY,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Guard,
    Identity,
    Sessions,
    is_loopback,
)
from localize.apps.review.market import MarketReview, act, find_markets, needs_render, rerender, review_market, sign_off
from localize.apps.review.store import MAX_TEXT, ReviewStore
from localize.core import jsonio
from localize.core.errors import ConfigError, LocalizeError

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


@dataclass(slots=True)
class RenderJob:
    """A market's re-render as the page sees it."""

    state: str = "idle"  # idle | running | done | failed
    error: str = ""
    started: float = 0.0
    seconds: float = 0.0
    runs: int = 0
    again: bool = False  # an edit arrived while running: run once more
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None

    def view(self) -> dict[str, Any]:
        return {"state": self.state, "error": self.error, "seconds": round(self.seconds, 2), "runs": self.runs}


class Renders:
    """Background re-renders, one thread at a time per market folder."""

    def __init__(self, store: ReviewStore, render: Callable[[Path, ReviewStore], object]) -> None:
        self._store = store
        self._render = render
        self._jobs: dict[Path, RenderJob] = {}
        self._lock = threading.Lock()

    def job(self, market_dir: Path) -> RenderJob:
        with self._lock:
            return self._jobs.setdefault(market_dir, RenderJob())

    def start(self, market_dir: Path) -> RenderJob:
        job = self.job(market_dir)
        with job.lock:
            if job.state == "running":
                job.again = True
                return job
            job.state, job.error, job.again, job.started = "running", "", False, time.monotonic()
            job.thread = threading.Thread(target=self._run, args=(market_dir, job), daemon=True,
                                          name=f"rerender-{market_dir.parent.name}-{market_dir.name}")
            job.thread.start()
        return job

    def _run(self, market_dir: Path, job: RenderJob) -> None:
        while True:
            try:
                self._render(market_dir, self._store)
                error = ""
            except LocalizeError as exc:
                error = str(exc)
            except Exception as exc:  # shown on the page; the traceback goes to the log
                log.exception("re-render of %s failed", market_dir)
                error = f"re-render failed (a bug in localize): {exc.__class__.__name__}: {exc}"
            with job.lock:
                if job.again and not error:
                    job.again = False
                    continue
                job.state = "failed" if error else "done"
                job.error = error
                job.seconds = time.monotonic() - job.started
                job.runs += 1
                return

    def wait(self, market_dir: Path, timeout: float | None = None) -> RenderJob:
        """Block until the market's re-render (if any) finishes; for tests and scripts."""
        job = self.job(market_dir)
        thread = job.thread
        if thread is not None:
            thread.join(timeout)
        return job


def _urls(review: MarketReview) -> dict[str, str]:
    key = f"{review.episode}/{review.market}"
    version = review.render_sha256[:16]
    return {"page": f"/review/{key}", "video": f"/media/{key}/video.mp4?v={version}",
            "subtitles": f"/media/{key}/subtitles.vtt?v={version}", "api": f"/api/market/{key}"}


def _counts(review: MarketReview) -> dict[str, int]:
    return {s or "unreviewed": review.count(s) for s in ("approved", "edited", "issue", "")}


def _summary(review: MarketReview) -> dict[str, Any]:
    return {"episode": review.episode, "market": review.market, "lines": len(review.lines),
            "counts": _counts(review), "signoff": jsonio.to_dict(review.signoff) if review.signoff else None,
            "signed_off": review.signed_off, "url": _urls(review)["page"]}


MAX_HISTORY = 20  # actions per line the page gets (the database keeps all of them)


def _clip(value: Any) -> Any:
    """Strings cut to MAX_TEXT characters, so rows stored by an older, unlimited version stay small."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if isinstance(value, dict):
        return {k: _clip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clip(v) for v in value]
    return value


def _market_json(review: MarketReview) -> dict[str, Any]:
    return dict(_clip(_market_json_full(review)))


def _market_json_full(review: MarketReview) -> dict[str, Any]:
    data = jsonio.to_dict(review.report)
    return {
        **_summary(review), "render_sha256": review.render_sha256, "video": _urls(review)["video"],
        "subtitles": _urls(review)["subtitles"], "language": review.report.language,
        "reading_speed_cps": review.reading_speed_cps,
        "report": {k: v for k, v in data.items() if k != "lines"},
        "lines": [{**jsonio.to_dict(ln.line), "review": {"status": ln.status, "reviewer": ln.reviewer, "at": ln.at,
                                                          "note": ln.note, "voice": ln.voice, "stale": ln.stale,
                                                          "pending": ln.pending,
                                                          "history": [jsonio.to_dict(h)
                                                                      for h in ln.history[-MAX_HISTORY:]]}}
                  for ln in review.lines],
    }


def create_app(out: str | Path, *, store: ReviewStore | None = None,  # noqa: C901 - a route table of small handlers
               market_dir: str | Path | None = None,
               render: Callable[[Path, ReviewStore], object] | None = None,
               local_reviewer: str | None = None, public_url: str | None = None,
               max_body: int = MAX_BODY) -> Starlette:
    """The review app for the output folder `out`; with `market_dir`, ``/`` opens that market's page.

    Reviewers sign in with their tokens (``localize reviewer add``); with `local_reviewer`, nobody signs
    in and every action is that person's: for one reviewer on this machine (:func:`serve` allows it on
    loopback only). `public_url` is the address browsers use behind a proxy (its host is accepted
    besides the loopback names). `render` re-renders a market folder with the store's overrides
    (default: :func:`rerender`)."""
    out = Path(out).resolve()
    store = store or ReviewStore.for_out(out)
    renders = Renders(store, render or (lambda path, st: rerender(path, st, out=out)))
    sessions = Sessions()
    local_csrf = secrets.token_urlsafe(32)
    https_only = bool(public_url and public_url.lower().startswith("https:"))

    def folder(request: Request) -> Path:
        key = request.path_params["key"].strip("/")
        try:
            path = (out / key).resolve()
            found = path.is_relative_to(out) and path != out and (path / "report.json").is_file()
        except (ValueError, OSError):  # a NUL byte, a name too long
            found = False
        if not found:
            raise _Denied(404, f"no localized market {key[:200]!r} under {out}")
        return path

    def who(request: Request) -> Identity:
        """The reviewer behind a request (401 when there is none)."""
        if local_reviewer is not None:
            return Identity(name=local_reviewer, markets=None, lead=True, via="local", csrf=local_csrf)
        auth = request.headers.get("authorization")
        if auth is not None:
            scheme, _, token = auth.partition(" ")
            reviewer = store.authenticate(token.strip()) if scheme.lower() == "bearer" else None
            if reviewer is None:
                raise _Denied(401, "the token is not valid (unknown, revoked or mistyped).")
            return Identity(name=reviewer.name, markets=reviewer.markets, lead=reviewer.lead, via="bearer")
        sid = request.cookies.get(SESSION_COOKIE, "")
        session = sessions.get(sid) if sid else None
        reviewer = store.reviewer(session[0]) if session else None
        if session is None or reviewer is None:
            raise _Denied(401, "sign in with your review token.")
        return Identity(name=reviewer.name, markets=reviewer.markets, lead=reviewer.lead, via="session",
                        csrf=session[1])

    def writer(request: Request) -> Identity:
        """A reviewer allowed to write: a bearer token, or the session's CSRF token echoed in the header."""
        ident = who(request)
        sent = request.headers.get(CSRF_HEADER, "").encode("utf-8", "replace")
        if ident.via != "bearer" and not hmac.compare_digest(sent, ident.csrf.encode()):
            raise _Denied(403, "the CSRF token is missing or wrong; reload the page.")
        return ident

    def market_of(request: Request, ident: Identity) -> Path:
        path = folder(request)
        if not ident.reviews(path.name):
            raise _Denied(403, f"{ident.name} does not review {path.name}.")
        return path

    def review(path: Path) -> MarketReview:
        return review_market(path, store, out=out)

    # Every endpoint that touches the disk or the database (a video's sha256, ffmpeg, the store, a token's
    # scrypt) is a plain function, which Starlette runs in its thread pool; the ones that read a body await
    # it, then hand the work to the pool. The event loop only moves bytes, so one slow request never holds
    # up the others.

    def index(request: Request) -> Response:
        if market_dir is not None:
            return RedirectResponse("/review/" + Path(market_dir).resolve().relative_to(out).as_posix())
        return FileResponse(STATIC / "index.html")

    def login_page(request: Request) -> Response:
        return FileResponse(STATIC / "login.html")

    def page(request: Request) -> Response:
        try:
            ident = who(request)
        except _Denied as exc:
            if exc.status == 401:
                return RedirectResponse("/login?next=" + request.url.path, status_code=303)
            raise
        market_of(request, ident)
        return FileResponse(STATIC / "review.html")

    def session(request: Request) -> Response:
        return JSONResponse(who(request).view())

    def sign_in(token: Any) -> Response:
        if local_reviewer is not None:
            raise _Denied(400, "this server runs without tokens (--no-auth): nobody signs in.")
        reviewer = store.authenticate(token) if isinstance(token, str) else None
        if reviewer is None:
            raise _Denied(401, "the token is not valid (unknown, revoked or mistyped).")
        sid, csrf = sessions.open(reviewer.id)
        ident = Identity(name=reviewer.name, markets=reviewer.markets, lead=reviewer.lead, via="session", csrf=csrf)
        response = JSONResponse(ident.view())
        response.set_cookie(SESSION_COOKIE, sid, max_age=SESSION_SECONDS, path="/", httponly=True, samesite="strict",
                            secure=https_only)
        return response

    async def login(request: Request) -> Response:
        body = await _body(request)
        return await run_in_threadpool(sign_in, body.get("token"))

    def logout(request: Request) -> Response:
        writer(request)
        sessions.close(request.cookies.get(SESSION_COOKIE, ""))
        response = JSONResponse({"signed_out": True})
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=https_only)
        return response

    def markets(request: Request) -> Response:
        ident = who(request)
        return JSONResponse({"out": str(out) if local_reviewer is not None else out.name,
                             "markets": [_summary(review(d)) for d in find_markets(out) if ident.reviews(d.name)]})

    def market(request: Request) -> Response:
        return JSONResponse(_market_json(review(market_of(request, who(request)))))

    def peaks(request: Request) -> Response:
        from localize.apps.review.waveform import peaks as envelope

        path = market_of(request, who(request))
        try:
            bins = int(request.query_params.get("n", "800"))
        except ValueError:
            raise ConfigError("n must be a whole number of bins.") from None
        return JSONResponse(envelope(path / "video.mp4", bins))

    def job(request: Request) -> Response:
        return JSONResponse(renders.job(market_of(request, who(request))).view())

    def record(request: Request, body: dict[str, Any]) -> Response:
        ident = writer(request)
        path = market_of(request, ident)
        line_id = request.path_params["line_id"]
        text = _field(body, "text", optional=True)
        done = act(path, store, line_id, _field(body, "action") or "", reviewer=ident.name, text=text,
                   voice=_field(body, "voice") or "", note=_field(body, "note") or "", out=out)
        started = needs_render(path, store, out=out)
        if started:
            renders.start(path)
        return JSONResponse({"review": jsonio.to_dict(done), "rerender": started})

    async def line(request: Request) -> Response:
        body = await _body(request)
        return await run_in_threadpool(record, request, body)

    def accept(request: Request) -> Response:
        ident = writer(request)
        path = market_of(request, ident)
        if not ident.lead:
            raise _Denied(403, f"{ident.name} is not a lead reviewer: a lead signs a market off.")
        if renders.job(path).state == "running":
            return JSONResponse({"error": "a re-render is running; sign off when it is done."}, status_code=409)
        return JSONResponse(jsonio.to_dict(sign_off(path, store, reviewer=ident.name, out=out)))

    async def signoff(request: Request) -> Response:
        await _body(request, empty_ok=True)
        return await run_in_threadpool(accept, request)

    def video(request: Request) -> Response:
        return FileResponse(market_of(request, who(request)) / "video.mp4", media_type="video/mp4",
                            headers={"Cache-Control": "no-cache"})

    def subtitles(request: Request) -> Response:
        return FileResponse(market_of(request, who(request)) / "subtitles.vtt", media_type="text/vtt",
                            headers={"Cache-Control": "no-cache"})

    async def user_error(request: Request, exc: Exception) -> Response:
        status = exc.status if isinstance(exc, _Denied) else 400
        return JSONResponse({"error": str(exc)}, status_code=status)

    key = "{key:path}"
    app = Starlette(routes=[
        Route("/", index),
        Route("/login", login_page),
        Route(f"/review/{key}", page),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/session", session),
        Route("/api/markets", markets),
        Route(f"/api/market/{key}", market),
        Route(f"/api/peaks/{key}", peaks),
        Route(f"/api/job/{key}", job),
        Route(f"/api/line/{{line_id}}/{key}", line, methods=["POST"]),
        Route(f"/api/signoff/{key}", signoff, methods=["POST"]),
        Route(f"/media/{key}/video.mp4", video),
        Route(f"/media/{key}/subtitles.vtt", subtitles),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ], middleware=[Middleware(Guard, public_url=public_url, max_body=max_body, hsts=https_only)],
        exception_handlers={LocalizeError: user_error, _Denied: user_error})
    app.state.store = store
    app.state.renders = renders
    app.state.out = out
    app.state.sessions = sessions
    return app


class _Denied(Exception):
    """An HTTP refusal with its status: 401 no reviewer, 403 not theirs, 404 no such market."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _body(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if empty_ok and not raw.strip():
        return {}
    try:
        body = _loads(raw)
    except RecursionError:  # '{"a":' nested thousands deep
        raise ConfigError("the request body is nested too deep.") from None
    except ValueError as exc:
        raise ConfigError(f"the request body is not JSON ({str(exc)[:200]}).") from exc
    if not isinstance(body, dict):
        raise ConfigError("the request body must be a JSON object.")
    return body


def _loads(raw: bytes) -> Any:
    import json

    return json.loads(raw.decode("utf-8"))  # UnicodeDecodeError and JSONDecodeError are ValueErrors


def _field(body: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    """A string field of a request body: absent -> None; any other type -> a 400."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{name!r} must be a string, not {type(value).__name__}.")
    if len(value) > MAX_TEXT:
        raise ConfigError(f"{name!r} is {len(value)} characters long; at most {MAX_TEXT} are kept.")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise ConfigError(f"{name!r} holds a control character.")
    return value


def check_listen(host: str, *, local_reviewer: str | None, public_url: str | None) -> None:
    """Refuse an address beyond loopback without tokens, or without the public URL Host is checked against."""
    if is_loopback(host):
        return
    if local_reviewer is not None:
        raise ConfigError(f"--no-auth serves this machine only, not {host}; add reviewers with `localize reviewer "
                          "add NAME --markets TAGS` and serve with tokens.")
    if not public_url:
        raise ConfigError(f"serving on {host} needs --public-url, the address reviewers open (e.g. "
                          "https://review.example.com): requests for any other host are refused.")


def serve(out: str | Path, *, host: str = "127.0.0.1", port: int = 8765, market_dir: str | Path | None = None,
          store: ReviewStore | None = None, local_reviewer: str | None = None, public_url: str | None = None,
          trust_proxy: bool = False, forwarded_allow_ips: str = "127.0.0.1") -> None:
    """Serve the review pages of `out` until interrupted (blocks).

    Beyond loopback only with tokens and a `public_url` (see :func:`check_listen`); with tokens, at least one
    reviewer must exist. X-Forwarded-For/-Proto are read only with `trust_proxy`, and only from
    `forwarded_allow_ips` (uvicorn's proxy headers)."""
    import uvicorn

    check_listen(host, local_reviewer=local_reviewer, public_url=public_url)
    store = store or ReviewStore.for_out(out)
    if local_reviewer is None and not store.reviewers():
        raise ConfigError("no reviewer can sign in: add one with `localize reviewer add NAME --markets en-US --out "
                          "OUT`, or pass --no-auth to review alone on this machine.")
    app = create_app(out, store=store, market_dir=market_dir, local_reviewer=local_reviewer, public_url=public_url)
    log.info("review server on http://%s:%d/", host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False, proxy_headers=trust_proxy,
                forwarded_allow_ips=forwarded_allow_ips if trust_proxy else None)
