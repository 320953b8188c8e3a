"""Faces per shot: OpenCV's Haar frontal-face cascade at a sampled rate, linked into tracks.

Frames are read every `step_ms` (200 ms: 5 per second), downscaled to `DETECT_WIDTH`, and
searched with ``haarcascade_frontalface_default.xml`` (shipped in ``cv2.data`` by the opencv 4.x
wheels; the `picture` extra). Detections are linked into tracks within each shot by box overlap
(IoU), a track may miss a few samples (`max_gap_ms`), short tracks are dropped as false
positives, and each track's boxes are median-smoothed and filled in on the sampling grid.

dlib's 68-point landmarks (the `faces` extra, :mod:`localize.stages.picture.landmarks`) are an
option for mouth activity only; their model's iBUG 300-W terms are NON-COMMERCIAL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localize.core.errors import MediaError, MissingExtraError
from localize.stages.picture.shots import Shots

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# A change in what detection or tracking finds bumps FACES (localize/stages/picture/lipstage.py).
CASCADE = "haarcascade_frontalface_default.xml"
DETECT_WIDTH = 320
Box = tuple[int, int, int, int]  # x, y, width, height in source pixels


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceTrack:
    """One face followed through one shot: a box every `step_ms` from `start_ms`."""

    id: str  # "F01", "F02", ... in order of first appearance
    shot: int
    start_ms: int
    step_ms: int
    boxes: tuple[Box, ...]
    detections: int  # samples where the detector found it (the rest are filled in)

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.step_ms * len(self.boxes)

    def box_at(self, t_ms: int) -> Box | None:
        """The box at `t_ms`, linearly interpolated between samples; None outside the track."""
        if not self.boxes or t_ms < self.start_ms or t_ms >= self.end_ms:
            return None
        pos = (t_ms - self.start_ms) / self.step_ms
        i = min(int(pos), len(self.boxes) - 1)
        j = min(i + 1, len(self.boxes) - 1)
        f = pos - i
        return tuple(round(a + (b - a) * f) for a, b in zip(self.boxes[i], self.boxes[j], strict=True))  # type: ignore[return-value]


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceTracks:
    video: str
    width: int
    height: int
    step_ms: int
    detector: str
    tracks: tuple[FaceTrack, ...]

    def at(self, t_ms: int) -> list[tuple[FaceTrack, Box]]:
        return [(tr, box) for tr in self.tracks if (box := tr.box_at(t_ms)) is not None]


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise MissingExtraError("faces", "picture", "opencv-python") from exc
    return cv2


def iter_frames(video: Path, step_ms: int = 0) -> Iterator[tuple[int, int, np.ndarray]]:
    """(index, t_ms, BGR frame) for every frame, or one every `step_ms`."""
    cv2 = _cv2()
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise MediaError(video, "OpenCV cannot read its video stream", "check it plays, or re-encode it to H.264")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    try:
        index, due = 0, 0.0
        while cap.grab():
            t_ms = round(index * 1000 / fps)
            if t_ms >= due:
                ok, frame = cap.retrieve()
                if ok:
                    yield index, t_ms, frame
                due += step_ms
            index += 1
    finally:
        cap.release()


class HaarDetector:
    """OpenCV's frontal-face Haar cascade on a downscaled grey frame."""

    name = "haar-frontalface-default"

    def __init__(self, *, min_neighbors: int = 5, min_face_frac: float = 0.1) -> None:
        cv2 = _cv2()
        path = Path(cv2.data.haarcascades) / CASCADE
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise MissingExtraError("faces", "picture", "opencv-python>=4.8,<5 (its cv2/data cascades)")
        self.min_neighbors = min_neighbors
        self.min_face_frac = min_face_frac

    def detect(self, frame: np.ndarray) -> list[Box]:
        cv2 = _cv2()
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        h, w = grey.shape
        scale = min(1.0, DETECT_WIDTH / w)
        small = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        small = cv2.equalizeHist(small)
        side = max(int(min(small.shape) * self.min_face_frac), 20)
        found = self._cascade.detectMultiScale(small, scaleFactor=1.1, minNeighbors=self.min_neighbors,
                                               minSize=(side, side))
        return suppress([tuple(round(v / scale) for v in box) for box in found])


