"""How much a face-swapped picture looks like the target face, and like the original actor.

dlib's 128-d face embedding (face_recognition_models' ResNet) of the face in sampled frames of the
original and of the swapped picture, compared with the target face image's: Euclidean distance
(dlib's rule: under 0.6 is the same person) and cosine similarity. A frame strip PNG (original |
swapped, a few frames, cropped around the face) is written for a person to look at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameIdentity:
    index: int
    t_ms: int
    target_distance_before: float  # original frame's face vs the target face
    target_distance_after: float  # swapped frame's face vs the target face
    original_distance_after: float  # swapped frame's face vs the original frame's face
    target_similarity_before: float  # the same three as cosine similarities
    target_similarity_after: float
    original_similarity_after: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SwapIdentity:
    """Means over the sampled frames where both pictures had a face (-1 when none had); saved as identity.json."""

    frames: tuple[FrameIdentity, ...]
    sampled: int  # frames sampled; those without a face in both pictures are left out of `frames`
    target_distance_before: float
    target_distance_after: float
    original_distance_after: float
    target_similarity_before: float
    target_similarity_after: float
    original_similarity_after: float
    strip: str = ""  # the frame strip PNG


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    return float(np.linalg.norm(a - b))


def sample_frames(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """The frames of a video at `indices` (decoded in order, so they match frame for frame)."""
    import cv2

    wanted = set(indices)
    got: dict[int, np.ndarray] = {}
    cap = cv2.VideoCapture(str(path))
    try:
        i = 0
        while wanted - got.keys():
            ok, frame = cap.read()
            if not ok:
                break
            if i in wanted:
                got[i] = frame
            i += 1
    finally:
        cap.release()
    return got


def frame_count(path: Path) -> tuple[int, float]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), float(cap.get(cv2.CAP_PROP_FPS) or 25.0)
    finally:
        cap.release()


def _crop(frame: np.ndarray, box: tuple[int, int, int, int], height: int) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box
    size = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    half = int(size * 0.9)
    crop = frame[max(cy - half, 0):min(cy + half, h), max(cx - half, 0):min(cx + half, w)]
    return cv2.resize(crop, (round(crop.shape[1] * height / crop.shape[0]), height), interpolation=cv2.INTER_AREA)


def write_strip(pairs: list[tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """A PNG, one row per sampled frame: original | swapped."""
    import cv2
    import numpy as np

    rows = []
    for original, swapped in pairs:
        gap = np.full((original.shape[0], 6, 3), 255, np.uint8)
        rows.append(np.hstack([original, gap, swapped]))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.vstack(rows)):
        raise OSError(f"could not write {path}")
    return path


def measure_swap(original: Path, swapped: Path, target_face: Path, *, samples: int = 8, strip: Path | None = None,
                 strip_rows: int = 4, strip_height: int = 220) -> SwapIdentity:
    """Identity of the face in `samples` evenly spaced frames of `original` and `swapped` against `target_face`."""
    import numpy as np

    from localize.core.errors import InputError
    from localize.stages.picture.faceswap import read_image
    from localize.stages.picture.landmarks import embedder, landmarker

    lm, emb = landmarker(), embedder()
    target = read_image(target_face)
    target_faces = lm.faces(target, upsample=1)
    if not target_faces:
        raise InputError(target_face, "no frontal face found in the target face image",
                         "give a well-lit, frontal photo of the face")
    et = emb.embed(target, target_faces[0])
    count, fps = frame_count(original)
    indices = sorted({round(i * (count - 1) / max(samples - 1, 1)) for i in range(samples)}) if count else []
    before, after = sample_frames(original, indices), sample_frames(swapped, indices)
    rows: list[FrameIdentity] = []
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    for i in indices:
        if i not in before or i not in after:
            continue
        fo, fs = lm.faces(before[i]), lm.faces(after[i])
        if not fo or not fs:
            continue
        eo, es = emb.embed(before[i], fo[0]), emb.embed(after[i], fs[0])
        rows.append(FrameIdentity(
            index=i, t_ms=round(i * 1000 / fps),
            target_distance_before=_dist(eo, et), target_distance_after=_dist(es, et),
            original_distance_after=_dist(es, eo), target_similarity_before=_cos(eo, et),
            target_similarity_after=_cos(es, et), original_similarity_after=_cos(es, eo)))
        pairs.append((_crop(before[i], fo[0].box, strip_height), _crop(after[i], fo[0].box, strip_height)))

    def mean(field: str) -> float:
        return round(float(np.mean([getattr(r, field) for r in rows])), 4) if rows else -1.0

    strip_path = ""
    if strip is not None and pairs:
        step = max(len(pairs) // strip_rows, 1)
        strip_path = str(write_strip(pairs[::step][:strip_rows], strip))
    result = SwapIdentity(
        frames=tuple(rows), sampled=len(indices),
        target_distance_before=mean("target_distance_before"), target_distance_after=mean("target_distance_after"),
        original_distance_after=mean("original_distance_after"),
        target_similarity_before=mean("target_similarity_before"),
        target_similarity_after=mean("target_similarity_after"),
        original_similarity_after=mean("original_similarity_after"), strip=strip_path)
    log.info("face swap identity over %d frames: to target %.3f -> %.3f, to original %.3f", len(rows),
             result.target_distance_before, result.target_distance_after, result.original_distance_after)
    return result
