"""Reading the episode's audio and writing the two stems, shared by the separators."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

from localize.core.errors import InputError, MediaError
from localize.core.jsonio import atomic_write_bytes

DIALOGUE = "dialogue.wav"
BACKGROUND = "background.wav"


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """(samples, channels) float32 and the rate, or an InputError naming the file."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such audio file", "check the path")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise MediaError(path, f"cannot read it as audio ({exc})", "pass a WAV or FLAC file") from exc
    return data, int(rate)


def write_stems(out_dir: Path, dialogue: np.ndarray, background: np.ndarray, rate: int) -> tuple[Path, Path]:
    """Write both stems as float WAV, atomically; return their paths."""
    out_dir = Path(out_dir)
    paths = out_dir / DIALOGUE, out_dir / BACKGROUND
    for path, data in zip(paths, (dialogue, background), strict=True):
        buf = io.BytesIO()
        sf.write(buf, np.ascontiguousarray(data, dtype=np.float32), rate, subtype="FLOAT", format="WAV")
        atomic_write_bytes(path, buf.getvalue())
    return paths


def span_mask(n: int, rate: int, spans, pad_ms: int = 0) -> np.ndarray:
    """True for the samples inside any span widened by `pad_ms` on each side."""
    mask = np.zeros(n, dtype=bool)
    for start_ms, end_ms in spans:
        a = max(int((start_ms - pad_ms) * rate / 1000), 0)
        b = min(int((end_ms + pad_ms) * rate / 1000), n)
        if b > a:
            mask[a:b] = True
    return mask
