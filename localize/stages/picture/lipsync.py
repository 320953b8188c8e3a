"""Generative lip-sync: redraw the speaking face's mouth to the dub (Wav2Lip / LatentSync / MuseTalk class).

A :class:`LipSyncBackend` turns one face crop and the dub's sound around that frame into a new
face crop. :class:`LipSyncProcessor` is the frame processor of the picture stage
(:mod:`localize.stages.picture.frames`) that uses one: it touches only frames inside a line whose
speaking face is on screen and talking (:func:`localize.stages.picture.mouth.speaking_faces`), crops
that face's box, and pastes the backend's crop back; every other frame passes through unchanged.

:class:`Wav2LipOnnx` loads a Wav2Lip generator exported to ONNX by the user (no weights ship with
localize, and none can be downloaded here): inputs ``mel`` 1x1x80x16 (16 mel frames, 200 ms of
the dub at 80 frames a second, Wav2Lip's audio features) and ``face`` 1x6x96x96 (the face with its
lower half blanked, then a reference face; RGB in 0..1), output 1x3x96x96 in 0..1. Name the
file with ``LOCALIZE_WAV2LIP_MODEL`` or `model=`; models/manifest.toml (``wav2lip-onnx``) holds
its sha256 once filled in. Wav2Lip's released weights are for non-commercial research use.

Backends are found by name in :data:`LIP_SYNCERS` (a market's ``picture.lip_sync``); a package adds one
through the ``localize.backends`` entry-point group as ``"lipsync.<name>" = "module:Class"``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from localize.core.errors import MissingExtraError, ModelError, UnknownNameError
from localize.core.registry import Registry
from localize.core.stage import Stage
from localize.stages.picture.faces import Box, FaceTracks

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MODEL_ID = "wav2lip-onnx"
ENV = "LOCALIZE_WAV2LIP_MODEL"
FACE_SIZE = 96
MEL_STEP = 16  # mel frames per window
MEL_RATE = 80  # mel frames per second (16 kHz, hop 200)
SAMPLE_RATE = 16000
# Bump when the processor (which frames, the crop, the paste) changes its pixels.
LIP_SYNC = Stage("lipsync", version=1)


class LipSyncBackend(Protocol):
    """Redraws a face crop so its mouth says the sound of one mel window."""

    name: str

    def model_version(self) -> str: ...

    def prepare(self) -> None: ...

    def sync(self, face: np.ndarray, mel: np.ndarray) -> np.ndarray:
        """`face`: BGR uint8 crop, `mel`: 80 x 16 window; returns a BGR uint8 crop of the same size."""
        ...

    def release(self) -> None: ...


LIP_SYNCERS = Registry("lipsync", {"wav2lip-onnx": "localize.stages.picture.lipsync:Wav2LipOnnx"})


def lip_sync_backend(name: str) -> type[LipSyncBackend]:
    """The backend class `name` names (a market's ``picture.lip_sync``); UnknownNameError listing the known ones."""
    try:
        return LIP_SYNCERS.load(name)
    except UnknownNameError as exc:
        raise UnknownNameError(exc.kind, exc.name, exc.known, "set picture.lip_sync in the market") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class TalkingSpan:
    """Where a face is visible and talking: the speaking face track of one dubbed line."""

    start_ms: int
    end_ms: int
    track: str


def talking_spans(lines: Sequence[Any], faces: dict[str, str]) -> tuple[TalkingSpan, ...]:
    """A span per dub line (DubLine) with a speaking face, over where its dub plays."""
    return tuple(TalkingSpan(start_ms=d.dub_start_ms, end_ms=d.dub_end_ms, track=faces[d.id])
                 for d in lines if faces.get(d.id))


def _mel_basis(rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-style mel filterbank (as librosa's default), n_mels x (n_fft // 2 + 1)."""
    import numpy as np

    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log_part, lin)

    def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))

    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    basis = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        rise = (freqs - lo) / max(mid - lo, 1e-10)
        fall = (hi - freqs) / max(hi - mid, 1e-10)
        basis[i] = np.maximum(0, np.minimum(rise, fall)) * (2.0 / (hi - lo))
    return basis


def wav2lip_mel(samples: np.ndarray) -> np.ndarray:
    """Wav2Lip's audio features of 16 kHz mono audio: 80 x frames, 80 frames a second, in -4..4."""
    import numpy as np

    x = np.append(samples[:1], samples[1:] - 0.97 * samples[:-1]).astype(np.float64)  # pre-emphasis
    n_fft, hop = 800, 200
    x = np.pad(x, n_fft // 2, mode="reflect") if len(x) > n_fft // 2 else np.pad(x, n_fft // 2)
    frames = 1 + (len(x) - n_fft) // hop
    window = np.hanning(n_fft + 1)[:-1]
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * window, axis=1)).T
    mel = _mel_basis(SAMPLE_RATE, n_fft, 80, 55.0, 7600.0) @ spec
    db = 20 * np.log10(np.maximum(1e-5, mel)) - 20.0
    return np.clip(8.0 * ((db + 100.0) / 100.0) - 4.0, -4.0, 4.0).astype(np.float32)


def mel_window(mel: np.ndarray, t_ms: int) -> np.ndarray:
    """The 16 mel frames starting at `t_ms` (Wav2Lip's window for a video frame), edge-padded."""
    import numpy as np

    start = int(t_ms * MEL_RATE / 1000)
    if start + MEL_STEP > mel.shape[1]:
        mel = np.pad(mel, ((0, 0), (0, start + MEL_STEP - mel.shape[1])), mode="edge" if mel.shape[1] else "constant")
    return mel[:, start:start + MEL_STEP]


