"""The face swap's AI label and its section of report.html (no models: the notes are given)."""

from __future__ import annotations

import dataclasses

import msgspec

from localize.core.artifacts import FaceSwapNote, Loudness, Report
from localize.core.markets import FaceSwap, get_market
from localize.stages.picture.faceswap_market import FACE_SWAP_LABEL, labelled
from localize.stages.render.report import render_html


def test_label_is_visible_and_names_the_face_swap() -> None:
    base = get_market("en-US")
    assert labelled(base) is base  # no face swap: untouched
    hidden = msgspec.structs.replace(base, ai_label=msgspec.structs.replace(base.ai_label, visible=False),
                                     picture=msgspec.structs.replace(base.picture, face_swap=(
                                         FaceSwap(character="SPEAKER_00", face="f.png", consent="c.toml"),)))
    label = labelled(hidden).ai_label
    assert label.visible and label.text == f"{base.ai_label.text} · {FACE_SWAP_LABEL}"
    assert labelled(labelled(hidden)).ai_label.text == label.text


def test_report_html_names_consent_measures_and_strip() -> None:
    note = FaceSwapNote(character="SPEAKER_00", subject="Jane <Doe>", granted_by="Jane", granted="2026-11-01",
                        purpose="dub", consent="consent/SPEAKER_00.toml", consent_sha256="ab" * 32,
                        face_sha256="cd" * 32, backend="classic", target_distance_before=0.823,
                        target_distance_after=0.66, original_distance_after=0.566, measured_frames=8,
                        strip="face_swap_strip.png")
    report = Report(episode="ep", market="en-US", language="en", source_language="es", duration_ms=1000,
                    dubbed=True, tts="espeak:en", ai_label="AI-dubbed · AI face swap", lines=(),
                    loudness=Loudness(target_lufs=-14, target_true_peak_dbtp=-1, integrated_lufs=-14,
                                      true_peak_dbtp=-1.5, loudness_range_lu=5), face_swap=(note,))
    page = render_html(report)
    assert "<h2>Face swap</h2>" in page and "Jane &lt;Doe&gt;" in page
    assert 'href="consent/SPEAKER_00.toml"' in page and 'src="face_swap_strip.png"' in page
    assert "0.823 &rarr; 0.660" in page
    assert "<h2>Face swap</h2>" not in render_html(dataclasses.replace(report, face_swap=()))
