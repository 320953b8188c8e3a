"""The transformers backends, 'llm' (an Adapter) and 'seq2seq' (a Translator), on tiny real models.

No model hub is reachable here, so each test model is built from a small config with random
weights and a tokenizer trained offline, saved with save_pretrained into a temp folder, and
loaded back by the backend exactly as a user's model directory would be. Random weights answer
garbage: the loading path, the prompt, decoding and the retry loop run for real; for the
success path only the token ids `generate` returns are replaced with ids that spell a JSON
answer, so the decoding, parsing and ordering still run for real.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from localize.core.errors import ConfigError, LocalizeError, ModelError
from localize.core.markets import StyleGuide
from localize.stages.translate import TRANSLATORS
from localize.stages.translate.adapt import AdaptRequest, LineRequest, MalformedAnswer, build_messages, prompt_text
from localize.stages.translate.llm import ModelDirError, TransformersAdapter
from localize.stages.translate.openai_backend import ANY_PAIR
from localize.stages.translate.seq2seq import Seq2SeqTranslator

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses"),  # MarianTokenizer, harmless here
]

torch = pytest.importorskip("torch", reason="the llm/seq2seq backends need torch (pip install 'localize[llm]')")
transformers = pytest.importorskip("transformers", reason="the llm/seq2seq backends need transformers")
tokenizers = pytest.importorskip("tokenizers", reason="the tiny test tokenizers are built with tokenizers")

TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
SENTENCES = ["你好，我是林夏。", "今天天气很好。", "你在哪里？", "我们走吧！", "Hello, I am Lin Xia.",
             "The weather is nice today.", "Where are you?", "Let's go!", "Olá, eu sou Lin Xia.", "Vamos!"]


@pytest.fixture(autouse=True)
def _no_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOCALIZE_LLM_MODEL", "LOCALIZE_SEQ2SEQ_MODEL", "LOCALIZE_SEQ2SEQ_PAIRS"):
        monkeypatch.delenv(name, raising=False)


class GenerateSpy:
    """Wraps a model class's real generate; records inputs and outputs, optionally replaces the new tokens."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cls: type, replace=None) -> None:
        self.calls: list[dict] = []
        self.replace = replace  # (call index, input ids) -> list of token ids, or None to keep the model's
        real = cls.generate

        def generate(model, *args, **kwargs):
            output = real(model, *args, **kwargs)
            inputs = kwargs["input_ids"]
            new = self.replace(len(self.calls), inputs) if self.replace else None
            if new is not None:
                output = torch.cat([inputs, torch.tensor([new], dtype=inputs.dtype)], dim=1)
            self.calls.append({"input_ids": inputs.clone(), "kwargs": kwargs, "output": output.clone()})
            return output

        monkeypatch.setattr(cls, "generate", generate)


# --- a tiny chat LLM ---------------------------------------------------------------------------------

