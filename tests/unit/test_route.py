"""Translation route planning (localize/stages/translate/route.py).

The translators here are fakes registered under made-up names: what is under
test is how routes are chosen, not any backend.
"""

from __future__ import annotations

import sys
import types

import pytest

from localize.core.artifacts import Line
from localize.core.errors import ConfigError, NoRouteError, UnknownNameError
from localize.stages.translate import TRANSLATORS
from localize.stages.translate.route import MAX_COST_ENV, plan_route, translate_lines


@pytest.fixture(autouse=True)
def _default_route_costs(monkeypatch):
    """The routing rules as shipped: the suite's conftest caps LLM passes for the other tests."""
    monkeypatch.delenv(MAX_COST_ENV, raising=False)


class _Fake:
    name = "fake"
    covers: frozenset[tuple[str, str]] = frozenset()

    def model_version(self) -> str:
        return f"{self.name}-v1"

    def pairs(self) -> frozenset[tuple[str, str]]:
        return self.covers

    def translate(self, texts, source, target):
        return [f"{t}>{target}" if t.strip() else "" for t in texts]


class EsEn(_Fake):
    name = "es_en"
    covers = frozenset({("es", "en"), ("en", "es")})


class EnPt(_Fake):
    name = "en_pt"
    covers = frozenset({("en", "pt"), ("pt", "en")})


class EsPt(_Fake):
    name = "es_pt"
    covers = frozenset({("es", "pt")})


class Anything(_Fake):
    name = "anything"
    covers = frozenset({("*", "*")})


class Broken(_Fake):
    name = "broken"

    def pairs(self):
        raise ConfigError("backend 'broken' is not configured.")


FAKES = {cls.name: cls for cls in (EsEn, EnPt, EsPt, Anything, Broken)}


@pytest.fixture(autouse=True)
def fake_translators(monkeypatch):
    module = types.ModuleType("localize_test_fake_translators")
    for cls in FAKES.values():
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(TRANSLATORS, "_builtins",
                        {name: f"{module.__name__}:{cls.__name__}" for name, cls in FAKES.items()})


def test_same_language_needs_no_legs():
    assert plan_route("pt", "pt", ["es_en", "nope-not-even-loaded"]) == ()


def test_direct_pair_uses_the_first_backend_that_covers_it():
    (leg,) = plan_route("es", "pt", ["en_pt", "es_pt", "anything"])
    assert (leg.backend, leg.source, leg.target, leg.model_version()) == ("es_pt", "es", "pt", "es_pt-v1")
    assert leg.label == "es_pt:es-pt"
    assert isinstance(leg.translator, EsPt)
    (leg,) = plan_route("es", "pt", ["anything", "es_pt"])
    assert leg.backend == "anything"


def test_direct_beats_pivot_even_when_a_pivot_backend_comes_first():
    route = plan_route("es", "pt", ["es_en", "en_pt", "es_pt"])
    assert [leg.label for leg in route] == ["es_pt:es-pt"]


def test_pivot_through_english():
    route = plan_route("es", "pt", ["en_pt", "es_en"])
    assert [leg.label for leg in route] == ["es_en:es-en", "en_pt:en-pt"]
    back = plan_route("pt", "es", ["es_en", "en_pt"])
    assert [leg.label for leg in back] == ["en_pt:pt-en", "es_en:en-es"]


def test_no_route_lists_what_was_tried():
    with pytest.raises(NoRouteError) as info:
        plan_route("zh", "pt", ["es_en", "en_pt", "broken"])
    err = info.value
    assert (err.source, err.target) == ("zh", "pt")
    assert err.tried[:2] == ("es_en", "en_pt")
    assert err.tried[2].startswith("broken (unusable: backend 'broken' is not configured")
    assert "zh->pt" in str(err) and "es_en, en_pt, broken (unusable" in str(err)


def test_no_route_from_english_when_no_backend_covers_the_pair():
    # en->es and en->pt exist, en->ca does not; there is no pivot from English itself
    with pytest.raises(NoRouteError) as info:
        plan_route("en", "ca", ["es_en", "en_pt"])
    assert info.value.tried == ("es_en", "en_pt")


def test_an_unusable_backend_is_skipped():
    (leg,) = plan_route("es", "pt", ["broken", "anything"])
    assert leg.backend == "anything"


def test_an_unknown_backend_name_fails():
    with pytest.raises(UnknownNameError) as info:
        plan_route("es", "pt", ["es_pt", "mystery"])
    assert "mystery" in str(info.value) and "es_pt" in str(info.value)


