"""The login form's signed tokens (`screenpop.auth.tokens`), pure."""

from __future__ import annotations

from screenpop.auth import tokens

KEY, OTHER_KEY = b"k" * 43, b"o" * 43
NOW = 1_800_000_000.0


def test_a_token_is_valid_until_it_expires_for_its_purpose_and_key_only() -> None:
    token = tokens.make(KEY, "login-form", NOW, 60)
    assert tokens.valid(KEY, "login-form", token, NOW + 59)
    assert not tokens.valid(KEY, "login-form", token, NOW + 60)  # expired
    assert not tokens.valid(OTHER_KEY, "login-form", token, NOW)  # another server's (or a key made anew)
    assert not tokens.valid(KEY, "another-form", token, NOW)  # made for another purpose
    assert tokens.expiry(KEY, "login-form", token) == int(NOW + 60)


def test_a_token_changed_or_made_up_is_refused() -> None:
    token = tokens.make(KEY, "login-form", NOW, 60)
    nonce, expires, mac = token.split(".")
    for forged in (
        f"{nonce}.{int(expires) + 3600}.{mac}",  # a later expiry
        f"{'A' * 22}.{expires}.{mac}",  # another nonce
        f"{nonce}.{expires}.{'A' * 43}",  # a made-up MAC
        "A" * 43,  # the old format: any value the cookie and the field share
        "",
        token + "x",
    ):
        assert not tokens.valid(KEY, "login-form", forged, NOW), forged
    assert tokens.make(KEY, "login-form", NOW, 60) != token  # a new nonce each time
