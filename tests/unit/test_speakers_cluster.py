"""Speaker clustering on synthetic embeddings: pure numpy + scipy, no model."""

from __future__ import annotations

import numpy as np
import pytest

from localize.core.errors import ConfigError, LocalizeError
from localize.stages.script.speakers.cluster import (
    DEFAULT_THRESHOLD,
    cluster_speakers,
    first_appearance,
    merge_one_voice,
)


def voice(seed: int, dim: int = 256) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim)
    return v / np.linalg.norm(v)


def lines_of(v: np.ndarray, n: int, *, noise: float = 0.2, seed: int = 0) -> np.ndarray:
    """n line embeddings around voice v: cosine to v about 1 / sqrt(1 + noise^2)."""
    rng = np.random.default_rng(seed)
    x = v + noise * rng.standard_normal((n, len(v))) / np.sqrt(len(v))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def interleave(*groups: np.ndarray) -> tuple[np.ndarray, list[int]]:
    rows, truth = [], []
    for i in range(max(len(g) for g in groups)):
        for k, g in enumerate(groups):
            if i < len(g):
                rows.append(g[i])
                truth.append(k)
    return np.stack(rows), truth


def test_no_lines_and_one_line() -> None:
    assert cluster_speakers(np.zeros((0, 256))) == []
    assert cluster_speakers(lines_of(voice(1), 1)) == [0]
    assert cluster_speakers(lines_of(voice(1), 1), n_speakers=3) == [0]


def test_two_separated_voices_are_found_without_a_count() -> None:
    a, b = lines_of(voice(1), 6, seed=1), lines_of(voice(2), 5, seed=2)
    x, truth = interleave(b, a)  # b speaks first
    assert cluster_speakers(x) == truth
    assert cluster_speakers(x)[0] == 0


def test_one_voice_is_one_speaker() -> None:
    assert cluster_speakers(lines_of(voice(3), 8, noise=0.5)) == [0] * 8


def test_known_count_gives_exactly_that_many() -> None:
    groups = [lines_of(voice(s), 4, seed=s) for s in (1, 2, 3)]
    x, truth = interleave(*groups)
    assert cluster_speakers(x, n_speakers=3) == truth
    assert len(set(cluster_speakers(x, n_speakers=2))) == 2
    assert cluster_speakers(x, n_speakers=1) == [0] * len(x)
    assert sorted(set(cluster_speakers(x, n_speakers=5))) == [0, 1, 2, 3, 4]
    assert sorted(set(cluster_speakers(x[:2], n_speakers=5))) == [0, 1]  # no more than the lines


def test_threshold_decides_the_count() -> None:
    # Two voices whose centres are 0.6 apart in cosine (distance 0.4).
    a = voice(1)
    b = 0.6 * a + 0.8 * voice(2)
    b /= np.linalg.norm(b)
    x, _ = interleave(lines_of(a, 4, noise=0.05, seed=1), lines_of(b, 4, noise=0.05, seed=2))
    assert len(set(cluster_speakers(x, threshold=0.3))) == 2
    assert len(set(cluster_speakers(x, threshold=0.5))) == 1


def test_deterministic_and_numbered_by_first_appearance() -> None:
    groups = [lines_of(voice(s), 5, seed=s) for s in (7, 8, 9)]
    x, _ = interleave(groups[2], groups[0], groups[1])
    first = cluster_speakers(x)
    assert first[:3] == [0, 1, 2]
    for _ in range(3):
        assert cluster_speakers(x.copy()) == first
    assert cluster_speakers(x, n_speakers=3) == first
    assert first_appearance([5, 5, 2, 9, 2, 5]) == [0, 0, 1, 2, 1, 0]


def test_a_lone_short_line_is_attached_to_the_nearest_speaker() -> None:
    a, b = voice(1), voice(2)
    # The short line is noisy: on its own it is further than the threshold from both voices,
    # but nearer to b.
    stray = 0.55 * b + 0.835 * voice(3)
    stray /= np.linalg.norm(stray)
    x = np.vstack([lines_of(a, 3, seed=1), lines_of(b, 3, seed=2), stray])
    reliable = [True] * 6 + [False]
    assert cluster_speakers(x) == [0, 0, 0, 1, 1, 1, 2]  # steady: a voice of its own
    assert cluster_speakers(x, reliable=reliable) == [0, 0, 0, 1, 1, 1, 1]
    # With a known count, the tree is cut finer until exactly n speakers remain after attaching.
    assert cluster_speakers(x, n_speakers=2, reliable=reliable) == [0, 0, 0, 1, 1, 1, 1]


