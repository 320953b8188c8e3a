"""ffprobe a source file into :class:`MediaInfo`, with clear errors for bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from localize.core.artifacts import MediaInfo
from localize.core.errors import InputError, MediaError
from localize.core.media.ffmpeg import last_line, require_ffmpeg


def probe(path: str | Path) -> MediaInfo:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file", "check the path")
    if not path.is_file():
        raise InputError(path, "is not a file", "pass a video file")
    require_ffmpeg()
    argv = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode != 0:
        reason = last_line(proc.stderr).replace(f"{path}: ", "") or "unrecognised format"
        raise MediaError(path, f"not a media file ffmpeg can read ({reason})", "pass a video such as an .mp4")
    data = json.loads(proc.stdout or "{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = float(data.get("format", {}).get("duration") or 0.0)
    if (video is None and audio is None) or duration <= 0:
        raise MediaError(path, "has no audio or video stream", "pass a video such as an .mp4")
    return MediaInfo(
        path=str(path),
        duration_ms=round(duration * 1000),
        has_video=video is not None,
        has_audio=audio is not None,
        width=int(video.get("width", 0)) if video else 0,
        height=int(video.get("height", 0)) if video else 0,
        fps=_rate(video.get("avg_frame_rate", "0/1")) if video else 0.0,
        audio_rate=int(audio.get("sample_rate", 0)) if audio else 0,
        audio_channels=int(audio.get("channels", 0)) if audio else 0,
    )


def _is_cover(stream: dict) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _rate(text: str) -> float:
    num, _, den = text.partition("/")
    try:
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0
