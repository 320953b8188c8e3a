"""The audio stage: open the source, decode its sound once for speech recognition and once for the mix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from localize.core.artifacts import MediaInfo
from localize.core.cache import ArtifactStore, file_sha256
from localize.core.errors import MediaError
from localize.core.media import check_picture, probe, run_ffmpeg
from localize.core.media.ffmpeg import extract_audio_argv
from localize.core.stage import Stage

AUDIO = Stage("audio", version=1)
ASR_RATE = 16000
BED_RATE = 48000


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """The user's episode: its path, what ffprobe says of it and the sha256 every key starts from."""

    path: Path
    info: MediaInfo
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Audio:
    key: str
    asr: Path  # 16 kHz mono, for recognition
    bed: Path  # 48 kHz stereo, the original mix the dub goes over


def open_source(path: str | Path, *, need_video: bool) -> Source:
    """Probe the source; a file without the streams the run needs, cut short, or with a picture the render
    cannot use fails here, before any work."""
    path = Path(path)
    info = probe(path)
    if need_video and not info.has_video:
        raise MediaError(path, "has no video stream", "pass a video file (localize transcribe reads audio-only files)")
    if need_video:
        check_picture(path, info)
    if not info.has_audio:
        raise MediaError(path, "has no audio track", "pass a video with its original sound")
    return Source(path=path, info=info, sha256=file_sha256(path))


def extract_audio(source: Source, store: ArtifactStore) -> Audio:
    key = AUDIO.key(inputs=[source.sha256], options={"asr_rate": ASR_RATE, "bed_rate": BED_RATE})

    def build(tmp: Path) -> None:
        what = f"decoding {source.path}"
        run_ffmpeg(extract_audio_argv(source.path, tmp / "asr.wav", rate=ASR_RATE, channels=1), what)
        run_ffmpeg(extract_audio_argv(source.path, tmp / "bed.wav", rate=BED_RATE, channels=2), what)

    return AUDIO.cached(store, key, build, lambda p: Audio(key=key, asr=p / "asr.wav", bed=p / "bed.wav"))
