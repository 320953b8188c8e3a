"""One episode's market under review: its report lines with their review state, reviewer actions,
the re-render an edit calls for, and the sign-off.

A market folder is ``out/<episode>/<market>/`` as `localize run` publishes it; its reviews live in the
:class:`~localize.apps.review.store.ReviewStore` of ``out``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import localize
from localize.apps.review.store import DB_NAME, LineReview, ReviewStore, SignOff
from localize.core import jsonio
from localize.core.artifacts import RUN_FILE, LineOverride, MarketResult, Report, ReportLine, RunRecord
from localize.core.cache import file_sha256
from localize.core.errors import ConfigError, InputError, LocalizeError, UnknownNameError
from localize.core.markets import Market, StyleGuide, get_market, load_markets
from localize.core.progress import Progress

log = logging.getLogger(__name__)


ACTIONS = ("approve", "edit", "revoice", "issue")
DEFAULT_READING_CPS = StyleGuide().reading_speed_cps


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewLine:
    """A report line and where its review stands."""

    line: ReportLine
    status: str = ""  # "" (not reviewed) | approved | edited | issue
    reviewer: str = ""
    at: str = ""
    note: str = ""
    voice: str = ""  # the re-voice the reviewer chose, if any
    stale: bool = False  # reviewed against a source line that has changed since
    pending: bool = False  # the reviewer's text or voice is not in the render yet
    history: tuple[LineReview, ...] = ()  # every action on the line, oldest first


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketReview:
    """Everything the review page shows for one episode and market."""

    episode: str
    market: str
    directory: str
    video: str
    render_sha256: str
    report: Report
    lines: tuple[ReviewLine, ...]
    signoff: SignOff | None
    signed_off: bool  # signed off, and the render is still the one signed off
    reading_speed_cps: float = DEFAULT_READING_CPS  # the market's style.reading_speed_cps: faster lines are flagged

    def count(self, status: str) -> int:
        return sum(1 for ln in self.lines if ln.status == status)


def out_of(market_dir: str | Path) -> Path:
    """The output folder a market folder belongs to: the nearest of ``<episode>/<market>`` (a `localize run`)
    or ``<series>/<episode>/<market>`` (a catalog batch) above it that holds the database, else the former."""
    market_dir = Path(market_dir).resolve()
    for up in (market_dir.parent.parent, market_dir.parent.parent.parent):
        if (up / DB_NAME).is_file():
            return up
    return market_dir.parent.parent


def market_key(market_dir: str | Path, out: str | Path | None = None) -> tuple[str, str]:
    """The (episode, market) a market folder is reviewed under: the episode is its folder relative to
    `out` ("ep01", or "<series>/ep01" in a catalog, as the batch asks the store for overrides)."""
    market_dir = Path(market_dir).resolve()
    out = Path(out).resolve() if out is not None else out_of(market_dir)
    try:
        episode = market_dir.parent.relative_to(out).as_posix()
    except ValueError:
        raise InputError(market_dir, f"is not inside the output folder {out}",
                         "pass a market folder under it") from None
    if episode in ("", "."):
        raise InputError(market_dir, "is not a market folder <episode>/<market>", "pass OUT/<episode>/<market>")
    return episode, market_dir.name


def load_report(market_dir: str | Path) -> Report:
    path = Path(market_dir) / "report.json"
    if not path.is_file():
        raise InputError(market_dir, "is not a localized market folder (no report.json)",
                         "pass OUT/<episode>/<market> as `localize run` wrote it")
    return jsonio.load(Report, path)


def find_markets(out: str | Path) -> list[Path]:
    """Every published market folder under `out` (``<episode>/<market>/`` of a run, or
    ``<series>/<episode>/<market>/`` of a catalog), sorted."""
    out = Path(out)
    if not out.is_dir():
        raise InputError(out, "is not a folder", "pass the --out folder of `localize run` or `localize batch`")
    found = [*out.glob("*/*/report.json"), *out.glob("*/*/*/report.json")]
    return sorted(p.parent for p in found if not any(part.startswith(".") for part in p.relative_to(out).parts))


def market_settings(market_dir: str | Path) -> Market | None:
    """The definition of the market a folder was localized for: from the markets files its run used
    (recorded in its ``run.json``) over the built-in ones; None when the tag is in neither."""
    market_dir = Path(market_dir)
    files: tuple[str, ...] = ()
    run_file = market_dir / RUN_FILE
    if run_file.is_file():
        try:
            files = tuple(str(f) for f in jsonio.load(RunRecord, run_file).options.markets_files)
        except (OSError, LocalizeError, ValueError) as exc:
            log.warning("%s cannot be read (%s); using the built-in markets", run_file, exc)
    try:
        known = load_markets(*files)
    except LocalizeError as exc:  # a markets file moved or broken since the run
        log.warning("%s: %s; using the built-in markets", market_dir, exc)
        known = load_markets()
    try:
        return get_market(market_dir.name, known)
    except UnknownNameError:
        log.warning("%s: market %r is not defined; the review uses the default reading speed of %g cps",
                    market_dir, market_dir.name, DEFAULT_READING_CPS)
        return None


def _pending(line: ReportLine, kept: LineOverride | None) -> bool:
    if kept is None or kept.source_text != line.source_text:
        return False
    return kept.target_text != line.target_text or (bool(kept.voice) and kept.voice != line.voice)


def review_market(market_dir: str | Path, store: ReviewStore, *, out: str | Path | None = None) -> MarketReview:
    """The market's report lines joined with their latest review and its sign-off (`out`: the output
    folder the episode key is relative to, see :func:`market_key`)."""
    market_dir = Path(market_dir)
    report = load_report(market_dir)
    episode, market = market_key(market_dir, out)
    history: dict[str, list[LineReview]] = {}
    for action in store.history(episode, market):
        history.setdefault(action.line_id, []).append(action)
    kept = {o.id: o for o in store.overrides(episode, market)}
    lines = []
    for ln in report.lines:
        r = history[ln.id][-1] if ln.id in history else None
        lines.append(ReviewLine(
            line=ln, status=r.status if r else "", reviewer=r.reviewer if r else "", at=r.at if r else "",
            note=r.note if r else "", voice=kept[ln.id].voice if ln.id in kept else "",
            stale=bool(r and r.source_text != ln.source_text), pending=_pending(ln, kept.get(ln.id)),
            history=tuple(history.get(ln.id, ())),
        ))
    video = market_dir / "video.mp4"
    sha = file_sha256(video) if video.is_file() else ""
    signoff = store.signoff(episode, market)
    settings = market_settings(market_dir)
    return MarketReview(episode=episode, market=market, directory=str(market_dir), video=str(video),
                        render_sha256=sha, report=report, lines=tuple(lines), signoff=signoff,
                        signed_off=bool(signoff and sha and signoff.render_sha256 == sha),
                        reading_speed_cps=settings.style.reading_speed_cps if settings else DEFAULT_READING_CPS)


def act(market_dir: str | Path, store: ReviewStore, line_id: str, action: str, *, reviewer: str,
        text: str | None = None, voice: str = "", note: str = "", out: str | Path | None = None) -> LineReview:
    """Record a reviewer's `action` on a line: approve (its current or given text), edit (new text),
    revoice (a TTS voice for this line; "" goes back to the character's voice) or issue (a note).

    Approve, edit and revoice pin the line (see :meth:`ReviewStore.overrides`); call :func:`needs_render`
    and :func:`rerender` to bring the render up to date."""
    if action not in ACTIONS:
        raise ConfigError(f"review action {action!r} is not one of {', '.join(ACTIONS)}.")
    report = load_report(market_dir)
    episode, market = market_key(market_dir, out)
    line = next((ln for ln in report.lines if ln.id == line_id), None)
    if line is None:
        raise InputError(Path(market_dir) / "report.json", f"has no line {line_id!r}", "reload the review page")
    kept = {o.id: o for o in store.overrides(episode, market)}.get(line_id)
    if kept is not None and kept.source_text != line.source_text:
        kept = None  # reviewed against an older source line: start again from the render
    current_text = kept.target_text if kept else line.target_text
    current_voice = kept.voice if kept else ""
    text = current_text if text is None else text.strip()
    if action == "edit" and text == current_text:
        raise ConfigError(f"line {line_id}: the text is unchanged; change it before saving, or approve it.")
    if action == "issue" and not note.strip():
        raise ConfigError(f"line {line_id}: describe the issue in the note.")
    if action == "revoice":
        voice, status = voice.strip(), "edited"
    else:
        voice, status = current_voice, {"approve": "approved", "edit": "edited", "issue": "issue"}[action]
    return store.record(episode, market, line_id, status=status, source_text=line.source_text,
                        target_text=text, voice=voice, note=note.strip(), reviewer=reviewer)


def needs_render(market_dir: str | Path, store: ReviewStore, *, out: str | Path | None = None) -> bool:
    """Whether a reviewer's text or voice is not in the market's render yet."""
    return any(ln.pending for ln in review_market(market_dir, store, out=out).lines)


def rerender(market_dir: str | Path, store: ReviewStore, *, out: str | Path | None = None,
             progress: Progress | None = None) -> MarketResult:
    """Re-run the market with every approved and edited line of its episode in place: only the lines
    that changed are translated and dubbed again, then the mix and the render follow."""
    episode, market = market_key(market_dir, out)
    overrides = store.overrides(episode, market)
    log.info("%s/%s: re-rendering with %d reviewed lines", episode, market, len(overrides))
    return localize.relocalize(market_dir, overrides, progress=progress)


def sign_off(market_dir: str | Path, store: ReviewStore, *, reviewer: str, out: str | Path | None = None) -> SignOff:
    """Accept the market's current render: refused while a line is marked as an issue or a reviewer's
    edit is not rendered yet."""
    review = review_market(market_dir, store, out=out)
    issues = [ln.line.id for ln in review.lines if ln.status == "issue"]
    if issues:
        raise ConfigError(f"{review.episode}/{review.market}: lines {', '.join(issues)} are marked as issues; "
                          "approve or edit them before signing off.")
    if any(ln.pending for ln in review.lines):
        raise ConfigError(f"{review.episode}/{review.market}: an edit is not rendered yet; wait for the re-render "
                          "before signing off.")
    if not review.render_sha256:
        raise InputError(review.video, "is missing", "run the episode again with `localize run`")
    return store.sign_off(review.episode, review.market, reviewer=reviewer, render_sha256=review.render_sha256)
