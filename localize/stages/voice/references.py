"""Reference recordings a user gives a cloning TTS backend in place of the automatic choice.

A cloning backend (XTTS-v2) speaks each character in the voice of a reference clip. By default
that is the character's cleanest 6-12 s of original speech (:func:`localize.stages.voice.casting.reference_spans`).
A user overrides it per speaker with a clip of their own, 3 to 30 s of one voice: for one run with
``RunOptions.references`` (CLI ``--reference SPEAKER_00=clip.wav``), or for every episode of a series
with the cast's ``reference`` (``localize cast reference CAST C01 clip.wav``). The run's wins over the
cast's, and either wins over the automatic choice.

Cloning a real actor's voice needs their consent (:mod:`localize.core.consent`): with a backend whose
synthesizer clones, every cloned character needs a record (``RunOptions.voice_consent``, CLI
``--voice-consent SPEAKER_00=record.toml``) naming their reference clip by sha256, or the character, and
covering the series and the market. :func:`cloning_consent` checks it before any work (characters with a
reference clip; no record at all is refused), :func:`require_consent` once the script says who speaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from localize.core.artifacts import VoiceConsentNote
from localize.core.consent import CheckedConsent, check_voice_consent, copy_beside
from localize.core.errors import ConfigError, InputError, LocalizeError

if TYPE_CHECKING:
    from localize.core.markets import Market
    from localize.core.options import RunOptions
    from localize.stages.voice.tts import Synthesizer

CLONE_LABEL = "AI voice clone"

MIN_MS = 3_000
MAX_MS = 30_000


def check_reference(path: str | Path) -> Path:
    """`path` if it is an audio file of 3-30 s; else an InputError saying what is wrong."""
    import soundfile as sf

    clip = Path(path).expanduser()
    if not clip.is_file():
        raise InputError(clip, "the reference recording does not exist", "give the path of a WAV or FLAC clip")
    try:
        info = sf.info(str(clip))
    except RuntimeError:  # soundfile's LibsndfileError
        raise InputError(clip, "the reference recording is not an audio file soundfile can read",
                         "give a WAV or FLAC clip") from None
    ms = round(info.frames * 1000 / info.samplerate) if info.samplerate else 0
    if not MIN_MS <= ms <= MAX_MS:
        raise InputError(clip, f"the reference recording lasts {ms / 1000:.1f} s",
                         f"give {MIN_MS // 1000} to {MAX_MS // 1000} s of one speaker's clean speech")
    return clip


def reference_overrides(references: Iterable[tuple[str, Path]], cast: Any = None) -> dict[str, Path]:
    """Speaker id -> the user's reference clip, each checked: the series cast's (a CastRegistry, or
    None), then `references` (speaker id or cast character name, clip) over them."""
    out: dict[str, Path] = {}
    names: dict[str, str] = {}
    if cast is not None:
        for character in cast.characters:
            names[character.name] = character.id
            if character.reference:
                out[character.id] = check_reference(character.reference)
    for speaker, clip in references:
        out[names.get(speaker, speaker)] = check_reference(clip)
    return out


def _series(options: RunOptions) -> str:
    """The series a consent record's scope is checked against: --series, else the cast file's folder."""
    if options.series:
        return options.series
    return Path(options.cast_file).parent.name if options.cast_file is not None else ""


def _refusal(market: str, backend: str, who: str | None, clip: Path | None) -> str:
    if who is None:
        return (f"market {market}: backend {backend!r} clones every character's voice from their speech in the "
                "source, and no voice consent record is given; pass --voice-consent SPEAKER_00=<record.toml> for "
                "each character (README 'Voice cloning, with consent'), or dub with a backend that does not clone.")
    source = f"the clip {clip}" if clip else "their speech in the source"
    return (f"market {market}: backend {backend!r} would clone the voice of {who} from {source} without consent; "
            f"pass --voice-consent {who}=<record.toml> (README 'Voice cloning, with consent'), or dub with a "
            "backend that does not clone.")


def cloning_consent(market: Market, options: RunOptions, references: Mapping[str, Path], cast: Any = None,
                    synthesizer: Synthesizer | None = None, voice: str | None = None,
                    ) -> dict[str, CheckedConsent] | None:
    """Speaker id -> the checked voice consent when the market's dub clones voices; None when it does not.

    `synthesizer`: the chosen one; None: the market's first TTS backend (or the run's override), checked
    before its weights are. `voice`: the voice it speaks (default: the market's for it): a cloning backend's
    own named voices clone nobody, unless the run gives reference clips. Refused (ConfigError) when no record
    is given, when a character with a reference clip has none, or when a record is out of scope, expired or
    names another clip or character."""
    if not getattr(market, "dub", True):
        return None
    if synthesizer is None:
        from localize.stages.voice.tts import SYNTHESIZERS

        name = options.tts_backend or (market.tts[0] if market.tts else "")
        try:
            synthesizer = SYNTHESIZERS.create(name)
        except LocalizeError:  # an unknown name or a missing key: choose_voice says so
            return None
    if voice is None:
        voice = market.voices.get(synthesizer.name) or synthesizer.default_voice(market.language) or ""
    if not synthesizer.clones or not (references or synthesizer.clones_with(voice)):
        return None
    characters = list(cast.characters) if cast is not None else []
    ids = {c.name: c.id for c in characters if c.name}
    names = {c.id: tuple(n for n in (c.id, c.name) if n) for c in characters}
    declared = {ids.get(k, k): Path(v) for k, v in options.voice_consent}
    known = sorted(references)  # who is known to be cloned before the script: characters with a clip
    if not declared:
        who = known[0] if known else None
        raise ConfigError(_refusal(market.tag, synthesizer.name, who, references.get(who) if who else None))
    for who in known:
        if who not in declared:
            raise ConfigError(_refusal(market.tag, synthesizer.name, who, references[who]))
    series = _series(options)
    return {who: check_voice_consent(character=who, names=names.get(who, ()), clip=references.get(who),
                                     record=path, series=series, market=market.tag)
            for who, path in declared.items()}


def require_consent(consents: Mapping[str, CheckedConsent] | None, speakers: Iterable[str], market: str,
                    backend: str) -> None:
    """Once the script says who speaks: a ConfigError naming the first speaker a cloning dub has no consent for."""
    if consents is None:
        return
    for who in sorted(set(speakers)):
        if who not in consents:
            raise ConfigError(_refusal(market, backend, who, None))


def cloned(market: Market) -> Market:
    """The market with an AI label that names the voice cloning (the render's metadata carries the text)."""
    label = market.ai_label
    if CLONE_LABEL in label.text:
        return market
    text = f"{label.text} · {CLONE_LABEL}"
    return msgspec.structs.replace(market, ai_label=msgspec.structs.replace(label, text=text))


def publish_consent(consents: Mapping[str, CheckedConsent], directory: Path, backend: str,
                    speakers: Iterable[str]) -> tuple[VoiceConsentNote, ...]:
    """Copy the records of the characters cloned (`speakers`) to ``<directory>/consent/voice-<character>.toml``;
    the report's notes."""
    notes = []
    for who in sorted(set(speakers) & set(consents)):
        c = copy_beside(consents[who], directory / "consent")
        notes.append(VoiceConsentNote(
            character=who, subject=c.subject, granted_by=c.granted_by, granted=c.granted, purpose=c.purpose,
            consent=str(Path(c.copied_to).relative_to(directory)), consent_sha256=c.record_sha256,
            clip=c.voice, clip_sha256=c.voice_sha256, backend=backend))
    return tuple(notes)
