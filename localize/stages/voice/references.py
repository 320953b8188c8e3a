"""Reference recordings a user gives a cloning TTS backend in place of the automatic choice.

A cloning backend (XTTS-v2) speaks each character in the voice of a reference clip. By default
that is the character's cleanest 6-12 s of original speech (:func:`localize.stages.voice.casting.reference_spans`).
A user overrides it per speaker with a clip of their own, 3 to 30 s of one voice: for one run with
``RunOptions.references`` (CLI ``--reference SPEAKER_00=clip.wav``), or for every episode of a series
with the cast's ``reference`` (``localize cast reference CAST C01 clip.wav``). The run's wins over the
cast's, and either wins over the automatic choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from localize.core.errors import InputError

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
