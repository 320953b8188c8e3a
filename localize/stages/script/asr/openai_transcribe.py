"""Speech recognition by any OpenAI-compatible transcription endpoint (OpenAI, vLLM, speaches).

A larger Whisper (large-v3, large-v3-turbo) served on another machine reads the episode:
``POST {base_url}/audio/transcriptions`` with the 16 kHz WAV as multipart ``file``, ``model``,
``language`` when forced, ``response_format=verbose_json`` and ``timestamp_granularities[]=word`` and
``segment``. The verbose JSON answer (``language``, ``segments``, ``words`` in seconds) becomes a
:class:`~localize.stages.script.asr.RawTranscript`: words in milliseconds, grouped by the segment they
fall in, as the in-process recognizer groups them. OpenAI names the language ("english"), speaches
gives its code ("en"): both become ISO 639-1 codes through langcodes.

Configuration (arguments win over the environment; the translate backend's variables are the fallback,
so one OpenAI account serves both):

* ``LOCALIZE_ASR_OPENAI_BASE_URL`` (else ``LOCALIZE_OPENAI_BASE_URL``, ``OPENAI_BASE_URL``): the
  endpoint, e.g. ``http://gpu-box:8000/v1``;
* ``LOCALIZE_ASR_OPENAI_API_KEY`` (else ``LOCALIZE_OPENAI_API_KEY``, ``OPENAI_API_KEY``): sent as a
  bearer token when set, never logged;
* the model: ``--asr-model`` / ``AsrOptions.model`` when it is not the packaged ``base``, else
  ``LOCALIZE_ASR_OPENAI_MODEL`` (default ``whisper-1``, which speaches maps to its default model);
* ``LOCALIZE_ASR_OPENAI_TIMEOUT_S`` (default 600: a whole episode is one request) and
  ``LOCALIZE_ASR_OPENAI_RPM`` (requests per minute; 0, the default, is unlimited).

``vad`` and ``beam_size`` are the server's business: the API has no such fields. Timeouts, lost
connections and HTTP 408/409/429/5xx are retried by tenacity with exponential backoff and jitter (a
``Retry-After`` header is honoured); anything else, or the last failure, raises a one-line
:class:`~localize.core.errors.LocalizeError` naming the variable to set. Nothing is cached here: the
script stage caches a finished transcript only.
"""

from __future__ import annotations

import logging
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from localize.core.errors import ConfigError, MediaError, ToolFailedError
from localize.stages.script.asr import AsrOptions, RawTranscript, RawWord
from localize.stages.translate.openai_backend import (
    RETRY_STATUS,
    OpenAIConfig,
    OpenAIHttp,
    TokenBucket,
    _env_number,
    _error_detail,
    _Fatal,
    _Retryable,
    _stop_on_long_retry_after,
    retry_after_s,
)

if TYPE_CHECKING:
    import httpx
    from tenacity import RetryCallState

log = logging.getLogger(__name__)

BASE_URL_VARS = ("LOCALIZE_ASR_OPENAI_BASE_URL", "LOCALIZE_OPENAI_BASE_URL", "OPENAI_BASE_URL")
API_KEY_VARS = ("LOCALIZE_ASR_OPENAI_API_KEY", "LOCALIZE_OPENAI_API_KEY", "OPENAI_API_KEY")
MODEL_VAR = "LOCALIZE_ASR_OPENAI_MODEL"
DEFAULT_MODEL = "whisper-1"
DEFAULT_TIMEOUT_S = 600.0
PACKAGED_DEFAULT = AsrOptions().model  # 'base': the in-process default, not a server model name
# Languages written without spaces between words: a word OpenAI returns bare gets no leading space.
UNSPACED = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "yue"})


