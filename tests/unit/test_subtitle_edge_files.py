"""Fault campaign, subtitle edge files (issue 20): every hostile subtitle file either loads
(localize.load_subtitles) or is refused with one line naming it; what loads is written again as SRT,
WebVTT, ASS and TTML, and each of those parses back with pysubs2 and ttconv with the same cues."""

from __future__ import annotations

from pathlib import Path

import pysubs2
import pytest

from localize.core.errors import SubtitleError
from localize.core.markets import SubtitleStyle
from localize.core.media.text import clean_text
from localize.stages.render.subtitles import SUBTITLE_FORMATS, build_ssa, load_subtitles, write_subtitles
from tests.conftest import SHARED_MEDIA
from tests.support.timed_text import ttconv_cues

_SRT = "1\n00:00:01,000 --> 00:00:02,500\n{text}\n\n2\n00:00:03,000 --> 00:00:04,000\nsecond\n"
# name -> the file's bytes; each is a way subtitle files arrive broken or strange.
EDGE_FILES: dict[str, bytes] = {
    "newlines.srt": _SRT.format(text="row one\nrow two\nrow three").encode(),
    "arrow_in_text.srt": _SRT.format(text="he said --> go").encode(),
    "arrow_in_text.vtt": b"WEBVTT\n\n00:01.000 --> 00:02.500\nhe said --> go\n",
    "an8_override.srt": _SRT.format(text="{\\an8}top line").encode(),
    "ass_overrides.ass": (b"[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: Layer, Start, End, Style, Name, "
                          b"MarginL, MarginR, MarginV, Effect, Text\nDialogue: 0,0:00:01.00,0:00:02.50,Default,Bob,"
                          b"0,0,0,,{\\an8\\pos(10,10)}top\\Nrow {\\i1}two{\\i0}\\h!\n"),
    "html_tags.srt": _SRT.format(text="<i>slanted</i> <font color=\"red\">red</font> <b>&amp;</b> a<b").encode(),
    "vtt_tags.vtt": b"WEBVTT\n\n00:01.000 --> 00:02.500\n<v Bob>hi <c.yellow>there</c> &lt;3 &amp; you</v>\n",
    "rtl.srt": _SRT.format(text="\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u200fok").encode(),
    "emoji.srt": _SRT.format(text="party 🎉 family 👨‍👩‍👧 skin 👍🏽").encode(),
    "zero_length.srt": b"1\n00:00:01,000 --> 00:00:01,000\nnothing\n\n2\n00:00:02,000 --> 00:00:03,000\nsomething\n",
    "overlapping.srt": b"1\n00:00:01,000 --> 00:00:04,000\nfirst\n\n2\n00:00:02,000 --> 00:00:03,000\ninside\n",
    "ends_before_start.srt": b"1\n00:00:05,000 --> 00:00:01,000\nbackwards\n",
    "bom_utf8.srt": b"\xef\xbb\xbf" + _SRT.format(text="bom").encode(),
    "bom_utf16le.srt": "\ufeff".encode("utf-16-le") + _SRT.format(text="utf16 bom ção").encode("utf-16-le"),
    "utf16be_no_bom.srt": _SRT.format(text="sixteen big end").encode("utf-16-be"),
    "gb18030.srt": _SRT.format(text="你好，世界。我们走吧").encode("gb18030"),
    "cp1252.srt": _SRT.format(text="Ação, café — “quoted”").encode("cp1252"),
    "crlf.srt": _SRT.format(text="windows\nlines").replace("\n", "\r\n").encode(),
    "cr_only.srt": _SRT.format(text="old mac").replace("\n", "\r").encode(),
    "control_chars.srt": _SRT.format(text="nul\x00 bell\x07 esc\x1b").encode(),
    "nbsp_and_zwsp.srt": _SRT.format(text="non\u00a0breaking zero\u200bwidth").encode(),
    "invalid_utf8.srt": _SRT.format(text="broken").encode() + b"\xff\xfe\xfa\n",
    "binary.srt": bytes(range(256)) * 4,
    "empty.srt": b"",
    "only_bom.srt": b"\xef\xbb\xbf",
    "no_cues.vtt": b"WEBVTT\n\nNOTE nothing here\n",
    "long_hours.srt": b"1\n09:59:58,000 --> 09:59:59,500\nlate\n",  # ASS holds times up to 9:59:59.99
    "bad_timestamp.srt": b"1\n00:00:01,000 --> 00:00:xx,000\nbroken\n",
    "text_without_time.srt": b"hello there\n",
    "microdvd_without_fps.sub": b"{10}{20}frames\n",
    "ttml_entities.ttml": (b'<?xml version="1.0" encoding="UTF-8"?><tt xmlns="http://www.w3.org/ns/ttml" xml:lang="en">'
                           b'<body><div><p begin="00:00:01.000" end="00:00:02.000">a &amp; b &lt;c&gt;<br/>two</p>'
                           b'</div></body></tt>'),
    "ttml_broken_xml.ttml": b'<?xml version="1.0"?><tt xmlns="http://www.w3.org/ns/ttml"><body><div><p begin="1s">x',
}


