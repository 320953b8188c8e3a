"""ffprobe a source file into :class:`MediaInfo`, with clear errors for bad input.

A file whose index promises more than its data holds (a download or copy cut short, with the index at
the front) is refused here, not rendered short: the end of its last readable packet is compared with the
duration the container states. :func:`check_picture` refuses a picture the render cannot encode or lay
subtitles on (1x1, absurd aspect) before any work.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from localize.core.artifacts import MediaInfo
from localize.core.errors import InputError, MediaError
from localize.core.media.ffmpeg import last_line, require_ffmpeg

# A container whose readable packets end this much before its stated duration is cut short.
TRUNCATED_MS = 1000
TRUNCATED_SHARE = 0.02
# The render's preconditions on the picture: each side at least MIN_SIDE pixels (the safe area and two
# rows of subtitles need room), at most MAX_SIDE (H.264's largest level), and no more than MAX_ASPECT
# times as wide as high or high as wide.
MIN_SIDE = 64
MAX_SIDE = 8192
MAX_ASPECT = 4.0
_TAIL_S = 3.0  # how much of the end is read to find the last packet


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
        if "moov atom not found" in proc.stderr and _starts_like_mp4(path):
            raise MediaError(path, "is incomplete: its index (the mp4 'moov' box) is missing, as in a download or "
                             "copy cut short", "copy or download the whole file again")
        raise MediaError(path, f"not a media file ffmpeg can read ({reason})", "pass a video such as an .mp4")
    data = json.loads(proc.stdout or "{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = float(data.get("format", {}).get("duration") or 0.0)
    if (video is None and audio is None) or duration <= 0:
        raise MediaError(path, "has no audio or video stream", "pass a video such as an .mp4")
    info = MediaInfo(
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
    chosen = [s for s in (video, audio) if s is not None and "index" in s]
    # What the streams' own durations promise (their edit lists applied), else the container's.
    promised = max((_float(str(s.get("duration", ""))) or 0.0 for s in chosen), default=0.0) or duration
    _check_complete(path, min(round(promised * 1000), info.duration_ms), [int(s["index"]) for s in chosen])
    return info


def readable_end_ms(path: Path, streams: list[int], *, from_s: float = 0.0) -> int:
    """Where the last packet of `streams` that can be read from `path` ends (demuxed, not decoded), reading
    from `from_s` seconds on; 0 when none can be read."""
    argv = ["ffprobe", "-v", "error", "-show_entries", "packet=stream_index,pts_time,dts_time,duration_time",
            "-of", "csv=p=0"]
    if from_s > 0:
        argv += ["-read_intervals", f"{from_s:.3f}%"]
    proc = subprocess.run([*argv, str(path)], capture_output=True, text=True, errors="replace", check=False)
    end = 0.0
    for row in proc.stdout.splitlines():
        fields = row.split(",")
        if len(fields) < 4 or not fields[0].isdigit() or int(fields[0]) not in streams:
            continue
        at = _float(fields[1]) if _float(fields[1]) is not None else _float(fields[2])
        if at is not None:
            end = max(end, at + (_float(fields[3]) or 0.0))
    return round(end * 1000)


def _check_complete(path: Path, promised_ms: int, streams: list[int]) -> None:
    if not streams:
        return
    missing = max(TRUNCATED_MS, round(promised_ms * TRUNCATED_SHARE))
    end = readable_end_ms(path, streams, from_s=max(promised_ms / 1000 - _TAIL_S, 0.0))
    if end >= promised_ms - missing:
        return
    end = max(end, readable_end_ms(path, streams))  # the seek may have missed: read it all to be sure
    if end < promised_ms - missing:
        raise MediaError(path, f"is cut short: its header says {promised_ms / 1000:.1f} s but its data ends at "
                         f"{end / 1000:.1f} s, as in a download or copy that did not finish",
                         "copy or download the whole file again")


def check_picture(path: str | Path, info: MediaInfo) -> None:
    """Refuse a picture the render cannot encode or lay subtitles on, naming its size and the limits."""
    w, h = info.width, info.height
    if min(w, h) < MIN_SIDE or max(w, h) > MAX_SIDE:
        raise MediaError(path, f"has a {w}x{h} picture; localize renders pictures of {MIN_SIDE} to {MAX_SIDE} "
                         "pixels a side", "re-encode it at its real size (e.g. 1080x1920)")
    if max(w / h, h / w) > MAX_ASPECT:
        raise MediaError(path, f"has a {w}x{h} picture, more than {MAX_ASPECT:g} times as "
                         f"{'wide as high' if w > h else 'high as wide'}",
                         "re-encode it at its real size (e.g. 1080x1920)")


def _starts_like_mp4(path: Path) -> bool:
    """Whether the file begins with an ISO media box (a real mp4 missing its index, not any file so named)."""
    with path.open("rb") as f:
        head = f.read(8)
    return head[4:8] in (b"ftyp", b"mdat", b"free", b"skip", b"wide", b"pnot")


def _is_cover(stream: dict) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _rate(text: str) -> float:
    num, _, den = text.partition("/")
    try:
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0
