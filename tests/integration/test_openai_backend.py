"""The OpenAI-compatible adapter (localize/stages/translate/openai_backend.py) against a real HTTP server.

The server is a scripted OpenAI-compatible chat completions endpoint on 127.0.0.1: each test lists the
replies it gives, in order, and every request body it receives is recorded, so the tests check what
the adapter really sent. Sleeping is injected: the fake records the delays instead of waiting.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from localize.core.errors import LocalizeError, ToolFailedError
from localize.core.markets import StyleGuide
from localize.stages.translate import TRANSLATORS
from localize.stages.translate.adapt import AdaptRequest, LineRequest, MalformedAnswer
from localize.stages.translate.openai_backend import OpenAIAdapter, OpenAIConfig, OpenAITranslator

pytestmark = pytest.mark.integration

HOLD_MAX_S = 5.0  # a "slow" reply waits at most this long, and is released when the test ends


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def user_payload(request_body: dict) -> dict:
    """The JSON payload of the first user message (the one build_messages writes)."""
    first_user = next(m for m in request_body["messages"] if m["role"] == "user")
    return json.loads(first_user["content"])


def completion(content: str, finish: str = "stop") -> dict:
    return {"id": "cmpl-1", "object": "chat.completion", "model": "test-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}]}


def answer(transform: Callable[[str], str] = str.upper, drop: str = "", override: dict[str, str] | None = None
           ) -> Callable[[dict], Reply]:
    """A valid answer built from the request's lines: transform(text) per line, minus `drop`."""
    def reply(body: dict) -> Reply:
        lines = [{"id": ln["id"], "text": (override or {}).get(ln["id"], transform(ln["text"])),
                  "idiom": False, "literal": ""}
                 for ln in user_payload(body)["lines"] if ln["id"] != drop]
        return Reply(body=completion(json.dumps({"lines": lines}, ensure_ascii=False)))
    return reply


def fixed(reply: Reply) -> Callable[[dict], Reply]:
    return lambda body: reply


class ChatServer:
    """A ThreadingHTTPServer on 127.0.0.1:0 that plays `script` and records each request body."""

    def __init__(self) -> None:
        self.script: list[Callable[[dict], Reply]] = [answer()]
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.loads(raw)
                with server._lock:
                    n = len(server.requests)
                    server.requests.append(body)
                    server.headers.append(dict(self.headers.items()))
                if self.path != "/v1/chat/completions":
                    reply = Reply(status=404, body={"error": {"message": f"no route {self.path}"}})
                else:
                    reply = server.script[min(n, len(server.script) - 1)](body)
                if reply.delay_s:
                    server.release.wait(min(reply.delay_s, HOLD_MAX_S))
                data = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                payload = data.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> ChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatServer]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    srv = ChatServer().start()
    try:
        yield srv
    finally:
        srv.stop()


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_adapter(server: ChatServer, sleep: FakeSleep, **options: Any) -> OpenAIAdapter:
    config = OpenAIConfig(base_url=server.url, model="test-model",
                          **{"api_key": "sk-test", "timeout_s": 5.0, "jitter": 0.0, **options})
    return OpenAIAdapter(config, sleep=sleep)


def request(**overrides: Any) -> AdaptRequest:
    values: dict[str, Any] = {
        "source_language": "zh", "target_language": "en", "market": "en-US",
        "style": StyleGuide(formality="informal", currency="USD"),
        "synopsis": "A maid is revealed as the heiress of the Lin family.",
        "characters": (("C01", "Lily Lin"), ("C02", "Mr. Gu")),
        "glossary": (("林家", "the Lin family"), ("总裁", "CEO")),
        "context": (("C02", "你是谁？"), ("C01", "我是新来的保姆。")),
        "lines": (
            LineRequest(id="l1", speaker="C01", text="lin family heiress", budget_chars=30),
            LineRequest(id="l2", speaker="C02", text="the ceo is here", budget_chars=18),
        ),
    }
    values.update(overrides)
    return AdaptRequest(**values)


