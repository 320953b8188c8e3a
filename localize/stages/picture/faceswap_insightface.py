"""Face swap with the user's inswapper-class ONNX model, through insightface (the `faces` extra).

No weights ship here, and none are downloaded: the user supplies

* the swapper, an inswapper-class ONNX model (e.g. ``inswapper_128.onnx``: target 1x3x128x128 and
  source latent 1x512 in, 1x3x128x128 out, the ``emap`` matrix as the graph's last initializer),
  named by ``LOCALIZE_INSWAPPER_MODEL`` or ``swapper_model=``;
* the face analysis model pack it was trained with (e.g. insightface's ``buffalo_l`` directory),
  named by ``LOCALIZE_INSIGHTFACE_PACK`` or ``pack_dir=``: its recognition model (ArcFace) gives the
  target face's identity embedding; its detector (SCRFD), when present, finds the five key points
  of the frame's face, else they come from dlib's 68 landmarks.

Both are checked against models/manifest.toml when it has their sha256; the inswapper and buffalo_l
weights are for NON-COMMERCIAL research use under insightface's terms.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localize.core.errors import MissingExtraError, ModelError

if TYPE_CHECKING:
    import numpy as np

    from localize.stages.picture.landmarks import Face

log = logging.getLogger(__name__)

SWAPPER_ENV = "LOCALIZE_INSWAPPER_MODEL"
PACK_ENV = "LOCALIZE_INSIGHTFACE_PACK"
SWAPPER_ID = "inswapper-128"
PACK_ID = "insightface-buffalo_l"


def _insightface() -> Any:
    try:
        from insightface import model_zoo
    except ImportError as exc:
        raise MissingExtraError("insightface", "faces", "insightface") from exc
    return model_zoo


def swapper_path(configured: str | Path | None = None) -> Path:
    raw = configured if configured is not None else os.environ.get(SWAPPER_ENV)
    if not raw:
        raise ModelError(f"face swap backend 'insightface' has no model: set {SWAPPER_ENV} to your inswapper-class "
                         "ONNX file (e.g. inswapper_128.onnx), or use the 'classic' backend.")
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ModelError(f"inswapper model {path} does not exist; set {SWAPPER_ENV} to the .onnx file.")
    _verify(path, SWAPPER_ID, path.name)
    return path


def pack_models(configured: str | Path | None = None) -> list[Path]:
    raw = configured if configured is not None else os.environ.get(PACK_ENV)
    if not raw:
        raise ModelError(f"face swap backend 'insightface' needs a face analysis model pack for the target face's "
                         f"embedding: set {PACK_ENV} to a directory such as insightface's buffalo_l.")
    root = Path(raw).expanduser()
    models = sorted(root.glob("*.onnx")) if root.is_dir() else []
    if not models:
        raise ModelError(f"insightface model pack {root} has no .onnx files; set {PACK_ENV} to the directory "
                         "holding the pack's models (e.g. buffalo_l/w600k_r50.onnx).")
    for path in models:
        _verify(path, PACK_ID, path.name)
    return models


def _verify(path: Path, model_id: str, name: str) -> None:
    stat = path.stat()
    _verify_state(path, model_id, name, stat.st_size, stat.st_mtime_ns)


@functools.cache
def _verify_state(path: Path, model_id: str, name: str, size: int, mtime_ns: int) -> None:
    from localize.core.cache import file_sha256
    from localize.core.models import manifest

    entry = manifest().get(model_id)
    want = entry.files.get(name, "") if entry else ""
    if not want:
        log.warning("insightface: %s is not verified (models/manifest.toml has no sha256 for it)", path)
        return
    got = file_sha256(path)
    if got != want:
        raise ModelError(f"model {model_id!r}: {path} has sha256 {got[:12]}..., the manifest expects {want[:12]}...; "
                         "use the file the manifest names.")


def swapper_version(swapper_model: str | Path | None = None, pack_dir: str | Path | None = None,
                    providers: tuple[str, ...] = ()) -> str:
    """What identifies the swap in a cache key: the sha256 of the swapper and of the pack's models."""
    parts = [_digest(swapper_path(swapper_model))[:16]]
    parts += [f"{p.name}:{_digest(p)[:16]}" for p in pack_models(pack_dir)]
    return "insightface-" + ",".join(parts)


