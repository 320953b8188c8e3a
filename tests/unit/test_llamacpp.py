"""The llamacpp backend's model handling, the answer schema, and the route check before a run.

No model runs here (tests/integration/test_llamacpp.py runs the packaged one): what is under test is
how a model file is found, assembled and verified, and how a run refuses an impossible market early.
"""

from __future__ import annotations

import hashlib
import json
import time
from importlib import resources
from pathlib import Path

import msgspec
import pytest

from localize.core import models as modelstore
from localize.core.errors import ConfigError, ModelError, NoRouteError
from localize.core.markets import StyleGuide, get_market, load_markets
from localize.core.options import RunOptions
from localize.stages.script.asr import AsrOptions
from localize.stages.translate.adapt import AdaptRequest, LineRequest, answer_schema, parse_answer
from localize.stages.translate.llamacpp import LlamaCppAdapter, resolve_gguf


def _fake_parts(tmp_path: Path, monkeypatch, chunks: list[bytes]) -> modelstore.ModelEntry:
    """A manifest entry whose model is split over len(chunks) "packages", each with data/partNN.bin."""
    roots = {}
    for i, chunk in enumerate(chunks, start=1):
        root = tmp_path / "site" / f"fake_part{i}"
        (root / "data").mkdir(parents=True)
        (root / "data" / f"part{i:02d}.bin").write_bytes(chunk)
        roots[f"fake_part{i}"] = root
    whole = b"".join(chunks)
    e = modelstore.ModelEntry(id=f"fake-gguf-{tmp_path.name}", stage="translate", format="gguf", source="pypi:fake",
                              upstream="",
                              licence="Apache-2.0", files={"model.gguf": hashlib.sha256(whole).hexdigest()},
                              packages=tuple(roots), assemble="parts")
    monkeypatch.setattr(modelstore, "package_dir", lambda package, model_id: roots[package])
    monkeypatch.setattr(modelstore, "entry", lambda model_id: e)
    return e


def test_parts_are_joined_in_order_and_verified(tmp_path, monkeypatch):
    e = _fake_parts(tmp_path, monkeypatch, [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7])
    target = modelstore.resolve(e.id)
    assert (target / "model.gguf").read_bytes() == b"GGUF" + b"a" * 100 + b"b" * 50 + b"c" * 7
    assert (target / ".verified").is_file()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(f".{e.id}.")]  # no temp dir left


def test_a_changed_model_file_is_assembled_again(tmp_path, monkeypatch):
    e = _fake_parts(tmp_path, monkeypatch, [b"GGUF" + b"x" * 64, b"y" * 64])
    model = modelstore.resolve(e.id) / "model.gguf"
    model.write_bytes(b"GGUF" + b"z" * 127)  # same size, new content and mtime
    assert (modelstore.resolve(e.id) / "model.gguf").read_bytes() == b"GGUF" + b"x" * 64 + b"y" * 64


def test_parts_that_do_not_match_the_sha256_are_refused(tmp_path, monkeypatch):
    e = _fake_parts(tmp_path, monkeypatch, [b"GGUF" + b"a" * 10, b"b" * 10])
    from dataclasses import replace

    monkeypatch.setattr(modelstore, "entry", lambda model_id: replace(e, files={"model.gguf": "0" * 64}))
    with pytest.raises(ModelError, match="sha256"):
        modelstore.resolve(e.id)
    assert not (modelstore.models_dir() / e.id).exists()


def test_the_default_model_is_in_the_manifest_with_its_licence():
    e = modelstore.manifest()["qwen2.5-coder-1.5b-instruct-q4_k_m"]
    assert e.files == {"model.gguf": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"}
    assert e.licence.startswith("Apache-2.0") and e.assemble == "parts" and len(e.packages) == 22
    notice = resources.files("localize._models").joinpath("licences", "NOTICE-Qwen2.5-Coder.txt")
    assert "Apache License, Version 2.0" in notice.read_text(encoding="utf-8")


def test_a_user_gguf_must_exist_be_gguf_and_match_its_pin(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_gguf(str(tmp_path / "missing.gguf"))
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ModelError, match="not a GGUF"):
        resolve_gguf(str(bogus))
    good = tmp_path / "good.gguf"
    good.write_bytes(b"GGUF" + bytes(1000))
    pinned = hashlib.sha256(good.read_bytes()).hexdigest()
    assert resolve_gguf(str(good), pinned).sha256 == pinned
    with pytest.raises(ModelError, match="sha256"):
        resolve_gguf(str(good), "f" * 64)
    unpinned = resolve_gguf(str(good))
    assert unpinned.sha256 == "" and unpinned.fingerprint.startswith("good.gguf:1004:")


def test_the_model_version_changes_with_the_model_and_the_prompts(tmp_path, monkeypatch):
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    a.write_bytes(b"GGUF1")
    b.write_bytes(b"GGUF2")
    va = LlamaCppAdapter(str(a), sha256=hashlib.sha256(b"GGUF1").hexdigest()).model_version()
    vb = LlamaCppAdapter(str(b), sha256=hashlib.sha256(b"GGUF2").hexdigest()).model_version()
    assert va != vb
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "system.txt").write_text("Translate. Answer JSON.")
    monkeypatch.setenv("LOCALIZE_PROMPTS_DIR", str(prompts))
    assert LlamaCppAdapter(str(a), sha256=hashlib.sha256(b"GGUF1").hexdigest()).model_version() != va


