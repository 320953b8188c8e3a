"""Speaker embeddings of script lines: resemblyzer's VoiceEncoder (256-d, L2-normalised).

Each line gets one embedding from the audio under it. A line shorter than
:data:`MIN_WINDOW_MS` is embedded from a window widened around it, but never
into a neighbouring line, because that audio may be another speaker's. Lines
shorter than :data:`MIN_RELIABLE_MS` stay noisy even so: :func:`reliable_mask`
marks them, and the clusterer attaches them to the nearest cluster afterwards
instead of letting them shape the clusters.

The encoder cuts each window into 1.6 s partials (1.3 per second), runs all
partials of all lines through the LSTM in batches, and averages each line's
partials. The forward pass runs on one torch thread by default: the model is
small (embedding costs under 1% of real time on one thread), a second thread
was at best twice as fast on an idle 2-core machine, and with the cores busy
OpenMP's spin-waiting made two threads 10-30 times slower (64 partials: 0.29 s
on one thread, 8.3 s on two). bench/results/diarization.md has the numbers.

:func:`embed_spans` embeds windows instead of whole lines: one 1.6 s partial
(:data:`WINDOW_MS`) every :data:`HOP_MS` across each line, so a speaker change
inside a line shows as windows that disagree (localize.stages.script.speakers
finds it), and a line's embedding is the mean of its windows. Where two lines
overlap, each line's windows keep off the other line's span when the line is
long enough, so an overlap of a few hundred ms lands in neither.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from localize.core.artifacts import Line
from localize.core.errors import InputError, MediaError, MissingExtraError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
EMBEDDING_SIZE = 256
MIN_RELIABLE_MS = 600  # shorter lines are attached to a cluster, not clustered
MIN_WINDOW_MS = 1000  # shorter lines are embedded from a window widened to this, where room allows
TARGET_DBFS = -30.0  # resemblyzer's training loudness; quieter windows are raised to it
MAX_GAIN_DB = 40.0
SILENT_RMS = 1e-5  # below this a window holds no signal: its embedding is all zeros
PARTIALS_PER_SECOND = 1.3  # resemblyzer's default rate
MIN_COVERAGE = 0.75
WINDOW_MS = 1600  # one resemblyzer partial (160 mel frames of 10 ms)
HOP_MS = 400  # between the windows of one line


def _import_resemblyzer() -> tuple[Any, Any]:
    try:
        with warnings.catch_warnings():
            # webrtcvad imports pkg_resources, which warns that it is deprecated.
            warnings.simplefilter("ignore")
            import torch
            from resemblyzer import VoiceEncoder
    except ImportError as exc:
        raise MissingExtraError("resemblyzer", "speakers", "resemblyzer") from exc
    return torch, VoiceEncoder


def model_version() -> str:
    """The embedding model, for cache keys."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"resemblyzer-{version('resemblyzer')}"
    except PackageNotFoundError as exc:
        raise MissingExtraError("resemblyzer", "speakers", "resemblyzer") from exc


def reliable_mask(lines: Sequence[Line], *, min_ms: int = MIN_RELIABLE_MS) -> np.ndarray:
    """True for each line long enough to shape the clusters."""
    return np.array([line.duration_ms >= min_ms for line in lines], dtype=bool)


