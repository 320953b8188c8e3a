"""One OCR pass over a video: probe for the band, stream the band, read the samples, merge."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from localize.core.artifacts import OcrTrack
from localize.core.errors import MediaError
from localize.core.media.probe import probe
from localize.stages.script.ocr import READERS, OcrOptions, Reader
from localize.stages.script.ocr.band import Band, BandRules, contrast_mask, find_band, mask_distance
from localize.stages.script.ocr.frames import Geometry, Strip, grab_stills, stream_strip, video_geometry
from localize.stages.script.ocr.merge import (
    FrameReading,
    MergeOptions,
    TextBox,
    cut_static,
    join_boxes,
    merge_readings,
    off_centre,
    same_spot,
    split_scripts,
    static_boxes,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class OcrStats:
    """What one pass cost: for benchmarks and logs."""

    probe_frames: int  # stills decoded and read whole to find the band
    frames_decoded: int  # band frames decoded (every refine_step_ms)
    frames_sampled: int  # of those, the samples (every frame_step_ms)
    frames_ocr: int  # samples actually read; the others reused an unchanged reading
    seconds: float


def scan_video(
    video: Path, options: OcrOptions, progress_advance: Callable[[int], None] = lambda n: None
) -> tuple[OcrTrack, OcrStats]:
    """What :func:`localize.stages.script.ocr.read_burned_subtitles` does, plus what it cost."""
    began = time.perf_counter()
    info = probe(video)
    if not info.has_video:
        raise MediaError(video, "has no video stream to read subtitles from", "pass a video file")
    geometry = video_geometry(video)
    progress = _Progress(progress_advance, options.progress_total(info.duration_ms))
    reader: Reader = READERS.create(options.reader, language=options.language, threads=options.threads)
    try:
        region = _search_strip(geometry, options)
        band, stills = _probe_band(video, geometry, region, reader, options)
        progress.advance(options.probe_frames)
        if band is None:
            log.info("%s: no subtitle band found in rows %d-%d", video, region.top, region.top + region.height)
            readings: dict[str, list[FrameReading]] = {}
            decoded = sampled = read = 0
            band_rows = None
            end_ms = geometry.duration_ms
        else:
            strip = _band_strip(region, band)
            band_rows = (strip.top, strip.top + strip.height)
            log.info("%s: subtitle band at rows %d-%d (%d of %d probes)",
                     video, *band_rows, band.hits, options.probe_frames)
            line = band.line_height * strip.scale / region.scale
            samples, decoded, read = _scan_band(video, strip, line, reader, options, progress)
            sampled = len(samples)
            readings = _readings(samples, strip)
            dense = options.refine_step_ms or options.frame_step_ms
            end_ms = min(geometry.duration_ms, decoded * dense)
        merge = MergeOptions(max_distance=options.max_distance, flicker_confidence=options.flicker_confidence)
        cues = tuple(sorted((c for script in sorted(readings)
                             for c in merge_readings(readings[script], end_ms=end_ms, options=merge)),
                            key=lambda c: (c.start_ms, c.box[1])))
        track = OcrTrack(
            cues=cues, band=band_rows, frame_step_ms=options.frame_step_ms,
            frames_read=stills + read, backend=reader.name, model=reader.model_version(),
        )
    finally:
        reader.release()
    progress.finish()
    stats = OcrStats(
        probe_frames=stills, frames_decoded=decoded, frames_sampled=sampled, frames_ocr=read,
        seconds=time.perf_counter() - began,
    )
    log.info("%s: %d cues; %d band frames decoded, %d sampled, %d read, in %.1f s",
             video, len(cues), decoded, sampled, read, stats.seconds)
    return track, stats


class _Progress:
    """Advances by exactly `total` units in all, however many samples the video really has."""

    def __init__(self, advance: Callable[[int], None], total: int) -> None:
        self._advance, self._left = advance, total

    def advance(self, n: int) -> None:
        n = min(n, self._left)
        if n > 0:
            self._left -= n
            self._advance(n)

    def finish(self) -> None:
        self.advance(self._left)


def _search_strip(geometry: Geometry, options: OcrOptions) -> Strip:
    top = int(geometry.height * options.search_region[0]) // 2 * 2
    bottom = min(geometry.height, math.ceil(geometry.height * options.search_region[1]))
    return Strip(top=top, height=bottom - top, width=geometry.width, scale=min(1.0, options.max_width / geometry.width))


# The band is read at up to this width: PP-OCR's recognizer loses the spaces between Latin words in
# text scaled down (a 1920 px talk's 40 px English read at 960 px comes back "Sometimesyouthink"),
# while its detector scales its input down to 960 px by itself.
READ_WIDTH = 1920


def _band_strip(region: Strip, band: Band) -> Strip:
    """The band (in the scaled search region's rows) as a strip of source rows, even-aligned, at up to
    READ_WIDTH pixels wide."""
    rows = region.height / region.out_height
    top = region.top + int(band.top * rows) // 2 * 2
    limit = region.top + region.height
    bottom = min(limit, region.top + math.ceil(band.bottom * rows))
    height = max(2, (bottom - top + 1) // 2 * 2)
    if top + height > limit:
        height -= 2
    scale = min(1.0, max(region.scale, READ_WIDTH / region.width))
    return Strip(top=top, height=height, width=region.width, scale=scale)


def _probe_band(
    video: Path, geometry: Geometry, region: Strip, reader: Reader, options: OcrOptions
) -> tuple[Band | None, int]:
    """The band found in the probe stills (in the scaled search region's rows), and how many stills were read."""
    n = options.probe_frames
    every = max(1, geometry.duration_ms // n)
    images = grab_stills(video, every // 2, every, n, region)
    probes = reader.read(images) if images else []
    rules = BandRules(min_confidence=options.min_confidence)
    return find_band(probes, width=region.out_width, height=region.out_height, rules=rules), len(images)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sample:
    t_ms: int
    since_ms: int
    until_ms: int
    boxes: tuple[TextBox, ...]


def _readings(samples: Sequence[_Sample], strip: Strip) -> dict[str, list[FrameReading]]:
    """Each script's readings (:func:`split_scripts`), without the text that stays put and without
    logos and watermarks beside the subtitles (:func:`_subtitle_boxes`)."""
    static = static_boxes([s.boxes for s in samples])  # learnt before the corner filter, which hides it
    if static:
        log.info("static text, not subtitles: %s", ", ".join(repr(b.text) for b in static))
    per_sample = [split_scripts(_subtitle_boxes(s.boxes, static, strip.out_width)) for s in samples]
    scripts = sorted({script for found in per_sample for script in found})
    out: dict[str, list[FrameReading]] = {}
    for script in scripts:
        out[script] = []
        for s, found in zip(samples, per_sample, strict=True):
            text, box, confidence = join_boxes(found.get(script, ()))
            out[script].append(FrameReading(
                t_ms=s.t_ms, since_ms=s.since_ms, previous_until_ms=s.until_ms, text=text,
                box=strip.to_source(box) if box else None, confidence=round(confidence, 4),
            ))
    return out


def _subtitle_boxes(boxes: Sequence[TextBox], static: Sequence[TextBox], width: int) -> list[TextBox]:
    """One sample's boxes less the static text: its own boxes go, and where the reader joined it to
    a subtitle row it is cut out of that row (:func:`cut_static`); then less the boxes off to one
    side of the centred rows (:func:`off_centre`: a logo)."""
    kept: list[TextBox] = []
    for b in boxes:
        if any(same_spot(b, st) for st in static):
            continue
        cut: TextBox | None = b
        for st in static:
            cut = cut_static(cut, st) if cut is not None else None
        if cut is not None:
            kept.append(cut)
    corner = off_centre(kept, width=width)
    return [b for b in kept if b not in corner]


def _scan_band(
    video: Path, strip: Strip, line_height: float, reader: Reader, options: OcrOptions, progress: _Progress
) -> tuple[list[_Sample], int, int]:
    """Read every sample of the band; returns (samples, frames decoded, frames read).

    The change masks are computed on every `k`-th pixel, `k` the factor between the strip and
    ``options.max_width``, so reading at full resolution costs no more change detection.
    """
    dense = options.refine_step_ms or options.frame_step_ms
    every = options.frame_step_ms // dense
    k = max(1, round(strip.out_width / options.max_width))

    def read_frame(frame: np.ndarray, t_ms: int, since: int, until: int) -> _Sample:
        boxes = [
            b for b in reader.read([frame])[0]
            if b.confidence >= options.min_confidence and 0.5 * line_height <= b.height <= 2.0 * line_height
        ]  # confident lines about as tall as the subtitle lines the probes found
        return _Sample(t_ms=t_ms, since_ms=since, until_ms=until, boxes=tuple(boxes))

    samples: list[_Sample] = []
    between: list[np.ndarray] = []  # masks of the frames decoded since the last sample
    last: tuple[int, np.ndarray] | None = None  # the last sample's time and mask
    reference: tuple[np.ndarray, _Sample] | None = None  # the last sample actually read, and its mask
    picture: list[int] = []  # the samples of the current picture: the one read, then those reusing it
    kept: dict[int, np.ndarray] = {}  # their frames, from the middle one on

    def settle() -> int:
        """Read the current picture again at its middle sample, away from the changes at its edges (a row
        of the previous subtitle still overlapping the new one), and give that reading to all its
        samples; returns the frames read (0 for a picture of under 3 samples)."""
        if len(picture) < 3:
            return 0
        middle = picture[len(picture) // 2]
        boxes = read_frame(kept[middle], samples[middle].t_ms, 0, 0).boxes
        for i in picture:
            samples[i] = dataclasses.replace(samples[i], boxes=boxes)
        return 1

    decoded = read = 0
    frame = mask = None
    with contextlib.closing(stream_strip(video, dense, strip)) as frames:  # stops ffmpeg if reading fails
        for index, frame in enumerate(frames):
            decoded += 1
            mask = contrast_mask(frame[::k, ::k])
            if index % every:
                between.append(mask)
                continue
            t_ms = index * dense
            until, since = (0, 0) if last is None else _change_times(last[0], dense, last[1], between, mask)
            if reference is not None and mask_distance(mask, reference[0]) < options.change_threshold:
                sample = dataclasses.replace(reference[1], t_ms=t_ms, since_ms=since, until_ms=until)
                picture.append(len(samples))
                kept[len(samples)] = frame
                for i in [i for i in kept if i < picture[len(picture) // 2]]:
                    del kept[i]  # only the middle sample's frame will be read again
            else:
                read += settle()
                sample = read_frame(frame, t_ms, since, until)
                reference = (mask, sample)
                read += 1
                picture[:], kept = [len(samples)], {len(samples): frame}
            log.debug("%d ms (since %d): %r", t_ms, since, [b.text for b in sample.boxes])
            samples.append(sample)
            last, between = (t_ms, mask), []
            progress.advance(1)
    read += settle()
    if last is not None and between and frame is not None and mask is not None:
        # Frames after the last sample: read the very last one too if it changed, so a
        # subtitle that goes in the video's last step ends there, not at the end of the video.
        between.pop()
        if mask_distance(mask, last[1]) >= options.change_threshold:
            until, since = _change_times(last[0], dense, last[1], between, mask)
            samples.append(read_frame(frame, (decoded - 1) * dense, since, until))
            read += 1
    return samples, decoded, read


_DIFFERENT = 0.5  # mask distance above which two band pictures show different subtitles


def _change_times(
    before_ms: int, step_ms: int, before: np.ndarray, between: Sequence[np.ndarray], now: np.ndarray
) -> tuple[int, int]:
    """When the picture of the sample at `before_ms` ended, and when the picture of `now` began.

    `between` are the frames decoded between the two samples, `step_ms` apart. The old
    picture ends before the first frame that differs from it; the new one begins after
    the last frame that differs from it. They are the same time when the subtitle changes
    once, and differ when a short gap (or a subtitle too short to be sampled) falls between.
    Each boundary is half a step before the first frame that shows the change.
    """
    frames = [before, *between, now]
    until = next((k for k in range(1, len(frames)) if mask_distance(frames[k], before) >= _DIFFERENT), len(frames) - 1)
    since = next((k for k in range(len(frames) - 2, -1, -1) if mask_distance(frames[k], now) >= _DIFFERENT), -1) + 1
    since = max(since, until, 1)
    half = step_ms // 2
    return before_ms + until * step_ms - half, before_ms + since * step_ms - half
