"""JSON for artifacts (sorted keys, schema version) and atomic file writes."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from localize.core.artifacts import SCHEMA_VERSION
from localize.core.errors import DiskFullError, InputError, LocalizeError

T = TypeVar("T")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes 0600 files; finished outputs get the mode a plain open() would give.
_FILE_MODE = 0o666 & ~_umask()


def _encode(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"cannot write a {type(value).__name__} as JSON")


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass (nested ones included) as plain JSON-ready data."""
    data = msgspec.to_builtins(obj, enc_hook=_encode)
    if not isinstance(data, dict):
        raise TypeError(f"expected a dataclass, got {type(obj).__name__}")
    return data


def _decode(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"cannot read a {kind.__name__} from JSON")


def from_dict(cls: type[T], data: Any) -> T:
    return msgspec.convert(data, cls, dec_hook=_decode)


def dumps(obj: Any) -> str:
    data = to_dict(obj) if not isinstance(obj, dict) else obj
    data = {"schema_version": SCHEMA_VERSION, **data}
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def save(obj: Any, path: Path) -> Path:
    atomic_write_text(path, dumps(obj))
    return path


def load(cls: type[T], path: Path) -> T:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise LocalizeError(f"{path}: not a readable localize JSON artifact ({exc}).") from exc
    if not isinstance(data, dict):
        raise LocalizeError(f"{path}: not a localize JSON artifact (expected an object).")
    version = data.pop("schema_version", None)
    if version != SCHEMA_VERSION:
        raise LocalizeError(
            f"{path}: schema version {version!r}, this localize reads {SCHEMA_VERSION}; "
            "re-run the stage that wrote it."
        )
    try:
        return from_dict(cls, data)
    except msgspec.ValidationError as exc:
        raise LocalizeError(f"{path}: not a valid {cls.__name__} ({exc}).") from exc


def read_user_text(path: Path, what: str) -> str:
    """A user's UTF-8 text file (markets, bible...), or an InputError naming it and `what` it is."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, f"no such {what}", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the {what} ({exc})") from exc


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, then rename: readers never see half a file."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    _atomic(Path(path), write)


def atomic_copy(src: Path, dst: Path) -> None:
    """Copy `src` to `dst` through a temp file and a rename."""
    import shutil

    _atomic(Path(dst), lambda tmp: shutil.copyfile(src, tmp))


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Fill a temp file beside `path` with `write`, then rename it into place; a full disk is a
    DiskFullError, and no temp file is left behind on any failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, _FILE_MODE)
        # Locked while written: a later run's sweep (localize.core.outputs.sweep_temp) removes only dead writers' files.
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            os.close(fd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(path) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
