"""Lip alignment: move each dub line's speech toward the speaking face's mouth.

For a line whose speaker's face is on screen and talking (:func:`localize.stages.picture.mouth.speaking_faces`),
the mouth *opens* where its activity leaves the lips' closure near the line's start and *closes*
where it settles near the line's end (:func:`mouth_events`). The dub clip's own speech onset and
end are measured from its audio (an energy threshold), then, line by line in order:

1. the clip is shifted so its speech onset lands on the mouth opening, but never earlier than
   `max_lead_ms` before its slot or `guard_ms` after the previous dub, and never so late that it
   runs into the next dub (the rules of :func:`localize.stages.voice.tts.fit.plan_track`);
2. if its speech then ends more than `END_TOLERANCE_MS` from the mouth closing, it is re-timed
   toward it: a speed between 1.0 and the market's cap (never slowed below the pace it was
   synthesized at, never past the cap), again only where the neighbours leave room.

Where the source's sound rises just after the opening (within `SOUND_LEAD_MS`), the onset goes to that
rise instead: the dub's sound replaces the source's, and the lips open before it (:func:`line_events`).
Where the speaking face shows no clear opening near the line's start (:func:`mouth_events`), or the only
opening is a later syllable's (the line follows the previous one within `TIGHT_GAP_MS`, so it starts where
the sound changes, often mid-speech for its face, and the opening comes more than `LATE_OPEN_MS` after that
start), the line's speech onset is the evidence instead: its start in the script, or after a pause the
source's sound rise from it (:func:`sound_rise`); the dub's onset is shifted onto it, with the same slot
rules and no re-timing. Each line keeps its offset (dub speech onset minus the opening, or the onset)
before and after, in the dub track and the report. Lines without a talking face are left
where the dubbing stage put them: alignment moves a line only on evidence.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from localize.core.artifacts import DubTrack, Line
from localize.core.media.ffmpeg import run_ffmpeg, stretch_argv
from localize.stages.picture.mouth import MouthActivity, MouthCurve, SpeechEnvelope

log = logging.getLogger(__name__)

# A change in the alignment bumps LIPALIGN (localize/stages/picture/lipstage.py).
OPEN_LEVEL = 0.3  # mouth activity (0..1 per face) that counts as opening
CLOSED_LEVEL = 0.25  # ... and as closed
SEARCH_MS = 400  # how far from a slot's start (and end) the lips' closure and opening are looked for
CLEAR_LEVEL = 0.4  # a clear opening: the mouth goes from closed to this activity ...
MAX_RISE_MS = 200  # ... within this
END_TOLERANCE_MS = 80
TIGHT_GAP_MS = 300  # a line this close after the previous one starts where the sound changes, not after a pause
LATE_OPEN_MS = 100  # ... and an opening later than this after its start is a later syllable's (tune clips: <= +80)
SOUND_LEAD_MS = 250  # the lips open at most this long before the sound they make
QUIET_MS = 300  # the source's quiet level is read over this before a time ...
RISE_SHARE = 1 / 3  # ... and its sound has risen where it is this share of the way from it to the peak after
MIN_RISE = 0.02  # (envelope, 0..1) less than this from the quiet level to the peak is no rise
ONSET_DB = -30.0  # a clip's speech starts where its 10 ms level first comes within this of its loudest


@dataclass(frozen=True, slots=True, kw_only=True)
class MouthEvents:
    open_ms: int  # where the dub's speech onset goes
    close_ms: int | None
    # "mouth": the face's clear opening; "sound": the source's sound rising just after that opening;
    # "speech": the line's own speech onset (no clear opening of its own)
    evidence: str = "mouth"


@dataclass(frozen=True, slots=True, kw_only=True)
class LipItem:
    """What the planner needs for one dub line (all times absolute, except onset/end inside the clip)."""

    slot_start_ms: int
    slot_end_ms: int
    dub_start_ms: int
    length_ms: int  # the clip as placed
    onset_ms: int  # its speech onset inside the clip
    speech_end_ms: int  # its speech end inside the clip
    speed: float
    mouth: MouthEvents | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    start_ms: int
    speed: float  # the clip's new overall speed (its old one where unchanged)
    length_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LipLine:
    id: str
    face: str  # the speaking face track, "" when none is visible and talking
    mouth_open_ms: int  # -1: not found (for evidence "speech", the line's speech onset the dub was aligned to)
    mouth_close_ms: int  # -1: not found
    onset_before_ms: int  # the dub's speech onset, absolute, before and after
    onset_after_ms: int
    offset_before_ms: int  # onset minus mouth opening
    offset_after_ms: int
    end_offset_before_ms: int  # speech end minus mouth closing (0 when no closing was found)
    end_offset_after_ms: int
    speed_before: float
    speed_after: float
    evidence: str = ""  # "mouth", "sound" (the sound's rise just after the opening), "speech" (no clear opening
    # of its own: the line's speech onset), "" (not aligned)


@dataclass(frozen=True, slots=True, kw_only=True)
class LipAlignment:
    method: str
    lines: tuple[LipLine, ...]


def mouth_events(curve: MouthCurve, slot_start_ms: int, slot_end_ms: int) -> MouthEvents | None:
    """The mouth opening for a line whose original speech spans the slot, and its closing; None
    where no clear opening is seen near the slot's start (the line is then left where it is).

    Speakers close their lips before a line. The closure is the least active frame within
    `SEARCH_MS` of the slot's start (at most `CLOSED_LEVEL`); the mouth opens at the first frame
    after it whose activity reaches `OPEN_LEVEL`. The opening counts only when it is clear: itself
    within `SEARCH_MS` of the slot's start (a mouth that stays shut through the start, as with a line
    that starts mid-speech or a wrong face, opens later or never), and rising from the last closed
    frame to `CLEAR_LEVEL` within `MAX_RISE_MS` (a slow drift up or a flicker is no opening). Mirrored
    at the slot's end: the mouth closes after the last frame at `OPEN_LEVEL` before the least active
    frame near the end."""
    times, values = curve.window(slot_start_ms - SEARCH_MS, slot_end_ms + SEARCH_MS)
    if len(times) < 3:
        return None
    near_start = [i for i, t in enumerate(times) if abs(t - slot_start_ms) <= SEARCH_MS]
    closure = min(near_start, key=lambda i: (values[i], abs(times[i] - slot_start_ms)), default=None)
    if closure is None or values[closure] > CLOSED_LEVEL:
        return None
    opened = next((i for i in range(closure + 1, len(times)) if values[i] >= OPEN_LEVEL), None)
    if opened is None or abs(times[opened] - slot_start_ms) > SEARCH_MS:
        return None
    last_closed = max(i for i in range(closure, opened) if values[i] <= CLOSED_LEVEL)
    if not any(values[i] >= CLEAR_LEVEL for i in range(opened, len(times))
               if times[i] - times[last_closed] <= MAX_RISE_MS):
        return None  # a slow drift up or a flicker, not a mouth opening
    near_end = [i for i, t in enumerate(times) if abs(t - slot_end_ms) <= SEARCH_MS and i > opened]
    rest = min(near_end, key=lambda i: (values[i], abs(times[i] - slot_end_ms)), default=None)
    closed = None
    if rest is not None and values[rest] <= CLOSED_LEVEL:
        last = next((i for i in range(rest - 1, opened - 1, -1) if values[i] >= OPEN_LEVEL), None)
        if last is not None:
            closed = times[min(last + 1, len(times) - 1)]
    return MouthEvents(open_ms=times[opened], close_ms=closed)


def sound_rise(speech: SpeechEnvelope, t_ms: int) -> int | None:
    """Where the source's sound rises from `t_ms` on (within `SEARCH_MS`): the first time its envelope is
    `RISE_SHARE` of the way from its quietest in the `QUIET_MS` before to its peak after; `t_ms` itself where
    the sound is already on; None where there is no rise. (The envelope is smoothed over 150 ms, so a sharp
    onset reads as a ramp around it; a third of the way up lands within 10 ms of the onset read from the
    unsmoothed level on the tune clips.)"""
    step = speech.step_ms
    quiet = min(speech.at(t) for t in range(t_ms - QUIET_MS, t_ms + 1, step))
    after = [(t, speech.at(t)) for t in range(t_ms, t_ms + SEARCH_MS + 1, step)]
    peak = max(v for _, v in after)
    if peak - quiet < MIN_RISE:
        return None
    level = quiet + (peak - quiet) * RISE_SHARE
    return next(t for t, v in after if v >= level)


def line_events(curve: MouthCurve, line: Line, prev_end_ms: int | None = None,
                speech: SpeechEnvelope | None = None) -> MouthEvents:
    """Where a line's dub should start (and end), on the face that speaks it; `prev_end_ms` is where the
    script's line before it ends (any speaker; None for the first line), `speech` the source's envelope.

    The mouth's clear opening (:func:`mouth_events`) where there is one; where the source's sound rises
    after it (:func:`sound_rise`, within `SOUND_LEAD_MS`: the lips open before the sound they make), the
    dub's onset goes to that rise, since the dub's sound replaces the source's (a sound before the opening
    is not this mouth's, and the opening stands). Otherwise the line's own speech onset is the evidence: a
    face with no clear opening near the start (a line that starts mid-speech, a mouth the measure does not
    follow) still speaks the line then, and the dub's onset goes there, with no re-timing toward a closing.
    That onset is the line's start where it follows the line before within `TIGHT_GAP_MS` (the sound
    changes there), and after a pause the source's sound rise from the line's start, where there is one
    (a recognizer stretches a first word over the silence before it: Whisper's starts were 120-240 ms
    early on the talking-head set).

    An opening is not the line's own where the line follows the previous one within `TIGHT_GAP_MS` and the
    opening comes more than `LATE_OPEN_MS` after the line's start: such a start is where the sound changes
    (a turn, a recognizer's cut inside a sentence), pinned by the line before rather than stretched over
    silence, and the lips open before the sound they make, so an opening well after it is a later
    syllable's (the face was already speaking). After a pause an opening is believed even far from the
    start, where a recognizer's start can be early: on the hand-annotated sample (bench/data/
    mouth_openings.json) the lips part 230 ms after the line's start, 620 ms after the line before."""
    tight = prev_end_ms is not None and line.start_ms - prev_end_ms < TIGHT_GAP_MS
    events = mouth_events(curve, line.start_ms, line.end_ms)
    if events is not None and not (tight and events.open_ms - line.start_ms > LATE_OPEN_MS):
        rise = sound_rise(speech, events.open_ms) if speech is not None and speech.values else None
        if rise is not None and events.open_ms < rise <= events.open_ms + SOUND_LEAD_MS:
            return replace(events, open_ms=rise, evidence="sound")
        return events
    onset = line.start_ms
    if not tight and speech is not None and speech.values:
        onset = sound_rise(speech, line.start_ms) or line.start_ms
    return MouthEvents(open_ms=onset, close_ms=None, evidence="speech")


