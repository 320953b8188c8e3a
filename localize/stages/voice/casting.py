"""Voice casting: a voice per character, kept across the series, fitting the actor.

For every speaker of the script:
- a **reference**: the cleanest 6-12 s of that character's original speech (longest,
  most confidently recognized lines first), for backends that clone a voice;
- a **voice**, as a (backend, voice) pair from the market's ordered backend list: the one the series
  cast already gave the character (for the first backend of the list it holds one for; a carried voice
  measured unclear in this language, above :data:`GOOD_ERROR`, gives way to a clear free voice of the same
  backend and pitch class, so en-US's jf_alpha does not carry into Spanish at 28.6 % WER), or else a
  distinct voice of the actor's pitch class (female from 165 Hz), chosen by measured speaker similarity
  (resemblyzer: each candidate says one of the character's lines) among the free voices of that class
  of the best tier of backends: first those measured clear in the language (back-transcription error
  at most :data:`GOOD_ERROR` in voices.toml; espeak-ng never), then each other backend alone in the
  market's order, espeak-ng always last (a robotic voice never wins an audition over a worse-measured
  natural one).
  A backend's voices of a class are its measured ones (voices.toml, written by bench/bench_tts.py:
  Kokoro's styles and blends, Piper's voices, each with its median F0) and espeak-ng's variants. Only
  when no backend has a free voice of the class does a voice of the other class get pitch-shifted
  toward the actor (``flag="other class"``, the last resort); with no free voice at all, voices repeat
  (``flag="shared"``). The choice is stored in the cast so episode 7's heroine speaks as she did in
  episode 1;
- a **pitch ratio**: how far to shift the synthesized voice toward the actor's median
  pitch (formants move with it, as in a simple pitch shift), within +-4 semitones (+-12 for a voice of
  the other class).
"""

from __future__ import annotations

import functools
import logging
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from localize.core.artifacts import Line

log = logging.getLogger(__name__)

FEMALE_HZ = 165.0  # median F0 above which a voice reads as female
MAX_SHIFT = 2 ** (4 / 12)  # +-4 semitones
CROSS_SHIFT = 2.0  # +-12 semitones: a voice of the other pitch class moved to the actor (the last resort)
ESPEAK_VARIANTS = {"m": ("m3", "m1", "m6", "m4", "m7", "m2"), "f": ("f3", "f1", "f4", "f2", "f5")}
# A backend whose back-transcription error in the language is at most this (voices.toml) is clear enough to
# cast from before the others; the bar for a shipped dub.
GOOD_ERROR = 0.2
LAST_RESORT = "espeak"  # robotic: cast from only when no other backend has a voice of the class
VOICES_FILE = Path(__file__).with_name("voices.toml")


@dataclass(frozen=True, slots=True, kw_only=True)
class CharacterVoice:
    speaker: str
    voice: str
    f0_hz: float  # the actor's median pitch; 0 when unknown
    reference: tuple[tuple[int, int], ...] = ()  # spans (ms) of the cleanest original speech
    pitch: float = 0.0  # the series cast's pitch ratio for this voice; 0: measure it on this episode
    backend: str = ""  # the TTS backend speaking `voice`; "": the market's first
    # "" | "other class" (a voice of the other pitch class, shifted toward the actor) | "shared" (no free voice)
    flag: str = ""
    similarity: float = 0.0  # resemblyzer cosine of the chosen voice's audition to the actor (0: not auditioned)


@dataclass(frozen=True, slots=True)
class MeasuredVoice:
    """One voice's row of voices.toml: its back-transcription error in a language and its median F0."""

    backend: str
    voice: str
    error: float
    f0_hz: float

    @property
    def kind(self) -> str:
        return "f" if self.f0_hz >= FEMALE_HZ else "m"


@functools.cache
def measured_voices(path: Path = VOICES_FILE) -> dict[str, tuple[MeasuredVoice, ...]]:
    """Language -> its measured voices (voices.toml), lowest error first; empty without the file."""
    if not path.is_file():
        return {}
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    out = {}
    for language, rows in raw.items():
        voices = [MeasuredVoice(backend=key.partition(":")[0], voice=key.partition(":")[2],
                                error=float(row["error"]), f0_hz=float(row["f0_hz"])) for key, row in rows.items()]
        out[language] = tuple(sorted(voices, key=lambda v: (v.error, v.backend, v.voice)))
    return out


def backend_errors(language: str, path: Path = VOICES_FILE) -> dict[str, float]:
    """Backend -> the error of its clearest measured voice in `language`."""
    out: dict[str, float] = {}
    for v in measured_voices(path).get(language, ()):
        out.setdefault(v.backend, v.error)
    return out


def auto_backends(language: str, path: Path = VOICES_FILE) -> list[str]:
    """A market's ``tts = ["auto"]``: the backends measured in `language`, clearest first (espeak-ng last on a
    tie), and espeak-ng always, as the last resort."""
    errors = backend_errors(language, path)
    order = sorted(errors, key=lambda b: (errors[b], b == LAST_RESORT, b))
    return order if LAST_RESORT in order else [*order, LAST_RESORT]