def test_the_answer_schema_admits_exactly_the_requested_ids_in_order():
    request = AdaptRequest(source_language="zh", target_language="en", market="en-US", style=StyleGuide(),
                           lines=(LineRequest(id="L001", speaker="A", text="你好", budget_chars=10),
                                  LineRequest(id="L002", speaker="B", text="再见", budget_chars=10)))
    schema = answer_schema(request)
    items = schema["properties"]["lines"]
    assert [i["properties"]["id"]["const"] for i in items["prefixItems"]] == ["L001", "L002"]
    assert items["minItems"] == items["maxItems"] == 2
    answer = {"lines": [{"id": "L001", "text": "Hi", "idiom": False, "literal": ""},
                        {"id": "L002", "text": "Bye", "idiom": False, "literal": ""}]}
    assert [a.text for a in parse_answer(json.dumps(answer), request)] == ["Hi", "Bye"]


def test_a_market_file_names_its_gguf_relative_to_itself(tmp_path):
    (tmp_path / "models").mkdir()
    markets = tmp_path / "markets.toml"
    markets.write_text('[xx-XX]\nname = "Test"\nlanguage = "en"\nllm = { model = "models/big.gguf" }\n')
    market = load_markets(markets)["xx-XX"]
    assert market.llm.model == str((tmp_path / "models" / "big.gguf").resolve())
    assert market.translation == ("auto",)


# --- the route check before any work -------------------------------------------------------------

def test_a_market_with_no_route_stops_before_any_work(tmp_path):
    from localize.stages.translate.preflight import check_routes

    market = msgspec.structs.replace(get_market("en-US"), translation=("apertium",))
    options = RunOptions(asr=AsrOptions(language="zh"))
    started = time.perf_counter()
    with pytest.raises(NoRouteError) as info:
        check_routes(tmp_path / "episode.mp4", [market], options)
    assert time.perf_counter() - started < 2.0
    message = str(info.value)
    assert "episode.mp4" in message and "market en-US" in message and "zh->en" in message
    assert "--translation en-US=FILE.srt" in message


def test_a_market_with_a_human_translation_needs_no_route(tmp_path):
    from localize.stages.translate.preflight import check_routes

    market = msgspec.structs.replace(get_market("en-US"), translation=("apertium",))
    options = RunOptions(asr=AsrOptions(language="zh"), translations=(("en-US", tmp_path / "en.srt"),))
    assert check_routes(tmp_path / "episode.mp4", [market], options) is None


def test_a_pinned_gguf_that_fails_its_sha256_stops_the_run(tmp_path):
    from localize.stages.translate.preflight import check_routes

    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"GGUF" + bytes(4096))
    market = msgspec.structs.replace(get_market("en-US"), translation=("llamacpp",),
                                     llm=msgspec.structs.replace(get_market("en-US").llm, model=str(bad),
                                                                 sha256="a" * 64))
    pytest.importorskip("xllamacpp", reason="the llamacpp extra is not installed")
    with pytest.raises(ModelError, match="sha256"):
        check_routes(tmp_path / "episode.mp4", [market], RunOptions(asr=AsrOptions(language="zh")))


def test_mixing_auto_with_backend_names_is_refused():
    from localize.stages.translate.stage import preferences

    market = msgspec.structs.replace(get_market("en-US"), translation=("auto", "apertium"))
    with pytest.raises(ConfigError, match="mixes 'auto'"):
        preferences(market, RunOptions())


def test_a_market_file_may_send_each_batch_whole_and_the_mode_is_in_the_model_version(tmp_path):
    markets = tmp_path / "markets.toml"
    markets.write_text('[xx-XX]\nname = "Test"\nlanguage = "en"\nllm = { lines_per_request = 0 }\n'
                       '[yy-YY]\nname = "Test"\nlanguage = "en"\nllm = { lines_per_request = 3 }\n')
    with pytest.raises(ConfigError, match="lines_per_request"):
        load_markets(markets)
    markets.write_text('[xx-XX]\nname = "Test"\nlanguage = "en"\nllm = { lines_per_request = 0 }\n')
    assert load_markets(markets)["xx-XX"].llm.lines_per_request == 0
    assert get_market("en-US").llm.lines_per_request == 1
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF1")
    line = LlamaCppAdapter(str(gguf)).model_version()
    batch = LlamaCppAdapter(str(gguf), lines_per_request=0).model_version()
    assert line != batch and ":line:" in line and ":batch:" in batch
    with pytest.raises(ConfigError, match="lines_per_request"):
        LlamaCppAdapter(str(gguf), lines_per_request=2)
