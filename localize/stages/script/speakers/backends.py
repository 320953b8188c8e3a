"""Speaker backends: who speaks each line of one episode, found by name (``SPEAKER_BACKENDS``).

A backend clusters an episode's lines by voice and returns a :class:`~localize.stages.script.speakers.Diarization`
(a cluster per line, each cluster's mean embedding and line count); the series cast then matches the
clusters to its characters. Built in: "resemblyzer" (the default), and "pyannote": a pyannote.audio
pipeline (e.g. pyannote/speaker-diarization-3.1) from the user's own weights, named by
``LOCALIZE_PYANNOTE_PIPELINE`` (its config.yaml or the folder holding it; models/manifest.toml).
Third-party packages add theirs through the ``localize.backends`` entry point group as
``"speakers.<name>" = "module:Class"`` (:mod:`localize.core.registry`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from localize.core.errors import MissingExtraError, ModelError
from localize.core.registry import Registry

if TYPE_CHECKING:
    from localize.core.artifacts import Script
    from localize.stages.script.speakers import Diarization

DEFAULT_SPEAKER_BACKEND = "resemblyzer"


@runtime_checkable
class SpeakerBackend(Protocol):
    """Clusters one episode's lines by voice. Constructing one is cheap: models load in :meth:`diarize`."""

    name: str
    requires: str  # the module its extra installs ("auto" skips the backend when it is missing); "" for none

    def model_version(self) -> str:
        """The model, for cache keys (a missing extra raises MissingExtraError)."""
        ...

    def diarize(self, script: Script, audio: Path, *, n_speakers: int | None = None) -> Diarization | None:
        """A cluster per line of `script` over `audio` (16 kHz mono wav); None when it cannot tell (under two
        lines, or every line silent)."""
        ...


SPEAKER_BACKENDS = Registry("speakers", {"resemblyzer": "localize.stages.script.speakers.backends:Resemblyzer",
                                         "pyannote": "localize.stages.script.speakers.backends:Pyannote"})
PYANNOTE_ENV = "LOCALIZE_PYANNOTE_PIPELINE"


class Resemblyzer:
    """resemblyzer's VoiceEncoder line embeddings, clustered by average-linkage on cosine distance."""

    name = "resemblyzer"
    requires = "resemblyzer"

    def __init__(self, *, threshold: float | None = None) -> None:
        self.threshold = threshold

    def model_version(self) -> str:
        from localize.stages.script.speakers.embed import model_version

        return model_version()

    def diarize(self, script: Script, audio: Path, *, n_speakers: int | None = None) -> Diarization | None:
        from localize.stages.script.speakers import DEFAULT_THRESHOLD, diarize

        return diarize(script, audio, n_speakers=n_speakers,
                       threshold=DEFAULT_THRESHOLD if self.threshold is None else self.threshold)


class Pyannote:
    """A pyannote.audio speaker-diarization pipeline (3.1 or community-1) loaded from local weights.

    pyannote says who speaks when; each line goes to the speaker who holds most of its time, and a line whose
    two sides of a turn change are held by two speakers for at least :data:`MIN_TURN_MS` each is cut there (the
    dominant speaker of each side), even where the second holds more of the line. The clusters' centroids,
    which the series cast matches on, are resemblyzer means of their lines (so casts stay comparable across
    backends; the `speakers` extra provides it).
    """

    name = "pyannote"
    requires = "pyannote.audio"
    MIN_TURN_MS = 1600

    def __init__(self, *, pipeline: str | Path | None = None, device: str = "cpu") -> None:
        self.pipeline_path = Path(pipeline) if pipeline else (Path(os.environ[PYANNOTE_ENV])
                                                              if os.environ.get(PYANNOTE_ENV) else None)
        self.device = device

    def _config(self) -> Path:
        if self.pipeline_path is None:
            raise ModelError(f"the pyannote speaker backend needs your pyannote pipeline: set {PYANNOTE_ENV} to its "
                             "config.yaml (e.g. pyannote/speaker-diarization-3.1, downloaded after accepting its "
                             "terms and those of pyannote/segmentation-3.0).")
        path = self.pipeline_path / "config.yaml" if self.pipeline_path.is_dir() else self.pipeline_path
        if not path.is_file():
            raise ModelError(f"{path}: no pyannote pipeline config here ({PYANNOTE_ENV}); point it at the "
                             "pipeline's config.yaml or the folder that holds it.")
        return path

    def model_version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            package = version("pyannote.audio")
        except PackageNotFoundError as exc:
            raise MissingExtraError(self.name, "pyannote", "pyannote.audio") from exc
        import hashlib

        config = self._config()
        return f"pyannote.audio-{package}:{hashlib.sha256(config.read_bytes()).hexdigest()[:16]}"

    def load_pipeline(self) -> Any:
        config = self._config()
        try:
            from pyannote.audio import Pipeline
        except ImportError as exc:
            raise MissingExtraError(self.name, "pyannote", "pyannote.audio") from exc
        try:
            pipeline = Pipeline.from_pretrained(str(config))
        except Exception as exc:  # pyannote raises many kinds for missing or gated weights
            raise ModelError(f"{config}: pyannote could not load this pipeline ({exc}); check that the weights "
                             "it names are downloaded beside it.") from exc
        if pipeline is None:
            raise ModelError(f"{config}: pyannote returned no pipeline (weights missing or terms not accepted).")
        if self.device != "cpu":
            import torch

            pipeline.to(torch.device(self.device))
        return pipeline

    def diarize(self, script: Script, audio: Path, *, n_speakers: int | None = None) -> Diarization | None:
        from localize.stages.script.speakers.embed import SAMPLE_RATE, read_audio

        if not script.lines:
            return None
        pipeline = self.load_pipeline()
        samples = read_audio(audio)
        import torch

        output = pipeline({"waveform": torch.from_numpy(samples)[None, :], "sample_rate": SAMPLE_RATE},
                          **({"num_speakers": n_speakers} if n_speakers else {}))
        # pyannote.audio 4 returns a DiarizeOutput (its exclusive diarization has no overlaps); 3.x an Annotation.
        annotation = getattr(output, "exclusive_speaker_diarization", None) or \
            getattr(output, "speaker_diarization", None) or output
        turns = [(int(turn.start * 1000), int(turn.end * 1000), str(label))
                 for turn, _, label in annotation.itertracks(yield_label=True)]
        return from_turns(script, turns, samples, min_turn_ms=self.MIN_TURN_MS)


