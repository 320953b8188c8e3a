"""Media I/O through ffmpeg: probe, extract audio, stretch, measure, mux."""

from .ffmpeg import require_ffmpeg, run_ffmpeg
from .probe import probe

__all__ = ["probe", "require_ffmpeg", "run_ffmpeg"]
