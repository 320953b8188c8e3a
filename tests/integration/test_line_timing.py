"""Line times from the audio and the burned-in cues, through the public API, on real speech.

samples/episode_zh.mp4: 5 real Mandarin read-speech lines under music, subtitles burned in exactly while
each line is spoken (samples/episode_zh.truth.json, speech times on a 10 ms grid). ../shared/media's
JFK clip: Whisper base stretches "what" over a 1.1 s pause.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import localize
from localize.core import jsonio
from localize.core.artifacts import OcrTrack
from localize.stages.script.fusion import CUE_SNAP_MS
from tests.conftest import ROOT, shared_media

pytestmark = pytest.mark.integration
SAMPLE_ZH = ROOT / "samples" / "episode_zh.mp4"


def test_agreeing_cues_time_the_lines_of_the_mandarin_sample(tmp_path: Path) -> None:
    script = localize.transcribe(SAMPLE_ZH, options=localize.RunOptions(ocr="on", speakers="off"),
                                 cache_dir=tmp_path)
    track = jsonio.load(OcrTrack, next(tmp_path.rglob("ocr.json")))
    truth = json.loads(SAMPLE_ZH.with_name("episode_zh.truth.json").read_text())["lines"]
    fused = [ln for ln in script.lines if ln.origin == "fused"]
    assert len(fused) == len(truth) == len(script.lines)
    starts = {c.start_ms for c in track.cues}
    ends = {c.end_ms for c in track.cues}
    for line, true in zip(fused, truth, strict=True):
        # the words, refined on the voice, land near the cue; the cue's edge is then the line's
        assert abs(line.words[0].start_ms - line.start_ms) <= CUE_SNAP_MS
        assert line.start_ms in starts and line.end_ms in ends, (line, track.cues)
        assert abs(line.start_ms - true["start_ms"]) <= 80 and abs(line.end_ms - true["end_ms"]) <= 80


def test_the_pause_whisper_stretched_a_word_over_cuts_the_line(tmp_path: Path) -> None:
    jfk = shared_media("speech/en/jfk.flac")
    script = localize.transcribe(jfk, options=localize.RunOptions(ocr="off", speakers="off"), cache_dir=tmp_path)
    texts = [ln.text for ln in script.lines]
    assert "ask not" in texts, texts  # Whisper alone: "ask not what your country can do for you," (one line)
    what = script.lines[texts.index("ask not") + 1]
    assert what.text.startswith("what") and what.words[0].start_ms >= 5300  # said after the pause
