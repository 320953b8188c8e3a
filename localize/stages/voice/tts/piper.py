"""Piper neural TTS. The packaged voice is en_US-joe-medium; any Piper .onnx
voice file (with its .onnx.json beside it) works by path."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

from localize.core.errors import MissingExtraError, ModelError
from localize.stages.voice.tts import SynthesizerBase

PACKAGED = {"en_US-joe-medium": "piper-en_US-joe-medium"}


def _voice_files(voice: str) -> tuple[Path, Path, str]:
    if voice in PACKAGED:
        from localize.core.models import entry, resolve

        model_id = PACKAGED[voice]
        root = resolve(model_id)
        onnx = root / "data" / f"{voice}.onnx"
        digest = entry(model_id).files["data/" + onnx.name][:16]
        return onnx, onnx.with_name(onnx.name + ".json"), f"{model_id}:{digest}"
    onnx = Path(voice).expanduser()
    config = onnx.with_name(onnx.name + ".json")
    if onnx.suffix != ".onnx" or not onnx.is_file() or not config.is_file():
        raise ModelError(
            f"Piper voice {voice!r} not found; use {', '.join(PACKAGED)} or a path to a voice .onnx "
            "with its .onnx.json beside it."
        )
    stat = onnx.stat()
    return onnx, config, f"file:{onnx.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"


class PiperSynthesizer(SynthesizerBase):
    name = "piper"
    clones = False  # `reference` is accepted and ignored
    expressive = False  # `pitch_range` is accepted and ignored

    def __init__(self) -> None:
        self._voices: dict[str, Any] = {}

    def model_version(self, voice: str) -> str:
        return _voice_files(voice)[2]

    def default_voice(self, language: str) -> str | None:
        return "en_US-joe-medium" if language == "en" else None

    def check(self, voice: str) -> None:
        try:
            import piper  # noqa: F401
        except ImportError as exc:
            raise MissingExtraError(self.name, "piper", "piper-tts") from exc
        _voice_files(voice)

    def synthesize(self, text: str, voice: str, out: Path, *, reference: Path | None = None,
                   pitch_range: int = 100) -> None:
        if voice not in self._voices:
            from piper import PiperVoice

            from localize.core.modelcache import shared

            onnx, config, _ = _voice_files(voice)
            self._voices[voice] = shared("piper", str(onnx),
                                         lambda: PiperVoice.load(str(onnx), config_path=str(config)))
        with wave.open(str(out), "wb") as wav:
            self._voices[voice].synthesize_wav(text, wav)

    def release(self) -> None:
        self._voices.clear()
