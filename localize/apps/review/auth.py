"""Who may use the review server, and the guard in front of it.

- **Tokens**: one per reviewer, created with ``localize reviewer add`` and shown once. The database keeps
  only the token's id and an scrypt hash of its secret (compared in constant time).
- **Identity**: the authenticated reviewer, the markets they review, whether they lead (sign off). Every
  action the server records is this reviewer's, never a name the browser sends.
- **Sessions**: the page signs in with the token once and gets an HttpOnly, SameSite=Strict cookie plus a
  CSRF token that every write must echo in ``X-CSRF-Token``. Scripts may send ``Authorization: Bearer``
  instead (a browser never adds that header to a cross-site request, so it needs no CSRF token).
- **Guard** (ASGI middleware, outermost): Host must be a loopback name or the public URL's (DNS rebinding);
  an Origin must be the Host's own; writes must be ``application/json``, not cross-site by
  ``Sec-Fetch-Site``, and at most ``max_body`` bytes; a path with a control character is a 400; every
  response carries the security headers.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_PREFIX = "lzr"
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
SESSION_COOKIE = "localize_session"
SESSION_SECONDS = 12 * 3600
CSRF_HEADER = "x-csrf-token"
MAX_BODY = 64 * 1024
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


# -- tokens ------------------------------------------------------------------------------------------

def new_token() -> tuple[str, str]:
    """A fresh token and its id: ``lzr_<id>_<secret>`` (the id finds the row, the secret proves it)."""
    token_id = secrets.token_hex(6)
    return f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}", token_id


def split_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or len(parts[2]) < 20 or len(token) > 200:
        return None
    return parts[1], parts[2]


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$<salt hex>$<hash hex>``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_LEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


_DUMMY = hash_secret("not-a-token", b"\0" * 16)


def verify_secret(secret: str, stored: str | None) -> bool:
    """Whether `secret` matches the stored hash; a missing row costs the same scrypt (no timing oracle)."""
    try:
        scheme, n, r, p, salt, digest = (stored or _DUMMY).split("$")
        assert scheme == "scrypt"
        got = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2)
    except (ValueError, AssertionError):
        return False
    return stored is not None and hmac.compare_digest(got.hex(), digest)


# -- who is asking -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """The reviewer behind a request."""

    name: str
    markets: tuple[str, ...] | None  # None: every market (the loopback-only local reviewer)
    lead: bool
    via: str  # session | bearer | local
    csrf: str = ""  # what writes must echo (session and local); "" for bearer requests

    def reviews(self, market: str) -> bool:
        return self.markets is None or market in self.markets

    def view(self) -> dict[str, Any]:
        return {"reviewer": self.name, "markets": list(self.markets) if self.markets is not None else None,
                "lead": self.lead, "auth": self.via, "csrf": self.csrf}


@dataclass(slots=True)
class _Session:
    reviewer_id: int
    csrf: str
    expires: float


class Sessions:
    """Signed-in browsers: a random session id (the cookie) -> reviewer row and CSRF token, in memory.
    A restart signs everyone out; a revoked reviewer is refused on their next request (checked per request)."""

    def __init__(self, seconds: float = SESSION_SECONDS) -> None:
        self._seconds = seconds
        self._by_id: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def open(self, reviewer_id: int) -> tuple[str, str]:
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._by_id = {k: v for k, v in self._by_id.items() if v.expires > now}
            self._by_id[sid] = _Session(reviewer_id, csrf, now + self._seconds)
        return sid, csrf

    def get(self, sid: str) -> tuple[int, str] | None:
        with self._lock:
            s = self._by_id.get(sid)
            if s is None or s.expires <= time.monotonic():
                self._by_id.pop(sid, None)
                return None
            return s.reviewer_id, s.csrf

    def close(self, sid: str) -> None:
        with self._lock:
            self._by_id.pop(sid, None)


def is_loopback(host: str) -> bool:
    """Whether a listen address or Host name stays on this machine."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(netloc: str) -> str:
    """``example.com:8443`` -> ``example.com``; ``[::1]:80`` -> ``::1``."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


# -- the guard ---------------------------------------------------------------------------------------

class Guard:
    """ASGI middleware in front of the whole app (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, public_url: str | None = None, max_body: int = MAX_BODY,
                 hsts: bool = False) -> None:
        self.app = app
        self.max_body = max_body
        self.public: set[str] = set()
        if public_url:
            parts = urlsplit(public_url)
            self.public = {parts.netloc.lower(), (parts.hostname or "").lower()}
        self.headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    def host_ok(self, host: str) -> bool:
        host = host.strip().lower()
        return bool(host) and (host in self.public or is_loopback(_hostname(host)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(send, api=scope.get("path", "").startswith("/api/"))
        refusal = self._refusal(scope)
        if refusal is not None:
            await _error(send, *refusal)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        body, too_big = await self._read(scope, receive)
        if too_big:
            await _error(send, 413, f"the request body is larger than {self.max_body} bytes.")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        path = scope.get("path", "")
        if any(ord(c) < 32 or ord(c) == 127 for c in path):
            return 400, "the path holds a control character."
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self.host_ok(host):
            return 421, f"this server does not answer for host {host[:100]!r}."
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.strip().lower():
                return 403, "cross-origin requests are refused."
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return None
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return 403, "cross-site requests are refused."
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return 415, "send the request body as application/json."
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413, f"the request body is larger than {self.max_body} bytes."
        return None

    async def _read(self, scope: Scope, receive: Receive) -> tuple[bytes, bool]:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"", False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    def _with_headers(self, send: Send, *, api: bool) -> Send:
        extra = [*self.headers, (b"cache-control", b"no-store")] if api else self.headers

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in have)]
            await send(message)

        return wrapped


async def _error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
