"""Models kept per process: an episode's scope shares them across its markets and lets a finished stage's
models go; a batch worker keeps them for good."""

from __future__ import annotations

import pytest

from localize.core import modelcache


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modelcache, "_models", None)
    monkeypatch.setattr(modelcache, "_scoped", False)


def _loader(loads: list[str], name: str):
    def load() -> object:
        loads.append(name)
        return object()
    return load


def test_a_scope_shares_models_and_release_lets_one_kind_go() -> None:
    loads: list[str] = []
    with modelcache.scope():
        llm = modelcache.shared("llamacpp", "m.gguf", _loader(loads, "llm"))
        whisper = modelcache.shared("whisper", "base", _loader(loads, "whisper"))
        assert modelcache.shared("llamacpp", "m.gguf", _loader(loads, "llm")) is llm  # loaded once
        modelcache.release("llamacpp")
        assert modelcache.shared("whisper", "base", _loader(loads, "whisper")) is whisper  # the others stay
        assert modelcache.shared("llamacpp", "m.gguf", _loader(loads, "llm")) is not llm  # loaded again
    assert loads == ["llm", "whisper", "llm"]
    assert not modelcache.enabled()


def test_a_batch_worker_keeps_its_models_through_release() -> None:
    loads: list[str] = []
    modelcache.enable()
    llm = modelcache.shared("llamacpp", "m.gguf", _loader(loads, "llm"))
    with modelcache.scope():  # an episode run inside the worker
        modelcache.release("llamacpp")
    assert modelcache.shared("llamacpp", "m.gguf", _loader(loads, "llm")) is llm and loads == ["llm"]


def test_release_outside_any_scope_does_nothing() -> None:
    modelcache.release("llamacpp")
    assert not modelcache.enabled()


def test_a_batch_workers_share_of_the_cores_is_what_its_models_use(monkeypatch):
    import os

    from localize.core import modelcache
    from localize.stages.script.asr.faster_whisper import FasterWhisperRecognizer
    from localize.stages.translate.llamacpp import LlamaCppAdapter

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert modelcache.threads() == max(1, os.cpu_count() or 1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what the worker pool sets for 2 workers on 2 cores
    assert modelcache.threads() == 1
    assert LlamaCppAdapter().threads == 1 and FasterWhisperRecognizer().threads == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert modelcache.threads() == max(1, os.cpu_count() or 1)
