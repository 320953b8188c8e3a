"""Stages shared by every market: decode the audio, build the source script."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from . import jsonio
from .artifacts import Line, MediaInfo, Script
from .asr import RECOGNIZERS, AsrOptions, RawTranscript
from .asr.chinese import to_script
from .asr.lines import LineRules, cut_lines
from .cache import ArtifactStore, file_sha256, stage_key
from .errors import InputError, LocalizeError, MediaError
from .media import probe, run_ffmpeg
from .media.ffmpeg import extract_audio_argv
from .options import RunOptions
from .progress import NullProgress, Progress
from .subtitles import load_subtitles

log = logging.getLogger(__name__)
ASR_RATE = 16000
BED_RATE = 48000


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    path: Path
    info: MediaInfo
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Audio:
    key: str
    asr: Path  # 16 kHz mono, for recognition
    bed: Path  # 48 kHz stereo, the original mix the dub goes over


def open_source(path: str | Path, *, need_video: bool) -> Source:
    path = Path(path)
    info = probe(path)
    if need_video and not info.has_video:
        raise MediaError(path, "has no video stream", "pass a video file (localize transcribe reads audio-only files)")
    if not info.has_audio:
        raise MediaError(path, "has no audio track", "pass a video with its original sound")
    return Source(path=path, info=info, sha256=file_sha256(path))


def extract_audio(source: Source, store: ArtifactStore) -> Audio:
    key = stage_key("audio", inputs=[source.sha256], options={"asr_rate": ASR_RATE, "bed_rate": BED_RATE})

    def build(tmp: Path) -> None:
        run_ffmpeg(extract_audio_argv(source.path, tmp / "asr.wav", rate=ASR_RATE, channels=1), f"decoding {source.path}")
        run_ffmpeg(extract_audio_argv(source.path, tmp / "bed.wav", rate=BED_RATE, channels=2), f"decoding {source.path}")

    return store.cached("audio", key, build, lambda p: Audio(key=key, asr=p / "asr.wav", bed=p / "bed.wav"))


def build_script(
    source: Source, audio: Audio, store: ArtifactStore, options: RunOptions, progress: Progress | None = None
) -> tuple[str, Script]:
    """(cache key, script) from speech recognition or from --source-subs."""
    progress = progress or NullProgress()
    if options.source_subs is not None:
        return _imported_script(source, Path(options.source_subs), options.asr, store)
    recognizer = RECOGNIZERS.create(options.asr_backend, options=options.asr)
    key = stage_key("script", inputs=[audio.key], backend=recognizer.name,
                    model_version=recognizer.model_version(), options=options.asr.cache_options())

    def build(tmp: Path) -> None:
        task = progress.task("transcribe", None)
        try:
            raw = recognizer.recognize(audio.asr)
        finally:
            recognizer.release()
            task.done()
        _check_forced_language(source.path, options.asr.language, raw)
        segments = raw.segments
        if raw.language == "zh":
            segments = tuple(tuple(replace(w, text=to_script(w.text, options.asr.chinese_script)) for w in seg)
                             for seg in segments)
        lines = cut_lines(segments, LineRules.for_language(raw.language))
        script = Script(language=raw.language, duration_ms=source.info.duration_ms, lines=lines,
                        backend=recognizer.name, model=recognizer.model_version())
        jsonio.save(script, tmp / "script.json")

    script = store.cached("script", key, build, lambda p: jsonio.load(Script, p / "script.json"))
    if not script.lines:
        raise LocalizeError(
            f"{source.path}: no speech found (silence or music only?); pass the script with --source-subs FILE.srt."
        )
    return key, script


# A forced language the audio clearly is not (the model's own detection at or above this) is an error.
WRONG_LANGUAGE_P = 0.8


def _check_forced_language(path: Path, forced: str | None, raw: RawTranscript) -> None:
    if forced and raw.detected_language and raw.detected_language != forced \
            and raw.detected_probability >= WRONG_LANGUAGE_P:
        raise LocalizeError(
            f"{path}: --language {forced} was forced, but the speech sounds like {raw.detected_language} "
            f"(p={raw.detected_probability:.2f}); pass the right --language, or leave it out to detect it."
        )


def _imported_script(source: Source, subs: Path, asr: AsrOptions, store: ArtifactStore) -> tuple[str, Script]:
    if not asr.language:
        raise InputError(subs, "the language of --source-subs is unknown", "pass --language too (e.g. --language zh)")
    cues = load_subtitles(subs)
    key = stage_key("script", inputs=[file_sha256(subs)], backend="import", options={"language": asr.language})
    lines = tuple(
        Line(id=f"L{i:03d}", start_ms=c.start_ms, end_ms=c.end_ms, text=c.text, origin="imported")
        for i, c in enumerate(cues, start=1)
    )
    script = Script(language=asr.language, duration_ms=source.info.duration_ms, lines=lines,
                    backend="import", model=subs.name)
    store.cached("script", key, lambda tmp: jsonio.save(script, tmp / "script.json"), lambda p: None)
    return key, script
