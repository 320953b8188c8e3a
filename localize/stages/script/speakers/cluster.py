"""Group line embeddings into speakers: agglomerative clustering on cosine distance.

Average linkage (scipy.cluster.hierarchy) over every line with an embedding, cut at a distance
threshold when the number of speakers is unknown, or into exactly `n_speakers` clusters when the
cast size is known. A line marked unreliable (too short for a steady embedding) may not found a
speaker on its own: a cluster that is one unreliable line is dissolved and the line attached to
the nearest remaining cluster (by cosine similarity to its mean). Two or more short lines that
agree do make a speaker, since some characters only ever say "Yes." or "No!". With a known count
the tree is cut finer until, after that, exactly `n_speakers` clusters remain (or as many as the
lines allow). A line with no embedding at all (silence) takes the label of the line before it.
Labels are numbered in order of first appearance, so the first line is speaker 0. The result
depends only on the input: no random state.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from localize.core.errors import ConfigError

# Average cosine distance (1 - similarity) between two groups of lines above which they stay
# apart. Tuned on bench/bench_diarization.py's English mix (6 speakers) and samples/episode_zh.mp4
# (2 Mandarin speakers), with lines embedded over 1.6 s windows and parts under one window attached
# (localize.stages.script.speakers): 0.30 finds 6 and 2; 0.35 merges episode_zh's two voices (their
# lines average 0.32 apart), 0.25 splits noisy JFK lines off. Pass the number of speakers when known.
DEFAULT_THRESHOLD = 0.30


def _unit_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.linalg.norm(x, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    return x / safe[:, None], norms > 0


def first_appearance(labels: Sequence[int]) -> list[int]:
    """`labels` renumbered 0, 1, 2... in the order each first appears."""
    seen: dict[int, int] = {}
    return [seen.setdefault(int(label), len(seen)) for label in labels]


def cluster_speakers(
    embeddings: np.ndarray,
    *,
    n_speakers: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    reliable: Sequence[bool] | np.ndarray | None = None,
) -> list[int]:
    """One speaker label per row of `embeddings` (n, d), numbered by first appearance.

    n_speakers: the known number of speakers (exactly that many labels, or fewer when there are
    fewer usable lines); None: cut where the average cosine distance between two groups passes
    `threshold`.
    reliable: per row, whether the line is long enough to be a speaker on its own (default: every
    row with an embedding). An all-zero row (no embedding) takes the previous line's label.
    """
    if n_speakers is not None and n_speakers < 1:
        raise ConfigError(f"the number of speakers must be at least 1, not {n_speakers}.")
    if not 0.0 < threshold <= 2.0:
        raise ConfigError(f"the speaker clustering threshold is a cosine distance in (0, 2], not {threshold}.")
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if n == 0:
        return []
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-d array (lines x dimensions), got shape {x.shape}")
    unit, present = _unit_rows(x)
    steady = present if reliable is None else present & np.asarray(reliable, dtype=bool)
    labels = np.full(n, -1, dtype=int)
    idx = np.flatnonzero(present)
    if len(idx):
        labels[idx] = _cluster(unit[idx], steady[idx], n_speakers, threshold)
    # Rows with no embedding: the label of the nearest earlier labelled line, else the first label.
    for i in range(n):
        if labels[i] < 0:
            earlier = labels[:i][labels[:i] >= 0]
            labels[i] = earlier[-1] if len(earlier) else (labels[labels >= 0][0] if (labels >= 0).any() else 0)
    return first_appearance(labels.tolist())


def _cluster(unit: np.ndarray, steady: np.ndarray, n_speakers: int | None, threshold: float) -> np.ndarray:
    from scipy.cluster.hierarchy import cut_tree, fcluster, linkage
    from scipy.spatial.distance import pdist

    m = len(unit)
    if m == 1:
        return np.zeros(1, dtype=int)
    tree = linkage(np.clip(pdist(unit, metric="cosine"), 0.0, 2.0), method="average")
    if n_speakers is None:
        return _dissolve(unit, steady, fcluster(tree, t=threshold, criterion="distance") - 1)
    labels = _dissolve(unit, steady, cut_tree(tree, n_clusters=min(n_speakers, m)).ravel())
    k = min(n_speakers, m)
    # Each finer cut adds at most one cluster that survives, so this stops at exactly n_speakers
    # unless the lines cannot give that many.
    while len(np.unique(labels)) < n_speakers and k < m:
        k += 1
        labels = _dissolve(unit, steady, cut_tree(tree, n_clusters=k).ravel())
    return labels


def _dissolve(unit: np.ndarray, steady: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Attach every cluster that is a single unsteady line to the nearest other cluster."""
    labels = np.asarray(labels, dtype=int).copy()
    ids, counts = np.unique(labels, return_counts=True)
    lone = {int(c) for c, count in zip(ids, counts, strict=True) if count == 1 and not steady[labels == c].any()}
    kept = [int(c) for c in ids if int(c) not in lone]
    if not lone or not kept:
        return labels
    centroids, _ = _unit_rows(np.stack([unit[labels == c].mean(axis=0) for c in kept]))
    for i in np.flatnonzero(np.isin(labels, list(lone))):
        labels[i] = kept[int(np.argmax(centroids @ unit[i]))]
    return labels