def kind_of(f0: float) -> str:
    """The pitch class casting matches: "f" from FEMALE_HZ, "m" below, "" unknown."""
    return "" if not f0 else ("f" if f0 >= FEMALE_HZ else "m")


def retarget(backend: str, voice: str, base_voice: str) -> str:
    """A voice the cast keeps for `backend`, said in the market's language (that of `base_voice`): Kokoro's
    style and espeak-ng's variant carry across languages ("en-us/jf_alpha" in pt-BR is "pt-br/jf_alpha")."""
    if backend == "kokoro" and "/" in voice and "/" in base_voice:
        return f"{base_voice.partition('/')[0]}/{voice.partition('/')[2]}"
    if backend == "espeak" and base_voice:
        variant = voice.partition("+")[2]
        return f"{base_voice.partition('+')[0]}+{variant}" if variant else base_voice.partition("+")[0]
    return voice


def candidates(backend: str, base_voice: str, language: str, kind: str, path: Path = VOICES_FILE) -> list[str]:
    """The voices of pitch class `kind` that `backend` offers in the market's language, clearest first: the
    measured ones (voices.toml) at most GOOD_ERROR; with none that clear, those no less clear than espeak-ng
    there (all when it is not measured), at least its clearest of the class; espeak-ng's variants. A backend
    measured nowhere offers its market voice (its class unknown)."""
    if backend == "espeak":
        return [f"{base_voice.partition('+')[0]}+{v}" for v in ESPEAK_VARIANTS[kind]]
    measured = [v for v in measured_voices(path).get(language, ()) if v.backend == backend]
    if not measured:
        return [base_voice]
    mine = [v for v in measured if v.kind == kind]
    good = [v for v in mine if v.error <= GOOD_ERROR]
    if not good:
        floor = backend_errors(language, path).get(LAST_RESORT)
        good = [v for v in mine if floor is None or v.error <= floor] or mine[:1]
    return list(dict.fromkeys(retarget(backend, v.voice, base_voice) for v in good))


def qualified(backend: str, voice: str, lead: str) -> str:
    """A dub line's voice: plain when the market's first backend speaks it, else "<backend>:<voice>"."""
    return voice if backend == lead or not backend else f"{backend}:{voice}"


