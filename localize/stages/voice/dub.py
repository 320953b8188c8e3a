"""Dub one market: a clip per line, fitted to its slot, at the original line's loudness.

All clips are synthesized first, so :func:`localize.stages.voice.tts.fit.plan_track` can place
each one knowing its neighbours (stretch, borrow silence, never overlap). Then
each clip is stretched and given the original line's loudness relative to the
episode: shouts stay loud and whispers soft.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from localize.core.artifacts import DubLine, DubTrack, Line, TargetLine
from localize.core.cache import ArtifactStore, file_sha256
from localize.core.media.ffmpeg import run_ffmpeg, stretch_argv
from localize.core.stage import Stage
from localize.stages.voice.casting import (
    CROSS_SHIFT,
    MAX_SHIFT,
    CharacterVoice,
    cut,
    pitch_range_st,
    pitch_ratio,
    qualified,
    split_voice,
)
from localize.stages.voice.tts import Synthesizer
from localize.stages.voice.tts.fit import plan_track, trim_silence

log = logging.getLogger(__name__)
DUB_RATE = 48000
MAX_DELIVERY_DB = 9.0  # how far a line's loudness may move from the episode's typical line
# One synthesized line, edge silence trimmed (cached across dubs); bumped when what a clip holds changes.
CLIP = Stage("clip", version=0)


def _level_db(samples: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return 20 * np.log10(max(rms, 1e-6))


def original_levels(audio: Path, lines: Sequence[Line]) -> list[float]:
    """Each line's RMS level in dBFS in the original audio (16 kHz mono)."""
    samples, rate = sf.read(audio, dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    return [_level_db(samples[int(ln.start_ms * rate / 1000):int(ln.end_ms * rate / 1000)]) for ln in lines]


def delivery_gains(original_db: Sequence[float], clip_db: Sequence[float]) -> list[float]:
    """dB to add to each clip so its level relative to the other clips follows the original's."""
    if not original_db:
        return []
    base_orig, base_clip = float(np.median(original_db)), float(np.median(clip_db))
    return [round(float(np.clip((o - base_orig) - (c - base_clip), -MAX_DELIVERY_DB, MAX_DELIVERY_DB)), 2)
            for o, c in zip(original_db, clip_db, strict=True)]


def pitch_ranges(audio: Path, lines: Sequence[Line]) -> dict[str, int]:
    """Each line's intonation range relative to its speaker's typical line, in percent (100: typical),
    for backends that take it: an excited line keeps its wide melody, a flat one stays flat."""
    try:
        import librosa  # noqa: F401  (the `speakers` extra)
    except ImportError:
        log.info("pitch range needs librosa (pip install 'localize[speakers]'); lines keep the voice's own")
        return {}
    samples, rate = sf.read(audio, dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    measured = {ln.id: pitch_range_st(cut(samples, rate, [(ln.start_ms, ln.end_ms)]), rate) for ln in lines}
    typical = {}
    for speaker in {ln.speaker for ln in lines}:
        ranges = [measured[ln.id] for ln in lines if ln.speaker == speaker and measured[ln.id] > 0]
        typical[speaker] = float(np.median(ranges)) if ranges else 0.0
    return {ln.id: int(round(np.clip(100 * measured[ln.id] / typical[ln.speaker], 40, 200) / 10) * 10)
            for ln in lines if measured[ln.id] > 0 and typical[ln.speaker] > 0}


def _references(voices: Mapping[str, CharacterVoice], original: Path | None, out_dir: Path,
                chosen: Mapping[str, Path]) -> dict[str, Path]:
    """Each character's reference clip for a cloning backend: the user's `chosen` clip, else their
    cleanest original speech."""
    out = dict(chosen)
    if original is None:
        return out
    samples, rate = sf.read(original, dtype="float32", always_2d=False)
    for speaker, cast in voices.items():
        if speaker in out:
            continue
        clip = cut(samples, rate, cast.reference)
        if clip.size:
            out[speaker] = out_dir / f"reference-{speaker}.wav"
            sf.write(out[speaker], clip, rate, subtype="PCM_16")
    return out


def _pitch(pitch: dict[str, float], line: Line, line_voices: Mapping[str, str]) -> float:
    return 1.0 if line.id in line_voices else pitch.get(line.speaker, 1.0)


def synthesize_line(synthesizer: Synthesizer, text: str, voice: str, reference: Path | None, out: Path,
                    store: ArtifactStore | None, pitch_range: int = 100) -> tuple[np.ndarray, int]:
    """The line's clip with its edge silence trimmed; with a store, cached per line (text, voice,
    reference, pitch range), so an edit of one line re-synthesizes only that line."""
    def build(tmp: Path) -> None:
        raw = tmp / "raw.wav"
        synthesizer.synthesize(text, voice, raw, reference=reference, pitch_range=pitch_range)
        samples, rate = sf.read(raw, dtype="float32", always_2d=False)
        sf.write(tmp / "clip.wav", trim_silence(samples, rate), rate, subtype="PCM_16")
        raw.unlink()

    def load(path: Path) -> tuple[np.ndarray, int]:
        return sf.read(path / "clip.wav", dtype="float32", always_2d=False)

    if store is None:
        out.mkdir(parents=True, exist_ok=True)
        build(out)
        clip = load(out)
        (out / "clip.wav").unlink()
        return clip
    key = CLIP.key(inputs=[file_sha256(reference)] if reference else [], backend=synthesizer.name,
                   model_version=synthesizer.model_version(voice),
                   options={"text": text, "voice": voice, **({"range": pitch_range} if pitch_range != 100 else {})})
    return CLIP.cached(store, key, build, load)


@dataclass(frozen=True, slots=True)
class DubRequest:
    """What one market's dub speaks with and fits into: everything :func:`dub_lines` needs but the lines,
    where their clips go and the cache."""

    synthesizer: Synthesizer
    voice: str  # the market's voice: a speaker the cast gives none speaks in it
    language: str
    max_speed: float  # the fastest a clip may be stretched to fit its slot
    duration_ms: int  # the episode's: the last line may borrow silence up to it
    # The episode's speech (16 kHz mono): each line's loudness and intonation, and the cast's reference
    # clips for a cloning backend; without it the clips keep their own level and range.
    original: Path | None = None
    # The cast's voice per speaker (localize.stages.voice.casting); without it every line uses `voice` and
    # nothing is pitch-shifted.
    voices: Mapping[str, CharacterVoice] = field(default_factory=dict)
    line_voices: Mapping[str, str] = field(default_factory=dict)  # line id -> a voice a reviewer chose for it
    # Line id -> the machine's text of a line a reviewer edited. A character's pitch shift is measured on the
    # machine's lines in the cast voice (cached clips), so a reviewer's edit or re-voice of one line does
    # not move the pitch of the character's other lines.
    machine_text: Mapping[str, str] = field(default_factory=dict)
    # Speaker -> a user's recording a cloning backend speaks them like (localize.stages.voice.references),
    # over their cleanest speech in `original`.
    references: Mapping[str, Path] = field(default_factory=dict)
    # Backend name -> synthesizer, for characters the cast gives another backend than `synthesizer`
    # (CharacterVoice.backend) and for a reviewer's "<backend>:<voice>".
    synthesizers: Mapping[str, Synthesizer] = field(default_factory=dict)


def dub_lines(
    lines: Sequence[Line],
    targets: Sequence[TargetLine],
    request: DubRequest,
    *,
    out_dir: Path,
    store: ArtifactStore | None = None,
    advance: Callable[[int], None] = lambda n: None,
) -> DubTrack:
    """A clip per line with text in `out_dir`, fitted to its slot, and the track describing them.

    `store`: caches each synthesized line, so re-dubbing after one edit synthesizes one line."""
    synthesizer, voice, original = request.synthesizer, request.voice, request.original
    voices, line_voices, machine_text = request.voices, request.line_voices, request.machine_text
    todo = [(ln, t) for ln, t in zip(lines, targets, strict=True) if t.text.strip()]
    synths = {synthesizer.name: synthesizer, **request.synthesizers}
    references = (_references(voices, original, out_dir, request.references)
                  if any(s.clones for s in synths.values()) else {})
    naturals: list[int] = []
    trimmed_clips: dict[str, list[tuple[np.ndarray, int]]] = {}
    spoken = {}
    ranges = (pitch_ranges(original, [ln for ln, _ in todo])
              if original is not None and any(s.expressive for s in synths.values()) else {})
    for line, target in todo:
        cast = voices.get(line.speaker)
        cast_synth = synths.get(cast.backend, synthesizer) if cast and cast.backend else synthesizer
        reference = references.get(line.speaker)
        # A service that makes a voice from the reference clip ('clone') names the voice it made.
        cast_voice = cast_synth.voice_for(cast.voice if cast else voice, reference)
        line_synth, line_voice = cast_synth, cast_voice
        if line.id in line_voices:  # a reviewer's voice: the lead backend's, or "<backend>:<voice>"
            name, line_voice = split_voice(line_voices[line.id], synthesizer.name, synths)
            line_synth = synths[name]
        spoken[line.id] = qualified(line_synth.name, line_voice, synthesizer.name)
        samples, rate = synthesize_line(line_synth, target.text, line_voice, reference if line_synth.clones else None,
                                        out_dir / f"{line.id}.synth", store,
                                        ranges.get(line.id, 100) if line_synth.expressive else 100)
        sf.write(out_dir / f"{line.id}.trim.wav", samples, rate, subtype="PCM_16")
        if line.id in machine_text or line.id in line_voices:
            trimmed_clips.setdefault(line.speaker, []).append(synthesize_line(
                cast_synth, machine_text.get(line.id, target.text), cast_voice,
                reference if cast_synth.clones else None, out_dir / f"{line.id}.synth", store,
                ranges.get(line.id, 100) if cast_synth.expressive else 100))
        else:
            trimmed_clips.setdefault(line.speaker, []).append((samples, rate))
        naturals.append(round(len(samples) * 1000 / rate))
        advance(1)
    advance(len(lines) - len(todo))
    pitch = {spk: (voices[spk].pitch or pitch_ratio(
        voices[spk].f0_hz, [c for c, _ in clips], clips[0][1],
        cap=CROSS_SHIFT if voices[spk].flag == "other class" else MAX_SHIFT))
        if spk in voices else 1.0 for spk, clips in trimmed_clips.items()}
    fits = plan_track(naturals, [(ln.start_ms, ln.end_ms) for ln, _ in todo], max_speed=request.max_speed,
                      duration_ms=request.duration_ms)
    clips = []
    for (line, _), fit in zip(todo, fits, strict=True):
        trimmed = out_dir / f"{line.id}.trim.wav"
        run_ffmpeg(stretch_argv(trimmed, out_dir / f"{line.id}.wav", speed=fit.speed, rate=DUB_RATE,
                                pitch=_pitch(pitch, line, line_voices)), f"fitting {line.id}")
        trimmed.unlink()
        clips.append(sf.read(out_dir / f"{line.id}.wav", dtype="float32", always_2d=False)[0])
    gains = [0.0] * len(todo)
    if original is not None and todo:
        gains = delivery_gains(original_levels(original, [ln for ln, _ in todo]), [_level_db(c) for c in clips])
    dubbed = []
    for (line, _), fit, natural, clip, gain in zip(todo, fits, naturals, clips, gains, strict=True):
        if gain:
            clip = clip * np.float32(10 ** (gain / 20))
            peak = float(np.max(np.abs(clip))) if clip.size else 0.0
            if peak > 0.99:
                clip = clip * np.float32(0.99 / peak)
            sf.write(out_dir / f"{line.id}.wav", clip, DUB_RATE, subtype="PCM_16")
        real_ms = round(len(clip) * 1000 / DUB_RATE)
        dubbed.append(DubLine(
            id=line.id, slot_start_ms=line.start_ms, slot_end_ms=line.end_ms, dub_start_ms=fit.start_ms,
            dub_end_ms=fit.start_ms + real_ms, natural_ms=natural, speed=fit.speed,
            overflow_ms=max(0, fit.start_ms + real_ms - max(line.end_ms, fit.end_ms - fit.overflow_ms)),
            clip=f"{line.id}.wav", decision=fit.decision, borrowed_ms=fit.borrowed_ms, gain_db=gain,
            voice=spoken[line.id], pitch=_pitch(pitch, line, line_voices), pitch_range=ranges.get(line.id, 100),
        ))
        log.debug("%s: %d ms in a %d ms slot: %s at %.2fx, %+.1f dB", line.id, natural, line.duration_ms,
                  fit.decision, fit.speed, gain)
    return DubTrack(
        language=request.language, backend=synthesizer.name, voice=voice, sample_rate=DUB_RATE,
        max_speed=request.max_speed, lines=tuple(dubbed),
    )
