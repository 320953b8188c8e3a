"""The picture stage: decode the episode once, run frame processors over it, encode the result.

A frame processor changes pixels (burned-in subtitle removal, face swap). The stage decodes the
source through one ffmpeg rawvideo pipe (BGR, rotation applied, constant frame rate), hands
every frame to each processor in order, and pipes the result into a second ffmpeg that encodes
a near-lossless H.264 intermediate (CRF 10 at x264's ultrafast preset: on a 1080x1920 episode it
encodes in 22 s against 50 s at veryfast, for a file about 4x larger). That intermediate is a cached
artifact keyed on the source's sha256 and each processor's cache options; a market's render then
reads its picture from it instead of the source::

    key, video = picture_stage(source, [SubtitleRemover(track, ocr_key)], store)

Processors follow the lifecycle prepare -> process (every frame) -> release; the stage
releases them even when one fails.

A band only. When every processor changes only a known part of the frame (:class:`BandProcessor`: the
subtitle remover changes the subtitle band) and the source has a constant frame rate and even sides,
the stage decodes and encodes only that band (``strip.mp4``) and says where it goes (``overlay.json``);
a render draws it over the source (:func:`overlay_of`). On episode B (1080x1920) the band is 770x260
and the removal went from 46 s with whole frames to 21 s; the rest of the picture is encoded once, from
the source, instead of twice.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import ffmpeg  # ffmpeg-python

from localize.core import jsonio
from localize.core.cache import ArtifactStore
from localize.core.errors import ToolFailedError
from localize.core.media.ffmpeg import last_line, require_ffmpeg
from localize.core.progress import NullProgress, Progress
from localize.core.stage import Built, Stage
from localize.stages.script.ocr.frames import video_geometry

if TYPE_CHECKING:
    import numpy as np

    from localize.stages.audio.stage import Source

log = logging.getLogger(__name__)

# Bump when the decode/encode below changes what a picture artifact holds.
PICTURE = Stage("picture", version=2)
PICTURE_FILE, STRIP_FILE, OVERLAY_FILE = "picture.mp4", "strip.mp4", "overlay.json"
INTERMEDIATE_CRF = 10  # visually lossless H.264: the market render encodes it once more
INTERMEDIATE_PRESET = "ultrafast"  # the fastest x264 preset: bigger files, same quality target


class FrameProcessor(Protocol):
    """Changes the picture frame by frame (BGR uint8, H x W x 3 in, the same shape out)."""

    name: str

    def cache_options(self) -> dict:
        """What the stage's cache key holds for this processor: options, model version, input hashes."""
        ...

    def prepare(self) -> None:
        """Load models; called once before the first frame."""
        ...

    def process(self, frame: np.ndarray, index: int, t_ms: int) -> np.ndarray: ...

    def release(self) -> None:
        """Free models; called once after the last frame (also after a failure)."""
        ...


class BandProcessor(FrameProcessor, Protocol):
    """A frame processor that reads and changes only a band of the frame it knows before the first frame."""

    def region(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """(x, y, w, h) on even pixels of a `width` x `height` frame; None when it changes nothing."""
        ...

    def cropped(self, x: int, y: int) -> FrameProcessor:
        """The processor for frames cropped at (x, y)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Overlay:
    """Where a band-only picture (``strip.mp4``) is drawn over the source: its top-left corner and size."""

    x: int
    y: int
    width: int
    height: int


def overlay_of(picture: Path) -> Overlay | None:
    """The overlay of a band-only picture artifact's video; None for a whole picture."""
    path = picture.parent / OVERLAY_FILE
    return jsonio.load(Overlay, path) if picture.name == STRIP_FILE and path.is_file() else None


def band(processors: Sequence[FrameProcessor], width: int, height: int) -> tuple[int, int, int, int] | None:
    """The band every processor stays inside (their regions' union), or None when one may change any pixel."""
    if width % 2 or height % 2 or not processors:
        return None
    regions = []
    for p in processors:
        region = getattr(p, "region", None)
        if region is None or (box := region(width, height)) is None:
            return None
        regions.append(box)
    x0, y0 = min(r[0] for r in regions), min(r[1] for r in regions)
    x1, y1 = max(r[0] + r[2] for r in regions), max(r[1] + r[3] for r in regions)
    return x0, y0, x1 - x0, y1 - y0


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameFormat:
    width: int  # as a player shows the picture (rotation applied)
    height: int
    rate: Fraction  # frames per second, constant

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3

    def time_ms(self, index: int) -> int:
        return round(index * 1000 / self.rate)


def frame_rate(fps: float) -> Fraction:
    """A probed frame rate as a fraction (29.97 -> 30000/1001); 25 when unknown."""
    return Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)


