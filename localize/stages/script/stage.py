"""The script stage: speech recognition fused with the burned-in subtitles, then speakers."""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from localize.core import jsonio
from localize.core.artifacts import Line, OcrCue, OcrTrack, Script
from localize.core.cache import ArtifactStore, file_sha256
from localize.core.errors import InputError, LocalizeError
from localize.core.options import RunOptions
from localize.core.progress import NullProgress, Progress
from localize.core.stage import Keyed, Stage
from localize.stages.audio.stage import Audio, Source
from localize.stages.render.subtitles import load_subtitles
from localize.stages.script.asr import RECOGNIZERS, AsrOptions, RawTranscript
from localize.stages.script.asr.chinese import to_script
from localize.stages.script.asr.lines import LineRules, cut_lines
from localize.stages.script.fusion import fuse

log = logging.getLogger(__name__)
ASR = Stage("asr", version=4)
OCR = Stage("ocr", version=5)
SCRIPT = Stage("script", version=3)
SPEAKERS = Stage("speakers", version=4)
IMPORTED = Stage("imported", version=1)
BURNED = Stage("burned", version=1)  # the burned-in subtitles of another language than the speech


def _wanted(mode: str, module: str, what: str) -> bool:
    """Whether an optional stage runs: 'on' always (a missing extra then errors), 'auto' when installed."""
    if mode == "off":
        return False
    if mode == "auto" and importlib.util.find_spec(module) is None:
        log.info("%s skipped: its extra is not installed", what)
        return False
    return True


def build_script(
    source: Source, audio: Audio, store: ArtifactStore, options: RunOptions, progress: Progress | None = None
) -> Keyed[Script]:
    """The source script and its key: speech recognition fused with burned-in subtitles, then speakers.

    With --source-subs the script is imported instead and only speakers are added.
    """
    progress = progress or NullProgress()
    track: OcrTrack | None = None
    if options.source_subs is not None:
        key, script = _imported_script(source, Path(options.source_subs), options.asr, store)
    else:
        asr_key, heard = _recognize(source, audio, store, options, progress)
        ocr_key, track = _read_subtitles(source, store, options, progress)
        key = SCRIPT.key(inputs=[asr_key, ocr_key], options=options.fusion.cache_options())

        def fuse_build(tmp: Path) -> None:
            cues = track.cues if track else ()
            language = heard.language
            if cues and not heard.lines:  # nothing heard: the subtitles are the script
                language = "zh" if sum(_is_chinese(c.text) for c in cues) * 2 >= len(cues) else language
            # A cue in another script than the spoken language (a translation) is no second reading of it.
            same = [c for c in cues if _is_chinese(c.text) == (language in CJK_LANGUAGES)]
            if len(same) < len(cues):
                log.info("%s: %d burned-in cues are not in the spoken %s; not fused", source.path,
                         len(cues) - len(same), language)
            lines = fuse(heard.lines, same, language, options.fusion)
            jsonio.save(replace(heard, lines=lines, language=language), tmp / "script.json")

        script = SCRIPT.cached(store, key, fuse_build, lambda p: jsonio.load(Script, p / "script.json"))
    if not script.lines:
        raise LocalizeError(
            f"{source.path}: no speech found (silence or music only?) and no burned-in subtitles; "
            "pass the script with --source-subs FILE.srt."
        )
    spk_key, labelled = _speakers(key, script, source, audio, store, options, progress)
    if track is not None:
        _save_burned_translation(spk_key, track, script, store)
    return Keyed(spk_key, labelled)


