"""The batch's machine-readable log: one JSON object per line in ``<out>/events.jsonl``.

Events: batch_started, job_removed (no longer in the catalog), job_recovered (left running by a batch that
died), job_started, job_finished, job_retry, job_failed, job_blocked, batch_finished.
Each has ``event``, ``time`` (UTC, ISO 8601) and ``t`` (Unix seconds), plus its own fields.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any


class EventLog:
    """Appends events to `path` (the coordinator is its only writer); each line is flushed at once."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path else None
        self._fh: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, event: str, **fields: Any) -> None:
        if self._fh is None:
            return
        now = time.time()
        record = {"event": event, "t": round(now, 3),
                  "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"), **fields}
        self._fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_events(path: Path | str) -> list[dict[str, Any]]:
    """Every complete event in `path` (a line cut short by a crash is skipped)."""
    events = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events
