"""Progress reporting hooks: the library reports, the CLI draws (rich)."""

from __future__ import annotations

from typing import Protocol


class Task(Protocol):
    def advance(self, n: int = 1) -> None: ...

    def done(self) -> None: ...


class Progress(Protocol):
    def task(self, label: str, total: int | None = None) -> Task: ...


class _NullTask:
    def advance(self, n: int = 1) -> None:
        pass

    def done(self) -> None:
        pass


class NullProgress:
    """The default: report nothing."""

    def task(self, label: str, total: int | None = None) -> Task:
        return _NullTask()
