"""Mix the dub over the original audio and normalise loudness (EBU R128).

The original is ducked by the market's `duck_db` under each dubbed line with
short ramps, the dub is laid on top in both channels, and :func:`normalise`
brings the result to the market's integrated loudness (a linear gain measured
per ITU-R BS.1770 with pyloudnorm) under its true-peak ceiling (a limiter).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soundfile as sf

from localize.core.artifacts import DubTrack, Loudness
from localize.core.errors import LocalizeError
from localize.core.media.ffmpeg import ebur128_argv, limit_argv, run_ffmpeg

RAMP_MS = 80
# AAC encoding overshoots the PCM mix's true peak by up to about 1 dB; aim that much lower so
# the render, measured after encoding, stays under the market's ceiling.
CODEC_HEADROOM_DB = 1.0
# The limiter sees sample peaks; true (inter-sample) peaks can sit about half a dB higher.
LIMITER_MARGIN_DB = 0.5
NORMALISE_ROUNDS = 4


def duck_envelope(n: int, rate: int, spans: list[tuple[int, int]], duck_db: float) -> np.ndarray:
    """Gain per sample: 1 outside dialogue, 10^(duck_db/20) inside, linear ramps of RAMP_MS."""
    env = np.ones(n, dtype=np.float32)
    low = 10 ** (duck_db / 20)
    ramp = max(int(rate * RAMP_MS / 1000), 1)
    for start_ms, end_ms in spans:
        a, b = int(start_ms * rate / 1000), int(end_ms * rate / 1000)
        if a >= n:
            continue
        b = min(b, n)
        env[a:b] = np.minimum(env[a:b], low)
        fade_in = np.linspace(1.0, low, ramp, dtype=np.float32)
        lo = max(a - ramp, 0)
        env[lo:a] = np.minimum(env[lo:a], fade_in[ramp - (a - lo):])
        fade_out = np.linspace(low, 1.0, ramp, dtype=np.float32)
        hi = min(b + ramp, n)
        env[b:hi] = np.minimum(env[b:hi], fade_out[: hi - b])
    return env


def mix_dub(original: Path, dub: DubTrack | None, dub_dir: Path | None, out: Path, *, duck_db: float) -> None:
    """Write original (ducked) + dub to `out` as float WAV at the original's rate."""
    bed, rate = sf.read(original, dtype="float32", always_2d=True)
    if dub is not None and dub_dir is not None:
        if dub.sample_rate != rate:
            raise LocalizeError(f"internal: dub at {dub.sample_rate} Hz, bed at {rate} Hz")
        voice = np.zeros(len(bed), dtype=np.float32)
        for line in dub.lines:
            clip, _ = sf.read(dub_dir / line.clip, dtype="float32", always_2d=False)
            a = int(line.dub_start_ms * rate / 1000)
            b = min(a + len(clip), len(voice))
            if b > a:
                voice[a:b] += clip[: b - a]
        env = duck_envelope(len(bed), rate, [(ln.dub_start_ms, ln.dub_end_ms) for ln in dub.lines], duck_db)
        bed = bed * env[:, None] + voice[:, None]
    sf.write(out, bed, rate, subtype="FLOAT")


def normalise(src: Path, dst: Path, *, lufs: float, true_peak: float, lra: float, rate: int) -> None:
    """Linear gain to the integrated target (pyloudnorm, BS.1770), then a peak limiter under the
    true-peak ceiling (ffmpeg alimiter, with margin for inter-sample peaks and the AAC encoder).

    Gain then limiting reaches the target on short, peaky dialogue, where ffmpeg's loudnorm either
    stays linear and falls short of it or switches to its dynamic mode and misses it.
    """
    import pyloudnorm

    del lra  # the dialogue's dynamics are kept: no range compression
    data, sr = sf.read(src, dtype="float64", always_2d=True)
    loudness = pyloudnorm.Meter(sr).integrated_loudness(data)
    if not np.isfinite(loudness):
        raise LocalizeError(f"{src}: the mix is silent, nothing to normalise.")
    gained = src.with_name(src.stem + ".gain.wav")
    ceiling = 10 ** ((true_peak - CODEC_HEADROOM_DB - LIMITER_MARGIN_DB) / 20)
    gain_db = lufs - loudness
    try:
        # Limiting lowers the loudness of peaky dialogue: raise the gain by what it took, and again.
        for _ in range(NORMALISE_ROUNDS):
            sf.write(gained, (data * 10 ** (gain_db / 20)).astype(np.float32), sr, subtype="FLOAT")
            run_ffmpeg(limit_argv(gained, dst, ceiling=ceiling, rate=rate), "limiting peaks")
            limited, out_sr = sf.read(dst, dtype="float64", always_2d=True)
            miss = lufs - pyloudnorm.Meter(out_sr).integrated_loudness(limited)
            if abs(miss) <= 0.2:
                break
            gain_db += miss
    finally:
        gained.unlink(missing_ok=True)


_EBU = {
    "integrated": re.compile(r"Integrated loudness:\s+I:\s+(-?[\d.]+|-inf) LUFS", re.S),
    "lra": re.compile(r"Loudness range:\s+LRA:\s+(-?[\d.]+) LU", re.S),
    "peak": re.compile(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", re.S),
}


def measure(path: Path, *, target_lufs: float, target_true_peak: float) -> Loudness:
    """Integrated loudness, true peak and loudness range of a file's audio (ffmpeg ebur128)."""
    stderr = run_ffmpeg(ebur128_argv(path), "measuring loudness")
    summary = stderr[stderr.rfind("Summary:") :]
    values = {}
    for key, pattern in _EBU.items():
        found = pattern.search(summary)
        values[key] = float(found.group(1)) if found else float("nan")
    return Loudness(
        target_lufs=target_lufs, target_true_peak_dbtp=target_true_peak,
        integrated_lufs=values["integrated"], true_peak_dbtp=values["peak"], loudness_range_lu=values["lra"],
    )
