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


def test_a_line_said_over_the_previous_speaker_starts_at_its_cue(tmp_path: Path) -> None:
    """Two real Mandarin recordings, the second starting 300 ms before the first ends, with cues timed on
    each recording's voice (Silero on the recording alone). The first speaker is still talking when the
    second starts, so the voice activity has no onset there and the second line's words start over 150 ms
    after its cue (the first cue's slack also takes '换'): the agreeing cue's start is taken (CUE_OVERLAP_MS)."""
    import subprocess

    from localize.core.artifacts import OcrCue
    from localize.stages.script.asr.refine import speech_regions
    from localize.stages.script.fusion import fuse

    wavs = []
    for name in ("fireredasr_BAC009S0764W0121.wav", "fireredasr_IT0011W0001.wav"):
        out = tmp_path / name
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(shared_media(f"speech/zh/{name}")),
                        "-ar", "16000", "-ac", "1", str(out)], check=True)
        wavs.append((out, speech_regions(out)))
    (a, ra), (b, rb) = wavs
    delay = ra[-1][1] - 300 - rb[0][0]
    mix = tmp_path / "mix.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(a), "-i", str(b), "-filter_complex",
                    f"[1]adelay={delay}[b];[0][b]amix=inputs=2:normalize=0:duration=longest",
                    "-ar", "16000", "-ac", "1", str(mix)], check=True)
    start2 = delay + rb[0][0]
    cues = [OcrCue(start_ms=ra[0][0], end_ms=start2, text="甚至出现交易几乎停滞的情况", box=(0, 0, 1, 1),
                   confidence=0.95),
            OcrCue(start_ms=start2, end_ms=delay + rb[-1][1], text="换一首歌", box=(0, 0, 1, 1), confidence=0.95)]
    heard = localize.transcribe(mix, options=localize.RunOptions(ocr="off", speakers="off"), cache_dir=tmp_path)
    lines = fuse(heard.lines, cues, "zh")
    assert len(lines) == 2 and lines[1].text == "换一首歌" and lines[1].origin == "fused", lines
    assert lines[1].words[0].start_ms - start2 > CUE_SNAP_MS  # the words alone start late
    assert lines[1].start_ms == start2
