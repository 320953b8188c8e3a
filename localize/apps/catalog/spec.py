"""The catalog file: series, their episodes, bible, cast and markets (TOML, parsed strictly).

    [defaults]                      # optional; every key may also be set per series
    language = "es"                 # source language (detected when omitted)
    asr_model = "base"
    separation = "on"
    markets_files = ["markets.toml"]

    [[series]]
    name = "love-in-lisbon"
    episodes = ["love/*.mp4", "s3://bucket/love/ep*.mp4"]   # paths, globs or fsspec URLs
    markets = ["en-US", "pt-BR"]
    bible = "love/bible.toml"
    cast = "love/cast.json"
    commercial = true               # a commercial release: non-commercial model weights are refused
    voice_consent = { SPEAKER_00 = "love/consent/lin.toml" }   # records for cloned voices (README)

Relative paths are relative to the catalog file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import msgspec

from localize.core.errors import ConfigError
from localize.core.jsonio import read_user_text
from localize.core.outputs import safe_name


class _Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    language: str | None = None
    asr_model: str | None = None
    ocr: str | None = None
    speakers: str | None = None
    separation: str | None = None
    tts_backend: str | None = None
    translate_backend: str | None = None
    voice_matching: bool | None = None
    markets_files: tuple[str, ...] | None = None
    commercial: bool | None = None


class _Series(_Settings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    episodes: tuple[str, ...]
    markets: tuple[str, ...]
    bible: str | None = None
    cast: str | None = None
    voice_consent: dict[str, str] = msgspec.field(default_factory=dict)  # character -> consent record


class _File(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    defaults: _Settings = _Settings()
    series: tuple[_Series, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """How a series' episodes are processed (the catalog's defaults with the series' own keys on top)."""

    language: str | None = None
    asr_model: str = "base"
    ocr: str = "auto"
    speakers: str = "auto"
    separation: str = "on"
    tts_backend: str | None = None
    translate_backend: str | None = None
    voice_matching: bool = True
    markets_files: tuple[str, ...] = ()
    commercial: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesSpec:
    name: str
    episodes: tuple[str, ...]  # as written: local paths/globs (made absolute) or fsspec URLs
    markets: tuple[str, ...]
    bible: str | None = None
    cast: str | None = None
    voice_consent: tuple[tuple[str, str], ...] = ()  # (character, absolute path of its consent record)
    settings: Settings = Settings()


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogSpec:
    path: str
    series: tuple[SeriesSpec, ...]


def is_url(text: str) -> bool:
    return "://" in text and not text.startswith("file://")


def _absolute(base: Path, text: str) -> str:
    if is_url(text):
        return text
    text = text.removeprefix("file://")
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else base / path)


def _merge(defaults: _Settings, own: _Settings, base: Path) -> Settings:
    values = {}
    for name in _Settings.__struct_fields__:
        value = getattr(own, name)
        value = getattr(defaults, name) if value is None else value
        if value is not None:
            values[name] = value
    if "markets_files" in values:
        values["markets_files"] = tuple(_absolute(base, f) for f in values["markets_files"])
    return Settings(**values)


def parse_catalog(path: Path | str, text: str) -> CatalogSpec:
    """The catalog in `text` (read from `path`), or a ConfigError naming the file and the key."""
    path = Path(path)
    base = path.resolve().parent
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file and re-run.") from exc
    try:
        parsed = msgspec.convert(raw, _File)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {exc}; fix the file and re-run.") from exc
    if not parsed.series:
        raise ConfigError(f"{path}: no [[series]] table; add one with name, episodes and markets.")
    seen: set[str] = set()
    series = []
    for i, s in enumerate(parsed.series):
        where = f"{path}: series[{i}] ({s.name!r})"
        safe_name(s.name, "series name", where)  # NUL, '..', '/': refused here, not retried as a transient failure
        if s.name in seen:
            raise ConfigError(f"{where}: name is used twice; give each series its own name.")
        seen.add(s.name)
        if not s.episodes:
            raise ConfigError(f"{where}: episodes is empty; list episode paths, globs or URLs.")
        if not s.markets:
            raise ConfigError(f"{where}: markets is empty; list the market tags it goes to (see `localize markets`).")
        settings = _merge(parsed.defaults, s, base)
        for name, allowed in (("ocr", ("auto", "on", "off")), ("speakers", ("auto", "on", "off")),
                              ("separation", ("on", "off"))):
            if getattr(settings, name) not in allowed:
                raise ConfigError(f"{where}: {name} must be one of {', '.join(allowed)}, "
                                  f"not {getattr(settings, name)!r}.")
        series.append(SeriesSpec(
            name=s.name, episodes=tuple(_absolute(base, e) for e in s.episodes),
            markets=tuple(dict.fromkeys(s.markets)),
            bible=_absolute(base, s.bible) if s.bible else None, cast=_absolute(base, s.cast) if s.cast else None,
            voice_consent=tuple(sorted((who, _absolute(base, rec)) for who, rec in s.voice_consent.items())),
            settings=settings,
        ))
    return CatalogSpec(path=str(path), series=tuple(series))


def load_catalog(path: Path | str) -> CatalogSpec:
    return parse_catalog(path, read_user_text(Path(path), "catalog file"))
