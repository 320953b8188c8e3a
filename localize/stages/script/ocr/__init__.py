"""Burned-in subtitles: find the band they sit in, read it frame by frame, merge the readings into cues.

    track = read_burned_subtitles(Path("ep01.mp4"))          # an OcrTrack (localize.core.artifacts)
    for cue in track.cues:
        print(cue.start_ms, cue.end_ms, cue.text, cue.confidence)

How it works (:mod:`localize.stages.script.ocr.scan`):

1. `probe_frames` stills of the search region (bottom 40% by default) are read whole; the
   rows where centred text recurs, and changes, are the subtitle band (:mod:`.band`).
   No such rows: the track has no cues and `band` None.
2. ffmpeg decodes just that band, in grey, every `refine_step_ms`; every `frame_step_ms`
   a sample is OCR'd, unless the band's high-contrast pixels match the last OCR'd sample,
   in which case that reading is reused.
3. Where the text changes between two samples, the frames decoded between them place the
   change to within `refine_step_ms` (:mod:`.scan`); consecutive readings of the same
   text, give or take OCR noise, become one cue (:mod:`.merge`).

Readers are found by name (:data:`READERS`); the built-in one, ``rapidocr``, needs the
``ocr`` extra.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from localize.core.errors import ConfigError
from localize.core.registry import Registry
from localize.stages.script.ocr.merge import TextBox

if TYPE_CHECKING:
    import numpy as np

    from localize.core.artifacts import OcrTrack


@dataclass(frozen=True, slots=True, kw_only=True)
class OcrOptions:
    reader: str = "rapidocr"
    language: str = "ch"  # a hint for the reader; rapidocr takes "ch"/"zh" or "en" (one model reads all)
    frame_step_ms: int = 250  # one sample is read every step (4 per second)
    refine_step_ms: int = 50  # cue boundaries are placed to within this; 0 = no refinement (within a step)
    search_region: tuple[float, float] = (0.6, 1.0)  # rows searched for the band, as shares of the height
    probe_frames: int = 12  # stills read whole to find the band
    min_confidence: float = 0.6  # text lines read with less confidence are dropped
    max_width: int = 960  # wider pictures are scaled down to this before reading
    change_threshold: float = 0.25  # band pictures closer than this reuse the last reading
    max_distance: float = 0.3  # readings this close (normalised edit distance) are the same cue
    flicker_confidence: float = 0.85  # a cue seen in one sample only must be read with this confidence
    threads: int = 0  # inference threads; 0 = the runtime's default (all cores)

    def __post_init__(self) -> None:
        if self.frame_step_ms <= 0:
            raise ConfigError(f"OCR frame_step_ms must be positive, not {self.frame_step_ms}.")
        if self.refine_step_ms < 0 or (self.refine_step_ms and self.frame_step_ms % self.refine_step_ms):
            raise ConfigError(
                f"OCR refine_step_ms ({self.refine_step_ms}) must be 0 or divide frame_step_ms ({self.frame_step_ms})."
            )
        top, bottom = self.search_region
        if not 0.0 <= top < bottom <= 1.0:
            raise ConfigError(f"OCR search_region {self.search_region} must be two shares of the height, top < bottom.")
        if self.probe_frames < 2:
            raise ConfigError(f"OCR probe_frames must be at least 2, not {self.probe_frames}.")
        if self.max_width < 64:
            raise ConfigError(f"OCR max_width must be at least 64 pixels, not {self.max_width}.")

    def cache_options(self) -> dict[str, object]:
        return {
            "reader": self.reader, "language": self.language, "frame_step_ms": self.frame_step_ms,
            "refine_step_ms": self.refine_step_ms, "search_region": list(self.search_region),
            "probe_frames": self.probe_frames, "min_confidence": self.min_confidence,
            "max_width": self.max_width, "change_threshold": self.change_threshold,
            "max_distance": self.max_distance, "flicker_confidence": self.flicker_confidence,
        }

    def progress_total(self, duration_ms: int) -> int:
        """How many units `read_burned_subtitles` advances progress by: probes plus samples."""
        return self.probe_frames + max(1, math.ceil(duration_ms / self.frame_step_ms))


class Reader(Protocol):
    """An OCR model. Built as ``cls(language=..., threads=...)``; raises a LocalizeError if it cannot run."""

    name: str

    def model_version(self) -> str:  # also callable on the class (cache keys, before loading)
        ...

    def read(self, images: Sequence[np.ndarray]) -> list[tuple[TextBox, ...]]:
        """The text lines in each image (2-D grey or BGR uint8), in that image's pixels."""
        ...

    def release(self) -> None: ...


READERS = Registry("ocr", {"rapidocr": "localize.stages.script.ocr.rapidocr_backend:RapidOcrReader"})


def read_burned_subtitles(
    video: Path,
    options: OcrOptions = OcrOptions(),
    progress_advance: Callable[[int], None] = lambda n: None,
) -> OcrTrack:
    """Read the subtitles burned into `video`'s picture into timed cues.

    A video without burned-in subtitles gives a track with no cues and `band` None.
    `progress_advance` is called with units that add up to ``options.progress_total(duration_ms)``.
    Raises InputError/MediaError for a missing file or one with no picture, and
    MissingExtraError when the reader's extra is not installed.
    """
    from localize.stages.script.ocr.scan import scan_video

    track, _ = scan_video(Path(video), options, progress_advance)
    return track


__all__ = ["READERS", "OcrOptions", "Reader", "TextBox", "read_burned_subtitles"]
