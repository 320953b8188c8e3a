"""Language code helpers: BCP 47 tags read by langcodes."""

from __future__ import annotations

import functools


@functools.cache
def iso639_2(code: str) -> str:
    """The ISO 639-2/B code that MP4/MKV stream language tags want ("pt-BR" -> "por", "zh_CN" -> "chi",
    "iw" -> "heb"), or "und" for a tag that names no known language."""
    import langcodes  # ~0.1 s to import: only when a render needs it

    try:
        alpha3 = langcodes.Language.get(code).to_alpha3(variant="B")
    except (LookupError, ValueError):
        return "und"
    return alpha3 if len(alpha3) == 3 and alpha3.isascii() and alpha3.isalpha() else "und"