def config_from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> OpenAIConfig:
    """The transcription endpoint's configuration from `env` (default: os.environ); keyword arguments
    that are not None win."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {
        "base_url": next((env[v] for v in BASE_URL_VARS if env.get(v)), ""),
        "api_key": next((env[v] for v in API_KEY_VARS if env.get(v)), ""),
        "model": env.get(MODEL_VAR) or DEFAULT_MODEL,
        "timeout_s": _env_number(env, "LOCALIZE_ASR_OPENAI_TIMEOUT_S", DEFAULT_TIMEOUT_S),
        "requests_per_minute": _env_number(env, "LOCALIZE_ASR_OPENAI_RPM", 0.0),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["base_url"] = str(values["base_url"]).strip().rstrip("/")
    return OpenAIConfig(**values)


def language_code(name: str) -> str:
    """ISO 639-1 code (else the shortest code langcodes knows) of a language as a transcription server
    names it: 'english' -> 'en', 'chinese' -> 'zh', 'en' -> 'en', 'pt-BR' -> 'pt'; '' when unknown."""
    import langcodes

    value = name.strip().replace("_", "-")
    if not value:
        return ""
    try:
        if len(value.split("-")[0]) <= 3 and langcodes.tag_is_valid(value):
            found = langcodes.Language.get(value)
        else:
            found = langcodes.find(value)
        return str(langcodes.Language.get(langcodes.standardize_tag(found.language or "", macro=True)).language
                   or "")
    except (LookupError, ValueError):
        return ""


def _ms(seconds: Any) -> int:
    return round(float(seconds) * 1000)


def _segment_probability(segment: Mapping[str, Any]) -> float:
    """A word's probability where the server gives none: the segment's mean token probability."""
    logprob = segment.get("avg_logprob")
    if isinstance(logprob, (int, float)) and math.isfinite(logprob):
        return min(1.0, max(0.0, math.exp(logprob)))
    return 1.0


def _spell(words: Sequence[Mapping[str, Any]], text: str, language: str) -> list[str]:
    """Each word's text as the in-process recognizer writes it: leading space and punctuation included.

    OpenAI returns bare words ("Americans") beside the segment's text (" my fellow Americans, ask"): the
    text is cut at each word's start (a space before it goes with it), so the pieces join into the
    segment's text exactly and a sentence-ending mark stays on its word. Words that already carry their
    spacing (speaches, faster-whisper) are kept as they are."""
    raw = [str(w.get("word", "")) for w in words]
    if any(r[:1].isspace() for r in raw):
        return raw
    starts: list[int] = []
    cursor = 0
    folded = text.casefold()
    for r in raw:
        core = r.strip()
        at = text.find(core, cursor) if core else cursor
        if at < 0 and len(folded) == len(text):  # 'Bible' in 'bible': a server that recases one of them
            at = folded.find(core.casefold(), cursor)
        if at < 0:
            space = "" if language in UNSPACED else " "
            return [space + r.strip() for r in raw]
        found, lead = at, at  # an opening mark after a space (' "forty') goes with the word it opens
        while lead > cursor and not text[lead - 1].isalnum() and not text[lead - 1].isspace():
            lead -= 1
        if lead < at and (lead == 0 or text[lead - 1].isspace()):
            at = lead
        while at > cursor and text[at - 1].isspace():
            at -= 1
        starts.append(at)
        cursor = found + len(core)
    if not starts:
        return []
    starts[0] = 0  # anything before the first word (an opening quote) goes with it
    ends = [*starts[1:], len(text)]
    return [text[a:b] for a, b in zip(starts, ends, strict=True)]


def _raw_words(words: Sequence[Mapping[str, Any]], text: str, language: str, fallback_p: float) -> tuple[RawWord, ...]:
    out = []
    for word, spelled in zip(words, _spell(words, text, language), strict=True):
        start, end = _ms(word["start"]), _ms(word["end"])
        p = word.get("probability")
        prob = float(p) if isinstance(p, (int, float)) and math.isfinite(p) else fallback_p
        out.append(RawWord(start, max(start, end), spelled, prob))
    return tuple(out)


def parse_verbose(data: Mapping[str, Any], forced: str | None = None) -> RawTranscript:
    """A verbose_json transcription as a RawTranscript (ValueError/KeyError/TypeError if it is none).

    Words come from each segment's ``words`` (speaches) or from the top-level ``words`` (OpenAI), each
    given to the segment its middle falls in; a server that returns no word times gives each segment as
    one timed unit."""
    if not isinstance(data, Mapping):
        raise TypeError("the answer is not a JSON object")
    heard = language_code(str(data.get("language") or ""))
    language = forced or heard
    if not language:
        raise ValueError(f"it names no language this client knows ({data.get('language')!r})")
    segments = [s for s in (data.get("segments") or []) if isinstance(s, Mapping)]
    top = [w for w in (data.get("words") or []) if isinstance(w, Mapping)]
    groups: list[tuple[RawWord, ...]] = []
    if any(s.get("words") for s in segments):
        for seg in segments:
            group = _raw_words(seg.get("words") or [], str(seg.get("text", "")), language, _segment_probability(seg))
            if group:
                groups.append(group)
    elif top:
        if not segments:
            segments = [{"text": " ".join(str(w.get("word", "")).strip() for w in top)}]
        assigned: list[list[Mapping[str, Any]]] = [[] for _ in segments]
        i = 0
        for word in top:
            middle = (float(word["start"]) + float(word["end"])) / 2
            while i < len(segments) - 1 and middle >= float(segments[i + 1].get("start", math.inf)):
                i += 1
            assigned[i].append(word)
        for seg, seg_words in zip(segments, assigned, strict=True):
            group = _raw_words(seg_words, str(seg.get("text", "")), language, _segment_probability(seg))
            if group:
                groups.append(group)
    elif segments:
        log.warning("openai: the server returned no word times; each segment is timed as one unit")
        for seg in segments:
            text = str(seg.get("text", ""))
            if text.strip():
                start, end = _ms(seg["start"]), _ms(seg["end"])
                groups.append((RawWord(start, max(start, end), text, _segment_probability(seg)),))
    # The API reports no language probability: the server's choice is taken as certain.
    return RawTranscript(language=language, language_probability=1.0, segments=tuple(groups),
                         detected_language="" if forced else heard, detected_probability=0.0 if forced else 1.0)


class OpenAITranscriber(OpenAIHttp):
    """A :class:`~localize.stages.script.asr.Recognizer` over ``/audio/transcriptions`` (httpx for HTTP,
    tenacity for the retries)."""

    name = "openai"

    def __init__(self, options: AsrOptions | None = None, *, config: OpenAIConfig | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        self.options = options or AsrOptions()
        base = config_from_env() if config is None else config
        if self.options.model and self.options.model != PACKAGED_DEFAULT:
            from dataclasses import replace

            base = replace(base, model=self.options.model)
        self.config = base
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._bucket = TokenBucket(self.config.requests_per_minute, sleep=sleep)
        self._client: httpx.Client | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.config.base_url}/audio/transcriptions"

    def available(self) -> None:
        if not self.config.base_url:
            raise ConfigError(
                "ASR backend 'openai' is not configured; set LOCALIZE_ASR_OPENAI_BASE_URL to an OpenAI-compatible "
                "transcription server (e.g. http://127.0.0.1:8000/v1), and OPENAI_API_KEY if it needs one."
            )

    def model_version(self) -> str:
        self.available()
        parts = urlsplit(self.config.base_url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return f"openai:{host}:{self.config.model}"

    def release(self) -> None:
        """Close the HTTP connections (a later request opens new ones)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- Recognizer ---------------------------------------------------------------------------------

    def recognize(self, audio: Path) -> RawTranscript:
        """Transcribe a 16 kHz mono WAV into words with timings (one request for the whole file)."""
        fields: dict[str, Any] = {"response_format": "verbose_json",
                                  "timestamp_granularities[]": ["word", "segment"]}
        if self.options.language:
            fields["language"] = self.options.language
        what = f"transcribing {audio.name} with model {self.config.model}"
        data = self._request(audio, fields, what)
        try:
            return parse_verbose(data, self.options.language)
        except (ValueError, KeyError, TypeError) as exc:
            raise self._failed(what, f"the answer is not a verbose_json transcription ({exc})") from None

    def transcribe_clip(self, clip: Path, language: str, *, max_tokens: int | None = None) -> str:
        """The text heard in a short clip, at temperature 0 so a clip always reads the same. The API has no
        token limit: `max_tokens` is not sent (the server decodes the clip whole)."""
        fields = {"response_format": "json", "language": language, "temperature": "0"}
        data = self._request(clip, fields, f"transcribing the clip {clip.name} with model {self.config.model}")
        text = data.get("text") if isinstance(data, Mapping) else None
        if not isinstance(text, str):
            raise self._failed(f"transcribing the clip {clip.name}", "the answer has no text")
        return text.strip()

    def detect_language(self, media: Path, seconds: float = 30.0) -> tuple[str, float]:
        """(language, probability) the server hears in the first `seconds` of `media`, so a run can check
        its translation routes before the heavy work. The API gives no probability: it is 1.0."""
        from localize.core.media.ffmpeg import run_ffmpeg

        with tempfile.TemporaryDirectory(prefix="localize-asr-") as tmp:
            head = Path(tmp) / "head.wav"
            try:
                run_ffmpeg(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-i", str(media), "-t", f"{seconds:g}",
                            "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(head)],
                           f"reading the audio of {media}")
            except ToolFailedError as exc:
                raise MediaError(media, f"cannot read its audio ({exc.last_line})", "check the file") from exc
            what = f"detecting the language of {media.name} with model {self.config.model}"
            data = self._request(head, {"response_format": "verbose_json"}, what)
        language = language_code(str(data.get("language") or "")) if isinstance(data, Mapping) else ""
        if not language:
            raise self._failed(what, "the answer names no known language; pass --language")
        return language, 1.0

    # -- HTTP ---------------------------------------------------------------------------------------

    def _request(self, path: Path, fields: Mapping[str, Any], what: str) -> Any:
        """The JSON answer to one upload of `path`, retried on timeouts, lost connections and HTTP
        408/409/429/5xx with exponential backoff and jitter, or the server's Retry-After."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

        self.available()
        cfg = self.config
        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(cfg.retries + 1) | _stop_on_long_retry_after(cfg.max_retry_after_s),
            wait=self._wait, sleep=self._sleep, before_sleep=self._log_retry, reraise=True,
        )
        sent = 0
        try:
            for attempt in retrying:
                with attempt:
                    sent += 1
                    return self._post(path, fields)
        except _Retryable as exc:
            problem = exc.problem
            if exc.retry_after is not None and exc.retry_after > cfg.max_retry_after_s:
                problem += f", and it asked to wait {exc.retry_after:g} s, more than {cfg.max_retry_after_s:g} s"
            elif problem.startswith(("connection failed", "no answer")):
                problem += (f"; is the server running? Set {BASE_URL_VARS[0]} to its URL "
                            "(e.g. http://127.0.0.1:8000/v1)")
            raise self._failed(f"{what} (after {sent} attempt{'s' if sent != 1 else ''})", problem) from None
        except _Fatal as exc:
            raise self._failed(what, str(exc)) from None
        raise AssertionError("unreachable: tenacity returns or raises")

    def _post(self, path: Path, fields: Mapping[str, Any]) -> Any:
        import httpx

        cfg = self.config
        self._bucket.acquire()
        try:
            with path.open("rb") as fh:
                resp = self._http().post(self.endpoint, data={"model": cfg.model, **fields},
                                         files={"file": (path.name, fh, "audio/wav")})
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within the {cfg.timeout_s:g} s timeout (raise "
                             "LOCALIZE_ASR_OPENAI_TIMEOUT_S for long episodes)") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed ({str(exc) or type(exc).__name__})") from None
        if not resp.is_success:
            detail = _error_detail(resp)
            problem = f"HTTP {resp.status_code}" + (f": {detail}" if detail else "")
            if resp.status_code in RETRY_STATUS or resp.status_code >= 500:
                raise _Retryable(problem, retry_after_s(resp.headers.get("Retry-After")))
            raise _Fatal(problem + _hint(resp.status_code))
        try:
            return resp.json()
        except ValueError:
            snippet = " ".join(resp.content[:120].decode("utf-8", "replace").split())
            raise _Fatal(f"the answer is not JSON ({snippet!r}); check {BASE_URL_VARS[0]} (it usually ends in "
                         "/v1)") from None

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("openai asr: attempt %d at %s failed (%s); retrying in %.2f s", state.attempt_number,
                    self.endpoint, getattr(exc, "problem", exc), delay)

    def _failed(self, what: str, problem: str) -> ToolFailedError:
        return ToolFailedError(f"the OpenAI-compatible transcription endpoint {self.endpoint}", what,
                               problem.rstrip("."))


def _hint(code: int) -> str:
    if code in (401, 403):
        return f"; set {API_KEY_VARS[0]} (or OPENAI_API_KEY) to the server's API key"
    if code == 404:
        return f"; check {BASE_URL_VARS[0]} (it usually ends in /v1) and {MODEL_VAR} (or --asr-model)"
    return ""


__all__ = ["OpenAITranscriber", "config_from_env", "language_code", "parse_verbose"]
