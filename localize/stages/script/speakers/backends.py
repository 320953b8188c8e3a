"""Speaker backends: who speaks each line of one episode, found by name (``SPEAKER_BACKENDS``).

A backend clusters an episode's lines by voice and returns a :class:`~localize.stages.script.speakers.Diarization`
(a cluster per line, each cluster's mean embedding and line count); the series cast then matches the
clusters to its characters. Built in: "resemblyzer" (the default). Third-party packages add theirs through the
``localize.backends`` entry point group as ``"speakers.<name>" = "module:Class"`` (:mod:`localize.core.registry`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

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


SPEAKER_BACKENDS = Registry("speakers", {"resemblyzer": "localize.stages.script.speakers.backends:Resemblyzer"})


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
