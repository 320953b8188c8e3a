"""The job graph of a catalog: per episode an `understand` job, then one `market` job per market.

Episodes are understood in parallel, a series' too. A series with a cast file adds edges where a stage needs
the merged cast: each understand job only leaves its episode's speaker clusters beside the cast, so every
market job of the series waits for every understand job of the series (the first to run merges the clusters
in episode-name order: the same cast whatever order they finished in); with voice matching, its market jobs
also run one after another in plan order, so the first episode to meet a character gives it the voice the
later ones keep.

A job's input hash covers everything that changes its output (the episode's sha256, the run options,
the bible's content, the market's settings and the reviewer's overrides), so a re-run skips finished
jobs whose hash is unchanged and re-runs stale ones.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec

from localize.apps.catalog.db import StateDB
from localize.apps.catalog.sources import EpisodeFile, expand_episodes
from localize.apps.catalog.spec import CatalogSpec, SeriesSpec
from localize.core.cache import file_sha256
from localize.core.markets import get_market, load_markets
from localize.core.options import AsrOptions, RunOptions
from localize.core.stage import Stage

log = logging.getLogger(__name__)

# A job is done when its input hash matches the one it finished with; bump a version when what a job
# does changes in a way its inputs do not show, so every such job runs again.
UNDERSTAND_JOB = Stage("catalog-understand", version=1)
MARKET_JOB = Stage("catalog-market", version=1)

# (episode id, market) -> the reviewer's line overrides (LineOverride objects).
OverrideSource = Callable[[str, str], Sequence[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    id: str
    kind: str  # "understand" or "market"
    series: str
    episode: str  # the episode's name (its file's stem)
    path: str  # the local episode file
    market: str | None
    depends: tuple[str, ...]
    input_hash: str
    out: str  # the series' output folder: OUT/<series>; a market job writes OUT/<series>/<episode>/<market>/
    options: RunOptions
    overrides: tuple[Any, ...] = ()

    @property
    def episode_id(self) -> str:
        return f"{self.series}/{self.episode}"

    @property
    def output(self) -> str | None:
        return str(Path(self.out) / self.episode / self.market) if self.market else None


def _builtins(value: Any) -> Any:
    return msgspec.to_builtins(value, enc_hook=str)


def run_options(series: SeriesSpec, cache_dir: Path) -> RunOptions:
    s = series.settings
    return RunOptions(
        asr=AsrOptions(model=s.asr_model, language=s.language), ocr=s.ocr, speakers=s.speakers,
        separation=s.separation, tts_backend=s.tts_backend, translate_backend=s.translate_backend,
        voice_matching=s.voice_matching, markets_files=tuple(Path(f) for f in s.markets_files),
        bible_file=Path(series.bible) if series.bible else None, cast_file=Path(series.cast) if series.cast else None,
        series=series.name, cache_dir=cache_dir, commercial=s.commercial,
        voice_consent=tuple((who, Path(rec)) for who, rec in series.voice_consent),
    )


def _options_hash_part(options: RunOptions) -> dict[str, Any]:
    data = _builtins(replace(options, cache_dir=None))
    if options.bible_file is not None and Path(options.bible_file).is_file():
        data["bible_sha256"] = file_sha256(Path(options.bible_file))
    data["markets_sha256"] = [file_sha256(Path(f)) for f in options.markets_files if Path(f).is_file()]
    data["voice_consent_sha256"] = [file_sha256(Path(f)) for _, f in options.voice_consent if Path(f).is_file()]
    return data


def episode_sha256(db: StateDB, series: str, f: EpisodeFile) -> str:
    """The file's sha256, reused from the database while its size and mtime are unchanged."""
    st = os.stat(f.path)
    episode_id = f"{series}/{f.name}"
    sha = db.known_sha256(episode_id, f.path, st.st_size, st.st_mtime_ns)
    if sha is None:
        sha = file_sha256(Path(f.path))
        db.save_episode(id=episode_id, series=series, name=f.name, origin=f.origin, path=f.path, size=st.st_size,
                        mtime_ns=st.st_mtime_ns, sha256=sha)
    return sha


def _cast_edges(series: SeriesSpec, options: RunOptions, jobs: list[Job]) -> list[Job]:
    """The series' jobs in run order, with the edges its cast needs (see the module's docstring)."""
    if not series.cast or options.speakers == "off":
        return jobs
    understand = [j for j in jobs if j.kind == "understand"]
    markets = [j for j in jobs if j.kind == "market"]
    every = tuple(j.id for j in understand)
    chained: list[Job] = []
    for job in markets:
        before = (chained[-1].id,) if chained and options.voice_matching else ()
        chained.append(replace(job, depends=tuple(dict.fromkeys((*job.depends, *every, *before)))))
    return understand + chained


def plan_catalog(spec: CatalogSpec, out: Path, db: StateDB, *, cache_dir: Path | None = None,
                 overrides: OverrideSource | None = None) -> list[Job]:
    """Every job of the catalog in run order (an episode's understand job before its market jobs)."""
    out = Path(out).resolve()
    cache = RunOptions(cache_dir=cache_dir).cache_root().resolve()
    db.save_catalog(spec.path, [(s.name, s.markets) for s in spec.series])
    jobs: list[Job] = []
    for series in spec.series:
        mine: list[Job] = []
        options = run_options(series, cache)
        known = load_markets(*options.markets_files)
        markets = {tag: get_market(tag, known) for tag in series.markets}  # an unknown tag fails here
        base = _options_hash_part(options)
        for f in expand_episodes(series.episodes, out / ".sources"):
            sha = episode_sha256(db, series.name, f)
            understand = Job(
                id=f"{series.name}/{f.name}/understand", kind="understand", series=series.name, episode=f.name,
                path=f.path, market=None, depends=(), out=str(out / series.name), options=options,
                input_hash=UNDERSTAND_JOB.key(inputs=[sha], options={"run": base}),
            )
            mine.append(understand)
            for tag, market in markets.items():
                lines = tuple(overrides(understand.episode_id, tag)) if overrides else ()
                mine.append(Job(
                    id=f"{series.name}/{f.name}/{tag}", kind="market", series=series.name, episode=f.name,
                    path=f.path, market=tag, depends=(understand.id,), out=str(out / series.name),
                    options=options, overrides=lines,
                    input_hash=MARKET_JOB.key(inputs=[understand.input_hash], options={
                        "market": _builtins(market), "overrides": _builtins(list(lines))}),
                ))
        jobs.extend(_cast_edges(series, options, mine))
    return jobs


def is_done(job: Job, db: StateDB) -> bool:
    """Finished with these inputs, and its outputs are still there."""
    row = db.job(job.id)
    if row is None or row.status != "done" or row.done_hash != job.input_hash:
        return False
    return job.output is None or (Path(job.output) / "video.mp4").is_file()
