"""Language code helpers."""

from __future__ import annotations

# ISO 639-1 -> ISO 639-2/B, as MP4/MKV stream language tags want.
ISO639_2 = {
    "en": "eng", "pt": "por", "es": "spa", "ca": "cat", "zh": "chi", "fr": "fre", "de": "ger", "it": "ita",
    "ja": "jpn", "ko": "kor", "ru": "rus", "ar": "ara", "hi": "hin", "th": "tha", "vi": "vie", "id": "ind",
    "tr": "tur", "pl": "pol", "nl": "dut", "gl": "glg", "eu": "baq", "eo": "epo",
}


def iso639_2(code: str) -> str:
    return ISO639_2.get(code.split("-")[0].lower(), "und")
