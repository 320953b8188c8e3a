"""Scoring a background estimate against the true bed and voice it was mixed from.

Used by the separation tests and bench/bench_separation.py; SDRs are computed here (no museval).

- ``sdr_db``: plain signal-to-distortion ratio ``|b|^2 / |b - b_hat|^2`` over the given samples.
- ``decompose``: inside each speech span, per frequency bin, the estimate's STFT is projected onto
  the true bed's and the true voice's (one complex gain each per bin and span: like BSS Eval's
  distortion filters, fitted piecewise). ``bed_kept_db`` is the energy of the bed part relative
  to the true bed, ``voice_leak_db`` the energy of the voice part relative to the true voice.
  For the ducked original at -15 dB both read -15 dB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from localize.stages.mix.separate.audio import span_mask

EPS = 1e-20


def sdr_db(reference: np.ndarray, estimate: np.ndarray, where: np.ndarray | None = None) -> float:
    ref, est = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
    if where is not None:
        ref, est = ref[where], est[where]
    return float(10 * np.log10((np.sum(ref ** 2) + EPS) / (np.sum((ref - est) ** 2) + EPS)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Decomposition:
    bed_kept_db: float  # bed energy kept inside speech spans, relative to the true bed (0 = all)
    voice_leak_db: float  # voice energy left in the background, relative to the true voice
    artifacts_db: float  # what is neither, relative to the true bed


def decompose(bed: np.ndarray, voice: np.ndarray, estimate: np.ndarray, rate: int,
              spans: Sequence[tuple[int, int]], n_fft: int = 2048) -> Decomposition:
    """Project `estimate` onto `bed` and `voice` inside `spans` (all arrays (samples, channels))."""
    import librosa

    hop = n_fft // 4
    kept = bed_total = leak = voice_total = art = 0.0
    for c in range(bed.shape[1]):
        spec = [librosa.stft(np.ascontiguousarray(x[:, c], dtype=np.float32), n_fft=n_fft, hop_length=hop)
                for x in (bed, voice, estimate)]
        for start_ms, end_ms in spans:
            a = int(start_ms * rate / 1000) // hop
            b = min(int(end_ms * rate / 1000) // hop + 1, spec[0].shape[1])
            if b - a < 2:
                continue
            B, S, Y = (s[:, a:b].astype(np.complex128) for s in spec)
            bb, ss = np.sum(np.abs(B) ** 2, 1), np.sum(np.abs(S) ** 2, 1)
            bs = np.sum(np.conj(B) * S, 1)
            yb, ys = np.sum(np.conj(B) * Y, 1), np.sum(np.conj(S) * Y, 1)
            det = bb * ss - np.abs(bs) ** 2
            ok = det > 1e-9 * (bb * ss + EPS)
            det = np.where(ok, det, 1.0)
            gb = np.where(ok, (ss * yb - bs * ys) / det, yb / (bb + EPS))
            gs = np.where(ok, (bb * ys - np.conj(bs) * yb) / det, 0.0)
            part_b, part_s = gb[:, None] * B, gs[:, None] * S
            kept += np.sum(np.abs(part_b) ** 2)
            leak += np.sum(np.abs(part_s) ** 2)
            art += np.sum(np.abs(Y - part_b - part_s) ** 2)
            bed_total += np.sum(bb)
            voice_total += np.sum(ss)

    def db(x: float, ref: float) -> float:
        return float(10 * np.log10((x + EPS) / (ref + EPS)))

    return Decomposition(bed_kept_db=db(kept, bed_total), voice_leak_db=db(leak, voice_total),
                         artifacts_db=db(art, bed_total))


def ducked(mix: np.ndarray, rate: int, spans: Sequence[tuple[int, int]], duck_db: float) -> np.ndarray:
    """The baseline: the original ducked by `duck_db` under the spans (localize.stages.mix.mixer's envelope)."""
    from localize.stages.mix.mixer import duck_envelope

    env = duck_envelope(len(mix), rate, list(spans), duck_db)
    return mix * env[:, None]


def in_spans(n: int, rate: int, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    return span_mask(n, rate, spans)
