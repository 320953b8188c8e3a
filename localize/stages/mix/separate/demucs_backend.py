"""Demucs 4 as a separator, for users who have its weights (``pip install 'localize[demucs]'``).

The dialogue is Demucs's ``vocals`` stem and the background the sum of the others. Weights are
never downloaded: they are looked up, in this order, in

- ``$LOCALIZE_DEMUCS_REPO``: a folder with ``<model>.yaml`` (or a model Demucs ships the yaml of)
  and its ``<signature>-<checksum>.th`` files, as ``demucs --repo`` reads it;
- torch hub's cache (``<torch hub dir>/checkpoints``), where ``python -m demucs`` stores them;
- the Hugging Face cache (``adefossez/HTDemucs``...), where demucs 4.1 stores them.

Missing everywhere: a ModelError that says where to put them. The speech spans are not used.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from localize.core.errors import MissingExtraError, ModelError
from localize.stages.mix.separate import SeparateOptions
from localize.stages.mix.separate.audio import read_audio, write_stems

log = logging.getLogger(__name__)

REPO_ENV = "LOCALIZE_DEMUCS_REPO"


def _import_demucs() -> Any:
    try:
        import demucs
        import demucs.apply
        import demucs.pretrained
        import demucs.repo
        import torch  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("demucs", "demucs", "demucs") from exc
    return demucs


class DemucsSeparator:
    name = "demucs"

    def __init__(self, options: SeparateOptions | None = None) -> None:
        self.options = options or SeparateOptions(backend="demucs")
        self._model: Any = None

    def model_version(self) -> str:
        demucs = _import_demucs()
        return f"demucs-{demucs.__version__}/{self.options.demucs_model}"

    def check(self) -> None:
        """Load the model now: raise MissingExtraError or ModelError before any work starts."""
        self._load()

    def _load(self) -> Any:
        if self._model is None:
            _import_demucs()
            self._model = load_model(self.options.demucs_model)
        return self._model

    def separate(
        self, audio: Path, speech_spans: Sequence[tuple[int, int]], out_dir: Path
    ) -> tuple[Path, Path]:
        import torch
        from demucs.apply import apply_model

        model = self._load()
        data, rate = read_audio(audio)
        x = _to_model(data, rate, model.samplerate, model.audio_channels)
        ref = x.mean(0)
        scale = float(ref.std()) + 1e-8
        with torch.no_grad():
            stems = apply_model(model, ((x - ref.mean()) / scale)[None], device=self.options.device,
                                shifts=0, split=True, overlap=0.25, progress=False)[0]
        stems = stems * scale + ref.mean()
        vocals = stems[model.sources.index("vocals")]
        dialogue = _from_model(vocals, model.samplerate, rate, data.shape[1], len(data))
        background = data - dialogue
        return write_stems(out_dir, dialogue, background, rate)

    def release(self) -> None:
        self._model = None


def _to_model(data: np.ndarray, rate: int, model_rate: int, channels: int) -> Any:
    """(channels, samples) float tensor at the model's rate and channel count."""
    import torch
    from demucs.audio import convert_audio

    wav = torch.from_numpy(np.ascontiguousarray(data.T))
    return convert_audio(wav, rate, model_rate, channels)


def _from_model(stem: Any, model_rate: int, rate: int, channels: int, n: int) -> np.ndarray:
    from demucs.audio import convert_audio

    out = convert_audio(stem.cpu(), model_rate, rate, channels).numpy().T
    if len(out) < n:
        out = np.pad(out, ((0, n - len(out)), (0, 0)))
    return out[:n].astype(np.float32)


def load_model(name: str) -> Any:
    """The Demucs model (or bag) `name` from local weights only, or a ModelError."""
    import torch
    from demucs.pretrained import REMOTE_ROOT
    from demucs.repo import AnyModelRepo, BagOnlyRepo, LocalRepo, ModelLoadingError

    looked: list[str] = []
    candidates: list[Path] = []
    env = os.environ.get(REPO_ENV)
    if env:
        env_repo = Path(env).expanduser()
        if not env_repo.is_dir():
            raise ModelError(f"{REPO_ENV}={env} is not a folder; point it at the folder holding "
                             f"{name}.yaml and its .th weight files.")
        candidates.append(env_repo)
    candidates.append(Path(torch.hub.get_dir()) / "checkpoints")
    for folder in candidates:
        looked.append(str(folder))
        if not folder.is_dir():
            continue
        bags = folder if (folder / f"{name}.yaml").exists() else Path(REMOTE_ROOT)
        models = LocalRepo(folder)
        repo = AnyModelRepo(models, BagOnlyRepo(bags, models))
        if not _has_all(repo, models, bags, name):
            continue
        try:
            model = repo.get_model(name)
        except ModelLoadingError as exc:
            raise ModelError(f"Demucs model {name!r} in {folder} cannot be loaded ({exc}).") from exc
        model.eval()
        log.info("demucs %s loaded from %s", name, folder)
        return model
    model = _from_hf_cache(name)
    if model is not None:
        return model
    looked.append("the Hugging Face cache")
    raise ModelError(
        f"Demucs model {name!r} has no weights on this machine (looked in {', '.join(looked)}), and "
        f"localize does not download them: run `python -m demucs -n {name} any.wav` once where there "
        f"is network, or set {REPO_ENV} to a folder holding {name}.yaml and its .th files."
    )


def _has_all(repo: Any, models: Any, bags: Path, name: str) -> bool:
    """Are the weights of `name` (one signature, or every model of its bag) all present?"""
    import yaml

    if models.has_model(name):
        return True
    yaml_file = bags / f"{name}.yaml"
    if not yaml_file.exists():
        return False
    signatures = yaml.safe_load(yaml_file.read_text()).get("models", [])
    return bool(signatures) and all(models.has_model(sig) for sig in signatures)


def _from_hf_cache(name: str) -> Any:
    """The bag from the Hugging Face cache (demucs 4.1's own download place), never the network."""
    try:
        import yaml
        from demucs.apply import BagOfModels
        from demucs.hf import DEFAULT_NAMESPACE, hf_repo_name, load_safetensors_model
        from huggingface_hub import hf_hub_download
    except ImportError:
        return None
    repo_id = f"{DEFAULT_NAMESPACE}/{hf_repo_name(name)}"
    try:
        with open(hf_hub_download(repo_id, f"{name}.yaml", local_files_only=True)) as fh:
            bag = yaml.safe_load(fh)
        models = [load_safetensors_model(hf_hub_download(repo_id, f"{sig}.safetensors", local_files_only=True))
                  for sig in bag["models"]]
    except Exception as exc:  # any miss in the cache means "not here"
        log.debug("demucs %s not in the Hugging Face cache: %r", name, exc)
        return None
    model = BagOfModels(models, bag.get("weights"), bag.get("segment"))
    model.eval()
    return model
