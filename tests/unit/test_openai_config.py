"""Configuration of the OpenAI-compatible adapter (localize/stages/translate/openai_backend.py); no server."""

from __future__ import annotations

import email.utils

import pytest

from localize.core.errors import ConfigError, LocalizeError
from localize.stages.translate import TRANSLATORS
from localize.stages.translate.openai_backend import (
    ANY_PAIR,
    OpenAIAdapter,
    OpenAIConfig,
    OpenAITranslator,
    TokenBucket,
    retry_after_s,
)

ENV_NAMES = ("LOCALIZE_OPENAI_BASE_URL", "OPENAI_BASE_URL", "LOCALIZE_OPENAI_API_KEY", "OPENAI_API_KEY",
             "LOCALIZE_OPENAI_MODEL", "LOCALIZE_OPENAI_TIMEOUT_S", "LOCALIZE_OPENAI_RPM")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_without_environment() -> None:
    config = OpenAIConfig.from_env({})
    assert config.base_url == "" and config.api_key == "" and config.model == "gpt-4o-mini"
    assert config.timeout_s == 60.0 and config.requests_per_minute == 0.0
    assert config.retries >= 1 and config.malformed_retries >= 1


def test_localize_variables_win_over_the_generic_ones() -> None:
    env = {"LOCALIZE_OPENAI_BASE_URL": "http://127.0.0.1:8080/v1/", "OPENAI_BASE_URL": "https://api.example/v1",
           "LOCALIZE_OPENAI_API_KEY": "sk-local", "OPENAI_API_KEY": "sk-generic",
           "LOCALIZE_OPENAI_MODEL": "qwen2.5-7b", "LOCALIZE_OPENAI_TIMEOUT_S": "12.5", "LOCALIZE_OPENAI_RPM": "30"}
    config = OpenAIConfig.from_env(env)
    assert config.base_url == "http://127.0.0.1:8080/v1"  # trailing slash dropped
    assert config.api_key == "sk-local" and config.model == "qwen2.5-7b"
    assert config.timeout_s == 12.5 and config.requests_per_minute == 30.0


def test_generic_variables_are_the_fallback() -> None:
    config = OpenAIConfig.from_env({"OPENAI_BASE_URL": "https://api.example/v1", "OPENAI_API_KEY": "sk-generic"})
    assert config.base_url == "https://api.example/v1" and config.api_key == "sk-generic"


def test_arguments_win_over_the_environment_and_none_means_unset() -> None:
    env = {"LOCALIZE_OPENAI_BASE_URL": "http://env/v1", "LOCALIZE_OPENAI_MODEL": "env-model"}
    config = OpenAIConfig.from_env(env, base_url="http://arg/v1", model=None, retries=1)
    assert config.base_url == "http://arg/v1" and config.model == "env-model" and config.retries == 1


@pytest.mark.parametrize(("name", "value"), [("LOCALIZE_OPENAI_TIMEOUT_S", "soon"), ("LOCALIZE_OPENAI_RPM", "fast")])
def test_a_variable_that_is_not_a_number_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        OpenAIConfig.from_env({name: value})
    assert name in str(info.value) and repr(value) in str(info.value)


@pytest.mark.parametrize("options", [
    {"timeout_s": 0}, {"requests_per_minute": -1}, {"retries": -1}, {"backoff_s": float("nan")},
    {"base_url": "127.0.0.1:8080/v1"},
])
def test_bad_options_are_config_errors(options: dict) -> None:
    with pytest.raises(ConfigError):
        OpenAIConfig(**options)


def test_available_without_base_url_says_what_to_set(clean_env: pytest.MonkeyPatch) -> None:
    adapter = OpenAIAdapter()
    with pytest.raises(ConfigError) as info:
        adapter.available()
    message = str(info.value)
    assert "'openai'" in message and "LOCALIZE_OPENAI_BASE_URL" in message and message.endswith(".")
    with pytest.raises(LocalizeError):
        adapter.pairs()  # route planning sees it as unusable, not as a crash


def test_registry_builds_it_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    clean_env.setenv("LOCALIZE_OPENAI_MODEL", "llama-3.1-8b")
    adapter = TRANSLATORS.create("openai")
    assert isinstance(adapter, OpenAIAdapter) and OpenAITranslator is OpenAIAdapter
    assert adapter.name == "openai"
    adapter.available()
    assert adapter.pairs() == frozenset({ANY_PAIR})
    assert adapter.model_version() == "openai:http://127.0.0.1:9/v1:llama-3.1-8b"
    assert adapter.endpoint == "http://127.0.0.1:9/v1/chat/completions"


def test_it_is_listed_as_an_adapter_and_as_a_translator(clean_env: pytest.MonkeyPatch) -> None:
    from localize.backends import _probe
    from localize.stages.translate import ADAPTERS

    assert ADAPTERS.load("openai") is TRANSLATORS.load("openai") is OpenAIAdapter
    ok, detail = _probe("adapt", "openai")
    assert not ok and "LOCALIZE_OPENAI_BASE_URL" in detail
    clean_env.setenv("LOCALIZE_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert _probe("adapt", "openai") == (True, "openai:http://127.0.0.1:9/v1:gpt-4o-mini")
    assert _probe("translate", "openai") == (True, "pairs: *-*")


def test_model_version_changes_with_endpoint_and_model() -> None:
    a = OpenAIAdapter(OpenAIConfig(base_url="http://a/v1", model="m1"))
    b = OpenAIAdapter(OpenAIConfig(base_url="http://a/v1", model="m2"))
    c = OpenAIAdapter(OpenAIConfig(base_url="http://b/v1", model="m1"))
    assert len({a.model_version(), b.model_version(), c.model_version()}) == 3


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_s("7") == 7.0
    assert retry_after_s(" 1.5 ") == 1.5
    assert retry_after_s("-3") == 0.0
    assert retry_after_s(None) is None and retry_after_s("") is None and retry_after_s("soon") is None
    now = 1_700_000_000.0
    assert retry_after_s(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30.0)
    assert retry_after_s(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_spaces_calls_and_refills_with_time() -> None:
    clock = _Clock()
    bucket = TokenBucket(120, clock=clock, sleep=clock.sleep)  # one every 0.5 s
    waits = [bucket.acquire() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.5, 0.5, 0.5]) and clock.slept == pytest.approx([0.5, 0.5, 0.5])
    clock.now += 0.2  # part of the next interval already passed
    assert bucket.acquire() == pytest.approx(0.3)
    clock.now += 10
    assert bucket.acquire() == 0.0


def test_token_bucket_burst_and_unlimited() -> None:
    clock = _Clock()
    bucket = TokenBucket(60, capacity=3, clock=clock, sleep=clock.sleep)
    assert [bucket.acquire() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 1.0])
    unlimited = TokenBucket(0, clock=clock, sleep=clock.sleep)
    assert all(unlimited.acquire() == 0.0 for _ in range(100))
