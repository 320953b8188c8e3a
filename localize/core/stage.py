"""The Stage contract: what every step of the pipeline has in common.

A stage has a name (the folder of its artifacts in the cache) and a version (bumped when what it writes
changes). Its cache key is always made the same way, here: the keys of the artifacts it reads (or the
hashes of the user's files), the stage's name and version, the backend and its model version, and the
options that change its output, in canonical JSON. A stage never assembles a key by hand.

What a stage returns to the next one is a :class:`Built`: the artifact's key (the next stage's input),
its typed value and the folder it lives in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from localize.core.cache import ArtifactStore, stage_key

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Stage:
    """One step: ``name`` is its cache folder, ``version`` is bumped when what it writes changes."""

    name: str
    version: int

    def key(self, *, inputs: Sequence[str], backend: str = "", model_version: str = "",
            options: Mapping[str, Any] | None = None) -> str:
        """The artifact's key: upstream keys, this stage and its version, backend, model, options."""
        return stage_key(self.name, inputs=inputs, backend=backend, model_version=model_version,
                         options=options, version=self.version)

    def cached(self, store: ArtifactStore, key: str, build: Callable[[Path], object], load: Callable[[Path], T]) -> T:
        """The artifact under `key`: loaded if it exists, else built into a temp folder first."""
        return store.cached(self.name, key, build, load)

    def built(self, store: ArtifactStore, key: str, build: Callable[[Path], object],
              load: Callable[[Path], T]) -> Built[T]:
        """Like :meth:`cached`, with the key and the folder beside the value."""
        value = store.cached(self.name, key, build, load)
        return Built(key=key, value=value, path=store.path(self.name, key))

    def get(self, store: ArtifactStore, key: str) -> Path | None:
        return store.get(self.name, key)

    @contextmanager
    def build(self, store: ArtifactStore, key: str) -> Iterator[Path]:
        with store.build(self.name, key) as tmp:
            yield tmp


@dataclass(frozen=True, slots=True)
class Keyed(Generic[T]):
    """A stage's typed result with the key the next stage's artifact is keyed on."""

    key: str
    value: T


@dataclass(frozen=True, slots=True)
class Built(Generic[T]):
    """A finished artifact handed to the next stage: its key, its typed value and its folder."""

    key: str
    value: T
    path: Path
