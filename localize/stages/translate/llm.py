"""A local instruction-tuned LLM (Qwen, Llama, Mistral...) run by transformers, as an adapter.

The model is a directory holding a transformers model (``config.json``, weights as
``*.safetensors`` or ``pytorch_model*.bin``, a tokenizer), or a hub id that transformers
resolves through its own cache. It comes from the ``model`` argument or
``LOCALIZE_LLM_MODEL``. Such models are not in ``models/manifest.toml``: their weights are the
user's, so nothing pins a sha256. Instead :meth:`TransformersAdapter.model_version` fingerprints
the directory (the small files by content, the weights by name, size and mtime) and that
fingerprint goes into the stage's cache key. A hub id enters the key as it is, so a new upstream
revision does not invalidate the cache: download the model to a directory to pin it.

Each request becomes the shared chat messages of :func:`~.adapt.build_messages`, rendered with
the tokenizer's chat template (a plain "System:/User:/Assistant:" text when it has none),
decoded greedily, and checked by :func:`~.adapt.parse_answer`. A malformed answer is asked again
with the reason appended to the user message, ``retries`` times, then raised. The caller batches
lines into one :class:`~.adapt.AdaptRequest`; each request is one ``generate`` call.

The helpers at the top (model source, fingerprint, imports) are shared with :mod:`.seq2seq`.
torch and transformers are imported only when a model loads.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localize.core.errors import ConfigError, MissingExtraError, ModelError
from localize.stages.translate.adapt import (
    AdaptRequest,
    LineAnswer,
    MalformedAnswer,
    build_messages,
    parse_answer,
    plain_translate,
)
from localize.stages.translate.openai_backend import ANY_PAIR

log = logging.getLogger(__name__)

ENV_MODEL = "LOCALIZE_LLM_MODEL"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
_WEIGHTS = ("*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "pytorch_model.bin.index.json")
_SMALL_FILE = 32 << 20  # files up to this size are fingerprinted by content, larger ones by size + mtime


# --- shared with seq2seq: where a model comes from, what it is, what it needs -------------------------

class ModelDirError(ModelError):
    """A configured model directory is missing or does not hold a transformers model."""

    def __init__(self, backend: str, path: Path, problem: str, fix: str) -> None:
        self.backend = backend
        self.path = path
        self.problem = problem
        super().__init__(f"backend {backend!r}: model directory {path} {problem}; {fix}.")


@dataclass(frozen=True, slots=True)
class ModelSource:
    ref: str  # as configured
    path: Path | None  # the local directory, or None for a hub id

    @property
    def load_ref(self) -> str:
        return str(self.path) if self.path is not None else self.ref

    @property
    def label(self) -> str:
        return self.path.name if self.path is not None else self.ref


def model_source(value: str, *, backend: str, env: str, example: str) -> ModelSource:
    """Resolve a configured model to a checked local directory or a hub id; raise a LocalizeError."""
    if not value.strip():
        raise ConfigError(
            f"backend {backend!r} has no model; set {env} to a local transformers model directory "
            f"or a hub id (e.g. {example})."
        )
    fix = f"set {env} to a directory saved with save_pretrained, or to a hub id such as {example}"
    path = Path(value).expanduser()
    if path.is_dir():
        path = path.resolve()
        if not (path / "config.json").is_file():
            raise ModelDirError(backend, path, "has no config.json, so it holds no transformers model", fix)
        if not any(any(path.glob(pattern)) for pattern in _WEIGHTS):
            raise ModelDirError(backend, path, "has no weights (*.safetensors or pytorch_model*.bin)", fix)
        return ModelSource(value, path)
    if path.exists():
        raise ModelDirError(backend, path, "is a file, not a directory", fix)
    if value.startswith((".", "~", "/")) or path.is_absolute() or not _HUB_ID.fullmatch(value):
        raise ModelDirError(backend, path, "does not exist", fix)
    return ModelSource(value, None)  # a hub id: transformers finds it in its cache or downloads it


def fingerprint(source: ModelSource) -> str:
    """A stable id of the model's files for cache keys: content of small files, size+mtime of weights."""
    if source.path is None:
        return f"hub:{source.ref}"
    digest = hashlib.sha256()
    for file in sorted(p for p in source.path.iterdir() if p.is_file() and not p.name.startswith(".")):
        stat = file.stat()
        digest.update(file.name.encode("utf-8") + b"\0")
        if stat.st_size <= _SMALL_FILE:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"{source.path.name}:{digest.hexdigest()[:16]}"


def require_packages(backend: str, extra: str, modules: Sequence[str]) -> None:
    """MissingExtraError for the first module that is not installed (nothing is imported)."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(backend, extra, module)


def import_torch_transformers(backend: str, extra: str) -> tuple[Any, Any]:
    try:
        import torch
    except ImportError as exc:
        raise MissingExtraError(backend, extra, "torch") from exc
    try:
        import transformers
    except ImportError as exc:
        raise MissingExtraError(backend, extra, "transformers") from exc
    return torch, transformers


def dtype_kwargs(transformers: Any, torch: Any, dtype: str) -> dict[str, Any]:
    """from_pretrained's dtype argument ("auto", "float32", "bfloat16"...), under its name in this version."""
    value = dtype if dtype == "auto" else getattr(torch, dtype, None)
    if value is None:
        raise ConfigError(f"unknown dtype {dtype!r}; use auto, float32, float16 or bfloat16.")
    major, minor = (int(x) for x in re.findall(r"\d+", transformers.__version__)[:2])
    return {"dtype" if (major, minor) >= (4, 56) else "torch_dtype": value}


