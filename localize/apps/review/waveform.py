"""The render's audio envelope for the review page's timeline: peak levels over equal time bins."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from localize.core.media import run_ffmpeg
from localize.core.media.ffmpeg import extract_audio_argv

RATE = 8000


def peaks(video: str | Path, bins: int = 800) -> dict[str, Any]:
    """``{"duration_ms", "peaks"}``: the absolute peak (0..1) of each of `bins` equal slices of the
    file's first audio stream, decoded to mono."""
    bins = max(10, min(int(bins), 4000))
    with tempfile.TemporaryDirectory(prefix="localize-peaks-") as tmp:
        wav = Path(tmp) / "mono.wav"
        run_ffmpeg(extract_audio_argv(Path(video), wav, rate=RATE, channels=1), f"decoding the audio of {video}")
        samples, rate = sf.read(wav, dtype="float32")
    duration_ms = int(len(samples) * 1000 / rate)
    if len(samples) == 0:
        return {"duration_ms": 0, "peaks": [0.0] * bins}
    edges = np.linspace(0, len(samples), bins + 1).astype(int)
    levels = [float(np.abs(samples[a:b]).max()) if b > a else 0.0 for a, b in itertools.pairwise(edges)]
    return {"duration_ms": duration_ms, "peaks": [round(v, 4) for v in levels]}
