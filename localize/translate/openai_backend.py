"""Any OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM, hosted).

Configured from the environment: ``LOCALIZE_OPENAI_BASE_URL`` (or
``OPENAI_BASE_URL``), ``OPENAI_API_KEY`` and ``LOCALIZE_OPENAI_MODEL``. The
model answers a JSON object ``{"translations": [...]}``, one string per line;
a malformed answer or an HTTP 429/5xx is retried with backoff.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from ..errors import ConfigError, ToolFailedError

log = logging.getLogger(__name__)
ANY_PAIR = ("*", "*")

SYSTEM_PROMPT = (
    "You translate dialogue lines of a short drama for dubbing. Keep each line's meaning, tone and "
    "register; render idioms with natural equivalents, not literally; keep names. Keep each line about "
    "as long as the original so it fits the same time. Answer only with a JSON object "
    '{"translations": [...]} holding exactly one translated string per input line, in order.'
)


class OpenAITranslator:
    name = "openai"

    def __init__(self, base_url: str | None = None, api_key: str | None = None, model: str | None = None,
                 timeout_s: float = 60.0, retries: int = 3) -> None:
        self.base_url = (base_url or os.environ.get("LOCALIZE_OPENAI_BASE_URL")
                         or os.environ.get("OPENAI_BASE_URL") or "").rstrip("/")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY", "")
        self.model = model or os.environ.get("LOCALIZE_OPENAI_MODEL", "gpt-4o-mini")
        self.timeout_s = timeout_s
        self.retries = retries

    def model_version(self) -> str:
        return f"openai:{self.base_url}:{self.model}"

    def pairs(self) -> frozenset[tuple[str, str]]:
        if not self.base_url:
            raise ConfigError(
                "backend 'openai' is not configured; set LOCALIZE_OPENAI_BASE_URL (and OPENAI_API_KEY, "
                "LOCALIZE_OPENAI_MODEL) to an OpenAI-compatible endpoint."
            )
        return frozenset({ANY_PAIR})

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        user = json.dumps({"source_language": source, "target_language": target, "lines": list(texts)},
                          ensure_ascii=False)
        body = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}],
        }
        last_error = ""
        for attempt in range(self.retries):
            if attempt:
                time.sleep(min(2 ** attempt, 30))
            try:
                answer = self._post(body)
                out = json.loads(answer)["translations"]
                if isinstance(out, list) and len(out) == len(texts) and all(isinstance(t, str) for t in out):
                    return [t.strip() for t in out]
                last_error = f"answer held {len(out) if isinstance(out, list) else 'no'} lines for {len(texts)}"
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}"
                if exc.code not in (408, 409, 429) and exc.code < 500:
                    break
            except (urllib.error.URLError, TimeoutError, ValueError, KeyError, TypeError) as exc:
                last_error = str(exc)
            log.warning("openai: attempt %d failed: %s", attempt + 1, last_error)
        raise ToolFailedError("openai endpoint", f"translating {source}->{target} at {self.base_url}", last_error)

    def _post(self, body: dict) -> str:
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
            data = json.loads(resp.read().decode("utf-8"))
        return data["choices"][0]["message"]["content"]
