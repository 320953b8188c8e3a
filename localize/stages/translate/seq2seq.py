"""Neural machine translation with a transformers encoder-decoder: Marian (OPUS-MT), NLLB, M2M100.

The model is a local directory saved with ``save_pretrained`` or a hub id (transformers resolves
it through its own cache), from the ``model`` argument or ``LOCALIZE_SEQ2SEQ_MODEL``. User models
are not in ``models/manifest.toml``; :meth:`Seq2SeqTranslator.model_version` fingerprints the
directory's files (see :func:`.llm.fingerprint`) and that goes into the cache key.

Language pairs:
- ``pairs`` / ``LOCALIZE_SEQ2SEQ_PAIRS`` ("zh-en,en-zh") wins when set;
- a multilingual model, one whose tokenizer holds language codes (NLLB ``eng_Latn``, M2M100
  ``__en__``), covers any pair; ISO 639-1 codes are mapped to its codes, and a language it lacks
  fails with a sentence;
- a Marian model covers the pair its tokenizer config names (``source_lang``/``target_lang``) or
  its name does (``opus-mt-zh-en``). A multi-target Marian model gets the ``>>xx<<`` prefix.

Decoding is greedy by default (``num_beams`` > 1 for beam search), never sampled: the same
input gives the same output.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from typing import Any

from localize.core.errors import ConfigError, ModelError
from localize.stages.translate.llm import (
    ModelSource,
    check_device,
    dtype_kwargs,
    fingerprint,
    free_memory,
    import_torch_transformers,
    model_source,
    require_packages,
)
from localize.stages.translate.openai_backend import ANY_PAIR

log = logging.getLogger(__name__)

ENV_MODEL = "LOCALIZE_SEQ2SEQ_MODEL"
ENV_PAIRS = "LOCALIZE_SEQ2SEQ_PAIRS"

# ISO 639-1 -> NLLB-200 (FLORES-200) codes. M2M100 uses the ISO 639-1 codes themselves.
NLLB_CODES = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "az": "azj_Latn", "be": "bel_Cyrl", "bg": "bul_Cyrl",
    "bn": "ben_Beng", "bs": "bos_Latn", "ca": "cat_Latn", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn",
    "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "eo": "epo_Latn", "es": "spa_Latn", "et": "est_Latn",
    "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fr": "fra_Latn", "ga": "gle_Latn", "gl": "glg_Latn",
    "gu": "guj_Gujr", "ha": "hau_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn",
    "hy": "hye_Armn", "id": "ind_Latn", "ig": "ibo_Latn", "is": "isl_Latn", "it": "ita_Latn", "ja": "jpn_Jpan",
    "jv": "jav_Latn", "ka": "kat_Geor", "kk": "kaz_Cyrl", "km": "khm_Khmr", "kn": "kan_Knda", "ko": "kor_Hang",
    "ky": "kir_Cyrl", "lo": "lao_Laoo", "lt": "lit_Latn", "lv": "lvs_Latn", "mk": "mkd_Cyrl", "ml": "mal_Mlym",
    "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn", "my": "mya_Mymr", "nb": "nob_Latn", "ne": "npi_Deva",
    "nl": "nld_Latn", "nn": "nno_Latn", "no": "nob_Latn", "pa": "pan_Guru", "pl": "pol_Latn", "ps": "pbt_Arab",
    "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl", "si": "sin_Sinh", "sk": "slk_Latn", "sl": "slv_Latn",
    "so": "som_Latn", "sq": "als_Latn", "sr": "srp_Cyrl", "sv": "swe_Latn", "sw": "swh_Latn", "ta": "tam_Taml",
    "te": "tel_Telu", "tg": "tgk_Cyrl", "th": "tha_Thai", "tl": "tgl_Latn", "tr": "tur_Latn", "uk": "ukr_Cyrl",
    "ur": "urd_Arab", "uz": "uzn_Latn", "vi": "vie_Latn", "yo": "yor_Latn", "zh": "zho_Hans", "zu": "zul_Latn",
}
_TRADITIONAL = {"zh-hant", "zh-tw", "zh-hk", "zh-mo"}
M2M_CODES = {"nb": "no"}  # ISO 639-1 -> M2M100 where they differ
_ISO3 = {code[:3]: iso1 for iso1, code in NLLB_CODES.items()} | {"zho": "zh", "cmn": "zh", "chi": "zh", "nor": "no"}
# opus-mt-zh-en, Helsinki-NLP/opus-mt-tc-big-en-pt; not opus-mt-en-ROMANCE (multi-target: set the pairs)
_OPUS_NAME = re.compile(r"(?:^|/)opus-mt-(?:tc-(?:big|base)-)?([a-z]{2,3})-([a-z]{2,3})$")


def iso1(code: str) -> str:
    """'zho'/'zh-CN'/'zh_Hans' -> 'zh'; unknown codes pass through lower-cased."""
    base = re.split(r"[-_]", code.strip())[0].lower()
    return _ISO3.get(base, base)


def nllb_code(language: str) -> str:
    """An ISO 639-1 code (or a market tag like zh-TW) as an NLLB code; '' when there is none."""
    lang = language.strip()
    if re.fullmatch(r"[a-z]{3}_[A-Z][a-z]{3}", lang):
        return lang  # already an NLLB code
    if lang.lower().replace("_", "-") in _TRADITIONAL:
        return "zho_Hant"
    return NLLB_CODES.get(iso1(lang), "")


def m2m_code(language: str) -> str:
    base = iso1(language)
    return M2M_CODES.get(base, base)


def parse_pairs(value: str, origin: str) -> frozenset[tuple[str, str]]:
    """'zh-en, en-zh' -> {('zh','en'), ('en','zh')}; ConfigError naming `origin` when malformed."""
    pairs = set()
    for item in filter(None, (part.strip() for part in value.split(","))):
        src, sep, tgt = item.partition("-")
        if not sep or not src.strip() or not tgt.strip():
            raise ConfigError(f"{origin}={value!r}: {item!r} is not a pair; write pairs like zh-en,en-zh.")
        pairs.add((iso1(src), iso1(tgt)))
    if not pairs:
        raise ConfigError(f"{origin}={value!r} names no pair; write pairs like zh-en,en-zh.")
    return frozenset(pairs)


class Seq2SeqTranslator:
    """Translator protocol on a transformers seq2seq model; batched, padded, deterministic."""

    name = "seq2seq"

    def __init__(self, model: str | None = None, *, pairs: str | None = None, device: str = "cpu",
                 num_beams: int = 1, max_new_tokens: int = 256, batch_size: int = 16, dtype: str = "auto") -> None:
        self.model = model if model is not None else os.environ.get(ENV_MODEL, "")
        self.pairs_setting = pairs if pairs is not None else os.environ.get(ENV_PAIRS, "")
        self.device = device
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.dtype = dtype
        self._source: ModelSource | None = None
        self._version = ""
        self._pairs: frozenset[tuple[str, str]] | None = None
        self._tokenizer: Any = None
        self._model: Any = None
        self._torch: Any = None
        self._transformers: Any = None

    def model_version(self) -> str:
        if not self._version:
            beams = "greedy" if self.num_beams <= 1 else f"beam{self.num_beams}"
            self._version = f"seq2seq:{fingerprint(self._resolve())}:{beams}:max{self.max_new_tokens}:{self.dtype}"
        return self._version

    def pairs(self) -> frozenset[tuple[str, str]]:
        if self._pairs is None:
            self._resolve()
            require_packages(self.name, "seq2seq", ("torch", "transformers", "sentencepiece"))
            if self.pairs_setting:
                self._pairs = parse_pairs(self.pairs_setting, ENV_PAIRS)
            elif self.family() in ("nllb", "m2m"):
                self._pairs = frozenset({ANY_PAIR})
            else:
                self._pairs = self._marian_pairs()
        return self._pairs

    def family(self) -> str:
        """'nllb' or 'm2m' (multilingual: the tokenizer has language codes), 'marian' or 'other'."""
        tokenizer = self._load_tokenizer()
        if _token_id(tokenizer, "eng_Latn") is not None:
            return "nllb"
        if _token_id(tokenizer, "__en__") is not None:
            return "m2m"
        if type(tokenizer).__name__.startswith("Marian"):
            return "marian"
        return "other"

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        pairs = self.pairs()
        if ANY_PAIR not in pairs and (iso1(source), iso1(target)) not in pairs:
            raise ConfigError(
                f"backend 'seq2seq' model {self._resolve().label} does not translate {source}->{target} "
                f"(it covers {', '.join(sorted(f'{a}-{b}' for a, b in pairs))}); set {ENV_PAIRS} if it does."
            )
        self.load()
        prefix, src_code, bos = self._language_setup(source, target)
        out = ["" for _ in texts]
        todo = [(i, f"{prefix}{text.strip()}") for i, text in enumerate(texts) if text.strip()]
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start:start + self.batch_size]
            for (i, _), translated in zip(batch, self._generate([t for _, t in batch], src_code, bos), strict=True):
                out[i] = translated.strip()
        return out

    def load(self) -> None:
        if self._model is not None:
            return
        tokenizer = self._load_tokenizer()
        torch, transformers, ref = self._torch, self._transformers, self._resolve().load_ref
        check_device(torch, self.device, self.name)
        try:
            model = transformers.AutoModelForSeq2SeqLM.from_pretrained(
                ref, **dtype_kwargs(transformers, torch, self.dtype))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"backend 'seq2seq' cannot load the model {ref}: {exc}") from exc
        model.to(self.device)
        model.eval()
        self._tokenizer, self._model = tokenizer, model
        log.info("seq2seq: loaded %s (%s) on %s", ref, self.family(), self.device)

    def release(self) -> None:
        torch = self._torch
        self._model = self._tokenizer = None
        free_memory(torch)

    # internals

    def _resolve(self) -> ModelSource:
        if self._source is None:
            self._source = model_source(self.model, backend=self.name, env=ENV_MODEL,
                                        example="facebook/nllb-200-distilled-600M or Helsinki-NLP/opus-mt-zh-en")
        return self._source

    def _load_tokenizer(self) -> Any:
        if self._tokenizer is None:
            ref = self._resolve().load_ref
            self._torch, self._transformers = import_torch_transformers(self.name, "seq2seq")
            try:
                self._tokenizer = self._transformers.AutoTokenizer.from_pretrained(ref)
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(f"backend 'seq2seq' cannot load the tokenizer of {ref}: {exc}") from exc
        return self._tokenizer

    def _marian_pairs(self) -> frozenset[tuple[str, str]]:
        tokenizer, source = self._load_tokenizer(), self._resolve()
        src, tgt = getattr(tokenizer, "source_lang", None), getattr(tokenizer, "target_lang", None)
        if src and tgt:
            return frozenset({(iso1(src), iso1(tgt))})
        match = _OPUS_NAME.search(source.path.name if source.path is not None else source.ref)
        if match:
            return frozenset({(iso1(match[1]), iso1(match[2]))})
        raise ConfigError(
            f"backend 'seq2seq': cannot tell which languages {source.label} translates; set {ENV_PAIRS} "
            "(e.g. zh-en) or use a multilingual model (NLLB, M2M100)."
        )

    def _language_setup(self, source: str, target: str) -> tuple[str, str, int | None]:
        """(text prefix, tokenizer src_lang, forced BOS id) for the model's family."""
        family, tokenizer = self.family(), self._tokenizer
        if family in ("nllb", "m2m"):
            codes = []
            for lang in (source, target):
                code = nllb_code(lang) if family == "nllb" else m2m_code(lang)
                token_id = _token_id(tokenizer, code if family == "nllb" else f"__{code}__") if code else None
                if token_id is None:
                    raise ConfigError(f"backend 'seq2seq' model {self._resolve().label} has no language code for "
                                      f"{lang!r}; pick another backend for this market.")
                codes.append((code, token_id))
            return "", codes[0][0], codes[1][1]
        marker = f">>{iso1(target)}<<"  # multi-target Marian models (opus-mt-en-ROMANCE) pick the target so
        return (f"{marker} " if _token_id(tokenizer, marker) is not None else ""), "", None

    def _generate(self, texts: list[str], src_code: str, bos: int | None) -> list[str]:
        tokenizer, model, torch = self._tokenizer, self._model, self._torch
        if src_code:
            tokenizer.src_lang = src_code
        inputs = tokenizer(texts, return_tensors="pt", padding=True, truncation=True).to(self.device)
        options: dict[str, Any] = {"forced_bos_token_id": bos} if bos is not None else {}
        with torch.inference_mode():
            output = model.generate(**inputs, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams,
                                    do_sample=False, **options)
        if bos is not None and output.shape[1] > 1 and bool((output[:, 1] == bos).all()):
            output = output[:, 2:]  # decoder start + forced language code: not text, even where not "special"
        return tokenizer.batch_decode(output, skip_special_tokens=True)


def _token_id(tokenizer: Any, token: str) -> int | None:
    """The id of a token the tokenizer knows as a whole (language codes), else None."""
    token_id = tokenizer.convert_tokens_to_ids(token)
    return None if token_id is None or token_id == tokenizer.unk_token_id else token_id
