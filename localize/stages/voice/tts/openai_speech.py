"""Dubbing through any OpenAI-compatible speech server: ``POST {base_url}/audio/speech``.

Served by OpenAI itself, Kokoro-FastAPI (voice names and blends such as ``af_bella+af_sky``), vLLM-Omni
(Qwen3-TTS, CosyVoice 3, Fish Speech), and the other servers that copy OpenAI's route. The request is
JSON: ``model``, ``input``, ``voice``, ``speed``, ``response_format: "wav"`` (and ``language`` and
``instructions`` where the voice sets them). The voice ``clone`` speaks like the character's reference
clip instead: it sends the fields vLLM-Omni's servers take for cloning, ``task_type: "Base"`` and
``ref_audio`` (the clip as a base64 ``data:audio/wav`` URL), without a ``voice``.

Configuration (from the environment; a voice's settings win, see :mod:`.service`):

* ``LOCALIZE_SPEECH_BASE_URL``: the server, e.g. ``http://127.0.0.1:8880/v1`` (required);
* ``LOCALIZE_SPEECH_API_KEY`` (else ``OPENAI_API_KEY``): sent as a bearer token when set, never logged;
* ``LOCALIZE_SPEECH_MODEL`` (default ``tts-1``; a voice's ``model=`` wins);
* ``LOCALIZE_SPEECH_TIMEOUT_S`` (default 120) and ``LOCALIZE_SPEECH_RPM`` (requests per minute; 0, the
  default, is unlimited).

Timeouts, lost connections and HTTP 408/409/429/5xx are retried with backoff (the server's Retry-After
honoured); an unknown voice, a refused key or an unreachable server is a one-line error. Nothing is cached
here: the dub caches a line's clip only once it is written.
"""

from __future__ import annotations

import base64
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localize.core.errors import ConfigError, ToolFailedError, UnknownNameError
from localize.core.http import GaveUp, OpenAIConfig, Retryable, check_response
from localize.stages.voice.tts.service import ServiceEnv, ServiceSynthesizer, ServiceVoice, host_of, write_wav

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

BASE_URL_VAR = "LOCALIZE_SPEECH_BASE_URL"
API_KEY_VARS = ("LOCALIZE_SPEECH_API_KEY", "OPENAI_API_KEY")
MODEL_VAR = "LOCALIZE_SPEECH_MODEL"
DEFAULT_MODEL = "tts-1"
SETTINGS = ("model", "speed", "language", "instructions", "task_type")


ENV = ServiceEnv(prefix="LOCALIZE_SPEECH", base_url_var=BASE_URL_VAR, key_vars=API_KEY_VARS, model_var=MODEL_VAR,
                 default_model=DEFAULT_MODEL)
config_from_env = ENV.config  # the configuration from the environment (or a mapping), keyword overrides winning


