"""The non-neural separator: stereo mid/side plus a speech-span-gated Wiener mask.

Outside the script's speech spans the audio is all background, so it is kept as is. Inside them:

1. Stereo with centred dialogue: the side channel ``(L-R)/2`` holds no voice and is kept whole;
   only the mid channel ``(L+R)/2`` is masked. Whether the dialogue is centred is checked, not
   assumed: when the side channel gets louder inside the speech spans than around them, the
   voice is panned and each channel is masked on its own instead.
2. The background's power spectrum under each run of speech is estimated from the non-speech
   frames up to ``context_ms`` before and after it (interpolated across the run). With stereo
   input the side channel also gives it a time course: the mid/side power ratio per bin, taken
   around the run, turns the side channel's spectrogram inside the run into a second estimate.
3. A Wiener gain ``P_bg / (P_bg + max(P_obs - a*P_bg, 0))`` per bin, smoothed over a few bins and
   frames (against musical noise), floored at ``floor_db``, left at 1 below ``low_cut_hz``, and
   faded in and out over a few frames around each span, gives the background; the dialogue is
   the rest, so ``dialogue + background`` is the input sample for sample.

Deterministic; one STFT of one channel, so a 3-minute 48 kHz stereo episode takes a few seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from localize.stages.mix.separate import SeparateOptions
from localize.stages.mix.separate.audio import read_audio, span_mask, write_stems

log = logging.getLogger(__name__)

VERSION = "classic-1"
WINDOW_S = 0.043  # 2048 samples at 48 kHz
RAMP_FRAMES = 3
# Centred dialogue: the side channel gains less than this inside speech spans (dB) ...
SIDE_RISE_DB = 3.0
# ... while the mid channel gains at least this much (there is audible speech at all).
MID_RISE_DB = 1.0
EPS = 1e-12


class ClassicSeparator:
    name = "classic"

    def __init__(self, options: SeparateOptions | None = None) -> None:
        self.options = options or SeparateOptions()
        if self.options.mid_side not in ("auto", "on", "off"):
            from localize.core.errors import ConfigError

            raise ConfigError(f"mid_side must be auto, on or off, not {self.options.mid_side!r}.")
        self.last_used_mid_side: bool | None = None

    def model_version(self) -> str:
        return VERSION

    def separate(
        self, audio: Path, speech_spans: Sequence[tuple[int, int]], out_dir: Path
    ) -> tuple[Path, Path]:
        data, rate = read_audio(audio)
        background = self.background(data, rate, speech_spans)
        return write_stems(out_dir, data - background, background, rate)

    def release(self) -> None:
        pass

    def background(self, data: np.ndarray, rate: int, speech_spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """The background of `data` (samples, channels) as an array of the same shape."""
        spans = [(int(a), int(b)) for a, b in speech_spans if b > a]
        if not spans or len(data) == 0:
            return data.copy()
        opts = self.options
        use_ms = data.shape[1] == 2 and (
            opts.mid_side == "on" or (opts.mid_side == "auto" and dialogue_is_centred(data, rate, spans, opts))
        )
        self.last_used_mid_side = use_ms
        if use_ms:
            mid = 0.5 * (data[:, 0] + data[:, 1])
            side = 0.5 * (data[:, 0] - data[:, 1])
            mid_bg = masked_background(mid, rate, spans, opts, guide=side)
            return np.stack([mid_bg + side, mid_bg - side], axis=1).astype(np.float32)
        out = np.empty_like(data)
        for c in range(data.shape[1]):
            out[:, c] = masked_background(data[:, c], rate, spans, opts)
        return out


def stft_size(rate: int) -> tuple[int, int]:
    n_fft = 1 << max(round(np.log2(rate * WINDOW_S)), 8)
    return n_fft, n_fft // 4


def dialogue_is_centred(data: np.ndarray, rate: int, spans, opts: SeparateOptions) -> bool:
    """Does the side channel stay as loud inside the speech spans as outside, while mid rises?"""
    inside = span_mask(len(data), rate, spans)
    outside = ~span_mask(len(data), rate, spans, opts.pad_ms + 250)
    if inside.sum() < rate // 10 or outside.sum() < rate // 10:
        return True  # nothing to compare with: trust the usual mixing convention
    mid = 0.5 * (data[:, 0] + data[:, 1])
    side = 0.5 * (data[:, 0] - data[:, 1])

    def rise(x: np.ndarray) -> float:
        return 10 * np.log10((np.mean(x[inside] ** 2) + EPS) / (np.mean(x[outside] ** 2) + EPS))

    mid_rise, side_rise = rise(mid), rise(side)
    side_share = 10 * np.log10((np.mean(side[inside] ** 2) + EPS) / (np.mean(mid[inside] ** 2) + EPS))
    centred = side_rise < SIDE_RISE_DB or side_share < -30 or mid_rise < MID_RISE_DB
    log.debug("mid rises %.1f dB, side %.1f dB in speech (side/mid %.1f dB): centred=%s",
              mid_rise, side_rise, side_share, centred)
    return bool(centred)


def _regions(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of True."""
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _frame_flags(n_frames: int, hop: int, rate: int, spans, pad_ms: int, reach: int) -> np.ndarray:
    """True for frames whose centre lies within `reach` samples of a widened span."""
    flags = np.zeros(n_frames, dtype=bool)
    for start_ms, end_ms in spans:
        a = int((start_ms - pad_ms) * rate / 1000) - reach
        b = int((end_ms + pad_ms) * rate / 1000) + reach
        fa, fb = max(-(-a // hop), 0), min(b // hop + 1, n_frames)
        if fb > fa:
            flags[fa:fb] = True
    return flags


def masked_background(x: np.ndarray, rate: int, spans, opts: SeparateOptions,
                      guide: np.ndarray | None = None) -> np.ndarray:
    """The background of the mono signal `x`; `guide` is a voice-free signal (the side channel)."""
    import librosa
    from scipy.ndimage import uniform_filter

    n_fft, hop = stft_size(rate)
    spec = librosa.stft(x, n_fft=n_fft, hop_length=hop, window="hann", center=True)
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
    n_frames = spec.shape[1]
    speech = _frame_flags(n_frames, hop, rate, spans, opts.pad_ms, 0)
    # Frames whose window touches speech cannot serve as background references.
    touched = _frame_flags(n_frames, hop, rate, spans, opts.pad_ms, n_fft // 2)
    clean = ~touched
    guide_power = None
    if guide is not None:
        g = librosa.stft(guide, n_fft=n_fft, hop_length=hop, window="hann", center=True)
        guide_power = (g.real ** 2 + g.imag ** 2).astype(np.float32)

    gain = np.ones_like(power)
    context = max(int(opts.context_ms * rate / 1000) // hop, 1)
    global_bg = power[:, clean].mean(axis=1) if clean.any() else None
    for a, b in _regions(touched):
        est = _region_estimate(power, clean, a, b, context, global_bg)
        if guide_power is not None:
            est = _guided(est, power, guide_power, clean, a, b, context)
        obs = power[:, a:b]
        speech_power = np.maximum(obs - opts.over_subtraction * est, 0.0)
        gain[:, a:b] = est / (est + speech_power + EPS)
    if opts.mask_power != 1.0:
        gain **= opts.mask_power
    if opts.smooth_bins > 1 or opts.smooth_frames > 1:
        gain = uniform_filter(gain, size=(opts.smooth_bins, opts.smooth_frames), mode="nearest")
    np.maximum(gain, 10 ** (opts.floor_db / 20), out=gain)
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    gain[freqs < opts.low_cut_hz, :] = 1.0
    # Gate: the gain applies only to speech frames, faded in and out over RAMP_FRAMES frames.
    gate = speech.astype(np.float32)
    ramp = np.ones(2 * RAMP_FRAMES + 1, dtype=np.float32)
    gate = np.minimum(np.convolve(gate, ramp / ramp.sum(), mode="same") * 2, 1.0) if gate.any() else gate
    gain = 1.0 - gate[None, :] * (1.0 - gain)
    out = librosa.istft(spec * gain, hop_length=hop, window="hann", center=True, length=len(x))
    return out.astype(np.float32)


def _region_estimate(power: np.ndarray, clean: np.ndarray, a: int, b: int, context: int,
                     global_bg: np.ndarray | None) -> np.ndarray:
    """Background power per bin and frame for frames [a, b): the mean non-speech power before
    and after the run, interpolated across it; the episode's mean, or the run's own 20th
    percentile when there is no non-speech audio at all."""
    lo, hi = max(a - context, 0), min(b + context, power.shape[1])
    before = power[:, lo:a][:, clean[lo:a]]
    after = power[:, b:hi][:, clean[b:hi]]
    min_frames = 4
    sides = [s.mean(axis=1) if s.shape[1] >= min_frames else None for s in (before, after)]
    if sides[0] is not None and sides[1] is not None:
        w = (np.arange(a, b) - a + 0.5) / max(b - a, 1)
        return sides[0][:, None] * (1 - w)[None, :] + sides[1][:, None] * w[None, :]
    one = sides[0] if sides[0] is not None else sides[1]
    if one is None:
        one = global_bg if global_bg is not None else np.percentile(power[:, a:b], 20, axis=1)
    return np.repeat(one[:, None], b - a, axis=1)


def _guided(est: np.ndarray, power: np.ndarray, guide_power: np.ndarray, clean: np.ndarray,
            a: int, b: int, context: int) -> np.ndarray:
    """Give the stationary estimate the side channel's time course: the mid/side power ratio per
    bin around the run times the side's power in it, combined with `est` by a geometric mean.
    Bins where the side is too weak to follow (ratio over 30 dB) keep `est`."""
    lo, hi = max(a - context, 0), min(b + context, power.shape[1])
    ref = np.zeros(power.shape[1], dtype=bool)
    ref[lo:hi] = clean[lo:hi]
    if ref.sum() < 4:
        return est
    ratio = power[:, ref].mean(axis=1) / (guide_power[:, ref].mean(axis=1) + EPS)
    followed = guide_power[:, a:b] * ratio[:, None]
    usable = (ratio < 1e3)[:, None]
    return np.where(usable, np.sqrt(est * followed), est)
