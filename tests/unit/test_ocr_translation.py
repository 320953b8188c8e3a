"""Burned-in subtitles in a second language (a bilingual release) become that language's human translation."""

from __future__ import annotations

from pathlib import Path

from localize.core.artifacts import Line, OcrCue, OcrTrack, Script
from localize.core.cache import ArtifactStore
from localize.stages.script.stage import _save_burned_translation, burned_translation
from localize.stages.translate.subtitles import align_human_translation


def cue(start: int, end: int, text: str, y: int) -> OcrCue:
    return OcrCue(start_ms=start, end_ms=end, text=text, box=(100, y, 500, 40), confidence=0.98)


def script(*lines: tuple[int, int, str]) -> Script:
    return Script(language="zh", duration_ms=10_000, backend="t", model="t", lines=tuple(
        Line(id=f"L{i:03d}", start_ms=s, end_ms=e, text=t, origin="fused") for i, (s, e, t) in enumerate(lines, 1)))


def track(*cues: OcrCue) -> OcrTrack:
    return OcrTrack(cues=cues, band=(1400, 1800), frame_step_ms=250, frames_read=10, backend="t", model="t")


def test_the_english_rows_under_chinese_subtitles_are_the_english_markets_translation(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    zh = script((1000, 3000, "你竟然敢背叛我"), (3500, 5000, "我绝不会原谅你"))
    ocr = track(cue(950, 3050, "你竟然敢背叛我", 1500), cue(950, 3050, "How dare you betray me", 1600),
                cue(3450, 5050, "我绝不会原谅你", 1500), cue(3450, 5050, "I will never forgive you", 1600))
    _save_burned_translation("k1", ocr, zh, store)
    path = burned_translation(store, "k1", "en")
    assert path is not None and burned_translation(store, "k1", "fr") is None
    lines = align_human_translation(zh.lines, path)
    assert [t.text for t in lines if t] == ["How dare you betray me", "I will never forgive you"]
    assert all(t is not None and t.route == ("human:burned-in-subtitles.en.srt",) for t in lines)


def test_a_stray_english_sign_is_no_translation(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    zh = script((1000, 3000, "你竟然敢背叛我"), (3500, 5000, "我绝不会原谅你"), (6000, 8000, "走"))
    _save_burned_translation("k2", track(cue(950, 3050, "你竟然敢背叛我", 1500), cue(5000, 5800, "EXIT", 1600)),
                             zh, store)
    assert burned_translation(store, "k2", "en") is None
