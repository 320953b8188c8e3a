"""Consented face swap: a market's character gets a target face, frame by frame.

:class:`FaceSwapProcessor` is a frame processor for the picture stage (localize/stages/picture/frames.py).
Its constructor checks a consent record for every target face (localize/stages/picture/consent.py) and
refuses the whole swap without one. Two swappers:

* ``classic`` (default, runs anywhere): dlib 68-point landmarks on the target face and on the
  frame's face, Delaunay triangles on the target's landmarks, an affine warp per triangle onto the
  frame's face, Reinhard colour correction in Lab inside the face mask, then cv2.seamlessClone.
  Landmarks are smoothed between frames and reset at a jump (a cut or a new face).
* ``insightface``: the user's inswapper-class ONNX model (localize/stages/picture/faceswap_insightface.py).

Swappers follow the :class:`Swapper` protocol and are found by name in :data:`FACE_SWAPPERS`; a package
adds one through the ``localize.backends`` entry-point group as ``"faceswap.<name>" = "module:Class"``.

Which face is the character's: the face track linked to the character's voice
(localize/stages/picture/mouth.py, ``character_boxes``), or the largest frontal face in the frame when no
track is given. A market swaps one character's face.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from localize.core.errors import ConfigError, InputError
from localize.core.registry import Registry
from localize.core.stage import Stage
from localize.stages.picture.consent import CheckedConsent, check_consent

if TYPE_CHECKING:
    import numpy as np

    from localize.core.markets import FaceSwap
    from localize.stages.picture.landmarks import Face

log = logging.getLogger(__name__)

# Bump when the frame processor's tracking (smoothing, holding, matching the track) changes its pixels.
FACE_SWAP = Stage("faceswap", version=1)
# The classic swapper's model version: bump when its warp or blend changes its pixels.
CLASSIC_VERSION = 2
SMOOTHING = 0.5  # weight of the previous frame's landmarks (exponential moving average)
RESET_JUMP = 0.12  # landmarks moving more than this fraction of the face size: no smoothing (a cut)
HOLD_FRAMES = 2  # a face missed by the detector keeps its last landmarks this many frames
# Ten points above the brows (this share of the chin-to-brow height) so the eyebrows and the lower
# forehead are swapped too; higher reaches the target's hairline. On the bench clips it took the
# distance to the target from 0.661 to 0.602 (man) and 0.582 to 0.560 (woman).
FOREHEAD = 0.12
MIN_OVERLAP = 0.5  # a detected face is the character's when it and the track's box overlap this much

# t_ms -> the character's face box (x, y, width, height) from its face track, or None: not on screen.
CharacterBoxes = Callable[[int], "tuple[int, int, int, int] | None"]


class Swapper(Protocol):
    """Pastes a target face over a frame's face. Made by name (:data:`FACE_SWAPPERS`) with the
    processor's `backend_options` as keyword arguments."""

    @classmethod
    def model_version(cls, **options: Any) -> str:
        """What identifies its pixels in a cache key, for these options, without loading a model."""
        ...

    def set_target(self, target_bgr: np.ndarray, target: Face) -> None: ...

    def swap(self, frame: np.ndarray, face: Face) -> np.ndarray: ...


FACE_SWAPPERS = Registry("faceswap", {
    "classic": "localize.stages.picture.faceswap:ClassicSwapper",
    "insightface": "localize.stages.picture.faceswap_insightface:InsightfaceSwapper",
})


