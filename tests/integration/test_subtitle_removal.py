"""Burned-in subtitle removal for real: the gb2312 cues burned onto talking_man_outdoors.mp4 with Noto
CJK, read by OCR, painted out by the picture stage; OCR then finds no Chinese, and the band comes
back close to the same video encoded without subtitles."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from localize.core.cache import ArtifactStore
from localize.stages.picture.frames import overlay_of, picture_stage, whole_picture_argv
from localize.stages.picture.inpaint import SubtitleRemover
from localize.stages.audio.stage import open_source
from tests.conftest import ffprobe, shared_media
from tests.integration.test_ocr import (
    FONT,
    PICTURE_MS,
    build_gb2312_episode,
    burn,
    font_available,
)

pytestmark = pytest.mark.integration


def build_clean_episode(out_dir: Path) -> Path:
    """talking_man_outdoors.mp4 through the same encode as the burned episode, with no subtitles."""
    return burn(shared_media("video/talking_man_outdoors.mp4"), [], out_dir / "clean_x1.mp4", size=(960, 720),
                duration_ms=PICTURE_MS, font_size=44, margin_v=60)


def grey_frames(video: Path, every_ms: int = 200) -> np.ndarray:
    """Grey frames every `every_ms` (frame i at i * every_ms), as one (n, h, w) array."""
    info = next(s for s in ffprobe(video)["streams"] if s["codec_type"] == "video")
    w, h = int(info["width"]), int(info["height"])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-vf", f"fps=1000/{every_ms}", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w)


def band_difference(video: Path, clean: Path, band: tuple[int, int], spans: Sequence[tuple[int, int]],
                    every_ms: int = 200) -> dict[str, float]:
    """Mean absolute grey difference from `clean` inside the band (rows band[0]..band[1], while a cue
    is on) and outside it, and the band's PSNR; outside is the encoders' own noise."""
    a, b = grey_frames(video, every_ms).astype(np.int16), grey_frames(clean, every_ms).astype(np.int16)
    n = min(len(a), len(b))
    on = [i for i in range(n) if any(s <= i * every_ms < e for s, e in spans)]
    top, bottom = band
    diff = np.abs(a[on] - b[on])
    inside = diff[:, top:bottom]
    outside = np.concatenate([diff[:, :top].ravel(), diff[:, bottom:].ravel()])
    mse = float((inside.astype(np.float64) ** 2).mean())
    return {"band_mad": round(float(inside.mean()), 2), "outside_mad": round(float(outside.mean()), 2),
            "band_psnr_db": round(10 * np.log10(255**2 / mse), 2) if mse else float("inf"), "frames": len(on)}


@pytest.fixture(scope="module")
def removed(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra is not installed")
    pytest.importorskip("cv2", reason="the picture extra is not installed")
    if not font_available():
        pytest.skip(f"font {FONT!r} is not installed (Debian: apt-get install fonts-noto-cjk)")
    from localize.stages.script.ocr import read_burned_subtitles

    d = tmp_path_factory.mktemp("removal")
    burned, truth = build_gb2312_episode(d)
    clean = build_clean_episode(d)
    before = read_burned_subtitles(burned)
    store = ArtifactStore(d / "cache")
    built = picture_stage(open_source(burned, need_video=True), [SubtitleRemover(before, "ocr-test")], store)
    key, strip = built.key, built.value
    picture = d / "whole.mp4"  # the band drawn over the source, as a render draws it
    subprocess.run(whole_picture_argv(strip, burned, picture), check=True)
    after = read_burned_subtitles(picture)
    return burned, clean, truth, before, key, picture, after, store, strip


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_ocr_reads_the_burned_cues_before(removed):
    _, _, truth, before, *_ = removed
    assert len(before.cues) == len(truth) and before.band is not None


def test_no_chinese_text_is_found_after_removal(removed):
    *_, after, _, _ = removed
    assert not [c.text for c in after.cues if _has_chinese(c.text)]


def test_only_the_subtitle_band_is_encoded(removed):
    burned, _, _, before, _, _, _, _, strip = removed
    overlay = overlay_of(strip)
    assert strip.name == "strip.mp4" and overlay is not None
    for cue in before.cues:  # every box the OCR read is inside the band, which is a small part of the frame
        x, y, w, h = cue.box
        assert overlay.x <= x and x + w <= overlay.x + overlay.width, (cue.box, overlay)
        assert overlay.y <= y and y + h <= overlay.y + overlay.height, (cue.box, overlay)
    assert overlay.width * overlay.height < 960 * 720 / 8
    video = next(s for s in ffprobe(strip)["streams"] if s["codec_type"] == "video")
    source = next(s for s in ffprobe(burned)["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (overlay.width, overlay.height)
    assert video["nb_frames"] == source["nb_frames"]


def test_picture_keeps_size_duration_and_frame_count(removed):
    burned, _, _, _, _, picture, _, _, _ = removed
    src = next(s for s in ffprobe(burned)["streams"] if s["codec_type"] == "video")
    out = ffprobe(picture)
    video = next(s for s in out["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (src["width"], src["height"])
    assert [s["codec_type"] for s in out["streams"]] == ["video"]
    assert abs(float(out["format"]["duration"]) - PICTURE_MS / 1000) < 0.1


def test_band_comes_back_near_the_clean_original(removed):
    burned, clean, truth, before, _, picture, _, _, _ = removed
    spans = [(c.start_ms, c.end_ms) for c in truth]
    was = band_difference(burned, clean, before.band, spans)
    now = band_difference(picture, clean, before.band, spans)
    assert now["band_mad"] < was["band_mad"] / 2, (was, now)
    assert now["outside_mad"] < 3  # the rest of the picture is untouched (re-encoding noise only)


def test_picture_is_cached(removed):
    burned, _, _, before, key, _, _, store, strip = removed
    again = picture_stage(open_source(burned, need_video=True), [SubtitleRemover(before, "ocr-test")], store)
    assert (again.key, again.value) == (key, strip)


def test_pipeline_paints_out_the_source_subtitles_under_a_burned_market(removed, tmp_path):
    """th-TH burns its subtitles, so `remove_source_subtitles = "auto"` paints the Chinese out first."""
    import pysubs2

    import localize
    from localize.stages.script.asr import AsrOptions
    from localize.stages.script.ocr import read_burned_subtitles
    from localize.core.options import RunOptions

    burned, _, truth, *_ = removed
    source_subs, thai = tmp_path / "zh.srt", tmp_path / "th.srt"
    for path, texts in ((source_subs, [c.text for c in truth]),
                        (thai, ["ผู้พิทักษ์จักรวาลปกป้องเรา", "เขาจับกระสุนด้วยมือเปล่า", "กระโดดข้ามตึกสูงได้"])):
        subs = pysubs2.SSAFile()
        for cue, text in zip(truth, texts, strict=True):
            subs.append(pysubs2.SSAEvent(start=cue.start_ms, end=cue.end_ms, text=text))
        subs.save(str(path))
    options = RunOptions(source_subs=source_subs, asr=AsrOptions(language="zh"), translations=(("th-TH", thai),),
                         cache_dir=tmp_path / "cache", backcheck=False, speakers="off", separation="off",
                         voice_matching=False)
    result = localize.localize_episode(burned, ["th-TH"], tmp_path / "out", options=options)
    video = Path(result.markets[0].video)
    info = next(s for s in ffprobe(video)["streams"] if s["codec_type"] == "video")
    assert (info["width"], info["height"]) == (1080, 1920)  # th-TH's tiktok-1080x1920 preset
    assert not [s for s in ffprobe(video)["streams"] if s["codec_type"] == "subtitle"]  # burned only
    assert list((tmp_path / "cache" / "picture").glob("*/*/strip.mp4")), "the render did not use a picture"
    found = read_burned_subtitles(video)
    assert not [c.text for c in found.cues if _has_chinese(c.text)]