# -- what a request carries ----------------------------------------------------------------------------


def test_prompt_carries_glossary_names_context_and_budgets(server: ChatServer) -> None:
    sleep = FakeSleep()
    answers = make_adapter(server, sleep).adapt(request())
    assert [(a.id, a.text) for a in answers] == [("l1", "LIN FAMILY HEIRESS"), ("l2", "THE CEO IS HERE")]
    assert sleep.delays == [] and len(server.requests) == 1
    body = server.requests[0]
    assert body["model"] == "test-model" and body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    payload = user_payload(body)
    assert payload["task"] == "adapt" and payload["market"] == "en-US"
    assert payload["source_language"] == "zh" and payload["target_language"] == "en"
    assert payload["glossary"] == [{"source": "林家", "target": "the Lin family"}, {"source": "总裁", "target": "CEO"}]
    assert payload["characters"] == [{"id": "C01", "name": "Lily Lin"}, {"id": "C02", "name": "Mr. Gu"}]
    assert payload["previous_lines"] == [{"speaker": "C02", "text": "你是谁？"},
                                         {"speaker": "C01", "text": "我是新来的保姆。"}]
    assert [(ln["id"], ln["speaker"], ln["budget"]) for ln in payload["lines"]] == [("l1", "C01", 30),
                                                                                    ("l2", "C02", 18)]
    assert payload["style_guide"]["formality"] == "informal" and payload["style_guide"]["currency"] == "USD"
    assert "synopsis" in payload and "heiress" in payload["synopsis"]


def test_over_long_line_is_returned_for_the_pipeline_to_rewrite(server: ChatServer) -> None:
    long_text = "The chief executive officer of the whole company has just arrived here"
    server.script = [answer(override={"l2": long_text}), answer(override={"l2": "The CEO's here"})]
    adapter = make_adapter(server, FakeSleep())
    first = adapter.adapt(request())
    assert first[1].text == long_text and len(long_text) > 18  # budgets are the pipeline's check
    rewrite = request(rewrite=True, lines=(LineRequest(id="l2", speaker="C02", text="the ceo is here",
                                                       budget_chars=18, previous_attempt=long_text),))
    second = adapter.adapt(rewrite)
    assert [a.text for a in second] == ["The CEO's here"]
    payload = user_payload(server.requests[1])
    assert payload["task"] == "rewrite shorter"
    assert payload["lines"] == [{"id": "l2", "speaker": "C02", "text": "the ceo is here", "budget": 18,
                                 "too_long_translation": long_text}]


def test_translate_is_adapt_in_batches_with_context(server: ChatServer) -> None:
    words = {"你好": "hello", "谢谢": "thanks"}
    server.script = [answer(lambda t: words.get(t, f"<{t}>"))]
    adapter = make_adapter(server, FakeSleep())
    assert adapter.pairs() == frozenset({("*", "*")})
    texts = ["你好", "", "谢谢"] + [f"句{i}" for i in range(20)]
    out = adapter.translate(texts, "zh", "en")
    assert out[:3] == ["hello", "", "thanks"] and out[3:] == [f"<句{i}>" for i in range(20)]
    assert len(server.requests) == 2  # 22 non-empty lines in batches of 16; the empty one is not sent
    first, second = (user_payload(b) for b in server.requests)
    assert len(first["lines"]) == 16 and len(second["lines"]) == 6
    assert first["previous_lines"] == []
    assert [p["text"] for p in second["previous_lines"]] == [f"句{i}" for i in range(8, 14)]
    assert all(ln["budget"] >= 200 for ln in first["lines"])
    assert TRANSLATORS.load("openai") is OpenAITranslator is OpenAIAdapter


# -- retries -------------------------------------------------------------------------------------------


