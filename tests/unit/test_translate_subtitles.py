"""align_human_translation (localize/stages/translate/subtitles.py)."""

from __future__ import annotations

import pytest

from localize.core.artifacts import Line, TargetLine
from localize.core.errors import SubtitleError
from localize.stages.translate.subtitles import align_human_translation

LINES = [
    Line(id="L001", start_ms=0, end_ms=2000, text="Hola."),
    Line(id="L002", start_ms=2000, end_ms=4000, text="¿Qué pasa?"),
    Line(id="L003", start_ms=5000, end_ms=6000, text="Nada."),
    Line(id="L004", start_ms=8000, end_ms=9000, text="Adiós."),
]


def _srt(tmp_path, cues, name="pt.srt"):
    def ts(ms):
        return f"00:00:{ms // 1000:02d},{ms % 1000:03d}"

    body = "".join(f"{i}\n{ts(a)} --> {ts(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, start=1))
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_each_cue_goes_to_the_line_it_overlaps_most(tmp_path):
    path = _srt(tmp_path, [
        (100, 1900, "Olá."),
        (1500, 3900, "O que foi?"),  # 500 ms with L001, 1900 ms with L002
        (4100, 4900, "no line here"),  # overlaps nothing
        (4800, 5600, "Nada."),
        (5600, 7000, "mesmo."),
    ])
    out = align_human_translation(LINES, path)
    assert len(out) == 4
    assert out[0] == TargetLine(id="L001", source_text="Hola.", text="Olá.", route=("human:pt.srt",))
    assert out[1].text == "O que foi?" and out[1].id == "L002"
    assert out[2].text == "Nada. mesmo."  # a line collects its cues in order
    assert out[3] is None  # no cue overlaps L004


def test_cue_between_lines_is_dropped_and_lines_without_cues_are_none(tmp_path):
    path = _srt(tmp_path, [(4100, 4900, "gap")])
    assert align_human_translation(LINES, path) == (None, None, None, None)


def test_bad_file_is_a_subtitle_error(tmp_path):
    with pytest.raises(SubtitleError):
        align_human_translation(LINES, tmp_path / "missing.srt")
