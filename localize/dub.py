"""Dub one market: a clip per line, fitted to its slot."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import soundfile as sf

from .artifacts import DubLine, DubTrack, Line, TargetLine
from .media.ffmpeg import run_ffmpeg, stretch_argv
from .tts import Synthesizer
from .tts.fit import plan_fit, trim_silence

log = logging.getLogger(__name__)
DUB_RATE = 48000


def dub_lines(
    lines: Sequence[Line],
    targets: Sequence[TargetLine],
    *,
    synthesizer: Synthesizer,
    voice: str,
    language: str,
    max_speed: float,
    out_dir: Path,
    advance: Callable[[int], None] = lambda n: None,
) -> DubTrack:
    dubbed = []
    for line, target in zip(lines, targets, strict=True):
        clip = f"{line.id}.wav"
        raw = out_dir / f"{line.id}.raw.wav"
        trimmed = out_dir / f"{line.id}.trim.wav"
        if not target.text.strip():
            advance(1)
            continue
        synthesizer.synthesize(target.text, voice, raw)
        samples, rate = sf.read(raw, dtype="float32", always_2d=False)
        samples = trim_silence(samples, rate)
        sf.write(trimmed, samples, rate, subtype="PCM_16")
        natural_ms = round(len(samples) * 1000 / rate)
        fit = plan_fit(natural_ms, line.start_ms, line.end_ms, max_speed)
        run_ffmpeg(stretch_argv(trimmed, out_dir / clip, speed=fit.speed, rate=DUB_RATE), f"fitting {line.id}")
        real_ms = round(sf.info(out_dir / clip).duration * 1000)
        raw.unlink()
        trimmed.unlink()
        dubbed.append(
            DubLine(
                id=line.id, slot_start_ms=line.start_ms, slot_end_ms=line.end_ms,
                dub_start_ms=fit.start_ms, dub_end_ms=fit.start_ms + real_ms, natural_ms=natural_ms,
                speed=fit.speed, overflow_ms=max(0, fit.start_ms + real_ms - line.end_ms), clip=clip,
            )
        )
        log.debug("%s: %d ms -> slot %d ms at %.2fx", line.id, natural_ms, line.duration_ms, fit.speed)
        advance(1)
    return DubTrack(
        language=language, backend=synthesizer.name, voice=voice, sample_rate=DUB_RATE,
        max_speed=max_speed, lines=tuple(dubbed),
    )
