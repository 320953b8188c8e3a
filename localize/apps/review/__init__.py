"""Per-market QA review: a local web page per episode and market, approvals, edits, sign-off and export.

    from localize.apps.review import ReviewStore, act, rerender, review_market, sign_off, export

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
    "ReviewStore": "localize.apps.review.store",
    "LineReview": "localize.apps.review.store",
    "SignOff": "localize.apps.review.store",
    "default_url": "localize.apps.review.store",
    "ReviewLine": "localize.apps.review.market",
    "MarketReview": "localize.apps.review.market",
    "review_market": "localize.apps.review.market",
    "find_markets": "localize.apps.review.market",
    "act": "localize.apps.review.market",
    "needs_render": "localize.apps.review.market",
    "rerender": "localize.apps.review.market",
    "sign_off": "localize.apps.review.market",
    "export": "localize.apps.review.export",
    "ExportResult": "localize.apps.review.export",
    "QaRow": "localize.apps.review.export",
    "create_app": "localize.apps.review.server",
    "serve": "localize.apps.review.server",
}

# Spelled out (not sorted(_EXPORTS)) so linters and type checkers see the re-exports; a test keeps it equal to _EXPORTS.
__all__ = [
    "ExportResult",
    "LineReview",
    "MarketReview",
    "QaRow",
    "ReviewLine",
    "ReviewStore",
    "SignOff",
    "act",
    "create_app",
    "default_url",
    "export",
    "find_markets",
    "needs_render",
    "rerender",
    "review_market",
    "serve",
    "sign_off",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'localize.apps.review' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # pragma: no cover
    from localize.apps.review.export import ExportResult, QaRow, export
    from localize.apps.review.market import (
        MarketReview,
        ReviewLine,
        act,
        find_markets,
        needs_render,
        rerender,
        review_market,
        sign_off,
    )
    from localize.apps.review.server import create_app, serve
    from localize.apps.review.store import LineReview, ReviewStore, SignOff, default_url
