"""Language codes for stream tags (localize/core/langs.py)."""

from __future__ import annotations

import pytest

from localize.core.langs import iso639_2


@pytest.mark.parametrize(("tag", "want"), [
    # every code the hand-written table knew keeps its answer
    ("en", "eng"), ("pt", "por"), ("es", "spa"), ("ca", "cat"), ("zh", "chi"), ("fr", "fre"), ("de", "ger"),
    ("it", "ita"), ("ja", "jpn"), ("ko", "kor"), ("ru", "rus"), ("ar", "ara"), ("hi", "hin"), ("th", "tha"),
    ("vi", "vie"), ("id", "ind"), ("tr", "tur"), ("pl", "pol"), ("nl", "dut"), ("gl", "glg"), ("eu", "baq"),
    ("eo", "epo"), ("pt-BR", "por"), ("ZH", "chi"), ("zh-Hans-CN", "chi"), ("es-419", "spa"),
    # what the table could not read: underscores, deprecated codes, languages outside it
    ("zh_CN", "chi"), ("iw", "heb"), ("in", "ind"), ("sv", "swe"), ("ms", "may"), ("yue", "yue"), ("sr-Latn", "srp"),
    # no language
    ("xx", "und"), ("und", "und"), ("", "und"), ("123", "und"), ("x-private", "und"),
])
def test_iso639_2(tag, want):
    assert iso639_2(tag) == want