def split_voice(voice: str, lead: str, backends: Iterable[str]) -> tuple[str, str]:
    """(backend, voice) of a possibly qualified voice ("kokoro:en-us/jf_alpha"); plain: the lead backend's."""
    name, sep, rest = voice.partition(":")
    return (name, rest) if sep and name in set(backends) else (lead, voice)


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
    backends: Sequence[tuple[str, str]],
    language: str,
    audio: Path,
    chosen: Mapping[str, tuple[str, str]] | None = None,
    chosen_pitch: Mapping[str, float] | None = None,
    pitch: bool = True,
    audition: Callable[[str, str, str], Path] | None = None,
    probes: Mapping[str, str] | None = None,
    clones: Iterable[str] = (),
    voices_file: Path = VOICES_FILE,
) -> dict[str, CharacterVoice]:
    """A (backend, voice) per speaker, from the market's `backends` ((name, market voice) in order).

    `chosen`: speaker -> (backend, voice) the series cast already gave them (said in this language).
    With `audition` ((backend, voice, text) -> a WAV of that voice saying it) and `probes` (speaker -> a
    line of theirs in the market language), the candidates each say the probe line and the one whose
    speaker embedding is closest to the actor's wins. `clones`: backends that speak each character's own
    reference, whose one voice every character may share.
    """
    samples, rate = sf.read(audio, dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    by_speaker: dict[str, list[Line]] = defaultdict(list)
    for ln in lines:
        by_speaker[ln.speaker].append(ln)
    chosen, clones = dict(chosen or {}), set(clones)
    taken = set(chosen.values())
    judge = _Judge(audition) if audition and probes else None
    out: dict[str, CharacterVoice] = {}
    for speaker in sorted(by_speaker, key=lambda s: by_speaker[s][0].start_ms):
        spans = reference_spans(by_speaker[speaker])
        actor = cut(samples, rate, spans)
        f0 = 0.0
        if pitch:
            try:
                f0 = median_f0(actor, rate)
            except ImportError:  # librosa comes with the `speakers` extra
                log.info("pitch matching needs librosa (pip install 'localize[speakers]'); skipped")
                pitch = False
        kind, flag, similarity = kind_of(f0), "", 0.0
        if speaker in chosen:
            backend, voice = chosen[speaker]
            clearer = _clearer(backend, voice, dict(backends), language, taken, voices_file)
            if clearer:
                log.info("casting: %s's cast voice %s:%s is unclear in %s; %s instead", speaker, backend, voice,
                         language, clearer[0])
                voice = clearer[0]
                if len(clearer) > 1 and judge and probes and speaker in probes:
                    (backend, voice), similarity = judge.best([(backend, v) for v in clearer], actor, rate,
                                                              probes[speaker])
        elif not kind:
            backend, voice = backends[0]
        else:
            pool = _pool(backends, language, kind, taken, clones, voices_file)
            if not pool:
                pool, flag = _pool(backends, language, "m" if kind == "f" else "f", taken, clones, voices_file), \
                    "other class"
            if not pool:
                pool, flag = [backends[0]], "shared"
            backend, voice = pool[0]
            if len(pool) > 1 and judge and probes and speaker in probes:
                (backend, voice), similarity = judge.best(pool, actor, rate, probes[speaker])
            if flag:
                log.warning("casting: no free %s voice for %s (%.0f Hz) in %s; %s:%s (%s)",
                            "female" if kind == "f" else "male", speaker, f0, language, backend, voice, flag)
        taken.add((backend, voice))
        kept_pitch = (chosen_pitch or {}).get(speaker, 0.0) if chosen.get(speaker) == (backend, voice) else 0.0
        out[speaker] = CharacterVoice(speaker=speaker, voice=voice, f0_hz=round(f0, 1), reference=spans,
                                      pitch=kept_pitch, backend=backend, flag=flag, similarity=round(similarity, 4))
        log.info("casting: %s (%.0f Hz) -> %s:%s", speaker, f0, backend, voice)
    return out


def measured(backend: str, voice: str, language: str, path: Path = VOICES_FILE) -> MeasuredVoice | None:
    """`voice`'s row of voices.toml in `language` (a Kokoro style measured under another regional espeak voice
    of the language counts: "es-419/jf_alpha" is "es/jf_alpha"'s row), or None when it was not measured."""
    for v in measured_voices(path).get(language, ()):
        if v.backend == backend and retarget(backend, v.voice, voice) == voice:
            return v
    return None


def _clearer(backend: str, voice: str, bases: Mapping[str, str], language: str, taken: set[tuple[str, str]],
             voices_file: Path) -> list[str]:
    """Free voices of `backend` measured clear in `language` of the carried `voice`'s pitch class, when the
    carried one was measured there and is not clear; else none (the cast's voice stays)."""
    row = measured(backend, voice, language, voices_file)
    if row is None or row.error <= GOOD_ERROR or backend == LAST_RESORT:
        return []
    base = bases.get(backend, voice)
    return [v for v in candidates(backend, base, language, row.kind, voices_file)
            if (backend, v) not in taken and (m := measured(backend, v, language, voices_file)) is not None
            and m.error <= GOOD_ERROR]


def _pool(backends: Sequence[tuple[str, str]], language: str, kind: str, taken: set[tuple[str, str]],
          clones: set[str], voices_file: Path) -> list[tuple[str, str]]:
    """The free (backend, voice) candidates of pitch class `kind` of the first tier that has any: the backends
    measured clear in the language (not espeak-ng), then each other backend alone in the market's order, and
    espeak-ng last whatever its measurement."""
    errors = backend_errors(language, voices_file)
    clear = [(b, v) for b, v in backends if b != LAST_RESORT and errors.get(b, 1.0) <= GOOD_ERROR]
    rest = [bv for bv in backends if bv not in clear]
    tiers = [clear, *([bv] for bv in rest if bv[0] != LAST_RESORT), [bv for bv in rest if bv[0] == LAST_RESORT]]
    for tier in tiers:
        pool = [(b, v) for b, base in tier for v in candidates(b, base, language, kind, voices_file)
                if (b, v) not in taken or b in clones]
        if pool:
            return pool
    return []


class _Judge:
    """Speaker similarity of candidate voices to an actor (resemblyzer), each saying the actor's line."""

    def __init__(self, audition: Callable[[str, str, str], Path]) -> None:
        self.audition = audition
        self._encoder: object | None = None

    def best(self, pool: Sequence[tuple[str, str]], actor: np.ndarray, rate: int,
             probe: str) -> tuple[tuple[str, str], float]:
        """The candidate whose audition is closest to `actor`, and its cosine; the first without resemblyzer."""
        try:
            from resemblyzer import VoiceEncoder, preprocess_wav
        except ImportError:  # the `speakers` extra
            return pool[0], 0.0
        if self._encoder is None:
            self._encoder = VoiceEncoder("cpu", verbose=False)
        encoder: VoiceEncoder = self._encoder
        target = encoder.embed_utterance(preprocess_wav(actor, source_sr=rate))
        scores = {bv: float(encoder.embed_utterance(preprocess_wav(self.audition(*bv, probe))) @ target)
                  for bv in pool}
        best = max(pool, key=scores.__getitem__)
        log.info("casting: auditioned %s", ", ".join(f"{b}:{v} {c:.3f}" for (b, v), c in sorted(scores.items())))
        return best, scores[best]


def pitch_ratio(actor_f0: float, clips: Sequence[np.ndarray], rate: int, *, cap: float = MAX_SHIFT) -> float:
    """Frequency ratio that moves the synthesized clips' median pitch to the actor's (1.0: none), within
    1/cap..cap."""
    if not actor_f0 or not clips:
        return 1.0
    voice_f0 = median_f0(np.concatenate(clips), rate)
    if not voice_f0:
        return 1.0
    return round(float(np.clip(actor_f0 / voice_f0, 1 / cap, cap)), 4)
