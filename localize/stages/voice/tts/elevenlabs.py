"""Dubbing through ElevenLabs: ``POST /v1/text-to-speech/{voice_id}``, voices by id, and instant voice
cloning of a character from the cast's reference clip.

A voice is an ElevenLabs voice id, or ``clone`` to speak like the character's reference clip, either with
settings after ``?`` (:mod:`.service`): ``model`` (``model_id``, default ``LOCALIZE_ELEVENLABS_MODEL`` or
``eleven_multilingual_v2``), ``stability``, ``similarity_boost``, ``style``, ``speaker_boost``, ``speed``
(``voice_settings``), ``language`` (``language_code``) and ``format`` (``output_format``: ``pcm_24000``
by default, or any ``pcm_*``/``mp3_*``; the answer is written as WAV). Requests carry a fixed ``seed``.

``clone`` makes the voice once per reference clip: ``POST /v1/voices/add`` (multipart: ``name``,
``files``) names it ``localize-<sha256 of the clip>``, and a voice of that name already in the account is
used instead of a new one. :meth:`ElevenLabsSynthesizer.voice_for` gives the dub the id, which the voice
stage keeps in the series cast in place of ``clone``, so later episodes speak with it directly.

Configuration (environment only): ``LOCALIZE_ELEVENLABS_API_KEY`` (else ``ELEVENLABS_API_KEY``), sent as
the ``xi-api-key`` header and never logged; ``LOCALIZE_ELEVENLABS_BASE_URL`` (default
``https://api.elevenlabs.io``); ``LOCALIZE_ELEVENLABS_TIMEOUT_S`` (default 120); ``LOCALIZE_ELEVENLABS_RPM``.
Timeouts, lost connections, HTTP 408/409/429/5xx are retried with backoff (Retry-After honoured).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localize.core.errors import ConfigError, ToolFailedError
from localize.core.http import GaveUp, OpenAIConfig, Retryable, check_response
from localize.stages.voice.tts.service import (
    ServiceEnv,
    ServiceSynthesizer,
    ServiceVoice,
    host_of,
    path_part,
    write_pcm,
    write_wav,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

BASE_URL_VAR = "LOCALIZE_ELEVENLABS_BASE_URL"
API_KEY_VARS = ("LOCALIZE_ELEVENLABS_API_KEY", "ELEVENLABS_API_KEY")
MODEL_VAR = "LOCALIZE_ELEVENLABS_MODEL"
DEFAULT_BASE_URL = "https://api.elevenlabs.io"
DEFAULT_MODEL = "eleven_multilingual_v2"
DEFAULT_FORMAT = "pcm_24000"
SEED = 1234
VOICE_SETTINGS = ("stability", "similarity_boost", "style", "speed")
SETTINGS = ("model", *VOICE_SETTINGS, "speaker_boost", "language", "format")
CLONE_PREFIX = "localize-"


ENV = ServiceEnv(prefix="LOCALIZE_ELEVENLABS", base_url_var=BASE_URL_VAR, key_vars=API_KEY_VARS, model_var=MODEL_VAR,
                 default_model=DEFAULT_MODEL, default_base_url=DEFAULT_BASE_URL)
config_from_env = ENV.config  # the configuration from the environment (or a mapping), keyword overrides winning


class ElevenLabsSynthesizer(ServiceSynthesizer):
    name = "elevenlabs"
    clones = True  # the voice 'clone' makes an instant clone of the character's reference clip
    expressive = False  # `pitch_range` is accepted and ignored
    service = "elevenlabs"

    ENV = ENV

    def __init__(self, config: OpenAIConfig | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        super().__init__(config, sleep=sleep, rng=rng)
        self._known: set[str] = set()  # voice ids the account has
        self._clones: dict[str, str] = {}  # reference sha256 -> the voice id made from it
        self.created: list[str] = []  # voice ids this instance made

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "xi-api-key": self.config.api_key}

    def _configured(self) -> None:
        if not self.config.api_key:
            raise ConfigError(f"TTS backend 'elevenlabs' has no API key; set {API_KEY_VARS[0]} (or "
                              f"{API_KEY_VARS[1]}) in the environment.")

    def _voice(self, voice: str) -> ServiceVoice:
        return ServiceVoice.parse(voice, self.name, SETTINGS)

    def model_version(self, voice: str) -> str:
        v = self._voice(voice)
        return f"elevenlabs:{host_of(self.config.base_url)}:{v.get('model') or self.config.model}:seed{SEED}"

    def default_voice(self, language: str) -> str | None:
        return None  # an account's voices are its own: the market or the cast names one

    def check(self, voice: str) -> None:
        """The key, the settings, and that the account has the voice (``GET /v1/voices/{id}``)."""
        self._configured()
        v = self._voice(voice)
        for key in VOICE_SETTINGS:
            v.number(key, self.name)
        if v.clones or v.name in self._known:
            return
        url = f"{self.config.base_url}/v1/voices/{path_part(v.name)}"
        try:
            self._retried(lambda: self._send("GET", url), url)
        except GaveUp as exc:
            if exc.status in (400, 404):
                raise ConfigError(f"ElevenLabs has no voice {v.name!r} ({exc.problem}); give a voice id of the "
                                  "account (or 'clone') under the market's voices or the cast's.") from None
            raise self._error(exc, f"looking up the voice {v.name!r}") from None
        self._known.add(v.name)

    def voice_for(self, voice: str, reference: Path | None) -> str:
        """The voice a line is spoken in: for ``clone``, the id of the voice made from `reference` (made
        once: a voice named for the clip's sha256 is reused), with the voice's settings."""
        v = self._voice(voice)
        if not v.clones:
            return voice
        if reference is None:
            raise ConfigError("elevenlabs voice 'clone' needs the character's reference clip; give a voice id "
                              "instead, or dub with the cast's references.")
        from localize.core.cache import file_sha256

        self._configured()
        sha = file_sha256(reference)
        if sha not in self._clones:
            name = CLONE_PREFIX + sha[:16]
            self._clones[sha] = self._existing(name) or self._clone(reference, name)
        return v.named(self._clones[sha])

    def _existing(self, name: str) -> str | None:
        url = f"{self.config.base_url}/v1/voices"
        try:
            resp = self._retried(lambda: self._send("GET", url), url)
        except GaveUp as exc:
            raise self._error(exc, "listing the account's voices") from None
        try:
            voices = resp.json().get("voices") or []
        except (ValueError, AttributeError):
            voices = []
        for found in voices:
            if isinstance(found, dict) and found.get("name") == name and found.get("voice_id"):
                log.info("elevenlabs: reusing the cloned voice %s (%s)", found["voice_id"], name)
                return str(found["voice_id"])
        return None

    def _clone(self, reference: Path, name: str) -> str:
        url = f"{self.config.base_url}/v1/voices/add"
        clip = reference.read_bytes()

        def send() -> httpx.Response:
            fields = {"name": name, "description": "made by localize from a cast reference clip"}
            return self._send("POST", url, data=fields, files={"files": (reference.name, clip, "audio/wav")})

        try:
            resp = self._retried(send, url)
        except GaveUp as exc:
            raise self._error(exc, f"cloning a voice from {reference.name}") from None
        try:
            voice_id = str(resp.json()["voice_id"])
        except (ValueError, KeyError, TypeError):
            raise ToolFailedError(f"ElevenLabs {url}", f"cloning a voice from {reference.name}",
                                  "the answer has no voice_id") from None
        log.info("elevenlabs: made the voice %s (%s) from %s", voice_id, name, reference.name)
        self.created.append(voice_id)
        self._known.add(voice_id)
        return voice_id

    def synthesize(self, text: str, voice: str, out: Path, *, reference: Path | None = None,
                   pitch_range: int = 100) -> None:
        self._configured()
        v = self._voice(self.voice_for(voice, reference))
        fmt = v.get("format") or DEFAULT_FORMAT
        body: dict[str, Any] = {"text": text, "model_id": v.get("model") or self.config.model, "seed": SEED}
        settings: dict[str, Any] = {k: v.number(k, self.name) for k in VOICE_SETTINGS if v.get(k)}
        if v.get("speaker_boost"):
            settings["use_speaker_boost"] = v.get("speaker_boost").lower() in ("1", "true", "yes", "on")
        if settings:
            body["voice_settings"] = settings
        if v.get("language"):
            body["language_code"] = v.get("language")
        url = f"{self.config.base_url}/v1/text-to-speech/{path_part(v.name)}"
        try:
            resp = self._retried(lambda: self._send("POST", url, json=body, params={"output_format": fmt}), url)
        except GaveUp as exc:
            if exc.status in (400, 404) and "voice" in exc.problem.lower():
                raise ConfigError(f"ElevenLabs has no voice {v.name!r} ({exc.problem}); give a voice id of the "
                                  "account (or 'clone').") from None
            raise self._error(exc, f"speaking {text[:40]!r}") from None
        try:
            if fmt.startswith("pcm_"):
                write_pcm(resp.content, int(fmt.split("_")[1]), out, f"the answer of {url}")
            else:
                write_wav(resp.content, out, f"the answer of {url}")
        except ValueError as exc:
            raise ToolFailedError(f"ElevenLabs {url}", f"speaking {text[:40]!r}", str(exc)) from None

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        import httpx

        self._bucket.acquire()
        try:
            resp = self._http().request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise Retryable(f"no answer within the {self.config.timeout_s:g} s timeout") from None
        except httpx.TransportError as exc:
            raise Retryable(f"connection failed ({str(exc) or type(exc).__name__})") from None
        check_response(resp)
        return resp

    def _error(self, exc: GaveUp, what: str) -> Exception:
        if exc.status in (401, 403):
            return ConfigError(f"ElevenLabs refused the key ({exc.problem}); set {API_KEY_VARS[0]} to a valid "
                               "API key.")
        problem = exc.problem
        if problem.startswith(("connection failed", "no answer")):
            problem += f"; check {BASE_URL_VAR} (default {DEFAULT_BASE_URL}) and the network"
        tries = f"after {exc.attempts} attempt{'s' if exc.attempts != 1 else ''}"
        return ToolFailedError(f"ElevenLabs {self.config.base_url}", f"{what} ({tries})", problem.rstrip("."))

    def release(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


__all__ = ["ElevenLabsSynthesizer", "config_from_env"]
