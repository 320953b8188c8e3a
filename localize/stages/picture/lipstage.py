"""The lip-alignment stage of a market: faces of the episode (shared), then its dub aligned to them.

``faces`` (one per episode and mouth method): shots, face tracks and mouth activity of the source,
cached on its sha256. ``lipalign`` (one per market): a copy of the market's dub with clips moved
toward the speaking faces' mouths (:mod:`localize.stages.picture.lipalign`), cached on the dub, faces and
script keys. The mix then reads the aligned dub instead of the dubbing stage's. With
``picture.lip_sync`` a generative lip-sync frame processor (:mod:`localize.stages.picture.lipsync`) joins
the market's picture stage, listening to the dub's voice alone (``lipvoice``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from localize.core import jsonio
from localize.core.artifacts import DubTrack, Script
from localize.core.cache import ArtifactStore
from localize.core.errors import ConfigError
from localize.core.progress import NullProgress, Progress
from localize.core.stage import Built, Stage
from localize.stages.picture.faces import FaceTracks, track_faces
from localize.stages.picture.lipalign import LipAlignment, align_track
from localize.stages.picture.mouth import (
    METHODS,
    MouthActivity,
    mouth_activity,
    speaking_faces,
)
from localize.stages.picture.shots import Shots, detect_shots

if TYPE_CHECKING:
    from localize.core.markets import Market
    from localize.stages.audio.stage import Source
    from localize.stages.picture.lipsync import LipSyncProcessor

log = logging.getLogger(__name__)

# Bump when shot detection (shots.py), face tracking (faces.py) or mouth activity (mouth.py) changes
# what a faces artifact holds (v2: mouth.json carries the speech envelope the speaking-face link reads).
FACES = Stage("faces", version=2)
# Bump when lip alignment (lipalign.py) or the speaking-face link (mouth.speaking_faces) changes the dub
# it writes (v2: the per-line link; v3: a line moves only on a clear mouth opening near its start; v4: two or
# more faces are told apart by synchrony over lags, and a face with no clear opening aligns on the speech onset;
# v5: the source's sound rise after the opening, a later syllable's opening refused after a tight start, the
# sound's rise after a pause where no opening).
LIPALIGN = Stage("lipalign", version=5)
# Bump when the dub's voice track below changes.
LIP_VOICE = Stage("lipvoice", version=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeFaces:
    """The faces artifact: the source's face tracks per shot and their mouth activity."""

    tracks: FaceTracks
    activity: MouthActivity


def episode_faces(source: Source, store: ArtifactStore, *, method: str = "haar",
                  progress: Progress | None = None) -> Built[EpisodeFaces]:
    """The source's face tracks per shot and their mouth activity (cached per source and method)."""
    if method not in METHODS:
        raise ConfigError(f"picture.lip_mouth must be one of {', '.join(METHODS)}, not {method!r}.")
    progress = progress or NullProgress()
    key = FACES.key(inputs=[source.sha256], backend=method)

    def build(tmp: Path) -> None:
        task = progress.task("faces and mouths", None)
        shots = detect_shots(source.path, source.info.duration_ms)
        tracks = track_faces(source.path, shots)
        activity = mouth_activity(source.path, tracks, method=method)
        jsonio.save(shots, tmp / "shots.json")
        jsonio.save(tracks, tmp / "faces.json")
        jsonio.save(activity, tmp / "mouth.json")
        task.done()

    def load(path: Path) -> EpisodeFaces:
        jsonio.load(Shots, path / "shots.json")
        return EpisodeFaces(tracks=jsonio.load(FaceTracks, path / "faces.json"),
                            activity=jsonio.load(MouthActivity, path / "mouth.json"))

    return FACES.built(store, key, build, load)


