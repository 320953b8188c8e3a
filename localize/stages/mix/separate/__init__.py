"""Background separation: split an episode's audio into dialogue and background (music, effects).

The dub is mixed over the background instead of over the ducked original, so the original
voices do not sit under the dub. Two backends:

- ``classic`` (default, runs anywhere): stereo mid/side when the dialogue is centred, plus a
  speech-span-gated Wiener mask on the mid channel whose background spectrum is estimated from
  the frames around each line where nobody speaks;
- ``demucs``: Demucs 4 (``pip install 'localize[demucs]'``) for users who have its weights.

Both write ``dialogue.wav`` and ``background.wav`` (float WAV, the input's rate and channel
count); ``dialogue + background`` equals the input for ``classic``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from localize.core.options import SeparateOptions
from localize.core.registry import Registry

# SeparateOptions lives in localize.core.options (imported above).


class Separator(Protocol):
    name: str

    def model_version(self) -> str: ...

    def separate(
        self, audio: Path, speech_spans: Sequence[tuple[int, int]], out_dir: Path
    ) -> tuple[Path, Path]:
        """Write ``out_dir/dialogue.wav`` and ``out_dir/background.wav`` from the WAV `audio`,
        given where the script says people speak (start/end ms); return (dialogue, background)."""
        ...

    def release(self) -> None:
        """Free the model, if any."""
        ...


SEPARATORS = Registry(
    "separate",
    {
        "classic": "localize.stages.mix.separate.classic:ClassicSeparator",
        "demucs": "localize.stages.mix.separate.demucs_backend:DemucsSeparator",
    },
)


def create_separator(options: SeparateOptions | None = None) -> Separator:
    """The separator `options.backend` names, built with `options`."""
    options = options or SeparateOptions()
    return SEPARATORS.create(options.backend, options=options)


__all__ = ["SEPARATORS", "SeparateOptions", "Separator", "create_separator"]
