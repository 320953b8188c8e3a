"""Back-transcription: does each dubbed line say what its target text says?

Each dub clip is transcribed by the packaged Whisper model in the market's language, and the
character error rate against the line's target text (case, punctuation and spacing ignored) goes
into the report, so a reviewer sees at a glance which lines a listener would mishear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from localize.core.artifacts import DubTrack
from localize.stages.script.asr import AsrOptions
from localize.stages.script.asr.faster_whisper import FasterWhisperRecognizer
from localize.core.errors import MissingExtraError

log = logging.getLogger(__name__)
VERSION = 2
MAX_TOKENS = 120  # a subtitle line is far shorter; a clip Whisper loops on stops here
# Whisper cannot be forced into a language it does not know; those lines are not scored.
_NO_WHISPER = frozenset({"ast", "oc"})


def normalise(text: str) -> str:
    try:
        import jiwer
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingExtraError("backcheck", "dev", "jiwer") from exc
    return jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(),
                          jiwer.Strip()])(text)


def cer(reference: str, hypothesis: str) -> float:
    import jiwer

    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return round(min(float(jiwer.cer(ref, hyp)), 1.0), 3)


def backcheck(track: DubTrack, clips: Path, texts: Mapping[str, str], *, model: str = "base",
              advance: Callable[[int], None] = lambda n: None) -> dict[str, float]:
    """Line id -> CER of the dubbed clip's transcription against its target text (capped at 1.0)."""
    language = track.language.split("-")[0].lower()
    if language in _NO_WHISPER:
        return {}
    recognizer = FasterWhisperRecognizer(AsrOptions(model=model, language=language, vad=False))
    whisper = recognizer._load()
    out = {}
    try:
        for line in track.lines:
            # Greedy at temperature 0 only: no sampled fallback, so a clip always scores the same.
            segments, _ = whisper.transcribe(str(clips / line.clip), language=language, beam_size=1,
                                             temperature=0.0, vad_filter=False, condition_on_previous_text=False,
                                             without_timestamps=True, max_new_tokens=MAX_TOKENS)
            heard = " ".join(seg.text.strip() for seg in segments)
            out[line.id] = cer(texts.get(line.id, ""), heard)
            log.debug("%s: heard %r, CER %.2f", line.id, heard, out[line.id])
            advance(1)
    finally:
        recognizer.release()
    return out


def model_version(model: str = "base") -> str:
    return f"{FasterWhisperRecognizer(AsrOptions(model=model)).model_version()}:v{VERSION}"
