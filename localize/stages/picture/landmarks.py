"""dlib face detection, 68-point landmarks and 128-d face embeddings (the `faces` extra).

The models ship in the ``face-recognition-models`` wheel. Its 68-point landmark model was trained on
iBUG 300-W, whose terms allow NON-COMMERCIAL use only: a commercial user must supply landmarks or a
licensed model of their own (see README, "Face swap, with consent").
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localize.core.errors import MissingExtraError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MODEL_ID = "dlib-face-models"  # models/manifest.toml
PREDICTOR = "shape_predictor_68_face_landmarks.dat"
EMBEDDER = "dlib_face_recognition_resnet_model_v1.dat"
DETECT_WIDTH = 480  # frames are searched for faces at this width; landmarks use full resolution


def _dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise MissingExtraError("faceswap", "faces", "dlib") from exc
    return dlib


def model_path(name: str) -> Path:
    """A model file of face_recognition_models, sha256-checked against models/manifest.toml.

    The package is found without importing it (its __init__ needs pkg_resources)."""
    if importlib.util.find_spec("face_recognition_models") is None:
        raise MissingExtraError("faceswap", "faces", "face_recognition_models")
    from localize.core.models import resolve

    return resolve(MODEL_ID) / "models" / name


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face: its box (x0, y0, x1, y1) in pixels and 68 landmarks (68 x 2 float32)."""

    box: tuple[int, int, int, int]
    points: np.ndarray

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])

    @property
    def size(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    def kps5(self) -> np.ndarray:
        """insightface's five key points: eye centres, nose tip, mouth corners (image left first)."""
        import numpy as np

        p = self.points
        return np.array([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]], dtype=np.float32)


class Landmarker:
    """dlib's HOG face detector and 68-point shape predictor."""

    def __init__(self) -> None:
        dlib = _dlib()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(model_path(PREDICTOR)))

    def faces(self, bgr: np.ndarray, *, upsample: int = 0) -> list[Face]:
        """Every frontal face, largest first."""
        import cv2
        import numpy as np

        h, w = bgr.shape[:2]
        scale = min(1.0, DETECT_WIDTH / w)
        small = (cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
                 if scale < 1 else bgr)
        rects = self._detector(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), upsample)
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        found = []
        for r in rects:
            rect = self._dlib.rectangle(round(r.left() / scale), round(r.top() / scale),
                                        round(r.right() / scale), round(r.bottom() / scale))
            found.append(self.shape(rgb, rect))
        return sorted(found, key=lambda f: -f.area)

    def shape(self, rgb: np.ndarray, rect: Any) -> Face:
        import numpy as np

        shape = self._predictor(rgb, rect)
        pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float32)
        return Face(box=(rect.left(), rect.top(), rect.right(), rect.bottom()), points=pts)

    def at(self, bgr: np.ndarray, box: tuple[int, int, int, int]) -> Face:
        """Landmarks inside a given face box (from a face track or the caller)."""
        import numpy as np

        return self.shape(np.ascontiguousarray(bgr[:, :, ::-1]), self._dlib.rectangle(*box))


class Embedder:
    """dlib's ResNet face descriptor: 128-d, same person when the Euclidean distance is under 0.6."""

    THRESHOLD = 0.6

    def __init__(self) -> None:
        dlib = _dlib()
        self._dlib = dlib
        self._net = dlib.face_recognition_model_v1(str(model_path(EMBEDDER)))
        self._sp5 = None

    def embed(self, bgr: np.ndarray, face: Face) -> np.ndarray:
        import numpy as np

        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        det = self._dlib.full_object_detection(
            self._dlib.rectangle(*face.box), [self._dlib.point(int(x), int(y)) for x, y in face.points])
        return np.asarray(self._net.compute_face_descriptor(rgb, det, 1), dtype=np.float32)


@functools.cache
def landmarker() -> Landmarker:
    return Landmarker()


@functools.cache
def embedder() -> Embedder:
    return Embedder()
