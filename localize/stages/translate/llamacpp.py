"""Any GGUF language model run in-process by llama.cpp (the ``xllamacpp`` runtime), as an adapter.

This is the offline default translator. With nothing configured it runs the packaged
Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, Apache-2.0; ``models/manifest.toml``), joined from its part
wheels and checked against the upstream file's sha256. A better GGUF (Qwen2.5-7B-Instruct,
Hunyuan-MT-7B...) runs through the same code: name it in a market file (``llm = { model =
"/models/qwen2.5-7b-instruct-q4_k_m.gguf", sha256 = "..." }``), or in ``LOCALIZE_LLAMACPP_MODEL``
(and ``LOCALIZE_LLAMACPP_SHA256`` to pin it).

By default each line is one request (``prompts/line.txt``; :func:`~.adapt.build_line_messages`): on
episode B the packaged 1.5B model scored chrF 37.8 that way in 69 s (shorter rewrites included), against
36.0 in 218 s for the batch prompt of 8 lines with context. A larger model may do better with the batch
prompt (context, previous lines): ``llm = { lines_per_request = 0 }`` in a market file sends every batch
whole, as the OpenAI-compatible adapter does. Either way decoding is greedy under a grammar built from
the answer's JSON schema (:func:`~.adapt.line_schema`, :func:`~.adapt.answer_schema`): llama.cpp can
only emit the object asked for, with the requested ids in order and non-empty texts, so a malformed
answer cannot happen (one is still checked, and asked again once). The system prompt is the same for
every line of a market, so llama.cpp's prompt cache evaluates it once. The model loads once per process
(batch workers keep it, see :mod:`localize.core.modelcache`) and is released when the translation stage
ends.

llama.cpp's server object also listens on a random loopback port; localize gives it a random API key
that it never logs, so nothing can use it from outside the process.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localize.core import modelcache
from localize.core.errors import ConfigError, MissingExtraError, ModelError, ModelIntegrityError
from localize.stages.translate.adapt import (
    AdaptRequest,
    LineAnswer,
    MalformedAnswer,
    answer_schema,
    build_line_messages,
    build_messages,
    line_schema,
    parse_answer,
    parse_line_answer,
    per_line,
    plain_translate,
    prompts_digest,
)
from localize.stages.translate.openai_backend import ANY_PAIR

log = logging.getLogger(__name__)

ENV_MODEL = "LOCALIZE_LLAMACPP_MODEL"
ENV_SHA256 = "LOCALIZE_LLAMACPP_SHA256"
DEFAULT_MODEL_ID = "qwen2.5-coder-1.5b-instruct-q4_k_m"
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True, slots=True)
class GgufModel:
    path: Path
    label: str  # the manifest id, or the file name
    sha256: str  # "" for a user's file given without one

    @property
    def fingerprint(self) -> str:
        """The file's identity for the model version: its sha256, or size and mtime without one."""
        if self.sha256:
            return f"{self.label}:{self.sha256[:16]}"
        stat = self.path.stat()
        return f"{self.label}:{stat.st_size}:{stat.st_mtime_ns}"


def resolve_gguf(model: str = "", sha256: str = "") -> GgufModel:
    """The GGUF file to run: `model` (a path), else the packaged default, verified; a LocalizeError if unusable."""
    if not model:
        from localize.core.models import entry, resolve

        e = entry(DEFAULT_MODEL_ID)
        (name, digest), = e.files.items()
        return GgufModel(resolve(DEFAULT_MODEL_ID) / name, DEFAULT_MODEL_ID, digest)
    path = Path(model).expanduser()
    fix = f"set {ENV_MODEL} or the market's llm.model to a .gguf file, or unset it to use the packaged model"
    if not path.is_file():
        raise ConfigError(f"GGUF model {path} does not exist or is not a file; {fix}.")
    with open(path, "rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ModelError(f"{path} is not a GGUF model file (no GGUF header); {fix}.")
    if sha256:
        _verify_once(path, sha256.lower())
    return GgufModel(path.resolve(), path.name, sha256.lower())


_verified: dict[tuple[str, int, int], str] = {}


def _verify_once(path: Path, sha256: str) -> None:
    """sha256 of a user's GGUF, hashed once per process for a given size and mtime."""
    from localize.core.cache import file_sha256

    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    got = _verified.get(key) or file_sha256(path)
    if got != sha256:
        raise ModelIntegrityError(f"GGUF model {path} has sha256 {got[:12]}..., expected {sha256[:12]}...; "
                         "the file is corrupt or not the one pinned: replace it or fix the sha256.")
    _verified[key] = got


def require_runtime() -> None:
    import importlib.util

    if importlib.util.find_spec("xllamacpp") is None:
        raise MissingExtraError("llamacpp", "llamacpp", "xllamacpp")


@dataclass
class Usage:
    """What the adapter has done since it was created (benchmarks and logs read it)."""

    requests: int = 0
    lines: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    malformed: int = 0
    per_request: list[dict[str, float]] = field(default_factory=list)


class _Runtime:
    """One loaded model: xllamacpp's in-process server."""

    def __init__(self, model: GgufModel, n_ctx: int, threads: int) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(model.path)
        params.n_ctx = n_ctx
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.n_parallel = 1
        params.verbosity = 0
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # the server object always listens: a random loopback port, and a key nobody knows
        params.api_keys = [secrets.token_urlsafe(24)]
        started = time.perf_counter()
        try:
            self.server = xllamacpp.Server(params)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"llama.cpp cannot load {model.path}: {exc}; check that it is a GGUF model "
                             "this xllamacpp supports.") from exc
        self.lock = threading.Lock()
        log.info("llamacpp: loaded %s in %.1f s (%d threads, context %d)", model.path.name,
                 time.perf_counter() - started, threads, n_ctx)

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            result = self.server.handle_chat_completions(body)
        if not isinstance(result, dict):
            raise ModelError(f"llama.cpp answered {type(result).__name__}, not a chat completion.")
        if "error" in result:
            raise ModelError(f"llama.cpp refused the request: {result['error']}.")
        return result


