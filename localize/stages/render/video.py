"""Mux the market's render: the picture, mixed audio, subtitles (soft, burned or both), AI label.

The AI-generated label is always written to the container metadata; the
market may also draw a small visible label in the picture's top corner
(inside the safe area when one is given). Drawing anything (the label,
burned subtitles through libass's ``ass`` filter) or resizing re-encodes
the picture with the preset's codec; otherwise it is stream-copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ffmpeg  # ffmpeg-python

from localize.core.langs import iso639_2
from localize.stages.render.presets import CODECS, SafeArea


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderSpec:
    source: Path
    audio: Path
    subtitles: Path  # SRT, muxed as a mov_text track when `soft`
    out: Path
    language: str
    label_text: str
    label_file: Path | None  # text file for drawtext; None = no visible label
    title: str = ""
    crf: int = 20
    preset: str = "veryfast"
    audio_bitrate: str = "192k"
    soft: bool = True  # mux the SRT as a selectable subtitle track
    burn: Path | None = None  # an ASS file drawn into the picture with libass
    fonts_dir: Path | None = None  # where libass finds the burned subtitles' font
    width: int = 0  # scale (keeping the aspect, padded black) to width x height; 0: keep the size
    height: int = 0
    codec: str = "h264"  # "h264" or "h265", when the picture is re-encoded
    video_bitrate: str = ""  # e.g. "8M": a target bitrate instead of `crf`
    label_area: SafeArea | None = None  # keep the drawtext label inside it; None: the top-right corner
    label_ass: Path | None = None  # the visible label as an ASS file drawn by libass (instead of label_file)
    overlay: Path | None = None  # a band of the picture (the picture stage's strip.mp4) drawn over `source` ...
    overlay_x: int = 0  # ... with its top-left corner here
    overlay_y: int = 0


def draws(spec: RenderSpec) -> bool:
    """Whether the render changes the picture (and so re-encodes it) rather than stream-copying it."""
    return bool(spec.label_file or spec.label_ass or spec.burn or spec.overlay or (spec.width and spec.height))


def picture_chain(spec: RenderSpec, **inputs: object) -> ffmpeg.nodes.FilterableStream:
    """The picture (the source, with the band over it), scaled, with the burned subtitles and the visible
    label drawn, as `spec` asks; `inputs`: ffmpeg input options of the source and the band (a seek)."""
    video = ffmpeg.input(str(spec.source), **inputs)["v:0"]
    if spec.overlay is not None:
        video = ffmpeg.overlay(video, ffmpeg.input(str(spec.overlay), **inputs)["v:0"], x=spec.overlay_x,
                               y=spec.overlay_y)
    if spec.width and spec.height:
        video = video.filter("scale", spec.width, spec.height, force_original_aspect_ratio="decrease").filter(
            "pad", spec.width, spec.height, "(ow-iw)/2", "(oh-ih)/2", color="black").filter("setsar", 1)
    fonts = {"fontsdir": str(spec.fonts_dir)} if spec.fonts_dir else {}
    if spec.burn is not None:
        video = video.filter("ass", str(spec.burn), **fonts)
    if spec.label_ass is not None:
        video = video.filter("ass", str(spec.label_ass), **fonts)
    elif spec.label_file is not None:
        x, y = "w-tw-(h/60)", "h/60"
        if spec.label_area is not None:
            x, y = f"w*{1 - spec.label_area.right:.4f}-tw", f"h*{spec.label_area.top:.4f}"
        video = video.filter(
            "drawtext", textfile=str(spec.label_file), font="DejaVu Sans", fontcolor="white@0.85",
            fontsize="h/45", box=1, boxcolor="black@0.45", boxborderw=6, x=x, y=y,
        )
    return video


def encoder_options(spec: RenderSpec) -> dict[str, object]:
    """The video encoder's options for a re-encoded picture."""
    options: dict[str, object] = {"c:v": CODECS[spec.codec], "preset": spec.preset, "pix_fmt": "yuv420p"}
    if spec.video_bitrate:
        options.update({"b:v": spec.video_bitrate, "maxrate": spec.video_bitrate,
                        "bufsize": _double(spec.video_bitrate)})
    else:
        options["crf"] = spec.crf
    return options


def render_argv(spec: RenderSpec, *, encoded: Path | None = None) -> list[str]:
    """The ffmpeg argv of the market's video. With `encoded`, an ffconcat list of the picture already
    encoded in chunks (:mod:`localize.stages.render.chunks`), the picture is copied from it."""
    if encoded is not None:
        video = ffmpeg.input(str(encoded), f="concat", safe=0)["v:0"]
    else:
        video = picture_chain(spec)
    audio = ffmpeg.input(str(spec.audio)).audio
    lang = iso639_2(spec.language)
    options: dict[str, object] = {
        "c:a": "aac",
        "b:a": spec.audio_bitrate,
        "metadata:s:a:0": f"language={lang}",
        "movflags": "+faststart+use_metadata_tags",
        "map_metadata": "-1",
    }
    if encoded is None and draws(spec):
        options.update(encoder_options(spec))
    else:
        options["c:v"] = "copy"
    if spec.codec == "h265" and draws(spec):  # re-encoded here or in its chunks
        options["tag:v"] = "hvc1"  # what Apple players and the apps' uploaders expect for HEVC in MP4
    streams = [video, audio]
    if spec.soft:
        streams.append(ffmpeg.input(str(spec.subtitles))["s"])
        options.update({"c:s": "mov_text", "metadata:s:s:0": f"language={lang}", "disposition:s:0": "default"})
    meta = [
        f"comment={spec.label_text}",
        "ai_generated=true",
        f"ai_label={spec.label_text}",
    ]
    if spec.title:
        meta.append(f"title={spec.title}")
    out = ffmpeg.output(*streams, str(spec.out), **options)
    argv = out.compile(overwrite_output=False)
    # ffmpeg-python cannot repeat a keyword; add one -metadata per tag before the output path.
    extra = [item for tag in meta for item in ("-metadata", tag)]
    return [argv[0], "-hide_banner", "-nostdin", "-y", *argv[1:-1], *extra, argv[-1]]


def _double(bitrate: str) -> str:
    """'8M' -> '16M': the rate-control buffer holds two seconds at the target bitrate."""
    digits = bitrate.rstrip("kKmMgG")
    try:
        return f"{float(digits) * 2:g}{bitrate[len(digits):]}"
    except ValueError:
        return bitrate
