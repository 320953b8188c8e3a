"""Subtitle files in and out (localize/stages/render/subtitles.py)."""

from __future__ import annotations

import codecs

import pysubs2
import pytest

from localize.core.errors import SubtitleError
from localize.core.markets import SubtitleStyle
from localize.stages.render.subtitles import Cue, build_ssa, load_subtitles, wrap, write_subtitles

SRT = """1
00:00:01,000 --> 00:00:02,500
Hello there.

2
00:00:03,250 --> 00:00:05,000
Two
lines here

"""

ZH_SRT = """1
00:00:00,500 --> 00:00:01,800
你好，世界！

2
00:00:02,000 --> 00:00:03,000
我们走吧。

"""

VTT = """WEBVTT

00:00:01.000 --> 00:00:02.000
Hello <b>there</b>

00:02.500 --> 00:03.000
Bye
"""

ASS = r"""[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,0,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:02.50,Default,,0,0,0,,{\i1}Olá{\i0}\Nmundo
Comment: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,a comment
Dialogue: 0,0:00:05.00,0:00:06.00,Default,,0,0,0,,Tchau
"""

EXPECTED_SRT = (Cue(start_ms=1000, end_ms=2500, text="Hello there."),
                Cue(start_ms=3250, end_ms=5000, text="Two lines here"))


@pytest.mark.parametrize(("encoding", "bom"), [
    ("utf-8", b""),
    ("utf-8", codecs.BOM_UTF8),
    ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-32-le", codecs.BOM_UTF32_LE),
])
def test_load_srt_in_unicode_encodings(tmp_path, encoding, bom):
    path = tmp_path / "ep.srt"
    path.write_bytes(bom + SRT.encode(encoding))
    assert load_subtitles(path) == EXPECTED_SRT


def test_load_chinese_srt_in_utf16_and_gb18030(tmp_path):
    expected = (Cue(start_ms=500, end_ms=1800, text="你好，世界！"), Cue(start_ms=2000, end_ms=3000, text="我们走吧。"))
    a = tmp_path / "a.srt"
    a.write_bytes(codecs.BOM_UTF16_LE + ZH_SRT.encode("utf-16-le"))
    b = tmp_path / "b.srt"
    b.write_bytes(ZH_SRT.encode("gb18030"))
    with pytest.raises(UnicodeDecodeError):
        b.read_bytes().decode("utf-8")  # the fallback really is exercised
    assert load_subtitles(a) == expected
    assert load_subtitles(str(b)) == expected


def test_load_cp1252_falls_back_when_gb18030_cannot_decode(tmp_path):
    path = tmp_path / "es.srt"
    path.write_bytes("1\r\n00:00:01,000 --> 00:00:02,000\r\nEstá bien, señor.\r\n\r\n".encode("cp1252"))
    assert load_subtitles(path) == (Cue(start_ms=1000, end_ms=2000, text="Está bien, señor."),)


def test_load_cp1252_portuguese_is_not_decoded_as_gb18030(tmp_path):
    path = tmp_path / "pt.srt"
    path.write_bytes("1\r\n00:00:01,000 --> 00:00:02,500\r\nAção! Não!\r\n\r\n".encode("cp1252"))
    assert load_subtitles(path)[0].text == "Ação! Não!"


def test_load_utf16_without_bom_and_gb18030_four_byte_characters(tmp_path):
    text = ZH_SRT.replace("我们走吧。", "𠮷野家，走吧。")  # 𠮷 is a four-byte GB18030 sequence (not in GBK)
    expected = (Cue(start_ms=500, end_ms=1800, text="你好，世界！"), Cue(start_ms=2000, end_ms=3000, text="𠮷野家，走吧。"))
    a = tmp_path / "a.srt"
    a.write_bytes(text.encode("utf-16-le"))  # no BOM
    b = tmp_path / "b.srt"
    b.write_bytes(text.encode("gb18030"))
    assert len(text.encode("gb18030")) - len(text.encode("gbk", errors="ignore")) == 4
    assert load_subtitles(a) == expected
    assert load_subtitles(b) == expected


def test_binary_file_is_a_subtitle_error_naming_the_file_and_encodings(tmp_path):
    path = tmp_path / "photo.srt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(SubtitleError) as info:
        load_subtitles(path)
    assert info.value.path == path
    assert str(info.value) == (f"{path}: is not text in an encoding localize reads "
                               "(UTF-8, UTF-16, UTF-32, GB18030 or Windows-1252); re-save it as UTF-8 SRT.")


def test_load_vtt_strips_tags(tmp_path):
    path = tmp_path / "ep.vtt"
    path.write_text(VTT, encoding="utf-8")
    assert load_subtitles(path) == (Cue(start_ms=1000, end_ms=2000, text="Hello there"),
                                    Cue(start_ms=2500, end_ms=3000, text="Bye"))


def test_load_ass_skips_comments_and_joins_rows(tmp_path):
    path = tmp_path / "ep.ass"
    path.write_text(ASS, encoding="utf-8")
    assert load_subtitles(path) == (Cue(start_ms=1000, end_ms=2500, text="Olá mundo"),
                                    Cue(start_ms=5000, end_ms=6000, text="Tchau"))


def test_cues_without_text_or_time_are_dropped(tmp_path):
    path = tmp_path / "x.srt"
    path.write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nkeep\n\n"
        "2\n00:00:03,000 --> 00:00:03,000\nzero length\n\n"
        "3\n00:00:04,000 --> 00:00:05,000\n   \n\n", encoding="utf-8")
    assert load_subtitles(path) == (Cue(start_ms=1000, end_ms=2000, text="keep"),)