def _parse_one(content: str, request: AdaptRequest) -> list[LineAnswer]:
    return [parse_line_answer(content, request)]


def _grammar(schema: dict[str, Any]) -> str:
    """llguidance grammar for a JSON schema, compact (no whitespace between tokens: fewer tokens to decode)."""
    compact = {"x-guidance": {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}, **schema}
    return "%llguidance {}\nstart: %json " + json.dumps(compact, ensure_ascii=False)


class LlamaCppAdapter:
    """Adapter protocol (:class:`~.adapt.Adapter`) on a GGUF model; also a plain Translator for routes."""

    name = "llamacpp"

    def __init__(self, model: str | None = None, *, sha256: str | None = None, n_ctx: int = 8192,
                 threads: int = 0, max_tokens: int = 2048, retries: int = 1, lines_per_request: int = 1) -> None:
        self.model = model if model is not None else os.environ.get(ENV_MODEL, "").strip()
        self.sha256 = sha256 if sha256 is not None else os.environ.get(ENV_SHA256, "").strip()
        self.n_ctx = n_ctx
        self.threads = threads or modelcache.threads()
        self.max_tokens = max_tokens
        self.retries = retries
        if lines_per_request not in (0, 1):
            raise ConfigError(f"llamacpp lines_per_request is 1 (one line a request) or 0 (the whole batch), "
                              f"not {lines_per_request}.")
        self.lines_per_request = lines_per_request
        self.usage = Usage()
        self._gguf: GgufModel | None = None
        self._runtime: _Runtime | None = None

    # check -> load -> adapt -> release

    def available(self) -> None:
        """Raise unless the runtime is installed and the model file exists and matches its sha256."""
        require_runtime()
        self._resolve()

    def model_version(self) -> str:
        mode = "line" if self.lines_per_request == 1 else "batch"
        return f"llamacpp:{self._resolve().fingerprint}:greedy:{mode}:prompts-{prompts_digest()}"

    def load(self) -> None:
        if self._runtime is None:
            model = self._resolve()
            require_runtime()
            self._runtime = modelcache.shared("llamacpp", f"{model.path}:{self.n_ctx}:{self.threads}",
                                              lambda: _Runtime(model, self.n_ctx, self.threads))

    def release(self) -> None:
        """Drop this adapter's hold on the model (a batch worker's shared model stays loaded)."""
        if self._runtime is not None:
            self._runtime = None
            gc.collect()

    def adapt(self, request: AdaptRequest) -> list[LineAnswer]:
        self.load()
        if self.lines_per_request == 1:
            return [self._ask(build_line_messages(one), line_schema(one), one, _parse_one)[0]
                    for one in per_line(request)]
        return self._ask(build_messages(request), answer_schema(request), request, parse_answer)

    def _ask(self, messages: list[dict[str, str]], schema: dict[str, Any], request: AdaptRequest,
             parse: Callable[[str, AdaptRequest], list[LineAnswer]]) -> list[LineAnswer]:
        assert self._runtime is not None
        body = {"messages": messages, "temperature": 0.0, "top_k": 1, "seed": 0, "cache_prompt": True,
                "max_tokens": self.max_tokens, "grammar": _grammar(schema)}
        problem = ""
        for attempt in range(self.retries + 1):
            started = time.perf_counter()
            result = self._runtime.chat(body)
            seconds = time.perf_counter() - started
            usage = result.get("usage") or {}
            choice = (result.get("choices") or [{}])[0]
            content = (choice.get("message") or {}).get("content") or ""
            self._count(len(request.lines), usage, seconds)
            try:
                return parse(content, request)
            except MalformedAnswer as exc:
                self.usage.malformed += 1
                problem = str(exc).rstrip(".")
                if choice.get("finish_reason") == "length":
                    problem += f" (cut at max_tokens={self.max_tokens})"
                log.warning("llamacpp: answer %d of %d rejected: %s", attempt + 1, self.retries + 1, problem)
        raise MalformedAnswer(f"backend 'llamacpp' ({self._resolve().label}) gave no valid answer in "
                              f"{self.retries + 1} tries: {problem}; send fewer lines per request.")

    # plain Translator protocol: route planning and `localize backends`

    def pairs(self) -> frozenset[tuple[str, str]]:
        self.available()
        return frozenset({ANY_PAIR})

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        return plain_translate(self, texts, source, target)

    # internals

    def _resolve(self) -> GgufModel:
        if self._gguf is None:
            self._gguf = resolve_gguf(self.model, self.sha256)
        return self._gguf

    def _count(self, lines: int, usage: dict[str, Any], seconds: float) -> None:
        u = self.usage
        u.requests += 1
        u.lines += lines
        u.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        u.completion_tokens += int(usage.get("completion_tokens") or 0)
        u.seconds += seconds
        log.debug("llamacpp: %d line(s), %s prompt + %s completion tokens in %.1f s", lines,
                  usage.get("prompt_tokens"), usage.get("completion_tokens"), seconds)
        u.per_request.append({"lines": lines, "seconds": round(seconds, 3),
                              "prompt_tokens": int(usage.get("prompt_tokens") or 0),
                              "completion_tokens": int(usage.get("completion_tokens") or 0)})


__all__ = ["DEFAULT_MODEL_ID", "ENV_MODEL", "ENV_SHA256", "GgufModel", "LlamaCppAdapter", "resolve_gguf"]
