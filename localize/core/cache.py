"""Content-addressed artifact cache.

A stage's key is the sha256 of its upstream keys (or input file hashes), the
stage name, the backend and its model version, and its options in canonical
JSON. An artifact is a directory: the stage builds it under a temp name and
renames it into place only when every file is written, so a killed run never
leaves a directory that looks done, and the next run resumes from the last
finished stage.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from localize.core.errors import DiskFullError
from localize.core.outputs import locked, sweep_temp

log = logging.getLogger(__name__)
T = TypeVar("T")

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def canonical_json(value: Any) -> str:
    """JSON that is the same for equal values; raises on anything it cannot hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_reject)


def _reject(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot make a cache key from {type(value).__name__}: {value!r}")


def stage_key(
    stage: str,
    *,
    inputs: Sequence[str],
    backend: str = "",
    model_version: str = "",
    options: Mapping[str, Any] | None = None,
    version: int = 0,
) -> str:
    """Prefer :meth:`localize.core.stage.Stage.key`, which adds the stage's version."""
    payload = {
        "stage": stage,
        "version": version,
        "inputs": list(inputs),
        "backend": backend,
        "model_version": model_version,
        "options": dict(options or {}),
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class CacheEvent:
    """An artifact a stage reused from the cache (``reused``) or built."""

    stage: str
    key: str
    reused: bool


_listeners: ContextVar[tuple[list[CacheEvent], ...]] = ContextVar("localize_cache_listeners", default=())


@contextmanager
def watch() -> Iterator[list[CacheEvent]]:
    """Collect every artifact reused or built in this context (this thread or task) until the block ends."""
    events: list[CacheEvent] = []
    token = _listeners.set((*_listeners.get(), events))
    try:
        yield events
    finally:
        _listeners.reset(token)


def _emit(event: CacheEvent) -> None:
    for events in _listeners.get():
        events.append(event)


_swept: set[Path] = set()


def _subdirs(path: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


@dataclass(frozen=True, slots=True)
class ArtifactStore:
    """Artifacts under ``root/<stage>/<key[:2]>/<key>/``."""

    root: Path

    def __post_init__(self) -> None:
        if self.root not in _swept:  # once per process and cache: the temp folders killed runs left
            _swept.add(self.root)
            self.sweep()

    def sweep(self) -> list[Path]:
        """Remove the temp folders (``.<key>.*.tmp``) of builds that were killed: older than this process and
        not locked by a live build, so concurrent runs sharing the cache are safe. Returns what it removed."""
        removed: list[Path] = []
        for stage in _subdirs(self.root):
            for shard in _subdirs(stage):
                removed += sweep_temp(shard)
        return removed

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / key

    def get(self, stage: str, key: str) -> Path | None:
        p = self.path(stage, key)
        return p if p.is_dir() else None

    @contextmanager
    def build(self, stage: str, key: str) -> Iterator[Path]:
        """Yield an empty temp directory; on success it becomes the artifact."""
        final = self.path(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", suffix=".tmp", dir=final.parent))
        try:
            with locked(tmp):  # a live build: another run's sweep leaves it alone
                yield tmp
                try:
                    os.rename(tmp, final)
                except OSError:
                    if final.is_dir():  # another worker finished the same artifact first
                        shutil.rmtree(tmp, ignore_errors=True)
                    else:
                        raise
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno == errno.ENOSPC:
                raise DiskFullError(final) from exc
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def cached(
        self,
        stage: str,
        key: str,
        build: Callable[[Path], object],  # what it returns is ignored: the folder is the artifact
        load: Callable[[Path], T],
    ) -> T:
        """Load the artifact if it exists, else build it into a temp dir first."""
        found = self.get(stage, key)
        if found is not None:
            log.info("%s: reusing %s", stage, key[:12])
            _emit(CacheEvent(stage, key, reused=True))
            return load(found)
        log.info("%s: building %s", stage, key[:12])
        with self.build(stage, key) as tmp:
            build(tmp)
        _emit(CacheEvent(stage, key, reused=False))
        return load(self.path(stage, key))
