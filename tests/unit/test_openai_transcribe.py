"""The OpenAI-compatible transcription backend's pure parts: configuration, language names, and the
mapping of a verbose_json answer into a RawTranscript (the HTTP side: tests/integration/test_openai_transcribe.py)."""

from __future__ import annotations

import pytest

from localize.core.errors import ConfigError
from localize.core.options import AsrOptions
from localize.stages.script.asr import RECOGNIZERS
from localize.stages.script.asr.lines import LineRules, cut_lines
from localize.stages.script.asr.openai_transcribe import (
    OpenAITranscriber,
    config_from_env,
    language_code,
    parse_verbose,
)


@pytest.mark.parametrize(("name", "code"), [
    ("english", "en"), ("chinese", "zh"), ("Japanese", "ja"), ("cantonese", "yue"), ("haitian creole", "ht"),
    ("en", "en"), ("zh", "zh"), ("pt-BR", "pt"), ("cmn", "zh"), ("", ""),
])
def test_language_names_and_codes_become_iso_codes(name: str, code: str) -> None:
    assert language_code(name) == code


def openai_answer() -> dict:
    """Shaped as OpenAI's whisper-1 answers: bare words without punctuation beside the segments."""
    return {
        "task": "transcribe", "language": "english", "duration": 5.0, "text": "...",
        "segments": [
            {"id": 0, "start": 0.0, "end": 2.9, "text": " And so, my fellow Americans, ask not.", "avg_logprob": -0.2},
            {"id": 1, "start": 3.0, "end": 5.0, "text": ' The "forty-two line Bible" of 1455.', "avg_logprob": -0.5},
        ],
        "words": [{"word": w, "start": s, "end": e} for w, s, e in [
            ("And", 0.0, 0.3), ("so", 0.3, 0.6), ("my", 0.7, 0.9), ("fellow", 0.9, 1.2), ("Americans", 1.2, 2.0),
            ("ask", 2.1, 2.4), ("not", 2.4, 2.9), ("The", 3.0, 3.1), ("forty-two", 3.1, 3.5), ("line", 3.5, 3.8),
            ("Bible", 3.8, 4.1), ("of", 4.1, 4.3), ("1455", 4.3, 4.9)]],
    }


def test_openai_words_are_grouped_by_segment_with_spacing_and_punctuation_restored() -> None:
    raw = parse_verbose(openai_answer())
    assert (raw.language, raw.detected_language) == ("en", "en")
    assert [[w.text for w in seg] for seg in raw.segments] == [
        [" And", " so,", " my", " fellow", " Americans,", " ask", " not."],
        [" The", ' "forty-two', " line", ' Bible"', " of", " 1455."],
    ]
    assert [(w.start_ms, w.end_ms) for w in raw.segments[0][:2]] == [(0, 300), (300, 600)]
    assert raw.segments[0][0].probability == pytest.approx(0.8187, abs=1e-4)  # exp(avg_logprob)
    lines = cut_lines(raw.segments, LineRules.for_language("en"))
    assert [ln.text for ln in lines] == ["And so, my fellow Americans, ask not.", 'The "forty-two line Bible" of 1455.']


def test_a_forced_language_wins_and_claims_no_detection() -> None:
    raw = parse_verbose(openai_answer(), forced="en")
    assert (raw.language, raw.detected_language, raw.detected_probability) == ("en", "", 0.0)


def test_chinese_words_get_no_spaces_and_keep_their_marks() -> None:
    raw = parse_verbose({"language": "chinese", "segments": [{"start": 0, "end": 2, "text": "你好，世界。"}],
                         "words": [{"word": "你好", "start": 0, "end": 1}, {"word": "世界", "start": 1, "end": 2}]})
    assert raw.language == "zh"
    assert [w.text for w in raw.segments[0]] == ["你好，", "世界。"]


