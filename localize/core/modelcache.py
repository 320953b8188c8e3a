"""Loaded models kept per process, for batch workers that run many jobs.

Backends ask ``shared(kind, key, load)`` for their model. In a normal run the cache is off and that
just calls ``load()`` (the backend releases its model when its stage ends); a batch worker calls
``enable()`` once, and from then on each model (keyed by its path or name) loads once per worker.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_models: dict[tuple[str, str], Any] | None = None
_scoped = False  # the cache is an episode run's scope (not a batch worker's, kept for good)
_lock = threading.Lock()


def threads() -> int:
    """Threads a numeric library of this process may use: a batch worker's share of the cores
    (``OMP_NUM_THREADS``, set by the worker pool), else every core. Whisper, llama.cpp, Kokoro and OCR
    ask this rather than the core count, so two workers on two cores do not run four threads."""
    import os

    raw = os.environ.get("OMP_NUM_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, os.cpu_count() or 1)


def enable() -> None:
    """Keep models loaded for the rest of this process (batch workers)."""
    global _models
    with _lock:
        if _models is None:
            _models = {}


@contextmanager
def scope() -> Iterator[None]:
    """Share loaded models inside the block (an episode's markets: the LLM loads once, not once per market)
    and drop them at its end; inside a batch worker, whose cache is on for good, this changes nothing."""
    global _models, _scoped
    with _lock:
        if _models is not None:
            owner = False
        else:
            _models, owner, _scoped = {}, True, True
    try:
        yield
    finally:
        if owner:
            with _lock:
                _models, _scoped = None, False


def enabled() -> bool:
    return _models is not None


def release(kind: str) -> None:
    """Drop the models of `kind` an episode's scope holds, once no later stage of the run needs them (the LLM
    after every market is translated: its memory goes before the voices load). A batch worker keeps its
    models for the next job."""
    with _lock:
        if _models is None or not _scoped:
            return
        for key in [k for k in _models if k[0] == kind]:
            del _models[key]
    gc.collect()


def shared(kind: str, key: str, load: Callable[[], T]) -> T:
    """`load()`, or the model this process already loaded for (kind, key) when the cache is on."""
    if _models is None:
        return load()
    with _lock:
        if (kind, key) not in _models:
            _models[(kind, key)] = load()
        return _models[(kind, key)]
