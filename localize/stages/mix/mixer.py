"""Mix the dub over the original audio and normalise loudness (EBU R128).

The original is ducked by the market's `duck_db` under each dubbed line with
short ramps, the dub is laid on top in both channels, and :func:`normalise`
brings the result to the market's integrated loudness and loudness range
under its true-peak ceiling (ffmpeg's loudnorm as the range compressor where
the range is too wide, then a gain and a limiter).

One meter measures everything here: ffmpeg's ebur128 filter (EBU R128 /
ITU-R BS.1770), which gives integrated loudness, loudness range and true peak
in one pass. It is read through its structured per-frame metadata
(`ebur128=metadata=1` then `ametadata=mode=print:file=...`: key=value lines
such as lavfi.r128.I), not its free-text summary. Why not the others:
pyloudnorm gives only integrated loudness, so true peak and range would need a
second meter; loudnorm's JSON summary gives all three but its meter is about
4.5 times slower than ebur128's (it works at 192 kHz), which made every mix
and render several times slower. loudnorm stays only as a processing filter.
"""

from __future__ import annotations

import math
import tempfile
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


# ebur128 reports an integrated loudness at its absolute gate (-70 LUFS) when no block passed it:
# the audio has no measurable loudness
ABSOLUTE_GATE_LUFS = -70.0
R128_PREFIX = "lavfi.r128."
# ebur128 reports at each completed 100 ms block; silence appended after the audio completes the
# last, partial block so that its peaks are reported too
METER_TAIL_S = 0.1


def normalise(src: Path, dst: Path, *, lufs: float, true_peak: float, lra: float, rate: int) -> None:
    """Bring `src` to the integrated target `lufs` with a loudness range of at most `lra` LU, peaks
    under `true_peak` (with margin for inter-sample peaks and the AAC encoder); write 24-bit PCM.

    The mix is measured first (ebur128). Where its range is over `lra`, it goes through loudnorm's
    dynamic mode, which narrows the range to the target (single pass, with its own targets: given
    the measured values without loudnorm's own relative threshold, its dynamic mode would not use
    them). Where the range is within `lra`, the mix gets a plain gain of `lufs` minus the measured
    loudness (loudnorm's linear mode would also require the gained peaks to stay under its ceiling
    and otherwise fall back to the dynamic mode, compressing short, peaky dialogue for no range
    reason); its peaks are left to the limiter. Either way a peak limiter follows, and since
    limiting (and loudnorm) move the loudness, the gain is raised by what the output still misses,
    measured with the same meter in the same run, until it is within 0.2 LU.
    """
    ceiling_db = true_peak - CODEC_HEADROOM_DB - LIMITER_MARGIN_DB
    first = measure(src, target_lufs=lufs, target_true_peak=true_peak)
    if not math.isfinite(first.integrated_lufs):
        raise LocalizeError(f"{src}: the mix is silent, nothing to normalise.")
    with tempfile.TemporaryDirectory(prefix="localize-r128-") as tmp:
        report = Path(tmp) / "r128.txt"
        source, loudness = src, first.integrated_lufs
        if first.loudness_range_lu > lra:
            # compressed once, into a float intermediate, so that the gain rounds below do not
            # run loudnorm (at 192 kHz) again; its output is measured in the same run
            source = Path(tmp) / "compressed.wav"
            targets = {"I": lufs, "TP": min(max(ceiling_db, -9.0), 0.0), "LRA": min(max(lra, 1.0), 50.0)}
            run_ffmpeg(_compress_argv(src, source, targets=targets, rate=rate, report=report),
                       "compressing the loudness range")
            loudness = r128_reading(report.read_text())["integrated_lufs"]
        gain_db = lufs - loudness
        for _ in range(NORMALISE_ROUNDS):
            argv = _apply_argv(source, dst, gain_db=gain_db, ceiling=10 ** (ceiling_db / 20), rate=rate, report=report)
            run_ffmpeg(argv, "normalising loudness")
            miss = lufs - r128_reading(report.read_text())["integrated_lufs"]
            if abs(miss) <= 0.2:
                break
            gain_db += miss