def _shared_files() -> list[Path]:
    folder = SHARED_MEDIA / "subtitles"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def _check(path: Path, out: Path) -> str:
    """'loaded' or 'refused' (with one clear line); fails the test otherwise."""
    try:
        cues = load_subtitles(path, fps=None)
    except SubtitleError as exc:
        message = str(exc)
        assert "\n" not in message and str(path) in message and message.endswith("."), message
        return "refused"
    assert cues and all(c.end_ms >= c.start_ms >= 0 for c in cues)
    write_subtitles(build_ssa(cues, style=SubtitleStyle()), out)
    # Rows may be laid out again (Chinese rows lose the space between them): every other character survives.
    texts = ["".join(clean_text(c.text).split()) for c in cues]
    for fmt in SUBTITLE_FORMATS:
        written = out / f"subtitles.{fmt}"
        assert len(pysubs2.load(str(written)).events) == len(cues), (path.name, fmt)
        if fmt != "ass":
            assert len(ttconv_cues(written)) == len(cues), (path.name, fmt)
        if fmt in ("vtt", "ttml", "ass"):  # SRT readers take {...} and <i> for markup, as they always have
            assert ["".join(c.text.split()) for c in load_subtitles(written)] == texts, (path.name, fmt)
    return "loaded"


@pytest.mark.parametrize("name", sorted(EDGE_FILES))
def test_edge_file_loads_or_is_refused_in_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(EDGE_FILES[name])
    (tmp_path / "out").mkdir()
    _check(path, tmp_path / "out")


def test_edge_files_that_must_load_do() -> None:
    """Text in them is kept: tags and overrides dropped, entities read, line breaks as spaces."""
    loaded = {
        "an8_override.srt": "top line", "ass_overrides.ass": "top row two !",
        "html_tags.srt": "slanted red &amp; a<b", "vtt_tags.vtt": "hi there <3 & you", "bom_utf8.srt": "bom",
        "bom_utf16le.srt": "utf16 bom ção", "gb18030.srt": "你好，世界。我们走吧",
        "cp1252.srt": "Ação, café — “quoted”",
        "crlf.srt": "windows lines", "cr_only.srt": "old mac", "emoji.srt": "party 🎉 family 👨‍👩‍👧 skin 👍🏽",
    }
    import tempfile
    for name, first in loaded.items():
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / name
            path.write_bytes(EDGE_FILES[name])
            assert load_subtitles(path)[0].text == first, name


@pytest.mark.skipif(not _shared_files(), reason="../shared/media/subtitles is absent (development workspace only)")
def test_shared_subtitle_corpus_loads_or_is_refused_in_one_line(tmp_path: Path) -> None:
    outcome: dict[str, str] = {}
    for i, path in enumerate(_shared_files()):
        out = tmp_path / str(i)
        out.mkdir()
        outcome[str(path.relative_to(SHARED_MEDIA))] = _check(path, out)
    assert "loaded" in outcome.values()
