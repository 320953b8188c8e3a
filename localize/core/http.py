"""The HTTP side every service client here shares (the OpenAI-compatible chat adapter and transcription
backend, the speech services): the endpoint's configuration, one pooled httpx client with the key in its
headers, and tenacity's retries.

Timeouts, lost connections and HTTP 408/409/429/5xx are retried with exponential backoff and jitter, a
``Retry-After`` header honoured (a wait longer than ``max_retry_after_s`` gives up instead); any other
status is final. Keys are sent as headers and never logged. Nothing is cached here: the pipeline caches
finished artifacts only, so a request that fails leaves nothing behind.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from localize.core.errors import ConfigError

if TYPE_CHECKING:  # httpx and tenacity are imported when a request is sent
    import httpx
    from tenacity import RetryCallState
    from tenacity.stop import stop_base

log = logging.getLogger(__name__)
RETRY_STATUS = frozenset({408, 409, 429})  # and every 5xx
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenAIConfig:
    """An HTTP service endpoint: where, the key, the model, and how patiently to retry."""

    base_url: str = ""  # e.g. http://127.0.0.1:8080/v1; each client appends its route
    api_key: str = ""
    model: str = "gpt-4o-mini"
    timeout_s: float = 60.0  # per request
    requests_per_minute: float = 0.0  # client-side limit; 0 = unlimited
    retries: int = 4  # more tries after timeouts, connection errors and HTTP 408/409/429/5xx
    malformed_retries: int = 2  # more tries after an answer the client cannot use (chat adaptation)
    backoff_s: float = 1.0  # first retry delay; doubles each retry
    max_backoff_s: float = 30.0
    jitter: float = 0.25  # each backoff delay is stretched by up to this fraction, at random
    max_retry_after_s: float = 300.0  # a longer Retry-After gives up instead of waiting

    def __post_init__(self) -> None:
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"OpenAI base URL {self.base_url!r} must start with http:// or https://, "
                              f"e.g. http://127.0.0.1:8080/v1.")
        if not (self.timeout_s > 0 and math.isfinite(self.timeout_s)):
            raise ConfigError(f"OpenAI option timeout_s={self.timeout_s!r} must be a finite number above 0.")
        for name in ("requests_per_minute", "retries", "malformed_retries", "backoff_s", "max_backoff_s",
                     "jitter", "max_retry_after_s"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"OpenAI option {name}={value!r} must be a finite number of 0 or more.")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> OpenAIConfig:
        """The chat endpoint's configuration from `env` (default: os.environ); keyword arguments that are
        not None win."""
        env = os.environ if env is None else env
        default = cls()
        values: dict[str, Any] = {
            "base_url": env.get("LOCALIZE_OPENAI_BASE_URL") or env.get("OPENAI_BASE_URL") or "",
            "api_key": env.get("LOCALIZE_OPENAI_API_KEY") or env.get("OPENAI_API_KEY") or "",
            "model": env.get("LOCALIZE_OPENAI_MODEL") or default.model,
            "timeout_s": env_number(env, "LOCALIZE_OPENAI_TIMEOUT_S", default.timeout_s),
            "requests_per_minute": env_number(env, "LOCALIZE_OPENAI_RPM", default.requests_per_minute),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["base_url"] = str(values["base_url"]).strip().rstrip("/")
        return cls(**values)


def env_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; set it to e.g. {default:g} or unset it.") from None


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks to wait (delta-seconds or an HTTP date); None if absent/unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class TokenBucket:
    """Spaces calls to `rate_per_minute` (burst `capacity`) on a monotonic clock; 0 = unlimited."""

    def __init__(self, rate_per_minute: float, *, capacity: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a token, sleeping until one is due; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        with self._lock:  # reserve the token (possibly going into debt), then sleep outside the lock
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class Retryable(Exception):
    """A failed request worth retrying: a timeout, a lost connection, HTTP 408/409/429/5xx."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


class Fatal(Exception):
    """A failed request that a retry will not fix (HTTP 401, 404, a 400...)."""


class GaveUp(Exception):
    """The last of :meth:`OpenAIHttp._retried`'s attempts failed: `problem` says why, `attempts` how many."""

    def __init__(self, problem: str, attempts: int, *, final: bool = False, status: int = 0) -> None:
        super().__init__(problem)
        self.problem = problem
        self.attempts = attempts
        self.final = final  # a Fatal answer (not a spent retry budget)
        self.status = status


