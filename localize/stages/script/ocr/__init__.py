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

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from localize.core.options import OcrOptions
from localize.core.registry import Registry
from localize.stages.script.ocr.merge import TextBox

if TYPE_CHECKING:
    import numpy as np

    from localize.core.artifacts import OcrTrack


# OcrOptions lives in localize.core.options (imported above).
_DEFAULT_OPTIONS = OcrOptions()  # frozen: one shared default is safe


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
    options: OcrOptions = _DEFAULT_OPTIONS,
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