def test_translate_lines_runs_each_leg_and_labels_the_route():
    lines = [Line(id="L001", start_ms=0, end_ms=500, text="hola"), Line(id="L002", start_ms=600, end_ms=900, text=" ")]
    route = plan_route("es", "pt", ["es_en", "en_pt"])
    out = translate_lines(lines, route)
    assert [t.text for t in out] == ["hola>en>pt", ""]
    assert out[0].route == ("es_en:es-en", "en_pt:en-pt")
    assert out[0].flags == () and out[1].flags == ("empty-translation",)
    assert [t.id for t in out] == ["L001", "L002"]
    same = translate_lines(lines[:1], ())
    assert same[0].text == "hola" and same[0].route == ("copy",)


# --- auto: the best measured route among what runs here ------------------------------------------

def _measured(monkeypatch, rows):
    from localize.stages.translate import route as route_module

    table = {}
    for pair, via, chrf in rows:
        src, _, tgt = pair.partition("-")
        table.setdefault((src, tgt), []).append(route_module.MeasuredRoute(pair=pair, via=via, chrf=chrf))
    table = {k: tuple(sorted(v, key=lambda r: -r.chrf)) for k, v in table.items()}
    monkeypatch.setattr(route_module, "measured_routes", lambda: table)
    monkeypatch.setattr(route_module, "DEFAULT_ORDER", ("es_pt", "anything"))
    monkeypatch.setattr(route_module, "CONFIGURED_FIRST", ("broken",))
    return route_module


def test_auto_takes_the_best_scoring_route(monkeypatch):
    route = _measured(monkeypatch, [("es-pt", "es_pt", 60.0), ("es-pt", "es_en>en_pt", 71.0)])
    legs = route.auto_route("es", "pt")
    assert [leg.label for leg in legs] == ["es_en:es-en", "en_pt:en-pt"]


def test_auto_skips_a_route_whose_backend_does_not_run_here(monkeypatch):
    route = _measured(monkeypatch, [("es-pt", "broken", 90.0), ("es-pt", "broken>en_pt", 80.0),
                                    ("es-pt", "es_pt", 50.0)])
    assert [leg.label for leg in route.auto_route("es", "pt")] == ["es_pt:es-pt"]


def test_auto_skips_a_route_whose_backend_lacks_the_pair(monkeypatch):
    route = _measured(monkeypatch, [("es-pt", "en_pt", 90.0), ("es-pt", "anything", 40.0)])
    assert [leg.label for leg in route.auto_route("es", "pt")] == ["anything:es-pt"]


def test_auto_falls_back_to_the_default_order_for_an_unmeasured_pair(monkeypatch):
    route = _measured(monkeypatch, [("es-pt", "es_en>en_pt", 71.0)])
    assert [leg.label for leg in route.auto_route("fr", "de")] == ["anything:fr-de"]
    assert route.auto_route("de", "de") == ()


def test_auto_puts_a_configured_service_first(monkeypatch):
    route = _measured(monkeypatch, [("es-pt", "es_pt", 60.0)])
    monkeypatch.setattr(route, "CONFIGURED_FIRST", ("broken", "anything"))
    assert [leg.label for leg in route.auto_route("es", "pt")] == ["anything:es-pt"]


def test_auto_uses_the_factory_it_is_given(monkeypatch):
    route = _measured(monkeypatch, [("es-pt", "es_pt", 60.0)])
    made = []

    def factory(name):
        made.append(name)
        return TRANSLATORS.create(name)

    route.auto_route("es", "pt", factory)
    assert made == ["broken", "es_pt"]


def test_the_shipped_route_table_is_well_formed():
    from localize.stages.translate import route as route_module

    route_module.measured_routes.cache_clear()
    table = route_module.measured_routes()
    for (src, tgt), routes in table.items():
        assert src != tgt and routes
        best = max(r.chrf for r in routes)
        assert routes[0].chrf >= best - route_module.TIE_CHRF  # the first is the best, or tied with it
        for r in routes:
            assert 1 <= len(r.via.split(">")) <= 2 and 0 <= r.chrf <= 100


