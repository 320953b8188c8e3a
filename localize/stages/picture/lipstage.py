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
from pathlib import Path
from typing import TYPE_CHECKING

from localize.core import jsonio
from localize.core.artifacts import DubTrack, Script
from localize.core.cache import ArtifactStore, stage_key
from localize.core.stage import Built
from localize.core.errors import ConfigError
from localize.core.progress import NullProgress, Progress
from localize.stages.picture.faces import FACES_VERSION, FaceTracks, track_faces
from localize.stages.picture.lipalign import LIPALIGN_VERSION, LipAlignment, align_track
from localize.stages.picture.mouth import METHODS, MOUTH_VERSION, MouthActivity, mouth_activity, speaking_faces
from localize.stages.picture.shots import SHOTS_VERSION, Shots, detect_shots

if TYPE_CHECKING:
    from localize.core.markets import Market
    from localize.stages.audio.stage import Source
    from localize.stages.picture.lipsync import LipSyncProcessor

log = logging.getLogger(__name__)


def episode_faces(source: Source, store: ArtifactStore, *, method: str = "haar",
                  progress: Progress | None = None) -> tuple[str, FaceTracks, MouthActivity]:
    """The source's face tracks per shot and their mouth activity (cached per source and method)."""
    if method not in METHODS:
        raise ConfigError(f"picture.lip_mouth must be one of {', '.join(METHODS)}, not {method!r}.")
    progress = progress or NullProgress()
    key = stage_key("faces", inputs=[source.sha256], backend=method,
                    options={"shots": SHOTS_VERSION, "faces": FACES_VERSION, "mouth": MOUTH_VERSION})

    def build(tmp: Path) -> None:
        task = progress.task("faces and mouths", None)
        shots = detect_shots(source.path, source.info.duration_ms)
        tracks = track_faces(source.path, shots)
        activity = mouth_activity(source.path, tracks, method=method)
        jsonio.save(shots, tmp / "shots.json")
        jsonio.save(tracks, tmp / "faces.json")
        jsonio.save(activity, tmp / "mouth.json")
        task.done()

    def load(path: Path) -> tuple[FaceTracks, MouthActivity]:
        jsonio.load(Shots, path / "shots.json")
        return jsonio.load(FaceTracks, path / "faces.json"), jsonio.load(MouthActivity, path / "mouth.json")

    tracks, activity = store.cached("faces", key, build, load)
    return key, tracks, activity


def lip_align_market(market: Market, source: Source, script_key: str, script: Script,
                     dub: Built[DubTrack], store: ArtifactStore,
                     progress: Progress | None = None) -> Built[DubTrack]:
    """The market's dub aligned to the speaking faces' mouths (its clips and ``dub.json``)."""
    progress = progress or NullProgress()
    method = market.picture.lip_mouth
    faces_key, tracks, activity = episode_faces(source, store, method=method, progress=progress)
    dub_key, track, dub_dir = dub.key, dub.value, dub.path
    key = stage_key("lipalign", inputs=[dub_key, faces_key, script_key], options={"version": LIPALIGN_VERSION})

    def build(tmp: Path) -> None:
        task = progress.task(f"{market.tag} lip align", None)
        faces = speaking_faces(script.lines, tracks, activity)
        aligned, report = align_track(track, dub_dir, script.lines, faces, activity, tmp,
                                      duration_ms=script.duration_ms)
        jsonio.save(aligned, tmp / "dub.json")
        jsonio.save(report, tmp / "lipalign.json")
        task.done()

    path = store.cached("lipalign", key, build, lambda p: p)
    aligned = jsonio.load(DubTrack, path / "dub.json")
    moved = [ln for ln in aligned.lines if ln.lip_face]
    if moved:
        log.info("%s: %d line(s) lip-aligned, mean |offset| %d -> %d ms", market.tag, len(moved),
                 sum(abs(ln.lip_offset_before_ms) for ln in moved) // len(moved),
                 sum(abs(ln.lip_offset_after_ms) for ln in moved) // len(moved))
    return Built(key=key, value=aligned, path=path)


def load_alignment(path: Path) -> LipAlignment:
    return jsonio.load(LipAlignment, path / "lipalign.json")


LIP_SYNC_BACKENDS = ("wav2lip-onnx",)


def dub_voice(dub: Built[DubTrack], store: ArtifactStore, duration_ms: int) -> tuple[str, Path]:
    """(key, WAV) of the dub's voice alone (16 kHz mono, clips at their places): what lip-sync listens to."""
    import numpy as np
    import soundfile as sf

    from localize.stages.picture.lipsync import SAMPLE_RATE

    dub_key, track, dub_dir = dub.key, dub.value, dub.path
    key = stage_key("lipvoice", inputs=[dub_key], options={"rate": SAMPLE_RATE, "duration_ms": duration_ms})

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

    return key, store.cached("lipvoice", key, build, lambda p: p / "voice.wav")


def lip_sync_processor(market: Market, source: Source, script: Script, dub: Built[DubTrack],
                       store: ArtifactStore, progress: Progress | None = None) -> LipSyncProcessor:
    """The market's generative lip-sync frame processor (`picture.lip_sync`), on the talking faces only."""
    from localize.core.errors import UnknownNameError
    from localize.stages.picture.lipsync import LipSyncProcessor, Wav2LipOnnx, talking_spans

    name = market.picture.lip_sync
    if name not in LIP_SYNC_BACKENDS:
        raise UnknownNameError("lip-sync backend", name, LIP_SYNC_BACKENDS, "set picture.lip_sync in the market")
    backend = Wav2LipOnnx()  # a ModelError naming LOCALIZE_WAV2LIP_MODEL before any work when it is absent
    _, tracks, activity = episode_faces(source, store, method=market.picture.lip_mouth, progress=progress)
    spans = talking_spans(dub.value.lines, speaking_faces(script.lines, tracks, activity))
    voice_key, voice = dub_voice(dub, store, script.duration_ms)
    log.info("%s: lip-sync on %d talking span(s)", market.tag, len(spans))
    return LipSyncProcessor(backend, tracks, spans, voice, voice_key)
