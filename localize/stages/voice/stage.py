"""The voice stage of a market: a voice per character (casting), the dub, its back-transcription."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import soundfile as sf

from localize.core import jsonio
from localize.core.artifacts import DubTrack, Script, Translation
from localize.core.cache import ArtifactStore, file_sha256
from localize.core.errors import ConfigError, LocalizeError
from localize.core.markets import Market
from localize.core.options import RunOptions
from localize.core.progress import Progress
from localize.core.stage import Built, Stage
from localize.stages.audio.stage import Audio
from localize.stages.script.speakers.cast import CastRegistry, edit_cast, open_cast
from localize.stages.voice import backcheck
from localize.stages.voice.casting import CharacterVoice, auto_backends, cast_voices, retarget, split_voice
from localize.stages.voice.dub import DUB_RATE, DubRequest, dub_lines, synthesize_line
from localize.stages.voice.tts import SYNTHESIZERS, Synthesizer
from localize.stages.voice.tts.service import CLONE

log = logging.getLogger(__name__)

# 5: unclear backends before espeak-ng; unclear carried voices retargeted. 6: a short probe line (probe_line).
# 7: auditions are the dub's cached line clips (edge silence trimmed)
CASTING = Stage("casting", version=7)
DUB = Stage("dub", version=5)  # bumped when the fit planner or the delivery gain changes what a dub holds
BACKCHECK = Stage("backcheck", version=3)  # bumped when how a clip is transcribed or scored changes (3: packed)


@dataclass(frozen=True, slots=True)
class Voice:
    """A market's TTS backends: the first usable one (`synthesizer`, speaking `voice` for a character the cast
    gives none) and the others usable here, in the market's order, that casting may give a character."""

    synthesizer: Synthesizer
    voice: str
    others: tuple[tuple[Synthesizer, str], ...] = ()

    @property
    def backends(self) -> tuple[tuple[Synthesizer, str], ...]:
        return ((self.synthesizer, self.voice), *self.others)

    def synthesizers(self) -> dict[str, Synthesizer]:
        return {s.name: s for s, _ in self.backends}


@dataclass(frozen=True, slots=True)
class Casting:
    """The voices chosen for one market's characters (``casting.json``)."""

    voices: tuple[CharacterVoice, ...] = ()


@dataclass(frozen=True, slots=True)
class BackcheckScore:
    """One dubbed line's back-transcription: its character error rate, None where Whisper cannot score it."""

    cer: float | None


def commercial_use(backend: str) -> bool:
    """Whether every model the TTS backend loads allows commercial use (models/manifest.toml)."""
    from localize.core.models import used_by

    return all(e.commercial is True for e in used_by(f"tts.{backend}"))


def dub_backends(track: DubTrack, voice: Voice) -> tuple[str, ...]:
    """The TTS backends that spoke a dub's lines (casting may give characters different ones)."""
    names = [s.name for s, _ in voice.backends]
    return tuple(sorted({split_voice(ln.voice, track.backend, names)[0] for ln in track.lines} | {track.backend}))


def choose_voice(market: Market, override: str | None, *, commercial: bool = False) -> Voice:
    """The market's TTS backends (or the override alone) that have a usable voice here, in order; "auto" in
    the list stands for the backends measured best for the language (voices.toml, espeak-ng last). For a
    commercial release "auto" leaves out backends whose weights forbid it (a backend named in the list is
    kept: the commercial check refuses it with its licence)."""
    def expand(name: str) -> list[str]:
        if name != "auto":
            return [name]
        found = auto_backends(market.language)
        allowed = [n for n in found if not commercial or commercial_use(n)]
        if len(allowed) < len(found):
            log.info("%s: commercial release, 'auto' leaves out %s (non-commercial weights)", market.tag,
                     ", ".join(n for n in found if n not in allowed))
        return allowed

    names = (override,) if override else tuple(dict.fromkeys(n for name in market.tts for n in expand(name)))
    problems, usable = [], []
    for name in names:
        synthesizer = SYNTHESIZERS.create(name)  # an unknown name fails here, listing the known ones
        voice = market.voices.get(name) or synthesizer.default_voice(market.language)
        if not voice:
            problems.append(f"{name} has no voice for {market.language}")
            continue
        try:
            synthesizer.check(voice)
        except LocalizeError as exc:
            problems.append(f"{name}: {exc}")
            continue
        usable.append((synthesizer, voice))
    if usable:
        if problems:
            log.info("%s: TTS backends left out: %s", market.tag, "; ".join(problems))
        return Voice(*usable[0], others=tuple(usable[1:]))
    raise ConfigError(f"no usable voice for market {market.tag} ({'; '.join(problems)}); set one under "
                      f"'voices' in a --markets-file.")