def test_among_routes_measured_alike_the_cheaper_one_comes_first():
    from localize.stages.translate.route import MeasuredRoute, _ranked, route_cost

    def ranked(*routes: tuple[str, float]) -> list[str]:
        return [x.via for x in _ranked([MeasuredRoute(pair="x-y", via=v, chrf=c, references="") for v, c in routes])]

    assert [route_cost(v) for v in ("apertium", "apertium>bergamot", "llamacpp>apertium", "llamacpp",
                                    "bergamot>llamacpp")] == [0, 0, 1, 2, 2]
    # 0.4 apart is a tie: the route whose LLM leg (into English) the other markets share
    assert ranked(("llamacpp", 33.1), ("llamacpp>apertium", 32.7)) == ["llamacpp>apertium", "llamacpp"]
    assert ranked(("llamacpp", 57.2), ("apertium", 56.6)) == ["apertium", "llamacpp"]  # no LLM at all
    # further apart: the better one, whatever it costs
    assert ranked(("llamacpp", 64.1), ("apertium", 57.6)) == ["llamacpp", "apertium"]
    assert ranked(("a", 50.0), ("b", 49.5), ("c>d", 40.0)) == ["a", "b", "c>d"]


def test_a_catalog_team_can_keep_llm_passes_to_those_the_markets_share(monkeypatch):
    from localize.stages.translate import route as route_module
    from localize.stages.translate.route import _within_cost

    route_module.measured_routes.cache_clear()
    es_en = route_module.measured_routes()[("es", "en")]
    assert es_en[0].via == "llamacpp"  # the shipped table: the LLM, one line a request, beats Apertium
    monkeypatch.setenv(MAX_COST_ENV, "1")
    assert [r.via for r in _within_cost(es_en)][:1] == ["apertium"]
    zh_en = route_module.measured_routes()[("zh", "en")]
    assert _within_cost(zh_en)[0].via == "llamacpp"  # nothing cheaper exists: still the best
    monkeypatch.setenv(MAX_COST_ENV, "3")
    with pytest.raises(ConfigError, match=MAX_COST_ENV):
        _within_cost(es_en)


# --- adapters: their own registry, not a guess from the class's attributes -----------------------

class LooksLikeAnAdapter(EsEn):
    """A translator with an `adapt` method that is not registered as an adapter."""

    name = "looks_like"

    def available(self):
        pass

    def adapt(self, request):
        raise AssertionError("a translator that is not registered as an adapter must not adapt")

    def release(self):
        pass


class OnlyAdapts:
    """An adapter that does no plain translation (no pairs/translate)."""

    name = "only_adapts"
    released = 0

    def model_version(self) -> str:
        return "only_adapts-v1"

    def available(self):
        pass

    def adapt(self, request):
        return []

    def release(self):
        OnlyAdapts.released += 1


class BothKinds(Anything):
    """Registered in both registries: plain translation for routes and adaptation."""

    name = "both"

    def available(self):
        pass

    def adapt(self, request):
        return []

    def release(self):
        pass


@pytest.fixture
def adapters(monkeypatch):
    from localize.stages.translate import ADAPTERS

    module = sys.modules["localize_test_fake_translators"]
    for cls in (LooksLikeAnAdapter, OnlyAdapts, BothKinds):
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(TRANSLATORS._builtins, "looks_like", f"{module.__name__}:LooksLikeAnAdapter")
    monkeypatch.setitem(TRANSLATORS._builtins, "both", f"{module.__name__}:BothKinds")
    monkeypatch.setattr(ADAPTERS, "_builtins", {"only_adapts": f"{module.__name__}:OnlyAdapts",
                                                "both": f"{module.__name__}:BothKinds"})
    return ADAPTERS


def _market(*translation: str):
    import msgspec

    from localize.core.markets import get_market

    return msgspec.structs.replace(get_market("pt-BR"), translation=translation)


def test_a_translator_with_an_adapt_method_is_not_an_adapter_unless_registered(adapters):
    from localize.stages.translate.stage import plan_market

    adapter, route, after = plan_market(_market("looks_like", "en_pt"), "es", ("looks_like", "en_pt"))
    assert adapter is None and after == ()
    assert [leg.label for leg in route] == ["looks_like:es-en", "en_pt:en-pt"]


def test_an_adapter_only_backend_adapts_and_the_translators_make_its_fallback(adapters):
    from localize.core.options import RunOptions
    from localize.stages.translate.stage import plan_market, preferences

    market = _market("only_adapts", "es_pt")
    prefs = preferences(market, RunOptions())  # a name only ADAPTERS knows is a known name
    assert prefs == ("only_adapts", "es_pt")
    adapter, route, after = plan_market(market, "es", prefs)
    assert isinstance(adapter, OnlyAdapts) and after == ()
    assert [leg.label for leg in route] == ["es_pt:es-pt"]
    with pytest.raises(UnknownNameError):
        preferences(_market("nowhere"), RunOptions())


