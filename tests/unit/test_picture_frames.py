"""The picture stage's argv builders and the subtitle remover on synthetic frames."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from localize.core.artifacts import OcrCue, OcrTrack
from localize.core.errors import ConfigError, UnknownNameError
from localize.stages.picture.frames import (
    FrameFormat,
    band,
    decode_argv,
    encode_argv,
    frame_rate,
    picture_key,
)
from localize.stages.picture.inpaint import (
    RemovalOptions,
    SubtitleRemover,
    needs_removal,
    remove_text,
    text_mask,
)

FMT = FrameFormat(width=404, height=720, rate=Fraction(30000, 1001))


def test_decode_argv_pipes_bgr_at_a_constant_rate():
    argv = decode_argv(Path("ep.mp4"), FMT)
    assert argv[:5] == ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"]
    assert argv[argv.index("-i") + 1] == "ep.mp4"
    assert "fps=fps=30000/1001" in argv[argv.index("-filter_complex") + 1]
    assert argv[argv.index("-f") + 1] == "rawvideo" and argv[argv.index("-pix_fmt") + 1] == "bgr24"
    assert "-an" in argv and "-sn" in argv and argv[-1] == "pipe:"


def test_encode_argv_reads_raw_frames_of_the_right_size():
    argv = encode_argv(Path("out/picture.mp4"), FMT, crf=12)
    i = argv.index("-i")
    head = argv[:i]
    assert head[head.index("-s") + 1] == "404x720" and head[head.index("-framerate") + 1] == "30000/1001"
    assert head[head.index("-pix_fmt") + 1] == "bgr24" and argv[i + 1] == "pipe:"
    assert argv[argv.index("-vcodec") + 1] == "libx264" and argv[argv.index("-crf") + 1] == "12"
    assert argv[-1] == "out/picture.mp4" and "-y" in argv
    assert "-filter_complex" not in argv
    odd = encode_argv(Path("p.mp4"), FrameFormat(width=405, height=721, rate=Fraction(25)))
    assert "crop=404:720:0:0" in odd[odd.index("-filter_complex") + 1]


def test_frame_times_and_rates():
    assert frame_rate(29.97002997) == Fraction(30000, 1001)
    assert frame_rate(25.0) == 25 and frame_rate(0) == 25
    assert FMT.time_ms(30) == 1001 and FMT.frame_bytes == 404 * 720 * 3


def _track(*cues: tuple[int, int, tuple[int, int, int, int]]) -> OcrTrack:
    return OcrTrack(cues=tuple(OcrCue(start_ms=s, end_ms=e, text="字幕", box=b, confidence=0.9) for s, e, b in cues),
                    band=(600, 680), frame_step_ms=250, frames_read=10, backend="rapidocr", model="v4")


def test_picture_key_depends_on_each_processor_and_the_source():
    a = SubtitleRemover(_track((0, 1000, (10, 600, 200, 40))), "ocr-a")
    b = SubtitleRemover(_track((0, 1000, (10, 600, 200, 40))), "ocr-b")
    c = SubtitleRemover(a.track, "ocr-a", RemovalOptions(radius=7))
    keys = {picture_key("sha1", [a]), picture_key("sha1", [b]), picture_key("sha1", [c]), picture_key("sha2", [a])}
    assert len(keys) == 4
    assert picture_key("sha1", [a]) == picture_key("sha1", [SubtitleRemover(a.track, "ocr-a")])


def test_active_cues_are_padded_in_time():
    remover = SubtitleRemover(_track((1000, 2000, (0, 0, 1, 1)), (5000, 9000, (0, 0, 1, 1))), "k",
                              RemovalOptions(pad_ms=100))
    remover.prepare()
    assert [c.start_ms for c in remover.active(950)] == [1000]
    assert remover.active(880) == [] and remover.active(2150) == []
    assert [c.start_ms for c in remover.active(8000)] == [5000]


def _frame_with_text() -> tuple[np.ndarray, np.ndarray]:
    """A textured frame, and the same frame with white strokes outlined in black in a box."""
    rng = np.random.default_rng(0)
    clean = np.clip(rng.normal(90, 8, (120, 320, 3)), 0, 255).astype(np.uint8)
    clean[:, :, 0] = 140  # a blue-ish background
    text = clean.copy()
    for x in range(70, 250, 30):
        text[58:82, x - 2 : x + 10] = 0  # outline
        text[60:80, x : x + 8] = 255  # stroke
    return clean, text


def test_text_mask_covers_strokes_and_outline_only():
    clean, text = _frame_with_text()
    mask = text_mask(text, 30, RemovalOptions())
    assert mask[70, 74] == 255  # a stroke
    assert mask[70, 69] == 255  # its outline
    assert mask[10, 10] == 0 and mask[70, 90] == 0  # background, between letters
    assert text_mask(clean, 30, RemovalOptions()).sum() == 0


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_remove_text_brings_the_box_back_near_the_background(scale: float):
    clean, text = _frame_with_text()
    before = np.abs(text.astype(int) - clean).mean()
    remove_text(text, (60, 55, 200, 30), RemovalOptions(scale=scale))
    after = np.abs(text.astype(int) - clean).mean()
    assert after < before / 4
    assert (text[:40] == clean[:40]).all()  # nothing outside the box moved
    assert (text[58:82, 74:76] < 200).all()  # no stroke left, not even its thin parts at half resolution
    assert (text[60:80, 85:93] == clean[60:80, 85:93]).all()  # between letters, untouched at any scale


def test_text_mask_at_half_scale_keeps_thin_strokes():
    clean, text = _frame_with_text()
    text[60:80, 100:101] = 255  # a 1-pixel stroke, which averaging down would dim below the threshold
    mask = text_mask(text, 30, RemovalOptions(), 0.5)
    assert mask.shape == (60, 160) and mask[35, 50] == 255


def test_needs_removal():
    track = _track((0, 1000, (0, 0, 1, 1)))
    empty = _track()
    assert needs_removal("auto", "burned", track) and needs_removal("auto", "both", track)
    assert not needs_removal("auto", "soft", track)
    assert needs_removal("on", "soft", track)
    assert not needs_removal("off", "burned", track)
    assert not needs_removal("on", "burned", empty) and not needs_removal("on", "burned", None)
    with pytest.raises(ConfigError, match="remove_source_subtitles"):
        needs_removal("always", "burned", track)


def test_removal_options_are_checked():
    with pytest.raises(UnknownNameError, match="telea"):  # the inpainters' registry lists the known names
        RemovalOptions(method="fast")
    with pytest.raises(ConfigError, match="radius"):
        RemovalOptions(radius=0)
    with pytest.raises(ConfigError, match="scale"):
        RemovalOptions(scale=0)


def test_the_removers_band_is_every_cue_box_with_its_margin_and_reach_on_even_pixels():
    remover = SubtitleRemover(_track((0, 1000, (61, 55, 200, 30)), (2000, 3000, (11, 71, 100, 21))), "k")
    # box_margin 0.25 of 30 px = 8 (of 21 px = 5), then the radius 5: x 11-5-5=1 -> 0, y 55-8-5=42,
    # right 61+200+8+5=274, bottom 71+21+5+5=102
    assert remover.region(320, 120) == (0, 42, 274, 60)
    assert remover.region(270, 100) == (0, 42, 270, 58)  # clipped to the frame
    assert SubtitleRemover(_track(), "k").region(320, 120) is None
    assert band([remover], 320, 120) == (0, 42, 274, 60)
    assert band([remover, SubtitleRemover(_track((0, 1, (100, 10, 10, 10))), "k")], 320, 120) == (0, 2, 274, 100)
    assert band([remover, object()], 320, 120) is None  # a processor that may change any pixel: whole frames
    assert band([remover], 321, 120) is None and band([], 320, 120) is None


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_removing_text_from_the_band_alone_paints_the_same_pixels(scale: float):
    _, text = _frame_with_text()
    options = RemovalOptions(scale=scale)
    whole = SubtitleRemover(_track((0, 1000, (60, 55, 200, 30))), "k", options)
    x, y, w, h = whole.region(320, 120)
    crop = whole.cropped(x, y)
    whole.prepare()
    crop.prepare()
    expected = whole.process(text.copy(), 0, 500)
    got = crop.process(text[y:y + h, x:x + w].copy(), 0, 500)
    assert np.array_equal(got, expected[y:y + h, x:x + w])
    assert not np.array_equal(expected, text)


def test_decode_argv_crops_to_the_band():
    argv = decode_argv(Path("ep.mp4"), FMT, crop=(0, 1400, 404, 300))
    assert "crop=404:300:0:1400" in argv[argv.index("-filter_complex") + 1]
