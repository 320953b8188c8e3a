"""The lip-alignment stage of a market: faces of the episode (shared), then its dub aligned to them.

``faces`` (one per episode and mouth method): shots, face tracks and mouth activity of the source,
cached on its sha256. ``lipalign`` (one per market): a copy of the market's dub with clips moved
toward the speaking faces' mouths (:mod:`localize.picture.lipalign`), cached on the dub, faces and
script keys. The mix then reads the aligned dub instead of the dubbing stage's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .. import jsonio
from ..artifacts import DubTrack, Script
from ..cache import ArtifactStore, stage_key
from ..errors import ConfigError
from ..progress import NullProgress, Progress
from .faces import FACES_VERSION, FaceTracks, track_faces
from .lipalign import LIPALIGN_VERSION, LipAlignment, align_track
from .mouth import METHODS, MOUTH_VERSION, MouthActivity, mouth_activity, speaking_faces
from .shots import SHOTS_VERSION, Shots, detect_shots

if TYPE_CHECKING:
    from ..markets import Market
    from ..understand import Source

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
                     dub: tuple[str, DubTrack, Path], store: ArtifactStore,
                     progress: Progress | None = None) -> tuple[str, DubTrack, Path]:
    """(key, track, directory) of the market's dub aligned to the speaking faces' mouths."""
    progress = progress or NullProgress()
    method = market.picture.lip_mouth
    faces_key, tracks, activity = episode_faces(source, store, method=method, progress=progress)
    dub_key, track, dub_dir = dub
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
    return key, aligned, path


def load_alignment(path: Path) -> LipAlignment:
    return jsonio.load(LipAlignment, path / "lipalign.json")