def _digest(path: Path) -> str:
    stat = path.stat()
    return _digest_state(path, stat.st_size, stat.st_mtime_ns)


@functools.cache
def _digest_state(path: Path, size: int, mtime_ns: int) -> str:
    """sha256 of a model file, computed once per file state (inswapper_128.onnx is about 530 MB)."""
    from localize.core.cache import file_sha256

    return file_sha256(path)


class InsightfaceSwapper:
    """insightface's INSwapper on each frame's face, with the target identity from the pack's ArcFace."""

    @classmethod
    def model_version(cls, swapper_model: str | Path | None = None, pack_dir: str | Path | None = None,
                      providers: tuple[str, ...] = ()) -> str:
        return swapper_version(swapper_model, pack_dir, providers)

    def __init__(self, swapper_model: str | Path | None = None, pack_dir: str | Path | None = None,
                 providers: tuple[str, ...] = ("CPUExecutionProvider",)) -> None:
        model_zoo = _insightface()
        self._swapper_file = swapper_path(swapper_model)
        self._pack = pack_models(pack_dir)
        self.version = f"insightface-{self._swapper_file.name}"
        kwargs = {"providers": list(providers)}
        try:
            self._swapper = model_zoo.get_model(str(self._swapper_file), **kwargs)
            loaded = [(p, model_zoo.get_model(str(p), **kwargs)) for p in self._pack]
        except (OSError, RuntimeError, ValueError) as exc:  # onnxruntime/onnx refuse the file
            raise ModelError(f"insightface could not load the face swap models ({exc}); check {SWAPPER_ENV} and "
                             f"{PACK_ENV}.") from exc
        if type(self._swapper).__name__ != "INSwapper":
            raise ModelError(f"{self._swapper_file} is not an inswapper-class model (two inputs, 1x3x128x128 target "
                             f"and a 1x512 latent); set {SWAPPER_ENV} to one.")
        by_kind = {type(m).__name__: (p, m) for p, m in loaded if m is not None}
        if "ArcFaceONNX" not in by_kind:
            raise ModelError(f"insightface model pack {self._pack[0].parent} has no recognition (ArcFace) model; "
                             f"set {PACK_ENV} to a pack such as buffalo_l.")
        self._recognizer = by_kind["ArcFaceONNX"][1]
        self._detector = by_kind["SCRFD"][1] if "SCRFD" in by_kind else None
        for model in (self._recognizer, self._detector):
            if model is not None and hasattr(model, "prepare"):
                model.prepare(-1, **({"input_size": (640, 640)} if model is self._detector else {}))
        from insightface.app.common import Face as InsightFace

        self._face_class = InsightFace  # what insightface's models read kps from and write the embedding to
        self._source: Any = None

    def set_target(self, target_bgr: np.ndarray, target: Face) -> None:
        face = self._face_class(kps=self._kps(target_bgr, target))
        self._recognizer.get(target_bgr, face)
        self._source = face

    def _kps(self, frame: np.ndarray, face: Face) -> np.ndarray:
        if self._detector is not None:
            import numpy as np

            boxes, kpss = self._detector.detect(frame, max_num=0, metric="default")
            if kpss is not None and len(kpss):
                # The SCRFD face whose centre is nearest to the dlib face.
                cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
                centres = (boxes[:, :2] + boxes[:, 2:4]) / 2
                return kpss[int(np.argmin(np.hypot(centres[:, 0] - cx, centres[:, 1] - cy)))]
        return face.kps5()

    def swap(self, frame: np.ndarray, face: Face) -> np.ndarray:
        if self._source is None:
            raise RuntimeError("InsightfaceSwapper.swap() before set_target()")
        target = self._face_class(kps=self._kps(frame, face))
        return self._swapper.get(frame, target, self._source, paste_back=True)
