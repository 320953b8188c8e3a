"""`localize markets`: what tts = ["auto"] stands for, as the voice stage expands it."""

from __future__ import annotations

from click.testing import CliRunner

from localize.apps.cli import _auto_tts, main
from localize.core.markets import load_markets
from localize.stages.voice.casting import auto_backends


def test_auto_is_expanded_as_the_voice_stage_does() -> None:
    languages = {m.language for m in load_markets().values()} | {"xx"}
    for language in languages:
        assert _auto_tts(language) == auto_backends(language), language


def test_markets_shows_the_backends_auto_stands_for(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line
    res = CliRunner().invoke(main, ["markets"], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "auto (?)" not in res.output
    pt = next(line for line in res.output.splitlines() if "pt-BR" in line)
    assert "auto: kokoro (pt-br/" in pt and pt.index("kokoro") < pt.index("espeak")
    tw = next(line for line in res.output.splitlines() if "zh-TW" in line)
    assert "no dub" in tw
