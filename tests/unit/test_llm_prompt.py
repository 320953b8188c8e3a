"""The prompt and answer checks every adapter shares (adapt.py), as the local 'llm' backend uses them.

Pure: no torch, no model. The model side is in tests/integration/test_transformers_backends.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from localize.core.markets import StyleGuide
from localize.stages.translate.adapt import AdaptRequest, LineRequest, MalformedAnswer, build_messages, parse_answer
from localize.stages.translate.llm import _render

REQUEST = AdaptRequest(
    source_language="zh", target_language="es", market="es-ES", style=StyleGuide(formality="informal (tú)"),
    lines=(LineRequest(id="L003", speaker="C01", text="顾氏集团是我的。", budget_chars=24),
           LineRequest(id="L004", speaker="C02", text="你做梦！", budget_chars=9)),
    synopsis="A heiress returns.", characters=(("C01", "Lin Xia"), ("C02", "Gu Yan")),
    glossary=(("顾氏集团", "Grupo Gu"),), context=(("Gu Yan", "你回来了？"), ("Lin Xia", "我回来了。")),
)


def payload(request: AdaptRequest) -> dict:
    messages = build_messages(request)
    assert [m["role"] for m in messages] == ["system", "user"]
    return json.loads(messages[1]["content"])


def test_the_user_message_carries_names_glossary_context_budgets_and_style() -> None:
    data = payload(REQUEST)
    assert data["task"] == "adapt" and (data["source_language"], data["target_language"]) == ("zh", "es")
    assert data["characters"] == [{"id": "C01", "name": "Lin Xia"}, {"id": "C02", "name": "Gu Yan"}]
    assert data["glossary"] == [{"source": "顾氏集团", "target": "Grupo Gu"}]
    assert data["previous_lines"] == [{"speaker": "Gu Yan", "text": "你回来了？"},
                                      {"speaker": "Lin Xia", "text": "我回来了。"}]
    assert [(ln["id"], ln["speaker"], ln["text"], ln["budget"]) for ln in data["lines"]] == [
        ("L003", "C01", "顾氏集团是我的。", 24), ("L004", "C02", "你做梦！", 9)]
    assert data["style_guide"]["formality"] == "informal (tú)" and data["synopsis"] == "A heiress returns."


def test_a_rewrite_request_sends_the_too_long_translation() -> None:
    line = LineRequest(id="L004", speaker="C02", text="你做梦！", budget_chars=9,
                       previous_attempt="¡Ni lo sueñes, de ninguna manera!")
    data = payload(AdaptRequest(source_language="zh", target_language="es", market="es-ES", style=StyleGuide(),
                                lines=(line,), rewrite=True))
    assert data["task"] == "rewrite shorter" and "shorter" in data["instruction"]
    assert data["lines"][0]["too_long_translation"] == "¡Ni lo sueñes, de ninguna manera!"


def test_a_fenced_answer_is_accepted_and_put_in_request_order() -> None:
    answer = ('```json\n{"lines": [{"id": "L004", "text": "¡Ni lo sueñes!", "idiom": true, "literal": "¡Sueñas!"},'
              ' {"id": "L003", "text": "El Grupo Gu es mío."}]}\n```')
    got = parse_answer(answer, REQUEST)
    assert [(a.id, a.text, a.idiom, a.literal) for a in got] == [
        ("L003", "El Grupo Gu es mío.", False, ""), ("L004", "¡Ni lo sueñes!", True, "¡Sueñas!")]


@pytest.mark.parametrize(("answer", "problem"), [
    ('{"lines": [{"id": "L003", "text": "El Grupo Gu es mío."}]}', "misses lines L004"),
    ('{"lines": [{"id": "L003", "text": "Sí."}, {"id": "L004", "text": "  "}]}', "misses lines L004"),
    ('{"lines": [{"id": 3, "text": "Sí."}]}', "lacks a string id or text"),
    ('Claro: {"lines": []}', "misses lines L003, L004"),
    ("Claro, aquí está la traducción.", "not JSON"),
    ('{"translations": ["Sí.", "No."]}', "no 'lines' list"),
    ('{"lines": [{"id": "L003", "text": "Sí."}, {"id": "L003", "text": "No."}, {"id": "L004", "text": "Ya."}]}',
     "line L003 twice"),
    ('{"lines": [{"id": "L003", "text": "Sí."}, {"id": "L004", "text": "No."}, {"id": "L009", "text": "Ya."}]}',
     "not asked for: L009"),
])
def test_a_malformed_answer_says_what_is_wrong(answer: str, problem: str) -> None:
    with pytest.raises(MalformedAnswer, match=problem):
        parse_answer(answer, REQUEST)


def test_json_wrapped_in_prose_is_accepted() -> None:
    answer = 'Claro: {"lines": [{"id": "L003", "text": "Sí."}, {"id": "L004", "text": "No."}]} ¡Suerte!'
    assert [a.text for a in parse_answer(answer, REQUEST)] == ["Sí.", "No."]


class NoSystemRole:
    """A tokenizer whose chat template refuses a system message, as Gemma's does."""

    chat_template = "{{ raise_exception('System role not supported') }}"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        if any(m["role"] == "system" for m in messages):
            from jinja2 import TemplateError

            raise TemplateError("System role not supported")
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<model>"


