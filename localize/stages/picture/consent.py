"""Consent records for face swap: who consented to their face being used, when, and for what.

A market's ``[[picture.face_swap]]`` entry names a target face image and a consent record (TOML or
JSON) beside it. Face swap is refused unless the record exists, parses strictly, names the exact
face image by sha256, covers the series and market being rendered and has not expired::

    face_sha256 = "9f2c..."            # sha256 of the face image file, hex
    subject = "Jane Doe"               # whose face it is (the person who consented)
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
    face_sha256: str
    subject: str
    granted_by: str
    granted: dt.date
    scope: ConsentScope
    expires: dt.date | None = None
    evidence: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedConsent:
    """A consent record that was checked for one face, series and market; saved in report.json."""

    character: str
    face: str  # the face image path as given
    face_sha256: str
    record: str  # the record path as given
    record_sha256: str
    subject: str
    granted_by: str
    granted: str  # ISO date
    expires: str  # ISO date or ""
    purpose: str
    copied_to: str = ""  # where the record was copied beside the output


def load_record(path: str | Path) -> ConsentRecord:
    """Parse a consent record strictly (TOML by default, JSON for ``.json``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: consent record not found; face swap needs a signed consent record for the "
                          "target face (see README 'Face swap, with consent'), refused without it.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: consent record unreadable ({exc.strerror}); fix its permissions.") from exc
    try:
        if path.suffix.lower() == ".json":
            return msgspec.json.decode(data, type=ConsentRecord)
        return msgspec.toml.decode(data, type=ConsentRecord)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(f"{path}: not a valid consent record ({exc}); it needs face_sha256, subject, granted_by, "
                          "granted and [scope] series, markets, purpose.") from exc


def _covers(allowed: tuple[str, ...], value: str) -> bool:
    return ANY in allowed or value in allowed


def check_consent(*, character: str, face: str | Path, record: str | Path, series: str, market: str,
                  today: dt.date | None = None) -> CheckedConsent:
    """The checked consent for swapping `face` onto `character` in `series` for `market`, or ConfigError."""
    face_path, record_path = Path(face), Path(record)
    rec = load_record(record_path)
    if not face_path.is_file():
        raise ConfigError(f"{face_path}: target face image not found; fix the face path of {character!r} in the "
                          "market's [[picture.face_swap]].")
    got = file_sha256(face_path)
    if got.lower() != rec.face_sha256.strip().lower():
        raise ConfigError(f"{record_path}: face_sha256 {rec.face_sha256[:12]}... does not match {face_path} "
                          f"(sha256 {got[:12]}...); consent covers one exact image, so get a record for this one.")
    if not rec.subject.strip() or not rec.granted_by.strip() or not rec.scope.purpose.strip():
        raise ConfigError(f"{record_path}: subject, granted_by and scope.purpose must not be empty; fill them in.")
    today = today or dt.date.today()
    if rec.granted > today:
        raise ConfigError(f"{record_path}: granted {rec.granted.isoformat()} is in the future; fix the date.")
    if rec.expires is not None and rec.expires < today:
        raise ConfigError(f"{record_path}: consent of {rec.subject!r} expired on {rec.expires.isoformat()}; "
                          "renew it before swapping this face.")
    if not series and ANY not in rec.scope.series:
        raise ConfigError(f"{record_path}: consent is scoped to series {list(rec.scope.series)}, but this run names "
                          "no series; pass --series (RunOptions.series) or a cast file in the series' folder.")
    if not _covers(rec.scope.series, series):
        raise ConfigError(f"{record_path}: scope.series {list(rec.scope.series)} does not include series "
                          f"{series!r}; get consent for this series or remove the face swap.")
    if not _covers(rec.scope.markets, market):
        raise ConfigError(f"{record_path}: scope.markets {list(rec.scope.markets)} does not include market "
                          f"{market!r}; get consent for this market or remove the face swap from it.")
    return CheckedConsent(
        character=character, face=str(face_path), face_sha256=got, record=str(record_path),
        record_sha256=file_sha256(record_path), subject=rec.subject, granted_by=rec.granted_by,
        granted=rec.granted.isoformat(), expires=rec.expires.isoformat() if rec.expires else "",
        purpose=rec.scope.purpose,
    )


def copy_beside(consent: CheckedConsent, directory: Path) -> CheckedConsent:
    """Copy the record into ``directory`` (e.g. out/<episode>/<market>/consent/) and say where."""
    directory.mkdir(parents=True, exist_ok=True)
    src = Path(consent.record)
    target = directory / f"{consent.character}{src.suffix.lower() or '.toml'}"
    shutil.copyfile(src, target)
    if file_sha256(target) != consent.record_sha256:
        raise ConfigError(f"{src}: consent record changed while it was being copied; re-run.")
    log.info("consent of %s for %s copied to %s", consent.subject, consent.character, target)
    return replace(consent, copied_to=str(target))