def previous_ends(lines: Sequence[Line]) -> dict[str, int]:
    """Per line id, where the latest-ending script line that starts before it ends (absent for the first)."""
    out: dict[str, int] = {}
    end: int | None = None
    for ln in sorted(lines, key=lambda x: (x.start_ms, x.end_ms)):
        if end is not None:
            out[ln.id] = end
        end = ln.end_ms if end is None else max(end, ln.end_ms)
    return out


def speech_bounds(samples: np.ndarray, rate: int) -> tuple[int, int]:
    """Where speech starts and ends inside a clip (ms), by 10 ms RMS against the loudest window."""
    mono = samples if samples.ndim == 1 else samples.mean(axis=1)
    hop = max(rate // 100, 1)
    n = len(mono) // hop
    if n == 0:
        return 0, round(len(mono) * 1000 / rate)
    rms = np.sqrt(np.mean(np.square(mono[: n * hop].reshape(n, hop), dtype=np.float64), axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (ONSET_DB / 20))
    if loud.size == 0:
        return 0, round(len(mono) * 1000 / rate)
    return int(loud[0] * 10), int((loud[-1] + 1) * 10)


def plan_alignment(items: Sequence[LipItem], *, max_speed: float, duration_ms: int, guard_ms: int = 80,
                   max_lead_ms: int = 250) -> list[Placement]:
    """New start and speed per clip, in slot order (see the module docstring)."""
    out: list[Placement] = []
    prev_end = -guard_ms
    for i, it in enumerate(items):
        overlapped_before = i > 0 and it.slot_start_ms < items[i - 1].slot_end_ms
        earliest = max(it.slot_start_ms - max_lead_ms, 0) if overlapped_before else \
            max(min(it.slot_start_ms - max_lead_ms, it.dub_start_ms), prev_end + guard_ms, 0)
        if i + 1 < len(items):
            nxt = items[i + 1].dub_start_ms
            limit = max(nxt - guard_ms, it.dub_start_ms + it.length_ms) if nxt >= it.slot_end_ms else \
                it.dub_start_ms + it.length_ms
        else:
            limit = max(duration_ms, it.dub_start_ms + it.length_ms)
        start, speed, length = it.dub_start_ms, it.speed, it.length_ms
        if it.mouth is not None:
            start = max(min(it.mouth.open_ms - it.onset_ms, limit - length), earliest)
            close = it.mouth.close_ms
            if close is not None and abs(start + it.speech_end_ms - close) > END_TOLERANCE_MS:
                natural = (it.speech_end_ms - it.onset_ms) * it.speed  # the speech's length at speed 1.0
                target = max(close - (start + it.onset_ms), 1)
                cap = max(max_speed, it.speed)
                room = max(limit - start, 1)
                speed = round(min(max(natural / target, 1.0, it.length_ms * it.speed / room), cap), 4)
                if abs(speed - it.speed) < 0.01 or it.length_ms * it.speed / speed > room + 1:
                    speed = it.speed  # no real change, or no pace within the cap fits: keep the clip's
                length = round(it.length_ms * it.speed / speed)
        out.append(Placement(start_ms=start, speed=speed, length_ms=length))
        prev_end = start + length
    return out


def align_track(
    track: DubTrack, dub_dir: Path, lines: Sequence[Line], faces: dict[str, str], activity: MouthActivity,
    out_dir: Path, *, duration_ms: int,
) -> tuple[DubTrack, LipAlignment]:
    """A copy of the dub in `out_dir` with clips moved (and re-timed) toward the mouths; `faces` maps
    line ids to their speaking face track (:func:`localize.stages.picture.mouth.speaking_faces`)."""
    slots = {ln.id: ln for ln in lines}
    prev_ends = previous_ends(lines)
    items, bounds = [], []
    for d in track.lines:
        samples, rate = sf.read(dub_dir / d.clip, dtype="float32", always_2d=False)
        onset, end = speech_bounds(samples, rate)
        bounds.append((onset, end))
        face = faces.get(d.id, "")
        curve = activity.curve(face) if face else None
        ln = slots.get(d.id)
        events = line_events(curve, ln, prev_ends.get(ln.id), activity.speech) if (curve and ln) else None
        items.append(LipItem(slot_start_ms=d.slot_start_ms, slot_end_ms=d.slot_end_ms, dub_start_ms=d.dub_start_ms,
                             length_ms=d.dub_end_ms - d.dub_start_ms, onset_ms=onset, speech_end_ms=end,
                             speed=d.speed, mouth=events))
    plan = plan_alignment(items, max_speed=track.max_speed, duration_ms=duration_ms)
    out_dir.mkdir(parents=True, exist_ok=True)
    new_lines, report = [], []
    for d, it, (onset, end), p in zip(track.lines, items, bounds, plan, strict=True):
        src, dst = dub_dir / d.clip, out_dir / d.clip
        length = p.length_ms
        if p.speed != d.speed:
            run_ffmpeg(stretch_argv(src, dst, speed=p.speed / d.speed, rate=track.sample_rate),
                       f"re-timing {d.id} to the mouth")
            samples, rate = sf.read(dst, dtype="float32", always_2d=False)
            length = round(len(samples) * 1000 / rate)
            onset_new, end_new = speech_bounds(samples, rate)
        else:
            shutil.copyfile(src, dst)
            onset_new, end_new = onset, end
        m = it.mouth
        before = d.dub_start_ms + onset - m.open_ms if m else 0
        after = p.start_ms + onset_new - m.open_ms if m else 0
        end_before = d.dub_start_ms + end - m.close_ms if (m and m.close_ms is not None) else 0
        end_after = p.start_ms + end_new - m.close_ms if (m and m.close_ms is not None) else 0
        face = faces.get(d.id, "")
        new_lines.append(replace(
            d, dub_start_ms=p.start_ms, dub_end_ms=p.start_ms + length, speed=p.speed,
            overflow_ms=max(0, p.start_ms + length - max(d.slot_end_ms, d.dub_end_ms - d.overflow_ms)),
            lip_face=face if m else "", lip_offset_before_ms=before, lip_offset_after_ms=after,
        ))
        report.append(LipLine(
            id=d.id, face=face, mouth_open_ms=m.open_ms if m else -1,
            mouth_close_ms=m.close_ms if (m and m.close_ms is not None) else -1,
            onset_before_ms=d.dub_start_ms + onset, onset_after_ms=p.start_ms + onset_new,
            offset_before_ms=before, offset_after_ms=after, end_offset_before_ms=end_before,
            end_offset_after_ms=end_after, speed_before=d.speed, speed_after=p.speed,
            evidence=m.evidence if m else "",
        ))
        if m:
            log.debug("%s: onset %+d ms from the mouth opening -> %+d ms", d.id, before, after)
    return replace(track, lines=tuple(new_lines)), LipAlignment(method=activity.method, lines=tuple(report))


def offset_stats(offsets: Sequence[int]) -> tuple[float, float]:
    """Mean and 90th-percentile absolute offset (ms)."""
    if not offsets:
        return 0.0, 0.0
    a = np.abs(np.asarray(offsets, dtype=np.float64))
    return round(float(a.mean()), 1), round(float(np.percentile(a, 90)), 1)