def suppress(boxes: Sequence[Box], *, inside: float = 0.5) -> list[Box]:
    """Largest first; a box mostly (`inside`) within a kept larger one is the same face found twice."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b[2] * b[3]):
        _, _, w, h = box
        if all(_inter(box, k) < inside * w * h for k in kept):
            kept.append(box)
    return kept


def _inter(a: Box, b: Box) -> int:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


def iou(a: Box, b: Box) -> float:
    inter = _inter(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def link_tracks(samples: Sequence[tuple[int, Sequence[Box]]], shots: Shots, *, step_ms: int,
                min_iou: float = 0.3, max_gap_ms: int = 600, min_detections: int = 3) -> tuple[FaceTrack, ...]:
    """Tracks from per-sample detections (t_ms, boxes): each box joins the open track in the same
    shot it overlaps most (IoU >= `min_iou`, last seen within `max_gap_ms`), else starts one."""
    open_: list[dict] = []
    done: list[dict] = []
    for t_ms, boxes in samples:
        shot = shots.at(t_ms).index
        still: list[dict] = []
        for tr in open_:
            (still if tr["shot"] == shot and t_ms - tr["hits"][-1][0] <= max_gap_ms else done).append(tr)
        open_ = still
        taken: set[int] = set()
        for box in sorted(boxes, key=lambda b: -b[2] * b[3]):
            best, best_iou = None, min_iou
            for k, tr in enumerate(open_):
                score = iou(tr["hits"][-1][1], box)
                if k not in taken and score >= best_iou:
                    best, best_iou = k, score
            if best is None:
                open_.append({"shot": shot, "hits": [(t_ms, box)]})
                taken.add(len(open_) - 1)
            else:
                open_[best]["hits"].append((t_ms, box))
                taken.add(best)
    done.extend(open_)
    kept = sorted((tr for tr in done if len(tr["hits"]) >= min_detections), key=lambda tr: tr["hits"][0][0])
    return tuple(_finish(f"F{i:02d}", tr["shot"], tr["hits"], step_ms) for i, tr in enumerate(kept, start=1))


def _finish(track_id: str, shot: int, hits: list[tuple[int, Box]], step_ms: int) -> FaceTrack:
    """Median-smooth the detected boxes (5 samples) and fill in every `step_ms` between them."""
    import numpy as np

    times = np.array([t for t, _ in hits], dtype=np.float64)
    boxes = np.array([b for _, b in hits], dtype=np.float64)
    k = 2
    smooth = np.array([np.median(boxes[max(0, i - k):i + k + 1], axis=0) for i in range(len(boxes))])
    grid = np.arange(times[0], times[-1] + 1, step_ms)
    filled = np.stack([np.interp(grid, times, smooth[:, j]) for j in range(4)], axis=1)
    return FaceTrack(id=track_id, shot=shot, start_ms=int(times[0]), step_ms=step_ms,
                     boxes=tuple(tuple(round(v) for v in row) for row in filled),
                     detections=len(hits))


def track_faces(video: Path, shots: Shots, *, step_ms: int = 200, detector: HaarDetector | None = None) -> FaceTracks:
    """Every face track in `video`, sampled every `step_ms`."""
    detector = detector or HaarDetector()
    samples, size = [], (0, 0)
    for _, t_ms, frame in iter_frames(video, step_ms):
        size = (frame.shape[1], frame.shape[0])
        samples.append((t_ms, detector.detect(frame)))
    tracks = link_tracks(samples, shots, step_ms=step_ms)
    log.info("%s: %d face track(s) in %d samples", Path(video).name, len(tracks), len(samples))
    return FaceTracks(video=Path(video).name, width=size[0], height=size[1], step_ms=step_ms,
                      detector=detector.name, tracks=tracks)
