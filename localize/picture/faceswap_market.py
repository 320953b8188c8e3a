"""A market's face swap around the picture stage: consent first, then the AI label, then the record.

The pipeline uses three calls, in this order::

    swap = face_swap_processor(market, options)  # consent checked here: ConfigError before any work
    market = labelled(market)                    # a face-swapped render always shows its AI label
    ...                                          # the picture stage runs `swap` after subtitle removal
    notes = publish_face_swap(swap, source=source.path, picture=picture, directory=market_dir, store=store)
    report = replace(report, face_swap=notes)    # report.json/html name the consent and the measures

``publish_face_swap`` copies each consent record to ``<market_dir>/consent/<character>.toml``,
measures identity on sampled frames (localize/picture/identity.py, cached on the picture) and
writes ``<market_dir>/face_swap_strip.png`` (original | swapped) for a person to look at.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from .. import jsonio
from ..artifacts import FaceSwapNote
from ..cache import stage_key
from .consent import copy_beside
from .faceswap import FaceSwapProcessor

if TYPE_CHECKING:
    from ..cache import ArtifactStore
    from ..markets import Market
    from ..options import RunOptions

log = logging.getLogger(__name__)

FACE_SWAP_LABEL = "AI face swap"
IDENTITY_VERSION = 1
IDENTITY_SAMPLES = 8
STRIP = "face_swap_strip.png"


def series_of(options: RunOptions) -> str:
    """The series a consent record's scope is checked against: --series, else the cast file's folder."""
    if options.series:
        return options.series
    return Path(options.cast_file).parent.name if options.cast_file is not None else ""


def face_swap_processor(market: Market, options: RunOptions) -> FaceSwapProcessor | None:
    """The market's face swap processor, consent checked; None when the market swaps no face."""
    if not market.picture.face_swap:
        return None
    return FaceSwapProcessor(market.picture.face_swap, series=series_of(options), market=market.tag)


def labelled(market: Market) -> Market:
    """The market with a visible AI label that names the face swap (the render's metadata carries the text)."""
    if not market.picture.face_swap:
        return market
    label = market.ai_label
    text = label.text if FACE_SWAP_LABEL in label.text else f"{label.text} · {FACE_SWAP_LABEL}"
    return msgspec.structs.replace(market, ai_label=msgspec.structs.replace(label, text=text, visible=True))


def publish_face_swap(swap: FaceSwapProcessor, *, source: Path, picture: tuple[str, Path], directory: Path,
                      store: ArtifactStore) -> tuple[FaceSwapNote, ...]:
    """Copy the consent records beside the outputs, measure identity, write the frame strip; the report's notes."""
    from .identity import SwapIdentity, measure_swap

    directory.mkdir(parents=True, exist_ok=True)
    consent = swap.consents[0]
    key = stage_key("faceswap-identity", inputs=[picture[0], consent.face_sha256],
                    options={"version": IDENTITY_VERSION, "samples": IDENTITY_SAMPLES})

    def build(tmp: Path) -> None:
        m = measure_swap(source, picture[1], Path(consent.face), samples=IDENTITY_SAMPLES, strip=tmp / STRIP)
        jsonio.save(m, tmp / "identity.json")

    identity, folder = store.cached("faceswap-identity", key, build,
                                    lambda p: (jsonio.load(SwapIdentity, p / "identity.json"), p))
    strip = ""
    if (folder / STRIP).is_file():
        shutil.copyfile(folder / STRIP, directory / STRIP)
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


__all__ = ["FACE_SWAP_LABEL", "face_swap_processor", "labelled", "publish_face_swap", "series_of"]
