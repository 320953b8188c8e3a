"""Chinese script: Whisper often writes traditional characters for Mandarin.

A script keeps its source's own script: simplified for mainland sources (the
default), traditional for Taiwan or Hong Kong ones. Conversion is OpenCC's,
word by word, so word timings stay attached to their words.
"""

from __future__ import annotations

import functools
from typing import Any

from localize.core.errors import ConfigError

# AsrOptions.chinese_script -> OpenCC configuration
CONVERSIONS = {"simplified": "t2s", "traditional": "s2t", "taiwan": "s2twp", "hongkong": "s2hk", "keep": ""}


@functools.cache
def _converter(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def to_script(text: str, script: str) -> str:
    if script not in CONVERSIONS:
        raise ConfigError(f"unknown Chinese script {script!r}; use one of {', '.join(CONVERSIONS)}.")
    config = CONVERSIONS[script]
    return _converter(config).convert(text) if config and text else text
