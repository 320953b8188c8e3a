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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from localize.core.artifacts import Line, PitchClass, Script
from localize.stages.script.speakers.cast import MATCH_THRESHOLD, CastRegistry
from localize.stages.script.speakers.cluster import DEFAULT_THRESHOLD, cluster_speakers
from localize.stages.script.speakers.embed import (
    MIN_RELIABLE_MS,
    MIN_WINDOW_MS,
    SAMPLE_RATE,
    WINDOW_MS,
    Embedder,
    embed_lines,
    embed_spans,
    line_windows,
    model_version,
    read_audio,
    reliable_mask,
)
from localize.stages.script.speakers.pitch import median_f0, pitch_class

log = logging.getLogger(__name__)

__all__ = [
    "CHANGE_DISTANCE",
    "DEFAULT_THRESHOLD",
    "MATCH_THRESHOLD",
    "MIN_RELIABLE_MS",
    "MIN_WINDOW_MS",
    "CastRegistry",
    "Diarization",
    "Embedder",
    "SpeakerChange",
    "assign_speakers",
    "cluster_speakers",
    "diarize",
    "embed_lines",
    "label_speakers",
    "model_version",
    "reliable_mask",
    "split_line",
]


# Cosine distance between the windows before and after a point inside one line above which the line is
# cut there for clustering (it stays cut only where its two parts land in different clusters). Tuned on
# bench/bench_diarization.py's mix (lines joining two voices, and single-voice lines), not on episode B.
# Measured there: lines of two voices (each side at least one window) 0.36 and 0.57, lines of one voice
# at most 0.27.
CHANGE_DISTANCE = 0.33
# A part (a line, or one side of a voice change) shorter than one embedding window may not found a speaker
# on its own (cluster.py attaches it to the nearest speaker). On the bench mix 600 ms kept two extra
# speakers of noisy short lines; one window (1600 ms) found the 6 speakers, and episode_zh's 2.
MIN_STEADY_MS = WINDOW_MS


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeakerChange:
    """A second voice inside one line: from `at_ms` on, line number `line` (0-based) is cluster `label`."""

    line: int
    at_ms: int
    label: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Diarization:
    """Who speaks each line within one episode: a cluster per voice (cacheable as JSON)."""

    labels: tuple[int, ...]  # one per line (its first voice), clusters numbered in order of first appearance
    centroids: tuple[tuple[float, ...], ...]  # per cluster: mean embedding of its steady lines
    counts: tuple[int, ...]  # per cluster: how many lines it holds (a line cut in two counts for both)
    changes: tuple[SpeakerChange, ...] = ()  # lines a second voice takes over, cut there by label_speakers
    f0_hz: tuple[float, ...] = ()  # per cluster: median F0 of its voiced speech, 0.0 when unknown
    pitch_classes: tuple[PitchClass, ...] = ()  # per cluster: low / mid / high ("" unknown), for voice casting


@dataclass
class _Part:
    line: int
    start_ms: int
    end_ms: int
    vectors: np.ndarray  # its windows' embeddings

    @property
    def embedding(self) -> np.ndarray:
        present = self.vectors[np.linalg.norm(self.vectors, axis=1) > 0]
        if not len(present):
            return np.zeros(self.vectors.shape[1], dtype=np.float64)
        mean = present.mean(axis=0).astype(np.float64)
        return mean / (np.linalg.norm(mean) or 1.0)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) or 1.0)


