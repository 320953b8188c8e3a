"""Artifact JSON and atomic writes (localize/core/jsonio.py)."""

from __future__ import annotations

import errno
import json
import os
import stat

import pytest

from localize.core import jsonio
from localize.core.artifacts import SCHEMA_VERSION, Line, Loudness, Report, ReportLine, Script, Word
from localize.core.errors import DiskFullError, LocalizeError

SCRIPT = Script(
    language="es",
    duration_ms=61_000,
    backend="faster-whisper",
    model="base",
    lines=(
        Line(id="L001", start_ms=0, end_ms=900, text="¡Hola!", speaker="SPEAKER_01", confidence=0.91,
             words=(Word(start_ms=0, end_ms=900, text="¡Hola!", probability=0.91),)),
        Line(id="L002", start_ms=1000, end_ms=2400, text="我们走吧。", origin="imported",
             words=(Word(start_ms=1000, end_ms=1500, text="我们"), Word(start_ms=1500, end_ms=2400, text="走吧。"))),
    ),
)

REPORT = Report(
    episode="ep01", market="pt-BR", language="pt", source_language="es", duration_ms=61_000, dubbed=True,
    tts="espeak:pt-br", ai_label="Dublado por IA",
    lines=(ReportLine(id="L001", speaker="SPEAKER_01", source_text="¡Hola!", target_text="Olá!", slot_start_ms=0,
                      slot_end_ms=900, dub_start_ms=0, dub_end_ms=950, speed=1.25, overflow_ms=50,
                      route=("apertium:es-en", "bergamot:en-pt"), flags=("overflow",)),),
    loudness=Loudness(target_lufs=-14.0, target_true_peak_dbtp=-1.0, integrated_lufs=-14.2,
                      true_peak_dbtp=-1.6, loudness_range_lu=6.5),
)


def _key_orders(text: str) -> list[list[str]]:
    orders: list[list[str]] = []
    json.loads(text, object_pairs_hook=lambda pairs: orders.append([k for k, _ in pairs]) or dict(pairs))
    return orders


@pytest.mark.parametrize("artifact", [SCRIPT, REPORT], ids=["script", "report"])
def test_round_trip(tmp_path, artifact):
    path = jsonio.save(artifact, tmp_path / "sub" / "a.json")
    assert path == tmp_path / "sub" / "a.json"
    back = jsonio.load(type(artifact), path)
    assert back == artifact
    assert isinstance(back.lines, tuple)


def test_saved_json_has_schema_version_sorted_keys_and_literal_unicode(tmp_path):
    path = jsonio.save(SCRIPT, tmp_path / "script.json")
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["lines"][1]["words"][0] == {"end_ms": 1500, "probability": 1.0, "start_ms": 1000, "text": "我们"}
    orders = _key_orders(text)
    assert len(orders) > 3
    assert all(order == sorted(order) for order in orders)
    assert "我们走吧。" in text and "¡Hola!" in text
    assert text.endswith("\n")


def test_dumps_accepts_a_plain_dict():
    data = json.loads(jsonio.dumps({"b": 2, "a": 1}))
    assert data == {"a": 1, "b": 2, "schema_version": SCHEMA_VERSION}


@pytest.mark.parametrize("version", [0, SCHEMA_VERSION + 1, "1", None])
def test_load_of_another_schema_version_raises(tmp_path, version):
    data = jsonio.to_dict(SCRIPT)
    if version is not None:
        data["schema_version"] = version
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(LocalizeError, match="schema version") as info:
        jsonio.load(Script, path)
    assert str(path) in str(info.value)


def test_load_of_invalid_json_or_invalid_fields_raises_localize_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(LocalizeError, match="not a readable localize JSON artifact"):
        jsonio.load(Script, bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "language": 3}), encoding="utf-8")
    with pytest.raises(LocalizeError, match="not a valid Script") as info:
        jsonio.load(Script, wrong)
    assert str(wrong) in str(info.value)


@pytest.mark.parametrize("body", ["[1, 2]", "null", "3"])
def test_load_of_json_that_is_not_an_object_raises_localize_error(tmp_path, body):
    path = tmp_path / "list.json"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(LocalizeError):
        jsonio.load(Script, path)


def test_load_of_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        jsonio.load(Script, tmp_path / "nope.json")


def test_atomic_write_replaces_and_uses_normal_file_mode(tmp_path):
    path = tmp_path / "a" / "b.txt"
    jsonio.atomic_write_text(path, "one")
    jsonio.atomic_write_text(path, "二")
    assert path.read_text(encoding="utf-8") == "二"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in path.parent.iterdir()) == ["b.txt"]


def _fail_replace(err: int):
    def replace(src, dst):
        raise OSError(err, os.strerror(err))
    return replace


def test_atomic_write_leaves_no_temp_file_and_the_old_file_when_replace_fails(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    path.write_text("old", encoding="utf-8")
    monkeypatch.setattr(os, "replace", _fail_replace(errno.EACCES))
    with pytest.raises(PermissionError):
        jsonio.atomic_write_text(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_write_out_of_space_is_a_disk_full_error(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", _fail_replace(errno.ENOSPC))
    with pytest.raises(DiskFullError) as info:
        jsonio.save(SCRIPT, tmp_path / "s.json")
    assert info.value.path == tmp_path / "s.json"
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_cleans_up_after_an_interrupt(tmp_path, monkeypatch):
    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        jsonio.atomic_write_bytes(tmp_path / "x.bin", b"123")
    assert list(tmp_path.iterdir()) == []


def test_atomic_copy(tmp_path, monkeypatch):
    src = tmp_path / "src.bin"
    src.write_bytes(b"\x00\x01data")
    jsonio.atomic_copy(src, tmp_path / "d" / "dst.bin")
    assert (tmp_path / "d" / "dst.bin").read_bytes() == b"\x00\x01data"
    monkeypatch.setattr(os, "replace", _fail_replace(errno.ENOSPC))
    with pytest.raises(DiskFullError):
        jsonio.atomic_copy(src, tmp_path / "e" / "dst.bin")
    assert list((tmp_path / "e").iterdir()) == []


def test_to_dict_rejects_non_dataclasses():
    with pytest.raises(TypeError, match="expected a dataclass"):
        jsonio.to_dict([1, 2])