def measure(path: Path, *, target_lufs: float, target_true_peak: float) -> Loudness:
    """Integrated loudness, true peak and loudness range of a file's audio (ffmpeg ebur128)."""
    with tempfile.TemporaryDirectory(prefix="localize-r128-") as tmp:
        report = Path(tmp) / "r128.txt"
        metered = _meter(ffmpeg.input(str(path)).audio, report)
        argv = ffmpeg.output(metered, "-", format="null").global_args("-hide_banner", "-nostdin").compile()
        run_ffmpeg(argv, "measuring loudness")
        found = r128_reading(report.read_text())
    return Loudness(
        target_lufs=target_lufs, target_true_peak_dbtp=target_true_peak, integrated_lufs=found["integrated_lufs"],
        true_peak_dbtp=found["true_peak_dbtp"], loudness_range_lu=found["loudness_range_lu"],
    )


def r128_reading(report: str) -> dict[str, float]:
    """integrated_lufs, loudness_range_lu and true_peak_dbtp from what `ametadata=mode=print` wrote of
    ebur128's metadata: key=value lines per frame, whose last values are the running totals
    (lavfi.r128.I and .LRA in LUFS/LU, lavfi.r128.true_peaks_chN the running maximum per channel,
    linear, printed to 3 decimals: 0.005 dB near the ceiling, coarse only far below it). No loudness
    at all (nothing over the absolute gate) is -inf, as is a peak of zero."""
    last: dict[str, float] = {}
    for line in report.splitlines():
        key, eq, value = line.strip().partition("=")
        if eq and key.startswith(R128_PREFIX):
            last[key.removeprefix(R128_PREFIX)] = float(value)
    peaks = [value for key, value in last.items() if key.startswith("true_peaks_ch")]
    if "I" not in last or "LRA" not in last or not peaks:
        raise RuntimeError("ffmpeg's ebur128 reported no loudness metadata: " + report[-200:])
    integrated = last["I"] if last["I"] > ABSOLUTE_GATE_LUFS else -math.inf
    peak = max(peaks)
    return {"integrated_lufs": integrated, "loudness_range_lu": last["LRA"],
            "true_peak_dbtp": round(20 * math.log10(peak), 2) if peak > 0 else -math.inf}


def _meter(stream, report: Path):
    """`stream` through the ebur128 meter (true peaks on), its metadata printed to `report`."""
    return (stream.filter("apad", pad_dur=METER_TAIL_S)
            .filter("ebur128", peak="true", metadata=1)
            .filter("ametadata", mode="print", file=str(report)))


def _compress_argv(src: Path, dst: Path, *, targets: dict[str, float], rate: int, report: Path) -> list[str]:
    """loudnorm's dynamic mode towards `targets` (I, TP, LRA), back at `rate` and written as float
    PCM; in the same run the written audio is measured (the ebur128 meter, into `report`)."""
    # loudnorm's dynamic mode works (and writes) at 192 kHz: back to `rate` before the limiter that
    # follows, so that resampling cannot lift the peaks it holds
    stream = ffmpeg.input(str(src)).audio.filter("loudnorm", **targets).filter("aresample", rate)
    split = stream.filter("aformat", sample_rates=rate).filter_multi_output("asplit", 2)
    written = ffmpeg.output(split[0], str(dst), acodec="pcm_f32le", ar=rate)
    metered = ffmpeg.output(_meter(split[1], report), "-", format="null")
    return ffmpeg.merge_outputs(written, metered).global_args("-hide_banner", "-nostdin").compile(overwrite_output=True)


def _apply_argv(src: Path, dst: Path, *, gain_db: float, ceiling: float, rate: int, report: Path) -> list[str]:
    """A gain and a brick-wall peak limiter at `ceiling` (linear, no make-up gain), resampled to
    `rate` and written as 24-bit PCM; in the same run the written audio is measured (the ebur128
    meter on a copy of the stream, into `report`)."""
    stream = (ffmpeg.input(str(src)).audio.filter("aresample", rate).filter("volume", volume=f"{gain_db:.3f}dB")
              .filter("alimiter", limit=f"{ceiling:.5f}", attack=5, release=50, level="disabled"))
    # pin the written stream's rate, or ffmpeg could resample before the split (for the meter) and
    # the meter would read other samples than the file gets
    split = stream.filter("aformat", sample_rates=rate).filter_multi_output("asplit", 2)
    written = ffmpeg.output(split[0], str(dst), acodec="pcm_s24le", ar=rate)
    metered = ffmpeg.output(_meter(split[1], report), "-", format="null")
    return ffmpeg.merge_outputs(written, metered).global_args("-hide_banner", "-nostdin").compile(overwrite_output=True)
