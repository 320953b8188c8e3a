"""Reviewers' overrides, for real on the sample episode: an edited line re-synthesizes only itself, a
re-voiced line changes voice, a stale override is ignored, and every dubbed line is back-transcribed."""

from __future__ import annotations

import json
from pathlib import Path

import pysubs2
import pytest

import localize
from localize.core.artifacts import LineOverride
from localize.core.cache import file_sha256
from localize.core.options import RunOptions
from localize.run import relocalize
from tests.conftest import SAMPLE, ffprobe

pytestmark = pytest.mark.integration


def _clips(cache: Path) -> set[str]:
    return {p.name for p in (cache / "clip").glob("*/*") if p.is_dir()}


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out")
    options = RunOptions(cache_dir=out / "cache")
    result = localize.localize_episode(SAMPLE, markets=["en-US", "pt-BR"], out=out, options=options)
    return result, out, options


def _report(market_dir: Path) -> dict:
    return json.loads((market_dir / "report.json").read_text(encoding="utf-8"))


def test_every_dubbed_line_is_back_transcribed(first) -> None:
    result, _, _ = first
    en = {ln.id: ln for ln in result.markets[0].report.lines}
    assert en and all(0.0 <= ln.backcheck_cer <= 1.0 for ln in en.values())
    # Piper's English is clear: Whisper hears nearly every character.
    assert max(ln.backcheck_cer for ln in en.values()) < 0.35
    assert all(ln.reading_cps > 0 for ln in en.values())
    assert (Path(result.markets[0].directory) / "run.json").is_file()


def test_edit_resynthesizes_only_that_line_and_rerenders(first) -> None:
    result, out, options = first
    market_dir = Path(result.markets[0].directory)
    line = result.markets[0].report.lines[0]
    before_clips, before_video = _clips(options.cache_dir), file_sha256(market_dir / "video.mp4")
    edit = LineOverride(id=line.id, source_text=line.source_text, target_text="Reviewed words, spoken clearly.")
    again = relocalize(market_dir, [edit])
    assert len(_clips(options.cache_dir) - before_clips) == 1, "only the edited line is synthesized again"
    subs = pysubs2.load(str(market_dir / "subtitles.srt"))
    assert subs[0].plaintext == "Reviewed words, spoken clearly."
    assert file_sha256(market_dir / "video.mp4") != before_video
    streams = {s["codec_type"] for s in ffprobe(market_dir / "video.mp4")["streams"]}
    assert {"video", "audio", "subtitle"} <= streams
    edited = {ln.id: ln for ln in again.report.lines}[line.id]
    assert edited.override == "edited" and edited.target_text == "Reviewed words, spoken clearly."
    assert edited.backcheck_cer < 0.35
    assert [ln.override for ln in again.report.lines[1:]] == [""] * (len(again.report.lines) - 1)
    # The character keeps the voice and pitch shift of the first run on every other line.
    before = {ln.id: ln for ln in result.markets[0].report.lines}
    assert all((ln.voice, ln.pitch) == (before[ln.id].voice, before[ln.id].pitch) for ln in again.report.lines)


def test_revoice_changes_one_lines_voice(first) -> None:
    result, _, _ = first
    pt = result.markets[1]
    line = pt.report.lines[-1]
    other = "espeak:pt-br+f2" if line.voice != "espeak:pt-br+f2" else "espeak:pt-br+m6"  # pt-BR leads with Kokoro
    again = relocalize(pt.directory, [LineOverride(id=line.id, source_text=line.source_text,
                                                   target_text=line.target_text, voice=other)])
    lines = {ln.id: ln for ln in again.report.lines}
    assert lines[line.id].voice == other and lines[line.id].override == "revoiced"
    assert lines[line.id].pitch == 1.0  # a reviewer's voice is used as it is
    assert all((lines[ln.id].voice, lines[ln.id].pitch) == (ln.voice, ln.pitch) for ln in pt.report.lines[:-1])


def test_override_of_a_changed_source_line_is_ignored(first, caplog: pytest.LogCaptureFixture) -> None:
    result, out, options = first
    line = result.markets[0].report.lines[1]
    stale = LineOverride(id=line.id, source_text="not what the episode says", target_text="Stale text.")
    again = localize.localize_episode(SAMPLE, markets=["en-US"], out=out, options=options,
                                      overrides={"en-US": [stale]})
    assert {ln.id: ln for ln in again.markets[0].report.lines}[line.id].target_text == line.target_text
    assert "source line changed" in caplog.text