class OpenAISpeechSynthesizer(ServiceSynthesizer):
    name = "openai-speech"
    clones = True  # the voice 'clone' sends the character's reference clip
    expressive = False  # `pitch_range` is accepted and ignored
    service = "openai-speech"

    ENV = ENV

    def __init__(self, config: OpenAIConfig | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        super().__init__(config, sleep=sleep, rng=rng)
        self._served: list[str] | None = None  # the server's voice list, where it gives one

    @property
    def endpoint(self) -> str:
        return f"{self.config.base_url}/audio/speech"

    def _configured(self) -> None:
        if not self.config.base_url:
            raise ConfigError(f"TTS backend 'openai-speech' is not configured; set {BASE_URL_VAR} to an "
                              "OpenAI-compatible speech server (e.g. http://127.0.0.1:8880/v1).")

    def _voice(self, voice: str) -> ServiceVoice:
        return ServiceVoice.parse(voice, self.name, SETTINGS)

    def model_version(self, voice: str) -> str:
        self._configured()
        v = self._voice(voice)
        return f"openai-speech:{host_of(self.config.base_url)}:{v.get('model') or self.config.model}"

    def default_voice(self, language: str) -> str | None:
        return None  # a server's voices are its own: the market names one

    def check(self, voice: str) -> None:
        """The configuration, the server's answer, and the voice where the server lists its voices
        (Kokoro-FastAPI's ``GET /audio/voices``)."""
        self._configured()
        v = self._voice(voice)
        if v.clones:
            return
        served = self._voices()
        parts = [p.split("(")[0].strip() for p in v.name.split("+")]  # a blend: 'af_bella(2)+af_sky(1)'
        if served is not None:
            for part in parts:
                if part not in served:
                    raise UnknownNameError(f"voice of the speech server {self.config.base_url}", part, served)

    def _voices(self) -> list[str] | None:
        if self._served is None:
            import httpx

            url = f"{self.config.base_url}/audio/voices"
            try:
                resp = self._http().get(url, timeout=min(self.config.timeout_s, 10.0))
            except httpx.TransportError as exc:
                raise ConfigError(f"the speech server {self.config.base_url} cannot be reached "
                                  f"({str(exc) or type(exc).__name__}); start it or set {BASE_URL_VAR}.") from None
            if resp.status_code in (401, 403):
                raise ConfigError(f"the speech server {self.config.base_url} refused the key (HTTP "
                                  f"{resp.status_code}); set {API_KEY_VARS[0]}.")
            try:
                data = resp.json() if resp.is_success else None
            except ValueError:
                data = None
            listed = data.get("voices") if isinstance(data, dict) else None
            if not isinstance(listed, list):
                return None  # the server lists no voices: each is checked by its first line
            self._served = [str(x.get("id") or x.get("name") if isinstance(x, dict) else x) for x in listed]
        return self._served

    def synthesize(self, text: str, voice: str, out: Path, *, reference: Path | None = None,
                   pitch_range: int = 100) -> None:
        self._configured()
        v = self._voice(voice)
        body: dict[str, Any] = {"model": v.get("model") or self.config.model, "input": text,
                                "response_format": "wav", "speed": v.number("speed", self.name) or 1.0}
        for key in ("language", "instructions", "task_type"):
            if v.get(key):
                body[key] = v.get(key)
        if v.clones:
            if reference is None:
                raise ConfigError("openai-speech voice 'clone' needs the character's reference clip; name a "
                                  "server voice instead, or dub with the cast's references.")
            body.setdefault("task_type", "Base")
            body["ref_audio"] = "data:audio/wav;base64," + base64.b64encode(reference.read_bytes()).decode()
        else:
            body["voice"] = v.name
        try:
            data = self._retried(lambda: self._post(body), self.endpoint)
        except GaveUp as exc:
            raise self._error(exc, v, text) from None
        try:
            write_wav(data, out, f"the answer of {self.endpoint}")
        except ValueError as exc:
            raise ToolFailedError(f"the speech server {self.endpoint}", f"speaking {_short(text)!r}",
                                  str(exc)) from None

    def _post(self, body: dict[str, Any]) -> bytes:
        import httpx

        self._bucket.acquire()
        try:
            resp = self._http().post(self.endpoint, json=body, headers={"Accept": "audio/wav"})
        except httpx.TimeoutException:
            raise Retryable(f"no answer within the {self.config.timeout_s:g} s timeout") from None
        except httpx.TransportError as exc:
            raise Retryable(f"connection failed ({str(exc) or type(exc).__name__})") from None
        check_response(resp)
        return resp.content

    def _error(self, exc: GaveUp, v: ServiceVoice, text: str) -> Exception:
        where = f"the speech server {self.endpoint}"
        if exc.status in (401, 403):
            return ConfigError(f"{where} refused the key ({exc.problem}); set {API_KEY_VARS[0]} to its API key.")
        if exc.status in (400, 404, 422) and "voice" in exc.problem.lower() and not v.clones:
            return ConfigError(f"{where} does not know the voice {v.name!r} ({exc.problem}); name one it serves "
                               "under the market's voices.")
        if exc.status == 404:
            return ConfigError(f"{where} has no such route or model ({exc.problem}); check {BASE_URL_VAR} (it "
                               f"usually ends in /v1) and {MODEL_VAR}.")
        problem = exc.problem
        if problem.startswith(("connection failed", "no answer")):
            problem += f"; is the server running? Set {BASE_URL_VAR} to its URL"
        tries = f"after {exc.attempts} attempt{'s' if exc.attempts != 1 else ''}"
        return ToolFailedError(where, f"speaking {_short(text)!r} ({tries})", problem.rstrip("."))

    def release(self) -> None:
        """Close the HTTP connections (a later request opens new ones)."""
        if self._client is not None:
            self._client.close()
            self._client = None


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


__all__ = ["OpenAISpeechSynthesizer", "config_from_env"]
