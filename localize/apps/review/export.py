"""Export the signed-off deliverables of an output folder and a QA summary for distribution tooling.

``<to>/<episode>/<market>/`` gets the market's video, subtitles, script.json and report.json for every
market signed off on its current render; ``<to>/qa_summary.csv`` and ``qa_summary.json`` list every
market under review with its counts and sign-off.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from localize.apps.review.market import MarketReview, find_markets, review_market
from localize.apps.review.store import ReviewStore
from localize.core import jsonio
from localize.core.errors import ConfigError, InputError

log = logging.getLogger(__name__)

DELIVERABLES = ("video.mp4", "subtitles.srt", "subtitles.vtt", "subtitles.ass", "subtitles.ttml", "script.json",
                "report.json")



@dataclass(frozen=True, slots=True, kw_only=True)
class QaRow:
    """One episode and market in the QA summary."""

    episode: str
    market: str
    lines: int
    approved: int
    edited: int
    issues: int
    unreviewed: int
    signed_off_by: str
    signed_off_at: str
    render_sha256: str
    signoff_current: bool  # the render is the one signed off
    integrated_lufs: float
    true_peak_dbtp: float
    exported: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportResult:
    directory: str
    rows: tuple[QaRow, ...]
    summary_csv: str
    summary_json: str

    @property
    def exported(self) -> tuple[QaRow, ...]:
        return tuple(r for r in self.rows if r.exported)


def _row(review: MarketReview, exported: bool) -> QaRow:
    s = review.signoff
    loud = review.report.loudness
    return QaRow(episode=review.episode, market=review.market, lines=len(review.lines),
                 approved=review.count("approved"), edited=review.count("edited"), issues=review.count("issue"),
                 unreviewed=review.count(""), signed_off_by=s.reviewer if s else "", signed_off_at=s.at if s else "",
                 render_sha256=review.render_sha256, signoff_current=review.signed_off,
                 integrated_lufs=loud.integrated_lufs, true_peak_dbtp=loud.true_peak_dbtp, exported=exported)


def export(out: str | Path, to: str | Path, *, store: ReviewStore | None = None,
           include_unsigned: bool = False) -> ExportResult:
    """Copy every signed-off market of `out` into `to` and write the QA summary there.

    A market whose render changed after its sign-off is refused (the reviewer did not see this render),
    unless `include_unsigned`, which also copies the markets nobody signed off."""
    out, to = Path(out), Path(to)
    if to.resolve() == out.resolve():
        raise ConfigError(f"export folder {to} is the output folder itself; choose another folder.")
    own = store is None
    store = store or ReviewStore.for_out(out)
    try:
        reviews = [review_market(d, store, out=out) for d in find_markets(out)]
    finally:
        if own:
            store.close()
    if not reviews:
        raise InputError(out, "holds no localized market (no <episode>/<market>/report.json)",
                         "run `localize run` first")
    stale = [r for r in reviews if r.signoff and not r.signed_off]
    if stale and not include_unsigned:
        names = ", ".join(f"{r.episode}/{r.market}" for r in stale)
        raise ConfigError(f"the render of {names} changed after its sign-off; review and sign it off again, "
                          "or pass --include-unsigned.")
    rows = []
    for review in reviews:
        ship = review.signed_off or include_unsigned
        if ship:
            target = to / review.episode / review.market
            target.mkdir(parents=True, exist_ok=True)
            for name in DELIVERABLES:
                src = Path(review.directory) / name
                if src.is_file():
                    jsonio.atomic_copy(src, target / name)
            log.info("exported %s/%s", review.episode, review.market)
        rows.append(_row(review, ship))
    to.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = to / "qa_summary.csv", to / "qa_summary.json"
    jsonio.atomic_write_text(csv_path, _csv(rows))
    jsonio.save({"markets": [jsonio.to_dict(r) for r in rows]}, json_path)
    return ExportResult(directory=str(to), rows=tuple(rows), summary_csv=str(csv_path), summary_json=str(json_path))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading
    apostrophe (OWASP's CSV injection advice); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv(rows: list[QaRow]) -> str:
    buf = io.StringIO()
    fields = list(QaRow.__dataclass_fields__)
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _cell(v) for k, v in jsonio.to_dict(r).items()})
    return buf.getvalue()
