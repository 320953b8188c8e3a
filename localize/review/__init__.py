"""Per-market QA review: a local web page per episode and market, approvals, edits, sign-off and export.

    from localize.review import ReviewStore, act, rerender, review_market, sign_off, export

    store = ReviewStore.for_out("out")                      # out/localize.db, beside the catalog's tables
    act("out/ep01/en-US", store, "L003", "edit", text="We close at nine.", reviewer="ana")
    rerender("out/ep01/en-US", store)                       # only L003's dub, the mix and the render run
    act("out/ep01/en-US", store, "L003", "approve", reviewer="ana")
    sign_off("out/ep01/en-US", store, reviewer="ana")
    export("out", "delivery/")                              # signed-off renders + qa_summary.csv/.json

Imports stay light: the server (Starlette) and the pipeline load when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ReviewStore": "localize.review.store",
    "LineReview": "localize.review.store",
    "SignOff": "localize.review.store",
    "default_url": "localize.review.store",
    "ReviewLine": "localize.review.market",
    "MarketReview": "localize.review.market",
    "review_market": "localize.review.market",
    "find_markets": "localize.review.market",
    "act": "localize.review.market",
    "needs_render": "localize.review.market",
    "rerender": "localize.review.market",
    "sign_off": "localize.review.market",
    "export": "localize.review.export",
    "ExportResult": "localize.review.export",
    "QaRow": "localize.review.export",
    "create_app": "localize.review.server",
    "serve": "localize.review.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'localize.review' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # pragma: no cover
    from .export import ExportResult, QaRow, export
    from .market import MarketReview, ReviewLine, act, find_markets, needs_render, rerender, review_market, sign_off
    from .server import create_app, serve
    from .store import LineReview, ReviewStore, SignOff, default_url
