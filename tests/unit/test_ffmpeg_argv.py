"""ffmpeg argv builders (localize/core/media/ffmpeg.py) and the render argv (localize/stages/render/video.py)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from localize.core.errors import MissingToolError, ToolFailedError
from localize.core.langs import iso639_2
from localize.core.media import ffmpeg as ff
from localize.stages.render.video import RenderSpec, render_argv

HEAD = ["ffmpeg", "-hide_banner", "-nostdin", "-y"]


def _after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_extract_audio_argv():
    argv = ff.extract_audio_argv(Path("in dir/ep 1.mp4"), Path("out/asr.wav"), rate=16000, channels=1)
    assert argv[:4] == HEAD
    assert _after(argv, "-i") == "in dir/ep 1.mp4"
    assert _after(argv, "-map") == "0:a"
    assert _after(argv, "-acodec") == "pcm_s16le"
    assert _after(argv, "-ar") == "16000"
    assert _after(argv, "-ac") == "1"
    assert "-vn" in argv
    assert argv[-1] == "out/asr.wav"
    stereo = ff.extract_audio_argv(Path("a.mp4"), Path("bed.wav"), rate=48000, channels=2)
    assert (_after(stereo, "-ar"), _after(stereo, "-ac")) == ("48000", "2")


def test_stretch_argv_uses_rubberband_with_the_speed():
    argv = ff.stretch_argv(Path("t.wav"), Path("c.wav"), speed=1.2, rate=48000)
    assert argv[:4] == HEAD
    graph = _after(argv, "-filter_complex")
    assert "rubberband=" in graph and "tempo=1.2000" in graph and "pitchq=quality" in graph
    assert (_after(argv, "-ar"), _after(argv, "-ac"), _after(argv, "-acodec")) == ("48000", "1", "pcm_s16le")
    assert argv[-1] == "c.wav"


def test_limit_argv_caps_peaks_without_makeup_gain():
    argv = ff.limit_argv(Path("gain.wav"), Path("mix.wav"), ceiling=0.7079, rate=48000)
    graph = _after(argv, "-filter_complex")
    assert graph.startswith("[0:a]alimiter=")
    for part in ("limit=0.70790", "level=disabled", "aresample=48000"):
        assert part in graph
    assert (_after(argv, "-acodec"), _after(argv, "-ar")) == ("pcm_s24le", "48000")
    assert argv[-1] == "mix.wav"


def test_ebur128_argv():
    argv = ff.ebur128_argv(Path("video.mp4"))
    assert argv[:4] == HEAD
    assert _after(argv, "-i") == "video.mp4"
    assert "ebur128=peak=true" in _after(argv, "-filter_complex")
    assert argv[-3:] == ["-f", "null", "-"]


def test_last_line():
    assert ff.last_line("a\n\n  b: bad thing  \n\n") == "b: bad thing"
    assert ff.last_line("") == ""


def test_run_ffmpeg_turns_a_failure_into_tool_failed_error(tmp_path):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    missing = tmp_path / "nope.wav"
    with pytest.raises(ToolFailedError) as info:
        ff.run_ffmpeg(["ffmpeg", "-hide_banner", "-nostdin", "-i", str(missing), "-f", "null", "-"], "decoding nope")
    assert info.value.tool == "ffmpeg"
    assert "No such file" in info.value.last_line
    assert "while decoding nope" in str(info.value)


def test_missing_ffmpeg_is_a_missing_tool_error(monkeypatch):
    monkeypatch.setattr(ff.shutil, "which", lambda name: None)
    with pytest.raises(MissingToolError) as info:
        ff.run_ffmpeg(["ffmpeg", "-version"], "checking")
    assert info.value.tool == "ffmpeg"
    assert "apt-get install ffmpeg" in str(info.value)


SPEC = RenderSpec(source=Path("ep01.mp4"), audio=Path("mix.wav"), subtitles=Path("subtitles.srt"),
                  out=Path("render/video.mp4"), language="pt", label_text="Dublado por IA", label_file=None,
                  title="ep01 (pt-BR)")


def test_render_without_label_file_copies_the_picture():
    argv = render_argv(SPEC)
    assert argv[:4] == HEAD
    assert argv[-1] == "render/video.mp4"
    assert _pairs(argv, "-i") == ["ep01.mp4", "mix.wav", "subtitles.srt"]
    assert _pairs(argv, "-map") == ["0:v:0", "1:a", "2:s"]
    assert _after(argv, "-c:v") == "copy"
    assert "-filter_complex" not in argv and not any("drawtext" in a for a in argv)
    assert (_after(argv, "-c:a"), _after(argv, "-b:a"), _after(argv, "-c:s")) == ("aac", "192k", "mov_text")
    assert _after(argv, "-metadata:s:a:0") == "language=por"
    assert _after(argv, "-metadata:s:s:0") == "language=por"
    assert _after(argv, "-disposition:s:0") == "default"
    assert _after(argv, "-map_metadata") == "-1"
    assert "+faststart" in _after(argv, "-movflags")


def test_render_metadata_carries_the_ai_label_before_the_output_path():
    argv = render_argv(SPEC)
    tags = _pairs(argv, "-metadata")
    assert tags == ["comment=Dublado por IA", "ai_generated=true", "ai_label=Dublado por IA", "title=ep01 (pt-BR)"]
    out = len(argv) - 1
    assert all(i < out for i, a in enumerate(argv) if a == "-metadata")
    i = argv.index("ai_generated=true")
    assert argv[i - 1] == "-metadata" and i < out
    untitled = render_argv(dataclasses.replace(SPEC, title=""))
    assert not any(a.startswith("title=") for a in untitled)
    assert "ai_generated=true" in untitled


def test_render_with_label_file_draws_it_and_reencodes(tmp_path):
    label = tmp_path / "label.txt"
    argv = render_argv(dataclasses.replace(SPEC, label_file=label, crf=23, preset="fast"))
    graph = _after(argv, "-filter_complex")
    assert graph.startswith("[0:v:0]drawtext=")
    assert f"textfile={label}" in graph
    assert _pairs(argv, "-map")[1:] == ["1:a", "2:s"]
    assert _pairs(argv, "-map")[0].startswith("[")  # the filter's output, not the raw stream
    assert _after(argv, "-c:v") == "libx264"
    assert (_after(argv, "-crf"), _after(argv, "-preset"), _after(argv, "-pix_fmt")) == ("23", "fast", "yuv420p")
    assert "ai_generated=true" in argv and argv[-1] == "render/video.mp4"


@pytest.mark.parametrize(("lang", "tag"), [("pt", "por"), ("es", "spa"), ("zh", "chi"), ("ca", "cat"), ("en", "eng"),
                                           ("pt-BR", "por"), ("ZH", "chi"), ("xx", "und")])
def test_language_tags(lang, tag):
    assert iso639_2(lang) == tag
    argv = render_argv(dataclasses.replace(SPEC, language=lang))
    assert _after(argv, "-metadata:s:a:0") == f"language={tag}"
