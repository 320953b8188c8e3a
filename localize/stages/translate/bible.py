"""A series bible: synopsis, characters with their names per market language, glossary.

Written by the series' localization lead as TOML (or JSON) and passed with ``--bible``:

    series = "The Heiress Returns"
    synopsis = "Lin Xia, cast out by the Gu family, returns five years later to take back the company."

    [characters.C01]                      # the id the series cast gives the character
    name = "林夏"
    names = { en = "Lin Xia", pt = "Lin Xia" }
    description = "the heroine; sharp, cold to her enemies"

    [[glossary]]
    source = "顾氏集团"
    targets = { en = "Gu Group", pt = "Grupo Gu" }

Adapters get the characters' names and the glossary in every request, and every translated
line is checked afterwards: a line that drops or alters a glossary term is flagged.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import msgspec

from localize.core.errors import ConfigError
from localize.core.jsonio import read_user_text


class BibleCharacter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    names: dict[str, str] = {}  # language -> name in that market
    description: str = ""


class Term(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    source: str
    targets: dict[str, str]  # language -> required rendering
    note: str = ""


class Bible(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    series: str = ""
    synopsis: str = ""
    characters: dict[str, BibleCharacter] = {}
    glossary: tuple[Term, ...] = ()

    def names_for(self, language: str) -> dict[str, str]:
        """Speaker id -> the character's name in `language` (or its source name)."""
        return {cid: c.names.get(language, c.name) for cid, c in self.characters.items()}

    def glossary_for(self, language: str) -> tuple[tuple[str, str], ...]:
        return tuple((t.source, t.targets[language]) for t in self.glossary if language in t.targets)

    def digest(self, language: str) -> dict[str, object]:
        """What of the bible reaches a `language` translation: part of its cache key."""
        return {"synopsis": self.synopsis, "names": self.names_for(language),
                "glossary": [list(pair) for pair in self.glossary_for(language)]}


def load_bible(path: str | Path) -> Bible:
    path = Path(path)
    text = read_user_text(path, "bible file")
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({exc}).") from exc
    try:
        return msgspec.convert(raw, Bible)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {exc}; fix the bible and re-run.") from exc
