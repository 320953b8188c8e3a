"""Burned-in subtitle OCR: ffmpeg argv lists, geometry, options and the reader registry (localize/stages/script/ocr)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from localize.core.errors import ConfigError, MediaError, MissingExtraError, UnknownNameError
from localize.stages.script.ocr import READERS, OcrOptions, read_burned_subtitles
from localize.stages.script.ocr.frames import (
    Strip,
    parse_geometry,
    parse_keyframes,
    plan_stills,
    should_seek,
    still_argv,
    stills_argv,
    stream_argv,
)

HEAD = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"]


def _after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_strip_scales_to_even_sizes_and_maps_boxes_back_to_source_pixels():
    strip = Strip(top=1500, height=180, width=1080, scale=960 / 1080)
    assert (strip.out_width, strip.out_height) == (960, 160)
    assert strip.to_source((480, 80, 96, 32)) == (540, 1590, 108, 36)
    same = Strip(top=608, height=64, width=960, scale=1.0)
    assert same.to_source((10, 5, 20, 30)) == (10, 613, 20, 30)


def test_stream_argv_samples_crops_scales_and_pipes_grey():
    argv = stream_argv(Path("in dir/ep 1.mp4"), 50, Strip(top=1500, height=180, width=1080, scale=960 / 1080))
    assert argv[:5] == HEAD
    assert _after(argv, "-i") == "in dir/ep 1.mp4"
    graph = _after(argv, "-filter_complex")
    assert "fps=fps=1000/50" in graph
    assert "crop=1080:180:0:1500" in graph
    assert "scale=960:160" in graph
    assert (_after(argv, "-f"), _after(argv, "-pix_fmt")) == ("rawvideo", "gray")
    assert "-an" in argv and argv[-1] == "pipe:"


def test_still_argv_seeks_before_input_and_takes_one_frame_without_scaling_when_not_needed():
    argv = still_argv(Path("ep.mp4"), 1234, Strip(top=432, height=288, width=960, scale=1.0))
    assert argv.index("-ss") < argv.index("-i")
    assert _after(argv, "-ss") == "1.234"
    assert _after(argv, "-frames:v") == "1"
    graph = _after(argv, "-filter_complex")
    assert "crop=960:288:0:432" in graph and "scale" not in graph


def test_stills_argv_decodes_once_from_the_first_time_at_a_fixed_rate():
    argv = stills_argv(Path("ep.mp4"), 416, 833, 12, Strip(top=432, height=288, width=960, scale=1.0))
    assert argv.index("-ss") < argv.index("-i") and _after(argv, "-ss") == "0.416"
    assert "fps=fps=1000/833" in _after(argv, "-filter_complex")
    assert _after(argv, "-frames:v") == "12"


def test_keyframes_and_the_choice_between_seeking_and_one_pass():
    assert parse_keyframes("0.000000,K_\n0.033333,__\n2.000000,K_\n8.333333,K_\nN/A,K_\n\n") == [0, 2000, 8334]
    times = [1250 + 2500 * k for k in range(12)]  # 12 probes over 30 s
    every_2s = list(range(0, 30_000, 2000))
    assert should_seek(times, every_2s, 30_000)  # short GOPs: a seek decodes about a second
    assert not should_seek(times, [0, 8333], 30_000)  # one keyframe every 8 s: decode the whole video once
    assert not should_seek(times, [], 30_000)  # unknown: one pass is always safe
    sparse = [0, 8334, 16667, 25000]  # a keyframe every 8.3 s: stills move onto the ones nearby
    planned = plan_stills(times, sparse, 1250)
    assert planned[:5] == [0, 3750, 6250, 8334, 11250]
    assert sorted(set(planned) & set(sparse)) == sparse
    assert should_seek(planned, sparse, 30_000) is False  # 8 of 12 stills still decode from far back
    assert plan_stills([1000, 1100], [1050], 500) == [1050, 1100]  # a keyframe serves one still


def _probe_json(width=1080, height=1920, duration="10.0", rotation=None, tags=None) -> str:
    stream = {"width": width, "height": height, "duration": duration}
    if rotation is not None:
        stream["side_data_list"] = [{"rotation": rotation}]
    if tags:
        stream["tags"] = tags
    return json.dumps({"streams": [stream], "format": {"duration": "14.0"}})


def test_parse_geometry_uses_the_video_stream_and_applies_rotation():
    g = parse_geometry(Path("a.mp4"), _probe_json())
    assert (g.width, g.height, g.duration_ms) == (1080, 1920, 10000)
    turned = parse_geometry(Path("a.mp4"), _probe_json(1920, 1080, rotation=-90))
    assert (turned.width, turned.height) == (1080, 1920)
    old_style = parse_geometry(Path("a.mp4"), _probe_json(1920, 1080, tags={"rotate": "90"}))
    assert (old_style.width, old_style.height) == (1080, 1920)
    assert parse_geometry(Path("a.mp4"), _probe_json(duration=None)).duration_ms == 14000  # the container's


def test_parse_geometry_rejects_no_picture():
    with pytest.raises(MediaError, match="no video stream"):
        parse_geometry(Path("a.wav"), json.dumps({"streams": [], "format": {}}))
    with pytest.raises(MediaError, match="picture size"):
        parse_geometry(Path("a.mp4"), _probe_json(width=0))


@pytest.mark.parametrize(
    "bad",
    [
        {"frame_step_ms": 0},
        {"refine_step_ms": 60},  # does not divide 250
        {"refine_step_ms": -1},
        {"search_region": (0.7, 0.6)},
        {"search_region": (0.5, 1.2)},
        {"probe_frames": 1},
        {"max_width": 10},
    ],
)
def test_options_reject_bad_values(bad):
    with pytest.raises(ConfigError):
        OcrOptions(**bad)


def test_options_cache_key_and_progress_total():
    options = OcrOptions()
    assert options.cache_options()["frame_step_ms"] == 250
    json.dumps(options.cache_options())  # canonical, hashable as JSON
    assert "threads" not in options.cache_options()  # does not change the result
    assert options.progress_total(10_000) == 12 + 40
    assert options.progress_total(10_001) == 12 + 41
    assert OcrOptions(refine_step_ms=0).refine_step_ms == 0


def test_registry_lists_rapidocr_and_rejects_unknown_readers():
    assert "rapidocr" in READERS.names()
    with pytest.raises(UnknownNameError, match="rapidocr"):
        READERS.load("tesseract")


def test_rapidocr_reader_rejects_languages_it_has_no_model_for():
    with pytest.raises(UnknownNameError, match="OCR language 'ja'"):
        READERS.create("rapidocr", language="ja", threads=0)


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import fails
    with pytest.raises(MissingExtraError) as err:
        READERS.create("rapidocr", language="ch", threads=0)
    assert err.value.extra == "ocr"
    assert "pip install 'localize[ocr]'" in str(err.value)


def test_missing_video_is_an_input_error(tmp_path):
    from localize.core.errors import InputError

    with pytest.raises(InputError, match="no such file"):
        read_burned_subtitles(tmp_path / "nope.mp4")