def test_server_errors_are_retried_with_exponential_backoff(server: ChatServer) -> None:
    boom = fixed(Reply(status=500, body={"error": {"message": "boom"}}))
    busy = fixed(Reply(status=503, body="overloaded"))
    server.script = [boom, busy, boom, answer()]
    sleep = FakeSleep()
    answers = make_adapter(server, sleep, backoff_s=0.5).adapt(request())
    assert [a.text for a in answers] == ["LIN FAMILY HEIRESS", "THE CEO IS HERE"]
    assert len(server.requests) == 4
    assert sleep.delays == [0.5, 1.0, 2.0]
    assert all(b == server.requests[0] for b in server.requests)  # the same request each time


def test_backoff_is_capped_and_jittered(server: ChatServer) -> None:
    server.script = [fixed(Reply(status=502, body="bad gateway"))] * 5 + [answer()]
    sleep = FakeSleep()
    config = OpenAIConfig(base_url=server.url, timeout_s=5.0, retries=5, backoff_s=1.0, max_backoff_s=4.0,
                          jitter=0.5)
    OpenAIAdapter(config, sleep=sleep, rng=random.Random(7)).adapt(request())
    bases = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleep.delays) == 5
    assert all(base <= d <= base * 1.5 for base, d in zip(bases, sleep.delays, strict=True)), sleep.delays
    assert len({d / b for b, d in zip(bases, sleep.delays, strict=True)}) > 1  # jitter differs per retry
    assert "Authorization" not in server.headers[0]  # no key configured: no bearer header


def test_retry_after_is_honoured_on_429(server: ChatServer) -> None:
    limited = fixed(Reply(status=429, body={"error": {"message": "rate limited"}}, headers={"Retry-After": "7"}))
    server.script = [limited, fixed(Reply(status=408, body="timeout")), answer()]
    sleep = FakeSleep()
    make_adapter(server, sleep, backoff_s=0.25).adapt(request())
    assert sleep.delays == [7.0, 0.5]  # the server's wait, then the backoff for the second failure
    assert len(server.requests) == 3


def test_too_long_retry_after_gives_up_with_a_clear_error(server: ChatServer) -> None:
    server.script = [fixed(Reply(status=429, body="slow down", headers={"Retry-After": "3600"}))]
    sleep = FakeSleep()
    with pytest.raises(ToolFailedError) as info:
        make_adapter(server, sleep, max_retry_after_s=60).adapt(request())
    assert sleep.delays == [] and len(server.requests) == 1
    assert "3600 s" in str(info.value) and "HTTP 429" in str(info.value)


def test_slow_answer_times_out_and_is_retried(server: ChatServer) -> None:
    server.script = [lambda body: Reply(body=answer()(body).body, delay_s=HOLD_MAX_S), answer()]
    sleep = FakeSleep()
    answers = make_adapter(server, sleep, timeout_s=0.3, backoff_s=2.0).adapt(request())
    assert answers[0].text == "LIN FAMILY HEIRESS"
    assert sleep.delays == [2.0] and len(server.requests) == 2


def test_exhausted_retries_raise_a_localize_error_naming_endpoint_and_problem(server: ChatServer) -> None:
    server.script = [fixed(Reply(status=500, body={"error": {"message": "model crashed"}}))]
    sleep = FakeSleep()
    with pytest.raises(ToolFailedError) as info:
        make_adapter(server, sleep, retries=2).adapt(request())
    err = info.value
    assert isinstance(err, LocalizeError)
    assert len(server.requests) == 3 and sleep.delays == [1.0, 2.0]
    message = str(err)
    assert f"{server.url}/chat/completions" in message
    assert "HTTP 500: model crashed" in message and "after 3 attempts" in message
    assert message.endswith(".") and message.count(". ") == 0  # one sentence


