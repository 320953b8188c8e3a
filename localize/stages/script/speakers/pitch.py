"""Each speaker's pitch: the median F0 of their voiced speech, and its class (low / mid / high).

Voice casting (localize.stages.voice) picks a TTS voice of a like pitch. The F0 comes from
librosa's pYIN when librosa is installed (the `speakers` extra has it), else from a light numpy
autocorrelation: 40 ms frames every 10 ms, a frame voiced when its normalised autocorrelation peak
in 60-400 Hz reaches 0.5 and it is within 30 dB of the loudest frame.

Classes (median F0): low under 145 Hz, high from 185 Hz, mid between. Adult men speak around
85-155 Hz, adult women around 165-255 Hz (Titze, Principles of Voice Production); the mid band holds the
low women's and the high men's voices, whose casting can go either way. A speaker with under
:data:`MIN_VOICED_S` of voiced speech gets "" (unknown).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import get_args

import numpy as np

from localize.core.artifacts import PitchClass

SAMPLE_RATE = 16_000
FMIN, FMAX = 60.0, 400.0
LOW_BELOW_HZ = 145.0
HIGH_FROM_HZ = 185.0
MIN_VOICED_S = 0.3
MAX_SPEECH_S = 20.0  # per speaker, the first this many seconds of their lines are measured
PITCH_CLASSES: tuple[str, ...] = get_args(PitchClass)


def pitch_class(f0_hz: float) -> PitchClass:
    """"low", "mid" or "high" for a median F0; "" for 0 (unknown)."""
    if f0_hz <= 0:
        return ""
    if f0_hz < LOW_BELOW_HZ:
        return "low"
    return "high" if f0_hz >= HIGH_FROM_HZ else "mid"


def f0_track(wav: np.ndarray, *, use_librosa: bool | None = None) -> np.ndarray:
    """The F0 (Hz) of each voiced 10 ms frame of 16 kHz `wav` (unvoiced frames left out)."""
    wav = np.asarray(wav, dtype=np.float32)
    if len(wav) < 2048:
        return np.zeros(0)
    if use_librosa is None:
        use_librosa = importlib.util.find_spec("librosa") is not None
    if use_librosa:
        import librosa

        f0, voiced, _ = librosa.pyin(wav, fmin=FMIN, fmax=FMAX, sr=SAMPLE_RATE, frame_length=1024, hop_length=160)
        return np.asarray(f0[voiced & np.isfinite(f0)], dtype=np.float64)
    return _autocorrelation_f0(wav)


def _autocorrelation_f0(wav: np.ndarray, *, frame: int = 640, hop: int = 160) -> np.ndarray:
    count = 1 + (len(wav) - frame) // hop
    frames = np.lib.stride_tricks.sliding_window_view(wav.astype(np.float64), frame)[::hop][:count]
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = np.sqrt(np.mean(frames**2, axis=1))
    loud = 20 * np.log10(energy + 1e-10) > 20 * np.log10(energy.max() + 1e-10) - 30
    spectrum = np.fft.rfft(frames * np.hanning(frame), n=2 * frame, axis=1)
    ac = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :frame]
    ac = ac / np.maximum(ac[:, :1], 1e-12)
    lo, hi = int(SAMPLE_RATE / FMAX), int(SAMPLE_RATE / FMIN)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    peak = ac[np.arange(len(ac)), lag]
    voiced = loud & (peak >= 0.5)
    return SAMPLE_RATE / lag[voiced].astype(np.float64)


def median_f0(samples: np.ndarray, spans: Sequence[tuple[int, int]], *, use_librosa: bool | None = None) -> float:
    """The median F0 (Hz) over the (start_ms, end_ms) `spans` of 16 kHz `samples` (the first
    :data:`MAX_SPEECH_S` seconds of them); 0.0 when under :data:`MIN_VOICED_S` of it is voiced."""
    pieces, total = [], 0
    for start, end in spans:
        piece = samples[start * SAMPLE_RATE // 1000 : end * SAMPLE_RATE // 1000]
        piece = piece[: max(int(MAX_SPEECH_S * SAMPLE_RATE) - total, 0)]
        if len(piece):
            pieces.append(np.asarray(f0_track(piece, use_librosa=use_librosa)))
            total += len(piece)
    f0 = np.concatenate(pieces) if pieces else np.zeros(0)
    if len(f0) * 0.01 < MIN_VOICED_S:
        return 0.0
    return round(float(np.median(f0)), 1)