def test_short_lines_that_agree_make_a_speaker() -> None:
    # Someone who only ever says "Yes." still gets a label.
    x = np.vstack([lines_of(voice(1), 4, seed=1), lines_of(voice(2), 3, noise=0.1, seed=2)])
    reliable = [True] * 4 + [False] * 3
    assert cluster_speakers(x, reliable=reliable) == [0] * 4 + [1] * 3


def test_all_lines_short_still_cluster() -> None:
    x, truth = interleave(lines_of(voice(1), 3, seed=1), lines_of(voice(2), 3, seed=2))
    assert cluster_speakers(x, reliable=[False] * 6) == truth


def test_lines_without_embedding_take_the_previous_label() -> None:
    a, b = lines_of(voice(1), 3, seed=1), lines_of(voice(2), 3, seed=2)
    zero = np.zeros((1, 256))
    x = np.vstack([zero, a[:2], b, zero, a[2:]])
    assert cluster_speakers(x) == [0, 0, 0, 1, 1, 1, 1, 0]
    assert cluster_speakers(np.zeros((3, 256))) == [0, 0, 0]


def test_bad_values_are_user_errors() -> None:
    x = lines_of(voice(1), 3)
    with pytest.raises(ConfigError, match="at least 1"):
        cluster_speakers(x, n_speakers=0)
    with pytest.raises(LocalizeError, match="threshold"):
        cluster_speakers(x, threshold=0)
    with pytest.raises(ValueError, match="2-d"):
        cluster_speakers(np.zeros(5))
    assert 0 < DEFAULT_THRESHOLD < 1


def near(v: np.ndarray, cosine: float, seed: int) -> np.ndarray:
    """A voice at `cosine` to v."""
    w = cosine * v + np.sqrt(1 - cosine**2) * voice(seed)
    return w / np.linalg.norm(w)


# -- the count, when not told: one noisy voice stays one, two voices stay two (issue 17) ---------------------


def test_one_noisy_voice_cut_apart_is_merged_back() -> None:
    # Lines 0.18-0.41 apart (a noisy recording): the 0.30 cut leaves 4 clusters; their means sit together.
    x = lines_of(voice(4), 6, noise=0.75, seed=4)
    labels = np.array([0, 0, 1, 2, 3, 0])
    assert merge_one_voice(x, labels).tolist() == [0] * 6
    assert cluster_speakers(x) == [0] * 6


def test_two_close_voices_in_few_noisy_lines_stay_apart() -> None:
    # Centroids 0.33 apart, lines only 1.4 times further apart than within a voice (like two speakers in 1.2 s
    # turns): the spread ratio alone would merge them; the centroids keep them apart.
    a = voice(1)
    x, truth = interleave(lines_of(a, 4, noise=0.8, seed=1), lines_of(near(a, 0.9, 2), 2, noise=0.8, seed=2))
    labels = np.array(truth)
    assert merge_one_voice(x, labels, centroid_distance=2.0).tolist() == [0] * 6
    assert merge_one_voice(x, labels).tolist() == truth


def test_two_close_voices_in_tight_lines_stay_apart() -> None:
    # Centroids 0.24 apart, but each voice's lines sit tight (0.13) and 0.32 from the other's (two clean
    # recordings of similar voices): the centroids alone would merge them; the spread ratio keeps them apart.
    a = voice(1)
    x, truth = interleave(lines_of(a, 4, noise=0.4, seed=5), lines_of(near(a, 0.74, 3), 4, noise=0.4, seed=6))
    labels = np.array(truth)
    assert merge_one_voice(x, labels, ratio=100.0).tolist() == [0] * 8
    assert merge_one_voice(x, labels).tolist() == truth
    assert cluster_speakers(x) == truth
