"""Markets: built-in and user TOML files (localize/core/markets)."""

from __future__ import annotations

import pytest

from localize.core.errors import ConfigError, InputError, UnknownNameError
from localize.core.markets import Market, builtin_markets, get_market, load_markets


def test_builtin_markets_and_languages():
    markets = builtin_markets()
    expected = {"en-US": "en", "pt-BR": "pt", "es-ES": "es", "es-MX": "es", "ca-ES": "ca", "zh-CN": "zh"}
    assert {tag: markets[tag].language for tag in expected} == expected
    assert all(isinstance(m, Market) and m.tag == tag for tag, m in markets.items())
    zh = markets["zh-CN"]
    assert zh.loudness.integrated_lufs == -16.0
    assert zh.subtitles.max_chars_per_line == 16
    assert markets["pt-BR"].voices == {"kokoro": "pt-br/jf_nezumi", "espeak": "pt-br"}
    assert markets["pt-BR"].tts == ("auto",)  # Kokoro first where measured clearer (voices.toml)
    # defaults fill what a market leaves out
    assert markets["pt-BR"].max_speed == 1.25
    assert markets["pt-BR"].loudness.integrated_lufs == -14.0
    assert all(m.ai_label.text for m in markets.values())


def _write(tmp_path, text, name="my.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_file_adds_and_overrides(tmp_path):
    path = _write(tmp_path, """
[fr-FR]
name = "France"
language = "fr"
tts = ["espeak"]
voices = { espeak = "fr" }
max_speed = 1.4

[pt-BR]
name = "Brasil (mine)"
language = "pt"
duck_db = -20.0
subtitles = { max_chars_per_line = 30 }
""")
    markets = load_markets(path)
    assert markets["fr-FR"].language == "fr" and markets["fr-FR"].max_speed == 1.4
    assert markets["pt-BR"].name == "Brasil (mine)"
    assert markets["pt-BR"].duck_db == -20.0
    assert markets["pt-BR"].subtitles.max_chars_per_line == 30
    assert markets["pt-BR"].subtitles.font == "DejaVu Sans"  # nested defaults still apply
    assert markets["pt-BR"].voices == {}  # same tag replaces the whole market
    assert markets["es-ES"] == builtin_markets()["es-ES"]
    assert load_markets() == builtin_markets()


def test_later_files_win(tmp_path):
    a = _write(tmp_path, '[x-A]\nname = "one"\nlanguage = "en"\n', "a.toml")
    b = _write(tmp_path, '[x-A]\nname = "two"\nlanguage = "en"\n', "b.toml")
    assert load_markets(a, b)["x-A"].name == "two"
    assert load_markets(b, a)["x-A"].name == "one"


@pytest.mark.parametrize(("body", "needle"), [
    ('[fr-FR]\nname = "F"\nlanguage = "fr"\ncolour = "blue"\n', "colour"),
    ('[fr-FR]\nname = "F"\nlanguage = "fr"\nloudness = { integrated_lufs = -14.0, volume = 3 }\n', "volume"),
    ('[fr-FR]\nname = "F"\nlanguage = "fr"\nmax_speed = "fast"\n', "max_speed"),
    ('[fr-FR]\nname = "F"\nlanguage = 7\n', "language"),
    ('[fr-FR]\nname = "F"\n', "language"),
    ('[fr-FR]\nname = "F"\nlanguage = "fr"\ntts = "espeak"\n', "tts"),
    ('[fr-FR]\nname = "F"\nlanguage = "fr"\nmax_speed = 3.0\n', "max_speed"),
    ('fr-FR = "not a table"\n', "fr-FR"),
    ('[fr-FR\nname = "F"\n', "not valid TOML"),
])
def test_invalid_user_files_raise_config_error_naming_the_file(tmp_path, body, needle):
    path = _write(tmp_path, body, "bad-markets.toml")
    with pytest.raises(ConfigError) as info:
        load_markets(path)
    message = str(info.value)
    assert str(path) in message
    assert needle in message


def test_missing_markets_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such markets file") as info:
        load_markets(tmp_path / "nope.toml")
    assert info.value.path == tmp_path / "nope.toml"


@pytest.mark.parametrize("tag", ["pt-BR", "pt-br", "PT-BR", "Pt-Br"])
def test_get_market_is_case_insensitive(tag):
    assert get_market(tag).tag == "pt-BR"


def test_get_market_uses_the_given_markets(tmp_path):
    markets = load_markets(_write(tmp_path, '[nl-NL]\nname = "D"\nlanguage = "nl"\n'))
    assert get_market("NL-nl", markets).language == "nl"
    with pytest.raises(UnknownNameError):
        get_market("nl-NL")  # not a built-in


def test_unknown_market_lists_the_known_tags():
    with pytest.raises(UnknownNameError) as info:
        get_market("xx-YY")
    err = info.value
    assert err.name == "xx-YY" and err.kind == "market"
    assert err.known == tuple(sorted(builtin_markets()))
    message = str(err)
    assert "'xx-YY'" in message
    for tag in ("en-US", "pt-BR", "es-ES", "es-MX", "ca-ES", "zh-CN"):
        assert tag in message