def embedding_windows(
    lines: Sequence[Line], duration_ms: int, *, min_ms: int = MIN_WINDOW_MS
) -> list[tuple[int, int]]:
    """The (start_ms, end_ms) each line is embedded from.

    A line at least `min_ms` long keeps its own span (clipped to the audio). A shorter one grows
    evenly on both sides up to `min_ms`, bounded by the end of the line before it, the start of
    the line after it (in time order) and the audio; room one side lacks goes to the other.
    """
    order = sorted(range(len(lines)), key=lambda i: (lines[i].start_ms, lines[i].end_ms))
    windows: list[tuple[int, int]] = [(0, 0)] * len(lines)
    for rank, i in enumerate(order):
        start = min(max(lines[i].start_ms, 0), duration_ms)
        end = min(max(lines[i].end_ms, start), duration_ms)
        need = min_ms - (end - start)
        if need > 0:
            floor = lines[order[rank - 1]].end_ms if rank > 0 else 0
            ceiling = lines[order[rank + 1]].start_ms if rank + 1 < len(order) else duration_ms
            floor = min(max(floor, 0), start)
            ceiling = max(min(ceiling, duration_ms), end)
            left = min(need // 2, start - floor)
            right = min(need - left, ceiling - end)
            left = min(need - right, start - floor)
            start, end = start - left, end + right
        windows[i] = (start, end)
    return windows


def read_audio(audio: Path) -> np.ndarray:
    """Mono float32 samples at 16 kHz (other rates are resampled, channels averaged)."""
    import soundfile as sf

    audio = Path(audio)
    if not audio.is_file():
        raise InputError(audio, "no such audio file")
    try:
        data, rate = sf.read(str(audio), dtype="float32", always_2d=True)
    except (RuntimeError, ValueError) as exc:  # soundfile's errors are RuntimeErrors
        raise MediaError(audio, f"not a readable audio file ({exc})", "pass a 16 kHz mono wav") from exc
    samples = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        import librosa

        log.debug("resampling %s from %d Hz to %d Hz", audio, rate, SAMPLE_RATE)
        samples = librosa.resample(samples, orig_sr=rate, target_sr=SAMPLE_RATE)
    return np.ascontiguousarray(samples, dtype=np.float32)


def _normalised(wav: np.ndarray) -> np.ndarray | None:
    """`wav` raised (never lowered) to TARGET_DBFS, or None when it is silent."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    if rms < SILENT_RMS:
        return None
    gain_db = min(TARGET_DBFS - 20 * np.log10(rms), MAX_GAIN_DB)
    return wav * np.float32(10 ** (gain_db / 20)) if gain_db > 0 else wav


class Embedder:
    """resemblyzer's VoiceEncoder with a load -> embed -> release lifecycle.

    Use one per call site (it loads in about 0.2 s); ``with Embedder() as e:`` loads and releases.
    """

    name = "resemblyzer"

    def __init__(self, *, device: str = "cpu", threads: int | None = 1, batch_size: int = 64) -> None:
        self.device = device
        self.threads = threads
        self.batch_size = batch_size
        self._encoder: Any = None

    def load(self) -> None:
        if self._encoder is None:
            from localize.core.modelcache import shared

            _, voice_encoder = _import_resemblyzer()

            def load() -> Any:
                encoder = voice_encoder(device=self.device, verbose=False)
                encoder.eval()
                return encoder

            self._encoder = shared("resemblyzer", self.device, load)

    def release(self) -> None:
        self._encoder = None

    def __enter__(self) -> Embedder:
        self.load()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def embed(self, samples: np.ndarray, windows: Sequence[tuple[int, int]]) -> np.ndarray:
        """One L2-normalised embedding per (start_ms, end_ms) window of 16 kHz `samples`.

        A window with no signal gets an all-zero row.
        """
        self.load()
        from resemblyzer import audio as rz_audio

        out = np.zeros((len(windows), EMBEDDING_SIZE), dtype=np.float32)
        partials: list[np.ndarray] = []
        owners: list[int] = []
        for i, (start_ms, end_ms) in enumerate(windows):
            wav = _normalised(samples[start_ms * SAMPLE_RATE // 1000 : end_ms * SAMPLE_RATE // 1000])
            if wav is None:
                continue
            wav_slices, mel_slices = self._encoder.compute_partial_slices(len(wav), PARTIALS_PER_SECOND, MIN_COVERAGE)
            if wav_slices[-1].stop > len(wav):
                wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)))
            mel = rz_audio.wav_to_mel_spectrogram(wav)
            partials.extend(mel[s] for s in mel_slices)
            owners.extend([i] * len(mel_slices))
        if not partials:
            return out
        vectors = self._forward(np.stack(partials))
        owner = np.asarray(owners)
        for i in np.unique(owner):
            mean = vectors[owner == i].mean(axis=0)
            out[i] = mean / np.linalg.norm(mean)
        return out

    def embed_windows(self, samples: np.ndarray, windows: Sequence[tuple[int, int]], *,
                      window_ms: int = WINDOW_MS) -> np.ndarray:
        """One L2-normalised embedding per window of 16 kHz `samples`, each one partial of up to `window_ms`
        (a shorter window is one shorter partial, not padded with silence, which would pull its embedding
        toward every other padded one); a silent window gets an all-zero row."""
        self.load()
        from resemblyzer import audio as rz_audio

        out = np.zeros((len(windows), EMBEDDING_SIZE), dtype=np.float32)
        size = window_ms * SAMPLE_RATE // 1000
        mels, owners = [], []
        for i, (start_ms, end_ms) in enumerate(windows):
            wav = _normalised(samples[start_ms * SAMPLE_RATE // 1000 : end_ms * SAMPLE_RATE // 1000])
            if wav is None:
                continue
            mel = rz_audio.wav_to_mel_spectrogram(wav[:size])[: size // 160]
            if len(mel) == size // 160:
                mels.append(mel)
                owners.append(i)
            else:
                out[i] = self._forward(mel[None])[0]
        if mels:
            out[owners] = self._forward(np.stack(mels))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.where(norms > 0, out / np.where(norms > 0, norms, 1), 0).astype(np.float32)

    def _forward(self, mels: np.ndarray) -> np.ndarray:
        torch, _ = _import_resemblyzer()
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                chunks = [
                    self._encoder(torch.from_numpy(mels[i : i + self.batch_size]).to(self.device)).cpu().numpy()
                    for i in range(0, len(mels), self.batch_size)
                ]
        finally:
            torch.set_num_threads(previous)
        return np.concatenate(chunks)


def line_windows(lines: Sequence[Line], duration_ms: int, *, window_ms: int = WINDOW_MS,
                 hop_ms: int = HOP_MS) -> list[list[tuple[int, int]]]:
    """Per line, the (start_ms, end_ms) windows it is embedded from.

    A line is first trimmed off the spans of the lines it overlaps (when at least `window_ms` of it is
    left), so a window holds one voice. A span of at least `window_ms` gets windows of exactly that length
    every `hop_ms` or less, the first at its start and the last at its end; a shorter span gets one window,
    widened as :func:`embedding_windows` widens short lines.
    """
    spans = []
    for i, line in enumerate(lines):
        start, end = max(line.start_ms, 0), min(line.end_ms, duration_ms)
        for j, other in enumerate(lines):
            if j == i or other.end_ms <= start or other.start_ms >= end:
                continue
            if other.start_ms <= start < other.end_ms < end and end - other.end_ms >= window_ms:
                start = other.end_ms
            elif start < other.start_ms < end <= other.end_ms and other.start_ms - start >= window_ms:
                end = other.start_ms
        spans.append((start, max(end, start)))
    short = embedding_windows(
        [Line(id=line.id, start_ms=a, end_ms=b, text="") for line, (a, b) in zip(lines, spans, strict=True)],
        duration_ms)
    out: list[list[tuple[int, int]]] = []
    for (start, end), widened in zip(spans, short, strict=True):
        if end - start < window_ms:
            out.append([widened])
            continue
        count = -(-(end - start - window_ms) // hop_ms) + 1
        starts = np.linspace(start, end - window_ms, count).round().astype(int) if count > 1 else [start]
        out.append([(int(a), int(a) + window_ms) for a in starts])
    return out


def embed_spans(samples: np.ndarray, spans: Sequence[tuple[int, int]], *, embedder: Embedder | None = None,
                window_ms: int = WINDOW_MS) -> np.ndarray:
    """One L2-normalised embedding per (start_ms, end_ms) window of 16 kHz `samples`: one encoder pass over
    the window, padded with silence to `window_ms`; a silent window gets zeros."""
    own = embedder is None
    encoder = Embedder() if embedder is None else embedder
    try:
        return encoder.embed_windows(samples, spans, window_ms=window_ms)
    finally:
        if own:
            encoder.release()


def embed_lines(audio: Path, lines: Sequence[Line], *, embedder: Embedder | None = None) -> np.ndarray:
    """An (n, 256) array: the speaker embedding of each line of `audio` (a 16 kHz mono wav).

    Rows are L2-normalised; a line over silence (or past the end of the audio) gets zeros.
    Pass a loaded `embedder` to reuse one model across calls; otherwise one is loaded and released.
    """
    samples = read_audio(audio)
    windows = embedding_windows(lines, len(samples) * 1000 // SAMPLE_RATE)
    if embedder is not None:
        return embedder.embed(samples, windows)
    with Embedder() as own:
        return own.embed(samples, windows)