PROBE_CHARS = 48  # about 3 s of speech: enough for a speaker embedding, and each candidate says it


def probe_line(texts: Sequence[str]) -> str:
    """The line every candidate voice says in an audition: the shortest of at least PROBE_CHARS characters,
    else the longest. (With the longest line, as before, an audition of the demo episode took 4-6 s.)"""
    texts = [t.strip() for t in texts if t.strip()]
    long_enough = [t for t in texts if len(t) >= PROBE_CHARS]
    return min(long_enough, key=len) if long_enough else max(texts, key=len, default="")


def cast_market_voices(market: Market, voice: Voice, script: Script, tr_key: str, translation: Translation,
                       audio: Audio, options: RunOptions, store: ArtifactStore) -> dict[str, CharacterVoice]:
    """A (backend, voice) per character; with a series cast, the one it already gave them (for the first of
    the market's backends it holds one for), and stored when new."""
    if not options.voice_matching:
        return {}
    synthesizers = voice.synthesizers()
    backends = [(s.name, v) for s, v in voice.backends]
    registry = open_cast(options)
    chosen, chosen_pitch = _kept_voices(registry, market, voice, script) if registry is not None else ({}, {})
    said: dict[str, list[str]] = {}
    for ln, t in zip(script.lines, translation.lines, strict=True):
        said.setdefault(ln.speaker, []).append(t.text)
    probes = {speaker: probe for speaker, texts in said.items() if (probe := probe_line(texts))}
    key = CASTING.key(inputs=[tr_key, audio.key], backend=voice.synthesizer.name,
                      model_version=voice.synthesizer.model_version(voice.voice),
                      options={"voice": voice.voice, "chosen": chosen, "pitch": chosen_pitch,
                               "backends": [[n, v, synthesizers[n].model_version(v)] for n, v in backends],
                               "language": market.language})

    def build(tmp: Path) -> None:
        def audition(backend: str, candidate: str, text: str) -> Path:
            wav = tmp / f"audition-{len(list(tmp.iterdir()))}.wav"
            synthesizer = synthesizers[backend]
            if synthesizer.clones:  # speaks a reference clip in the dub, not in the audition
                synthesizer.synthesize(text, candidate, wav)
                return wav
            # The probe is one of the character's lines: the winner's clip is the dub's, cached for it.
            samples, rate = synthesize_line(synthesizer, text, candidate, None, wav.with_suffix(".synth"), store)
            sf.write(wav, samples, rate, subtype="PCM_16")
            return wav

        found = cast_voices(script.lines, backends=backends, language=market.language, audio=audio.asr,
                            chosen=chosen, audition=audition, probes=probes, chosen_pitch=chosen_pitch,
                            clones=[s.name for s, _ in voice.backends if s.clones])
        for wav in tmp.glob("audition-*.wav"):
            wav.unlink()
        jsonio.save(Casting(voices=tuple(found.values())), tmp / "casting.json")

    def load(path: Path) -> dict[str, CharacterVoice]:
        return {v.speaker: v for v in jsonio.load(Casting, path / "casting.json").voices}

    voices = CASTING.cached(store, key, build, load)
    for cv in voices.values():
        synthesizers[cv.backend or voice.synthesizer.name].check(cv.voice)
    if registry is not None:
        # Re-read under the cast's lock and give a voice only to characters still without one: a concurrent
        # episode's choice is kept, not overwritten.
        with edit_cast(options) as latest:
            assert latest is not None
            known = {c.id: c for c in latest.characters}
            for spk, cv in voices.items():
                backend = cv.backend or voice.synthesizer.name
                if spk not in chosen and spk in known and backend not in known[spk].voices:
                    latest.set_voice(spk, backend, cv.voice)
    return voices


