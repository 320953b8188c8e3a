"""Translation route planning (localize/translate/route.py).

The translators here are fakes registered under made-up names: what is under
test is how routes are chosen, not any backend.
"""

from __future__ import annotations

import sys
import types

import pytest

from localize.artifacts import Line
from localize.errors import ConfigError, NoRouteError, UnknownNameError
from localize.translate import TRANSLATORS
from localize.translate.route import plan_route, translate_lines


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
    for name, cls in FAKES.items():
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(TRANSLATORS, "_builtins",
                        {name: f"{module.__name__}:{cls.__name__}" for name, cls in FAKES.items()})


def test_same_language_needs_no_legs():
    assert plan_route("pt", "pt", ["es_en", "nope-not-even-loaded"]) == ()


def test_direct_pair_uses_the_first_backend_that_covers_it():
    (leg,) = plan_route("es", "pt", ["en_pt", "es_pt", "anything"])
    assert (leg.backend, leg.source, leg.target, leg.version) == ("es_pt", "es", "pt", "es_pt-v1")
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
