"""Output folders that are never half-written, and output paths that never leave their root.

* :func:`publish_dir` builds a folder in a staging folder beside it and swaps it into place (one
  ``renameat2(RENAME_EXCHANGE)`` on Linux), so a kill at any point leaves the old complete folder or the new
  complete one.
* Every temp name localize makes is ``.<name>.<random>.tmp`` beside its target and is locked (``flock``)
  while its writer lives; :func:`sweep_temp` removes the ones a killed run left (older than this process and
  unlocked), so it is safe while other runs work in the same folders.
* :func:`safe_name` and :func:`inside` keep episode, series and market names from naming another folder.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from localize.core.errors import ConfigError, DiskFullError, InputError

log = logging.getLogger(__name__)

STARTED = time.time()  # temp leftovers older than this process and unlocked are a killed run's
TEMP_SUFFIX = ".tmp"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the temp file or folder `path` while its writer works on it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _stale(path: Path, before: float) -> int | None:
    """An fd holding the lock of `path` when it is a dead writer's temp entry (older than `before`, unlocked)."""
    try:
        if path.lstat().st_mtime >= before:
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def sweep_temp(directory: Path, *, before: float | None = None) -> list[Path]:
    """Remove the temp files and folders (``.*.tmp``) in `directory` that killed runs left: older than this
    process (or `before`) and not locked by a live writer. Returns what it removed."""
    before = STARTED if before is None else before
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
            continue
        path = Path(entry.path)
        fd = _stale(path, before)
        if fd is None:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
            log.info("removed %s, left by a run that was stopped", path)
        finally:
            os.close(fd)
    return removed


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system or file system cannot."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def publish_dir(final: Path, fill: Callable[[Path], object]) -> Path:
    """Build the folder `final` with `fill(staging)` in a staging folder beside it, then swap it into place:
    readers (and a kill at any point) see the old complete folder or the new complete one, never a mix.
    A full disk is a DiskFullError; on any failure the staging folder is removed and `final` is untouched."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_temp(final.parent)
    if final.exists() and not final.is_dir():
        raise InputError(final, "is a file, not a folder", "move it away and re-run")
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=TEMP_SUFFIX, dir=final.parent))
    try:
        with locked(staging):
            os.chmod(staging, 0o777 & ~_umask())
            fill(staging)
            _swap(staging, final)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(final) from exc
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)  # the old folder, swapped out
    return final


def _swap(staging: Path, final: Path) -> None:
    """Put `staging` at `final`; what was at `final` ends at `staging` (or is gone)."""
    try:
        os.rename(staging, final)  # no folder there yet (or an empty one)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if _exchange(staging, final):
        return
    # No atomic exchange here: two renames; a kill between them leaves only the hidden old folder,
    # which the next publish sweeps.
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=TEMP_SUFFIX, dir=final.parent))
    os.rename(final, old / "old")
    os.rename(staging, final)
    os.rename(old / "old", staging)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def safe_name(name: str, what: str, where: str | Path) -> str:
    """`name` when it can be one folder's name under an output root, else a ConfigError naming `where`."""
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127), None)
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith(".") or bad is not None:
        shown = repr(name)
        raise ConfigError(f"{where}: {what} {shown} is not a usable folder name for the outputs (it must be "
                          "non-empty, not start with '.', and hold no '/', '\\' or control characters); rename it.")
    return name


def inside(root: Path, path: Path) -> Path:
    """`path`, checked to lie under `root` once both are resolved (no '..' or link leads out of it)."""
    if not Path(path).resolve().is_relative_to(Path(root).resolve()):
        raise ConfigError(f"{path}: outside the output folder {root}; check the episode and market names.")
    return path


def writable_dir(path: Path, what: str = "output folder") -> Path:
    """`path`, checked to be a folder this process can write in, or creatable in the nearest folder that
    exists: a one-line error before any work. Creates nothing (a run that fails early leaves no folder)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(path, f"is a file, not a folder; the {what} must be a folder", "pass another path")
    probe_in = path.absolute()
    while not probe_in.exists() and probe_in != probe_in.parent:
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise InputError(probe_in, f"is a file, so the {what} {path} cannot be made in it", "pass another path")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check.", suffix=TEMP_SUFFIX, dir=probe_in)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(path) from exc
        raise InputError(path, f"cannot write the {what} there ({exc.strerror or exc})",
                         "pass a writable folder") from exc
    return path


def write_error(path: Path, exc: OSError) -> Exception:
    """A file-system error while writing outputs, as the error the CLI reports in one line."""
    if exc.errno == errno.ENOSPC:
        return DiskFullError(path)
    return InputError(path, f"cannot write the outputs ({exc.strerror or exc})", "check the folder's permissions")