def check_device(torch: Any, device: str, backend: str) -> None:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"backend {backend!r}: device {device!r} asked for, but this torch sees no CUDA GPU; "
                          "use device='cpu' or install a CUDA build of torch.")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"backend {backend!r}: device 'mps' asked for, but this machine has no usable MPS; "
                          "use device='cpu'.")


def free_memory(torch: Any) -> None:
    gc.collect()
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


# --- the adapter ------------------------------------------------------------------------------------

REMINDER = ("\n\nYour previous answer was rejected: {reason}. Answer again with only the JSON object "
            '{{"lines": [{{"id": ..., "text": ..., "idiom": false, "literal": ""}}, ...]}}: exactly one object per '
            "input line, with the ids {ids}, in that order.")


class TransformersAdapter:
    """Adapter protocol (:class:`~.adapt.Adapter`) on a local causal LM; also a plain Translator."""

    name = "llm"

    def __init__(self, model: str | None = None, *, device: str = "cpu", max_new_tokens: int = 1024,
                 retries: int = 2, dtype: str = "auto") -> None:
        self.model = model if model is not None else os.environ.get(ENV_MODEL, "")
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.retries = retries
        self.dtype = dtype
        self._source: ModelSource | None = None
        self._version = ""
        self._tokenizer: Any = None
        self._model: Any = None
        self._torch: Any = None

    # check -> load -> adapt -> release

    def available(self) -> None:
        self._resolve()
        require_packages(self.name, "llm", ("torch", "transformers"))

    def model_version(self) -> str:
        if not self._version:
            self._version = f"llm:{fingerprint(self._resolve())}:greedy:max{self.max_new_tokens}:{self.dtype}"
        return self._version

    def load(self) -> None:
        """Load the tokenizer and model once; later calls do nothing."""
        if self._model is not None:
            return
        source = self._resolve()
        torch, transformers = import_torch_transformers(self.name, "llm")
        check_device(torch, self.device, self.name)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(source.load_ref)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                source.load_ref, **dtype_kwargs(transformers, torch, self.dtype))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"backend 'llm' cannot load the model {source.load_ref}: {exc}") from exc
        model.to(self.device)
        model.eval()
        self._torch, self._tokenizer, self._model = torch, tokenizer, model
        log.info("llm: loaded %s on %s", source.load_ref, self.device)

    def adapt(self, request: AdaptRequest) -> list[LineAnswer]:
        base = build_messages(request)
        ids = [ln.id for ln in request.lines]
        reason = ""
        for attempt in range(self.retries + 1):
            messages = _with_reminder(base, reason, ids) if attempt else base
            content, cut = self._complete(messages)
            try:
                return parse_answer(content, request)
            except MalformedAnswer as exc:
                reason = str(exc).rstrip(".")
                if cut:
                    reason += f" (the answer was cut at max_new_tokens={self.max_new_tokens})"
                log.warning("llm: answer %d of %d rejected: %s", attempt + 1, self.retries + 1, reason)
        raise MalformedAnswer(
            f"backend 'llm' ({self._resolve().label}) gave no valid answer in {self.retries + 1} tries: {reason}; "
            "send fewer lines per request or use a larger instruction-tuned model."
        )

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        """The model's raw answer to chat messages (greedy, new tokens only)."""
        return self._complete(messages)[0]

    def release(self) -> None:
        torch = self._torch
        self._model = self._tokenizer = self._torch = None
        free_memory(torch)

    # plain Translator protocol: lets route planning and `localize backends` use the adapter too

    def pairs(self) -> frozenset[tuple[str, str]]:
        self.available()
        return frozenset({ANY_PAIR})

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        return plain_translate(self, texts, source, target)

    # internals

    def _resolve(self) -> ModelSource:
        if self._source is None:
            self._source = model_source(self.model, backend=self.name, env=ENV_MODEL,
                                        example="Qwen/Qwen2.5-7B-Instruct")
        return self._source

    def _complete(self, messages: Sequence[dict[str, str]]) -> tuple[str, bool]:
        self.load()
        tokenizer, model, torch = self._tokenizer, self._model, self._torch
        prompt, special = _render(tokenizer, messages)
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=special).to(self.device)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with torch.inference_mode():
            output = model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1,
                temperature=None, top_p=None, top_k=None, pad_token_id=pad,
            )
        new = output[0, inputs["input_ids"].shape[1]:]
        return tokenizer.decode(new, skip_special_tokens=True), len(new) >= self.max_new_tokens


def _render(tokenizer: Any, messages: Sequence[dict[str, str]]) -> tuple[str, bool]:
    """The prompt text, and whether the tokenizer should still add its special tokens."""
    if getattr(tokenizer, "chat_template", None):
        from jinja2 import TemplateError

        try:
            return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True), False
        except TemplateError as exc:  # e.g. a template that raises "System role not supported"
            log.debug("llm: chat template refused a system message (%s); merging it into the user message", exc)
            merged = _merge_system(messages)
            return tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True), False
    text = "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in messages) + "Assistant:"
    return text, True


def _merge_system(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest:
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    return rest


def _with_reminder(messages: Sequence[dict[str, str]], reason: str, ids: Sequence[str]) -> list[dict[str, str]]:
    """A copy of the messages with why the last answer was rejected appended to the last user message."""
    out = [dict(m) for m in messages]
    last_user = max(i for i, m in enumerate(out) if m["role"] == "user")
    out[last_user]["content"] += REMINDER.format(reason=reason, ids=", ".join(ids))
    return out