def test_timeouts_exhausted_say_so(server: ChatServer) -> None:
    server.script = [lambda body: Reply(body=answer()(body).body, delay_s=HOLD_MAX_S)]
    sleep = FakeSleep()
    with pytest.raises(ToolFailedError, match=r"no answer within the 0\.2 s timeout"):
        make_adapter(server, sleep, timeout_s=0.2, retries=1).adapt(request())
    assert len(server.requests) == 2 and sleep.delays == [1.0]


def test_client_errors_are_not_retried(server: ChatServer) -> None:
    server.script = [fixed(Reply(status=401, body={"error": {"message": "invalid api key"}}))]
    sleep = FakeSleep()
    with pytest.raises(ToolFailedError, match="HTTP 401: invalid api key; check OPENAI_API_KEY"):
        make_adapter(server, sleep).adapt(request())
    assert len(server.requests) == 1 and sleep.delays == []


def test_wrong_base_url_is_a_404_with_a_hint(server: ChatServer) -> None:
    config = OpenAIConfig(base_url=server.url.removesuffix("/v1"), timeout_s=5.0)
    with pytest.raises(ToolFailedError, match="usually ends in /v1"):
        OpenAIAdapter(config, sleep=FakeSleep()).adapt(request())


def test_connection_refused_is_retried_then_reported() -> None:
    import socket

    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleep = FakeSleep()
    config = OpenAIConfig(base_url=f"http://127.0.0.1:{port}/v1", timeout_s=2.0, retries=2, jitter=0.0)
    with pytest.raises(ToolFailedError, match="connection failed"):
        OpenAIAdapter(config, sleep=sleep).adapt(request())
    assert sleep.delays == [1.0, 2.0]


# -- response_format and malformed answers ---------------------------------------------------------


def test_response_format_refusal_falls_back_without_it(server: ChatServer) -> None:
    refuse = fixed(Reply(status=400, body={"error": {"message": "Unrecognized request argument: response_format"}}))
    server.script = [refuse, answer()]
    sleep = FakeSleep()
    adapter = make_adapter(server, sleep)
    assert adapter.adapt(request())[0].text == "LIN FAMILY HEIRESS"
    adapter.adapt(request())  # remembered: the next request goes without response_format at once
    assert [("response_format" in b) for b in server.requests] == [True, False, False]
    assert sleep.delays == []


def test_other_400_is_not_a_response_format_fallback(server: ChatServer) -> None:
    server.script = [fixed(Reply(status=400, body={"error": {"message": "context length exceeded"}}))]
    with pytest.raises(ToolFailedError, match="HTTP 400: context length exceeded"):
        make_adapter(server, FakeSleep()).adapt(request())
    assert len(server.requests) == 1


def test_malformed_answer_is_retried_with_a_reminder(server: ChatServer) -> None:
    server.script = [fixed(Reply(body=completion("Sure! Here are the lines: l1 ..."))), answer(drop="l2"), answer()]
    sleep = FakeSleep()
    answers = make_adapter(server, sleep, malformed_retries=2).adapt(request())
    assert [a.text for a in answers] == ["LIN FAMILY HEIRESS", "THE CEO IS HERE"]
    assert len(server.requests) == 3 and sleep.delays == []
    first, second, third = server.requests
    assert len(first["messages"]) == 2
    reminder = second["messages"][-1]
    assert reminder["role"] == "user" and "not JSON" in reminder["content"] and "l1, l2" in reminder["content"]
    assert "misses lines l2" in third["messages"][-1]["content"]
    assert second["messages"][:2] == first["messages"]  # the same prompt, plus the reminder


def test_fenced_json_is_accepted(server: ChatServer) -> None:
    def fenced(body: dict) -> Reply:
        inner = answer()(body).body["choices"][0]["message"]["content"]
        return Reply(body=completion(f"```json\n{inner}\n```"))
    server.script = [fenced]
    assert make_adapter(server, FakeSleep()).adapt(request())[1].text == "THE CEO IS HERE"