def read_image(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(path, "not an image OpenCV can read", "give a PNG or JPEG of the target face")
    return image


# --- the classic swap ----------------------------------------------------------------------------


def delaunay(points: np.ndarray, shape: tuple[int, int]) -> list[tuple[int, int, int]]:
    """Delaunay triangles over `points`, as index triples."""
    import cv2
    import numpy as np

    h, w = shape
    subdiv = cv2.Subdiv2D((0, 0, w, h))
    for x, y in points:
        subdiv.insert((float(min(max(x, 0), w - 1)), float(min(max(y, 0), h - 1))))
    triangles = []
    for t in np.asarray(subdiv.getTriangleList()):  # an (n, 6) array; OpenCV's stubs say a sequence of floats
        corners = t.reshape(3, 2)
        idx = []
        for c in corners:
            d = np.abs(points - c).sum(axis=1)
            j = int(d.argmin())
            if d[j] > 1.0:
                break
            idx.append(j)
        if len(idx) == 3 and len(set(idx)) == 3:
            triangles.append((idx[0], idx[1], idx[2]))
    return triangles


def warp_triangles(src: np.ndarray, src_pts: np.ndarray, dst_shape: tuple[int, int], dst_pts: np.ndarray,
                   triangles: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """`src` warped piecewise-affinely so that `src_pts` land on `dst_pts`; black outside the triangles."""
    import cv2
    import numpy as np

    out = np.zeros((*dst_shape, 3), np.float32)
    h, w = dst_shape
    for tri in triangles:
        s = src_pts[list(tri)].astype(np.float32)
        d = dst_pts[list(tri)].astype(np.float32)
        sx, sy, sw, sh = cv2.boundingRect(s)
        dx, dy, dw, dh = cv2.boundingRect(d)
        if dw <= 0 or dh <= 0 or sw <= 0 or sh <= 0:
            continue
        x0, y0, x1, y1 = max(dx, 0), max(dy, 0), min(dx + dw, w), min(dy + dh, h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform((s - (sx, sy)).astype(np.float32), (d - (dx, dy)).astype(np.float32))
        patch = src[sy:sy + sh, sx:sx + sw]
        if patch.size == 0:
            continue
        warped = cv2.warpAffine(patch.astype(np.float32), m, (dw, dh), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101)
        mask = np.zeros((dh, dw), np.float32)
        cv2.fillConvexPoly(mask, np.round(d - (dx, dy)).astype(np.int32), 1.0, cv2.LINE_AA)
        mask = mask[y0 - dy:y1 - dy, x0 - dx:x1 - dx, None]
        region = out[y0:y1, x0:x1]
        region[:] = region * (1 - mask) + warped[y0 - dy:y1 - dy, x0 - dx:x1 - dx] * mask
    return out


def reinhard(source: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`source` with its Lab mean and std inside `mask` moved to those of `reference` (uint8 BGR)."""
    import cv2
    import numpy as np

    sel = mask > 0
    if sel.sum() < 16:
        return source
    src = cv2.cvtColor(source, cv2.COLOR_BGR2LAB).astype(np.float32)
    ref = cv2.cvtColor(reference, cv2.COLOR_BGR2LAB).astype(np.float32)
    s_mean, s_std = src[sel].mean(0), src[sel].std(0) + 1e-3
    r_mean, r_std = ref[sel].mean(0), ref[sel].std(0) + 1e-3
    out = (src - s_mean) * (r_std / s_std) + r_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)


def with_forehead(points: np.ndarray) -> np.ndarray:
    """The 68 landmarks plus ten points above the brows (see FOREHEAD)."""
    import numpy as np

    brows = points[17:27]
    up = (brows.mean(0) - points[8]) * FOREHEAD
    return np.vstack([points, brows + up]).astype(np.float32)


def face_mask(points: np.ndarray, shape: tuple[int, int], *, shrink: float = 0.04) -> np.ndarray:
    """The convex hull of the face landmarks, eroded a little so the seam stays inside the face."""
    import cv2
    import numpy as np

    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255)
    size = max(np.ptp(points[:, 0]), np.ptp(points[:, 1]))
    k = max(3, int(size * shrink) | 1)
    return cv2.erode(mask, np.ones((k, k), np.uint8))


class ClassicSwapper:
    """Landmarks, triangle warp, colour correction and a seamless blend; no learned model."""

    @classmethod
    def model_version(cls, **options: Any) -> str:
        return f"classic-{CLASSIC_VERSION}"

    def __init__(self) -> None:
        self._target: np.ndarray | None = None
        self._points: np.ndarray | None = None
        self._triangles: list[tuple[int, int, int]] = []

    def set_target(self, target_bgr: np.ndarray, target: Face) -> None:
        self._target = target_bgr
        self._points = with_forehead(target.points)
        self._triangles = delaunay(self._points, target_bgr.shape[:2])

    def swap(self, frame: np.ndarray, face: Face) -> np.ndarray:
        import cv2
        import numpy as np

        assert self._target is not None and self._points is not None
        h, w = frame.shape[:2]
        pts = with_forehead(face.points)
        size = max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]))
        margin = int(size * 0.25) + 4
        x0, y0 = max(int(pts[:, 0].min()) - margin, 0), max(int(pts[:, 1].min()) - margin, 0)
        x1, y1 = min(int(pts[:, 0].max()) + margin, w), min(int(pts[:, 1].max()) + margin, h)
        if x1 - x0 < 16 or y1 - y0 < 16:
            return frame
        roi = frame[y0:y1, x0:x1]
        local = pts - (x0, y0)
        warped = warp_triangles(self._target, self._points, roi.shape[:2], local, self._triangles)
        warped = np.clip(warped, 0, 255).astype(np.uint8)
        mask = face_mask(local, roi.shape[:2])
        # Keep the mask off the ROI's edge: seamlessClone needs a border of destination pixels.
        mask[:2, :], mask[-2:, :], mask[:, :2], mask[:, -2:] = 0, 0, 0, 0
        ys, xs = np.nonzero(mask)
        if len(xs) < 64:
            return frame
        warped = reinhard(warped, roi, mask)
        bx, by, bw, bh = cv2.boundingRect(np.column_stack([xs, ys]).astype(np.int32))
        centre = (bx + bw // 2, by + bh // 2)
        blended = cv2.seamlessClone(warped, np.ascontiguousarray(roi), mask, centre, cv2.NORMAL_CLONE)
        out = frame.copy()
        out[y0:y1, x0:x1] = blended
        return out


# --- the frame processor -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SwapStats:
    frames: int
    swapped: int
    held: int  # frames swapped with the previous frame's landmarks (the detector missed the face)


def make_swapper(backend: str, options: dict[str, Any] | None = None) -> Swapper:
    """The swapper `backend` names in FACE_SWAPPERS (UnknownNameError listing the known ones)."""
    return FACE_SWAPPERS.create(backend, **(options or {}))


class FaceSwapProcessor:
    """Replaces a character's face with a consented target face in every frame (a FrameProcessor)."""

    name = "faceswap"

    def __init__(self, swaps: Sequence[FaceSwap], *, series: str, market: str, backend: str | None = None,
                 backend_options: dict[str, Any] | None = None, character_boxes: CharacterBoxes | None = None,
                 boxes_key: str = "") -> None:
        """`character_boxes`: where the character's face is at each time (its face track); `boxes_key`
        identifies those tracks in the cache key. Without them, the largest face in each frame."""
        if not swaps:
            raise ConfigError(f"market {market!r}: FaceSwapProcessor needs at least one [[picture.face_swap]] entry.")
        if len(swaps) > 1:
            raise ConfigError(f"market {market!r}: {len(swaps)} face swaps; this version swaps one character's face "
                              "per market (the largest face), so keep one [[picture.face_swap]] entry.")
        backend = backend or swaps[0].backend
        swapper_class = FACE_SWAPPERS.load(backend)  # an unknown name fails here, listing the known ones
        # Refused here, before any frame is touched, unless every face has a valid consent record.
        self.consents: tuple[CheckedConsent, ...] = tuple(
            check_consent(character=s.character, face=s.face, record=s.consent, series=series, market=market)
            for s in swaps)
        self.swaps = tuple(swaps)
        self.backend = backend
        self._swapper_class = swapper_class
        self._backend_options = dict(backend_options or {})
        self._swapper: Swapper | None = None
        self._landmarker: Any = None
        self._last: np.ndarray | None = None
        self._missed = 0
        self._frames = self._swapped = self._held = 0
        self._boxes = character_boxes
        self._boxes_key = boxes_key if character_boxes is not None else "largest"

    def model_version(self) -> str:
        """The swapper's model version (its backend options' models, hashed)."""
        return self._swapper_class.model_version(**self._backend_options)

    def cache_options(self) -> dict:
        return {"key": FACE_SWAP.key(
            inputs=[h for c in self.consents for h in (c.face_sha256, c.record_sha256)],
            backend=self.backend, model_version=self.model_version(),
            options={"smoothing": SMOOTHING, "reset_jump": RESET_JUMP, "hold": HOLD_FRAMES, "face": self._boxes_key,
                     "min_overlap": MIN_OVERLAP, "characters": [c.character for c in self.consents]})}

    def prepare(self) -> None:
        from localize.stages.picture.landmarks import landmarker

        self._landmarker = landmarker()
        target_path = Path(self.consents[0].face)
        target = read_image(target_path)
        faces = self._landmarker.faces(target, upsample=1)
        if not faces:
            raise InputError(target_path, "no frontal face found in the target face image",
                             "give a well-lit, frontal photo of the face")
        self._swapper = self._swapper_class(**self._backend_options)
        self._swapper.set_target(target, faces[0])
        self._last, self._missed = None, 0
        log.info("face swap (%s): %s -> face of %s (consent %s)", self.backend, self.consents[0].character,
                 self.consents[0].subject, self.consents[0].record)

    def _track(self, frame: np.ndarray, t_ms: int) -> Face | None:
        import numpy as np

        from localize.stages.picture.landmarks import Face

        faces = self._landmarker.faces(frame)
        if self._boxes is not None:
            box = self._boxes(t_ms)
            if box is None:  # the character is not on screen: whoever is, keeps their face
                self._last = None
                return None
            faces = _on_box(faces, box)
        if not faces:
            self._missed += 1
            if self._last is not None and self._missed <= HOLD_FRAMES:
                self._held += 1
                return _face_of(self._last)
            self._last = None
            return None
        face = faces[0]
        pts = face.points
        if self._last is not None:
            jump = float(np.linalg.norm(pts - self._last, axis=1).mean()) / max(face.size, 1.0)
            if jump < RESET_JUMP:
                pts = SMOOTHING * self._last + (1 - SMOOTHING) * pts
        self._last, self._missed = pts.astype(np.float32), 0
        return Face(box=face.box, points=self._last)

    def process(self, frame: np.ndarray, index: int, t_ms: int) -> np.ndarray:
        assert self._swapper is not None, "prepare() first"
        self._frames += 1
        face = self._track(frame, t_ms)
        if face is None:
            return frame
        self._swapped += 1
        return self._swapper.swap(frame, face)

    def stats(self) -> SwapStats:
        return SwapStats(frames=self._frames, swapped=self._swapped, held=self._held)

    def release(self) -> None:
        log.info("face swap: %d of %d frames swapped (%d on held landmarks)", self._swapped, self._frames, self._held)
        self._swapper = None
        self._landmarker = None
        self._last = None


def _on_box(faces: list[Face], box: tuple[int, int, int, int]) -> list[Face]:
    """The detected faces overlapping the track's box (x, y, w, h) by MIN_OVERLAP of the smaller box, best first."""
    x, y, w, h = box
    scored = []
    for f in faces:
        ix = max(0, min(f.box[2], x + w) - max(f.box[0], x))
        iy = max(0, min(f.box[3], y + h) - max(f.box[1], y))
        cover = ix * iy / max(min(w * h, f.area), 1)  # Haar and dlib boxes differ in scale, so the smaller
        if cover >= MIN_OVERLAP:
            scored.append((cover, f))
    return [f for _, f in sorted(scored, key=lambda p: -p[0])]


def _face_of(points: np.ndarray) -> Face:
    from localize.stages.picture.landmarks import Face

    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    return Face(box=(int(x0), int(y0), int(x1), int(y1)), points=points)
