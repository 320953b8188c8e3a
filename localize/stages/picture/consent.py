"""Consent records for face swap (the format and checks live in :mod:`localize.core.consent`, shared with
voice cloning): a market's ``[[picture.face_swap]]`` entry names a target face image and a consent record
beside it, and face swap is refused unless the record names that exact image by sha256 and covers the
series and market being rendered."""

from __future__ import annotations

from localize.core.consent import (
    ANY,
    CheckedConsent,
    ConsentRecord,
    ConsentScope,
    check_consent,
    copy_beside,
    load_record,
)

__all__ = ["ANY", "CheckedConsent", "ConsentRecord", "ConsentScope", "check_consent", "copy_beside", "load_record"]
