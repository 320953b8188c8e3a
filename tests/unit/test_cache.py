"""Cache keys and the artifact store (localize/core/cache.py)."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import pytest

from localize.core.cache import ArtifactStore, canonical_json, file_sha256, stage_key
from localize.core.errors import DiskFullError

BASE = dict(inputs=["abc", "def"], backend="espeak", model_version="1.51", options={"speed": 1.25, "voice": "pt-br"})


def test_stage_key_is_stable_for_equal_inputs():
    k = stage_key("dub", **BASE)
    assert k == stage_key("dub", **BASE)
    assert len(k) == 64 and int(k, 16) >= 0
    # option order does not matter
    assert k == stage_key("dub", **{**BASE, "options": {"voice": "pt-br", "speed": 1.25}})
    # a tuple of inputs is the same as a list
    assert k == stage_key("dub", **{**BASE, "inputs": ("abc", "def")})


@pytest.mark.parametrize("change", [
    {"inputs": ["abc", "xyz"]},
    {"inputs": ["def", "abc"]},
    {"inputs": ["abc"]},
    {"backend": "piper"},
    {"model_version": "1.52"},
    {"options": {"speed": 1.2, "voice": "pt-br"}},
    {"options": {"speed": 1.25, "voice": "pt-br", "extra": None}},
    {"options": {}},
])
def test_stage_key_changes_when_anything_changes(change):
    assert stage_key("dub", **BASE) != stage_key("dub", **{**BASE, **change})


def test_stage_key_depends_on_the_stage_name():
    assert stage_key("dub", **BASE) != stage_key("mix", **BASE)


def test_canonical_json_sorts_keys_and_normalises_paths_and_sets():
    assert canonical_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    assert canonical_json({"p": Path("/x/y"), "s": {3, 1, 2}}) == '{"p":"/x/y","s":[1,2,3]}'
    assert canonical_json({"t": "语言"}) == '{"t":"语言"}'


@pytest.mark.parametrize("bad", [object(), b"bytes", 1 + 2j, lambda: None])
def test_canonical_json_rejects_what_it_cannot_hash(bad):
    with pytest.raises(TypeError, match="cannot make a cache key"):
        canonical_json({"x": bad})
    with pytest.raises(TypeError):
        stage_key("s", inputs=[], options={"x": bad})


def test_file_sha256(tmp_path):
    data = b"x" * (3 << 20) + b"tail"  # more than one read chunk
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    assert file_sha256(p) == hashlib.sha256(data).hexdigest()


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_build_success_renames_the_temp_dir_into_place(tmp_path):
    store = ArtifactStore(tmp_path)
    key = "ab" + "0" * 62
    with store.build("audio", key) as tmp:
        assert tmp.is_dir() and tmp.parent == store.path("audio", key).parent
        assert store.get("audio", key) is None  # not visible while building
        (tmp / "a.wav").write_bytes(b"RIFF")
    final = store.get("audio", key)
    assert final == tmp_path / "audio" / "ab" / key
    assert (final / "a.wav").read_bytes() == b"RIFF"
    assert not tmp.exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("exc", [ValueError("boom"), KeyboardInterrupt(), OSError(errno.EIO, "io")])
def test_build_failure_leaves_no_artifact_and_no_temp_dir(tmp_path, exc):
    store = ArtifactStore(tmp_path)
    key = "cd" + "1" * 62
    with pytest.raises(type(exc)):
        with store.build("mix", key) as tmp:
            (tmp / "half.wav").write_bytes(b"half")
            raise exc
    assert store.get("mix", key) is None
    assert not tmp.exists()
    assert _leftovers(tmp_path) == []
    assert list((tmp_path / "mix" / "cd").iterdir()) == []


def test_build_out_of_space_is_a_disk_full_error(tmp_path):
    store = ArtifactStore(tmp_path)
    key = "ef" + "2" * 62
    with pytest.raises(DiskFullError) as info:
        with store.build("render", key):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.path == store.path("render", key)
    assert "no space left" in str(info.value)
    assert _leftovers(tmp_path) == [] and store.get("render", key) is None


def test_build_when_another_worker_finished_first_keeps_theirs(tmp_path):
    store = ArtifactStore(tmp_path)
    key = "12" + "3" * 62
    with store.build("dub", key) as tmp:
        (tmp / "mine.txt").write_text("mine")
        other = store.path("dub", key)
        other.mkdir()
        (other / "theirs.txt").write_text("theirs")
    assert sorted(p.name for p in store.path("dub", key).iterdir()) == ["theirs.txt"]
    assert _leftovers(tmp_path) == []


def test_cached_builds_once_then_loads(tmp_path):
    store = ArtifactStore(tmp_path)
    key = stage_key("translation", inputs=["x"])
    builds: list[Path] = []

    def build(tmp: Path) -> None:
        builds.append(tmp)
        (tmp / "out.txt").write_text(f"build {len(builds)}")

    def load(p: Path) -> str:
        return (p / "out.txt").read_text()

    assert store.cached("translation", key, build, load) == "build 1"
    assert store.cached("translation", key, build, load) == "build 1"
    assert len(builds) == 1
    # a different key builds again
    assert store.cached("translation", stage_key("translation", inputs=["y"]), build, load) == "build 2"


def test_cached_build_failure_then_retry_succeeds(tmp_path):
    store = ArtifactStore(tmp_path)
    key = stage_key("script", inputs=["z"])

    def failing(tmp: Path) -> None:
        (tmp / "partial").write_text("x")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        store.cached("script", key, failing, lambda p: p)
    assert store.get("script", key) is None
    got = store.cached("script", key, lambda tmp: (tmp / "ok").write_text("ok"), lambda p: sorted(x.name for x in p.iterdir()))
    assert got == ["ok"]


def test_the_stage_contract_keys_on_its_version_and_returns_the_artifact(tmp_path):
    from localize.core.stage import Stage

    store = ArtifactStore(tmp_path)
    v1, v2 = Stage("dub", version=1), Stage("dub", version=2)
    assert v1.key(**BASE) != v2.key(**BASE)
    assert v1.key(**BASE) == v1.key(**BASE)
    built = v1.built(store, v1.key(**BASE), lambda tmp: (tmp / "a.txt").write_text("x"),
                     lambda p: (p / "a.txt").read_text())
    assert built.value == "x" and built.path == store.path("dub", built.key) and built.path.is_dir()


def test_watch_reports_each_artifact_built_or_reused_as_a_typed_event(tmp_path):
    from localize.core.cache import CacheEvent, watch

    store = ArtifactStore(tmp_path)
    with watch() as events:
        store.cached("asr", "k1", lambda tmp: (tmp / "f").write_text("1"), lambda p: None)
        store.cached("asr", "k1", lambda tmp: (tmp / "f").write_text("1"), lambda p: None)
    store.cached("asr", "k2", lambda tmp: (tmp / "f").write_text("1"), lambda p: None)  # not watched
    assert events == [CacheEvent("asr", "k1", reused=False), CacheEvent("asr", "k1", reused=True)]


def test_a_catalog_job_knows_what_it_built_even_with_logging_off(tmp_path, monkeypatch):
    """The catalog learned this by matching the cache's log text; now from typed events."""
    import logging

    from localize.apps.catalog import work

    store = ArtifactStore(tmp_path)
    monkeypatch.setattr(work, "_run", lambda job: store.cached("script", "a" * 64, lambda t: None, lambda p: p))
    logging.disable(logging.CRITICAL)
    try:
        outcome = work.run_job(type("Job", (), {"id": "j1"})())  # type: ignore[arg-type]
    finally:
        logging.disable(logging.NOTSET)
    assert outcome.ok and outcome.built == ("script:" + "a" * 12,) and outcome.reused == ()