def change_point(windows: Sequence[tuple[int, int]], vectors: np.ndarray, *, step_ms: int = 100) -> tuple[int, float]:
    """(time, cosine distance) of the likeliest voice change among one line's windows: the point where the
    windows wholly before it and those wholly after it differ most (the middle of the points within 0.02
    of the best); (0, 0.0) when the line has no two disjoint windows."""
    present = np.linalg.norm(vectors, axis=1) > 0
    if len(windows) < 2 or present.sum() < 2:
        return 0, 0.0
    starts = np.array([a for a, _ in windows])
    ends = np.array([b for _, b in windows])
    scores = []
    for t in range(int(ends.min()), int(starts.max()) + 1, step_ms):
        left, right = (ends <= t) & present, (starts >= t) & present
        if left.any() and right.any():
            scores.append((t, 1.0 - float(_unit(vectors[left].mean(0)) @ _unit(vectors[right].mean(0)))))
    if not scores:
        return 0, 0.0
    best = max(d for _, d in scores)
    near = [t for t, d in scores if d >= best - 0.02]
    return near[len(near) // 2], best


def _snap(line: Line, t: int, samples: np.ndarray) -> int:
    """`t` moved to the nearest gap between the line's words, or without words to its quietest 20 ms
    within 400 ms."""
    words = [w for w in line.words if w.end_ms > w.start_ms]
    if len(words) >= 2:
        gaps = [(words[i].end_ms + words[i + 1].start_ms) // 2 for i in range(len(words) - 1)]
        return min(gaps, key=lambda g: abs(g - t))
    lo, hi = max(t - 400, line.start_ms + 200), min(t + 400, line.end_ms - 200)
    if hi - lo < 40:
        return t
    frames = [(float(np.mean(np.square(samples[a * 16:(a + 20) * 16], dtype=np.float64))), a + 10)
              for a in range(lo, hi - 20, 10)]
    return min(frames)[1] if frames else t


def diarize(
    script: Script,
    audio: Path,
    *,
    n_speakers: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    change_distance: float = CHANGE_DISTANCE,
    embedder: Embedder | None = None,
    pitch: bool = True,
) -> Diarization | None:
    """Cluster the lines by voice; None for fewer than two lines or when every line is silent.

    audio: the episode's speech as a 16 kHz mono wav, on the script's clock.
    n_speakers: how many people speak, when known; otherwise found from `threshold`.
    Every line is embedded over windows across it (:func:`~.embed.line_windows`); a line whose windows
    before and after some point differ by `change_distance` or more is clustered as two parts, and keeps
    the cut (a :class:`SpeakerChange`) when they land in different clusters. pitch: measure each
    cluster's median F0 and pitch class.
    """
    if len(script.lines) < 2 and not any(line.duration_ms >= 2 * WINDOW_MS for line in script.lines):
        return None
    samples = read_audio(audio)
    per_line = line_windows(script.lines, len(samples) * 1000 // SAMPLE_RATE)
    flat = [w for ws in per_line for w in ws]
    vectors = embed_spans(samples, flat, embedder=embedder)
    if not (np.linalg.norm(vectors, axis=1) > 0).any():
        log.warning("speakers: every line is over silence in %s; speakers left as they were", audio)
        return None
    parts: list[_Part] = []
    offset = 0
    for i, (line, windows) in enumerate(zip(script.lines, per_line, strict=True)):
        mine = vectors[offset:offset + len(windows)]
        offset += len(windows)
        t, distance = change_point(windows, mine)
        if distance >= change_distance:
            at = _snap(line, t, samples)
            before = np.array([b <= t for _, b in windows])
            parts += [_Part(i, line.start_ms, at, mine[before]), _Part(i, at, line.end_ms, mine[~before])]
            log.debug("speakers: line %s may change voice at %d ms (distance %.3f)", line.id, at, distance)
        else:
            parts.append(_Part(i, line.start_ms, line.end_ms, mine))
    if len(parts) < 2:
        return None
    embeddings = np.stack([p.embedding for p in parts])
    present = np.linalg.norm(embeddings, axis=1) > 0
    reliable = np.array([p.end_ms - p.start_ms >= MIN_STEADY_MS for p in parts]) & present
    labels = np.asarray(
        cluster_speakers(embeddings, n_speakers=n_speakers, threshold=threshold, reliable=reliable)
    )
    line_labels = [-1] * len(script.lines)
    changes = []
    for k, part in enumerate(parts):
        if line_labels[part.line] < 0:
            line_labels[part.line] = int(labels[k])
        elif int(labels[k]) != line_labels[part.line]:
            changes.append(SpeakerChange(line=part.line, at_ms=part.start_ms, label=int(labels[k])))
    centroids, counts, f0s = [], [], []
    changed = {c.line: c.label for c in changes}
    for k in range(int(labels.max()) + 1):
        members = labels == k
        # A cluster learns from its steady parts; a cluster of only short ones still has its own
        # (every cluster holds at least one part with an embedding).
        best = members & reliable if (members & reliable).any() else members & present
        centroids.append(tuple(float(x) for x in _unit(embeddings[best].mean(axis=0))))
        counts.append(sum(1 for i, lab in enumerate(line_labels) if lab == k or changed.get(i) == k))
        f0s.append(median_f0(samples, [(p.start_ms, p.end_ms) for p, m in zip(parts, members, strict=True) if m])
                   if pitch else 0.0)
    return Diarization(labels=tuple(line_labels), centroids=tuple(centroids), counts=tuple(counts),
                       changes=tuple(changes), f0_hz=tuple(f0s), pitch_classes=tuple(pitch_class(f) for f in f0s))


def split_line(line: Line, at_ms: int) -> tuple[Line, Line]:
    """`line` cut in two at `at_ms`: its words go to the part they start in, and without words its text
    is cut in proportion to the time. The first part keeps the id, the second gets "<id>-2"."""
    at_ms = min(max(at_ms, line.start_ms + 1), line.end_ms - 1)
    if line.words:
        first_words = tuple(w for w in line.words if w.start_ms < at_ms)
        second_words = tuple(w for w in line.words if w.start_ms >= at_ms)
        joiner = "" if all(_is_cjk(w.text) for w in line.words) else " "
        first_text = joiner.join(w.text.strip() for w in first_words).strip()
        second_text = joiner.join(w.text.strip() for w in second_words).strip()
    else:
        first_words = second_words = ()
        cut = round(len(line.text) * (at_ms - line.start_ms) / max(line.duration_ms, 1))
        if " " in line.text.strip():  # a spaced language: cut at the nearest space
            spaces = [i for i, ch in enumerate(line.text) if ch == " "]
            cut = min(spaces, key=lambda i: abs(i - cut))
        first_text, second_text = line.text[:cut].strip(), line.text[cut:].strip()
    return (replace(line, end_ms=at_ms, text=first_text, words=first_words),
            replace(line, id=f"{line.id}-2", start_ms=at_ms, text=second_text, words=second_words))


def _is_cjk(text: str) -> bool:
    return any("\u3040" <= ch <= "\u9fff" for ch in text)


def label_speakers(
    script: Script, diarization: Diarization | None, *, cast: CastRegistry | None = None, episode: str = ""
) -> Script:
    """`script` with each line's speaker: SPEAKER_00... or, with a cast, its character ids. A line with a
    :class:`SpeakerChange` is cut in two there (:func:`split_line`), each part with its own speaker.

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
                           line_counts=list(diarization.counts), pitch_classes=list(diarization.pitch_classes))
    log.info(
        "speakers: %d lines -> %d speakers (%s)", len(diarization.labels), count,
        ", ".join(f"{names[k]}: {diarization.counts[k]}" for k in range(count)),
    )
    changes = {c.line: c for c in diarization.changes}
    lines: list[Line] = []
    for i, (line, label) in enumerate(zip(script.lines, diarization.labels, strict=True)):
        if i in changes:
            first, second = split_line(line, changes[i].at_ms)
            log.info("speakers: line %s changes voice at %d ms: cut in two", line.id, changes[i].at_ms)
            lines += [replace(first, speaker=names[label]), replace(second, speaker=names[changes[i].label])]
        else:
            lines.append(replace(line, speaker=names[label]))
    return replace(script, lines=tuple(lines))


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