def test_malformed_answers_exhausted_raise_malformed_answer(server: ChatServer) -> None:
    server.script = [answer(drop="l2")]
    with pytest.raises(MalformedAnswer) as info:
        make_adapter(server, FakeSleep(), malformed_retries=1).adapt(request())
    assert isinstance(info.value, LocalizeError)
    message = str(info.value)
    assert len(server.requests) == 2
    assert f"{server.url}/chat/completions" in message and "2 times" in message
    assert "misses lines l2" in message and message.endswith(".")


def test_truncated_answer_says_it_hit_the_token_limit(server: ChatServer) -> None:
    server.script = [fixed(Reply(body=completion('{"lines": [{"id": "l1", "te', finish="length")))]
    with pytest.raises(MalformedAnswer, match="cut off at the token limit"):
        make_adapter(server, FakeSleep(), malformed_retries=0).adapt(request())


def test_a_body_that_is_not_a_chat_completion_is_malformed(server: ChatServer) -> None:
    server.script = [fixed(Reply(body={"error": "model loading"})), answer()]
    assert make_adapter(server, FakeSleep()).adapt(request())[0].text == "LIN FAMILY HEIRESS"
    assert "not a chat completion" in server.requests[1]["messages"][-1]["content"]


# -- rate limit ----------------------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that only the fake sleep moves; the sleep records each delay."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.delays: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds


def test_rate_limit_spaces_requests_on_the_clock(server: ChatServer) -> None:
    clock = FakeClock()
    config = OpenAIConfig(base_url=server.url, timeout_s=5.0, requests_per_minute=30)  # one every 2 s
    adapter = OpenAIAdapter(config, sleep=clock.sleep, clock=clock)
    sent_at = []
    for _ in range(3):
        adapter.adapt(request())
        sent_at.append(clock.now)
    assert len(server.requests) == 3
    assert clock.delays == pytest.approx([2.0, 2.0])  # the first goes at once
    assert sent_at == pytest.approx([1000.0, 1002.0, 1004.0])
    clock.now += 60  # idle time refills one token only (burst 1)
    adapter.adapt(request())
    adapter.adapt(request())
    assert clock.delays == pytest.approx([2.0, 2.0, 2.0])


def test_retries_go_through_the_rate_limit(server: ChatServer) -> None:
    clock = FakeClock()
    server.script = [fixed(Reply(status=500, body="boom")), answer()]
    config = OpenAIConfig(base_url=server.url, timeout_s=5.0, requests_per_minute=60, backoff_s=0.25, jitter=0.0)
    OpenAIAdapter(config, sleep=clock.sleep, clock=clock).adapt(request())
    # backoff 0.25 s, then the limiter waits the rest of the 1 s spacing
    assert clock.delays == pytest.approx([0.25, 0.75]) and len(server.requests) == 2


# -- the HTTP client -------------------------------------------------------------------------------


def test_the_api_key_is_never_logged(server: ChatServer, caplog: pytest.LogCaptureFixture) -> None:
    server.script = [fixed(Reply(status=500, body="boom")), fixed(Reply(body=completion("not json"))), answer()]
    caplog.set_level("DEBUG")  # every logger, the HTTP client's included
    make_adapter(server, FakeSleep(), api_key="sk-secret-123").adapt(request())
    assert server.headers[-1]["Authorization"] == "Bearer sk-secret-123"
    assert "retrying" in caplog.text and "malformed" in caplog.text
    assert "sk-secret-123" not in caplog.text


def test_release_closes_the_connections_and_a_later_request_opens_new_ones(server: ChatServer) -> None:
    adapter = make_adapter(server, FakeSleep())
    adapter.adapt(request())
    client = adapter._client
    assert client is not None and not client.is_closed
    adapter.release()
    assert client.is_closed and adapter._client is None
    adapter.release()  # twice is harmless
    assert adapter.adapt(request())[0].text == "LIN FAMILY HEIRESS"
    assert len(server.requests) == 2