class StatusError(Fatal):
    """A final HTTP status, with the server's message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}" + (f": {detail}" if detail else ""))
        self.status = status
        self.detail = detail


class OpenAIHttp:
    """The HTTP side every service client here shares: one pooled httpx client with the key in its headers
    (:meth:`_headers`), and tenacity's wait between retries. Subclasses set ``config`` (an OpenAIConfig),
    ``_rng`` and ``_client`` (None until first use); :meth:`_retried` also needs ``_sleep``."""

    config: OpenAIConfig
    _rng: random.Random
    _client: httpx.Client | None
    _sleep: Callable[[float], None]
    service = "the service"  # how log lines name the endpoint's kind

    def _headers(self) -> dict[str, str]:
        """The headers of every request (the key as a bearer token when set)."""
        headers = {"Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx

            self._client = httpx.Client(headers=self._headers(), timeout=self.config.timeout_s)
        return self._client

    def _wait(self, state: RetryCallState) -> float:
        """The server's Retry-After, else backoff_s doubling per failure up to max_backoff_s, stretched by
        up to `jitter` at random."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            return exc.retry_after
        from tenacity import wait_exponential

        cfg = self.config
        base = wait_exponential(multiplier=cfg.backoff_s, max=cfg.max_backoff_s)(state)
        return base * (1.0 + cfg.jitter * self._rng.random())

    def _retried(self, send: Callable[[], T], endpoint: str) -> T:
        """`send()`'s result, retried while it raises Retryable (backoff and jitter, or Retry-After); a
        Fatal, or the last Retryable, becomes GaveUp. Counts ``requests`` and ``retries`` on self."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

        cfg = self.config
        retrying = Retrying(
            retry=retry_if_exception_type(Retryable),
            stop=stop_after_attempt(cfg.retries + 1) | stop_on_long_retry_after(cfg.max_retry_after_s),
            wait=self._wait, sleep=self._sleep, reraise=True,
            before_sleep=lambda state: self._note_retry(state, endpoint),
        )
        sent = 0
        try:
            for attempt in retrying:
                with attempt:
                    sent += 1
                    self.requests = getattr(self, "requests", 0) + 1
                    if sent > 1:
                        self.retries = getattr(self, "retries", 0) + 1
                    return send()
        except Retryable as exc:
            problem = exc.problem
            if exc.retry_after is not None and exc.retry_after > cfg.max_retry_after_s:
                problem += f", and it asked to wait {exc.retry_after:g} s, more than {cfg.max_retry_after_s:g} s"
            raise GaveUp(problem, sent) from None
        except StatusError as exc:
            raise GaveUp(str(exc), sent, final=True, status=exc.status) from None
        except Fatal as exc:
            raise GaveUp(str(exc), sent, final=True) from None
        raise AssertionError("unreachable: tenacity returns or raises")

    def _note_retry(self, state: RetryCallState, endpoint: str) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: attempt %d at %s failed (%s); retrying in %.2f s", self.service, state.attempt_number,
                    endpoint, getattr(exc, "problem", exc), delay)


def check_response(resp: httpx.Response) -> None:
    """Raise Retryable for HTTP 408/409/429/5xx (with the Retry-After), StatusError for any other failure."""
    if resp.is_success:
        return
    detail = error_detail(resp)
    if resp.status_code in RETRY_STATUS or resp.status_code >= 500:
        raise Retryable(f"HTTP {resp.status_code}" + (f": {detail}" if detail else ""),
                        retry_after_s(resp.headers.get("Retry-After")))
    raise StatusError(resp.status_code, detail)


def stop_on_long_retry_after(max_s: float) -> stop_base:
    """tenacity stop condition: the server asked to wait longer than `max_s` (the caller then gives up)."""
    from tenacity.stop import stop_base

    class StopOnLongRetryAfter(stop_base):
        def __call__(self, state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            return isinstance(exc, Retryable) and exc.retry_after is not None and exc.retry_after > max_s

    return StopOnLongRetryAfter()


def error_detail(resp: httpx.Response) -> str:
    """The server's error message (OpenAI's {"error": {"message": ...}}, FastAPI's and ElevenLabs'
    {"detail": ...}), else the start of the body."""
    raw = resp.content[:2000].decode("utf-8", "replace")
    try:
        data = json.loads(raw)
        err = data.get("error", data.get("detail", data)) if isinstance(data, dict) else data
        message = err.get("message") if isinstance(err, dict) else err
        if isinstance(message, str) and message.strip():
            raw = message
    except ValueError:
        pass
    return " ".join(raw.split())[:200] or resp.reason_phrase


__all__ = [
    "RETRY_STATUS", "Fatal", "GaveUp", "OpenAIConfig", "OpenAIHttp", "Retryable", "StatusError", "TokenBucket",
    "check_response", "env_number", "error_detail", "retry_after_s", "stop_on_long_retry_after",
]
