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
from localize.core.errors import MissingExtraError
from localize.stages.script.asr import RECOGNIZERS, AsrOptions, Recognizer

log = logging.getLogger(__name__)
RECOGNIZER = "faster-whisper"  # a name in localize.stages.script.asr.RECOGNIZERS
MODEL = "base"  # the packaged Whisper base: offline, and fast enough to hear every line
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


def recognizer(name: str = RECOGNIZER, model: str = MODEL) -> Recognizer:
    """The back-transcription's recognizer, by name from the ASR registry (its model loads on first use)."""
    return RECOGNIZERS.create(name, options=AsrOptions(model=model, vad=False))


def backcheck(track: DubTrack, clips: Path, texts: Mapping[str, str], asr: Recognizer, *,
              advance: Callable[[int], None] = lambda n: None) -> dict[str, float]:
    """Line id -> CER of the dubbed clip's transcription by `asr` against its target text (capped at 1.0);
    a language Whisper does not know scores no line."""
    language = track.language.split("-")[0].lower()
    if language in _NO_WHISPER:
        return {}
    out = {}
    for line in track.lines:
        heard = asr.transcribe_clip(clips / line.clip, language, max_tokens=MAX_TOKENS)
        out[line.id] = cer(texts.get(line.id, ""), heard)
        log.debug("%s: heard %r, CER %.2f", line.id, heard, out[line.id])
        advance(1)
    return out
