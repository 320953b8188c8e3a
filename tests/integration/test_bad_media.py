"""Hostile source files (issue 20, defects 10 and 11): a video cut short and a picture the render cannot use
are refused when the source is opened, with one line naming the file and the fix, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from localize.core.errors import MediaError
from localize.core.media import probe
from localize.stages.audio.stage import open_source
from tests.conftest import SAMPLE, shared_media
from tests.integration.test_cli import assert_nothing_complete, assert_user_error, ffmpeg, localize_cli

pytestmark = pytest.mark.integration


def _head(src: Path, dst: Path, share: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * share)])
    return dst


def test_truncated_video_is_refused_before_any_work(tmp_path: Path) -> None:
    # The sample (10 s, its index at the front) cut to its first 30 % of bytes: ffprobe still reads 10 s from
    # the index, but only ~3 s of packets are there. It used to render 3 s while the report said 10 s.
    cut = _head(SAMPLE, tmp_path / "cut.mp4", 0.30)
    assert probe(SAMPLE).duration_ms == pytest.approx(10_000, abs=50)
    proc = localize_cli("run", cut, "-m", "pt-BR", "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert_user_error(proc, "cut.mp4", "cut short", "10.0 s", "copy or download the whole file again")
    assert_nothing_complete(tmp_path / "out")
    assert not list((tmp_path / "cache").rglob("*.wav"))  # refused before the audio was decoded


def test_truncated_video_with_its_index_at_the_end(tmp_path: Path) -> None:
    tail_index = tmp_path / "tail.mp4"
    ffmpeg("-i", SAMPLE, "-c", "copy", tail_index)  # no +faststart: the moov box goes after the data
    cut = _head(tail_index, tmp_path / "cut_tail.mp4", 0.30)
    with pytest.raises(MediaError, match=r"cut_tail\.mp4: is incomplete.*copy or download the whole file again"):
        probe(cut)


def test_complete_files_pass_the_truncation_check() -> None:
    assert probe(SAMPLE).has_video
    assert probe(shared_media("drama/episode_B.mp4")).duration_ms == pytest.approx(46_600, abs=100)
    # Its container says 14.0 s, its edit lists 10 s: a short edit is not a cut file.
    assert probe(shared_media("video/talking_man_outdoors.mp4")).has_video


def _resized(tmp_path: Path, width: int, height: int) -> Path:
    out = tmp_path / f"pic_{width}x{height}.mp4"
    # yuv444p: libx264 encodes odd sizes (1x1 included) in 4:4:4
    ffmpeg("-i", SAMPLE, "-t", "3", "-vf", f"scale={width}:{height}", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv444p", "-c:a", "copy", out)
    return out


def test_one_pixel_video_is_refused_before_any_work(tmp_path: Path) -> None:
    # It used to fail at the render, after the whole pipeline, with ffmpeg's last line.
    tiny = _resized(tmp_path, 1, 1)
    proc = localize_cli("run", tiny, "-m", "pt-BR", "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert_user_error(proc, "pic_1x1.mp4", "1x1 picture", "re-encode it")
    assert not list((tmp_path / "cache").rglob("*.wav"))


@pytest.mark.parametrize("size,ok", [((161, 287), True), ((64, 64), True), ((2000, 100), False),
                                     ((40, 720), False)])
def test_picture_preconditions(tmp_path: Path, size: tuple[int, int], ok: bool) -> None:
    video = _resized(tmp_path, *size)
    if ok:  # odd sizes are scaled to the even size yuv420p needs at the render
        assert open_source(video, need_video=True).info.width == size[0]
    else:
        with pytest.raises(MediaError, match=rf"{size[0]}x{size[1]} picture"):
            open_source(video, need_video=True)


def test_transcribe_does_not_need_a_usable_picture(tmp_path: Path) -> None:
    assert open_source(_resized(tmp_path, 1, 1), need_video=False).info.has_audio
