"""The voice stage of a market: a voice per character (casting), the dub, its back-transcription."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

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
from localize.stages.voice.casting import CharacterVoice, cast_voices
from localize.stages.voice.dub import DUB_RATE, DubRequest, dub_lines
from localize.stages.voice.tts import SYNTHESIZERS, Synthesizer
from localize.stages.voice.tts.service import CLONE

log = logging.getLogger(__name__)

CASTING = Stage("casting", version=3)
DUB = Stage("dub", version=4)  # bumped when the fit planner or the delivery gain changes what a dub holds
BACKCHECK = Stage("backcheck", version=2)  # bumped when how a clip is transcribed or scored changes


@dataclass(frozen=True, slots=True)
class Voice:
    synthesizer: Synthesizer
    voice: str


@dataclass(frozen=True, slots=True)
class Casting:
    """The voices chosen for one market's characters (``casting.json``)."""

    voices: tuple[CharacterVoice, ...] = ()


@dataclass(frozen=True, slots=True)
class BackcheckScore:
    """One dubbed line's back-transcription: its character error rate, None where Whisper cannot score it."""

    cer: float | None


def choose_voice(market: Market, override: str | None) -> Voice:
    """The first TTS backend in the market's list (or the override) that has a usable voice here."""
    names = (override,) if override else market.tts
    problems = []
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
        return Voice(synthesizer, voice)
    raise ConfigError(f"no usable voice for market {market.tag} ({'; '.join(problems)}); set one under "
                      f"'voices' in a --markets-file.")


def cast_market_voices(market: Market, voice: Voice, script: Script, tr_key: str, translation: Translation,
                       audio: Audio, options: RunOptions, store: ArtifactStore) -> dict[str, CharacterVoice]:
    """A voice per character; with a series cast, the voice it already gave them, and stored when new."""
    if not options.voice_matching:
        return {}
    chosen, chosen_pitch = {}, {}
    backend = voice.synthesizer.name
    registry = open_cast(options)
    if registry is not None:
        known = {c.id: c for c in registry.characters}
        chosen = {spk: known[spk].voices[backend] for spk in {ln.speaker for ln in script.lines}
                  if spk in known and backend in known[spk].voices}
        chosen_pitch = {spk: known[spk].pitch[backend] for spk in chosen if backend in known[spk].pitch}
    probes: dict[str, str] = {}
    for ln, t in zip(script.lines, translation.lines, strict=True):
        if t.text.strip() and len(t.text) > len(probes.get(ln.speaker, "")):
            probes[ln.speaker] = t.text
    key = CASTING.key(inputs=[tr_key, audio.key], backend=backend,
                      model_version=voice.synthesizer.model_version(voice.voice),
                      options={"voice": voice.voice, "chosen": chosen, "pitch": chosen_pitch})

    def build(tmp: Path) -> None:
        def audition(candidate: str, text: str) -> Path:
            wav = tmp / f"audition-{len(list(tmp.iterdir()))}.wav"
            voice.synthesizer.synthesize(text, candidate, wav)
            return wav

        found = cast_voices(script.lines, backend=backend, base_voice=voice.voice, audio=audio.asr,
                            chosen=chosen, audition=audition, probes=probes, chosen_pitch=chosen_pitch)
        for wav in tmp.glob("audition-*.wav"):
            wav.unlink()
        jsonio.save(Casting(voices=tuple(found.values())), tmp / "casting.json")

    def load(path: Path) -> dict[str, CharacterVoice]:
        return {v.speaker: v for v in jsonio.load(Casting, path / "casting.json").voices}

    voices = CASTING.cached(store, key, build, load)
    for cv in voices.values():
        voice.synthesizer.check(cv.voice)
    if registry is not None:
        # Re-read under the cast's lock and give a voice only to characters still without one: a concurrent
        # episode's choice is kept, not overwritten.
        with edit_cast(options) as latest:
            assert latest is not None
            known = {c.id: c for c in latest.characters}
            for spk, cv in voices.items():
                if spk not in chosen and spk in known and backend not in known[spk].voices:
                    latest.set_voice(spk, backend, cv.voice)
    return voices


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
            if spk in known and track.backend not in known[spk].pitch \
                    and known[spk].voices.get(track.backend) == line.voice:
                registry.set_pitch(spk, track.backend, round(line.pitch, 4))


def _keep_made_voices(registry: CastRegistry, speaker: dict[str, str], track: DubTrack) -> None:
    """A character whose cast voice for this backend asks for a clone ('clone', 'clone?settings') keeps the
    voice the backend made for them (the one most of their lines were spoken in: elevenlabs' voice id), so
    the clone is made once per series."""
    spoken: dict[str, Counter[str]] = {}
    for line in track.lines:
        spoken.setdefault(speaker[line.id], Counter())[line.voice] += 1
    for character in registry.characters:
        asked = character.voices.get(track.backend, "")
        if asked.split("?")[0] != CLONE or character.id not in spoken:
            continue
        made = spoken[character.id].most_common(1)[0][0]
        if made.split("?")[0] != CLONE:
            registry.set_voice(character.id, track.backend, made)


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
    references = references if voice.synthesizer.clones else {}
    for v in set(line_voices.values()):
        voice.synthesizer.check(v)
    settings: dict[str, object] = {
        "voice": voice.voice, "max_speed": market.max_speed, "rate": DUB_RATE,
        "line_voices": line_voices,
        "cast": {s: [v.voice, v.f0_hz, list(v.reference)] for s, v in sorted(voices.items())}}
    if references:  # the clips' content, so a clip replaced under the same name re-dubs
        settings["references"] = {s: file_sha256(p) for s, p in sorted(references.items())}
    key = DUB.key(inputs=[tr_key, audio.key], backend=voice.synthesizer.name,
                  model_version=voice.synthesizer.model_version(voice.voice), options=settings)

    def build(tmp: Path) -> None:
        task = progress.task(f"{market.tag} dub", len(script.lines))
        request = DubRequest(synthesizer=voice.synthesizer, voice=voice.voice, language=market.language,
                             max_speed=market.max_speed, duration_ms=script.duration_ms, original=original,
                             voices=voices, line_voices=line_voices, machine_text=machine_text or {},
                             references=references or {})
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
    whole = [dub.key] if SYNTHESIZERS.load(track.backend).clones else []
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
