"""Translation memory: approved lines reused across a catalog.

A SQLite file (WAL, safe for several workers) of approved source -> target pairs per language
pair. A new line takes an approved translation when its source is identical after folding case,
spaces and punctuation, or near-identical (rapidfuzz Indel similarity >= `threshold`, 0.9 by default),
and skips the machine or LLM. Where approvals come from: `localize tm import` of a reviewed
market script.json (the QA review of a later issue writes them directly).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from localize.core import jsonio
from localize.core.artifacts import LocalizedScript
from localize.core.errors import ConfigError
from localize.stages.script.fusion import _plain as fold

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    source_language TEXT NOT NULL,
    target_language TEXT NOT NULL,
    folded TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '',
    approved_at REAL NOT NULL,
    PRIMARY KEY (source_language, target_language, folded)
);
CREATE INDEX IF NOT EXISTS entries_length ON entries (source_language, target_language, length(folded));
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    source: str  # the remembered source line
    target: str
    similarity: float  # 1.0: identical after folding


class TranslationMemory:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path}: not a localize translation memory ({exc}).") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TranslationMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, *, source_language: str, target_language: str, source: str, target: str, origin: str = "") -> None:
        """Approve `target` for `source` (replacing an earlier approval of the same source)."""
        key = fold(source)
        if not key or not target.strip():
            return
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
                (source_language, target_language, key, source, target.strip(), origin, time.time()),
            )

    def lookup(self, source: str, source_language: str, target_language: str, *,
               threshold: float = 0.9) -> Match | None:
        key = fold(source)
        if not key:
            return None
        row = self._db.execute(
            "SELECT source, target FROM entries WHERE source_language=? AND target_language=? AND folded=?",
            (source_language, target_language, key)).fetchone()
        if row:
            return Match(source=row[0], target=row[1], similarity=1.0)
        # near-identical: only lengths that could reach the threshold
        low, high = int(len(key) * threshold), int(len(key) / threshold) + 1
        rows = self._db.execute(
            "SELECT source, target, folded FROM entries WHERE source_language=? AND target_language=? "
            "AND length(folded) BETWEEN ? AND ?", (source_language, target_language, low, high)).fetchall()
        # Indel similarity (2 * matches / total length, as difflib's ratio); the first best candidate wins.
        # The cutoff is nudged down so that float rounding of threshold * 100 cannot drop an exact tie.
        found = process.extractOne(key, [folded for _, _, folded in rows], scorer=fuzz.ratio, processor=None,
                                   score_cutoff=max(0.0, threshold * 100 - 1e-9))
        if found is None:
            return None
        _, score, index = found
        src, tgt, _ = rows[index]
        return Match(source=src, target=tgt, similarity=round(score / 100, 4))

    def import_script(self, path: str | Path) -> int:
        """Approve every translated line of a market's script.json; returns how many."""
        script = jsonio.load(LocalizedScript, Path(path))
        count = 0
        for line in script.lines:
            if line.target_text.strip() and line.source_text.strip():
                self.add(source_language=script.source_language, target_language=script.target_language,
                         source=line.source_text, target=line.target_text, origin=f"{script.episode}/{line.id}")
                count += 1
        return count

    def count(self) -> dict[str, int]:
        return {f"{s}-{t}": n for s, t, n in self._db.execute(
            "SELECT source_language, target_language, count(*) FROM entries GROUP BY 1, 2")}


@contextlib.contextmanager
def open_tm(path: str | Path | None) -> Iterator[TranslationMemory | None]:
    if path is None:
        yield None
        return
    tm = TranslationMemory(path)
    try:
        yield tm
    finally:
        tm.close()