def _model_path(model: Path | str | None) -> Path:
    name = model or os.environ.get(ENV)
    if not name:
        raise ModelError(f"lip-sync backend 'wav2lip-onnx' needs a Wav2Lip generator exported to ONNX; set {ENV} "
                         "to its file (none ships with localize: see README, 'Shots, faces and lip alignment').")
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelError(f"{path}: no such Wav2Lip ONNX model; set {ENV} to an existing .onnx file.")
    return path


def _verify(path: Path) -> None:
    from localize.core.cache import file_sha256
    from localize.core.models import entry

    want = entry(MODEL_ID).files.get("wav2lip.onnx", "")
    if not want:
        log.warning("wav2lip: %s is not verified (models/manifest.toml has no sha256 for wav2lip.onnx)", path)
        return
    got = file_sha256(path)
    if got != want:
        raise ModelError(f"model {MODEL_ID!r}: {path} has sha256 {got[:12]}..., the manifest expects {want[:12]}...; "
                         "use the exported file the manifest names.")


class Wav2LipOnnx:
    """Wav2Lip-class generator on onnxruntime (CPU unless a GPU provider is installed)."""

    name = "wav2lip-onnx"

    def __init__(self, model: Path | str | None = None) -> None:
        self._path = _model_path(model)
        self._session: Any = None
        self._inputs: tuple[str, str] = ("", "")

    def model_version(self) -> str:
        from localize.core.cache import file_sha256

        return f"{self.name}:{file_sha256(self._path)[:16]}"

    def prepare(self) -> None:
        if self._session is not None:
            return
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingExtraError(self.name, "faces", "onnxruntime") from exc
        _verify(self._path)
        try:
            session = ort.InferenceSession(str(self._path), providers=ort.get_available_providers())
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"{self._path}: onnxruntime cannot load it ({str(exc).splitlines()[0]}); "
                             "export the Wav2Lip generator to ONNX again.") from exc
        by_shape = {}
        for inp in session.get_inputs():
            dims = tuple(inp.shape[1:])
            by_shape[dims] = inp.name
        mel, face = by_shape.get((1, 80, MEL_STEP)), by_shape.get((6, FACE_SIZE, FACE_SIZE))
        if mel is None or face is None or len(session.get_outputs()) != 1:
            raise ModelError(f"{self._path}: not a Wav2Lip generator (inputs {sorted(by_shape)}); it needs a mel "
                             f"input 1x1x80x16 and a face input 1x6x96x96 and one 1x3x96x96 output.")
        self._session, self._inputs = session, (mel, face)

    def sync(self, face: np.ndarray, mel: np.ndarray) -> np.ndarray:
        import cv2
        import numpy as np

        h, w = face.shape[:2]
        rgb = cv2.resize(face, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        rgb = rgb.astype(np.float32) / 255.0
        masked = rgb.copy()
        masked[FACE_SIZE // 2:] = 0.0  # Wav2Lip blanks the lower half it redraws
        stacked = np.concatenate([masked, rgb], axis=2).transpose(2, 0, 1)[None]
        out = self._session.run(None, {self._inputs[0]: mel[None, None].astype(np.float32),
                                       self._inputs[1]: np.ascontiguousarray(stacked, dtype=np.float32)})[0]
        if out.shape != (1, 3, FACE_SIZE, FACE_SIZE):
            raise ModelError(f"{self._path}: output shape {out.shape}, a Wav2Lip generator gives (1, 3, 96, 96).")
        crop = (np.clip(out[0].transpose(1, 2, 0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)[:, :, ::-1]
        return cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_CUBIC)

    def release(self) -> None:
        self._session = None


class LipSyncProcessor:
    """Frame processor: the backend's face crop pasted over each talking face's box, only while it talks."""

    name = "lipsync"

    def __init__(self, backend: LipSyncBackend, tracks: FaceTracks, spans: Sequence[TalkingSpan], audio: Path,
                 audio_key: str) -> None:
        self.backend = backend
        self.tracks = {tr.id: tr for tr in tracks.tracks}
        self.spans = tuple(spans)
        self.audio = Path(audio)
        self.audio_key = audio_key
        self._mel: np.ndarray | None = None
        self.synced = 0  # frames redrawn

    def cache_options(self) -> dict:
        return {"key": LIP_SYNC.key(inputs=[self.audio_key], backend=self.backend.name,
                                    model_version=self.backend.model_version(),
                                    options={"spans": [[s.start_ms, s.end_ms, s.track] for s in self.spans]})}

    def prepare(self) -> None:
        import numpy as np
        import soundfile as sf

        self.backend.prepare()
        samples, rate = sf.read(self.audio, dtype="float32", always_2d=True)
        mono = samples.mean(axis=1)
        if rate != SAMPLE_RATE:
            n = int(len(mono) * SAMPLE_RATE / rate)
            mono = np.interp(np.linspace(0, len(mono) - 1, n), np.arange(len(mono)), mono).astype(np.float32)
        self._mel = wav2lip_mel(mono)

    def box(self, t_ms: int) -> Box | None:
        """The talking face's box at `t_ms`, or None when no face is talking then."""
        for span in self.spans:
            if span.start_ms <= t_ms < span.end_ms and span.track in self.tracks:
                return self.tracks[span.track].box_at(t_ms)
        return None

    def process(self, frame: np.ndarray, index: int, t_ms: int) -> np.ndarray:
        box = self.box(t_ms)
        if box is None or self._mel is None:
            return frame
        h, w = frame.shape[:2]
        x, y, bw, bh = box
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return frame
        out = frame.copy()
        out[y0:y1, x0:x1] = self.backend.sync(frame[y0:y1, x0:x1], mel_window(self._mel, t_ms))
        self.synced += 1
        return out

    def release(self) -> None:
        self.backend.release()
        self._mel = None
