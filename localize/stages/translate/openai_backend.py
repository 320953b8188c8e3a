"""Adaptation by any OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM, hosted).

:class:`OpenAIAdapter` sends the shared prompt of :mod:`.adapt` (:func:`~.adapt.build_messages`) to
``POST {base_url}/chat/completions`` and checks the answer with :func:`~.adapt.parse_answer`. It is
also a plain :class:`~localize.stages.translate.Translator` (``pairs``/``translate``) for route planning.

Configuration (:class:`OpenAIConfig`; arguments win over the environment):

* ``LOCALIZE_OPENAI_BASE_URL`` (or ``OPENAI_BASE_URL``): the endpoint, e.g. ``http://127.0.0.1:8080/v1``;
* ``LOCALIZE_OPENAI_API_KEY`` (or ``OPENAI_API_KEY``): sent as a bearer token when set;
* ``LOCALIZE_OPENAI_MODEL`` (default ``gpt-4o-mini``);
* ``LOCALIZE_OPENAI_TIMEOUT_S`` (default 60) and ``LOCALIZE_OPENAI_RPM`` (requests per minute; 0, the
  default, is unlimited).

Requests go through httpx. Timeouts, connection errors and HTTP 408/409/429/5xx are retried by tenacity
with exponential backoff and jitter (a ``Retry-After`` header is honoured); a malformed answer is asked
again with a reminder appended. The API key is sent as a header, never logged. Nothing is cached here:
the pipeline caches finished artifacts only.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from localize.core.errors import ConfigError, ToolFailedError
from localize.core.http import (  # the shared HTTP base; its names stay importable from here
    RETRY_STATUS,
    OpenAIConfig,
    OpenAIHttp,
    TokenBucket,
    retry_after_s,
)
from localize.core.http import Fatal as _Fatal
from localize.core.http import Retryable as _Retryable
from localize.core.http import env_number as _env_number
from localize.core.http import error_detail as _error_detail
from localize.core.http import stop_on_long_retry_after as _stop_on_long_retry_after
from localize.core.options import AdaptOptions
from localize.stages.translate.adapt import (
    AdaptRequest,
    LineAnswer,
    MalformedAnswer,
    build_messages,
    parse_answer,
    plain_translate,
)

if TYPE_CHECKING:  # httpx and tenacity are imported when a request is sent: route planning imports this module
    import httpx
    from tenacity import RetryCallState

log = logging.getLogger(__name__)
ANY_PAIR = ("*", "*")
REMINDER = ("Your previous answer could not be used: {problem} Answer again with only the JSON object "
            '{{"lines": [{{"id": ..., "text": ..., "idiom": false, "literal": ""}}, ...]}}, exactly one object '
            "per input line, with the ids {ids}, in that order.")


class OpenAIAdapter(OpenAIHttp):
    """An :class:`~localize.stages.translate.Adapter` and a :class:`~localize.stages.translate.Translator`
    over chat completions (httpx for HTTP, tenacity for the retries)."""

    name = "openai"

    def __init__(self, config: OpenAIConfig | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
        self.config = OpenAIConfig.from_env() if config is None else config
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._bucket = TokenBucket(self.config.requests_per_minute, clock=clock, sleep=sleep)
        self._json_mode = True  # off once the server rejects response_format
        self._client: httpx.Client | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.config.base_url}/chat/completions"

    def model_version(self) -> str:
        return f"openai:{self.config.base_url}:{self.config.model}"

    def available(self) -> None:
        if not self.config.base_url:
            raise ConfigError(
                "backend 'openai' is not configured; set LOCALIZE_OPENAI_BASE_URL to an OpenAI-compatible "
                "endpoint (e.g. http://127.0.0.1:8080/v1), and OPENAI_API_KEY and LOCALIZE_OPENAI_MODEL if it "
                "needs them."
            )

    def release(self) -> None:
        """Close the HTTP connections (a later request opens new ones)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- Translator ---------------------------------------------------------------------------------

    def pairs(self) -> frozenset[tuple[str, str]]:
        self.available()
        return frozenset({ANY_PAIR})

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Plain translation: adapt() in batches with the default style guide and roomy budgets."""
        self.available()
        return plain_translate(self, texts, source, target, batch_lines=AdaptOptions().batch_lines)

    # -- Adapter ------------------------------------------------------------------------------------

    def adapt(self, request: AdaptRequest) -> list[LineAnswer]:
        """One answer per requested line; ToolFailedError or MalformedAnswer once retries are spent."""
        self.available()
        cfg = self.config
        messages = build_messages(request)
        what = (f"adapting {len(request.lines)} {request.source_language}->{request.target_language} "
                f"line{'s' if len(request.lines) != 1 else ''} with model {cfg.model}")
        sent = [0]  # requests sent, for the error message
        for malformed in range(1, cfg.malformed_retries + 2):
            finish = ""
            try:
                content, finish = self._completion(messages, what, sent)
                return parse_answer(content, request)
            except MalformedAnswer as exc:
                problem = str(exc).rstrip(".")
                if finish == "length":
                    problem += " (the answer was cut off at the token limit)"
                if malformed > cfg.malformed_retries:
                    raise MalformedAnswer(
                        f"the OpenAI-compatible endpoint {self.endpoint} gave a malformed answer {malformed} "
                        f"time{'s' if malformed != 1 else ''} while {what}; last problem: {problem}."
                    ) from None
                log.warning("openai: malformed answer from %s (%s); asking again", self.endpoint, problem)
                ids = ", ".join(line.id for line in request.lines)
                messages = [*build_messages(request),
                            {"role": "user", "content": REMINDER.format(problem=problem + ".", ids=ids)}]
        raise AssertionError("unreachable: the last malformed answer raises")

    # -- HTTP ---------------------------------------------------------------------------------------

    def _completion(self, messages: list[dict[str, str]], what: str, sent: list[int]) -> tuple[str, str]:
        """(content, finish_reason) of one chat completion, retried on timeouts, lost connections and HTTP
        408/409/429/5xx with exponential backoff and jitter, or the server's Retry-After."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

        cfg = self.config
        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(cfg.retries + 1) | _stop_on_long_retry_after(cfg.max_retry_after_s),
            wait=self._wait, sleep=self._sleep, before_sleep=self._log_retry, reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    sent[0] += 1
                    answer = self._post(messages)
                    if answer is None:  # the server refused response_format: ask again at once without it
                        sent[0] += 1
                        answer = self._post(messages)
                    assert answer is not None
                    return answer
        except _Retryable as exc:
            if exc.retry_after is not None and exc.retry_after > cfg.max_retry_after_s:
                raise self._failed(what, sent[0], f"{exc.problem}, and it asked to wait {exc.retry_after:g} s, "
                                   f"more than max_retry_after_s={cfg.max_retry_after_s:g}") from None
            raise self._failed(what, sent[0], exc.problem) from None
        except _Fatal as exc:
            raise self._failed(what, sent[0], str(exc)) from None
        raise AssertionError("unreachable: tenacity returns or raises")

    def _post(self, messages: list[dict[str, str]]) -> tuple[str, str] | None:
        """One POST; None after a response_format refusal (JSON mode is then off for good)."""
        import httpx

        cfg = self.config
        body: dict[str, Any] = {"model": cfg.model, "temperature": 0, "messages": messages}
        if self._json_mode:
            body["response_format"] = {"type": "json_object"}
        self._bucket.acquire()
        try:
            resp = self._http().post(self.endpoint, json=body)
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within the {cfg.timeout_s:g} s timeout") from None
        except httpx.TransportError as exc:  # refused or dropped connections
            raise _Retryable(f"connection failed ({str(exc) or type(exc).__name__})") from None
        if not resp.is_success:
            detail = _error_detail(resp)
            problem = f"HTTP {resp.status_code}" + (f": {detail}" if detail else "")
            if resp.status_code == 400 and self._json_mode and "response_format" in detail.lower():
                log.info("openai: %s rejects response_format; asking without it", self.endpoint)
                self._json_mode = False
                return None
            if resp.status_code in RETRY_STATUS or resp.status_code >= 500:
                raise _Retryable(problem, retry_after_s(resp.headers.get("Retry-After")))
            raise _Fatal(problem + _hint(resp.status_code))
        try:
            data = resp.json()
            choice = data["choices"][0]
            content = choice["message"]["content"]
            if not isinstance(content, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            snippet = " ".join(resp.content[:120].decode("utf-8", "replace").split())
            raise MalformedAnswer(f"the response is not a chat completion with choices[0].message.content "
                                  f"({snippet!r}).") from None
        return content, str(choice.get("finish_reason") or "")

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("openai: attempt %d at %s failed (%s); retrying in %.2f s", state.attempt_number,
                    self.endpoint, getattr(exc, "problem", exc), delay)

    def _failed(self, what: str, attempts: int, problem: str) -> ToolFailedError:
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        return ToolFailedError(f"the OpenAI-compatible endpoint {self.endpoint}", f"{what} ({tries})",
                               problem.rstrip("."))


def _hint(code: int) -> str:
    if code in (401, 403):
        return "; check OPENAI_API_KEY"
    if code == 404:
        return "; check LOCALIZE_OPENAI_BASE_URL (it usually ends in /v1) and LOCALIZE_OPENAI_MODEL"
    return ""


OpenAITranslator = OpenAIAdapter  # the registry's name for it
__all__ = [
    "ANY_PAIR",
    "RETRY_STATUS",
    "OpenAIAdapter",
    "OpenAIConfig",
    "OpenAIHttp",
    "OpenAITranslator",
    "TokenBucket",
    "_Fatal",
    "_Retryable",
    "_env_number",
    "_error_detail",
    "_stop_on_long_retry_after",
    "retry_after_s",
]
