"""Signed form tokens (pure): `<nonce>.<expires>.<mac>`, the MAC an HMAC-SHA256 of the purpose, the nonce and the
expiry under a key the server keeps (`storage.redis.signing`). A token the server did not make, one made for another
purpose, or an expired one is refused: a cookie and a form field merely equal to each other prove nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

TOKEN = re.compile(r"(?P<nonce>[A-Za-z0-9_-]{22})\.(?P<expires>[0-9]{1,12})\.(?P<mac>[A-Za-z0-9_-]{43})")


def _mac(key: bytes, purpose: str, nonce: str, expires: int) -> str:
    digest = hmac.new(key, f"{purpose}|{nonce}|{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make(key: bytes, purpose: str, now: float, ttl: float) -> str:
    nonce = secrets.token_urlsafe(16)
    expires = int(now + ttl)
    return f"{nonce}.{expires}.{_mac(key, purpose, nonce, expires)}"


def expiry(key: bytes, purpose: str, token: str | None) -> int | None:
    """When `token` expires if the server made it for `purpose` (its MAC checks), else None."""
    match = TOKEN.fullmatch(token or "")
    if match is None:
        return None
    expires = int(match["expires"])
    if not hmac.compare_digest(match["mac"], _mac(key, purpose, match["nonce"], expires)):
        return None
    return expires


def valid(key: bytes, purpose: str, token: str | None, now: float) -> bool:
    expires = expiry(key, purpose, token)
    return expires is not None and now < expires
