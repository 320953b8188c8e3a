"""The markets of the trade (issue 18): id-ID, ja-JP, ko-KR, vi-VN, de-DE, fr-FR, es-MX and zh-TW built in,
their fonts and labels, the original-voice market (dub = false) and the zh <-> zh-Hant script route."""

from __future__ import annotations

import pytest

from localize.core.errors import UnknownNameError
from localize.core.markets import builtin_markets, get_market, load_markets
from localize.stages.render.fonts import DEFAULT_FONT, choose_font, script_for
from localize.stages.translate.openai_backend import ANY_PAIR
from localize.stages.translate.opencc_backend import OpenCCTranslator
from localize.stages.translate.route import auto_route, pivot_for, plan_route

NEW = {"id-ID": "id", "ja-JP": "ja", "ko-KR": "ko", "vi-VN": "vi", "de-DE": "de", "fr-FR": "fr", "zh-TW": "zh-Hant"}
# The subtitle font each market's script needs (all installed here by fonts-dejavu-core and fonts-noto-cjk).
FONTS = {"id-ID": "DejaVu Sans", "vi-VN": "DejaVu Sans", "de-DE": "DejaVu Sans", "fr-FR": "DejaVu Sans",
         "ja-JP": "Noto Sans CJK JP", "ko-KR": "Noto Sans CJK KR", "zh-TW": "Noto Sans CJK TC"}
# Netflix Timed Text Style Guides: characters per line and adult reading speed (see builtin.toml's comment).
NETFLIX = {"ja-JP": (13, 4.0), "ko-KR": (16, 12.0), "zh-TW": (16, 9.0), "de-DE": (42, 17.0), "fr-FR": (42, 17.0),
           "id-ID": (42, 17.0), "vi-VN": (42, 17.0), "es-MX": (42, 17.0)}


def test_the_markets_of_the_trade_are_built_in() -> None:
    markets = builtin_markets()
    assert {tag: markets[tag].language for tag in NEW} == NEW
    for tag, (chars, cps) in NETFLIX.items():
        m = markets[tag]
        assert (m.subtitles.max_chars_per_line, m.style.reading_speed_cps) == (chars, cps), tag
        assert m.translation == ("auto",)
        assert m.loudness.integrated_lufs == -14.0 and m.loudness.true_peak_dbtp == -1.0
        assert m.ai_label.text and m.style.formality and m.style.currency


@pytest.mark.parametrize("tag", sorted(NEW))
def test_each_new_market_has_its_installed_font_and_label(tag: str) -> None:
    m = get_market(tag)
    chosen = choose_font(m.subtitles.font, m.language, (m.ai_label.text,))  # check=True: must be installed
    assert chosen.family == FONTS[tag]
    assert chosen.file is not None and chosen.file.is_file()
    # the label is written in the market's language, not the English default
    assert m.ai_label.text != "AI-generated dub"


def test_every_dubbed_new_market_has_a_voice_and_the_style_guide_forms_of_address() -> None:
    markets = builtin_markets()
    forms = {"ja-JP": "keigo", "ko-KR": "banmal", "de-DE": "Sie", "fr-FR": "vous", "id-ID": "Anda", "vi-VN": "anh/em"}
    for tag, word in forms.items():
        m = markets[tag]
        assert m.dub and m.tts and all(m.voices.get(name) for name in m.tts if name != "auto"), tag
        assert word in m.style.formality, tag


def test_traditional_chinese_gets_the_traditional_font_not_the_simplified_one() -> None:
    assert script_for("zh-Hant").family == "Noto Sans CJK TC"
    assert script_for("zh-TW").family == "Noto Sans CJK TC"
    assert script_for("zh").family == "Noto Sans CJK SC"
    assert choose_font(DEFAULT_FONT, "zh-Hant", check=False).family == "Noto Sans CJK TC"


def test_zh_tw_keeps_the_original_voices_without_an_ai_dub_label() -> None:
    tw = get_market("zh-TW")
    assert tw.dub is False
    assert not tw.dubs("zh") and not tw.dubs("en")
    assert not tw.ai_label.visible
    assert get_market("ja-JP").dubs("zh") and not get_market("zh-CN").dubs("zh")


def test_a_user_market_without_a_dub_draws_no_ai_dub_label(tmp_path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[zh-HK]\nname = "Hong Kong"\nlanguage = "zh-Hant"\ndub = false\n\n'
                    '[xx-XX]\nname = "dubbed"\nlanguage = "de"\n', encoding="utf-8")
    markets = load_markets(path)
    assert not markets["zh-HK"].ai_label.visible and "dub" not in markets["zh-HK"].ai_label.text
    assert markets["xx-XX"].ai_label.visible  # a dubbed market keeps the default visible label


def test_unknown_market_error_is_unchanged_and_lists_the_new_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_market("xx-YY")
    message = str(info.value)
    assert "xx-YY" in message and "--markets-file" in message and "zh-TW" in message


def test_opencc_converts_simplified_to_taiwan_traditional_and_back() -> None:
    cc = OpenCCTranslator()
    assert ("zh", "zh-Hant") in cc.pairs()
    out = cc.translate(["这个软件的鼠标设置", "", "你竟然敢背叛我！"], "zh", "zh-Hant")
    assert out == ["這個軟體的滑鼠設定", "", "你竟然敢背叛我！"]  # Taiwan's phrases, not only characters
    assert cc.translate(["這個軟體"], "zh-Hant", "zh") == ["这个软件"]


def test_traditional_chinese_is_reached_through_simplified() -> None:
    assert pivot_for("en", "zh-Hant") == "zh" and pivot_for("zh-Hant", "ja") == "zh"
    assert pivot_for("zh", "zh-Hant") == "en" and pivot_for("es", "pt") == "en"
    route = auto_route("zh", "zh-Hant")  # measured: a script conversion, not a translation
    assert [(leg.backend, leg.source, leg.target) for leg in route] == [("opencc", "zh", "zh-Hant")]

    class EnZh:  # stands in for the LLM leg (any pair, like llamacpp), which is not under test
        name = "enzh"

        def model_version(self) -> str:
            return "v1"

        def pairs(self) -> frozenset[tuple[str, str]]:
            return frozenset({ANY_PAIR})

        def translate(self, texts, source, target):
            return ["软件" for _ in texts]

    backends = {"enzh": EnZh(), "opencc": OpenCCTranslator()}
    # the LLM could write zh-Hant itself, but translating into Simplified and converting the script wins
    legs = plan_route("en", "zh-Hant", ["enzh", "opencc"], factory=backends.__getitem__)
    assert [(leg.backend, leg.source, leg.target) for leg in legs] == [("enzh", "en", "zh"),
                                                                       ("opencc", "zh", "zh-Hant")]
    assert [leg.backend for leg in plan_route("en", "ja", ["enzh", "opencc"], factory=backends.__getitem__)] == ["enzh"]


def test_an_llm_may_answer_traditional_chinese_in_han_characters() -> None:
    from localize.core.markets import StyleGuide
    from localize.stages.translate.adapt import AdaptRequest, LineRequest, answer_schema

    def pattern(target: str) -> str | None:
        request = AdaptRequest(source_language="en", target_language=target, market=target, style=StyleGuide(),
                               lines=(LineRequest(id="L1", speaker="A", text="Hi", budget_chars=10),))
        text = answer_schema(request)["properties"]["lines"]["prefixItems"][0]["properties"]["text"]
        return text.get("pattern")

    assert pattern("zh-Hant") is None and pattern("ja") is None  # Han characters allowed
    assert pattern("de") is not None  # a Latin-script language: none
