"""Consent records: who consented to their face or voice being used, when, and for what.

One strict TOML (or JSON) format serves face swap and voice cloning. A record names what it covers:
a face image by sha256 (face swap), a voice reference clip by sha256, or a character of the series
cast (voice cloning from any clip of that character, the source's own speech included)::

    face_sha256 = "9f2c..."            # face swap: sha256 of the face image file, hex
    # voice_sha256 = "41ab..."         # voice cloning: sha256 of the reference clip, hex
    # character = "SPEAKER_00"         # voice cloning: a cast character (id or name), any clip of theirs
    subject = "Jane Doe"               # whose face or voice it is (the person who consented)
    granted_by = "Jane Doe"            # who signed (the subject or their legal representative)
    granted = 2026-11-01               # when
    expires = 2027-11-01               # optional
    evidence = "contracts/jane.pdf"    # optional: where the signed release is kept
    [scope]
    series = ["my-series"]             # or ["*"] for every series
    markets = ["en-US", "pt-BR"]       # or ["*"] for every market
    purpose = "localized dubbed release of the series"

The record used is copied beside the job's output and named in report.json and the render metadata.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec

from localize.core.cache import file_sha256
from localize.core.errors import ConfigError

log = logging.getLogger(__name__)

ANY = "*"


class ConsentScope(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    series: tuple[str, ...]  # series names, or ("*",)
    markets: tuple[str, ...]  # market tags, or ("*",)
    purpose: str


class ConsentRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    subject: str
    granted_by: str
    granted: dt.date
    scope: ConsentScope
    face_sha256: str = ""  # face swap: the target face image
    voice_sha256: str = ""  # voice cloning: the reference clip
    character: str = ""  # voice cloning: a cast character (id or name), from any clip of theirs
    expires: dt.date | None = None
    evidence: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedConsent:
    """A consent record that was checked for one face or voice, series and market; saved in report.json."""

    character: str
    face: str  # the face image path as given ("" for a voice)
    face_sha256: str
    record: str  # the record path as given
    record_sha256: str
    subject: str
    granted_by: str
    granted: str  # ISO date
    expires: str  # ISO date or ""
    purpose: str
    copied_to: str = ""  # where the record was copied beside the output
    kind: str = "face"  # "face" or "voice"
    voice: str = ""  # the reference clip ("": the character's own speech in the source)
    voice_sha256: str = ""  # the clip's sha256 when the record names one


def load_record(path: str | Path, *, what: str = "face swap") -> ConsentRecord:
    """Parse a consent record strictly (TOML by default, JSON for ``.json``)."""
    path = Path(path)
    readme = "Voice cloning, with consent" if what == "voice cloning" else "Face swap, with consent"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: consent record not found; {what} needs a signed consent record "
                          f"(see README '{readme}'), refused without it.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: consent record unreadable ({exc.strerror}); fix its permissions.") from exc
    try:
        if path.suffix.lower() == ".json":
            return msgspec.json.decode(data, type=ConsentRecord)
        return msgspec.toml.decode(data, type=ConsentRecord)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(f"{path}: not a valid consent record ({exc}); it needs subject, granted_by, granted, "
                          "[scope] series, markets, purpose, and face_sha256, voice_sha256 or character.") from exc


def _covers(allowed: tuple[str, ...], value: str) -> bool:
    return ANY in allowed or value in allowed


def _check_terms(rec: ConsentRecord, record_path: Path, *, series: str, market: str, today: dt.date | None,
                 use: str) -> None:
    """Who, when and scope: the same for faces and voices; `use` says what to remove when out of scope."""
    if not rec.subject.strip() or not rec.granted_by.strip() or not rec.scope.purpose.strip():
        raise ConfigError(f"{record_path}: subject, granted_by and scope.purpose must not be empty; fill them in.")
    today = today or dt.date.today()
    if rec.granted > today:
        raise ConfigError(f"{record_path}: granted {rec.granted.isoformat()} is in the future; fix the date.")
    if rec.expires is not None and rec.expires < today:
        raise ConfigError(f"{record_path}: consent of {rec.subject!r} expired on {rec.expires.isoformat()}; "
                          f"renew it before {use}.")
    if not series and ANY not in rec.scope.series:
        raise ConfigError(f"{record_path}: consent is scoped to series {list(rec.scope.series)}, but this run names "
                          "no series; pass --series (RunOptions.series) or a cast file in the series' folder.")
    if not _covers(rec.scope.series, series):
        raise ConfigError(f"{record_path}: scope.series {list(rec.scope.series)} does not include series "
                          f"{series!r}; get consent for this series or stop {use}.")
    if not _covers(rec.scope.markets, market):
        raise ConfigError(f"{record_path}: scope.markets {list(rec.scope.markets)} does not include market "
                          f"{market!r}; get consent for this market or stop {use} in it.")


def check_consent(*, character: str, face: str | Path, record: str | Path, series: str, market: str,
                  today: dt.date | None = None) -> CheckedConsent:
    """The checked consent for swapping `face` onto `character` in `series` for `market`, or ConfigError."""
    face_path, record_path = Path(face), Path(record)
    rec = load_record(record_path)
    if not face_path.is_file():
        raise ConfigError(f"{face_path}: target face image not found; fix the face path of {character!r} in the "
                          "market's [[picture.face_swap]].")
    if not rec.face_sha256.strip():
        raise ConfigError(f"{record_path}: names no face (face_sha256); face swap needs a record for the exact "
                          "face image.")
    got = file_sha256(face_path)
    if got.lower() != rec.face_sha256.strip().lower():
        raise ConfigError(f"{record_path}: face_sha256 {rec.face_sha256[:12]}... does not match {face_path} "
                          f"(sha256 {got[:12]}...); consent covers one exact image, so get a record for this one.")
    _check_terms(rec, record_path, series=series, market=market, today=today, use="swapping this face")
    return CheckedConsent(
        character=character, face=str(face_path), face_sha256=got, record=str(record_path),
        record_sha256=file_sha256(record_path), subject=rec.subject, granted_by=rec.granted_by,
        granted=rec.granted.isoformat(), expires=rec.expires.isoformat() if rec.expires else "",
        purpose=rec.scope.purpose,
    )


def check_voice_consent(*, character: str, names: Collection[str] = (), clip: str | Path | None,
                        record: str | Path, series: str, market: str,
                        today: dt.date | None = None) -> CheckedConsent:
    """The checked consent for cloning `character`'s voice from `clip` (None: their own speech in the source)
    in `series` for `market`, or ConfigError. `names`: the character's other names (its cast id and name),
    which a record's ``character`` may use. A record naming a clip (voice_sha256) covers only that clip."""
    record_path = Path(record)
    rec = load_record(record_path, what="voice cloning")
    clip_path = Path(clip) if clip is not None else None
    clip_sha = ""
    if rec.voice_sha256.strip():
        if clip_path is None:
            raise ConfigError(f"{record_path}: names one reference clip (voice_sha256 {rec.voice_sha256[:12]}...), "
                              f"but {character!r} has none and would be cloned from the source's speech; give "
                              f"--reference {character}=<that clip>, or a record naming character = {character!r}.")
        clip_sha = file_sha256(clip_path)
        if clip_sha.lower() != rec.voice_sha256.strip().lower():
            raise ConfigError(f"{record_path}: voice_sha256 {rec.voice_sha256[:12]}... does not match {clip_path} "
                              f"(sha256 {clip_sha[:12]}...), {character!r}'s reference clip; consent covers one exact "
                              "clip, so get a record for this one.")
    elif rec.character.strip():
        if rec.character.strip() not in {character, *names}:
            raise ConfigError(f"{record_path}: is consent for character {rec.character!r}, not {character!r}; "
                              f"give {character!r} a record of their own.")
    else:
        raise ConfigError(f"{record_path}: names no voice (voice_sha256 or character); voice cloning needs a "
                          "record for the exact clip or the cast character.")
    _check_terms(rec, record_path, series=series, market=market, today=today,
                 use=f"cloning {character!r}'s voice")
    return CheckedConsent(
        character=character, face="", face_sha256="", record=str(record_path),
        record_sha256=file_sha256(record_path), subject=rec.subject, granted_by=rec.granted_by,
        granted=rec.granted.isoformat(), expires=rec.expires.isoformat() if rec.expires else "",
        purpose=rec.scope.purpose, kind="voice", voice=str(clip_path) if clip_path else "", voice_sha256=clip_sha,
    )


def copy_beside(consent: CheckedConsent, directory: Path) -> CheckedConsent:
    """Copy the record into ``directory`` (e.g. out/<episode>/<market>/consent/) and say where: a face's as
    ``<character>.toml``, a voice's as ``voice-<character>.toml``."""
    directory.mkdir(parents=True, exist_ok=True)
    src = Path(consent.record)
    prefix = "voice-" if consent.kind == "voice" else ""
    target = directory / f"{prefix}{consent.character}{src.suffix.lower() or '.toml'}"
    shutil.copyfile(src, target)
    if file_sha256(target) != consent.record_sha256:
        raise ConfigError(f"{src}: consent record changed while it was being copied; re-run.")
    log.info("%s consent of %s for %s copied to %s", consent.kind, consent.subject, consent.character, target)
    return replace(consent, copied_to=str(target))


__all__ = ["ANY", "CheckedConsent", "ConsentRecord", "ConsentScope", "check_consent", "check_voice_consent",
           "copy_beside", "load_record"]
