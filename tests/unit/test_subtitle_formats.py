"""Subtitle deliverables (issue 20): SRT, WebVTT, ASS and TTML (IMSC 1.1 Text Profile) written from any text,
a reviewer's edit included, stay well formed and read back by parsers other than localize's (pysubs2, ttconv)."""

from __future__ import annotations

from pathlib import Path

import pysubs2
import pytest

from localize.core.artifacts import Line, LineOverride, Script, TargetLine, Translation
from localize.core.markets import SubtitleStyle, get_market
from localize.core.media.text import clean_text, reviewed_text
from localize.stages.render.styles import market_subtitles
from localize.stages.render.subtitles import (
    SUBTITLE_FORMATS,
    Cue,
    ass_plain,
    ass_text,
    build_ssa,
    load_subtitles,
    save_script,
    write_subtitles,
)
from localize.stages.render.ttml import IMSC_TEXT_PROFILE
from localize.stages.translate.overrides import apply_overrides
from tests.conftest import shared_media
from tests.support.timed_text import ttconv_cues

# What reviewers and translations have put in lines: breaks of every kind, blank rows, timing arrows,
# ASS overrides and escapes, HTML-ish tags, entities, right-to-left text, emoji, control characters.
HOSTILE = [
    "Line one\n\n\nLine two",
    "Wait\n--> what",
    "x ---> y",
    "one\r\ntwo\rthree\u2028four\u2029five\x0bsix\x0cseven\x85eight",
    "{\\an8}on top?",
    "C:\\new\\Name\\h and a \\N",
    "<b>bold</b> <i>x</i> & &amp; <c.yellow>",
    "שלום, עולם! مرحبا",
    "ok 😀👍🏽 family 👨‍👩‍👧",
    "nul\x00 escape\x1b bell\x07 bom\ufeff end",
    "tab\there   spaces",
    "1\n00:00:01,000 --> 00:00:02,000\nfake cue",
]


def _write(tmp_path: Path, texts: list[str], *, language: str = "en-US") -> Path:
    cues = [Cue(start_ms=1000 + i * 2000, end_ms=2500 + i * 2000, text=t) for i, t in enumerate(texts)]
    subs, _, _ = market_subtitles(cues, get_market("en-US"), (1080, 1920), burned=False)
    write_subtitles(subs, tmp_path, language=language)
    return tmp_path


def _cue_rows(path: Path) -> list[list[str]]:
    """Each SRT/VTT cue's text rows, split as a strict reader splits them (blank line ends a cue)."""
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    return [b.split("\n")[2:] for b in blocks if "-->" in b.split("\n")[1:2][0:1][0] if b.count("\n") >= 1]


def test_a_reviewers_edit_cannot_break_the_subtitle_files(tmp_path: Path) -> None:
    """Defect 7: newlines and '-->' in an edit made blank rows (a cue cut in two) and a second timing line
    inside an SRT/WebVTT cue."""
    out = _write(tmp_path, HOSTILE)
    for fmt in ("srt", "vtt"):
        text = (out / f"subtitles.{fmt}").read_text(encoding="utf-8")
        timing_lines = [ln for ln in text.splitlines() if "-->" in ln]
        assert len(timing_lines) == len(HOSTILE), (fmt, timing_lines)
        assert len(pysubs2.SSAFile.from_string(text, format_=fmt)) == len(HOSTILE)
        assert len(ttconv_cues(out / f"subtitles.{fmt}")) == len(HOSTILE)
        assert len(load_subtitles(out / f"subtitles.{fmt}")) == len(HOSTILE)
    assert len(ttconv_cues(out / "subtitles.ttml")) == len(HOSTILE)
    assert len(load_subtitles(out / "subtitles.ttml")) == len(HOSTILE)


def test_ass_holds_one_dialogue_line_per_cue_whatever_the_text(tmp_path: Path) -> None:
    """Defect 7: a line break other than LF (CR, U+2028...) went into the .ass raw: a bare line that is no
    Dialogue. Written through save_script, as `localize transcribe -o x.ass` does."""
    script = Script(language="en", duration_ms=60_000, backend="t", model="t", lines=tuple(
        Line(id=f"L{i}", start_ms=i * 2000, end_ms=i * 2000 + 1500, text=t) for i, t in enumerate(HOSTILE)))
    path = save_script(script, tmp_path / "s.ass")
    text = path.read_text(encoding="utf-8")
    events = text.split("[Events]", 1)[1]
    rows = [r for r in events.splitlines() if r.strip()]  # str.splitlines: every separator a reader may use
    assert rows[0].startswith("Format:") and all(r.startswith("Dialogue:") for r in rows[1:]), rows
    assert len(rows) - 1 == len(HOSTILE)
    back = load_subtitles(path)
    assert [c.text for c in back] == [" ".join(clean_text(t).split("\n")) for t in HOSTILE]