def _chat_tokenizer(chat_template: str | None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # Byte-level BPE: every string (JSON, Chinese, accents) encodes and decodes back exactly.
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|end|>", "<|pad|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([prompt_text("system.txt"), '{"lines": [{"id": "L001", "text": "", "idiom": false}]}', *SENTENCES],
                            trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|end|>", pad_token="<|pad|>")
    fast.chat_template = chat_template
    return fast


def _save_chat_llm(folder: Path, chat_template: str | None) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _chat_tokenizer(chat_template)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                         initializer_range=0.5, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def chat_llm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_chat_llm(tmp_path_factory.mktemp("llm") / "tiny-chat-llm", TEMPLATE)


@pytest.fixture(scope="module")
def plain_llm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_chat_llm(tmp_path_factory.mktemp("llm") / "tiny-plain-llm", None)


REQUEST = AdaptRequest(
    source_language="zh", target_language="pt", market="pt-BR", style=StyleGuide(formality="informal (você)"),
    lines=(LineRequest(id="L001", speaker="C01", text="你好，我是林夏。", budget_chars=20),
           LineRequest(id="L002", speaker="C02", text="我们走吧！", budget_chars=12)),
    characters=(("C01", "Lin Xia"),), glossary=(("林夏", "Lin Xia"),), context=(("C02", "你在哪里？"),),
)


def _prompt(spy: GenerateSpy, tokenizer, call: int = 0) -> str:
    return tokenizer.decode(spy.calls[call]["input_ids"][0])


def test_llm_loads_a_user_directory_applies_the_chat_template_and_decodes_deterministically(
        chat_llm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = GenerateSpy(monkeypatch, transformers.LlamaForCausalLM)
    adapter = TransformersAdapter(str(chat_llm), max_new_tokens=8)
    adapter.available()
    assert adapter.model_version().startswith("llm:tiny-chat-llm:")
    messages = build_messages(REQUEST)
    first, second = adapter.complete(messages), adapter.complete(messages)
    again = TransformersAdapter(str(chat_llm), max_new_tokens=8).complete(messages)  # a fresh load
    assert first == second == again
    assert len(spy.calls) == 3
    assert torch.equal(spy.calls[0]["output"], spy.calls[2]["output"])
    for call in spy.calls:
        assert call["kwargs"]["do_sample"] is False and call["kwargs"]["num_beams"] == 1
        assert call["output"].shape[1] - call["input_ids"].shape[1] <= 8  # only new tokens are decoded
    prompt = _prompt(spy, adapter._tokenizer)
    assert prompt.startswith(f"<|system|>\n{prompt_text('system.txt')}<|end|>\n<|user|>\n{messages[1]['content']}<|end|>")
    assert prompt.endswith("<|assistant|>\n")
    assert prompt.count("<|end|>") == 2  # the template's, no extra special tokens added
    adapter.release()
    assert adapter._model is None


def test_llm_without_a_chat_template_sends_a_plain_prompt(plain_llm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = GenerateSpy(monkeypatch, transformers.LlamaForCausalLM)
    adapter = TransformersAdapter(str(plain_llm), max_new_tokens=4)
    messages = build_messages(REQUEST)
    assert adapter.complete(messages) == adapter.complete(messages)
    prompt = _prompt(spy, adapter._tokenizer)
    assert prompt.startswith(f"System: {prompt_text('system.txt')}\n\nUser: {messages[1]['content']}")
    assert prompt.endswith("Assistant:")


@pytest.mark.parametrize("retries", [0, 2])
def test_llm_garbage_is_retried_with_a_reminder_then_raised(chat_llm: Path, monkeypatch: pytest.MonkeyPatch,
                                                            retries: int) -> None:
    spy = GenerateSpy(monkeypatch, transformers.LlamaForCausalLM)  # the random model's own answers
    adapter = TransformersAdapter(str(chat_llm), max_new_tokens=6, retries=retries)
    with pytest.raises(MalformedAnswer) as info:
        adapter.adapt(REQUEST)
    assert len(spy.calls) == retries + 1
    assert f"no valid answer in {retries + 1} tries" in str(info.value)
    assert "max_new_tokens=6" in str(info.value)  # the cut answer is named, with the fix
    prompts = [_prompt(spy, adapter._tokenizer, i) for i in range(len(spy.calls))]
    assert "previous answer was rejected" not in prompts[0]
    for prompt in prompts[1:]:
        assert "previous answer was rejected" in prompt and "with the ids L001, L002" in prompt
        assert prompt.endswith("<|assistant|>\n")


ANSWER = ('```json\n{"lines": [{"id": "L002", "text": "Vamos!", "idiom": false, "literal": ""}, '
          '{"id": "L001", "text": "Oi, sou a Lin Xia — tudo bem?", "idiom": true, "literal": "你好 = olá"}]}\n```')


def _answer_ids(tokenizer, text: str) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text  # the tiny vocabulary spells the answer exactly
    return [*ids, tokenizer.eos_token_id]


def test_llm_a_valid_answer_is_parsed_and_put_in_request_order(chat_llm: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(chat_llm)
    answer = _answer_ids(tokenizer, ANSWER)
    # the first answer is the model's own garbage, the second the valid JSON: one retry, then success
    spy = GenerateSpy(monkeypatch, transformers.LlamaForCausalLM,
                      replace=lambda call, _inputs: answer if call == 1 else None)
    adapter = TransformersAdapter(str(chat_llm), max_new_tokens=6)
    answers = adapter.adapt(REQUEST)
    assert len(spy.calls) == 2
    assert [a.id for a in answers] == ["L001", "L002"]
    assert answers[0].text == "Oi, sou a Lin Xia — tudo bem?" and answers[0].idiom
    assert answers[0].literal == "你好 = olá"
    assert answers[1].text == "Vamos!" and not answers[1].idiom


def test_llm_is_also_a_plain_translator(chat_llm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(chat_llm)
    answer = _answer_ids(tokenizer, '{"lines": [{"id": "L3", "text": "Vamos!"}, {"id": "L1", "text": "Olá."}]}')
    spy = GenerateSpy(monkeypatch, transformers.LlamaForCausalLM, replace=lambda call, _inputs: answer)
    monkeypatch.setenv("LOCALIZE_LLM_MODEL", str(chat_llm))
    translator = TRANSLATORS.create("llm")  # the registry path: the model comes from the environment
    assert translator.pairs() == frozenset({ANY_PAIR})
    assert translator.translate(["你好。", " ", "我们走吧！"], "zh", "pt") == ["Olá.", "", "Vamos!"]
    payload = json.loads(_prompt(spy, translator._tokenizer).split("<|user|>\n")[1].split("<|end|>")[0])
    assert [ln["id"] for ln in payload["lines"]] == ["L1", "L3"]  # the blank line is not sent


# --- configuration errors ------------------------------------------------------------------------------

@pytest.mark.parametrize(("cls", "env"), [(TransformersAdapter, "LOCALIZE_LLM_MODEL"),
                                          (Seq2SeqTranslator, "LOCALIZE_SEQ2SEQ_MODEL")])
def test_no_model_configured_names_the_variable(cls, env: str) -> None:
    with pytest.raises(ConfigError, match=env):
        cls().pairs()
    with pytest.raises(ConfigError, match=env):
        cls().model_version()


@pytest.mark.parametrize("cls", [TransformersAdapter, Seq2SeqTranslator])
def test_a_missing_or_empty_model_directory_is_named(cls, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelDirError) as info:
        cls(str(missing)).pairs()
    assert isinstance(info.value, LocalizeError) and isinstance(info.value, ModelError)
    assert info.value.path == missing and str(missing) in str(info.value) and "does not exist" in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelDirError, match="has no config.json"):
        cls(str(empty)).pairs()
    (empty / "config.json").write_text("{}")
    with pytest.raises(ModelDirError, match=r"has no weights \(\*\.safetensors"):
        cls(str(empty)).pairs()


def test_a_hub_id_is_kept_as_the_model_version() -> None:
    version = TransformersAdapter("Qwen/Qwen2.5-7B-Instruct").model_version()
    assert version.startswith("llm:hub:Qwen/Qwen2.5-7B-Instruct:")
    assert Seq2SeqTranslator("Helsinki-NLP/opus-mt-zh-en").model_version().startswith("seq2seq:hub:Helsinki-NLP/")


def test_the_fingerprint_follows_the_files(chat_llm: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(chat_llm, tmp_path / "tiny-chat-llm")
    assert TransformersAdapter(str(copy)).model_version() == TransformersAdapter(str(chat_llm)).model_version()
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "rms_norm_eps": 1e-5}))
    assert TransformersAdapter(str(copy)).model_version() != TransformersAdapter(str(chat_llm)).model_version()


# --- tiny seq2seq models ---------------------------------------------------------------------------------

def _spm_model(vocab_size: int) -> bytes:
    spm = pytest.importorskip("sentencepiece", reason="Marian and M2M100 tokenizers need sentencepiece")
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(SENTENCES * 4), model_writer=buf, vocab_size=vocab_size,
                                   model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
                                   minloglevel=2)
    return buf.getvalue()


def _spm_vocab(model: bytes, specials: list[str]) -> dict[str, int]:
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_proto=model)
    vocab = {token: i for i, token in enumerate(specials)}
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    return vocab


def _tiny_seq2seq_config(cls, vocab_size: int, tokenizer, decoder_start: int):
    return cls(vocab_size=vocab_size, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
               decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
               pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
               decoder_start_token_id=decoder_start)


@pytest.fixture(scope="module")
def marian_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same tiny Marian model three times: languages in its tokenizer config, in its name, nowhere."""
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    root = tmp_path_factory.mktemp("marian")
    spm = _spm_model(90)
    (root / "source.spm").write_bytes(spm)
    (root / "vocab.json").write_text(json.dumps(_spm_vocab(spm, ["</s>", "<unk>", "<pad>"]), ensure_ascii=False))
    tokenizer = MarianTokenizer(str(root / "source.spm"), str(root / "source.spm"), str(root / "vocab.json"),
                                source_lang="zho", target_lang="eng")
    config = _tiny_seq2seq_config(MarianConfig, len(tokenizer), tokenizer, tokenizer.pad_token_id)
    torch.manual_seed(0)
    tagged = root / "tiny-marian"
    MarianMTModel(config).save_pretrained(tagged)
    tokenizer.save_pretrained(tagged)
    out = {"tagged": tagged}
    for name in ("opus-mt-zh-en", "untagged-marian"):
        out[name] = shutil.copytree(tagged, root / name)
        settings = json.loads((out[name] / "tokenizer_config.json").read_text())
        settings.pop("source_lang"), settings.pop("target_lang")
        (out[name] / "tokenizer_config.json").write_text(json.dumps(settings))
    return out


def test_marian_pairs_come_from_its_tokenizer_config_its_name_or_the_environment(
        marian_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    tagged = Seq2SeqTranslator(str(marian_dirs["tagged"]))
    assert tagged.family() == "marian"
    assert tagged.pairs() == frozenset({("zh", "en")})  # zho/eng in tokenizer_config.json
    assert Seq2SeqTranslator(str(marian_dirs["opus-mt-zh-en"])).pairs() == frozenset({("zh", "en")})
    with pytest.raises(ConfigError, match="LOCALIZE_SEQ2SEQ_PAIRS"):
        Seq2SeqTranslator(str(marian_dirs["untagged-marian"])).pairs()
    monkeypatch.setenv("LOCALIZE_SEQ2SEQ_PAIRS", "zh-en, en-zh")
    assert Seq2SeqTranslator(str(marian_dirs["untagged-marian"])).pairs() == frozenset({("zh", "en"), ("en", "zh")})
    monkeypatch.setenv("LOCALIZE_SEQ2SEQ_PAIRS", "zh")
    with pytest.raises(ConfigError, match="LOCALIZE_SEQ2SEQ_PAIRS='zh'"):
        Seq2SeqTranslator(str(marian_dirs["untagged-marian"])).pairs()


def test_marian_translates_in_padded_batches_one_string_per_input_deterministically(
        marian_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    spy = GenerateSpy(monkeypatch, transformers.MarianMTModel)
    monkeypatch.setenv("LOCALIZE_SEQ2SEQ_MODEL", str(marian_dirs["opus-mt-zh-en"]))
    translator = TRANSLATORS.create("seq2seq", batch_size=2, max_new_tokens=6)
    texts = ["你好，我是林夏。", "", "今天天气很好。", "你在哪里？"]
    first = translator.translate(texts, "zh", "en")
    assert len(first) == 4 and first[1] == "" and all(isinstance(t, str) for t in first)
    assert [call["input_ids"].shape[0] for call in spy.calls] == [2, 1]  # 3 non-blank texts, batches of 2
    mask = spy.calls[0]["kwargs"]["attention_mask"]
    assert mask.shape[0] == 2 and int(mask.sum()) < mask.numel()  # the shorter text was padded
    assert translator.translate(texts, "zh", "en") == first
    fresh = Seq2SeqTranslator(str(marian_dirs["opus-mt-zh-en"]), batch_size=2, max_new_tokens=6)
    assert fresh.translate(texts, "zh", "en") == first
    beam = Seq2SeqTranslator(str(marian_dirs["opus-mt-zh-en"]), num_beams=2, max_new_tokens=6)
    assert beam.translate(texts, "zh", "en") == beam.translate(texts, "zh", "en")
    assert beam.model_version() != fresh.model_version()
    with pytest.raises(ConfigError, match="does not translate en->pt"):
        translator.translate(["Hello"], "en", "pt")


@pytest.fixture(scope="module")
def nllb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "▁": 4}
    for ch in sorted({c for s in SENTENCES for c in s if c != " "}):
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(f"▁{ch}", len(vocab))
    tokenizer = NllbTokenizer(vocab=vocab, merges=[])  # character-level BPE plus the 202 NLLB language codes
    config = _tiny_seq2seq_config(M2M100Config, len(tokenizer), tokenizer, tokenizer.eos_token_id)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("nllb") / "tiny-nllb"
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def m2m_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    root = tmp_path_factory.mktemp("m2m")
    spm = _spm_model(90)
    (root / "sentencepiece.bpe.model").write_bytes(spm)
    (root / "vocab.json").write_text(json.dumps(_spm_vocab(spm, ["<s>", "<pad>", "</s>", "<unk>"]), ensure_ascii=False))
    tokenizer = M2M100Tokenizer(str(root / "vocab.json"), str(root / "sentencepiece.bpe.model"))
    # the 100 language codes and 8 made-up words follow the vocabulary, as in facebook/m2m100_418M
    size = tokenizer.vocab_size + len(tokenizer.lang_code_to_id) + tokenizer.num_madeup_words
    config = _tiny_seq2seq_config(M2M100Config, size, tokenizer, tokenizer.eos_token_id)
    torch.manual_seed(0)
    folder = root / "tiny-m2m100"
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize(("family", "src_token", "tgt_token"), [
    ("nllb", "zho_Hans", "por_Latn"),
    ("m2m", "__zh__", "__pt__"),
])
def test_multilingual_models_cover_any_pair_and_force_the_target_language(
        family: str, src_token: str, tgt_token: str, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = request.getfixturevalue(f"{family}_dir")
    spy = GenerateSpy(monkeypatch, transformers.M2M100ForConditionalGeneration)
    translator = Seq2SeqTranslator(str(folder), max_new_tokens=5)
    assert translator.family() == family
    assert translator.pairs() == frozenset({ANY_PAIR})
    texts = ["你好，我是林夏。", "今天天气很好。", " "]
    out = translator.translate(texts, "zh", "pt")
    assert len(out) == 3 and out[2] == "" and out == translator.translate(texts, "zh", "pt")
    tokenizer = translator._tokenizer
    src_id, tgt_id = tokenizer.convert_tokens_to_ids(src_token), tokenizer.convert_tokens_to_ids(tgt_token)
    call = spy.calls[0]
    assert call["kwargs"]["forced_bos_token_id"] == tgt_id
    assert bool((call["input_ids"][:, 0] == src_id).all())  # the source language code leads each input
    assert bool((call["output"][:, 1] == tgt_id).all())  # and the output starts in the target language
    assert all(tgt_token not in text for text in out)  # the code is not part of the text
    with pytest.raises(ConfigError, match="no language code for 'xx'"):
        translator.translate(["你好"], "zh", "xx")


def test_nllb_codes_for_market_languages(nllb_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = GenerateSpy(monkeypatch, transformers.M2M100ForConditionalGeneration)
    translator = Seq2SeqTranslator(str(nllb_dir), max_new_tokens=3)
    cases = [("zh", "es", "zho_Hans", "spa_Latn"), ("zh-TW", "ca", "zho_Hant", "cat_Latn"),
             ("en", "pt", "eng_Latn", "por_Latn")]
    for source, target, want_src, want_tgt in cases:
        translator.translate(["你好"], source, target)
        tokenizer = translator._tokenizer
        call = spy.calls[-1]
        assert int(call["input_ids"][0, 0]) == tokenizer.convert_tokens_to_ids(want_src)
        assert call["kwargs"]["forced_bos_token_id"] == tokenizer.convert_tokens_to_ids(want_tgt)


def test_a_directory_transformers_cannot_load_is_a_model_error(chat_llm: Path, tmp_path: Path) -> None:
    broken = shutil.copytree(chat_llm, tmp_path / "broken-llm")
    (broken / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(ModelError, match=f"cannot load the model {broken}"):
        TransformersAdapter(str(broken)).load()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch sees a CUDA GPU")
@pytest.mark.parametrize("cls", [TransformersAdapter, Seq2SeqTranslator])
def test_asking_for_a_gpu_torch_cannot_see_is_a_config_error(cls, chat_llm: Path) -> None:
    with pytest.raises(ConfigError, match="device 'cuda' asked for"):
        cls(str(chat_llm), device="cuda").load()


@pytest.mark.parametrize(("name", "pair"), [
    ("opus-mt-zh-en", ("zh", "en")), ("Helsinki-NLP/opus-mt-zh-en", ("zh", "en")),
    ("Helsinki-NLP/opus-mt-tc-big-en-pt", ("en", "pt")), ("opus-mt-en-ROMANCE", None), ("my-opus-mt-zh-en", None),
])
def test_marian_names_that_tell_the_pair(name: str, pair: tuple[str, str] | None) -> None:
    from localize.stages.translate.seq2seq import _OPUS_NAME

    match = _OPUS_NAME.search(name)
    assert (match.groups() if match else None) == pair