def test_the_system_prompt_joins_the_user_message_when_the_template_refuses_it() -> None:
    pytest.importorskip("jinja2", reason="chat templates are jinja2 (installed with transformers)")
    prompt, add_special = _render(NoSystemRole(), build_messages(REQUEST))
    system, user = build_messages(REQUEST)
    assert prompt == f"<user>{system['content']}\n\n{user['content']}<model>" and add_special is False


def test_a_tokenizer_without_template_gets_a_plain_prompt_with_its_special_tokens() -> None:
    class Plain:
        chat_template = None

    prompt, add_special = _render(Plain(), [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert prompt == "System: S\n\nUser: U\n\nAssistant:" and add_special is True


def test_importing_the_transformers_backends_imports_neither_torch_nor_transformers() -> None:
    code = ("import sys, localize.stages.translate.llm, localize.stages.translate.seq2seq; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- one line a request (the llamacpp default) ---------------------------------------------------------

def test_a_line_request_has_the_line_its_budget_and_only_its_own_glossary_terms_and_no_context() -> None:
    from localize.stages.translate.adapt import build_line_messages, per_line

    first, second = per_line(REQUEST)
    assert [r.lines for r in (first, second)] == [(REQUEST.lines[0],), (REQUEST.lines[1],)]
    assert first.context == second.context == ()
    (sys_a, user_a), (sys_b, user_b) = build_line_messages(first), build_line_messages(second)
    assert sys_a == sys_b  # one system prompt per market: llama.cpp's prompt cache evaluates it once
    assert "Chinese" in sys_a["content"] and "Spanish" in sys_a["content"] and "$" not in sys_a["content"]
    assert "informal (tú)" in sys_a["content"] and "A heiress returns." in sys_a["content"]
    assert "Lin Xia" in sys_a["content"] and "Gu Yan" in sys_a["content"]
    assert "at most 24 characters" in user_a["content"] and user_a["content"].count("顾氏集团") == 2
    assert "Grupo Gu" in user_a["content"] and "Grupo Gu" not in user_b["content"]
    assert "你回来了" not in sys_a["content"] + user_a["content"]  # context lines made the small model translate them
    with pytest.raises(ValueError):
        build_line_messages(REQUEST)


def test_a_line_rewrite_is_an_editors_task_on_the_translation_alone() -> None:
    from dataclasses import replace

    from localize.stages.translate.adapt import build_line_messages, line_schema

    line = replace(REQUEST.lines[1], previous_attempt="¡Sigue soñando, que eso nunca va a pasar!")
    request = replace(REQUEST, lines=(line,), rewrite=True)
    system, user = build_line_messages(request)
    assert "Spanish" in system["content"] and "at most 9 characters" in user["content"]
    assert line.previous_attempt in user["content"] and "你做梦" not in user["content"]
    assert line_schema(request)["required"] == ["text"]


def test_a_line_answer_is_the_idiom_decision_then_the_text() -> None:
    from localize.stages.translate.adapt import line_schema, parse_line_answer

    one = replace_lines(REQUEST, REQUEST.lines[:1])
    plain, idiom = line_schema(one)["anyOf"]
    assert plain["required"] == ["idiom", "text"] and idiom["required"] == ["idiom", "literal", "text"]
    assert "pattern" in plain["properties"]["text"]  # no Han characters in a Spanish line
    got = parse_line_answer('{"idiom": true, "literal": "you dream", "text": "¡Ni lo sueñes!"}', one)
    assert (got.id, got.text, got.idiom, got.literal) == ("L003", "¡Ni lo sueñes!", True, "you dream")
    assert parse_line_answer('{"idiom": false, "literal": "x", "text": "Sí"}', one).literal == ""
    for bad in ('{"idiom": false}', '{"idiom": false, "text": "  "}', "Sí", "[]"):
        with pytest.raises(MalformedAnswer):
            parse_line_answer(bad, one)


def replace_lines(request: AdaptRequest, lines: tuple[LineRequest, ...]) -> AdaptRequest:
    from dataclasses import replace

    return replace(request, lines=lines)