def lip_align_market(market: Market, source: Source, script_key: str, script: Script,
                     dub: Built[DubTrack], store: ArtifactStore,
                     progress: Progress | None = None) -> Built[DubTrack]:
    """The market's dub aligned to the speaking faces' mouths (its clips and ``dub.json``)."""
    progress = progress or NullProgress()
    faces = episode_faces(source, store, method=market.picture.lip_mouth, progress=progress)
    key = LIPALIGN.key(inputs=[dub.key, faces.key, script_key])

    def build(tmp: Path) -> None:
        task = progress.task(f"{market.tag} lip align", None)
        speaking = speaking_faces(script.lines, faces.value.tracks, faces.value.activity)
        aligned, report = align_track(dub.value, dub.path, script.lines, speaking, faces.value.activity, tmp,
                                      duration_ms=script.duration_ms)
        jsonio.save(aligned, tmp / "dub.json")
        jsonio.save(report, tmp / "lipalign.json")
        task.done()

    built = LIPALIGN.built(store, key, build, lambda p: jsonio.load(DubTrack, p / "dub.json"))
    moved = [ln for ln in built.value.lines if ln.lip_face]
    if moved:
        log.info("%s: %d line(s) lip-aligned, mean |offset| %d -> %d ms", market.tag, len(moved),
                 sum(abs(ln.lip_offset_before_ms) for ln in moved) // len(moved),
                 sum(abs(ln.lip_offset_after_ms) for ln in moved) // len(moved))
    return built


def load_alignment(path: Path) -> LipAlignment:
    return jsonio.load(LipAlignment, path / "lipalign.json")


def dub_voice(dub: Built[DubTrack], store: ArtifactStore, duration_ms: int) -> Built[Path]:
    """The WAV of the dub's voice alone (16 kHz mono, clips at their places): what lip-sync listens to."""
    import numpy as np
    import soundfile as sf

    from localize.stages.picture.lipsync import SAMPLE_RATE

    track, dub_dir = dub.value, dub.path
    key = LIP_VOICE.key(inputs=[dub.key], options={"rate": SAMPLE_RATE, "duration_ms": duration_ms})

    def build(tmp: Path) -> None:
        voice = np.zeros(int(duration_ms * SAMPLE_RATE / 1000) + 1, dtype=np.float32)
        for line in track.lines:
            clip, rate = sf.read(dub_dir / line.clip, dtype="float32", always_2d=True)
            mono = clip.mean(axis=1)
            n = int(len(mono) * SAMPLE_RATE / rate)
            mono = np.interp(np.linspace(0, len(mono) - 1, n), np.arange(len(mono)), mono).astype(np.float32)
            a = int(line.dub_start_ms * SAMPLE_RATE / 1000)
            b = min(a + n, len(voice))
            if b > a:
                voice[a:b] += mono[: b - a]
        sf.write(tmp / "voice.wav", voice, SAMPLE_RATE, subtype="PCM_16")

    return LIP_VOICE.built(store, key, build, lambda p: p / "voice.wav")


def lip_sync_processor(market: Market, source: Source, script: Script, dub: Built[DubTrack],
                       store: ArtifactStore, progress: Progress | None = None) -> LipSyncProcessor:
    """The market's generative lip-sync frame processor (`picture.lip_sync`, a name in
    :data:`localize.stages.picture.lipsync.LIP_SYNCERS`), on the talking faces only."""
    from localize.stages.picture.lipsync import (
        LipSyncProcessor,
        lip_sync_backend,
        talking_spans,
    )

    # An unknown name (UnknownNameError), or a backend without its model (wav2lip-onnx: a ModelError
    # naming LOCALIZE_WAV2LIP_MODEL), fails before the faces are read.
    backend = lip_sync_backend(market.picture.lip_sync)()
    faces = episode_faces(source, store, method=market.picture.lip_mouth, progress=progress).value
    spans = talking_spans(dub.value.lines, speaking_faces(script.lines, faces.tracks, faces.activity))
    voice = dub_voice(dub, store, script.duration_ms)
    log.info("%s: lip-sync on %d talking span(s)", market.tag, len(spans))
    return LipSyncProcessor(backend, faces.tracks, spans, voice.value, voice.key)
