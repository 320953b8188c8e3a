"""A market's face swap around the picture stage: consent first, then the AI label, then the record.

The pipeline's calls, in order::

    face_swap_processor(market, options)         # consent checked: ConfigError before any work
    market = labelled(market)                    # a face-swapped render always shows its AI label
    swap = face_swap_processor(market, options, source=source, store=store, script=script)
    ...                                          # the picture stage runs `swap` after subtitle removal
    notes = publish_face_swap(swap, source=source.path, picture=picture, directory=market_dir, store=store)
    report = replace(report, face_swap=notes)    # report.json/html name the consent and the measures

With the source, store and script, the swapped face is the character's own face track (linked to
the character's lines by mouth activity, localize/stages/picture/mouth.py).

``publish_face_swap`` copies each consent record to ``<market_dir>/consent/<character>.toml``,
measures identity on sampled frames (localize/stages/picture/identity.py, cached on the picture) and
writes ``<market_dir>/face_swap_strip.png`` (original | swapped) for a person to look at.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from localize.core import jsonio
from localize.core.artifacts import FaceSwapNote
from localize.core.stage import Built, Stage
from localize.stages.picture.consent import copy_beside
from localize.stages.picture.faceswap import CharacterBoxes, FaceSwapProcessor

if TYPE_CHECKING:
    from localize.core.artifacts import Script
    from localize.core.cache import ArtifactStore
    from localize.core.markets import Market
    from localize.core.options import RunOptions
    from localize.core.progress import Progress
    from localize.stages.audio.stage import Source
    from localize.stages.picture.faces import FaceTracks

log = logging.getLogger(__name__)

FACE_SWAP_LABEL = "AI face swap"
# Bump when the identity measure (identity.py) or its strip changes.
IDENTITY = Stage("faceswap-identity", version=1)
# Which face track is the character's (a key only, no artifact): bump when character_boxes changes.
CHARACTER_FACE = Stage("faceswap-face", version=1)
IDENTITY_SAMPLES = 8
STRIP = "face_swap_strip.png"


def series_of(options: RunOptions) -> str:
    """The series a consent record's scope is checked against: --series, else the cast file's folder."""
    if options.series:
        return options.series
    return Path(options.cast_file).parent.name if options.cast_file is not None else ""


def face_swap_processor(market: Market, options: RunOptions, *, source: Source | None = None,
                        store: ArtifactStore | None = None, script: Script | None = None,
                        progress: Progress | None = None) -> FaceSwapProcessor | None:
    """The market's face swap processor, consent checked; None when the market swaps no face.

    With `source`, `store` and `script`, the swapped face is the character's own: the face track
    linked to the character's lines (the cached faces stage that lip alignment shares); without
    them, or when the character has no linked track, the largest face in each frame."""
    if not market.picture.face_swap:
        return None
    swaps, series = market.picture.face_swap, series_of(options)
    plain = FaceSwapProcessor(swaps, series=series, market=market.tag)  # refused here without consent
    if source is None or store is None or script is None:
        return plain
    from localize.stages.picture.lipstage import episode_faces
    from localize.stages.picture.mouth import link_speakers

    character = plain.consents[0].character
    faces = episode_faces(source, store, method=market.picture.lip_mouth, progress=progress)
    tracks = faces.value.tracks
    links = {slot: track for slot, track in link_speakers(script.lines, tracks, faces.value.activity).items()
             if slot.rsplit("@", 1)[0] == character}
    if not links:
        log.warning("%s: no face track speaks %s's lines; swapping the largest face in each frame",
                    market.tag, character)
        return plain
    log.info("%s: %s's face is track(s) %s", market.tag, character, ", ".join(sorted(set(links.values()))))
    return FaceSwapProcessor(swaps, series=series, market=market.tag,
                             character_boxes=character_boxes(tracks, links, character),
                             boxes_key=CHARACTER_FACE.key(inputs=[faces.key], options=links))


def character_boxes(tracks: FaceTracks, links: dict[str, str], character: str) -> CharacterBoxes:
    """t_ms -> the box of the character's linked face track at that time, or None (``links``: speaker@shot -> id)."""

    def at(t_ms: int) -> tuple[int, int, int, int] | None:
        for track, box in tracks.at(t_ms):
            if links.get(f"{character}@{track.shot}") == track.id:
                return box
        return None

    return at


def labelled(market: Market) -> Market:
    """The market with a visible AI label that names the face swap (the render's metadata carries the text)."""
    if not market.picture.face_swap:
        return market
    label = market.ai_label
    text = label.text if FACE_SWAP_LABEL in label.text else f"{label.text} · {FACE_SWAP_LABEL}"
    return msgspec.structs.replace(market, ai_label=msgspec.structs.replace(label, text=text, visible=True))


def publish_face_swap(swap: FaceSwapProcessor, *, source: Path, picture: Built[Path], directory: Path,
                      store: ArtifactStore) -> tuple[FaceSwapNote, ...]:
    """Copy the consent records beside the outputs, measure identity, write the frame strip; the report's notes."""
    from localize.stages.picture.identity import SwapIdentity, measure_swap

    directory.mkdir(parents=True, exist_ok=True)
    consent = swap.consents[0]
    key = IDENTITY.key(inputs=[picture.key, consent.face_sha256], options={"samples": IDENTITY_SAMPLES})

    def build(tmp: Path) -> None:
        m = measure_swap(source, picture.value, Path(consent.face), samples=IDENTITY_SAMPLES, strip=tmp / STRIP)
        jsonio.save(m, tmp / "identity.json")

    measured = IDENTITY.built(store, key, build, lambda p: jsonio.load(SwapIdentity, p / "identity.json"))
    identity = measured.value
    strip = ""
    if (measured.path / STRIP).is_file():
        shutil.copyfile(measured.path / STRIP, directory / STRIP)
        strip = STRIP
    notes = []
    for c in swap.consents:
        copied = copy_beside(c, directory / "consent")
        notes.append(FaceSwapNote(
            character=c.character, subject=c.subject, granted_by=c.granted_by, granted=c.granted,
            purpose=c.purpose, consent=str(Path(copied.copied_to).relative_to(directory)),
            consent_sha256=c.record_sha256, face_sha256=c.face_sha256, backend=swap.backend,
            target_distance_before=identity.target_distance_before,
            target_distance_after=identity.target_distance_after,
            original_distance_after=identity.original_distance_after, measured_frames=len(identity.frames),
            strip=strip))
    return tuple(notes)


__all__ = ["FACE_SWAP_LABEL", "character_boxes", "face_swap_processor", "labelled", "publish_face_swap", "series_of"]
