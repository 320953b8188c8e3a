"""Video presets (resolution, codec, quality) and the safe area of 9:16 short-video apps.

A market's ``render`` settings name a preset and may override its codec, CRF or bitrate::

    [th-TH]
    render = { subtitles = "burned", preset = "tiktok-1080x1920", codec = "h265" }

Safe area. Short-video apps draw their UI over the top and bottom of a 9:16 picture and a column of
buttons down its right side. These insets (shares of the height or width) keep subtitles and the AI
label clear of TikTok's, Reels' and Shorts' overlays at once. They are approximations of the
creator safe-zone templates for a 1080x1920 frame (the union of the three apps, rounded up), not
measurements; a market can move subtitles further with ``subtitles.margin_v``:

- top 10% (192 px of 1920): status bar, Following/For You tabs, search;
- bottom 22% (422 px): caption, sound name, comment box, navigation bar;
- right 14% (151 px of 1080): avatar, like, comment, share, sound buttons;
- left 6% (65 px): the text column's indent.

Pictures that are not vertical (height under 1.5 x width) get the classic 5% title-safe margins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from localize.core.errors import ConfigError

if TYPE_CHECKING:
    from localize.core.markets import RenderSettings

CODECS = {"h264": "libx264", "h265": "libx265"}
# "auto" (the default) is decided per source by localize.stages.render.mode: "both" when the picture carries
# burned-in subtitles in a language the market's viewers are not assumed to read, else "soft".
SUBTITLE_MODES = ("auto", "soft", "burned", "both")


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoPreset:
    name: str
    width: int = 0  # 0 x 0: the source's size
    height: int = 0
    codec: str = "h264"  # "h264" or "h265"
    crf: int = 20  # quality when no bitrate is set (lower is better)
    video_bitrate: str = ""  # e.g. "8M": target bitrate (with a 2x buffer) instead of CRF
    encoder_preset: str = "veryfast"  # x264/x265 speed preset
    audio_bitrate: str = "192k"

    @property
    def encoder(self) -> str:
        return CODECS[self.codec]

    @property
    def resizes(self) -> bool:
        return bool(self.width and self.height)


PRESETS: dict[str, VideoPreset] = {p.name: p for p in (
    VideoPreset(name="source"),  # the source's size; the picture is stream-copied when nothing is drawn on it
    VideoPreset(name="tiktok-1080x1920", width=1080, height=1920, crf=20),
    VideoPreset(name="reels-1080x1920", width=1080, height=1920, crf=21),
    VideoPreset(name="shorts-1080x1920", width=1080, height=1920, crf=20),
    VideoPreset(name="hevc-1080x1920", width=1080, height=1920, codec="h265", crf=24),
    VideoPreset(name="720x1280", width=720, height=1280, crf=23, audio_bitrate="128k"),
)}


def resolve_preset(settings: RenderSettings) -> VideoPreset:
    """The market's preset with its overrides; ConfigError for an unknown name or value."""
    if settings.subtitles not in SUBTITLE_MODES:
        raise ConfigError(f"render.subtitles must be one of {', '.join(SUBTITLE_MODES)}, not {settings.subtitles!r}.")
    if settings.preset not in PRESETS:
        raise ConfigError(f"unknown render.preset {settings.preset!r}; known: {', '.join(PRESETS)}.")
    preset = PRESETS[settings.preset]
    if settings.codec:
        if settings.codec not in CODECS:
            raise ConfigError(f"render.codec must be one of {', '.join(CODECS)}, not {settings.codec!r}.")
        preset = replace(preset, codec=settings.codec)
    if settings.crf:
        if not 0 < settings.crf <= 51:
            raise ConfigError(f"render.crf must be between 1 and 51, not {settings.crf}.")
        preset = replace(preset, crf=settings.crf)
    if settings.video_bitrate:
        preset = replace(preset, video_bitrate=settings.video_bitrate)
    return preset


def subtitle_outputs(mode: str) -> tuple[bool, bool]:
    """(soft track, burned in) for a ``render.subtitles`` mode; "auto" not yet decided is a soft track."""
    if mode not in SUBTITLE_MODES:
        raise ConfigError(f"render.subtitles must be one of {', '.join(SUBTITLE_MODES)}, not {mode!r}.")
    return mode in ("auto", "soft", "both"), mode in ("burned", "both")


@dataclass(frozen=True, slots=True, kw_only=True)
class SafeArea:
    """Shares of the picture's height (top, bottom) and width (left, right) kept clear of text."""

    top: float
    bottom: float
    left: float
    right: float

    def margins(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) in pixels."""
        return (round(self.left * width), round(self.right * width), round(self.top * height),
                round(self.bottom * height))


SHORT_VIDEO = SafeArea(top=0.10, bottom=0.22, left=0.06, right=0.14)
TITLE_SAFE = SafeArea(top=0.05, bottom=0.05, left=0.05, right=0.05)


def safe_area(width: int, height: int) -> SafeArea:
    """The short-video insets for a vertical picture, title-safe margins for any other."""
    return SHORT_VIDEO if height >= 1.5 * width else TITLE_SAFE


def output_size(preset: VideoPreset, width: int, height: int) -> tuple[int, int]:
    """The render's size: the preset's, or the source's (rounded down to even numbers for yuv420p)."""
    if preset.resizes:
        return preset.width, preset.height
    return width - width % 2, height - height % 2


__all__ = ["PRESETS", "SHORT_VIDEO", "SUBTITLE_MODES", "TITLE_SAFE", "SafeArea", "VideoPreset", "output_size",
           "resolve_preset", "safe_area", "subtitle_outputs"]
