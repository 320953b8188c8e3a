"""faster-whisper (CTranslate2 Whisper) with word timestamps and Silero VAD.

With ``vad`` on (the default) the script stage then refines the word times of any recognizer on
Silero's speech regions (:mod:`localize.stages.script.asr.refine`): no word spans a pause.

``model="base"`` uses the Whisper base model packaged in two wheels (see
models/manifest.toml), offline. Any other value is passed to
``WhisperModel``: a local CTranslate2 model directory, or a size name such as
``large-v3`` that faster-whisper downloads on a machine that can reach the hub.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localize.core import modelcache
from localize.core.errors import MediaError, MissingExtraError, ModelError
from localize.stages.script.asr import AsrOptions, RawTranscript, RawWord

log = logging.getLogger(__name__)

PACKAGED = {"base": "whisper-base"}


def _ms(seconds: float) -> int:
    return round(float(seconds) * 1000)


def resolve_model(model: str) -> tuple[str, str]:
    """(path or name for WhisperModel, version string for cache keys)."""
    if model in PACKAGED:
        from localize.core.models import entry, resolve

        model_id = PACKAGED[model]
        return str(resolve(model_id)), f"{model_id}:{entry(model_id).files['model.bin'][:16]}"
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelError(f"{path}: not a CTranslate2 Whisper model directory (no model.bin).")
        stat = (path / "model.bin").stat()
        return str(path), f"dir:{path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
    return model, f"hub:{model}"


# float32, not int8: CTranslate2's int8 kernels are CPU-specific, and on an AMD EPYC the int8 decode of
# the sample episode dropped its last 3.5 s of speech where earlier machines (and float32 here) kept it.
# Whisper base stays fast enough in float32.
COMPUTE_TYPE = "float32"

# Language ID: a detection at or above LANGUAGE_SURE is taken as it is; below it, the top
# LANGUAGE_CANDIDATES languages the detector gives at least LANGUAGE_FLOOR are each tried on the head of the
# speech (PROBE_TOKENS tokens at most) and the best-scoring decode wins (FasterWhisperRecognizer._choose_language).
LANGUAGE_SURE = 0.9
LANGUAGE_CANDIDATES = 3
LANGUAGE_FLOOR = 0.01
PROBE_TOKENS = 64

# Back-transcription packs short clips into one Whisper window: joined with PACK_GAP_S of silence between them,
# up to PACK_S seconds. Whisper pads every input to a 30 s window, so a 3 s clip costs a whole window's
# encoder pass; on episode B's 8 dubbed lines a market's back-check took 9.5 s clip by clip.
PACK_S = 28.0
PACK_GAP_S = 1.0
WINDOW_TOKENS = 400  # Whisper's decoder holds 448 tokens with its prompt


@dataclass(frozen=True, slots=True)
class HeardClip:
    """What Whisper heard in one of several clips packed together: its words (with their leading spaces), and
    the window it was heard in (clips in the same window are neighbours in one transcription)."""

    window: int
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        return "".join(self.words).strip()


def pack_clips(seconds: Sequence[float], limit: float = PACK_S, gap: float = PACK_GAP_S) -> list[list[int]]:
    """The clips (by index, in order) grouped so each group joined with `gap` between fits in `limit`; a
    clip longer than that is a group of its own."""
    groups: list[list[int]] = []
    length = 0.0
    for i, s in enumerate(seconds):
        if groups and length + gap + s <= limit:
            groups[-1].append(i)
            length += gap + s
        else:
            groups.append([i])
            length = s
    return groups


def owner(spans: Sequence[tuple[float, float]], at: float) -> int:
    """The span `at` falls in, else the nearest one (a word's middle, in a joined clip's seconds)."""
    def distance(span: tuple[float, float]) -> float:
        return 0.0 if span[0] <= at <= span[1] else min(abs(at - span[0]), abs(at - span[1]))
    return min(range(len(spans)), key=lambda i: distance(spans[i]))


class FasterWhisperRecognizer:
    name = "faster-whisper"

    def __init__(self, options: AsrOptions | None = None, threads: int | None = None) -> None:
        self.options = options or AsrOptions()
        self.threads = threads or min(modelcache.threads(), 8)
        self._model: Any = None
        self._path, self._version = resolve_model(self.options.model)

    def model_version(self) -> str:
        return f"{self._version}:{COMPUTE_TYPE}"

    def _load(self) -> Any:
        if self._model is None:
            try:
                from faster_whisper import WhisperModel
            except ImportError as exc:  # pragma: no cover - a core dependency
                raise MissingExtraError(self.name, "asr", "faster_whisper") from exc
            from localize.core.modelcache import shared

            try:
                self._model = shared("faster-whisper", f"{self._path}:{self.threads}", lambda: WhisperModel(
                    self._path, device="cpu", compute_type=COMPUTE_TYPE, cpu_threads=self.threads))
            except Exception as exc:  # hub fetch refused, corrupt dir...
                raise ModelError(
                    f"cannot load Whisper model {self.options.model!r} ({exc}); pass a local CTranslate2 "
                    "model directory with --asr-model, or use the packaged 'base'."
                ) from exc
        return self._model

    def recognize(self, audio: Path) -> RawTranscript:
        from faster_whisper import decode_audio

        model = self._load()
        samples = decode_audio(str(audio))
        if self.options.language:
            language = self.options.language
            detected, detected_p, _ = model.detect_language(samples, vad_filter=self.options.vad)
        else:
            language, detected_p = self._choose_language(model, samples)
            detected = language
        segments, _ = model.transcribe(
            samples,
            language=language,
            beam_size=self.options.beam_size,
            word_timestamps=True,
            vad_filter=self.options.vad,
            condition_on_previous_text=False,
        )
        out = []
        for seg in segments:  # the generator does the work: drain it here, not in callers
            words = tuple(
                RawWord(_ms(w.start), _ms(w.end), w.word, float(w.probability)) for w in (seg.words or [])
            )
            if words:
                out.append(words)
        return RawTranscript(
            language=language, language_probability=1.0 if self.options.language else float(detected_p),
            segments=tuple(out), detected_language=detected, detected_probability=float(detected_p),
        )

    def _choose_language(self, model: Any, samples: Any) -> tuple[str, float]:
        """(language, its detection probability) of the first 30 s of speech in `samples`.

        Whisper's language ID alone is unsure on short clips (Whisper base hears this_is_a_test.mp3, 4.5 s
        of clear English, as Greek at p=0.78). Below LANGUAGE_SURE the head is decoded in each of the top
        LANGUAGE_CANDIDATES languages (those given at least LANGUAGE_FLOOR), and the one whose decode has the
        best average token log-probability wins: a wrong language writes text the model itself finds unlikely.
        """
        head = self._speech_head(samples)
        if head.size < 16000 // 2:  # under half a second of speech: nothing to weigh
            language, probability, _ = model.detect_language(samples, vad_filter=self.options.vad)
            return str(language), float(probability)
        language, probability, ranked = model.detect_language(head)
        if probability >= LANGUAGE_SURE:
            return str(language), float(probability)
        candidates = [(str(lang), float(p)) for lang, p in ranked[:LANGUAGE_CANDIDATES] if p >= LANGUAGE_FLOOR]
        scores = {lang: self._head_logprob(model, head, lang) for lang, _ in candidates}
        best = max(candidates, key=lambda c: scores[c[0]])
        log.info("language ID unsure (%s p=%.2f): head decoded as %s; kept %s", language, probability,
                 ", ".join(f"{lang} {scores[lang]:.2f}" for lang, _ in candidates), best[0])
        return best

    def _speech_head(self, samples: Any) -> Any:
        """The first 30 s of speech, as language detection sees it (Silero's speech regions when vad is on)."""
        import numpy as np

        if self.options.vad:
            from faster_whisper.vad import collect_chunks, get_speech_timestamps

            chunks, _ = collect_chunks(samples, get_speech_timestamps(samples))
            samples = np.concatenate(chunks, axis=0) if chunks else samples[:0]
        return samples[: 30 * 16000]

    def _head_logprob(self, model: Any, head: Any, language: str) -> float:
        """Average token log-probability of `head` decoded in `language` (beam search at temperature 0, no
        fallback; at most PROBE_TOKENS tokens, so a hallucinating loop stays cheap)."""
        segments, _ = model.transcribe(head, language=language, beam_size=self.options.beam_size,
                                       temperature=0.0, without_timestamps=True, vad_filter=False,
                                       condition_on_previous_text=False, max_new_tokens=PROBE_TOKENS)
        total, count = 0.0, 0
        for seg in segments:
            n = max(len(seg.tokens), 1)
            total += float(seg.avg_logprob) * n
            count += n
        return total / count if count else float("-inf")

    def transcribe_clip(self, clip: Path, language: str, *, max_tokens: int | None = None) -> str:
        """The text heard in a short clip, greedy at temperature 0 (no sampled fallback, no carried context),
        so a clip always reads the same; decoding stops after `max_tokens` where Whisper loops."""
        model = self._load()
        segments, _ = model.transcribe(str(clip), language=language, beam_size=1, temperature=0.0,
                                       vad_filter=self.options.vad, condition_on_previous_text=False,
                                       without_timestamps=True,
                                       **({"max_new_tokens": max_tokens} if max_tokens else {}))
        return " ".join(seg.text.strip() for seg in segments)

    def transcribe_clips(self, clips: Sequence[Path], language: str, *,
                         max_tokens: int | None = None) -> list[HeardClip]:
        """The words heard in each clip, decoded as :meth:`transcribe_clip` does, from as few Whisper windows as
        they fit in (:func:`pack_clips`): each group is joined with a second of silence between clips and
        transcribed once with word times, and each word goes to the clip its middle falls in. Whisper's word
        times stretch over the silence, so a word next to a cut can land in the wrong clip: each clip says
        which window it was heard in, and the caller may move words across a cut inside one window."""
        import numpy as np
        from faster_whisper import decode_audio

        model = self._load()
        rate = 16000
        audio = [decode_audio(str(clip)) for clip in clips]
        heard: list[list[str]] = [[] for _ in clips]
        window = [0] * len(clips)
        gap = np.zeros(round(PACK_GAP_S * rate), np.float32)
        for number, group in enumerate(pack_clips([len(a) / rate for a in audio])):
            pieces: list[Any] = []
            spans: list[tuple[float, float]] = []
            at = 0.0
            for i in group:
                if pieces:
                    pieces.append(gap)
                    at += PACK_GAP_S
                pieces.append(audio[i])
                spans.append((at, at + len(audio[i]) / rate))
                at += len(audio[i]) / rate
            limit = min(WINDOW_TOKENS, max_tokens * len(group)) if max_tokens else None
            segments, _ = model.transcribe(np.concatenate(pieces), language=language, beam_size=1, temperature=0.0,
                                           vad_filter=False, condition_on_previous_text=False, word_timestamps=True,
                                           **({"max_new_tokens": limit} if limit else {}))
            for seg in segments:
                for word in seg.words or []:
                    heard[group[owner(spans, (word.start + word.end) / 2)]].append(word.word)
            for i in group:
                window[i] = number
        return [HeardClip(window=w, words=tuple(words)) for w, words in zip(window, heard, strict=True)]

    def detect_language(self, media: Path, seconds: float = 30.0) -> tuple[str, float]:
        """(language, probability) heard in the speech of the first `seconds` of `media`, as recognize() chooses
        it (one encoder pass; a few short decodes only where the detection is unsure), so a run can check its
        translation routes before the heavy work."""
        from faster_whisper import decode_audio

        model = self._load()
        try:
            audio = decode_audio(str(media))
        except Exception as exc:  # PyAV: unreadable or audio-less media; probe() reports it better later
            raise MediaError(media, f"cannot read its audio ({exc})", "check the file") from exc
        return self._choose_language(model, audio[: int(seconds * 16000)])

    def release(self) -> None:
        self._model = None
