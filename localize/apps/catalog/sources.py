"""Episode files: local paths and globs, or fsspec URLs fetched into a local cache first."""

from __future__ import annotations

import glob
import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from localize.apps.catalog.spec import is_url
from localize.core.errors import InputError, MissingExtraError

log = logging.getLogger(__name__)
_MAGIC = ("*", "?", "[")


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeFile:
    name: str  # the episode's name in outputs: the file's stem
    path: str  # the local file processed
    origin: str  # what the catalog named: the path, or the URL it was fetched from


def _local(pattern: str) -> list[EpisodeFile]:
    if any(m in pattern for m in _MAGIC):
        found = sorted(p for p in glob.glob(pattern) if Path(p).is_file())
        if not found:
            raise InputError(pattern, "this episode glob matches no file", "check the pattern in the catalog")
        return [EpisodeFile(name=Path(p).stem, path=p, origin=p) for p in found]
    if not Path(pattern).is_file():
        raise InputError(pattern, "no such episode file", "check the path in the catalog")
    return [EpisodeFile(name=Path(pattern).stem, path=pattern, origin=pattern)]


def _remote(url: str, cache: Path) -> list[EpisodeFile]:
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingExtraError("fsspec", "catalog", "fsspec") from exc
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise InputError(url, f"no filesystem for this URL ({exc})", "install the fsspec backend it needs, "
                         "e.g. pip install s3fs") from exc
    protocol = url.split("://", 1)[0]
    paths = sorted(fs.glob(root)) if any(m in root for m in _MAGIC) else [root]
    if not paths:
        raise InputError(url, "this episode URL glob matches nothing", "check the pattern in the catalog")
    files = []
    for p in paths:
        full = p if "://" in p else f"{protocol}://{p}"
        try:
            info = fs.info(p)
        except FileNotFoundError:
            raise InputError(full, "no such remote episode", "check the URL in the catalog") from None
        tag = str(info.get("ETag") or info.get("etag") or info.get("md5") or info.get("mtime") or "")
        key = hashlib.sha256(f"{full}\n{tag}\n{info.get('size')}".encode()).hexdigest()[:24]
        local = cache / key / Path(p).name
        if not local.is_file():
            local.parent.mkdir(parents=True, exist_ok=True)
            part = local.with_name(local.name + ".part")
            log.info("fetching %s", full)
            with fs.open(p, "rb") as src, open(part, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            part.rename(local)
        files.append(EpisodeFile(name=Path(p).stem, path=str(local), origin=full))
    return files


def expand_episodes(patterns: tuple[str, ...], cache: Path) -> list[EpisodeFile]:
    """Each pattern's files in order (a glob's sorted), remote ones fetched into `cache`; no duplicates."""
    files: dict[str, EpisodeFile] = {}
    for pattern in patterns:
        for f in _remote(pattern, cache) if is_url(pattern) else _local(pattern):
            if f.name in files and files[f.name].origin != f.origin:
                raise InputError(f.origin, f"another episode of the series is also named {f.name!r} "
                                 f"({files[f.name].origin})", "rename one of them")
            files[f.name] = f
    return list(files.values())
