"""Running ffmpeg: argv lists built by pure functions, stderr always captured.

Filter graphs are built with ffmpeg-python and compiled to argv lists, so each
builder is unit-testable as a list; :func:`run_ffmpeg` runs one and turns a
failure into a :class:`ToolFailedError` carrying ffmpeg's last stderr line.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import ffmpeg  # ffmpeg-python

from localize.core.errors import MissingToolError, ToolFailedError

log = logging.getLogger(__name__)

INSTALL_FFMPEG = "install it with your package manager (Debian/Ubuntu: apt-get install ffmpeg)"


def require_ffmpeg() -> None:
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise MissingToolError(tool, INSTALL_FFMPEG)


def last_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def run_ffmpeg(argv: Sequence[str], what: str) -> str:
    """Run an ffmpeg/ffprobe argv; return stderr (ffmpeg writes its reports there)."""
    require_ffmpeg()
    log.debug("running: %s", " ".join(argv))
    proc = subprocess.run(list(argv), capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode != 0:
        raise ToolFailedError(argv[0], what, last_line(proc.stderr))
    return proc.stderr


def _quiet(argv: list[str]) -> list[str]:
    return [argv[0], "-hide_banner", "-nostdin", "-y", *argv[1:]]


def extract_audio_argv(src: Path, dst: Path, *, rate: int, channels: int) -> list[str]:
    """Decode the first audio stream to PCM WAV at `rate` Hz with `channels` channels."""
    stream = ffmpeg.input(str(src)).audio
    out = ffmpeg.output(stream, str(dst), acodec="pcm_s16le", ar=rate, ac=channels, vn=None)
    return _quiet(out.compile(overwrite_output=False))


def stretch_argv(src: Path, dst: Path, *, speed: float, rate: int, pitch: float = 1.0) -> list[str]:
    """Pitch-preserving time-stretch: `speed` 1.25 makes the clip 25% shorter; `pitch` shifts the
    voice by that frequency ratio (1.0: unchanged)."""
    stream = ffmpeg.input(str(src)).audio.filter("rubberband", tempo=f"{speed:.4f}", pitch=f"{pitch:.4f}",
                                                 pitchq="quality")
    out = ffmpeg.output(stream, str(dst), acodec="pcm_s16le", ar=rate, ac=1)
    return _quiet(out.compile(overwrite_output=False))


def limit_argv(src: Path, dst: Path, *, ceiling: float, rate: int) -> list[str]:
    """Brick-wall peak limiter at `ceiling` (linear), no make-up gain, written as 24-bit PCM at `rate`."""
    stream = ffmpeg.input(str(src)).audio.filter(
        "alimiter", limit=f"{ceiling:.5f}", attack=5, release=50, level="disabled"
    ).filter("aresample", rate)
    out = ffmpeg.output(stream, str(dst), acodec="pcm_s24le", ar=rate)
    return _quiet(out.compile(overwrite_output=False))


def ebur128_argv(src: Path) -> list[str]:
    stream = ffmpeg.input(str(src)).audio.filter("ebur128", peak="true")
    return _quiet(ffmpeg.output(stream, "-", format="null").compile(overwrite_output=False))