def test_ass_escapes_are_literal_text() -> None:
    for t in ("{\\an8}on top?", "C:\\new\\Name\\h", "a } b { c", "\\{x\\}", "end\\"):
        assert "{" not in ass_text(t).replace("\\{", "")  # no override block can open
        assert ass_plain(ass_text(t)) == t


@pytest.mark.parametrize("fmt", SUBTITLE_FORMATS)
def test_save_script_writes_every_format(tmp_path: Path, fmt: str) -> None:
    script = Script(language="he", duration_ms=9000, backend="t", model="t", lines=(
        Line(id="L1", start_ms=0, end_ms=1000, text="שלום"), Line(id="L2", start_ms=500, end_ms=500, text="zero"),
        Line(id="L3", start_ms=800, end_ms=3000, text="overlap 😀")))
    path = save_script(script, tmp_path / f"s.{fmt}")
    assert [c.text for c in load_subtitles(path)] == ["שלום", "zero", "overlap 😀"]


def test_ttml_is_imsc_text_profile_and_every_cue_round_trips_through_ttconv(tmp_path: Path) -> None:
    """TTML for platform delivery: read by ttconv (Sandflow's IMSC reader) without a warning, every cue's
    rows and times as written (and as the SRT and WebVTT beside it say)."""
    out = _write(tmp_path, HOSTILE, language="en-US")
    subs = pysubs2.load(str(out / "subtitles.ass"))
    written = [(e.start, e.end, clean_text(ass_plain(e.text)).split("\n")) for e in subs.events]
    ttml = (out / "subtitles.ttml").read_text(encoding="utf-8")
    assert f'ttp:contentProfiles="{IMSC_TEXT_PROFILE}"' in ttml and 'xml:lang="en-US"' in ttml
    assert ttconv_cues(out / "subtitles.ttml") == written
    assert [(a, b) for a, b, _ in ttconv_cues(out / "subtitles.srt")] == [(a, b) for a, b, _ in written]
    assert ttconv_cues(out / "subtitles.vtt") == written


def test_human_subtitles_round_trip_through_every_format(tmp_path: Path) -> None:
    """Episode B's human English subtitles (overlapping cues among them) written in all four formats read
    back the same by ttconv and by localize."""
    reference = load_subtitles(shared_media("drama/reference.en.srt"))
    write_subtitles(build_ssa(reference, style=SubtitleStyle()), tmp_path, language="en")
    ttml = ttconv_cues(tmp_path / "subtitles.ttml")
    assert len(ttml) == len(reference)
    for cue, (a, b, rows) in zip(reference, ttml, strict=True):
        assert abs(a - cue.start_ms) <= 5 and abs(b - cue.end_ms) <= 5
        assert " ".join(rows) == cue.text
    for fmt in SUBTITLE_FORMATS:
        back = load_subtitles(tmp_path / f"subtitles.{fmt}")
        assert [c.text for c in back] == [c.text for c in reference], fmt


def _script() -> tuple[Script, Translation]:
    script = Script(language="zh", duration_ms=9000, backend="t", model="t", lines=(
        Line(id="L1", start_ms=0, end_ms=1000, text="你好"), Line(id="L2", start_ms=2000, end_ms=3000, text="再见")))
    tr = Translation(source_language="zh", target_language="en", lines=(
        TargetLine(id="L1", source_text="你好", text="Hello", route=("t",)),
        TargetLine(id="L2", source_text="再见", text="Bye", route=("t",))))
    return script, tr


def test_an_override_enters_as_one_line_of_plain_text() -> None:
    script, tr = _script()
    reviewed = apply_overrides(script, "k", tr, [
        LineOverride(id="L1", source_text="你好", target_text="Hi\r\n\n--> there\x00\u2028friend"),
        LineOverride(id="L2", source_text="再见", target_text="\n \u2029\x07")])
    assert [t.text for t in reviewed.translation.lines] == ["Hi -> there friend", "Bye"]
    assert set(reviewed.applied) == {"L1"}
    assert reviewed_text("a\nb") == "a b"
