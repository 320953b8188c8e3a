"""XTTS-v2 through coqui-tts (the ``TTS`` package): voice cloning from a reference recording.

No wheel packages the XTTS-v2 weights, so they are a local directory the user fetches once from
https://huggingface.co/coqui/XTTS-v2 (``config.json``, ``model.pth``, ``vocab.json``,
``speakers_xtts.pth``), named by the constructor's ``model_dir`` or ``LOCALIZE_XTTS_MODEL``. The
weights are under the Coqui Public Model License (non-commercial use): whoever fetches them
accepts it. models/manifest.toml lists the files; where it gives a sha256 the directory must
match it, and where it gives none (the state shipped: they could not be verified offline) the
files are used unverified and a warning is logged.

A voice is ``"<language>/clone"`` (speak like the ``reference=`` WAV) or
``"<language>/<speaker>"`` with a speaker of ``speakers_xtts.pth`` (e.g. ``"en/Ana Florence"``).
The language is a market language code (``zh``, ``pt-BR``...) mapped to XTTS's (``zh-cn``,
``pt``). Output: 24 kHz mono 16-bit WAV. Sampling is seeded, so a line comes out the same twice.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localize.core.errors import ConfigError, InputError, LocalizeError, MissingExtraError, ModelError, UnknownNameError
from localize.stages.voice.tts import SynthesizerBase

log = logging.getLogger(__name__)

MODEL_ID = "xtts-v2"
ENV = "LOCALIZE_XTTS_MODEL"
FILES = ("config.json", "model.pth", "vocab.json", "speakers_xtts.pth")
CLONE = "clone"
SEED = 1234
# XTTS-v2's languages; a market language maps to one by its primary subtag (zh -> zh-cn).
LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu", "ko", "ja", "hi")


def xtts_language(language: str) -> str | None:
    """XTTS's code for a language tag (``pt-BR`` -> ``pt``, ``zh-Hans`` -> ``zh-cn``), or None."""
    primary = language.lower().replace("_", "-").split("-")[0]
    code = "zh-cn" if primary == "zh" else primary
    return code if code in LANGUAGES else None


@dataclass(frozen=True, slots=True)
class XttsVoice:
    language: str  # an XTTS language code
    speaker: str  # CLONE or a built-in speaker name

    @classmethod
    def parse(cls, voice: str) -> XttsVoice:
        language, sep, speaker = voice.partition("/")
        code = xtts_language(language)
        if not sep or not speaker.strip():
            raise ConfigError(f"xtts voice {voice!r} must be '<language>/clone' or '<language>/<speaker>', "
                              "e.g. 'en/clone'.")
        if code is None:
            raise UnknownNameError("xtts language", language, LANGUAGES)
        return cls(code, speaker.strip())


def model_dir(configured: str | Path | None = None) -> Path:
    """The XTTS-v2 directory, checked: every file present, and matching the manifest's sha256s."""
    raw = configured if configured is not None else os.environ.get(ENV)
    if not raw:
        raise ModelError(
            f"backend 'xtts' has no model: set {ENV} to a directory holding {', '.join(FILES)} "
            f"(from https://huggingface.co/coqui/XTTS-v2, Coqui Public Model License), or pass model_dir=."
        )
    root = Path(raw).expanduser()
    if not root.is_dir():
        raise ModelError(f"XTTS-v2 model directory {root} does not exist; set {ENV} to the directory holding "
                         f"{', '.join(FILES)}.")
    missing = [name for name in FILES if not (root / name).is_file()]
    if missing:
        raise ModelError(f"XTTS-v2 model directory {root} lacks {', '.join(missing)}; download them from "
                         "https://huggingface.co/coqui/XTTS-v2 into it.")
    for name in FILES:
        stat = (root / name).stat()
        _verify(root / name, entry_sha(name), stat.st_size, stat.st_mtime_ns)
    return root


@functools.cache
def _verify(path: Path, want: str, size: int, mtime_ns: int) -> None:
    """Check one file against the manifest's sha256 (cached per file state); warn when there is none."""
    from localize.core.cache import file_sha256

    name = path.name
    if not want:
        log.warning("xtts: %s is not verified (models/manifest.toml has no sha256 for %s)", path, name)
        return
    got = file_sha256(path)
    if got != want:
        raise ModelError(f"model {MODEL_ID!r}: {path} has sha256 {got[:12]}..., the manifest expects {want[:12]}...; "
                         "download it again from https://huggingface.co/coqui/XTTS-v2.")


