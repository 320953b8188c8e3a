"""whisperX: batched faster-whisper, its own VAD, and wav2vec2 word alignment.

Install with ``pip install 'localize[whisperx]'``. The ASR model is the same
CTranslate2 model faster-whisper uses (the packaged ``base`` works offline).
Alignment needs a wav2vec2 model for the language; where none can be loaded
(no hub, no local copy) the words keep whisperX's segment-level timing split
evenly, and the transcript says so in its model version.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from localize.core.errors import MissingExtraError
from localize.stages.script.asr import AsrOptions, RawTranscript, RawWord
from localize.stages.script.asr.faster_whisper import resolve_model

log = logging.getLogger(__name__)


def _import_whisperx() -> Any:
    try:
        import whisperx
    except ImportError as exc:
        raise MissingExtraError("whisperx", "whisperx", "whisperx") from exc
    return whisperx


class WhisperXRecognizer:
    name = "whisperx"

    def __init__(self, options: AsrOptions | None = None, batch_size: int = 8) -> None:
        self.options = options or AsrOptions()
        self.batch_size = batch_size
        self._path, self._version = resolve_model(self.options.model)
        self._model: Any = None
        self._clips: Any = None  # a FasterWhisperRecognizer on the same weights, for transcribe_clip

    def model_version(self) -> str:
        return f"whisperx:{self._version}"

    def transcribe_clip(self, clip: Path, language: str, *, max_tokens: int | None = None) -> str:
        """The text heard in a short clip (the back-check): no alignment is needed, so the same CTranslate2
        weights decode it through faster-whisper, which whisperX wraps."""
        from localize.stages.script.asr.faster_whisper import FasterWhisperRecognizer

        if self._clips is None:
            self._clips = FasterWhisperRecognizer(self.options)
        return str(self._clips.transcribe_clip(clip, language, max_tokens=max_tokens))

    def recognize(self, audio: Path) -> RawTranscript:
        wx = _import_whisperx()
        if self._model is None:
            with _trusted_vad_checkpoint():
                self._model = wx.load_model(
                    self._path, device="cpu", compute_type="int8", language=self.options.language
                )
        samples = wx.load_audio(str(audio))
        result = self._model.transcribe(samples, batch_size=self.batch_size)
        language = result.get("language") or self.options.language or "en"
        segments = result["segments"]
        try:
            align_model, metadata = wx.load_align_model(language_code=language, device="cpu")
            segments = wx.align(segments, align_model, metadata, samples, "cpu")["segments"]
        except Exception as exc:  # no alignment weights here: keep segment timing
            log.warning("whisperx alignment unavailable for %s (%s); using segment timing", language, exc)
        return RawTranscript(language=language, language_probability=1.0, segments=tuple(_words(s) for s in segments))

    def release(self) -> None:
        self._model = None
        if self._clips is not None:
            self._clips.release()
            self._clips = None


# whisperX's VAD checkpoint ships inside its wheel (whisperx/assets/pytorch_model.bin) and was pickled
# with these classes; torch >= 2.6 loads weights-only and needs them allow-listed, just for this load.
_VAD_CHECKPOINT_GLOBALS = (
    "typing.Any", "builtins.list", "builtins.dict", "builtins.int", "collections.defaultdict",
    "torch.torch_version.TorchVersion", "omegaconf.listconfig.ListConfig", "omegaconf.dictconfig.DictConfig",
    "omegaconf.base.ContainerMetadata", "omegaconf.base.Metadata", "omegaconf.nodes.AnyNode",
    "pyannote.audio.core.model.Introspection", "pyannote.audio.core.task.Specifications",
    "pyannote.audio.core.task.Problem", "pyannote.audio.core.task.Resolution",
)


def _trusted_vad_checkpoint() -> Any:
    import contextlib
    import importlib

    import torch

    found = []
    for name in _VAD_CHECKPOINT_GLOBALS:
        module, _, attr = name.rpartition(".")
        with contextlib.suppress(ImportError, AttributeError):
            found.append(getattr(importlib.import_module(module), attr))
    return torch.serialization.safe_globals(found)


def _words(segment: dict[str, Any]) -> tuple[RawWord, ...]:
    words = [w for w in segment.get("words", []) if "start" in w and "end" in w]
    if words:
        return tuple(
            RawWord(round(w["start"] * 1000), round(w["end"] * 1000), " " + w["word"], float(w.get("score", 1.0)))
            for w in words
        )
    tokens = segment["text"].split()
    start, end = segment["start"] * 1000, segment["end"] * 1000
    step = (end - start) / max(len(tokens), 1)
    return tuple(
        RawWord(round(start + i * step), round(start + (i + 1) * step), " " + t, 0.5) for i, t in enumerate(tokens)
    )
