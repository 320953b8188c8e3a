"""RapidOCR: the PP-OCRv4 Chinese detection and recognition models packaged in rapidocr_onnxruntime.

The recognizer reads simplified and traditional Chinese, Latin letters and digits, so
the language hint may be "ch" (or "zh") or "en": the same models serve all three. The models ship inside the wheel
(15 MB): nothing is downloaded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from localize.core.errors import MissingExtraError, UnknownNameError
from localize.stages.script.ocr.merge import TextBox

log = logging.getLogger(__name__)

LANGUAGES = ("ch", "zh", "en")  # one model reads them all: Chinese, Latin letters, digits
_PACKAGE = "rapidocr_onnxruntime"


class RapidOcrReader:
    name = "rapidocr"

    def __init__(self, *, language: str = "ch", threads: int = 0) -> None:
        if language not in LANGUAGES:
            fix = "RapidOCR's packaged models read Chinese (ch/zh) and English"
            raise UnknownNameError("OCR language", language, LANGUAGES, fix)
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise MissingExtraError(self.name, "ocr", _PACKAGE) from exc
        _quiet_rapidocr_logs()
        self.language = language
        from localize.core.modelcache import shared
        from localize.core.modelcache import threads as cpu_threads

        threads = threads or cpu_threads()

        self._engine: Any = shared("rapidocr", f"{language}:{threads}", lambda: RapidOCR(
            # Detection sees the whole band: scale its longer side to at most 960 px instead of
            # blowing its short side up to 736 px (the default, meant for documents).
            det_limit_type="max",
            det_limit_side_len=960,
            width_height_ratio=-1,  # no letterbox around wide, short bands: it only costs time
            text_score=0.0,  # the caller filters by confidence
            intra_op_num_threads=threads,
        ))
        _quiet_rapidocr_logs()

    @staticmethod
    def model_version() -> str:
        """Callable on the class: cache keys need it without loading the models."""
        try:
            package = version(_PACKAGE)
        except PackageNotFoundError:
            package = "unknown"
        return f"{_PACKAGE}=={package} PP-OCRv4 det+rec ch"

    def read(self, images: Sequence[np.ndarray]) -> list[tuple[TextBox, ...]]:
        """The text lines in each image (grey or BGR, uint8), in that image's pixels."""
        if self._engine is None:
            raise RuntimeError("RapidOcrReader.read() after release()")
        results = []
        for image in images:
            found, _ = self._engine(image, use_det=True, use_cls=False, use_rec=True)
            boxes = []
            for points, text, score in found or ():
                pts = np.asarray(points, dtype=np.float32)
                left, top = pts.min(axis=0)
                right, bottom = pts.max(axis=0)
                boxes.append(
                    TextBox(
                        x=round(float(left)), y=round(float(top)),
                        width=round(float(right - left)), height=round(float(bottom - top)),
                        text=str(text), confidence=float(score),
                    )
                )
            results.append(tuple(boxes))
        return results

    def release(self) -> None:
        self._engine = None


def _quiet_rapidocr_logs() -> None:
    # rapidocr gives its loggers their own stderr handlers; a library must not print, so
    # hand their records to the application's logging setup instead.
    for name in ("RapidOCR", "OrtInferSession"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