def _kept_voices(registry: CastRegistry, market: Market, voice: Voice,
                 script: Script) -> tuple[dict[str, tuple[str, str]], dict[str, float]]:
    """Speaker -> the (backend, voice) the series cast gave them, for the first of the market's backends it
    holds a voice for that is usable here (said in the market's language), and its pitch ratio."""
    chosen: dict[str, tuple[str, str]] = {}
    chosen_pitch: dict[str, float] = {}
    synthesizers = voice.synthesizers()
    known = {c.id: c for c in registry.characters}
    for spk in sorted({ln.speaker for ln in script.lines} & set(known)):
        for synthesizer, base in voice.backends:
            name = synthesizer.name
            if name not in known[spk].voices:
                continue
            kept = retarget(name, known[spk].voices[name], base)
            try:
                synthesizers[name].check(kept)
            except LocalizeError as exc:
                log.info("cast voice %s:%s of %s is not usable in %s (%s)", name, kept, spk, market.tag, exc)
                continue
            chosen[spk] = (name, kept)
            if name in known[spk].pitch:
                chosen_pitch[spk] = known[spk].pitch[name]
            break
    return chosen, chosen_pitch


def remember_pitch(options: RunOptions, script: Script, track: DubTrack) -> None:
    """Keep each cast character's pitch ratio, so later episodes shift the same voice the same way (set under
    the cast's lock, only where the character has none for this backend)."""
    if open_cast(options) is None:
        return
    speaker = {ln.id: ln.speaker for ln in script.lines}
    with edit_cast(options) as registry:
        assert registry is not None
        _keep_made_voices(registry, speaker, track)
        for line in track.lines:
            known = {c.id: c for c in registry.characters}
            spk = speaker[line.id]
            backend, voice = split_voice(line.voice, track.backend, SYNTHESIZERS.names())
            if spk in known and backend not in known[spk].pitch \
                    and retarget(backend, known[spk].voices.get(backend, ""), voice) == voice:
                registry.set_pitch(spk, backend, round(line.pitch, 4))


def _keep_made_voices(registry: CastRegistry, speaker: dict[str, str], track: DubTrack) -> None:
    """A character whose cast voice for a backend asks for a clone ('clone', 'clone?settings') keeps the
    voice that backend made for them (the one most of their lines through it were spoken in: elevenlabs'
    voice id), so the clone is made once per series."""
    spoken: dict[tuple[str, str], Counter[str]] = {}
    for line in track.lines:
        backend, voice = split_voice(line.voice, track.backend, SYNTHESIZERS.names())
        spoken.setdefault((speaker[line.id], backend), Counter())[voice] += 1
    for character in registry.characters:
        for backend, asked in character.voices.items():
            if asked.split("?")[0] != CLONE or (character.id, backend) not in spoken:
                continue
            made = spoken[(character.id, backend)].most_common(1)[0][0]
            if made.split("?")[0] != CLONE:
                registry.set_voice(character.id, backend, made)


