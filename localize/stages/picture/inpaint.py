"""Paint out the source's burned-in subtitles, so a market's own subtitles are not drawn over them.

The boxes and time spans come from the OCR track (:mod:`localize.stages.script.ocr`). Inside each cue's box,
on each frame of its span (widened by `pad_ms`, OCR places boundaries to within a sample), the
text's pixels are masked: bright, unsaturated strokes (subtitles are drawn white or pale yellow
with a dark outline), dilated to cover the outline and the anti-aliasing around it. An
:class:`Inpainter` then fills the mask from the pixels around it: OpenCV's Telea fast marching
method by default (``"telea"``), Navier-Stokes as ``method="ns"``; others come from the
``localize.backends`` entry-point group as ``"inpaint.<name>" = "module:Class"`` (:data:`INPAINTERS`).
Only the box (plus a margin) is touched. The mask and the fill are worked out at ``scale`` of the picture's
resolution (half by default: a quarter of the pixels and a smaller neighbourhood; the picture stage of a
1080x1920 episode went from 233 s to 76 s, and the fill of a subtitle's strokes is smooth at any
resolution); only the masked pixels take the upscaled fill, every other pixel stays as it was.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from localize.core.errors import ConfigError, MissingExtraError
from localize.core.registry import Registry
from localize.core.stage import Stage

if TYPE_CHECKING:
    import numpy as np

    from localize.core.artifacts import OcrCue, OcrTrack

# Bump when the mask (text_mask, remove_text) changes what a removal paints out.
SUBTITLE_REMOVAL = Stage("remove-subtitles", version=2)


class Inpainter(Protocol):
    """Fills the masked pixels of a picture from the pixels around them. Made by name with no
    arguments (:data:`INPAINTERS`), so making one is cheap: a model loads on the first :meth:`inpaint`."""

    name: str

    def model_version(self) -> str:
        """What identifies its output in a cache key (a model's hash; "" for a fixed algorithm)."""
        ...

    def inpaint(self, image: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
        """`image` (BGR uint8) with the pixels where `mask` (uint8, same height and width) is non-zero
        filled in, reading about `radius` pixels around them; the same shape."""
        ...


class TeleaInpainter:
    """OpenCV's fast marching method (Telea 2004): ``cv2.inpaint`` with ``INPAINT_TELEA``."""

    name = "telea"
    _flag = "INPAINT_TELEA"

    def model_version(self) -> str:
        return ""

    def inpaint(self, image: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
        import cv2

        return cv2.inpaint(image, mask, radius, getattr(cv2, self._flag))


class NavierStokesInpainter(TeleaInpainter):
    """OpenCV's Navier-Stokes based inpainting: ``cv2.inpaint`` with ``INPAINT_NS``."""

    name = "ns"
    _flag = "INPAINT_NS"


INPAINTERS = Registry("inpaint", {
    "telea": "localize.stages.picture.inpaint:TeleaInpainter",
    "ns": "localize.stages.picture.inpaint:NavierStokesInpainter",
})


@dataclass(frozen=True, slots=True, kw_only=True)
class RemovalOptions:
    method: str = "telea"  # the Inpainter's name in INPAINTERS: "telea" (cv2.INPAINT_TELEA), "ns" (cv2.INPAINT_NS)...
    radius: int = 5  # inpainting neighbourhood, in pixels
    pad_ms: int = 120  # each cue's span is widened by this on both sides
    box_margin: float = 0.25  # the box grows by this share of its height on every side
    brightness: int = 170  # text pixels: grey level at or above this ...
    max_saturation: int = 90  # ... and HSV saturation at or below this
    dilate: float = 0.12  # the text mask grows by this share of the box height (the outline)
    scale: float = 0.5  # mask and fill are worked out at this share of the resolution (1: full)

    def __post_init__(self) -> None:
        INPAINTERS.load(self.method)  # an unknown name: UnknownNameError listing the known ones
        if self.radius < 1 or self.pad_ms < 0 or self.box_margin < 0 or self.dilate < 0:
            raise ConfigError("subtitle removal radius must be 1 or more, and pad_ms, box_margin and dilate 0 or more.")
        if not 0 < self.scale <= 1:
            raise ConfigError(f"subtitle removal scale must be above 0 and at most 1, not {self.scale}.")


@dataclass(slots=True)
class SubtitleRemover:
    """A frame processor (:class:`localize.stages.picture.frames.FrameProcessor`) that inpaints OCR'd text."""

    track: OcrTrack
    track_key: str  # the OCR artifact's cache key: the boxes this removes
    options: RemovalOptions = field(default_factory=RemovalOptions)
    name: str = "remove-subtitles"
    origin: tuple[int, int] = (0, 0)  # where the frames it is handed sit in the picture (a crop's corner)
    _starts: list[int] = field(default_factory=list, init=False)
    _cues: list[OcrCue] = field(default_factory=list, init=False)
    _longest: int = field(default=0, init=False)
    _inpainter: Inpainter | None = field(default=None, init=False)

    def cache_options(self) -> dict:
        from dataclasses import asdict

        inpainter = INPAINTERS.create(self.options.method)
        return {"key": SUBTITLE_REMOVAL.key(inputs=[self.track_key], backend=self.options.method,
                                            model_version=inpainter.model_version(), options=asdict(self.options))}

    def prepare(self) -> None:
        try:
            import cv2  # noqa: F401
        except ImportError:
            raise MissingExtraError("remove-subtitles", "picture", "opencv-python") from None
        self._cues = sorted(self.track.cues, key=lambda c: c.start_ms)
        self._starts = [c.start_ms for c in self._cues]
        self._longest = max((c.end_ms - c.start_ms for c in self._cues), default=0)
        self._inpainter = INPAINTERS.create(self.options.method)

    def release(self) -> None:
        self._cues, self._starts = [], []
        self._inpainter = None

    def active(self, t_ms: int) -> list[OcrCue]:
        """The cues on screen at `t_ms`, spans widened by pad_ms."""
        pad = self.options.pad_ms
        hi = bisect.bisect_right(self._starts, t_ms + pad)
        lo = bisect.bisect_left(self._starts, t_ms - pad - self._longest)
        return [c for c in self._cues[lo:hi] if c.start_ms - pad <= t_ms < c.end_ms + pad]

    def process(self, frame: np.ndarray, index: int, t_ms: int) -> np.ndarray:
        ox, oy = self.origin
        for cue in self.active(t_ms):
            x, y, w, h = cue.box
            remove_text(frame, (x - ox, y - oy, w, h), self.options, self._inpainter)
        return frame

    def region(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The part of a `width` x `height` frame this reads and changes, as (x, y, w, h) on even pixels (the
        union of every cue's box with its margin and the inpainting's reach); None when it changes nothing."""
        reads = [b[1] for c in self.track.cues if (b := _bounds(c.box, width, height, self.options)) is not None]
        if not reads:
            return None
        x0, y0 = min(r[0] for r in reads) // 2 * 2, min(r[1] for r in reads) // 2 * 2
        x1, y1 = max(r[2] for r in reads), max(r[3] for r in reads)
        x1, y1 = min(width - width % 2, x1 + x1 % 2), min(height - height % 2, y1 + y1 % 2)
        return x0, y0, x1 - x0, y1 - y0

    def cropped(self, x: int, y: int) -> SubtitleRemover:
        """This remover for frames cropped at (x, y) of the picture (the OCR boxes are in its pixels)."""
        return replace(self, origin=(x, y))


def text_mask(roi: np.ndarray, box_height: int, options: RemovalOptions, scale: float = 1.0) -> np.ndarray:
    """255 where `roi` (BGR) shows subtitle text or its outline, else 0; at `scale` of the roi's size (the
    strokes are found at full resolution, where they are sharp, then the mask shrinks and grows)."""
    import cv2
    import numpy as np

    grey = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY)
    saturation = cv2.cvtColor(roi, cv2.COLOR_BGR2HSV)[:, :, 1]
    strokes = ((grey >= options.brightness) & (saturation <= options.max_saturation)).astype(np.uint8) * 255
    if scale != 1:  # a small pixel is text when any of the pixels it covers is
        small = cv2.resize(strokes, (round(roi.shape[1] * scale), round(roi.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
        strokes = (small > 0).astype(np.uint8) * 255
    grow = max(1, round(box_height * scale * options.dilate))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    return cv2.dilate(strokes, kernel)


Rect = tuple[int, int, int, int]  # a box (x, y, w, h), or its corners (x0, y0, x1, y1)


def _bounds(box: Rect, width: int, height: int, options: RemovalOptions) -> tuple[Rect, Rect] | None:
    """The grown box (where text is masked) and the region read around it (`radius` more pixels: inpainting
    reads that far), inside a `width` x `height` frame; None when the box is outside it."""
    x, y, w, h = box
    grow = round(h * options.box_margin)
    x0, y0 = max(0, x - grow), max(0, y - grow)
    x1, y1 = min(width, x + w + grow), min(height, y + h + grow)
    if x1 <= x0 or y1 <= y0:
        return None
    r = options.radius
    return (x0, y0, x1, y1), (max(0, x0 - r), max(0, y0 - r), min(width, x1 + r), min(height, y1 + r))


def remove_text(frame: np.ndarray, box: tuple[int, int, int, int], options: RemovalOptions,
                inpainter: Inpainter | None = None) -> None:
    """Inpaint the text inside `box` (x, y, w, h in frame pixels) of `frame`, in place, with `inpainter`
    (default: the one `options.method` names), at ``options.scale`` of the resolution."""
    import cv2
    import numpy as np

    height, width = frame.shape[:2]
    bounds = _bounds(box, width, height, options)
    if bounds is None:
        return
    (x0, y0, x1, y1), (cx0, cy0, cx1, cy1) = bounds
    h, r = box[3], options.radius
    roi = frame[cy0:cy1, cx0:cx1]
    inside = np.zeros(roi.shape[:2], np.uint8)  # the grown box, where the mask may be
    inside[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0] = 255
    scale = options.scale
    mask = text_mask(roi, h, options, scale)
    size = (mask.shape[1], mask.shape[0])
    small = roi if scale == 1 else cv2.resize(roi, size, interpolation=cv2.INTER_AREA)
    mask &= inside if scale == 1 else cv2.resize(inside, size, interpolation=cv2.INTER_NEAREST)
    if not mask.any():
        return
    inpainter = inpainter or INPAINTERS.create(options.method)
    filled = inpainter.inpaint(small, mask, max(1, round(r * scale)))
    if scale == 1:
        frame[cy0:cy1, cx0:cx1] = filled
        return
    full = (roi.shape[1], roi.shape[0])
    where = cv2.resize(mask, full, interpolation=cv2.INTER_LINEAR) > 0  # every pixel a masked one touches
    roi[where] = cv2.resize(filled, full, interpolation=cv2.INTER_LINEAR)[where]


def needs_removal(mode: str, subtitles: str, track: OcrTrack | None) -> bool:
    """Whether a market paints out the source's subtitles: "on", or "auto" when its own subtitles are
    burned in (``render.subtitles`` "burned" or "both") and the source has burned-in cues."""
    if mode not in ("auto", "on", "off"):
        raise ConfigError(f"picture.remove_source_subtitles must be 'auto', 'on' or 'off', not {mode!r}.")
    if mode == "off" or track is None or not track.cues:
        return False
    return mode == "on" or subtitles in ("burned", "both")


__all__ = ["INPAINTERS", "SUBTITLE_REMOVAL", "Inpainter", "NavierStokesInpainter", "RemovalOptions", "SubtitleRemover",
           "TeleaInpainter", "needs_removal", "remove_text", "text_mask"]
