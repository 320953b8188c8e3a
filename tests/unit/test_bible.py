from __future__ import annotations

from pathlib import Path

import pytest

from localize.stages.translate.bible import load_bible
from localize.core.errors import ConfigError, InputError

TOML = '''
series = "The Heiress Returns"
synopsis = "Lin Xia returns to take back the company."

[characters.C01]
name = "林夏"
names = { en = "Lin Xia", pt = "Lin Xia" }

[characters.C02]
name = "顾总"
names = { en = "President Gu" }

[[glossary]]
source = "顾氏集团"
targets = { en = "Gu Group", pt = "Grupo Gu" }
'''


def test_bible_gives_names_and_glossary_per_language(tmp_path: Path) -> None:
    path = tmp_path / "bible.toml"
    path.write_text(TOML, encoding="utf-8")
    bible = load_bible(path)
    assert bible.names_for("en") == {"C01": "Lin Xia", "C02": "President Gu"}
    assert bible.names_for("pt") == {"C01": "Lin Xia", "C02": "顾总"}  # no Portuguese name: the source name
    assert bible.glossary_for("pt") == (("顾氏集团", "Grupo Gu"),)
    assert bible.glossary_for("es") == ()
    assert bible.digest("en") != bible.digest("pt")


def test_bad_bible_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such bible"):
        load_bible(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[glossary]]\nsource = "x"\ntarget = "y"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_bible(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("series = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_bible(broken)