def decode_argv(src: Path, fmt: FrameFormat, crop: tuple[int, int, int, int] | None = None) -> list[str]:
    """Every frame of `src` as raw BGR on stdout, rotation applied, at a constant `fmt.rate`; only the
    `crop` (x, y, w, h) of each when given."""
    stream = ffmpeg.input(str(src)).video.filter("fps", fps=str(fmt.rate))
    if crop is not None:
        stream = stream.filter("crop", crop[2], crop[3], crop[0], crop[1])
    out = ffmpeg.output(stream, "pipe:", format="rawvideo", pix_fmt="bgr24", an=None, sn=None)
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", *out.compile()[1:]]


def encode_argv(dst: Path, fmt: FrameFormat, *, crf: int = INTERMEDIATE_CRF,
                preset: str = INTERMEDIATE_PRESET) -> list[str]:
    """Raw BGR frames on stdin -> a near-lossless H.264 intermediate (no audio) at `dst`."""
    stream = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="bgr24", s=f"{fmt.width}x{fmt.height}",
                          framerate=str(fmt.rate))
    if fmt.width % 2 or fmt.height % 2:  # yuv420p needs even sides: drop the odd last column or row
        stream = stream.filter("crop", fmt.width - fmt.width % 2, fmt.height - fmt.height % 2, 0, 0)
    out = ffmpeg.output(stream, str(dst), vcodec="libx264", preset=preset, crf=crf, pix_fmt="yuv420p",
                        movflags="+faststart")
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *out.compile()[1:]]


def process_video(
    src: Path, dst: Path, processors: Sequence[FrameProcessor], *, fps: float,
    advance: Callable[[int], None] = lambda n: None, crop: tuple[int, int, int, int] | None = None,
) -> int:
    """Decode `src`, run `processors` in order on every frame, encode to `dst`; the number of frames.
    With `crop` (x, y, w, h), only that part of each frame is decoded, handed over and encoded."""
    import numpy as np

    require_ffmpeg()
    geometry = video_geometry(src)
    width, height = (crop[2], crop[3]) if crop else (geometry.width, geometry.height)
    fmt = FrameFormat(width=width, height=height, rate=frame_rate(fps))
    for p in processors:
        p.prepare()
    count = 0
    # Files, not pipes, for stderr: a chatty ffmpeg can never block on a full pipe.
    with tempfile.TemporaryFile() as dec_err, tempfile.TemporaryFile() as enc_err:
        decoder = subprocess.Popen(decode_argv(src, fmt, crop), stdout=subprocess.PIPE, stderr=dec_err)
        encoder = subprocess.Popen(encode_argv(dst, fmt), stdin=subprocess.PIPE, stderr=enc_err)
        assert decoder.stdout is not None and encoder.stdin is not None
        finished = False
        try:
            while len(data := decoder.stdout.read(fmt.frame_bytes)) == fmt.frame_bytes:
                frame = np.frombuffer(data, np.uint8).reshape(fmt.height, fmt.width, 3).copy()
                t_ms = fmt.time_ms(count)
                for p in processors:
                    frame = p.process(frame, count, t_ms)
                encoder.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
                count += 1
                advance(1)
            finished = True
        except BrokenPipeError:
            pass  # the encoder died; its error is reported below
        finally:
            for p in processors:
                p.release()
            if not finished:
                decoder.kill()  # a processor or the encoder failed
            decoder.stdout.close()
            with contextlib.suppress(BrokenPipeError):
                encoder.stdin.close()
            dec_code, enc_code = decoder.wait(), encoder.wait()
        if not finished:
            dec_code = 0  # killed by us: the encoder failed
        for code, errors, what in ((dec_code, dec_err, f"decoding {src}"), (enc_code, enc_err, f"encoding {dst}")):
            if code != 0:
                errors.seek(0)
                raise ToolFailedError("ffmpeg", what, last_line(errors.read().decode(errors="replace")))
    log.info("picture: %d frames of %s through %s", count, src.name, ", ".join(p.name for p in processors))
    return count


