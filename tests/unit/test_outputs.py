"""Output folders never half-written, temp leftovers swept, names that cannot leave the output root
(localize/core/outputs.py, issue 20 defects 5, 6, 12, 14)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from localize.apps.catalog.spec import parse_catalog
from localize.core import jsonio
from localize.core.cache import ArtifactStore
from localize.core.errors import ConfigError, InputError
from localize.core.outputs import inside, locked, publish_dir, safe_name, sweep_temp, writable_dir

ROOT = Path(__file__).resolve().parents[2]
PAST = time.time() - 3600


def _old(path: Path) -> Path:
    os.utime(path, (PAST, PAST))
    return path


def _child(code: str, ready: Path) -> subprocess.Popen:
    """A python child running `code`, once it has written `ready` (then it sleeps until killed)."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, "the child died"
        assert time.monotonic() < deadline, "the child never got ready"
        time.sleep(0.05)
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_failure_while_publishing_leaves_the_old_complete_folder(tmp_path: Path) -> None:
    final = tmp_path / "ep" / "en-US"
    publish_dir(final, lambda d: [(d / n).write_text("old " + n) for n in ("video.mp4", "report.json")])

    def half(d: Path) -> None:
        (d / "video.mp4").write_text("new video")
        raise RuntimeError("killed before the report")

    with pytest.raises(RuntimeError):
        publish_dir(final, half)
    assert {p.name: p.read_text() for p in final.iterdir()} == {"video.mp4": "old video.mp4",
                                                                 "report.json": "old report.json"}
    assert sorted(p.name for p in final.parent.iterdir()) == ["en-US"]  # no staging folder left
    publish_dir(final, lambda d: (d / "video.mp4").write_text("new"))
    assert {p.name: p.read_text() for p in final.iterdir()} == {"video.mp4": "new"}  # the old report went too


def test_sigkill_while_publishing_leaves_the_old_folder_and_the_next_publish_sweeps_the_staging(tmp_path: Path) -> None:
    final = tmp_path / "ep" / "en-US"
    publish_dir(final, lambda d: [(d / n).write_text("old") for n in ("video.mp4", "report.json")])
    ready = tmp_path / "ready"
    proc = _child(f"""
        import time
        from pathlib import Path
        from localize.core.outputs import publish_dir
        def fill(d):
            (d / "video.mp4").write_text("new")
            Path({str(ready)!r}).touch()
            time.sleep(600)
        publish_dir(Path({str(final)!r}), fill)
    """, ready)
    _kill(proc)
    assert {p.name: p.read_text() for p in final.iterdir()} == {"video.mp4": "old", "report.json": "old"}
    left = [p for p in final.parent.iterdir() if p.name != "en-US"]
    assert len(left) == 1 and left[0].name.endswith(".tmp")  # the killed run's staging folder
    assert sweep_temp(final.parent) == []  # younger than this process: perhaps a live run's, kept
    assert sweep_temp(final.parent, before=time.time() + 1) == left  # a dead writer's: removed
    assert sorted(p.name for p in final.parent.iterdir()) == ["en-US"]


def test_the_sweep_leaves_a_live_writers_temp_alone(tmp_path: Path) -> None:
    live = tmp_path / ".video.mp4.abc.tmp"
    live.write_text("half")
    _old(live)
    with locked(live):
        assert sweep_temp(tmp_path) == [] and live.exists()
    assert sweep_temp(tmp_path) == [live] and not live.exists()
    (tmp_path / "video.mp4").write_text("kept")
    _old(tmp_path / "video.mp4")
    assert sweep_temp(tmp_path) == []  # not a temp name


def test_an_atomic_write_in_progress_is_locked_against_the_sweep(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 1000)
    seen = []

    def copy(tmp: Path) -> None:
        import shutil

        shutil.copyfile(src, tmp)
        seen.append(sweep_temp(tmp.parent, before=time.time() + 10))  # another run sweeping right now

    jsonio._atomic(tmp_path / "dst.bin", copy)
    assert seen == [[]] and (tmp_path / "dst.bin").read_bytes() == src.read_bytes()


def test_a_killed_builds_temp_folder_is_swept_by_the_next_process(tmp_path: Path) -> None:
    """Issue 20 #14: each killed run left its temp directory in the cache for good."""
    root = tmp_path / "cache"
    ready = tmp_path / "ready"
    proc = _child(f"""
        import time
        from pathlib import Path
        from localize.core.cache import ArtifactStore
        with ArtifactStore(Path({str(root)!r})).build("render", "ab" * 32) as tmp:
            (tmp / "video.mp4").write_bytes(b"partial" * 1000)
            Path({str(ready)!r}).touch()
            time.sleep(600)
    """, ready)
    shard = root / "render" / "ab"
    live = [p.name for p in shard.iterdir()]
    assert len(live) == 1 and live[0].endswith(".tmp")
    _old(shard / live[0])
    assert ArtifactStore(root).sweep() == []  # old, but its build is alive (locked): kept
    _kill(proc)
    left = next(shard.iterdir())
    script = f"from pathlib import Path; from localize.core.cache import ArtifactStore; ArtifactStore(Path({str(root)!r}))"
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True)  # the next run, in its own process
    assert list(shard.iterdir()) == []


@pytest.mark.parametrize("name", ["..", ".", "", ".hidden", "a/b", "a\\b", "se\x00ries", "tab\there"])
def test_names_that_would_leave_or_hide_in_the_output_root_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="not a usable folder name"):
        safe_name(name, "episode name", "x.mp4")


def test_ordinary_names_pass_and_inside_catches_an_escape(tmp_path: Path) -> None:
    for name in ("episode_zh", "Ep 01 – 爱", "s01e02.final"):
        assert safe_name(name, "episode name", "x") == name
    assert inside(tmp_path, tmp_path / "ep" / "en-US") == tmp_path / "ep" / "en-US"
    with pytest.raises(ConfigError, match="outside the output folder"):
        inside(tmp_path / "out", tmp_path / "out" / ".." / "elsewhere")


def test_a_series_name_with_nul_is_a_config_error_at_parse_time(tmp_path: Path) -> None:
    """Issue 20 #12: a NUL in a series name passed the catalog's checks, then failed 3 times as transient."""
    text = '[[series]]\nname = "love\\u0000lisbon"\nepisodes = ["a.mp4"]\nmarkets = ["en-US"]\n'
    with pytest.raises(ConfigError, match=r"series\[0\].*not a usable folder name"):
        parse_catalog(tmp_path / "catalog.toml", text)
    with pytest.raises(ConfigError, match="not a usable folder name"):
        parse_catalog(tmp_path / "catalog.toml", text.replace("love\\u0000lisbon", ".."))


def test_an_out_that_is_a_file_or_unwritable_is_one_error_and_nothing_is_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        writable_dir(tmp_path / "file")
    with pytest.raises(InputError, match="is a file"):
        writable_dir(tmp_path / "file" / "out")
    assert writable_dir(tmp_path / "new" / "out") == tmp_path / "new" / "out"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # checked, not created
