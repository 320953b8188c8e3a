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
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from localize.core.registry import Registry


@dataclass(frozen=True, slots=True, kw_only=True)
class SeparateOptions:
    """How to separate. The classic fields are ignored by demucs and the other way round."""

    backend: str = "classic"
    # classic: "auto" uses the side channel as background when the input is stereo and the
    # dialogue is centred (the side channel does not get louder inside speech spans); "on"/"off".
    mid_side: str = "auto"
    # Script timings are approximate: speech spans are widened by this much on each side.
    pad_ms: int = 150
    # The background under a line is estimated from non-speech audio up to this far around it.
    context_ms: int = 3000
    # Speech power counted as background when subtracting (>1 removes more voice, and more bed).
    over_subtraction: float = 1.5
    # The lowest background gain in a bin the voice dominates (dB); caps how much bed is lost.
    floor_db: float = -40.0
    # Exponent on the Wiener gain: >1 removes more voice.
    mask_power: float = 1.0
    # Gain smoothing (bins x frames) against musical noise.
    smooth_bins: int = 3
    smooth_frames: int = 3
    # Below this frequency nothing is removed: there is no voice there, only bed.
    low_cut_hz: float = 80.0
    # demucs
    demucs_model: str = "htdemucs"
    device: str = "cpu"


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