def dub_market(
    market: Market, voice: Voice, tr_key: str, script: Script, translation: Translation, store: ArtifactStore,
    progress: Progress, audio: Audio, voices: dict[str, CharacterVoice], line_voices: dict[str, str] | None = None,
    references: dict[str, Path] | None = None, *, machine_text: dict[str, str] | None = None,
) -> Built[DubTrack]:
    """The market's dub: a clip per line in the artifact's folder, described by ``dub.json``.

    `references`: speaker -> the user's reference clip for a cloning backend (localize.stages.voice.references).
    `machine_text`: the machine's text of lines a reviewer overrode (see localize.stages.voice.dub.DubRequest)."""
    original = audio.asr
    line_voices = line_voices or {}
    synthesizers = voice.synthesizers()
    lead = voice.synthesizer.name
    references = references if any(s.clones for s in synthesizers.values()) else {}
    spoken = {split_voice(v, lead, synthesizers) for v in line_voices.values()}
    spoken |= {(v.backend or lead, v.voice) for v in voices.values()}
    for name, v in spoken:
        if name not in synthesizers:
            raise ConfigError(f"voice {v!r} is for TTS backend {name!r}, which market {market.tag} does not use; "
                              f"use one of {', '.join(synthesizers)}.")
        synthesizers[name].check(v)
    settings: dict[str, object] = {
        "voice": voice.voice, "max_speed": market.max_speed, "rate": DUB_RATE,
        "line_voices": line_voices,
        "cast": {s: [v.voice, v.f0_hz, list(v.reference), v.backend, v.flag] for s, v in sorted(voices.items())},
        "models": sorted({f"{n}:{synthesizers[n].model_version(v)}" for n, v in spoken if n != lead})}
    if references:  # the clips' content, so a clip replaced under the same name re-dubs
        settings["references"] = {s: file_sha256(p) for s, p in sorted(references.items())}
    key = DUB.key(inputs=[tr_key, audio.key], backend=voice.synthesizer.name,
                  model_version=voice.synthesizer.model_version(voice.voice), options=settings)

    def build(tmp: Path) -> None:
        task = progress.task(f"{market.tag} dub", len(script.lines))
        request = DubRequest(synthesizer=voice.synthesizer, voice=voice.voice, language=market.language,
                             max_speed=market.max_speed, duration_ms=script.duration_ms, original=original,
                             voices=voices, line_voices=line_voices, machine_text=machine_text or {},
                             references=references or {}, synthesizers=synthesizers)
        track = dub_lines(script.lines, translation.lines, request, out_dir=tmp, store=store, advance=task.advance)
        task.done()
        jsonio.save(track, tmp / "dub.json")

    return DUB.built(store, key, build, lambda p: jsonio.load(DubTrack, p / "dub.json"))


def backcheck_market(market: Market, dub: Built[DubTrack], translation: Translation,
                     store: ArtifactStore, progress: Progress, *, asr: str = backcheck.RECOGNIZER) -> dict[str, float]:
    """Each dubbed line transcribed back by the recognizer `asr` (Whisper base): its character error rate
    against its text.

    Cached per line on what Whisper hears (text, voice, speed, pitch; not the delivery gain, which an
    edit of another line shifts), so a reviewer's one-line edit transcribes one line again. A cloning
    backend's lines also key on the whole dub (their reference clips)."""
    texts = {t.id: t.text for t in translation.lines}
    recognizer = backcheck.recognizer(asr)
    version = recognizer.model_version()
    track = dub.value
    names = SYNTHESIZERS.names()
    clones = {b for b in {split_voice(ln.voice, track.backend, names)[0] for ln in track.lines}
              if SYNTHESIZERS.load(b).clones}
    whole = [dub.key] if clones else []
    keys = {ln.id: BACKCHECK.key(inputs=whole, backend=recognizer.name, model_version=version,
                                 options={"text": texts.get(ln.id, ""), "language": track.language,
                                          "tts": track.backend, "voice": ln.voice, "speed": ln.speed,
                                          "pitch": ln.pitch, "range": ln.pitch_range})
            for ln in track.lines}
    found: dict[str, float | None] = {}  # None: a line Whisper cannot score
    for line_id, key in keys.items():
        if (path := BACKCHECK.get(store, key)) is not None:
            found[line_id] = jsonio.load(BackcheckScore, path / "backcheck.json").cer
    missing = tuple(ln for ln in track.lines if ln.id not in found)
    if missing:
        task = progress.task(f"{market.tag} back-transcribe", len(missing))
        try:
            fresh = backcheck.backcheck(replace(track, lines=missing), dub.path, texts, recognizer,
                                        advance=task.advance)
        finally:
            recognizer.release()
        task.done()
        for ln in missing:
            found[ln.id] = fresh.get(ln.id)
            with BACKCHECK.build(store, keys[ln.id]) as tmp:
                jsonio.save(BackcheckScore(cer=found[ln.id]), tmp / "backcheck.json")
    return {line_id: cer for line_id, cer in found.items() if cer is not None}
