"""Caller identity from the network: E.164, French display, hostile names."""

from __future__ import annotations

import pytest

from telephony.identity import MAX_NAME, caller_name, e164, french_display


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0321000001", "+33321000001"),
        ("+33321000001", "+33321000001"),
        ("0033321000001", "+33321000001"),
        ("03 21 00 00 01", "+33321000001"),
        ("0612345678", "+33612345678"),
        ("+442079460958", "+442079460958"),
        ("<unknown>", None),
        ("", None),
        ("anonymous", None),
        ("Restricted", None),
        ("101", None),  # an internal extension is not a phone number
        ("<script>", None),
        ("0" * 500, None),
    ],
)
def test_e164(raw: str, expected: str | None) -> None:
    assert e164(raw) == expected


@pytest.mark.parametrize(
    ("number", "display"),
    [
        ("+33321000001", "03 21 00 00 01"),
        ("+33612345678", "06 12 34 56 78"),
        ("+442079460958", "+44 20 7946 0958"),
        (None, ""),
    ],
)
def test_french_display(number: str | None, display: str) -> None:
    assert french_display(number) == display


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hélène Lefèvre", "Hélène Lefèvre"),
        ("He\u0301le\u0300ne", "Hélène"),  # decomposed accents are composed (NFC)
        ('Jean \\"Le Grand\\"', 'Jean "Le Grand"'),  # Asterisk C-escapes quotes
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # kept as text; escaped when shown
        ("Bell\x07\x1b[31mRed", "Bell [31mRed"),
        ("\u202eevil\u202c", "evil"),  # bidi override removed
        ("<unknown>", None),
        ("   ", None),
        ("x" * 1000, "x" * MAX_NAME),
    ],
)
def test_caller_name(raw: str, expected: str | None) -> None:
    assert caller_name(raw) == expected
