"""The adapter path end to end: the sample episode, a real OpenAI-compatible HTTP server on
127.0.0.1 scripted by the test, the series bible, the rewrite loop, the fallback and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import localize
from localize.core.options import RunOptions
from tests.conftest import SAMPLE
from tests.integration.test_openai_backend import ChatServer, Reply, completion, server, user_payload  # noqa: F401

pytestmark = pytest.mark.integration

BIBLE = """
series = "Recycling Week"
synopsis = "A school caretaker shows the recycling points."

[[glossary]]
source = "colegio"
targets = { en = "school" }
"""
LONG = "Well, as you can see, here at this school of ours we happen to have five recycling points in total,"


def adapted(body: dict) -> Reply:
    payload = user_payload(body)
    lines = []
    for ln in payload["lines"]:
        if payload["task"] == "rewrite shorter":
            text = "Here at school we have five recycling points,"
        elif ln["id"] == "L002":
            text = LONG
        elif ln["id"] == "L001":
            text = "I recycle solids or packages."
        else:
            text = "but above all..."
        lines.append({"id": ln["id"], "text": text, "idiom": ln["id"] == "L003",
                      "literal": "but more than everything" if ln["id"] == "L003" else ""})
    return Reply(body=completion(json.dumps({"lines": lines})))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_adapter_with_bible_budgets_and_rewrites(server: ChatServer, tmp_path: Path, cache: Path,  # noqa: F811
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALIZE_OPENAI_BASE_URL", server.url)
    server.script = [adapted]
    bible = tmp_path / "bible.toml"
    bible.write_text(BIBLE, encoding="utf-8")
    options = RunOptions(translate_backend="openai", bible_file=bible, cache_dir=cache)
    result = localize.localize_episode(SAMPLE, markets=["en-US"], out=tmp_path / "out", options=options)
    report = result.markets[0].report

    first = user_payload(server.requests[0])
    assert first["glossary"] == [{"source": "colegio", "target": "school"}]
    assert first["synopsis"].startswith("A school caretaker")
    assert [ln["id"] for ln in first["lines"]] == [ln.id for ln in report.lines]
    assert all(ln["budget"] > 0 for ln in first["lines"])
    rewrite = user_payload(server.requests[1])
    assert rewrite["task"] == "rewrite shorter" and [ln["id"] for ln in rewrite["lines"]] == ["L002"]
    assert rewrite["lines"][0]["too_long_translation"] == LONG

    by_id = {ln.id: ln for ln in report.lines}
    assert by_id["L002"].target_text == "Here at school we have five recycling points,"
    assert by_id["L003"].literal == "but more than everything" and "idiom" in by_id["L003"].flags
    assert report.within_budget_first < report.within_budget_final == len(report.lines)
    assert all(ln.route == ("openai:es-en",) for ln in report.lines)
    html = Path(result.markets[0].report_html).read_text()
    assert "literally: but more than everything" in html

    # The same run again reuses the cached translation: no request reaches the server.
    before = len(server.requests)
    localize.localize_episode(SAMPLE, markets=["en-US"], out=tmp_path / "out", options=options)
    assert len(server.requests) == before


def test_a_broken_endpoint_falls_back_to_the_machine_route(server: ChatServer, tmp_path: Path,  # noqa: F811
                                                          cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALIZE_OPENAI_BASE_URL", server.url)
    server.script = [lambda body: Reply(body=completion("Sorry, I cannot answer in JSON."))]
    markets = tmp_path / "markets.toml"
    markets.write_text('[en-XX]\nname = "LLM first"\nlanguage = "en"\ntranslation = ["openai", "apertium"]\n'
                       'tts = ["piper"]\nvoices = { piper = "en_US-joe-medium" }\n', encoding="utf-8")
    options = RunOptions(markets_files=(markets,), cache_dir=cache)
    result = localize.localize_episode(SAMPLE, markets=["en-XX"], out=tmp_path / "out", options=options)
    lines = result.markets[0].report.lines
    assert all(ln.route == ("apertium:es-en",) and "fallback:openai" in ln.flags for ln in lines)
    assert len(server.requests) == 3  # one batch: the first answer and two reminders
    assert Path(result.markets[0].video).is_file()
