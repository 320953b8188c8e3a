"""Grey frames out of ffmpeg: argv lists built by pure functions, frames read from a pipe.

Frames are decoded by ffmpeg itself (whatever codecs it has), cropped to a strip of
rows and scaled there, and piped as raw 8-bit grey, so Python sees only the rows the
OCR needs.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import subprocess
import tempfile
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import ffmpeg  # ffmpeg-python
import numpy as np

from localize.core.errors import MediaError, ToolFailedError
from localize.core.media.ffmpeg import last_line, require_ffmpeg

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Geometry:
    """The picture as a player shows it (rotation applied) and how long it lasts."""

    width: int
    height: int
    duration_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Strip:
    """Rows `top`..`top + height` of the picture, full width, scaled by `scale`."""

    top: int
    height: int
    width: int
    scale: float

    @property
    def out_width(self) -> int:
        return max(2, round(self.width * self.scale / 2) * 2)

    @property
    def out_height(self) -> int:
        return max(2, round(self.height * self.scale / 2) * 2)

    def to_source(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A box in the strip's (scaled) pixels -> the same box in source pixels."""
        sx = self.width / self.out_width
        sy = self.height / self.out_height
        x, y, w, h = box
        return (round(x * sx), self.top + round(y * sy), round(w * sx), round(h * sy))


def geometry_argv(src: Path) -> list[str]:
    return [
        "ffprobe", "-v", "error", "-select_streams", "v:0", "-print_format", "json",
        "-show_entries", "stream=width,height,duration:stream_tags=rotate:stream_side_data=rotation:format=duration",
        str(src),
    ]


def parse_geometry(src: Path, probe_json: str) -> Geometry:
    data = json.loads(probe_json or "{}")
    streams = data.get("streams") or []
    if not streams:
        raise MediaError(src, "has no video stream to read subtitles from", "pass a video file")
    stream = streams[0]
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    rotation = stream.get("tags", {}).get("rotate") or 0
    for side in stream.get("side_data_list") or []:
        rotation = side.get("rotation", rotation)
    if round(float(rotation)) % 180:
        width, height = height, width
    duration = float(stream.get("duration") or data.get("format", {}).get("duration") or 0.0)
    if width <= 0 or height <= 0 or duration <= 0:
        raise MediaError(src, "has a video stream with no picture size or duration", "pass a playable video")
    return Geometry(width=width, height=height, duration_ms=round(duration * 1000))


def video_geometry(src: Path) -> Geometry:
    require_ffmpeg()
    proc = subprocess.run(geometry_argv(src), capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode != 0:
        raise ToolFailedError("ffprobe", f"reading the picture size of {src}", last_line(proc.stderr))
    return parse_geometry(src, proc.stdout)


def _strip_filters(stream: ffmpeg.nodes.FilterableStream, strip: Strip) -> ffmpeg.nodes.FilterableStream:
    stream = stream.filter("crop", strip.width, strip.height, 0, strip.top)
    if (strip.out_width, strip.out_height) != (strip.width, strip.height):
        stream = stream.filter("scale", strip.out_width, strip.out_height, flags="area")
    return stream


def still_argv(src: Path, at_ms: int, strip: Strip) -> list[str]:
    """One grey frame of `strip` at `at_ms`, on stdout (seek first, then decode to the exact time)."""
    stream = _strip_filters(ffmpeg.input(str(src), ss=f"{at_ms / 1000:.3f}").video, strip)
    out = ffmpeg.output(stream, "pipe:", format="rawvideo", pix_fmt="gray", an=None, **{"frames:v": 1})
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", *out.compile()[1:]]


def stills_argv(src: Path, first_ms: int, every_ms: int, count: int, strip: Strip) -> list[str]:
    """`count` grey frames of `strip`, at `first_ms` and every `every_ms` after, from one decoding pass."""
    stream = ffmpeg.input(str(src), ss=f"{first_ms / 1000:.3f}").video.filter("fps", fps=f"1000/{every_ms}")
    out = ffmpeg.output(_strip_filters(stream, strip), "pipe:", format="rawvideo", pix_fmt="gray", an=None,
                        **{"frames:v": count})
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", *out.compile()[1:]]


def keyframes_argv(src: Path) -> list[str]:
    """The video packets' times and flags: read from the index, nothing is decoded."""
    return ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
            "-of", "csv=p=0", str(src)]


def parse_keyframes(csv: str) -> list[int]:
    """Keyframe times in ms, rounded up: a seek to one starts decoding at that keyframe."""
    times = []
    for row in csv.splitlines():
        pts, _, flags = row.partition(",")
        if "K" in flags:
            try:
                times.append(math.ceil(float(pts) * 1000))
            except ValueError:
                continue
    return sorted(set(times))


