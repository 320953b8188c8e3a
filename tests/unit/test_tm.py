from __future__ import annotations

from pathlib import Path

import pytest

from localize.core import jsonio
from localize.core.artifacts import LocalizedLine, LocalizedScript
from localize.core.errors import ConfigError
from localize.stages.translate.tm import TranslationMemory


def test_identical_and_near_identical_sources_are_found(tmp_path: Path) -> None:
    with TranslationMemory(tmp_path / "tm.sqlite") as tm:
        tm.add(source_language="zh", target_language="en", source="你竟然敢背叛我！", target="You dared to betray me!")
        tm.add(source_language="zh", target_language="en", source="我绝不会原谅你", target="I will never forgive you")
        exact = tm.lookup("你竟然敢背叛我", "zh", "en")  # punctuation folded away
        assert exact is not None and exact.similarity == 1.0 and exact.target == "You dared to betray me!"
        near = tm.lookup("我绝不会原谅你啊", "zh", "en", threshold=0.9)
        assert near is not None and 0.9 <= near.similarity < 1.0
        assert tm.lookup("我绝不会原谅你啊", "zh", "en", threshold=0.99) is None
        assert tm.lookup("你竟然敢背叛我", "zh", "pt") is None  # another language pair
        assert tm.lookup("完全不同的一句话", "zh", "en") is None


def test_a_new_approval_replaces_the_old_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "tm.sqlite"
    with TranslationMemory(path) as tm:
        tm.add(source_language="es", target_language="en", source="Hola.", target="Hi.")
        tm.add(source_language="es", target_language="en", source="hola", target="Hello.")
    with TranslationMemory(path) as tm:
        assert tm.lookup("¡Hola!", "es", "en").target == "Hello."
        assert tm.count() == {"es-en": 1}


def test_import_of_a_reviewed_market_script(tmp_path: Path) -> None:
    script = LocalizedScript(episode="ep01", market="pt-BR", source_language="es", target_language="pt", lines=(
        LocalizedLine(id="L001", speaker="C01", start_ms=0, end_ms=900, source_text="Pues aquí",
                      target_text="Bem aqui"),
        LocalizedLine(id="L002", speaker="C01", start_ms=900, end_ms=1200, source_text="...", target_text=""),
    ))
    path = jsonio.save(script, tmp_path / "script.json")
    with TranslationMemory(tmp_path / "tm.sqlite") as tm:
        assert tm.import_script(path) == 1
        assert tm.lookup("pues aquí", "es", "pt").target == "Bem aqui"


def test_a_file_that_is_not_a_memory_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.sqlite"
    bad.write_text("not a database, just notes\n" * 200)
    with pytest.raises(ConfigError, match="not a localize translation memory"):
        TranslationMemory(bad)


def test_a_candidate_exactly_at_the_threshold_matches_and_the_closest_wins(tmp_path: Path) -> None:
    with TranslationMemory(tmp_path / "tm.sqlite") as tm:
        # "abcdefghij" vs "abcdefghiX": 9 of 10 characters shared, similarity 2*9/20 = 0.9 exactly
        tm.add(source_language="en", target_language="es", source="abcdefghiX", target="nine")
        tm.add(source_language="en", target_language="es", source="abcdefgXYZ", target="seven")
        tm.add(source_language="en", target_language="es", source="abcdefghij k", target="ten and more")
        at = tm.lookup("abcdefghiy", "en", "es", threshold=0.9)
        assert at is not None and (at.target, at.similarity) == ("nine", 0.9)
        assert tm.lookup("abcdefghiy", "en", "es", threshold=0.91) is None
        best = tm.lookup("abcdefghijk", "en", "es", threshold=0.5)  # "abcdefghijk" folds equal to the third
        assert best is not None and (best.target, best.similarity) == ("ten and more", 1.0)
        near = tm.lookup("abcdefghi", "en", "es", threshold=0.5)
        assert near is not None and near.target == "nine" and near.similarity == round(18 / 19, 4)