def _import_tts() -> Any:
    try:
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts
    except ImportError as exc:
        log.warning("xtts: importing TTS failed: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
        raise MissingExtraError("xtts", "xtts", "TTS") from exc
    except (OSError, RuntimeError) as exc:  # e.g. a torchaudio built for another torch
        raise LocalizeError(f"backend 'xtts': coqui-tts is installed but cannot load ({exc}); install torch and "
                            "torchaudio of the same release, then pip install 'localize[xtts]'.") from exc
    return XttsConfig, Xtts


class XttsSynthesizer(SynthesizerBase):
    name = "xtts"
    clones = True
    expressive = False  # `pitch_range` is accepted and ignored

    def clones_with(self, voice: str) -> bool:
        return voice.rpartition("/")[2] == CLONE  # "<language>/<speaker>": one of the model's own speakers

    def __init__(self, *, model_dir: str | Path | None = None, threads: int | None = None) -> None:
        self._configured = model_dir
        self.threads = threads
        self._model: Any = None
        self._latents: dict[tuple[str, int, int], Any] = {}

    def model_version(self, voice: str) -> str:
        v = XttsVoice.parse(voice)
        root = model_dir(self._configured)
        sha = entry_sha("model.pth")
        stat = (root / "model.pth").stat()
        weights = sha[:16] if sha else f"{stat.st_size}:{int(stat.st_mtime)}"
        return f"{MODEL_ID}:{weights}:{v.language}/{v.speaker}:seed{SEED}"

    def default_voice(self, language: str) -> str | None:
        code = xtts_language(language)
        return f"{code}/{CLONE}" if code else None

    def check(self, voice: str) -> None:
        """Raise if `voice` cannot be spoken here; an empty `voice` checks only the installation."""
        if voice:
            XttsVoice.parse(voice)
        model_dir(self._configured)
        _import_tts()

    def _load(self) -> Any:
        if self._model is None:
            root = model_dir(self._configured)
            xtts_config, xtts = _import_tts()
            import torch

            if self.threads:
                torch.set_num_threads(self.threads)
            config = xtts_config()
            config.load_json(str(root / "config.json"))
            model = xtts(config)
            # coqui-tts rewrites a published model.pth in place when it loads it (the file pickles its config),
            # which would fail the manifest's sha256 on the next run; read the weights without writing instead.
            model._load_checkpoint = _read_weights
            model.load_checkpoint(config, checkpoint_dir=str(root), eval=True)
            self._model = model.to("cpu")
            log.info("xtts: loaded %s", root)
        return self._model

    def _conditioning(self, model: Any, v: XttsVoice, reference: Path | None) -> tuple[Any, Any]:
        if v.speaker != CLONE:
            speakers = model.speaker_manager.speakers if model.speaker_manager else {}
            if v.speaker not in speakers:
                raise UnknownNameError("xtts speaker", v.speaker, [CLONE, *speakers])
            found = speakers[v.speaker]
            return found["gpt_cond_latent"], found["speaker_embedding"]
        if reference is None:
            raise ConfigError("xtts voice 'clone' needs a reference recording (synthesize(..., reference=WAV)); "
                              "or name a built-in speaker, e.g. 'en/Ana Florence'.")
        if not reference.is_file():
            raise InputError(reference, "the reference recording for xtts does not exist")
        stat = reference.stat()
        key = (str(reference.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in self._latents:
            cfg = model.config
            self._latents[key] = model.get_conditioning_latents(
                audio_path=[str(reference)], gpt_cond_len=cfg.gpt_cond_len,
                gpt_cond_chunk_len=cfg.gpt_cond_chunk_len, max_ref_length=cfg.max_ref_len,
                sound_norm_refs=cfg.sound_norm_refs)
        return self._latents[key]

    def synthesize(self, text: str, voice: str, out: Path, *, reference: Path | None = None,
                   pitch_range: int = 100) -> None:
        """Write `text` to a 24 kHz WAV, in the reference's voice when `voice` is '<language>/clone';
        `pitch_range` is ignored."""
        import numpy as np
        import soundfile as sf
        import torch

        v = XttsVoice.parse(voice)
        model = self._load()
        latent, embedding = self._conditioning(model, v, reference)
        cfg = model.config
        torch.manual_seed(SEED)
        try:
            result = model.inference(text, v.language, latent, embedding, temperature=cfg.temperature,
                                     length_penalty=cfg.length_penalty, repetition_penalty=cfg.repetition_penalty,
                                     top_k=cfg.top_k, top_p=cfg.top_p, enable_text_splitting=True)
        except ImportError as exc:  # spaCy for lines over XTTS's length limit; pypinyin, cutlet... for zh, ja, ko
            raise LocalizeError(f"backend 'xtts' needs the Python package {exc.name or exc} for this {v.language} "
                                "line: pip install 'coqui-tts[languages]' spacy.") from exc
        samples = np.asarray(result["wav"], dtype=np.float32).ravel()
        rate = int(getattr(cfg.audio, "output_sample_rate", 24000))
        sf.write(out, np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16")

    def release(self) -> None:
        self._model = None
        self._latents.clear()


def _read_weights(path: str | Path) -> Any:
    """The state dict in an XTTS model.pth, read only (a published one also pickles its XttsConfig)."""
    import pickle

    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        from TTS.tts.models.xtts import _legacy_safe_globals  # allows the config classes under their old names

        with _legacy_safe_globals():
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return checkpoint["model"]


def entry_sha(name: str) -> str:
    from localize.core.models import entry

    return entry(MODEL_ID).files.get(name, "")