# What starting one ffmpeg costs, in milliseconds of video it could have decoded instead.
_SEEK_OVERHEAD_MS = 300


def plan_stills(times_ms: list[int], keyframes_ms: list[int], window_ms: int) -> list[int]:
    """Move each time to the nearest keyframe within `window_ms`, if no other time took it.

    A keyframe decodes on its own, so a still there costs one frame; elsewhere a seek
    decodes everything from the keyframe before.
    """
    planned, taken = [], set()
    for t in times_ms:
        i = bisect.bisect_left(keyframes_ms, t)
        near = [k for k in keyframes_ms[max(0, i - 1) : i + 1] if abs(k - t) <= window_ms and k not in taken]
        best = min(near, key=lambda k: abs(k - t), default=None)
        if best is not None:
            taken.add(best)
        planned.append(t if best is None else best)
    return planned


def should_seek(times_ms: list[int], keyframes_ms: list[int], duration_ms: int) -> bool:
    """Seek to each time if that decodes less than one pass over the whole video.

    A seek decodes from the keyframe before its time; a video with keyframes far apart
    (a long GOP) is cheaper to decode once.
    """
    if not keyframes_ms:
        return False
    cost = 0
    for t in times_ms:
        i = bisect.bisect_right(keyframes_ms, t)
        cost += t - (keyframes_ms[i - 1] if i else 0) + _SEEK_OVERHEAD_MS
    return cost < duration_ms


def grab_stills(src: Path, first_ms: int, every_ms: int, count: int, strip: Strip) -> list[np.ndarray]:
    """About `count` stills of the strip, `every_ms` apart from `first_ms`.

    By seeking (to keyframes near those times where there are some) or by one decoding
    pass, whichever decodes less.
    """
    times = [first_ms + k * every_ms for k in range(count)]
    probe = subprocess.run(keyframes_argv(src), capture_output=True, text=True, errors="replace", check=False)
    keyframes = parse_keyframes(probe.stdout) if probe.returncode == 0 else []
    planned = plan_stills(times, keyframes, every_ms // 2)
    if should_seek(planned, keyframes, times[-1] + every_ms):
        log.debug("stills by seeking to %s ms", planned)
        return [s for s in (grab_still(src, t, strip) for t in planned) if s is not None]
    log.debug("stills in one pass, every %d ms from %d ms", every_ms, first_ms)
    argv = stills_argv(src, first_ms, every_ms, count, strip)
    proc = subprocess.run(argv, capture_output=True, check=False)
    if proc.returncode != 0:
        raise ToolFailedError("ffmpeg", f"decoding frames of {src}", last_line(proc.stderr.decode(errors="replace")))
    size = strip.out_width * strip.out_height
    n = len(proc.stdout) // size
    return [np.frombuffer(proc.stdout[i * size : (i + 1) * size], np.uint8).reshape(strip.out_height, strip.out_width)
            for i in range(n)]


def stream_argv(src: Path, step_ms: int, strip: Strip) -> list[str]:
    """Grey frames of `strip`, one every `step_ms` from 0 (frame i shows time i * step_ms), on stdout."""
    stream = ffmpeg.input(str(src)).video.filter("fps", fps=f"1000/{step_ms}")
    out = ffmpeg.output(_strip_filters(stream, strip), "pipe:", format="rawvideo", pix_fmt="gray", an=None)
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", *out.compile()[1:]]


def grab_still(src: Path, at_ms: int, strip: Strip) -> np.ndarray | None:
    """The strip at `at_ms`, or None when ffmpeg finds no frame there (past the last one)."""
    proc = subprocess.run(still_argv(src, at_ms, strip), capture_output=True, check=False)
    if proc.returncode != 0:
        raise ToolFailedError("ffmpeg", f"decoding a frame of {src}", last_line(proc.stderr.decode(errors="replace")))
    size = strip.out_width * strip.out_height
    if len(proc.stdout) < size:
        return None
    return np.frombuffer(proc.stdout[:size], np.uint8).reshape(strip.out_height, strip.out_width)


def stream_strip(src: Path, step_ms: int, strip: Strip) -> Generator[np.ndarray, None, None]:
    """Yield the strip every `step_ms` through the whole video; ffmpeg stops when the caller does."""
    argv = stream_argv(src, step_ms, strip)
    log.debug("running: %s", " ".join(argv))
    size = strip.out_width * strip.out_height
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a damaged video's errors cannot block ffmpeg
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        finished = False
        try:
            while True:
                data = proc.stdout.read(size)
                if len(data) < size:
                    finished = True
                    break
                yield np.frombuffer(data, np.uint8).reshape(strip.out_height, strip.out_width)
        finally:
            if not finished:
                proc.kill()  # the caller stopped early or failed
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            raise ToolFailedError("ffmpeg", f"decoding {src}", last_line(errors.read().decode(errors="replace")))
