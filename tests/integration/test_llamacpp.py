"""The packaged LLM for real: Qwen2.5-Coder-1.5B-Instruct (GGUF) in llama.cpp, in-process and over HTTP.

Nothing here is scripted: the model answers every request. Assertions are on what a constrained,
greedy decode must give (valid answers, the requested ids, names and glossary terms carried, shorter
rewrites shorter) and on meaning words a correct translation cannot miss.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from localize.core.artifacts import Line, Script
from localize.core.cache import ArtifactStore
from localize.core.errors import ToolFailedError
from localize.core.markets import get_market
from localize.core.options import AdaptOptions, RunOptions
from localize.stages.translate.adapting import adapt_lines
from localize.stages.translate.bible import Bible, BibleCharacter, Term
from localize.stages.translate.llamacpp import LlamaCppAdapter, resolve_gguf
from localize.stages.translate.openai_backend import OpenAIAdapter, OpenAIConfig

pytestmark = pytest.mark.integration
xllamacpp = pytest.importorskip("xllamacpp",
                                reason="the llamacpp extra is not installed: pip install 'localize[llamacpp]'")

LINES = (
    Line(id="L001", start_ms=0, end_ms=2600, text="你竟然敢背叛我，我绝不会原谅你！", speaker="C01"),
    Line(id="L002", start_ms=3000, end_ms=5200, text="林夏，顾氏集团现在是我的了。", speaker="C02"),
    Line(id="L003", start_ms=5600, end_ms=6600, text="妈，我没事。", speaker="C01"),
)
BIBLE = Bible(
    series="The Heiress Returns",
    synopsis="Lin Xia, betrayed by her husband Gu Chen, fights the Gu family for the company.",
    characters={"C01": BibleCharacter(name="林夏", names={"en": "Lin Xia"}),
                "C02": BibleCharacter(name="顾辰", names={"en": "Gu Chen"})},
    glossary=(Term(source="顾氏集团", targets={"en": "Gu Group"}),),
)


@pytest.fixture(scope="module")
def adapter():
    llm = LlamaCppAdapter()
    yield llm
    llm.release()


@pytest.mark.parametrize("lines_per_request", [1, 0], ids=["a-line-a-request", "the-batch-in-one-request"])
def test_adaptation_on_the_real_model(lines_per_request: int) -> None:
    adapter = LlamaCppAdapter(lines_per_request=lines_per_request)  # the model itself is shared (modelcache)
    market = get_market("en-US")
    # The batch prompt's rewrites (a 1,000-token prompt each) are left out to save a minute of the suite.
    options = AdaptOptions() if lines_per_request else AdaptOptions(rewrite_tries=0)
    out, first, final = adapt_lines(adapter, LINES, source="zh", market=market, bible=BIBLE, options=options)
    first_pass = adapter.usage.per_request[:3 if lines_per_request else 1]
    assert [r["lines"] for r in first_pass] == ([1, 1, 1] if lines_per_request else [3])
    assert [t.id for t in out] == ["L001", "L002", "L003"]
    assert all(t.text.strip() and t.route == ("llamacpp:zh-en",) for t in out)
    assert not any(any("\u4e00" <= ch <= "\u9fff" for ch in t.text) for t in out), [t.text for t in out]
    assert "betray" in out[0].text.lower() and "forgive" in out[0].text.lower()
    assert "Gu Group" in out[1].text and not any(f.startswith("glossary:") for f in out[1].flags)
    assert "mom" in out[2].text.lower() or "mother" in out[2].text.lower()
    assert adapter.usage.malformed == 0 and adapter.usage.requests >= 1
    assert 0 <= first <= final <= 3


def test_a_shorter_rewrite_is_shorter(adapter: LlamaCppAdapter) -> None:
    from localize.core.markets import StyleGuide
    from localize.stages.translate.adapt import AdaptRequest, LineRequest, spoken_length

    long = "Listen to me carefully, because I am only going to say this one single time: I will never forgive you."
    request = AdaptRequest(source_language="zh", target_language="en", market="en-US", style=StyleGuide(),
                           rewrite=True, lines=(LineRequest(id="L001", speaker="C01", text=LINES[0].text,
                                                            budget_chars=40, previous_attempt=long),))
    (answer,) = adapter.adapt(request)
    assert spoken_length(answer.text) < spoken_length(long)


def test_the_translation_stage_routes_zh_markets_through_the_llm(tmp_path: Path) -> None:
    from localize.stages.translate.stage import translate_market

    script = Script(language="zh", lines=LINES[:2], duration_ms=6000, backend="test", model="none")
    store = ArtifactStore(tmp_path / "cache")
    en = translate_market(get_market("en-US"), "script-key", script, store, RunOptions()).value
    assert [t.route for t in en.lines] == [("llamacpp:zh-en",)] * 2
    pt = translate_market(get_market("pt-BR"), "script-key", script, store, RunOptions()).value
    from localize.stages.translate.route import measured_routes

    best = measured_routes()[("zh", "pt")][0].via
    assert pt.lines[0].route[0] == "llamacpp:" + ("zh-en" if ">" in best else "zh-pt")
    assert all(t.text.strip() for t in pt.lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server():
    """llama.cpp's OpenAI-compatible server on 127.0.0.1, with an API key, serving the packaged model."""
    params = xllamacpp.CommonParams()
    params.model.path = str(resolve_gguf().path)
    params.n_ctx = 4096
    params.cpuparams.n_threads = 2
    params.verbosity = 0
    params.hostnames = ["127.0.0.1"]
    params.port = _free_port()
    params.api_keys = ["test-key"]
    server = xllamacpp.Server(params)
    yield f"http://127.0.0.1:{params.port}/v1"
    del server


def test_the_openai_adapter_against_a_real_llama_cpp_server(llama_server: str) -> None:
    adapter = OpenAIAdapter(OpenAIConfig(base_url=llama_server, api_key="test-key", model="qwen", timeout_s=300))
    texts = adapter.translate(["你竟然敢背叛我，我绝不会原谅你！", "", "妈，我没事。"], "zh", "en")
    assert texts[1] == ""
    assert "betray" in texts[0].lower() and "forgive" in texts[0].lower()
    assert texts[2].strip() and not any("\u4e00" <= ch <= "\u9fff" for ch in texts[2])


def test_the_real_server_refuses_a_wrong_key_and_the_adapter_says_so(llama_server: str) -> None:
    request = urllib.request.Request(f"{llama_server}/chat/completions", method="POST",
                                     data=json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(),
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 401
    adapter = OpenAIAdapter(OpenAIConfig(base_url=llama_server, api_key="wrong", model="qwen", retries=0))
    with pytest.raises(ToolFailedError, match=r"HTTP 401.*OPENAI_API_KEY"):
        adapter.translate(["妈，我没事。"], "zh", "en")
