"""Region renders: script fonts, safe-area margins, presets and the render argv with burned subtitles."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from localize.core.errors import ConfigError
from localize.core.markets import Market, RenderSettings, SubtitleStyle
from localize.stages.render import fonts
from localize.stages.render.fonts import SCRIPT_FONTS, choose_font, script_for, text_script
from localize.stages.render.presets import (
    PRESETS,
    SHORT_VIDEO,
    TITLE_SAFE,
    output_size,
    resolve_preset,
    safe_area,
)
from localize.stages.render.styles import market_subtitles
from localize.stages.render.video import RenderSpec, render_argv
from localize.stages.render.subtitles import Cue, wrap


@pytest.mark.parametrize(("text", "script"), [
    ("Hola, ¿qué tal?", "latin"), ("Привет", "latin"), ("你好，世界", "cjk"), ("こんにちは", "japanese"),
    ("안녕하세요", "korean"), ("สวัสดีครับ", "thai"), ("مرحبا بك", "arabic"), ("नमस्ते दुनिया", "devanagari"),
    ("", "latin"), ("123 !?", "latin"),
])
def test_text_script(text, script):
    assert text_script(text) == script


def test_script_for_prefers_the_language_then_the_text():
    assert script_for("th").family == "Noto Sans Thai"
    assert script_for("ar").rtl and script_for("ar").family == "Noto Sans Arabic"
    assert script_for("hi").family == "Noto Sans Devanagari"
    assert script_for("zh").family == "Noto Sans CJK SC"
    assert script_for("pt-BR").family == "DejaVu Sans"
    assert script_for("xx", ["สวัสดี"]).script == "thai"
    assert not SCRIPT_FONTS["thai"].rtl


def test_choose_font_errors_clearly_when_the_font_is_missing(monkeypatch):
    monkeypatch.setattr(fonts, "font_files", lambda family: ())
    with pytest.raises(ConfigError, match=r"'Noto Sans Thai' \(thai script.*apt-get install fonts-noto-core"):
        choose_font("DejaVu Sans", "th")
    with pytest.raises(ConfigError, match="set another subtitles.font"):
        choose_font("Comic Sans", "en")


def test_choose_font_keeps_a_markets_own_font(monkeypatch):
    monkeypatch.setattr(fonts, "font_files", lambda family: (Path(f"/fonts/{family}.ttf"),))
    assert choose_font("Noto Serif", "th").family == "Noto Serif"
    chosen = choose_font("DejaVu Sans", "ar")
    assert chosen.family == "Noto Sans Arabic" and chosen.rtl and chosen.file.parent == Path("/fonts")


def test_safe_area_for_vertical_and_other_pictures():
    assert safe_area(1080, 1920) is SHORT_VIDEO and safe_area(404, 720) is SHORT_VIDEO
    assert safe_area(960, 720) is TITLE_SAFE and safe_area(1920, 1080) is TITLE_SAFE
    left, right, top, bottom = SHORT_VIDEO.margins(1080, 1920)
    assert (left, right, top, bottom) == (65, 151, 192, 422)
    assert right > left  # the apps' buttons are on the right


def test_presets_and_overrides():
    assert resolve_preset(RenderSettings()) == PRESETS["source"]
    tiktok = resolve_preset(RenderSettings(preset="tiktok-1080x1920"))
    assert (tiktok.width, tiktok.height, tiktok.codec, tiktok.encoder) == (1080, 1920, "h264", "libx264")
    hevc = resolve_preset(RenderSettings(preset="tiktok-1080x1920", codec="h265", crf=26, video_bitrate="6M"))
    assert (hevc.encoder, hevc.crf, hevc.video_bitrate) == ("libx265", 26, "6M")
    assert output_size(PRESETS["source"], 405, 721) == (404, 720)
    assert output_size(tiktok, 404, 720) == (1080, 1920)
    for bad, match in ((RenderSettings(preset="imax"), "unknown render.preset 'imax'; known: source"),
                       (RenderSettings(codec="av1"), "render.codec"), (RenderSettings(crf=60), "render.crf"),
                       (RenderSettings(subtitles="hard"), "render.subtitles")):
        with pytest.raises(ConfigError, match=match):
            resolve_preset(bad)


def _market(language: str, **render) -> Market:
    return Market(tag="xx-XX", name="x", language=language, render=RenderSettings(**render))


def test_market_subtitles_sit_inside_the_safe_area(monkeypatch):
    monkeypatch.setattr(fonts, "font_files", lambda family: (Path(f"/fonts/{family}.ttf"),))
    subs, font, _ = market_subtitles([Cue(start_ms=0, end_ms=1000, text="مرحبا بك")], _market("ar"), (1080, 1920))
    style = subs.styles["Default"]
    assert font.family == style.fontname == "Noto Sans Arabic"
    assert (subs.info["PlayResX"], subs.info["PlayResY"]) == ("1080", "1920")
    ink = math.ceil(style.outline + style.shadow + style.fontsize * 0.1)  # outline and low marks stay inside too
    assert ink > style.outline
    assert (style.marginl, style.marginr, style.marginv) == (65 + ink, 151 + ink, 422 + ink)
    # A market's own bottom margin wins when it is larger than the safe area's.
    high = Market(tag="xx", name="x", language="en", subtitles=SubtitleStyle(margin_v=100))
    subs, _, _ = market_subtitles([Cue(start_ms=0, end_ms=1000, text="hi")], high, (1080, 1920))
    assert subs.styles["Default"].marginv == round(100 * 1920 / 288)


def test_wrap_never_splits_a_letter_from_its_combining_marks():
    text = "กกกกกี่กกกกก"  # the middle falls on the marks of กี่
    rows = wrap(text, 5).split("\\N")
    assert "".join(rows) == text and rows[1][0] == "ก"


SPEC = RenderSpec(source=Path("picture.mp4"), audio=Path("mix.wav"), subtitles=Path("subtitles.srt"),
                  out=Path("video.mp4"), language="th", label_text="AI", label_file=None)


def _after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_burned_only_renders_draw_with_libass_and_mux_no_subtitle_track():
    argv = render_argv(dataclasses.replace(SPEC, soft=False, burn=Path("subs.ass"), fonts_dir=Path("/fonts/noto")))
    graph = _after(argv, "-filter_complex")
    assert "ass=subs.ass:fontsdir=/fonts/noto" in graph
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-i"] == ["picture.mp4", "mix.wav"]
    assert "-c:s" not in argv and "mov_text" not in argv
    assert _after(argv, "-c:v") == "libx264" and _after(argv, "-crf") == "20"


def test_both_burns_and_muxes_and_a_preset_scales_pads_then_draws():
    label = Path("label.txt")
    area = SHORT_VIDEO
    argv = render_argv(dataclasses.replace(SPEC, burn=Path("subs.ass"), width=1080, height=1920, codec="h265",
                                           video_bitrate="8M", label_file=label, label_area=area))
    graph = _after(argv, "-filter_complex")
    scale, pad, ass, draw = (graph.index(f) for f in ("scale=1080:1920", "pad=1080:1920", "ass=", "drawtext="))
    assert scale < pad < ass < draw
    assert "force_original_aspect_ratio=decrease" in graph
    assert "x=w*0.8600-tw" in graph and "y=h*0.1000" in graph
    assert _after(argv, "-c:v") == "libx265" and _after(argv, "-tag:v") == "hvc1"
    assert (_after(argv, "-b:v"), _after(argv, "-maxrate"), _after(argv, "-bufsize")) == ("8M", "8M", "16M")
    assert "-crf" not in argv
    assert _after(argv, "-c:s") == "mov_text"


def test_label_as_ass_is_drawn_after_the_subtitles(monkeypatch):
    argv = render_argv(dataclasses.replace(SPEC, burn=Path("subs.ass"), label_ass=Path("label.ass"),
                                           label_file=Path("ignored.txt")))
    graph = _after(argv, "-filter_complex")
    assert graph.index("ass=subs.ass") < graph.index("ass=label.ass") and "drawtext" not in graph
    monkeypatch.setattr(fonts, "font_files", lambda family: (Path(f"/fonts/{family}.ttf"),))
    from localize.stages.render.styles import label_subtitles

    subs = label_subtitles("พากย์เสียงโดย AI", "th", (1080, 1920), SHORT_VIDEO, 10_000)
    style = subs.styles["Default"]
    assert style.fontname == "Noto Sans Thai" and style.alignment.value == 9  # top right
    assert (style.marginr, style.marginv) == (151, 192)
    assert [(e.start, e.end, e.text) for e in subs.events] == [(0, 10_000, "พากย์เสียงโดย AI")]


def test_cli_needs_both_c2pa_files(tmp_path):
    from click.testing import CliRunner

    from localize.apps.cli import main

    result = CliRunner().invoke(main, ["run", str(tmp_path / "ep.mp4"), "-m", "th-TH", "--c2pa-cert", "c.pem"])
    assert result.exit_code == 2 and "--c2pa-cert and --c2pa-key go together" in result.output


def test_credentials_from_the_environment(tmp_path, monkeypatch):
    from localize.core.errors import InputError
    from localize.stages.render.credentials import CERT_ENV, KEY_ENV, Credentials, credentials_from

    monkeypatch.delenv(CERT_ENV, raising=False)
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert credentials_from(None) is None
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("y")
    monkeypatch.setenv(CERT_ENV, str(cert))
    with pytest.raises(ConfigError, match="set both"):
        credentials_from(None)
    monkeypatch.setenv(KEY_ENV, str(key))
    assert credentials_from(None) == Credentials(cert=cert, key=key)
    with pytest.raises(InputError, match="no such C2PA private key"):
        credentials_from(Credentials(cert=cert, key=tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="algorithm"):
        Credentials(cert=cert, key=key, algorithm="md5")


def test_soft_only_subtitles_need_no_installed_font(monkeypatch):
    def missing(family):
        raise AssertionError("looked up")

    monkeypatch.setattr(fonts, "font_files", missing)
    chosen = choose_font("DejaVu Sans", "th", check=False)
    assert (chosen.family, chosen.file) == ("Noto Sans Thai", None)
    subs, font, _ = market_subtitles([Cue(start_ms=0, end_ms=1000, text="สวัสดี")], _market("th"), (404, 720),
                                  burned=False)
    assert subs.styles["Default"].fontname == "Noto Sans Thai" and font.file is None
