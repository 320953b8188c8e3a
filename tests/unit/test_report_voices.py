"""report.json/html: a character whose voice casting took from the other pitch class is flagged."""

from __future__ import annotations

import dataclasses
import json

from localize.core.artifacts import Loudness, Report, ReportLine
from localize.stages.render.report import OTHER_CLASS, render_html, write_report


def _line(i: int, speaker: str, voice: str, pitch: float) -> ReportLine:
    return ReportLine(id=str(i), speaker=speaker, source_text="你好", target_text="Hello", slot_start_ms=0,
                      slot_end_ms=1000, dub_start_ms=0, dub_end_ms=900, speed=1.0, overflow_ms=0, route=("x",),
                      voice=voice, pitch=pitch)


def test_other_class_voice_is_flagged_in_json_and_html(tmp_path) -> None:
    lines = (_line(1, "SPEAKER_00", "kokoro:en-us/jm_kumo", 1.26),  # own class, at the same-class cap
             _line(2, "SPEAKER_02", "piper:en_US-joe-medium", 1.85),  # a male voice moved up to a woman
             _line(3, "SPEAKER_01", "kokoro:en-us/jf_alpha", 0.48),  # a female voice moved down to a man
             _line(4, "SPEAKER_02", "piper:en_US-joe-medium", 1.85))
    report = Report(episode="ep", market="en-US", language="en", source_language="zh", duration_ms=1000,
                    dubbed=True, tts="piper:en_US-joe-medium", ai_label="AI-dubbed", lines=lines,
                    loudness=Loudness(target_lufs=-14, target_true_peak_dbtp=-1, integrated_lufs=-14,
                                      true_peak_dbtp=-1.5, loudness_range_lu=5))
    json_path, html_path = write_report(report, tmp_path)
    flags = {ln["id"]: ln["flags"] for ln in json.loads(json_path.read_text())["lines"]}
    assert flags == {"1": [], "2": [OTHER_CLASS], "3": [OTHER_CLASS], "4": [OTHER_CLASS]}
    page = html_path.read_text()
    assert "<h2>Voices</h2>" in page and page.count("<b>other class</b>") == 2
    assert "<h2>Voices</h2>" not in render_html(dataclasses.replace(report, lines=()))
