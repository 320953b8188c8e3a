"""zh-TW for real on the Mandarin sample (samples/episode_zh.mp4: real read Mandarin, burned Simplified subtitles,
music): Traditional-script subtitles over the ORIGINAL voices, no dub, no AI-dub label drawn."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import opencc
import pysubs2
import pytest

import localize
from localize.core.options import RunOptions
from tests.conftest import ROOT, ffprobe

pytestmark = pytest.mark.integration
SAMPLE_ZH = ROOT / "samples" / "episode_zh.mp4"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out")
    result = localize.localize_episode(SAMPLE_ZH, markets=["zh-TW"], out=out,
                                       options=RunOptions(cache_dir=out / "cache"))
    return result.markets[0], out


def _envelope(path: Path) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1",
                          "-ar", "16000", "-"], capture_output=True, check=True).stdout
    x = np.frombuffer(raw, dtype=np.int16).astype(np.float32)
    n = len(x) // 1600
    return np.sqrt((x[: n * 1600].reshape(n, 1600) ** 2).mean(axis=1))  # 100 ms RMS


def test_subtitles_are_traditional_chinese_of_the_speech(run) -> None:
    market, _ = run
    subs = pysubs2.load(str(Path(market.directory) / "subtitles.srt"))
    text = "".join(e.plaintext.replace("\n", "") for e in subs)
    assert text
    assert opencc.OpenCC("s2t").convert(text) == text  # no Simplified character left
    # the sample's lines, in Taiwan's script: 限购 -> 限購, 调整 -> 調整, 几乎 -> 幾乎
    for word in ("限購", "調整", "幾乎"):
        assert word in text, (word, text)
    assert all(line.route == ("opencc:zh-zh-Hant",) for line in market.report.lines)


def test_the_original_voices_are_kept_and_no_dub_label_is_drawn(run) -> None:
    market, _ = run
    report = market.report
    assert not report.dubbed and report.tts == "original audio"
    assert not localize.get_market("zh-TW").ai_label.visible
    source, render = _envelope(SAMPLE_ZH), _envelope(Path(market.video))
    n = min(len(source), len(render))
    assert abs(len(source) - len(render)) <= 2
    assert np.corrcoef(source[:n], render[:n])[0, 1] > 0.95  # the source's sound, loudness-normalized
    info = ffprobe(Path(market.video))
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert audio["tags"]["language"] == "chi"