@pytest.mark.parametrize(("name", "body"), [
    ("notes.srt", "this is not a subtitle file at all\njust text\n"),
    ("bad.srt", "1\n00:00:01,000 --> garbage\nhi\n"),
    ("bad.ass", "[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: Layer, Start, End, Style, Text\nDialogue: 0,0:00:01.00\n"),
    ("empty.srt", ""),
])
def test_malformed_files_raise_subtitle_error_naming_the_file(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(SubtitleError) as info:
        load_subtitles(path)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")


def test_missing_file_raises_subtitle_error(tmp_path):
    with pytest.raises(SubtitleError, match="no such subtitle file"):
        load_subtitles(tmp_path / "nope.srt")
    with pytest.raises(SubtitleError):
        load_subtitles(tmp_path)  # a directory


def test_wrap():
    assert wrap("short", 10) == "short"
    assert wrap("exactly10!", 10) == "exactly10!"
    assert wrap("hello there general kenobi", 10) == "hello there\\Ngeneral kenobi"
    assert wrap("aaaa bbbbbbbbbbbbbbbb cc", 10) == "aaaa\\Nbbbbbbbbbbbbbbbb cc"  # the space nearest the middle
    assert wrap("你好世界你好世界", 4) == "你好世界\\N你好世界"
    assert wrap("abcdefg", 4) == "abc\\Ndefg"


STYLE = SubtitleStyle(font="Noto Sans CJK SC", font_size=22, primary_colour="#FFCC00", outline_colour="#102030",
                      outline=3.0, shadow=1.0, bold=False, margin_v=55, max_chars_per_line=10)


def test_build_ssa_applies_the_market_style():
    subs = build_ssa([Cue(start_ms=100, end_ms=900, text="hello there general kenobi")], style=STYLE)
    s = subs.styles["Default"]
    assert (s.fontname, s.fontsize, s.bold, s.outline, s.shadow, s.marginv) == ("Noto Sans CJK SC", 22, False, 3.0, 1.0, 55)
    assert (s.primarycolor.r, s.primarycolor.g, s.primarycolor.b, s.primarycolor.a) == (0xFF, 0xCC, 0x00, 0)
    assert (s.outlinecolor.r, s.outlinecolor.g, s.outlinecolor.b) == (0x10, 0x20, 0x30)
    assert s.alignment == pysubs2.Alignment.BOTTOM_CENTER
    assert "PlayResX" not in subs.info and "PlayResY" not in subs.info
    assert [(e.start, e.end, e.text) for e in subs.events] == [(100, 900, "hello there\\Ngeneral kenobi")]


def test_build_ssa_with_play_res_scales_sizes_from_the_288_line_canvas():
    subs = build_ssa([Cue(start_ms=100, end_ms=900, text="hi")], style=STYLE, play_res=(1080, 1920))
    assert (subs.info["PlayResX"], subs.info["PlayResY"]) == ("1080", "1920")
    s = subs.styles["Default"]
    k = 1920 / 288
    assert s.fontsize == pytest.approx(22 * k, abs=0.05)
    assert s.outline == pytest.approx(3.0 * k, abs=0.05)
    assert s.shadow == pytest.approx(1.0 * k, abs=0.05)
    assert s.marginv == round(55 * k)
    # the same style on a 288-line canvas is unchanged
    same = build_ssa([], style=STYLE, play_res=(384, 288)).styles["Default"]
    assert (same.fontsize, same.marginv) == (22, 55)


def test_write_subtitles_round_trips_through_pysubs2(tmp_path):
    cues = [Cue(start_ms=1234, end_ms=2345, text="hello there my friend, how are you doing today?"),
            Cue(start_ms=3000, end_ms=4990, text="Olá, 你好!")]
    subs = build_ssa(cues, style=SubtitleStyle(max_chars_per_line=20))
    paths = write_subtitles(subs, tmp_path / "out", stem="ep")
    assert [p.name for p in paths] == ["ep.srt", "ep.vtt", "ep.ass", "ep.ttml"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ep.ass", "ep.srt", "ep.ttml", "ep.vtt"]
    texts = ["hello there my friend,\nhow are you doing today?", "Olá, 你好!"]
    for path in paths:
        back = pysubs2.load(str(path))
        assert [e.plaintext for e in back.events] == texts, path.name
        # ASS keeps centiseconds, so every format is written at centiseconds
        assert [(e.start, e.end) for e in back.events] == [(1230, 2350), (3000, 4990)], path.name
        if path.suffix == ".ass":
            assert back.styles["Default"].fontname == "DejaVu Sans"
    assert paths[1].read_text(encoding="utf-8").startswith("WEBVTT")
    # and localize reads its own output back
    assert load_subtitles(paths[0]) == (Cue(start_ms=1230, end_ms=2350, text="hello there my friend, how are you doing today?"),
                                        Cue(start_ms=3000, end_ms=4990, text="Olá, 你好!"))


def test_srt_vtt_and_ass_carry_the_same_times_for_times_off_the_centisecond():
    """Lines timed from the audio are not on 10 ms steps; ASS keeps centiseconds, so every format is
    written at centiseconds (the SRT and VTT used to keep 8536 ms where the ASS said 8540)."""
    cues = [Cue(start_ms=8536, end_ms=10007, text="Hello"), Cue(start_ms=10013, end_ms=10016, text="Hi")]
    subs = build_ssa(cues, style=SubtitleStyle())
    times = {fmt: [(e.start, e.end) for e in pysubs2.SSAFile.from_string(subs.to_string(fmt))]
             for fmt in ("srt", "vtt", "ass")}
    assert times["srt"] == times["vtt"] == times["ass"] == [(8540, 10010), (10010, 10020)]
