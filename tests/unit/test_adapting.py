"""The adaptation loop: batching with context, shorter rewrites, fallback, flags and budgets.

The adapter here is a scripted fake: the loop is under test, not a model (the real adapters are
tested against a local HTTP server and tiny transformers models in tests/integration).
"""

from __future__ import annotations

import pytest

from localize.core.artifacts import Line, TargetLine
from localize.core.errors import LocalizeError
from localize.core.markets import get_market
from localize.core.options import AdaptOptions
from localize.stages.translate.adapt import AdaptRequest, LineAnswer, MalformedAnswer, spoken_length
from localize.stages.translate.adapting import adapt_lines
from localize.stages.translate.bible import Bible, BibleCharacter, Term

MARKET = get_market("en-US")  # speaking rate 15 chars/s: a 2 s line has a 30-character budget


def line(i: int, text: str, ms: int = 2000, speaker: str = "C01") -> Line:
    return Line(id=f"L{i:03d}", start_ms=i * 3000, end_ms=i * 3000 + ms, text=text, speaker=speaker)


class Scripted:
    name = "fake"

    def __init__(self, answer, fail_batches: set[int] = frozenset()) -> None:
        self.answer, self.fail_batches, self.requests = answer, fail_batches, []

    def model_version(self) -> str:
        return "fake-1"

    def available(self) -> None:
        pass

    def adapt(self, request: AdaptRequest) -> list[LineAnswer]:
        self.requests.append(request)
        if len(self.requests) - 1 in self.fail_batches:
            raise MalformedAnswer("the answer is not JSON.")
        return [self.answer(request, ln) for ln in request.lines]


BIBLE = Bible(synopsis="A heiress returns.", characters={"C01": BibleCharacter(name="林夏", names={"en": "Lin Xia"})},
              glossary=(Term(source="顾氏集团", targets={"en": "Gu Group"}),))


def test_batches_carry_context_names_glossary_and_budgets() -> None:
    lines = [line(i, f"第{i}句") for i in range(5)]
    fake = Scripted(lambda req, ln: LineAnswer(id=ln.id, text=f"line {ln.id}"))
    out, first, final = adapt_lines(fake, lines, source="zh", market=MARKET, bible=BIBLE,
                                    options=AdaptOptions(batch_lines=2, context_lines=1))
    assert [r.lines[0].id for r in fake.requests] == ["L000", "L002", "L004"]
    assert fake.requests[1].context == (("Lin Xia", "第1句"),)  # the line before the batch, named
    assert fake.requests[0].glossary == (("顾氏集团", "Gu Group"),)
    assert fake.requests[0].characters == (("C01", "Lin Xia"),) and fake.requests[0].synopsis
    assert all(ln.budget_chars == 30 for r in fake.requests for ln in r.lines)
    assert [t.text for t in out] == [f"line L{i:03d}" for i in range(5)] and first == final == 5
    assert all(t.route == ("fake:zh-en",) and t.budget_chars == 30 for t in out)


def test_over_budget_lines_are_sent_back_for_shorter_rewrites() -> None:
    long = "This translation is far too long to be spoken in two seconds"

    def answer(req: AdaptRequest, ln):
        if not req.rewrite:
            return LineAnswer(id=ln.id, text=long if ln.id == "L001" else "Fine.")
        assert ln.previous_attempt == long
        return LineAnswer(id=ln.id, text="Short enough now.")

    fake = Scripted(answer)
    out, first, final = adapt_lines(fake, [line(0, "好"), line(1, "太长了")], source="zh", market=MARKET,
                                    bible=Bible(), options=AdaptOptions(rewrite_tries=2))
    assert [r.rewrite for r in fake.requests] == [False, True]
    assert [ln.id for ln in fake.requests[1].lines] == ["L001"]
    assert out[1].text == "Short enough now." and "over-budget" not in out[1].flags
    assert (first, final) == (1, 2)


def test_lines_still_over_budget_after_the_tries_are_flagged() -> None:
    fake = Scripted(lambda req, ln: LineAnswer(id=ln.id, text="x" * (60 if not req.rewrite else 50)))
    out, _, final = adapt_lines(fake, [line(0, "好")], source="zh", market=MARKET, bible=Bible(),
                                    options=AdaptOptions(rewrite_tries=2))
    assert len(fake.requests) == 3  # first answer + two rewrite rounds
    assert spoken_length(out[0].text) == 50 and "over-budget" in out[0].flags and final == 0


