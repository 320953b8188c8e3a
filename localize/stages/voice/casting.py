"""Voice casting: a voice per character, kept across the series, nudged toward the actor.

For every speaker of the script:
- a **reference**: the cleanest 6-12 s of that character's original speech (longest,
  most confidently recognized lines first), for backends that clone a voice;
- a **voice**: the one the series cast already chose for this backend, or else, for a
  backend with variants (espeak-ng), the variant of the actor's pitch class (male or
  female) whose speaker embedding, saying one of the character's lines, is closest to the
  actor's (without resemblyzer: the next unused variant), a different one per character;
  the choice is stored in the cast so episode 7's heroine speaks as she did in episode 1;
- a **pitch ratio**: how far to shift the synthesized voice toward the actor's median
  pitch (formants move with it, as in a simple pitch shift), within +-4 semitones.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from localize.core.artifacts import Line

log = logging.getLogger(__name__)

FEMALE_HZ = 165.0  # median F0 above which a voice reads as female
MAX_SHIFT = 2 ** (4 / 12)  # +-4 semitones
ESPEAK_VARIANTS = {"m": ("m3", "m1", "m6", "m4", "m7", "m2"), "f": ("f3", "f1", "f4", "f2", "f5")}


@dataclass(frozen=True, slots=True, kw_only=True)
class CharacterVoice:
    speaker: str
    voice: str
    f0_hz: float  # the actor's median pitch; 0 when unknown
    reference: tuple[tuple[int, int], ...] = ()  # spans (ms) of the cleanest original speech
    pitch: float = 0.0  # the series cast's pitch ratio for this voice; 0: measure it on this episode


def voiced_f0(samples: np.ndarray, rate: int) -> np.ndarray:
    """Pitch (Hz, YIN) of the frames loud enough to be voice; empty when there is too little audio."""
    if samples.size < rate // 4:
        return np.zeros(0)
    import librosa

    frame = 1024 if rate >= 16000 else 512
    f0 = librosa.yin(samples.astype(np.float32), fmin=65, fmax=400, sr=rate, frame_length=frame)
    rms = librosa.feature.rms(y=samples.astype(np.float32), frame_length=frame, hop_length=frame // 4)[0]
    n = min(len(f0), len(rms))
    return f0[:n][rms[:n] > max(rms.max() * 0.1, 1e-4)]


def median_f0(samples: np.ndarray, rate: int) -> float:
    """Median pitch of the voiced frames (YIN), 0.0 when there is too little voice."""
    voiced = voiced_f0(samples, rate)
    return float(np.median(voiced)) if voiced.size >= 5 else 0.0


def pitch_range_st(samples: np.ndarray, rate: int) -> float:
    """The intonation range of a stretch of speech: semitones between its 10th and 90th pitch percentile
    (0.0 when there is too little voice)."""
    voiced = voiced_f0(samples, rate)
    if voiced.size < 5:
        return 0.0
    low, high = np.percentile(voiced, [10, 90])
    return float(12 * np.log2(high / low))


def reference_spans(lines: Sequence[Line], *, min_ms: int = 6000, max_ms: int = 12000) -> tuple[tuple[int, int], ...]:
    """The character's cleanest speech: confident lines of 1-8 s first, up to `max_ms` in all."""
    ranked = sorted((ln for ln in lines if ln.duration_ms >= 500),
                    key=lambda ln: (1000 <= ln.duration_ms <= 8000, ln.confidence, ln.duration_ms), reverse=True)
    chosen, total = [], 0
    for ln in ranked:
        if total >= min_ms and total + ln.duration_ms > max_ms:
            break
        chosen.append((ln.start_ms, min(ln.end_ms, ln.start_ms + max_ms - total)))
        total += chosen[-1][1] - chosen[-1][0]
        if total >= max_ms:
            break
    return tuple(sorted(chosen))


