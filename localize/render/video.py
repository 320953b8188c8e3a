"""Mux the market's render: original picture, mixed audio, soft subtitles, AI label.

The AI-generated label is always written to the container metadata; the
market may also draw a small visible label in the picture's top corner,
which needs a video re-encode (without it the picture is stream-copied).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ffmpeg  # ffmpeg-python

from ..langs import iso639_2


# Bump when render_argv changes what it writes, so cached renders are rebuilt.
RENDER_VERSION = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderSpec:
    source: Path
    audio: Path
    subtitles: Path  # SRT, muxed as a mov_text track
    out: Path
    language: str
    label_text: str
    label_file: Path | None  # text file for drawtext; None = no visible label
    title: str = ""
    crf: int = 20
    preset: str = "veryfast"
    audio_bitrate: str = "192k"


def render_argv(spec: RenderSpec) -> list[str]:
    src = ffmpeg.input(str(spec.source))
    audio = ffmpeg.input(str(spec.audio)).audio
    subs = ffmpeg.input(str(spec.subtitles))["s"]
    video = src["v:0"]
    lang = iso639_2(spec.language)
    options: dict[str, object] = {
        "c:a": "aac",
        "b:a": spec.audio_bitrate,
        "c:s": "mov_text",
        "metadata:s:a:0": f"language={lang}",
        "metadata:s:s:0": f"language={lang}",
        "disposition:s:0": "default",
        "movflags": "+faststart+use_metadata_tags",
        "map_metadata": "-1",
    }
    if spec.label_file is not None:
        video = video.filter(
            "drawtext", textfile=str(spec.label_file), font="DejaVu Sans", fontcolor="white@0.85",
            fontsize="h/45", box=1, boxcolor="black@0.45", boxborderw=6, x="w-tw-(h/60)", y="h/60",
        )
        options.update({"c:v": "libx264", "preset": spec.preset, "crf": spec.crf, "pix_fmt": "yuv420p"})
    else:
        options["c:v"] = "copy"
    meta = [
        f"comment={spec.label_text}",
        "ai_generated=true",
        f"ai_label={spec.label_text}",
    ]
    if spec.title:
        meta.append(f"title={spec.title}")
    out = ffmpeg.output(video, audio, subs, str(spec.out), **options)
    argv = out.compile(overwrite_output=False)
    # ffmpeg-python cannot repeat a keyword; add one -metadata per tag before the output path.
    extra = [item for tag in meta for item in ("-metadata", tag)]
    return [argv[0], "-hide_banner", "-nostdin", "-y", *argv[1:-1], *extra, argv[-1]]
