"""The local review server: a JSON API and one static page per episode and market (Starlette).

    GET  /                              every episode and market under the output folder
    GET  /review/{key}                  the review page of a market folder (key: its path under the
                                        output folder, "ep01/en-US" or "<series>/ep01/en-US")
    GET  /api/markets                   the list, with review counts and sign-off
    GET  /api/market/{key}              the market's lines with their review state
    GET  /api/peaks/{key}               the render's audio envelope, for the timeline
    GET  /api/job/{key}                 the re-render's state: idle | running | done | failed
    POST /api/line/{line_id}/{key}      {action, reviewer, text?, voice?, note?}
    POST /api/signoff/{key}             {reviewer}
    GET  /media/{key}/video.mp4         the render (HTTP ranges, for seeking)
    GET  /media/{key}/subtitles.vtt     its subtitles, shown over the player

An action that leaves a reviewer's text or voice out of the render starts a re-render of that market
in a background thread (one at a time per market; an edit made meanwhile runs right after).
The market's JSON carries its ``reading_speed_cps`` (the market's ``style.reading_speed_cps``): the page
marks lines read faster than that.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from localize.apps.review.market import MarketReview, act, find_markets, needs_render, rerender, review_market, sign_off
from localize.apps.review.store import ReviewStore
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


def _market_json(review: MarketReview) -> dict[str, Any]:
    data = jsonio.to_dict(review.report)
    return {
        **_summary(review), "render_sha256": review.render_sha256, "video": _urls(review)["video"],
        "subtitles": _urls(review)["subtitles"], "language": review.report.language,
        "reading_speed_cps": review.reading_speed_cps,
        "report": {k: v for k, v in data.items() if k != "lines"},
        "lines": [{**jsonio.to_dict(ln.line), "review": {"status": ln.status, "reviewer": ln.reviewer, "at": ln.at,
                                                          "note": ln.note, "voice": ln.voice, "stale": ln.stale,
                                                          "pending": ln.pending,
                                                          "history": [jsonio.to_dict(h) for h in ln.history]}}
                  for ln in review.lines],
    }


def create_app(out: str | Path, *, store: ReviewStore | None = None,  # noqa: C901 - a route table of small handlers
               market_dir: str | Path | None = None,
               render: Callable[[Path, ReviewStore], object] | None = None) -> Starlette:
    """The review app for the output folder `out`; with `market_dir`, ``/`` opens that market's page.

    `render` re-renders a market folder with the store's overrides (default: :func:`rerender`)."""
    out = Path(out).resolve()
    store = store or ReviewStore.for_out(out)
    renders = Renders(store, render or (lambda path, st: rerender(path, st, out=out)))

    def folder(request: Request) -> Path:
        key = request.path_params["key"].strip("/")
        path = (out / key).resolve()
        if not path.is_relative_to(out) or path == out or not (path / "report.json").is_file():
            raise _NotFound(f"no localized market {key!r} under {out}")
        return path

    def review(path: Path) -> MarketReview:
        return review_market(path, store, out=out)

    # Every endpoint that touches the disk or the database (a video's sha256, ffmpeg, the store) is a plain
    # function, which Starlette runs in its thread pool; the two that read a body await it, then hand the
    # work to the pool. The event loop only moves bytes, so one slow request never holds up the others.

    def index(request: Request) -> Response:
        if market_dir is not None:
            return RedirectResponse("/review/" + Path(market_dir).resolve().relative_to(out).as_posix())
        return FileResponse(STATIC / "index.html")

    def page(request: Request) -> Response:
        folder(request)
        return FileResponse(STATIC / "review.html")

    def markets(request: Request) -> Response:
        return JSONResponse({"out": str(out), "markets": [_summary(review(d)) for d in find_markets(out)]})

    def market(request: Request) -> Response:
        return JSONResponse(_market_json(review(folder(request))))

    def peaks(request: Request) -> Response:
        from localize.apps.review.waveform import peaks as envelope

        try:
            bins = int(request.query_params.get("n", "800"))
        except ValueError:
            raise ConfigError("n must be a whole number of bins.") from None
        return JSONResponse(envelope(folder(request) / "video.mp4", bins))

    def job(request: Request) -> Response:
        return JSONResponse(renders.job(folder(request)).view())

    def record(path: Path, line_id: str, body: dict[str, Any]) -> Response:
        done = act(path, store, line_id, str(body.get("action", "")),
                   reviewer=str(body.get("reviewer", "")),
                   text=None if body.get("text") is None else str(body["text"]),
                   voice=str(body.get("voice", "")), note=str(body.get("note", "")), out=out)
        started = needs_render(path, store, out=out)
        if started:
            renders.start(path)
        return JSONResponse({"review": jsonio.to_dict(done), "rerender": started})

    async def line(request: Request) -> Response:
        path = await run_in_threadpool(folder, request)
        body = await _body(request)
        return await run_in_threadpool(record, path, request.path_params["line_id"], body)

    def accept(path: Path, body: dict[str, Any]) -> Response:
        return JSONResponse(jsonio.to_dict(sign_off(path, store, reviewer=str(body.get("reviewer", "")), out=out)))

    async def signoff(request: Request) -> Response:
        path = await run_in_threadpool(folder, request)
        if renders.job(path).state == "running":
            return JSONResponse({"error": "a re-render is running; sign off when it is done."}, status_code=409)
        body = await _body(request)
        return await run_in_threadpool(accept, path, body)

    def video(request: Request) -> Response:
        return FileResponse(folder(request) / "video.mp4", media_type="video/mp4",
                            headers={"Cache-Control": "no-cache"})

    def subtitles(request: Request) -> Response:
        return FileResponse(folder(request) / "subtitles.vtt", media_type="text/vtt",
                            headers={"Cache-Control": "no-cache"})

    async def user_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=404 if isinstance(exc, _NotFound) else 400)

    key = "{key:path}"
    app = Starlette(routes=[
        Route("/", index),
        Route(f"/review/{key}", page),
        Route("/api/markets", markets),
        Route(f"/api/market/{key}", market),
        Route(f"/api/peaks/{key}", peaks),
        Route(f"/api/job/{key}", job),
        Route(f"/api/line/{{line_id}}/{key}", line, methods=["POST"]),
        Route(f"/api/signoff/{key}", signoff, methods=["POST"]),
        Route(f"/media/{key}/video.mp4", video),
        Route(f"/media/{key}/subtitles.vtt", subtitles),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ], exception_handlers={LocalizeError: user_error, _NotFound: user_error})
    app.state.store = store
    app.state.renders = renders
    app.state.out = out
    return app


class _NotFound(Exception):
    pass


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ConfigError(f"the request body is not JSON ({exc}).") from exc
    if not isinstance(body, dict):
        raise ConfigError("the request body must be a JSON object.")
    return body


def serve(out: str | Path, *, host: str = "127.0.0.1", port: int = 8765, market_dir: str | Path | None = None,
          store: ReviewStore | None = None) -> None:
    """Serve the review pages of `out` until interrupted (blocks)."""
    import uvicorn

    app = create_app(out, store=store, market_dir=market_dir)
    log.info("review server on http://%s:%d/", host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning")
