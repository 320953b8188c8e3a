"""Media I/O through ffmpeg: probe, extract audio, stretch, measure, mux."""

from localize.core.media.ffmpeg import require_ffmpeg, run_ffmpeg
from localize.core.media.probe import check_picture, probe

__all__ = ["check_picture", "probe", "require_ffmpeg", "run_ffmpeg"]
