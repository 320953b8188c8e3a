"""The CLI's error path (localize/apps/cli.py): user errors are one line and exit 2, bugs exit 1."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

import localize as pipeline  # the CLI calls the public API
from localize.apps.cli import EXIT_USER_ERROR, main
from localize.core.markets import builtin_markets

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="pt-BR's voice check runs espeak-ng")
needs_ffprobe = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe")


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(env={"COLUMNS": "250"})

    def invoke(*args):
        return runner.invoke(main, list(args))

    return invoke


def _error_lines(result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.strip()]


def _assert_user_error(result, *needles):
    assert result.exit_code == EXIT_USER_ERROR, result.output
    lines = _error_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


@needs_espeak
def test_missing_episode_is_one_line_exit_2(cli, tmp_path):
    result = cli("run", "missing.mp4", "-m", "pt-BR", "-o", "out")
    line = _assert_user_error(result, "missing.mp4", "no such file")
    assert line == "error: missing.mp4: no such file; check the path."
    assert not (tmp_path / "out").exists()


def test_unknown_market_lists_the_known_ones(cli, tmp_path):
    result = cli("run", "missing.mp4", "-m", "xx-YY", "-o", "out")
    line = _assert_user_error(result, "unknown market 'xx-YY'")
    for tag in builtin_markets():
        assert tag in line
    assert not (tmp_path / "out").exists()


@needs_espeak
@needs_ffprobe
def test_a_text_file_named_mp4_is_not_a_media_file(cli, tmp_path):
    (tmp_path / "fake.mp4").write_text("hello, I am plain text, not a video\n", encoding="utf-8")
    result = cli("run", "fake.mp4", "-m", "pt-BR", "-o", "out")
    _assert_user_error(result, "fake.mp4", "not a media file")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.mp4"]


def test_a_bad_markets_file_names_the_file(cli, tmp_path):
    (tmp_path / "m.toml").write_text('[fr-FR]\nname = "F"\nlanguage = "fr"\ncolour = "blue"\n', encoding="utf-8")
    result = cli("run", "missing.mp4", "-m", "fr-FR", "--markets-file", "m.toml", "-o", "out")
    _assert_user_error(result, "m.toml", "colour")
    result = cli("markets", "--markets-file", "nope.toml")
    _assert_user_error(result, "nope.toml", "no such markets file")
    assert not (tmp_path / "out").exists()


def test_a_malformed_translation_option_is_a_usage_error(cli, tmp_path):
    result = cli("run", "missing.mp4", "-m", "pt-BR", "--translation", "pt-BR", "-o", "out")
    assert result.exit_code == 2
    assert "MARKET=FILE" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_bug_shows_the_traceback_and_exits_1(cli, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("internal kaboom")

    monkeypatch.setattr(pipeline, "localize_episode", boom)
    result = cli("run", "missing.mp4", "-m", "pt-BR", "-o", "out")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "internal kaboom" in result.stderr
    assert "this is a bug in localize" in result.stderr


def test_an_interrupt_exits_130(cli, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "localize_episode", interrupted)
    result = cli("run", "missing.mp4", "-m", "pt-BR", "-o", "out")
    assert result.exit_code == 130
    assert "interrupted" in result.stderr and "Traceback" not in result.output


def test_markets_lists_builtin_and_user_markets_literally(cli, tmp_path):
    (tmp_path / "m.toml").write_text('[xx-ZZ]\nname = "Zed [bold]land[/bold]"\nlanguage = "en"\n', encoding="utf-8")
    result = cli("markets", "--markets-file", "m.toml")
    assert result.exit_code == 0, result.output
    for tag in [*builtin_markets(), "xx-ZZ"]:
        assert tag in result.stdout
    assert "Zed [bold]land[/bold]" in result.stdout  # rich markup in a user's name is printed, not applied
