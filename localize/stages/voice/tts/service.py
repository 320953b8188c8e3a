"""What the speech-service backends (openai-speech, elevenlabs) share: a voice named with its settings,
and speech answers turned into WAV files.

A service voice is ``NAME`` or ``NAME?key=value&key=value``: the voice (a name, an id, a blend such as
Kokoro-FastAPI's ``af_bella+af_sky``, or ``clone`` to speak like the character's reference clip) and the
settings it is spoken with (``model``, ``speed``, ``language``; ElevenLabs' ``stability``...). A market
gives them per language (``voices = { elevenlabs = "clone?model=eleven_multilingual_v2&stability=0.4" }``),
the series cast per character; the settings are part of the voice, so of every cache key.
"""

from __future__ import annotations

import io
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from localize.core.errors import ConfigError
from localize.core.http import OpenAIConfig, OpenAIHttp, TokenBucket, env_number
from localize.stages.voice.tts import SynthesizerBase

if TYPE_CHECKING:
    import httpx

CLONE = "clone"


@dataclass(frozen=True, slots=True)
class ServiceVoice:
    name: str
    settings: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, voice: str, backend: str, known: Iterable[str]) -> ServiceVoice:
        """`voice` split into its name and settings; a setting outside `known` is a ConfigError."""
        name, _, query = voice.strip().partition("?")
        allowed = tuple(known)
        if not name.strip():
            raise ConfigError(f"{backend} voice {voice!r} names no voice; give a voice name or id, or 'clone'.")
        try:
            pairs = parse_qsl(query, keep_blank_values=False, strict_parsing=bool(query))
        except ValueError:
            raise ConfigError(f"{backend} voice {voice!r}: settings must read key=value&key=value.") from None
        for key, _ in pairs:
            if key not in allowed:
                raise ConfigError(f"{backend} voice {voice!r}: unknown setting {key!r} (known: {', '.join(allowed)}).")
        return cls(name.strip(), tuple(sorted(pairs)))

    @property
    def clones(self) -> bool:
        return self.name == CLONE

    def get(self, key: str, default: str = "") -> str:
        return dict(self.settings).get(key, default)

    def number(self, key: str, backend: str) -> float | None:
        raw = self.get(key)
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{backend} voice setting {key}={raw!r} is not a number.") from None

    def named(self, name: str) -> str:
        """This voice's settings on another voice (a clone's id), as a voice string."""
        return name + (f"?{urlencode(self.settings)}" if self.settings else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceEnv:
    """Where a speech service's configuration comes from: environment variables and defaults."""

    prefix: str  # e.g. "LOCALIZE_SPEECH": <prefix>_TIMEOUT_S and <prefix>_RPM
    base_url_var: str
    key_vars: tuple[str, ...]
    model_var: str
    default_model: str
    default_base_url: str = ""

    def config(self, env: Mapping[str, str] | None = None, **overrides: Any) -> OpenAIConfig:
        """The configuration from `env` (default: os.environ); keyword arguments that are not None win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "base_url": env.get(self.base_url_var) or self.default_base_url,
            "api_key": next((env[v] for v in self.key_vars if env.get(v)), ""),
            "model": env.get(self.model_var) or self.default_model,
            "timeout_s": env_number(env, f"{self.prefix}_TIMEOUT_S", 120.0),
            "requests_per_minute": env_number(env, f"{self.prefix}_RPM", 0.0),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["base_url"] = str(values["base_url"]).strip().rstrip("/")
        return OpenAIConfig(**values)


class ServiceSynthesizer(OpenAIHttp, SynthesizerBase):
    """A TTS backend behind HTTP: the pooled client with retries (OpenAIHttp), a rate limit, counters."""

    ENV: ServiceEnv

    def __init__(self, config: OpenAIConfig | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.config = self.ENV.config() if config is None else config
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._bucket = TokenBucket(self.config.requests_per_minute, sleep=sleep)
        self._client: httpx.Client | None = None
        self.requests = 0
        self.retries = 0

    def clones_with(self, voice: str) -> bool:
        return voice.strip().partition("?")[0].strip() == CLONE


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.hostname or "") + (f":{parts.port}" if parts.port else "")


def path_part(value: str) -> str:
    return quote(value, safe="")


def write_wav(data: bytes, out: Path, what: str) -> None:
    """Decode the service's audio answer (WAV, FLAC, MP3...) and write it as 16-bit PCM WAV; ValueError
    when it is not audio."""
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except (RuntimeError, sf.LibsndfileError, TypeError) as exc:
        snippet = " ".join(data[:80].decode("utf-8", "replace").split())
        raise ValueError(f"{what} is not audio ({snippet!r})") from exc
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if not samples.size:
        raise ValueError(f"{what} holds no audio")
    sf.write(out, samples, rate, subtype="PCM_16")


def write_pcm(data: bytes, rate: int, out: Path, what: str) -> None:
    """Raw 16-bit little-endian mono PCM at `rate` written as WAV."""
    import numpy as np
    import soundfile as sf

    if not data or len(data) % 2:
        raise ValueError(f"{what} is not 16-bit PCM ({len(data)} bytes)")
    sf.write(out, np.frombuffer(data, dtype="<i2"), rate, subtype="PCM_16")


__all__ = ["CLONE", "ServiceVoice", "host_of", "path_part", "write_pcm", "write_wav"]
