"""Untrusted caller identity from the phone network: sanitise, bound, normalise to E.164."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers

MAX_NAME = 80
MAX_RAW_NUMBER = 80
_ANONYMOUS = frozenset({"", "<unknown>", "unknown", "anonymous", "restricted", "private", "unavailable"})
# Control characters (C0, C1, DEL), bidi overrides and other format characters that can spoof a display.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_C_ESCAPE = re.compile(r"\\(.)")


def clean_text(value: str, limit: int) -> str:
    """NFC-normalise, drop control and bidi characters, collapse blanks, bound the length."""
    value = unicodedata.normalize("NFC", value)
    value = _UNSAFE.sub(" ", value)
    value = " ".join(value.split())
    return value[:limit]


def caller_name(raw: str) -> str | None:
    """The caller's display name, or None when the network gave none.

    Asterisk C-escapes CallerIDName (`\\"` for a quote); the escapes are undone before cleaning.
    """
    name = clean_text(_C_ESCAPE.sub(r"\1", raw), MAX_NAME)
    return None if name.lower() in _ANONYMOUS else name


@lru_cache(maxsize=4096)
def e164(raw: str, region: str = "FR") -> str | None:
    """The caller's number in E.164 (`+33321000001`), or None when anonymous or not a phone number."""
    digits = clean_text(raw, MAX_RAW_NUMBER)
    if digits.lower() in _ANONYMOUS:
        return None
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def french_display(number_e164: str | None) -> str:
    """`+33321000001` → `03 21 00 00 01`; foreign numbers in international format; '' when None."""
    if number_e164 is None:
        return ""
    try:
        number = phonenumbers.parse(number_e164, None)
    except phonenumbers.NumberParseException:
        return number_e164
    if number.country_code == 33:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
