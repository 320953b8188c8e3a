"""Fusion on episodes built from real parts: real speech, real picture, subtitles burned with libass.

Each episode is the sample's picture with a real recording as its sound track and the recording's
human reference burned in as subtitles, the way a microdrama carries its script. The fused script
must be better than speech recognition alone: the OCR's text, the ASR's timing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import jiwer
import pysubs2
import pytest

import localize
from localize.core.options import RunOptions
from tests.conftest import SAMPLE, shared_media

pytestmark = pytest.mark.integration
FONT = "Noto Sans CJK SC"


def font_available() -> bool:
    out = subprocess.run(["fc-list", f":family={FONT}"], capture_output=True, text=True, check=False).stdout
    return bool(out.strip())


def build(tmp: Path, speech: Path, delay_ms: int, cues: list[tuple[int, int, str]]) -> Path:
    if not font_available():
        pytest.skip(f"font {FONT!r} missing: apt-get install fonts-noto-cjk")
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"], subs.info["PlayResY"] = "404", "720"
    style = subs.styles["Default"]
    style.fontname, style.fontsize, style.outline, style.marginv = FONT, 26, 3, 60
    for start, end, text in cues:
        subs.append(pysubs2.SSAEvent(start=start, end=end, text=text))
    subs.save(str(tmp / "cues.ass"))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(SAMPLE), "-i", str(speech), "-filter_complex",
         f"[1:a]adelay={delay_ms}|{delay_ms},apad[a]", "-map", "0:v", "-map", "[a]", "-vf", "subtitles=cues.ass",
         "-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "episode.mp4"],
        cwd=tmp, check=True,
    )
    return tmp / "episode.mp4"


def scripts(video: Path, tmp: Path) -> tuple[localize.Script, localize.Script]:
    fused = localize.transcribe(video, options=RunOptions(speakers="off"), cache_dir=tmp / "c")
    heard = localize.transcribe(video, options=RunOptions(speakers="off", ocr="off"), cache_dir=tmp / "c")
    return fused, heard


def test_chinese_burned_subtitle_corrects_a_misheard_character(tmp_path: Path) -> None:
    speech = shared_media("speech/zh/sr_chinese.flac")  # 砸自己的脚; Whisper base hears 扎自己的脚
    video = build(tmp_path, speech, 2000, [(1800, 3600, "砸自己的脚")])
    fused, heard = scripts(video, tmp_path)
    assert fused.language == heard.language == "zh"
    assert [ln.text for ln in fused.lines] == ["砸自己的脚"] and fused.lines[0].origin == "fused"
    ref = "砸自己的脚"
    assert jiwer.cer(ref, fused.lines[0].text) < jiwer.cer(ref, "".join(ln.text for ln in heard.lines))
    # timing is the speech's (it starts at 2.0 s), not the cue's 1.8 s
    assert abs(fused.lines[0].start_ms - heard.lines[0].start_ms) <= 10
    assert fused.lines[0].words == heard.lines[0].words


def test_english_burned_subtitles_fix_names_and_numbers(tmp_path: Path) -> None:
    speech = shared_media("speech/en/ljspeech/LJ001-0007.wav")
    first = "The earliest book printed with movable types, the Gutenberg,"
    second = 'or "forty-two line Bible" of about 1455,'
    video = build(tmp_path, speech, 500, [(400, 4600, first), (4700, 8800, second)])
    fused, heard = scripts(video, tmp_path)
    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    ref = norm(f"{first} {second}")
    fused_wer = jiwer.wer(ref, norm(" ".join(ln.text for ln in fused.lines)))
    heard_wer = jiwer.wer(ref, norm(" ".join(ln.text for ln in heard.lines)))
    assert fused_wer <= 0.1 < heard_wer  # Whisper base writes "Guttenberg" and "42"
    assert [ln.origin for ln in fused.lines] == ["fused", "fused"]  # the subtitle editor's two cuts
    # Times: the speech's, or a subtitle edge that agrees with it within 150 ms (fusion's cue-time rule).
    assert abs(fused.lines[0].start_ms - heard.lines[0].start_ms) <= 150
    assert abs(fused.lines[1].end_ms - heard.lines[-1].end_ms) <= 150


def test_subtitles_in_another_language_than_the_speech_are_not_fused(tmp_path: Path) -> None:
    speech = shared_media("speech/en/jfk.flac")
    video = build(tmp_path, speech, 0, [(300, 5000, "我的美国同胞们"), (5200, 9800, "不要问国家能为你做什么")])
    fused, heard = scripts(video, tmp_path)
    assert [ln.text for ln in fused.lines] == [ln.text for ln in heard.lines]
    assert {ln.origin for ln in fused.lines} == {"asr"}