def picture_key(source_sha256: str, processors: Sequence[FrameProcessor]) -> str:
    return PICTURE.key(inputs=[source_sha256],
                       options={"crf": INTERMEDIATE_CRF, "preset": INTERMEDIATE_PRESET,
                                "processors": [{"name": p.name, **p.cache_options()} for p in processors]})


def picture_stage(
    source: Source, processors: Sequence[FrameProcessor], store: ArtifactStore, progress: Progress | None = None,
) -> Built[Path]:
    """The source's picture after `processors`, built once and cached: ``picture.mp4``, or ``strip.mp4`` and
    ``overlay.json`` when they change only a band of a constant-rate source (see the module's docstring)."""
    from localize.stages.render.chunks import probe_frames

    progress = progress or NullProgress()
    key = picture_key(source.sha256, processors)

    def build(tmp: Path) -> None:
        total = round(source.info.duration_ms * float(frame_rate(source.info.fps)) / 1000)
        task = progress.task(f"picture ({', '.join(p.name for p in processors)})", total or None)
        geometry = video_geometry(source.path)
        crop = band(processors, geometry.width, geometry.height)
        if crop is not None:
            frames = probe_frames(source.path)
            if frames is None or frames.rate != frame_rate(source.info.fps):
                crop = None  # not one band frame per source frame: it could not be laid back over the source
        try:
            if crop is None:
                process_video(source.path, tmp / PICTURE_FILE, processors, fps=source.info.fps,
                              advance=task.advance)
            else:
                x, y, w, h = crop
                cropped = [cast("BandProcessor", p).cropped(x, y) for p in processors]
                process_video(source.path, tmp / STRIP_FILE, cropped, fps=source.info.fps, advance=task.advance,
                              crop=crop)
                jsonio.save(Overlay(x=x, y=y, width=w, height=h), tmp / OVERLAY_FILE)
        finally:
            task.done()

    return PICTURE.built(store, key, build, _picture_file)


def _picture_file(folder: Path) -> Path:
    strip = folder / STRIP_FILE
    return strip if strip.is_file() else folder / PICTURE_FILE


def whole_picture_argv(picture: Path, source: Path, dst: Path, *, crf: int = INTERMEDIATE_CRF) -> list[str]:
    """The whole picture of an artifact as one video (a band-only one drawn over `source`), near-lossless
    (`crf` 0: lossless)."""
    overlay = overlay_of(picture)
    if overlay is None:
        stream = ffmpeg.input(str(picture))["v:0"]
    else:
        stream = ffmpeg.overlay(ffmpeg.input(str(source))["v:0"], ffmpeg.input(str(picture))["v:0"],
                                x=overlay.x, y=overlay.y)
    out = ffmpeg.output(stream, str(dst), vcodec="libx264", preset=INTERMEDIATE_PRESET, crf=crf, pix_fmt="yuv420p",
                        an=None)
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *out.compile()[1:]]


__all__ = ["OVERLAY_FILE", "PICTURE_FILE", "STRIP_FILE", "BandProcessor", "FrameFormat", "FrameProcessor", "Overlay",
           "band", "decode_argv", "encode_argv", "overlay_of", "picture_stage", "process_video", "whole_picture_argv"]