def test_a_rewrite_that_came_back_no_shorter_is_not_asked_for_again() -> None:
    """A greedy model asked the same rewrite again answers the same: after one round that did not shorten a
    line, that line is left as it is; the line that did get shorter goes on to the next round."""
    def answer(req: AdaptRequest, ln):
        if not req.rewrite:
            return LineAnswer(id=ln.id, text="x" * 60)
        return LineAnswer(id=ln.id, text="x" * (60 if ln.id == "L000" else len(ln.previous_attempt) - 5))

    fake = Scripted(answer)
    out, _, _ = adapt_lines(fake, [line(0, "好"), line(1, "坏")], source="zh", market=MARKET, bible=Bible(),
                            options=AdaptOptions(rewrite_tries=3))
    assert [[ln.id for ln in r.lines] for r in fake.requests] == [["L000", "L001"], ["L000", "L001"], ["L001"],
                                                                   ["L001"]]
    assert [spoken_length(t.text) for t in out] == [60, 45]


def test_a_failed_batch_falls_back_and_is_flagged_the_run_goes_on() -> None:
    fake = Scripted(lambda req, ln: LineAnswer(id=ln.id, text="ok"), fail_batches={0})
    lines = [line(0, "一"), line(1, "二"), line(2, "三")]

    def machine(batch):
        return [TargetLine(id=ln.id, source_text=ln.text, text=f"mt {ln.id}", route=("apertium:x-en",))
                for ln in batch]

    out, _, _ = adapt_lines(fake, lines, source="zh", market=MARKET, bible=Bible(),
                            options=AdaptOptions(batch_lines=2), fallback=machine)
    assert [t.text for t in out] == ["mt L000", "mt L001", "ok"]
    assert "fallback:fake" in out[0].flags and out[2].flags == ()


def test_without_fallback_a_failure_stops_with_the_adapter_error() -> None:
    fake = Scripted(lambda req, ln: LineAnswer(id=ln.id, text="ok"), fail_batches={0})
    with pytest.raises(LocalizeError, match="not JSON"):
        adapt_lines(fake, [line(0, "一")], source="zh", market=MARKET, bible=Bible(), options=AdaptOptions())


def test_idioms_keep_their_literal_meaning_and_glossary_misses_are_flagged() -> None:
    def answer(req, ln):
        if ln.id == "L000":
            return LineAnswer(id=ln.id, text="Don't count your chickens.", idiom=True,
                              literal="Don't sell the bear's skin before killing it")
        return LineAnswer(id=ln.id, text="The Gu company is ours.")

    out, _, _ = adapt_lines(Scripted(answer), [line(0, "别高兴得太早"), line(1, "顾氏集团是我们的")], source="zh",
                            market=MARKET, bible=BIBLE, options=AdaptOptions())
    assert out[0].flags == ("idiom",) and out[0].literal.startswith("Don't sell")
    assert out[1].flags == ("glossary:顾氏集团->Gu Group",)


def test_a_line_the_dub_can_absorb_by_speaking_faster_is_not_rewritten() -> None:
    # 30-character budgets; en-US dubs up to 1.25x: 36 characters fit by speed, 45 do not.
    lines = [line(0, "一"), line(1, "二")]
    texts = {"L000": "a" * 36, "L001": "b" * 45}
    fake = Scripted(lambda req, ln: LineAnswer(id=ln.id, text=ln.previous_attempt[:30] if req.rewrite
                                               else texts[ln.id]))
    out, first, final = adapt_lines(fake, lines, source="zh", market=MARKET, bible=Bible(), options=AdaptOptions())
    assert MARKET.max_speed == 1.25
    assert [ln.id for r in fake.requests if r.rewrite for ln in r.lines] == ["L001"]
    assert [t.text for t in out] == ["a" * 36, "b" * 30]
    assert "over-budget" in out[0].flags and first == 0 and final == 1  # still counted and flagged as over
