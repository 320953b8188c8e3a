"""C2PA content credentials: a signed manifest in the render saying its dub is AI-generated.

Signing needs the user's certificate chain (PEM, leaf first) and its private key (PEM), given in
:class:`Credentials` (``RunOptions.c2pa``, ``localize run --c2pa-cert/--c2pa-key``) or the
environment (``LOCALIZE_C2PA_CERT``, ``LOCALIZE_C2PA_KEY``). The manifest holds a
``c2pa.actions.v2`` "c2pa.created" action whose digital source type is
``compositeWithTrainedAlgorithmicMedia`` (the source's picture with an AI translation and dub)
and a ``localize.ai_label`` assertion with the label text.
Without a certificate the render carries the label in its metadata only (logged).
Uses the ``c2pa-python`` package (the ``c2pa`` extra).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from localize.core.errors import ConfigError, InputError, MissingExtraError
from localize.core.options import Credentials

log = logging.getLogger(__name__)

AI_COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
CERT_ENV, KEY_ENV = "LOCALIZE_C2PA_CERT", "LOCALIZE_C2PA_KEY"


# Credentials lives in localize.core.options (imported above).


def credentials_from(given: Credentials | None) -> Credentials | None:
    """The given credentials, else those named by LOCALIZE_C2PA_CERT/KEY, else None; files checked."""
    if given is None:
        cert, key = os.environ.get(CERT_ENV), os.environ.get(KEY_ENV)
        if not cert and not key:
            return None
        if not (cert and key):
            raise ConfigError(f"set both {CERT_ENV} and {KEY_ENV} to sign renders with C2PA, or neither.")
        given = Credentials(cert=Path(cert), key=Path(key))
    for path, what in ((given.cert, "C2PA certificate"), (given.key, "C2PA private key")):
        if not Path(path).is_file():
            raise InputError(path, f"no such {what} file", "pass a PEM file")
    return given


def manifest_json(label: str, title: str, generator: str) -> str:
    return json.dumps({
        "claim_generator_info": [{"name": "localize", "version": generator}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": AI_COMPOSITE,
                 "description": f"{label}: the dialogue was translated and dubbed with AI"},
            ]}},
            {"label": "localize.ai_label", "data": {"text": label, "ai_generated": True}},
        ],
    })


def sign_video(src: Path, dst: Path, credentials: Credentials, *, label: str, title: str) -> None:
    """Write `src` with an embedded, signed C2PA manifest to `dst` (an .mp4)."""
    try:
        import c2pa
    except ImportError:
        raise MissingExtraError("c2pa", "c2pa", "c2pa-python") from None
    from importlib.metadata import version

    info = c2pa.C2paSignerInfo(
        alg=credentials.algorithm.encode(), sign_cert=Path(credentials.cert).read_bytes(),
        private_key=Path(credentials.key).read_bytes(), ta_url=credentials.timestamp_url.encode() or None,
    )
    try:
        with c2pa.Signer.from_info(info) as signer, \
                c2pa.Builder(manifest_json(label, title, version("localize"))) as builder:
            builder.sign_file(src, dst, signer)
    except c2pa.C2paError as exc:
        raise ConfigError(f"C2PA signing with {credentials.cert} failed ({exc}); check that the certificate "
                          f"chain and key match and suit {credentials.algorithm}.") from exc
    log.info("C2PA manifest signed with %s into %s", credentials.cert, dst)


def read_manifest(path: Path) -> dict | None:
    """The active C2PA manifest of a file with its validation state, or None when it has none."""
    import c2pa

    try:
        with c2pa.Reader(path) as reader:
            store = json.loads(reader.json())
            state = reader.get_validation_state()
    except c2pa.C2paError.ManifestNotFound:
        return None
    manifest = store["manifests"][store["active_manifest"]]
    return {**manifest, "validation_state": state, "validation_status": store.get("validation_status", [])}


__all__ = ["Credentials", "credentials_from", "read_manifest", "sign_video"]