def _recognize(source: Source, audio: Audio, store: ArtifactStore, options: RunOptions,
               progress: Progress) -> tuple[str, Script]:
    recognizer = RECOGNIZERS.create(options.asr_backend, options=options.asr)
    key = ASR.key(inputs=[audio.key], backend=recognizer.name,
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
        if options.asr.vad and segments:  # any recognizer's word times from the audio: no word spans a pause
            from localize.stages.script.asr.refine import refine

            segments = refine(audio.asr, segments)
        if raw.language == "zh":
            segments = tuple(tuple(replace(w, text=to_script(w.text, options.asr.chinese_script)) for w in seg)
                             for seg in segments)
        lines = cut_lines(segments, LineRules.for_language(raw.language))
        script = Script(language=raw.language, duration_ms=source.info.duration_ms, lines=lines,
                        backend=recognizer.name, model=recognizer.model_version())
        jsonio.save(script, tmp / "script.json")

    return key, ASR.cached(store, key, build, lambda p: jsonio.load(Script, p / "script.json"))


def _read_subtitles(source: Source, store: ArtifactStore, options: RunOptions,
                    progress: Progress) -> tuple[str, OcrTrack | None]:
    if not source.info.has_video or not _wanted(options.ocr, "rapidocr_onnxruntime", "burned-in subtitle OCR"):
        return "no-ocr", None
    from localize.stages.script.ocr import READERS, read_burned_subtitles

    reader = READERS.load(options.ocr_options.reader)  # an unknown reader fails here, listing the known
    key = OCR.key(inputs=[source.sha256], backend=options.ocr_options.reader,
                    model_version=reader.model_version(), options=options.ocr_options.cache_options())

    def build(tmp: Path) -> None:
        task = progress.task("read subtitles", options.ocr_options.progress_total(source.info.duration_ms))
        try:
            track = read_burned_subtitles(source.path, options.ocr_options, task.advance)
        finally:
            task.done()
        if track.band is None:
            log.info("%s: no burned-in subtitles found; the script comes from speech alone", source.path)
        jsonio.save(track, tmp / "ocr.json")

    return key, OCR.cached(store, key, build, lambda p: jsonio.load(OcrTrack, p / "ocr.json"))


def source_subtitles(source: Source, store: ArtifactStore, options: RunOptions,
                     progress: Progress | None = None) -> tuple[str, OcrTrack | None]:
    """(cache key, track) of the source's burned-in subtitles: the OCR artifact the script was fused
    with (read now if it was not, e.g. with --source-subs); None when OCR is off or not installed."""
    return _read_subtitles(source, store, options, progress or NullProgress())


CJK_LANGUAGES = ("zh", "ja")
BURNED_NAME = "burned-in-subtitles"
# Words that mark Latin-script subtitles as English (a few per line in any English text).
_ENGLISH = frozenset({"the", "a", "an", "and", "to", "of", "you", "i", "it", "is", "that", "in", "this", "what",
                      "we", "he", "she", "they", "for", "with", "on", "be"})


def _burned_language(cues: Sequence[OcrCue]) -> str | None:
    """The language of burned-in cues in another script than the speech: "zh" for Chinese, "en" for
    Latin text whose words are often English function words, else None (not guessed)."""
    text = " ".join(c.text for c in cues)
    if _is_chinese(text):
        return "zh"
    words = re.findall(r"[a-z']+", text.casefold())
    return "en" if words and sum(w in _ENGLISH for w in words) >= 0.15 * len(words) else None


def _save_burned_translation(script_key: str, track: OcrTrack, script: Script, store: ArtifactStore) -> None:
    """Subtitles burned in beside the speech's own, in another language (a bilingual release), are a
    human translation of it: saved as ``burned-in-subtitles.<language>.srt`` for the markets of that
    language (:func:`burned_translation`). Only when they cover at least half as many cues as there
    are script lines: a stray sign in English under Chinese subtitles is no translation."""
    other = [c for c in track.cues if _is_chinese(c.text) != (script.language in CJK_LANGUAGES)]
    language = _burned_language(other) if len(other) >= max(2, len(script.lines) / 2) else None
    if language is None or language == script.language:
        return
    import pysubs2

    def build(tmp: Path) -> None:
        subs = pysubs2.SSAFile()
        for c in other:
            subs.append(pysubs2.SSAEvent(start=c.start_ms, end=c.end_ms, text=c.text))
        subs.save(str(tmp / f"{BURNED_NAME}.{language}.srt"))
        log.info("%d burned-in %s cues kept as the %s markets' human translation", len(other), language, language)

    BURNED.cached(store, BURNED.key(inputs=[script_key]), build, lambda p: p)


def burned_translation(store: ArtifactStore, script_key: str, language: str) -> Path | None:
    """The burned-in subtitles in `language` saved beside the script with key `script_key`, or None."""
    found = BURNED.get(store, BURNED.key(inputs=[script_key]))
    path = found / f"{BURNED_NAME}.{language}.srt" if found else None
    return path if path is not None and path.is_file() else None


def _is_chinese(text: str) -> bool:
    """Mostly Chinese characters (han), as burned-in Chinese subtitles are."""
    text = "".join(text.split())
    return sum("\u4e00" <= ch <= "\u9fff" for ch in text) * 2 >= max(len(text), 1)


def _speakers(key: str, script: Script, source: Source, audio: Audio, store: ArtifactStore, options: RunOptions,
              progress: Progress) -> tuple[str, Script]:
    """Who speaks each line: the speaker backend's clusters (cached), named by the series cast when there is one.

    The episode leaves its clusters for the cast (its own file) and the cast merges every episode's in name
    order (localize.stages.script.speakers.cast): episodes understood at once give the cast they give one by
    one. With ``options.cast_merge`` off the merge waits and the lines keep SPEAKER_nn labels."""
    from localize.stages.script.speakers.backends import SPEAKER_BACKENDS

    backend = SPEAKER_BACKENDS.create(options.speakers_backend)
    if backend.requires and not _wanted(options.speakers, backend.requires, "speaker diarization"):
        return key, script
    if options.speakers == "off":
        return key, script
    from localize.core.artifacts import EpisodeClusters
    from localize.stages.script.speakers import Diarization, label_speakers
    from localize.stages.script.speakers.cast import contribute, publish_cast

    spk_key = SPEAKERS.key(inputs=[key, audio.key], backend=backend.name, model_version=backend.model_version(),
                           options={"n_speakers": options.n_speakers})

    def build(tmp: Path) -> None:
        task = progress.task("speakers", None)
        try:
            found = backend.diarize(script, audio.asr, n_speakers=options.n_speakers)
        finally:
            task.done()
        payload = found if found is not None else Diarization(labels=(), centroids=(), counts=())
        jsonio.save(payload, tmp / "speakers.json")

    found = SPEAKERS.cached(store, spk_key, build, lambda p: jsonio.load(Diarization, p / "speakers.json"))
    if not found.labels:
        return spk_key, script
    episode = source.path.stem
    contribute(options, EpisodeClusters(episode=episode, centroids=found.centroids, counts=found.counts,
                                        pitch_classes=found.pitch_classes))
    cast = publish_cast(options) if options.cast_merge else None
    return spk_key, label_speakers(script, found, cast=cast, episode=episode)


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
    key = IMPORTED.key(inputs=[file_sha256(subs)], backend="import", options={"language": asr.language})
    lines = tuple(
        Line(id=f"L{i:03d}", start_ms=c.start_ms, end_ms=c.end_ms, text=c.text, origin="imported",
             speaker=c.speaker or "SPEAKER_00")
        for i, c in enumerate(cues, start=1)
    )
    script = Script(language=asr.language, duration_ms=source.info.duration_ms, lines=lines,
                    backend="import", model=subs.name)
    IMPORTED.cached(store, key, lambda tmp: jsonio.save(script, tmp / "script.json"), lambda p: None)
    return key, script
