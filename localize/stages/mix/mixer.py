"""Mix the dub over the original audio and normalise loudness (EBU R128).

The original is ducked by the market's `duck_db` under each dubbed line with
short ramps, the dub is laid on top in both channels, and :func:`normalise`
brings the result to the market's integrated loudness and loudness range
(ffmpeg's two-pass loudnorm) under its true-peak ceiling (a limiter).

One meter measures everything here: ffmpeg's loudnorm filter, whose JSON
summary gives integrated loudness, true peak and loudness range (EBU R128 /
ITU-R BS.1770) in one pass. pyloudnorm gives only integrated loudness, so the
render's true peak and range needed a second meter (ffmpeg's ebur128, read
with regexes over its text report); and the two-pass normalisation needs
loudnorm's own measured_* values anyway.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import ffmpeg  # ffmpeg-python
import numpy as np
import soundfile as sf

from localize.core.artifacts import DubTrack, Loudness
from localize.core.errors import LocalizeError
from localize.core.media.ffmpeg import run_ffmpeg

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
            # the dub and the bed are both made at the pipeline's rates: a mismatch is a bug, not bad input
            raise RuntimeError(f"dub at {dub.sample_rate} Hz, bed at {rate} Hz: they must share one rate")
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
    """Bring `src` to the integrated target `lufs` with a loudness range of at most `lra` LU, peaks
    under `true_peak` (with margin for inter-sample peaks and the AAC encoder); write 24-bit PCM.

    Two-pass loudnorm: the first pass measures the mix. Where its range is over `lra`, the second
    pass is loudnorm with those measured values (its dynamic mode, which narrows the range to the
    target). Where the range is within `lra`, loudnorm's linear mode would be a plain gain of
    `lufs` minus the measured loudness, but it also requires the gained peaks to stay under its
    ceiling and otherwise falls back to the dynamic mode, which would compress short, peaky dialogue
    for no range reason: that gain is applied directly and the peaks are left to the limiter.
    Either way a peak limiter follows, and since limiting lowers the loudness of peaky dialogue, the
    gain is raised by what the output still misses, measured with the same meter, until it is
    within 0.2 LU.
    """
    ceiling_db = true_peak - CODEC_HEADROOM_DB - LIMITER_MARGIN_DB
    targets = {"I": lufs, "TP": min(max(ceiling_db, -9.0), 0.0), "LRA": min(max(lra, 1.0), 50.0)}
    first = _loudness(src, targets)
    if not math.isfinite(first["input_i"]):
        raise LocalizeError(f"{src}: the mix is silent, nothing to normalise.")
    if first["input_lra"] > lra:
        shape = {**targets, "measured_I": max(first["input_i"], -99.0), "measured_TP": first["input_tp"],
                 "measured_LRA": first["input_lra"], "measured_thresh": max(first["input_thresh"], -99.0),
                 "offset": first["target_offset"]}
        gain_db = 0.0
    else:
        shape = None
        gain_db = lufs - first["input_i"]
    for _ in range(NORMALISE_ROUNDS):
        argv = _apply_argv(src, dst, shape=shape, gain_db=gain_db, ceiling=10 ** (ceiling_db / 20), rate=rate)
        measured = loudnorm_summary(run_ffmpeg(argv, "normalising loudness"))["input_i"]
        assert isinstance(measured, float), measured  # loudnorm prints input_i as a number
        miss = lufs - measured
        if abs(miss) <= 0.2:
            break
        gain_db += miss


def measure(path: Path, *, target_lufs: float, target_true_peak: float) -> Loudness:
    """Integrated loudness, true peak and loudness range of a file's audio (ffmpeg loudnorm)."""
    found = _loudness(path, {})
    return Loudness(
        target_lufs=target_lufs, target_true_peak_dbtp=target_true_peak,
        integrated_lufs=found["input_i"], true_peak_dbtp=found["input_tp"], loudness_range_lu=found["input_lra"],
    )


def loudnorm_summary(stderr: str) -> dict[str, float | str]:
    """The JSON block loudnorm prints (print_format=json) in ffmpeg's stderr, numbers as floats
    ("-inf" included); text values such as normalization_type stay strings."""
    start = stderr.rfind("[Parsed_loudnorm")
    brace = stderr.find("{", start) if start >= 0 else -1
    if brace < 0:
        raise RuntimeError("ffmpeg printed no loudnorm summary: " + stderr[-200:])
    block, _ = json.JSONDecoder().raw_decode(stderr, brace)
    return {key: _number(value) for key, value in block.items()}


def _number(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def _loudness(path: Path, targets: dict[str, float]) -> dict:
    """loudnorm's first pass over `path`: input_i/input_tp/input_lra/input_thresh, and the
    target_offset the second pass needs for these `targets`."""
    stream = ffmpeg.input(str(path)).audio.filter("loudnorm", print_format="json", **targets)
    argv = ffmpeg.output(stream, "-", format="null").global_args("-hide_banner", "-nostdin").compile()
    return loudnorm_summary(run_ffmpeg(argv, "measuring loudness"))


def _apply_argv(src: Path, dst: Path, *, shape: dict | None, gain_db: float, ceiling: float, rate: int) -> list[str]:
    """loudnorm's second pass (when `shape` is given), a gain, a brick-wall peak limiter at `ceiling`
    (linear, no make-up gain), resampled to `rate` and written as 24-bit PCM; in the same run the
    written audio is measured (a loudnorm meter on a copy of the stream, its JSON last in stderr)."""
    stream = ffmpeg.input(str(src)).audio
    if shape is not None:
        stream = stream.filter("loudnorm", **shape)
    # loudnorm's dynamic mode works (and writes) at 192 kHz: back to `rate` before the limiter, so
    # that resampling cannot lift the peaks it has just held
    stream = (stream.filter("aresample", rate).filter("volume", volume=f"{gain_db:.3f}dB")
              .filter("alimiter", limit=f"{ceiling:.5f}", attack=5, release=50, level="disabled"))
    # loudnorm reads at 192 kHz: pin the written stream's rate, or ffmpeg would resample before the
    # split and the meter would read other samples than the file gets
    split = stream.filter("aformat", sample_rates=rate).filter_multi_output("asplit", 2)
    written = ffmpeg.output(split[0], str(dst), acodec="pcm_s24le", ar=rate)
    metered = ffmpeg.output(split[1].filter("loudnorm", print_format="json"), "-", format="null")
    return ffmpeg.merge_outputs(written, metered).global_args("-hide_banner", "-nostdin").compile(overwrite_output=True)