def test_auto_makes_a_first_leg_registered_as_an_adapter_the_adapter(adapters, monkeypatch):
    from localize.stages.translate.stage import plan_market

    route_module = _measured(monkeypatch, [("es-pt", "both", 80.0), ("es-pt", "looks_like>en_pt", 70.0)])
    adapter, route, after = plan_market(_market("auto"), "es", ("auto",))
    assert isinstance(adapter, BothKinds) and route == () and after == ()
    monkeypatch.setattr(route_module, "measured_routes",
                        lambda: {("es", "pt"): (route_module.MeasuredRoute("es-pt", "looks_like>en_pt", 70.0),)})
    adapter, route, after = plan_market(_market("auto"), "es", ("auto",))
    assert adapter is None and [leg.label for leg in route] == ["looks_like:es-en", "en_pt:en-pt"]


def test_the_built_in_llms_are_in_both_registries_as_one_class(monkeypatch):
    from localize.stages.translate import ADAPTERS

    monkeypatch.undo()  # the real registries, not the fakes
    assert set(ADAPTERS.names()) >= {"llamacpp", "openai", "llm"}
    for name in ADAPTERS.names():
        cls = ADAPTERS.load(name)
        assert cls is TRANSLATORS.load(name) and cls.name == name
        for method in ("adapt", "available", "model_version", "release", "pairs", "translate"):
            assert callable(getattr(cls, method, None)), f"{name} lacks {method}()"
    assert "bergamot" not in ADAPTERS.names() and "apertium" not in ADAPTERS.names()


class CountingLLM(Anything):
    """An adapter (and plain translator) that records each request and answers "EN(<source text>)"."""

    name = "counting"
    requests: list = []

    def available(self):
        pass

    def adapt(self, request):
        from localize.stages.translate.adapt import LineAnswer

        CountingLLM.requests.append(request)
        return [LineAnswer(id=ln.id, text=f"EN({ln.text})") for ln in request.lines]

    def release(self):
        pass


def test_markets_pivoting_through_english_share_one_llm_pass_with_en_us(monkeypatch, tmp_path):
    """es -> pt by the LLM into English then a machine leg, and es -> en by the LLM: one adaptation pass
    serves both, asked for as en-US; each market's text and budgets are still its own."""
    from localize.core.artifacts import Script
    from localize.core.cache import ArtifactStore
    from localize.core.markets import get_market
    from localize.core.options import RunOptions
    from localize.stages.translate import ADAPTERS
    from localize.stages.translate.stage import translate_market

    module = sys.modules["localize_test_fake_translators"]
    module.CountingLLM = CountingLLM
    monkeypatch.setitem(TRANSLATORS._builtins, "counting", f"{module.__name__}:CountingLLM")
    monkeypatch.setattr(ADAPTERS, "_builtins", {"counting": f"{module.__name__}:CountingLLM"})
    _measured(monkeypatch, [("es-pt", "counting>en_pt", 70.0), ("es-en", "counting", 60.0)])
    monkeypatch.setattr(CountingLLM, "requests", [])
    script = Script(language="es", duration_ms=9000, backend="test", model="none", lines=(
        Line(id="L1", start_ms=0, end_ms=2000, text="hola", speaker="A"),
        Line(id="L2", start_ms=2500, end_ms=6000, text="adiós amigo", speaker="B")))
    store = ArtifactStore(tmp_path / "cache")

    pt = translate_market(get_market("pt-BR"), "script-1", script, store, RunOptions()).value
    assert [t.text for t in pt.lines] == ["EN(hola)>pt", "EN(adiós amigo)>pt"]
    assert pt.lines[0].route == ("counting:es-en", "en_pt:en-pt")
    assert [r.market for r in CountingLLM.requests] == ["en-US"]  # the English asked for as en-US's
    assert pt.lines[1].budget_chars == 49  # 3.5 s at pt-BR's 14 characters a second: the market's own budget

    en = translate_market(get_market("en-US"), "script-1", script, store, RunOptions()).value
    assert [t.text for t in en.lines] == ["EN(hola)", "EN(adiós amigo)"]
    assert len(CountingLLM.requests) == 1  # en-US reused the pivot's pass: no second request
    assert en.lines[1].budget_chars == 52  # 3.5 s at en-US's 15

    translate_market(get_market("en-US"), "script-2", script, store, RunOptions())
    assert len(CountingLLM.requests) == 2  # another script: asked again
