"""Who says each line: speaker embeddings, clustering, and a series cast.

    from localize.stages.script.speakers import CastRegistry, assign_speakers

    cast = CastRegistry.load(Path("series/cast.json"), series="series")
    script = assign_speakers(script, Path("ep01.16k.wav"), cast=cast, episode="ep01")
    cast.save()

Without a cast, lines are labelled "SPEAKER_00", "SPEAKER_01"... in order of first appearance,
and the labels mean nothing outside the episode. With one, they are the cast's character ids
("C01"...), the same across every episode of the series.

Install with ``pip install 'localize[speakers]'`` (resemblyzer ships its weights; torch on CPU).
Importing this package loads neither: they load when lines are first embedded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from localize.core.artifacts import Script
from localize.stages.script.speakers.cast import MATCH_THRESHOLD, CastRegistry
from localize.stages.script.speakers.cluster import DEFAULT_THRESHOLD, cluster_speakers
from localize.stages.script.speakers.embed import (
    MIN_RELIABLE_MS,
    MIN_WINDOW_MS,
    Embedder,
    embed_lines,
    model_version,
    reliable_mask,
)

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_THRESHOLD",
    "MATCH_THRESHOLD",
    "MIN_RELIABLE_MS",
    "MIN_WINDOW_MS",
    "CastRegistry",
    "Diarization",
    "Embedder",
    "assign_speakers",
    "cluster_speakers",
    "diarize",
    "embed_lines",
    "label_speakers",
    "model_version",
    "reliable_mask",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Diarization:
    """Who speaks each line within one episode: a cluster per voice (cacheable as JSON)."""

    labels: tuple[int, ...]  # one per line, clusters numbered in order of first appearance
    centroids: tuple[tuple[float, ...], ...]  # per cluster: mean embedding of its steady lines
    counts: tuple[int, ...]  # per cluster: how many lines it holds


def diarize(
    script: Script,
    audio: Path,
    *,
    n_speakers: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    embedder: Embedder | None = None,
) -> Diarization | None:
    """Cluster the lines by voice; None for fewer than two lines or when every line is silent.

    audio: the episode's speech as a 16 kHz mono wav, on the script's clock.
    n_speakers: how many people speak, when known; otherwise found from `threshold`.
    """
    if len(script.lines) < 2:
        return None
    embeddings = embed_lines(audio, script.lines, embedder=embedder)
    present = np.linalg.norm(embeddings, axis=1) > 0
    if not present.any():
        log.warning("speakers: every line is over silence in %s; speakers left as they were", audio)
        return None
    reliable = reliable_mask(script.lines) & present
    labels = np.asarray(
        cluster_speakers(embeddings, n_speakers=n_speakers, threshold=threshold, reliable=reliable)
    )
    centroids, counts = [], []
    for k in range(int(labels.max()) + 1):
        members = labels == k
        # A cluster learns from its steady lines; a cluster of only short lines still has its own
        # (every cluster holds at least one line with an embedding).
        best = members & reliable if (members & reliable).any() else members & present
        mean = embeddings[best].mean(axis=0)
        centroids.append(tuple(float(x) for x in mean / (np.linalg.norm(mean) or 1.0)))
        counts.append(int(members.sum()))
    return Diarization(labels=tuple(int(x) for x in labels), centroids=tuple(centroids), counts=tuple(counts))


def label_speakers(
    script: Script, diarization: Diarization | None, *, cast: CastRegistry | None = None, episode: str = ""
) -> Script:
    """`script` with each line's speaker: SPEAKER_00... or, with a cast, its character ids.

    With a cast, the cast learns this episode's voices (call ``cast.save()`` to keep them); a
    re-run of an episode the cast has recorded does not count its lines twice.
    """
    if diarization is None:
        return script
    count = len(diarization.counts)
    if cast is None:
        names = [f"SPEAKER_{k:02d}" for k in range(count)]
    else:
        names = cast.match([np.asarray(c) for c in diarization.centroids], episode=episode,
                           line_counts=list(diarization.counts))
    log.info(
        "speakers: %d lines -> %d speakers (%s)", len(diarization.labels), count,
        ", ".join(f"{names[k]}: {diarization.counts[k]}" for k in range(count)),
    )
    lines = tuple(replace(line, speaker=names[label])
                  for line, label in zip(script.lines, diarization.labels, strict=True))
    return replace(script, lines=lines)


def assign_speakers(
    script: Script,
    audio: Path,
    *,
    n_speakers: int | None = None,
    cast: CastRegistry | None = None,
    episode: str = "",
    threshold: float = DEFAULT_THRESHOLD,
    embedder: Embedder | None = None,
) -> Script:
    """A copy of `script` whose lines' `speaker` says who speaks them: :func:`diarize`, then
    :func:`label_speakers`. A script with fewer than two lines is returned as it is."""
    found = diarize(script, audio, n_speakers=n_speakers, threshold=threshold, embedder=embedder)
    return label_speakers(script, found, cast=cast, episode=episode)
