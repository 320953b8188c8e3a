"""An episode's voice stage run on its ground truth: the truth's lines and speakers as the script, a
translation given line by line, the original speech as the episode audio, and a series cast; then the
dub's back-transcription word error rate (Whisper base, the packaged model)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from localize.core.artifacts import Cast, Character, DubTrack, Line, Script, TargetLine, Translation
from localize.core.cache import ArtifactStore
from localize.core.markets import Market
from localize.core.media.ffmpeg import run_ffmpeg
from localize.core.options import RunOptions
from localize.core.progress import NullProgress
from localize.core.stage import Built
from localize.stages.audio.stage import Audio
from localize.stages.script.speakers.cast import CastRegistry
from localize.stages.voice.stage import Voice, cast_market_voices, dub_market, remember_pitch


@dataclass(frozen=True)
class Episode:
    script: Script
    translation: Translation
    audio: Audio


def load_episode(media: Path, truth: Path, tmp: Path, *, text_key: str,
                 english: Sequence[str] | None = None) -> Episode:
    """The truth file's lines (speaker, times, `text_key`) with `english` (else each line's "en") as the
    translation, and the media's speech at 16 kHz mono."""
    data = json.loads(truth.read_text(encoding="utf-8"))
    lines = tuple(Line(id=f"L{i + 1:03d}", start_ms=int(t["start_ms"]), end_ms=int(t["end_ms"]),
                       text=str(t[text_key]), speaker=str(t["speaker"]), origin="imported")
                  for i, t in enumerate(data["lines"]))
    texts = list(english) if english is not None else [str(t["en"]) for t in data["lines"]]
    asr = tmp / "speech16k.wav"
    run_ffmpeg(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-i", str(media), "-vn", "-ac", "1", "-ar", "16000",
                "-c:a", "pcm_s16le", str(asr)], "reading the test episode's audio")
    script = Script(language="zh", duration_ms=int(data["duration_ms"]), lines=lines, backend="truth", model="truth")
    translation = Translation(source_language="zh", target_language="en", lines=tuple(
        TargetLine(id=ln.id, source_text=ln.text, text=text, route=("truth",)) for ln, text in zip(lines, texts,
                                                                                                   strict=True)))
    return Episode(script, translation, Audio(key=f"truth:{truth.name}", asr=asr, bed=asr))


def make_cast(path: Path, voices: Mapping[str, Mapping[str, str]]) -> RunOptions:
    """A series cast whose characters are the speakers in `voices` (speaker -> backend -> voice)."""
    characters = tuple(Character(id=spk, name=spk, embedding=(1.0,), voices=dict(v), episodes=(), lines=1)
                       for spk, v in voices.items())
    CastRegistry(Cast(series="test", characters=characters), path).save(path)
    return RunOptions(cast_file=path, series="test")


def dub_episode(episode: Episode, market: Market, voice: Voice, store: ArtifactStore,
                options: RunOptions) -> Built[DubTrack]:
    """The voice stage as the pipeline runs it: casting (the series cast's voices), the dub, and the cast
    keeping what the dub chose."""
    tr_key = f"translation:{episode.audio.key}"
    voices = cast_market_voices(market, voice, episode.script, tr_key, episode.translation, episode.audio, options,
                                store)
    dub = dub_market(market, voice, tr_key, episode.script, episode.translation, store, NullProgress(),
                     episode.audio, voices)
    remember_pitch(options, episode.script, dub.value)
    return dub


def back_wer(dub: Built[DubTrack], texts: Mapping[str, str]) -> tuple[float, dict[str, str]]:
    """The dub's word error rate against `texts` (all lines together), and what Whisper base heard per line."""
    import jiwer

    from localize.stages.voice import backcheck

    asr = backcheck.recognizer()
    try:
        heard = {ln.id: asr.transcribe_clip(dub.path / ln.clip, "en", max_tokens=backcheck.MAX_TOKENS)
                 for ln in dub.value.lines}
    finally:
        asr.release()
    ids = sorted(heard)
    ref = [backcheck.normalise(texts[i]) for i in ids]
    hyp = [backcheck.normalise(heard[i]) for i in ids]
    return round(float(jiwer.wer(ref, hyp)), 3), heard


__all__ = ["Episode", "back_wer", "dub_episode", "load_episode", "make_cast"]
