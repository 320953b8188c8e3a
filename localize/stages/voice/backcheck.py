"""Back-transcription: does each dubbed line say what its target text says?

Each dub clip is transcribed by the packaged Whisper model in the market's language (several clips
to a Whisper window where the recognizer can: ``transcribe_clips``), and the
character error rate against the line's target text (case, punctuation and spacing ignored) goes
into the report, so a reviewer sees at a glance which lines a listener would mishear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
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


RECUT_WORDS = 2  # how far a cut between two packed clips may move


def recut(words: Sequence[Sequence[str]], windows: Sequence[int], refs: Sequence[str]) -> list[list[str]]:
    """Each clip's words, with every cut between neighbours heard in the same window moved by up to
    RECUT_WORDS words where that lowers the two lines' CER against their texts: Whisper's word times stretch
    over the silence between packed clips, and on LJSpeech "in being comparatively modern" lost its "in" to
    the clip before. The words themselves are never changed, only which clip they count for."""
    out = [list(w) for w in words]
    for k in range(len(out) - 1):
        if windows[k] != windows[k + 1]:
            continue
        a, b = out[k], out[k + 1]
        options = [(a, b)]
        options += [(a[:-i], a[-i:] + b) for i in range(1, min(RECUT_WORDS, len(a)) + 1)]
        options += [(a + b[:i], b[i:]) for i in range(1, min(RECUT_WORDS, len(b)) + 1)]
        out[k], out[k + 1] = min(options, key=lambda o: cer(refs[k], "".join(o[0])) + cer(refs[k + 1], "".join(o[1])))
    return out


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
    refs = [texts.get(line.id, "") for line in track.lines]
    many = getattr(asr, "transcribe_clips", None)  # a recognizer that hears several clips in one pass
    if many is not None and len(track.lines) > 1:
        heard = many([clips / line.clip for line in track.lines], language, max_tokens=MAX_TOKENS)
        said = ["".join(words) for words in recut([h.words for h in heard], [h.window for h in heard], refs)]
        advance(len(track.lines))
    else:
        said = []
        for line in track.lines:
            said.append(asr.transcribe_clip(clips / line.clip, language, max_tokens=MAX_TOKENS))
            advance(1)
    out = {}
    for line, ref, text in zip(track.lines, refs, said, strict=True):
        out[line.id] = cer(ref, text)
        log.debug("%s: heard %r, CER %.2f", line.id, text, out[line.id])
    return out
