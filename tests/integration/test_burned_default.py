"""The picture an en-US viewer sees, for real: 11.5 s of the developer episode (1080x1920, Chinese
subtitles burned in) localized into en-US with its human English translation and no market settings.
By default the Chinese is painted out and the English burned in, in at most two rows, with the soft
track beside; the frames of the render are read back with OCR. A market that asks for "soft" keeps
the source's picture and only a soft track."""

from __future__ import annotations

import difflib
import json
import subprocess
from pathlib import Path

import pysubs2
import pytest

from localize.stages.render.fonts import font_files
from tests.conftest import ffprobe, shared_media
from tests.integration.test_region_render import _frame
from tests.integration.test_subtitle_removal import _has_chinese

pytestmark = [pytest.mark.integration, pytest.mark.shared]

CLIP_FROM_MS, CLIP_MS = 1500, 11500  # lines 1 (124 English characters) and 2 of episode B
BAND = (0.55, 0.95)  # the rows OCR reads: the source's subtitles (centred at 82 %) and the market's above
SOFT_MARKET = """
[en-US-soft]
name = "United States (English), soft subtitles only"
language = "en"
tts = ["piper", "espeak"]
voices = { piper = "en_US-joe-medium", espeak = "en-us" }
render = { subtitles = "soft" }
"""


def _clip_srt(path: Path, out: Path) -> Path:
    """The cues of `path` that fall in the clip, on the clip's timeline."""
    subs = pysubs2.load(str(path))
    subs.shift(ms=-CLIP_FROM_MS)
    subs.events = [e for e in subs.events if e.start >= 0 and e.end <= CLIP_MS]
    subs.save(str(out))
    return out


def _rows(boxes) -> list[list]:
    """OCR text boxes grouped into rows by their vertical centres."""
    rows: list[list] = []
    for b in sorted(boxes, key=lambda b: b.y + b.height / 2):
        centre = b.y + b.height / 2
        if rows and abs(centre - (rows[-1][-1].y + rows[-1][-1].height / 2)) < 0.5 * b.height:
            rows[-1].append(b)
        else:
            rows.append([b])
    return rows


def _latin(text: str) -> str:
    """The text's letters and digits, lower case (OCR drops some spaces: "Aftercoming backto")."""
    return "".join(ch.lower() for ch in text if ch.isascii() and ch.isalnum())


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, _latin(a), _latin(b)).ratio()


def read_subtitle_band(video: Path, times_s: list[float], size=(1080, 1920)) -> list[list]:
    """The OCR text boxes in the subtitle band of the frame at each time (in the band's pixels)."""
    from localize.stages.script.ocr import READERS

    top, bottom = round(BAND[0] * size[1]), round(BAND[1] * size[1])
    reader = READERS.create("rapidocr", language="ch")
    try:
        return reader.read([_frame(video, t, size)[top:bottom] for t in times_s])
    finally:
        reader.release()


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra is not installed")
    pytest.importorskip("cv2", reason="the picture extra is not installed")
    if not font_files("DejaVu Sans"):
        pytest.skip("font 'DejaVu Sans' is not installed (Debian: apt-get install fonts-dejavu-core)")
    source = shared_media("drama/episode_B.mp4")
    d = tmp_path_factory.mktemp("burned_default")
    clip = d / "episode_B_clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{CLIP_FROM_MS / 1000}", "-t", f"{CLIP_MS / 1000}", "-i",
                    str(source), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-c:a", "aac", str(clip)],
                   check=True)
    zh = _clip_srt(shared_media("drama/subtitles.zh.srt"), d / "zh.srt")
    en = _clip_srt(shared_media("drama/reference.en.srt"), d / "en.srt")
    markets = d / "markets.toml"
    markets.write_text(SOFT_MARKET, encoding="utf-8")
    return d, clip, zh, en, markets


def _run(episode, tag: str):
    import localize
    from localize.stages.script.asr import AsrOptions
    from localize.core.options import RunOptions

    d, clip, zh, en, markets = episode
    options = RunOptions(source_subs=zh, asr=AsrOptions(language="zh"), translations=((tag, en),),
                         markets_files=(markets,), cache_dir=d / "cache", backcheck=False, speakers="off",
                         separation="off", voice_matching=False)
    return localize.localize_episode(clip, [tag], d / "out", options=options).markets[0]


@pytest.fixture(scope="module")
def en_us(episode):
    return _run(episode, "en-US")


def test_en_us_default_burns_english_over_the_painted_out_chinese_and_keeps_a_soft_track(en_us):
    streams = ffprobe(Path(en_us.video))["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (1080, 1920)
    soft = [s for s in streams if s["codec_type"] == "subtitle"]
    assert len(soft) == 1 and soft[0]["tags"]["language"] == "eng"


def test_the_render_shows_english_in_at_most_two_rows_and_no_chinese(en_us):
    cues = pysubs2.load(str(Path(en_us.directory) / "subtitles.srt")).events
    assert len(cues) >= 3  # the 124-character line went on screen in several cues
    found = read_subtitle_band(Path(en_us.video), [(c.start + c.end) / 2000 for c in cues])
    for cue, boxes in zip(cues, found, strict=True):
        texts = [b.text for b in boxes]
        assert len(cue.plaintext.split("\n")) <= 2 and all(len(r) <= 42 for r in cue.plaintext.split("\n"))
        assert not [t for t in texts if _has_chinese(t)], (cue.plaintext, texts)
        english = [b for b in boxes if len(_latin(b.text)) >= 3]
        assert _similar(" ".join(b.text for b in english), cue.plaintext) >= 0.85, (cue.plaintext, texts)
        assert len(_rows(english)) <= 2, (cue.plaintext, texts)


def test_the_report_says_how_each_line_was_laid_out(en_us):
    report = json.loads(Path(en_us.report_json).read_text(encoding="utf-8"))
    first = report["lines"][0]
    assert first["subtitle_cues"] >= 3
    assert first["reading_cps"] > 0
    # 124 characters in 5.72 s is over 17 characters per second: shown on into the gap, and flagged
    assert any(f.startswith(("subtitle-extended:", "reading-speed:")) for f in first["flags"])


def test_a_market_asking_for_soft_subtitles_keeps_the_source_picture(episode):
    result = _run(episode, "en-US-soft")
    streams = ffprobe(Path(result.video))["streams"]
    assert [s["codec_type"] for s in streams].count("subtitle") == 1
    first = pysubs2.load(str(Path(result.directory) / "subtitles.srt")).events[0]
    (boxes,) = read_subtitle_band(Path(result.video), [(first.start + first.end) / 2000])
    assert [b.text for b in boxes if _has_chinese(b.text)], "the source's Chinese subtitles should still be there"
    assert _similar(" ".join(b.text for b in boxes), first.plaintext) < 0.3, "nothing should be burned in"