def from_turns(script: Script, turns: Iterable[tuple[int, int, str]], samples: Any, *,
               min_turn_ms: int = Pyannote.MIN_TURN_MS, centroids: bool = True) -> Diarization | None:
    """A Diarization of `script` from speaker turns (start_ms, end_ms, speaker): each line goes to the
    speaker with most time in it; where a turn starts inside the line with one speaker holding `min_turn_ms` or
    more of the line before it and another after it (the most of each side), the line is cut there (at the
    first such turn): the first part is the speaker before, the second the speaker after, whichever holds
    more of the line. Clusters are numbered by first appearance; with `centroids`, each is the resemblyzer mean
    of its lines (else empty), and each gets its median F0 and pitch class."""
    import numpy as np

    from localize.stages.script.speakers import Diarization, SpeakerChange, _unit
    from localize.stages.script.speakers.cluster import first_appearance
    from localize.stages.script.speakers.pitch import median_f0, pitch_class

    turns = sorted(turns)
    if not turns or not script.lines:
        return None
    names: dict[str, int] = {}
    raw_labels: list[int] = []
    cuts: list[tuple[int, int, int]] = []  # (line, at_ms, raw label)
    for i, line in enumerate(script.lines):
        held: dict[str, int] = {}
        for a, b, who in turns:
            held[who] = held.get(who, 0) + max(0, min(b, line.end_ms) - max(a, line.start_ms))
        first = max(held, key=lambda w: held[w])
        if held[first] == 0:  # no turn over the line: the nearest turn's speaker
            first = min(turns, key=lambda t: min(abs(t[0] - line.end_ms), abs(t[1] - line.start_ms)))[2]
        # a turn change inside the line with one speaker holding min_turn_ms or more before it and another after
        second = None
        for a, _b, _who in turns:
            if not line.start_ms + min_turn_ms <= a <= line.end_ms - min_turn_ms:
                continue
            left = max(held, key=lambda w: _held(turns, w, line.start_ms, a))
            right = max(held, key=lambda w: _held(turns, w, a, line.end_ms))
            if left != right and _held(turns, left, line.start_ms, a) >= min_turn_ms \
                    and _held(turns, right, a, line.end_ms) >= min_turn_ms:
                first, second = left, (a, right)
                break
        raw_labels.append(names.setdefault(first, len(names)))
        if second is not None:
            cuts.append((i, second[0], names.setdefault(second[1], len(names))))
    order = first_appearance([*raw_labels, *(c[2] for c in cuts)])
    renumber = dict(zip([*raw_labels, *(c[2] for c in cuts)], order, strict=True))
    labels = [renumber[x] for x in raw_labels]
    changes = tuple(SpeakerChange(line=i, at_ms=at, label=renumber[x]) for i, at, x in cuts)
    count = max(order) + 1
    spans: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    cut_at = {c.line: c for c in changes}
    for i, line in enumerate(script.lines):
        if i in cut_at:
            spans[labels[i]].append((line.start_ms, cut_at[i].at_ms))
            spans[cut_at[i].label].append((cut_at[i].at_ms, line.end_ms))
        else:
            spans[labels[i]].append((line.start_ms, line.end_ms))
    means: list[tuple[float, ...]] = []
    if centroids:
        from localize.stages.script.speakers.embed import embed_spans

        vectors = embed_spans(samples, [s for group in spans for s in group])
        offset = 0
        for group in spans:
            mine = vectors[offset:offset + len(group)]
            offset += len(group)
            means.append(tuple(float(x) for x in _unit(mine.mean(axis=0).astype(np.float64))))
    f0s = [median_f0(samples, group) for group in spans]
    return Diarization(labels=tuple(labels), centroids=tuple(means), counts=tuple(len(g) for g in spans),
                       changes=changes, f0_hz=tuple(f0s), pitch_classes=tuple(pitch_class(f) for f in f0s))


def _held(turns: list[tuple[int, int, str]], who: str, start: int, end: int) -> int:
    return sum(max(0, min(b, end) - max(a, start)) for a, b, w in turns if w == who)