def cut(samples: np.ndarray, rate: int, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    parts = [samples[int(a * rate / 1000):int(b * rate / 1000)] for a, b in spans]
    return np.concatenate(parts) if parts else samples[:0]


def cast_voices(
    lines: Sequence[Line],
    *,
    backend: str,
    base_voice: str,
    audio: Path,
    chosen: dict[str, str] | None = None,
    pitch: bool = True,
    audition: Callable[[str, str], Path] | None = None,
    probes: dict[str, str] | None = None,
    chosen_pitch: dict[str, float] | None = None,
) -> dict[str, CharacterVoice]:
    """A voice per speaker. `chosen`: speaker -> voice the series cast already gave them.

    With `audition` (voice, text -> a WAV of that voice saying it) and `probes` (speaker -> a line
    of theirs in the market language), the candidate variants of the actor's pitch class each say
    the probe line and the one whose speaker embedding is closest to the actor's wins.
    """
    samples, rate = sf.read(audio, dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    by_speaker: dict[str, list[Line]] = defaultdict(list)
    for ln in lines:
        by_speaker[ln.speaker].append(ln)
    used: dict[str, int] = defaultdict(int)
    out: dict[str, CharacterVoice] = {}
    for speaker in sorted(by_speaker, key=lambda s: by_speaker[s][0].start_ms):
        spans = reference_spans(by_speaker[speaker])
        f0 = 0.0
        if pitch:
            try:
                f0 = median_f0(cut(samples, rate, spans), rate)
            except ImportError:  # librosa comes with the `speakers` extra
                log.info("pitch matching needs librosa (pip install 'localize[speakers]'); skipped")
                pitch = False
        voice = (chosen or {}).get(speaker)
        if not voice and audition and probes and speaker in probes and backend == "espeak" and f0:
            voice = _closest_variant(base_voice, f0, cut(samples, rate, spans), rate, audition, probes[speaker],
                                     taken={v.voice for v in out.values()})
        voice = voice or _variant(backend, base_voice, f0, used)
        kept_pitch = (chosen_pitch or {}).get(speaker, 0.0) if voice == (chosen or {}).get(speaker) else 0.0
        out[speaker] = CharacterVoice(speaker=speaker, voice=voice, f0_hz=round(f0, 1), reference=spans,
                                      pitch=kept_pitch)
        log.info("casting: %s (%.0f Hz) -> %s:%s", speaker, f0, backend, voice)
    return out


def _closest_variant(base_voice: str, f0: float, actor: np.ndarray, rate: int,
                     audition: Callable[[str, str], Path], probe: str, taken: set[str]) -> str | None:
    """The variant of the actor's pitch class whose voice embedding is closest to the actor's."""
    try:
        from resemblyzer import VoiceEncoder, preprocess_wav
    except ImportError:  # the `speakers` extra
        return None
    encoder = VoiceEncoder("cpu", verbose=False)
    target = encoder.embed_utterance(preprocess_wav(actor, source_sr=rate))
    kind = "f" if f0 >= FEMALE_HZ else "m"
    scores = {}
    for variant in ESPEAK_VARIANTS[kind]:
        voice = f"{base_voice.split('+')[0]}+{variant}"
        if voice in taken:
            continue
        scores[voice] = float(encoder.embed_utterance(preprocess_wav(audition(voice, probe))) @ target)
    if not scores:
        return None
    best = max(scores, key=scores.__getitem__)
    log.info("casting: auditioned %s", ", ".join(f"{v} {c:.3f}" for v, c in sorted(scores.items())))
    return best


def _variant(backend: str, base_voice: str, f0: float, used: dict[str, int]) -> str:
    if backend != "espeak" or not f0:
        return base_voice
    kind = "f" if f0 >= FEMALE_HZ else "m"
    options = ESPEAK_VARIANTS[kind]
    pick = options[used[kind] % len(options)]
    used[kind] += 1
    return f"{base_voice.split('+')[0]}+{pick}"


def pitch_ratio(actor_f0: float, clips: Sequence[np.ndarray], rate: int) -> float:
    """Frequency ratio that moves the synthesized clips' median pitch to the actor's (1.0: none)."""
    if not actor_f0 or not clips:
        return 1.0
    voice_f0 = median_f0(np.concatenate(clips), rate)
    if not voice_f0:
        return 1.0
    return round(float(np.clip(actor_f0 / voice_f0, 1 / MAX_SHIFT, MAX_SHIFT)), 4)