def test_speaches_words_inside_segments_are_kept_as_written() -> None:
    raw = parse_verbose({"language": "en", "segments": [
        {"start": 0.0, "end": 1.0, "text": " Hi there.", "words": [
            {"word": " Hi", "start": 0.0, "end": 0.4, "probability": 0.9},
            {"word": " there.", "start": 0.4, "end": 1.0, "probability": 0.7}]},
        {"start": 2.0, "end": 2.5, "text": " Bye.", "words": [
            {"word": " Bye.", "start": 2.0, "end": 2.5, "probability": 0.8}]}]})
    assert [[(w.text, w.probability) for w in seg] for seg in raw.segments] == [
        [(" Hi", 0.9), (" there.", 0.7)], [(" Bye.", 0.8)]]


def test_words_the_segment_text_lacks_fall_back_to_spaced_words() -> None:
    raw = parse_verbose({"language": "en", "segments": [{"start": 0, "end": 1, "text": " fourteen fifty-five"}],
                         "words": [{"word": "1455", "start": 0, "end": 1}]})
    assert [w.text for w in raw.segments[0]] == [" 1455"]


def test_a_server_without_word_times_gives_each_segment_as_one_unit() -> None:
    raw = parse_verbose({"language": "en", "segments": [{"start": 0.5, "end": 1.5, "text": " Hello."},
                                                        {"start": 2.0, "end": 2.0, "text": " "}]})
    assert [[(w.text, w.start_ms, w.end_ms) for w in seg] for seg in raw.segments] == [[(" Hello.", 500, 1500)]]


def test_an_answer_without_a_language_is_refused_unless_forced() -> None:
    with pytest.raises(ValueError, match="no language"):
        parse_verbose({"segments": []})
    assert parse_verbose({"segments": []}, forced="ja").language == "ja"


def test_configuration_from_the_environment_and_the_asr_model() -> None:
    env = {"OPENAI_BASE_URL": "https://chat.example/v1", "LOCALIZE_ASR_OPENAI_BASE_URL": "http://gpu:8000/v1/",
           "OPENAI_API_KEY": "sk-x", "LOCALIZE_ASR_OPENAI_MODEL": "Systran/faster-whisper-large-v3"}
    cfg = config_from_env(env)
    assert (cfg.base_url, cfg.api_key, cfg.model, cfg.timeout_s) == (
        "http://gpu:8000/v1", "sk-x", "Systran/faster-whisper-large-v3", 600.0)
    assert config_from_env({"LOCALIZE_OPENAI_BASE_URL": "http://h/v1"}).base_url == "http://h/v1"
    assert config_from_env({}).model == "whisper-1"
    asr = OpenAITranscriber(config=cfg)
    assert asr.model_version() == "openai:gpu:8000:Systran/faster-whisper-large-v3"
    assert "sk-x" not in asr.model_version()
    turbo = OpenAITranscriber(AsrOptions(model="deepdml/faster-whisper-large-v3-turbo-ct2"), config=cfg)
    assert turbo.model_version() == "openai:gpu:8000:deepdml/faster-whisper-large-v3-turbo-ct2"
    with pytest.raises(ConfigError, match="LOCALIZE_ASR_OPENAI_TIMEOUT_S"):
        config_from_env({"LOCALIZE_ASR_OPENAI_TIMEOUT_S": "soon"})


def test_unconfigured_backend_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from localize.backends import _probe

    for var in ("LOCALIZE_ASR_OPENAI_BASE_URL", "LOCALIZE_OPENAI_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="LOCALIZE_ASR_OPENAI_BASE_URL"):
        RECOGNIZERS.create("openai").model_version()
    ok, detail = _probe("asr", "openai")
    assert not ok and "LOCALIZE_ASR_OPENAI_BASE_URL" in detail
    monkeypatch.setenv("LOCALIZE_ASR_OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("LOCALIZE_ASR_OPENAI_MODEL", "large-v3")
    assert _probe("asr", "openai") == (True, "openai:127.0.0.1:8000:large-v3")
