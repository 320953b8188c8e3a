"""Visible mouth activity per face track over time, and which face speaks each line.

Two measures, both sampled on every frame of a track and scaled per track to 0..1 (its 10th
percentile -> 0, its 90th -> 1):

* ``haar`` (default, OpenCV only): the mouth region of the Haar face box (rows 68-95 %,
  columns 28-72 %) is scored by how much darker its darkest pixels are than its median: an open
  mouth shows a dark gap between the lips. On the sample episode this follows dlib's mouth
  aspect ratio with a correlation of about 0.5.
* ``dlib`` (the `faces` extra): the inner-lip aspect ratio from dlib's 68 landmarks (mean
  height of the inner lips over their width). Its model's iBUG 300-W terms are NON-COMMERCIAL.
* ``mesh`` (the `mesh` extra): the inner-lip opening over the mouth's inner width from MediaPipe Face
  Mesh's 468 landmarks (Apache-2.0; :mod:`localize.stages.picture.facemesh`). On the talking-head set's
  tune clips it did worse than Haar (8/10 lines to the right face against 10/10; the sunglasses man's
  lip partings found later), so Haar stays the default.

The speaking face of a line (:func:`speaking_faces`) is decided per line among the face tracks on
screen for most of it (`MIN_COVER`):

* one face: it speaks the line when its mouth is active at all (at least `MIN_ACTIVE` of the line's
  frames at `OPEN_LEVEL` or more), unless it is clearly quieter in this speaker's lines than in the
  other speakers' lines on the same track (by `QUIET_MARGIN`): then the line is another person's,
  off screen (a listener with a closed mouth);
* two or more faces: the face whose mouth moves with the line's sound (audio-visual synchrony,
  :func:`_sync`). The source's speech envelope (:class:`SpeechEnvelope`, pre-emphasised 10 ms RMS smoothed
  over `ENVELOPE_SMOOTH_MS`, stored with the activity) and each face's activity are both taken less their
  moving average over `DETREND_MS`, so only the syllable-rate movement counts, and correlated (Pearson, so
  each face's own scale does not matter) over the line with the envelope read at each lag of
  `SYNC_LAGS_MS` after the frame (the lips lead the sound by a varying amount); a face's synchrony is its
  best lag's. The best face speaks the line when it beats the next by `MIN_MARGIN`, else none is linked.
  Without an envelope (an artifact from before it existed) the speaker-level link below decides.

:func:`link_speakers` links whole speakers to tracks: each (speaker, track) pair is scored by the
track's activity inside that speaker's lines above its activity outside them, and pairs are taken best
first, each track going to one speaker and each speaker getting at most one track per shot.

Tuned on the talking-head set's tune clips (bench/data/talking_heads.json: two single-face clips, the
sample's source and one two-face shot), reported on the others (bench/bench_talking_heads.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from localize.core.artifacts import Line
from localize.stages.picture.faces import Box, FaceTracks, iter_frames

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# A change in the activity measured bumps FACES (localize/stages/picture/lipstage.py), the artifact holding it.
METHODS = ("haar", "dlib", "mesh")
MIN_COVER = 0.6  # a track must be on screen for this share of a line to speak it
MIN_TALK = 0.08  # how much more active (0..1 scale) in a speaker's lines than outside them a talking face is
MIN_OUTSIDE = 10  # frames of the face outside the speaker's lines needed to compare with
CLOSED_LEVEL = 0.3
OPEN_LEVEL = 0.3  # activity (0..1 per face) of an open mouth
MIN_ACTIVE = 0.2  # share of a line's frames a lone face's mouth must be open on to speak it
QUIET_MARGIN = 0.05  # a lone face this much less active in a speaker's lines than in others' is not theirs
MIN_FRAMES = 10  # frames of a face inside a line needed to judge it
ENVELOPE_STEP_MS = 10
ENVELOPE_SMOOTH_MS = 150
MOUTH_LEAD_MS = 80  # the sound follows the lips by about this much
SYNC_LAGS_MS = tuple(range(-40, 241, 40))  # the sound is read this much after the lips; the best lag counts
DETREND_MS = 330  # both curves less their moving average over this: syllables, not the line's slow swell
MIN_MARGIN = 0.03  # synchrony by which the speaking face must beat the next one on screen


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechEnvelope:
    """The source sound's loudness every `step_ms` (pre-emphasised RMS, smoothed; linear, 0..1)."""

    step_ms: int
    values: tuple[float, ...]

    def at(self, t_ms: int) -> float:
        if not self.values:
            return 0.0
        return self.values[min(max(t_ms // self.step_ms, 0), len(self.values) - 1)]


@dataclass(frozen=True, slots=True, kw_only=True)
class MouthCurve:
    track: str
    times_ms: tuple[int, ...]
    values: tuple[float, ...]  # 0 = closed / still, 1 = wide open, per track

    def window(self, start_ms: int, end_ms: int) -> tuple[list[int], list[float]]:
        pairs = [(t, v) for t, v in zip(self.times_ms, self.values, strict=True) if start_ms <= t < end_ms]
        return [t for t, _ in pairs], [v for _, v in pairs]

    def mean(self, start_ms: int, end_ms: int) -> float | None:
        _, vals = self.window(start_ms, end_ms)
        return sum(vals) / len(vals) if vals else None


@dataclass(frozen=True, slots=True, kw_only=True)
class MouthActivity:
    method: str
    curves: tuple[MouthCurve, ...]
    speech: SpeechEnvelope | None = None  # the source's speech envelope, for the speaking-face link

    def curve(self, track: str) -> MouthCurve | None:
        return next((c for c in self.curves if c.track == track), None)


def haar_mouth_score(grey: np.ndarray, box: Box) -> float:
    """How much darker the mouth region's darkest 5 % is than its median (grey levels)."""
    import cv2
    import numpy as np

    x, y, w, h = box
    y0, y1 = max(int(y + 0.68 * h), 0), min(int(y + 0.95 * h), grey.shape[0])
    x0, x1 = max(int(x + 0.28 * w), 0), min(int(x + 0.72 * w), grey.shape[1])
    if y1 - y0 < 4 or x1 - x0 < 4:
        return 0.0
    roi = cv2.resize(grey[y0:y1, x0:x1], (48, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
    return float(np.median(roi) - np.percentile(roi, 5))


def lip_aspect_ratio(points: np.ndarray) -> float:
    """Inner-lip height over width from dlib's 68 points (60-67 are the inner lips)."""
    import numpy as np

    p = points
    height = (np.linalg.norm(p[61] - p[67]) + np.linalg.norm(p[62] - p[66]) + np.linalg.norm(p[63] - p[65])) / 3
    return float(height / max(float(np.linalg.norm(p[60] - p[64])), 1e-6))


def scale01(values: Sequence[float]) -> list[float]:
    """Per-track scale: the 10th percentile -> 0, the 90th -> 1, clipped."""
    import numpy as np

    if not values:
        return []
    v = np.asarray(values, dtype=np.float64)
    lo, hi = np.percentile(v, 10), np.percentile(v, 90)
    if hi - lo < 1e-9:
        return [0.0] * len(v)
    return [round(float(x), 4) for x in np.clip((v - lo) / (hi - lo), 0.0, 1.0)]


def smooth(values: Sequence[float], width: int = 3) -> list[float]:
    """A centred moving average over `width` samples."""
    import numpy as np

    if len(values) < width or width <= 1:
        return list(values)
    v = np.asarray(values, dtype=np.float64)
    padded = np.pad(v, width // 2, mode="edge")
    return list(np.convolve(padded, np.ones(width) / width, mode="valid")[: len(v)])


def speech_envelope(media: Path) -> SpeechEnvelope:
    """The speech envelope of `media`'s sound (see :class:`SpeechEnvelope`), decoded at 16 kHz mono."""
    import subprocess

    import numpy as np

    proc = subprocess.run(["ffmpeg", "-v", "error", "-i", str(media), "-vn", "-ac", "1", "-ar", "16000",
                           "-f", "s16le", "-"], capture_output=True)
    if proc.returncode != 0:
        from localize.core.errors import MediaError

        raise MediaError(media, "ffmpeg cannot decode its sound", "check it plays, or re-encode it")
    x = np.frombuffer(proc.stdout, np.int16).astype(np.float64) / 32768
    hop = 16 * ENVELOPE_STEP_MS
    n = len(x) // hop
    if n == 0:
        return SpeechEnvelope(step_ms=ENVELOPE_STEP_MS, values=())
    y = np.append(x[:1], x[1:] - 0.97 * x[:-1])  # pre-emphasis: voice over rumble and hum
    rms = np.sqrt(np.mean(np.square(y[: n * hop].reshape(n, hop)), axis=1))
    peak = float(rms.max()) or 1.0
    width = max(ENVELOPE_SMOOTH_MS // ENVELOPE_STEP_MS, 1)
    env = smooth(list(rms / peak), width if width % 2 else width + 1)
    return SpeechEnvelope(step_ms=ENVELOPE_STEP_MS, values=tuple(round(float(v), 4) for v in env))


def mouth_activity(video: Path, tracks: FaceTracks, *, method: str = "haar", speech: bool = True) -> MouthActivity:
    """Every track's mouth activity on every frame it covers, and the video's speech envelope."""
    import cv2

    if method not in METHODS:
        from localize.core.errors import UnknownNameError

        raise UnknownNameError("mouth method", method, METHODS)
    landmarker = mesh = None
    if method == "dlib":
        from localize.stages.picture.landmarks import landmarker as get_landmarker

        landmarker = get_landmarker()
    elif method == "mesh":
        from localize.stages.picture.facemesh import face_mesh

        mesh = face_mesh()
    raw: dict[str, tuple[list[int], list[float]]] = {tr.id: ([], []) for tr in tracks.tracks}
    if tracks.tracks:
        for _, t_ms, frame in iter_frames(video):
            on = tracks.at(t_ms)
            if not on:
                continue
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if method == "haar" else None
            for tr, box in on:
                if mesh is not None:
                    score = mesh.at(frame, box).lip_opening()
                elif landmarker is not None:
                    x, y, w, h = box
                    score = lip_aspect_ratio(landmarker.at(frame, (x, y, x + w, y + h)).points)
                else:
                    assert grey is not None  # converted above for the Haar measure
                    score = haar_mouth_score(grey, box)
                raw[tr.id][0].append(t_ms)
                raw[tr.id][1].append(score)
    curves = tuple(MouthCurve(track=tid, times_ms=tuple(ts), values=tuple(scale01(smooth(vs))))
                   for tid, (ts, vs) in raw.items())
    envelope = speech_envelope(video) if speech and curves else None
    return MouthActivity(method=method, curves=curves, speech=envelope)


def _covers(track_span: tuple[int, int], start_ms: int, end_ms: int) -> bool:
    overlap = min(track_span[1], end_ms) - max(track_span[0], start_ms)
    return overlap >= MIN_COVER * max(end_ms - start_ms, 1)


def link_speakers(lines: Sequence[Line], tracks: FaceTracks, activity: MouthActivity) -> dict[str, str]:
    """Speaker -> the face track that speaks their lines, per shot (see the module docstring).

    Returns ``{"<speaker>@<shot>": track_id}``; use :func:`speaking_faces` for lines."""
    pairs = []
    for tr in tracks.tracks:
        curve = activity.curve(tr.id)
        if curve is None or not curve.values:
            continue
        speakers = {ln.speaker for ln in lines if _covers((tr.start_ms, tr.end_ms), ln.start_ms, ln.end_ms)}
        for speaker in speakers:
            own = [ln for ln in lines if ln.speaker == speaker]
            inside: list[float] = []
            outside: list[float] = []
            for t, v in zip(curve.times_ms, curve.values, strict=True):
                (inside if any(ln.start_ms <= t < ln.end_ms for ln in own) else outside).append(v)
            if not inside:
                continue
            # the same face while this speaker is not talking; a face only ever seen talking is
            # compared with a closed mouth's typical level
            base = sum(outside) / len(outside) if len(outside) >= MIN_OUTSIDE else CLOSED_LEVEL
            pairs.append((sum(inside) / len(inside) - base, speaker, tr))
    linked: dict[str, str] = {}
    used: set[str] = set()
    for score, speaker, tr in sorted(pairs, key=lambda p: -p[0]):
        slot = f"{speaker}@{tr.shot}"
        if score < MIN_TALK or tr.id in used or slot in linked:
            continue
        linked[slot] = tr.id
        used.add(tr.id)
        log.info("%s speaks through face %s in shot %d (activity +%.2f over silence)", speaker, tr.id, tr.shot, score)
    return linked


def _correlation(curve: MouthCurve, speech: SpeechEnvelope, start_ms: int, end_ms: int) -> float | None:
    """Pearson correlation of a face's activity with the speech envelope `MOUTH_LEAD_MS` later, over a line."""
    import numpy as np

    times, values = curve.window(start_ms, end_ms)
    if len(times) < MIN_FRAMES:
        return None
    v = np.asarray(values, dtype=np.float64)
    e = np.asarray([speech.at(t + MOUTH_LEAD_MS) for t in times], dtype=np.float64)
    if v.std() < 1e-9 or e.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(v, e)[0, 1])


def _detrend(values: np.ndarray, width: int) -> np.ndarray:
    import numpy as np

    padded = np.pad(values, width // 2, mode="edge")
    return values - np.convolve(padded, np.ones(width) / width, mode="valid")[: len(values)]


def _sync(curve: MouthCurve, speech: SpeechEnvelope, start_ms: int, end_ms: int) -> float | None:
    """Audio-visual synchrony of a face over a line: the best Pearson correlation, over lags `SYNC_LAGS_MS`,
    of its mouth activity with the speech envelope read that much later, both less their moving average
    over `DETREND_MS` (the syllable-rate movement of the lips against the voice's; over a whole line a
    slow swell, such as a pause in one face's speech that happens to fall in the other's, would decide)."""
    import numpy as np

    t = np.asarray(curve.times_ms, dtype=np.int64)
    inside = (t >= start_ms) & (t < end_ms)
    if int(inside.sum()) < MIN_FRAMES:
        return None
    step = float(np.median(np.diff(t))) if len(t) > 1 else 40.0
    width = max(int(DETREND_MS / max(step, 1.0)) | 1, 3)
    raw = np.asarray(curve.values, dtype=np.float64)
    if raw[inside].std() < 1e-6:
        return 0.0  # a mouth that does not move over the line does not speak it
    v = _detrend(raw, width)[inside]
    env = np.asarray(speech.values, dtype=np.float64)
    best = None
    for lag in SYNC_LAGS_MS:
        e = _detrend(env[np.clip((t + lag) // speech.step_ms, 0, len(env) - 1)], width)[inside]
        if v.std() < 1e-9 or e.std() < 1e-9:
            continue
        r = float(np.corrcoef(v, e)[0, 1])
        best = r if best is None else max(best, r)
    return 0.0 if best is None else best


def _mean_in(curve: MouthCurve, lines: Sequence[Line]) -> tuple[float, int]:
    vals = [v for t, v in zip(curve.times_ms, curve.values, strict=True)
            if any(ln.start_ms <= t < ln.end_ms for ln in lines)]
    return (sum(vals) / len(vals) if vals else 0.0), len(vals)


def _lone_face_speaks(line: Line, lines: Sequence[Line], curve: MouthCurve) -> bool:
    """A single face on screen speaks `line` when its mouth is open at all, unless it is quieter in
    this speaker's lines than in the other speakers' lines it is on screen for (see the module docstring)."""
    _, values = curve.window(line.start_ms, line.end_ms)
    if len(values) < MIN_FRAMES or sum(v >= OPEN_LEVEL for v in values) < MIN_ACTIVE * len(values):
        return False
    own, n_own = _mean_in(curve, [ln for ln in lines if ln.speaker == line.speaker])
    other, n_other = _mean_in(curve, [ln for ln in lines if ln.speaker != line.speaker])
    return not (n_own >= MIN_FRAMES and n_other >= MIN_FRAMES and own < other - QUIET_MARGIN)


def speaking_faces(lines: Sequence[Line], tracks: FaceTracks, activity: MouthActivity) -> dict[str, str]:
    """Line id -> the track id of the face speaking it, or "" where none is visible and talking
    (see the module docstring)."""
    fallback: dict[str, str] | None = None
    out = {}
    for ln in lines:
        on = [(tr, curve) for tr in tracks.tracks
              if _covers((tr.start_ms, tr.end_ms), ln.start_ms, ln.end_ms)
              and (curve := activity.curve(tr.id)) is not None
              and len(curve.window(ln.start_ms, ln.end_ms)[0]) >= MIN_FRAMES]
        found = ""
        if len(on) == 1:
            found = on[0][0].id if _lone_face_speaks(ln, lines, on[0][1]) else ""
        elif len(on) > 1 and activity.speech is not None:
            scored = sorted(((_sync(curve, activity.speech, ln.start_ms, ln.end_ms) or 0.0, tr.id)
                             for tr, curve in on), reverse=True)
            if scored[0][0] > 0 and scored[0][0] - scored[1][0] >= MIN_MARGIN:
                found = scored[0][1]
            log.debug("%s: faces %s", ln.id, ", ".join(f"{t} r={r:+.2f}" for r, t in scored))
        elif len(on) > 1:
            if fallback is None:
                fallback = _speaker_faces(lines, tracks, activity)
            found = fallback[ln.id]
        out[ln.id] = found
    return out


def _speaker_faces(lines: Sequence[Line], tracks: FaceTracks, activity: MouthActivity) -> dict[str, str]:
    """Line id -> the track its speaker is linked to by :func:`link_speakers`, "" where none."""
    linked = link_speakers(lines, tracks, activity)
    spans = {tr.id: (tr.start_ms, tr.end_ms) for tr in tracks.tracks}
    out = {}
    for ln in lines:
        found = ""
        for tr in tracks.tracks:
            if linked.get(f"{ln.speaker}@{tr.shot}") == tr.id and _covers(spans[tr.id], ln.start_ms, ln.end_ms):
                found = tr.id
                break
        out[ln.id] = found
    return out
