"""Consent records: strict parsing, and every refusal (missing, sha mismatch, scope, expiry)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from localize.core.errors import ConfigError
from localize.stages.picture.consent import check_consent, copy_beside, load_record

TODAY = dt.date(2026, 11, 23)


def _face(tmp_path: Path) -> tuple[Path, str]:
    face = tmp_path / "face.png"
    face.write_bytes(b"\x89PNG not really, but bytes with a sha256")
    return face, hashlib.sha256(face.read_bytes()).hexdigest()


def _record(tmp_path: Path, sha: str, *, series: str = '["drama"]', markets: str = '["en-US"]',
            expires: str = "", extra: str = "") -> Path:
    path = tmp_path / "face.consent.toml"
    path.write_text(
        f'face_sha256 = "{sha}"\nsubject = "Jane Doe"\ngranted_by = "Jane Doe"\ngranted = 2026-11-01\n'
        f"{expires}{extra}\n[scope]\nseries = {series}\nmarkets = {markets}\npurpose = \"dubbed release\"\n",
        encoding="utf-8",
    )
    return path


def _check(face: Path, record: Path, market: str = "en-US", series: str = "drama"):
    return check_consent(character="SPEAKER_00", face=face, record=record, series=series, market=market,
                         today=TODAY)


def test_valid_record_is_checked_and_copied(tmp_path: Path) -> None:
    face, sha = _face(tmp_path)
    got = _check(face, _record(tmp_path, sha, expires="expires = 2027-11-01\n"))
    assert (got.subject, got.granted, got.expires, got.face_sha256) == ("Jane Doe", "2026-11-01", "2027-11-01", sha)
    copied = copy_beside(got, tmp_path / "out" / "consent")
    assert Path(copied.copied_to).read_bytes() == Path(got.record).read_bytes()
    assert Path(copied.copied_to).name == "SPEAKER_00.toml"


def test_json_record_and_wildcards(tmp_path: Path) -> None:
    face, sha = _face(tmp_path)
    path = tmp_path / "consent.json"
    path.write_text(json.dumps({"face_sha256": sha.upper(), "subject": "J", "granted_by": "J's guardian",
                                "granted": "2026-01-02", "scope": {"series": ["*"], "markets": ["*"],
                                                                   "purpose": "p"}}))
    assert _check(face, path, market="pt-BR", series="other").granted_by == "J's guardian"


def test_missing_record_is_refused(tmp_path: Path) -> None:
    face, _ = _face(tmp_path)
    with pytest.raises(ConfigError, match="consent record not found.*refused without it"):
        _check(face, tmp_path / "nope.toml")


@pytest.mark.parametrize("body, words", [
    ('subject = "x"\n', "not a valid consent record"),
    ("this is = not toml [", "not a valid consent record"),
])
def test_malformed_record_is_refused(tmp_path: Path, body: str, words: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=words):
        load_record(path)


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    face, sha = _face(tmp_path)
    with pytest.raises(ConfigError, match="not a valid consent record"):
        _check(face, _record(tmp_path, sha, extra='whatever = "x"\n'))


def test_sha_mismatch_is_refused(tmp_path: Path) -> None:
    face, _ = _face(tmp_path)
    with pytest.raises(ConfigError, match="does not match .*face.png"):
        _check(face, _record(tmp_path, "0" * 64))


def test_market_and_series_out_of_scope(tmp_path: Path) -> None:
    face, sha = _face(tmp_path)
    record = _record(tmp_path, sha)
    with pytest.raises(ConfigError, match="does not include market 'pt-BR'"):
        _check(face, record, market="pt-BR")
    with pytest.raises(ConfigError, match="does not include series 'other'"):
        _check(face, record, series="other")


def test_expired_and_future_records_are_refused(tmp_path: Path) -> None:
    face, sha = _face(tmp_path)
    with pytest.raises(ConfigError, match="expired on 2026-11-22"):
        _check(face, _record(tmp_path, sha, expires="expires = 2026-11-22\n"))
    path = _record(tmp_path, sha)
    path.write_text(path.read_text().replace("granted = 2026-11-01", "granted = 2026-12-01"))
    with pytest.raises(ConfigError, match="in the future"):
        _check(face, path)


def test_missing_face_image_is_refused(tmp_path: Path) -> None:
    _, sha = _face(tmp_path)
    with pytest.raises(ConfigError, match="target face image not found"):
        _check(tmp_path / "other.png", _record(tmp_path, sha))
