"""Errors localize raises.

Two families, as a user sees them:

* :class:`LocalizeError` and its subclasses are about the user's input or
  environment (a missing file, an unknown market, a missing extra). The CLI
  prints their one-sentence message and exits with code 2, no traceback.
* Anything else is a bug in localize: the CLI shows the traceback and asks
  for a report.

Each class keeps the offending value as an attribute, so callers can act on
it without parsing the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class LocalizeError(Exception):
    """A problem with the user's input or environment, explained in one sentence."""


class InputError(LocalizeError):
    """An input file is missing, unreadable or unusable."""

    def __init__(self, path: str | Path, problem: str, fix: str = "") -> None:
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        tail = f"; {fix}" if fix else ""
        super().__init__(f"{self.path}: {problem}{tail}.")


class MediaError(InputError):
    """ffmpeg cannot read the file, or it lacks a stream localize needs."""


class SubtitleError(InputError):
    """A subtitle file cannot be parsed."""


class UnknownNameError(LocalizeError):
    """A market, backend or voice name that localize does not know."""

    def __init__(self, kind: str, name: str, known: Iterable[str], fix: str = "") -> None:
        self.kind = kind
        self.name = name
        self.known = tuple(sorted(known))
        listed = ", ".join(self.known) or "none"
        tail = f"; {fix}" if fix else ""
        super().__init__(f"unknown {kind} {name!r} (known: {listed}){tail}.")


class MissingExtraError(LocalizeError):
    """An optional dependency of a backend is not installed."""

    def __init__(self, backend: str, extra: str, module: str) -> None:
        self.backend = backend
        self.extra = extra
        self.module = module
        super().__init__(
            f"backend {backend!r} needs the Python package {module!r}: "
            f"pip install 'localize[{extra}]'."
        )


class MissingToolError(LocalizeError):
    """An external program (ffmpeg, espeak-ng, apertium...) is not installed."""

    def __init__(self, tool: str, fix: str) -> None:
        self.tool = tool
        super().__init__(f"{tool} is not installed; {fix}.")


class ModelError(LocalizeError):
    """Model weights are missing or do not match the manifest's sha256."""


class ModelIntegrityError(ModelError):
    """A model file differs from the sha256 it is pinned to: never used, and never skipped silently."""


class ConfigError(LocalizeError):
    """A market or run configuration is invalid."""


class NoRouteError(LocalizeError):
    """No installed translation backend covers a language pair."""

    def __init__(self, source: str, target: str, tried: Iterable[str], *, market: str = "",
                 path: str | Path | None = None) -> None:
        self.source = source
        self.target = target
        self.tried = tuple(tried)
        self.market = market
        self.path = Path(path) if path is not None else None
        where = f"{self.path}: market {market} cannot be translated: " if self.path is not None and market else ""
        super().__init__(
            f"{where}no translation backend available for {source}->{target} "
            f"(tried: {', '.join(self.tried) or 'none'}); install the offline LLM with "
            f"pip install 'localize[llamacpp]', configure an 'openai' endpoint, or pass a human translation "
            f"with --translation {market or target}=FILE.srt."
        )


class ToolFailedError(LocalizeError):
    """An external program (ffmpeg, apertium, espeak-ng) failed; its last stderr line is kept."""

    def __init__(self, tool: str, what: str, last_line: str) -> None:
        self.tool = tool
        self.last_line = last_line
        super().__init__(f"{tool} failed while {what}: {last_line or 'no error output'}.")


class DiskFullError(LocalizeError):
    """No space left where localize writes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(
            f"no space left on the device holding {self.path}; free some space or pass "
            f"--out/--cache-dir on another disk, then re-run (finished stages are reused)."
        )


class BatchBusyError(LocalizeError):
    """Another live coordinator is running a batch on the same database."""

    def __init__(self, url: str, owner: str, heartbeat_age_s: float) -> None:
        self.url = url
        self.owner = owner
        super().__init__(
            f"another batch ({owner}, alive {heartbeat_age_s:.0f} s ago) is running on the database {url}; "
            "wait for it (`localize status` shows its progress), or stop it and re-run."
        )
