"""Bounds shared by the AMI event models and the call record: each defined once, so a value the edge accepts
always fits the record, and the record always fits `call_records` (migration 0001's CHECKs).

Two kinds of values come from the phone network:
- identifiers (Uniqueid, Linkedid and the ids of other channels named in an event) are keys: they are never
  cut (two long ids sharing a prefix would become one call) but, beyond `ID_MAX`, replaced by a prefix and a
  digest of the whole value, the same wherever the id appears (`DestUniqueid`, `TransfereeLinkedid`…), so the
  tracker still correlates them and the record keeps its key;
- names (channels, interfaces, queues, contexts, extensions) are cleared of control characters: a raw line break
  or NUL would otherwise reach an AMI action built from them (a transfer acts on `DestChannel`).

`CutN` is a string cut at N characters rather than refused: a record is never lost over a field's
length. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from pydantic import BeforeValidator, StringConstraints

ID_MAX = 64  # call_records.linkedid: CHECK (char_length(linkedid) BETWEEN 1 AND 64)
_DIGEST = 16  # hex characters of SHA-256 kept: 64 bits, no accidental collision among a day's calls
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def bound_id(value: object) -> object:
    """An identifier of at most `ID_MAX` characters, the same for the same input in every process; control
    characters replaced. Ids within the bound are kept as they are."""
    if not isinstance(value, str):
        return value
    if _CONTROL.search(value):
        value = _CONTROL.sub("\ufffd", value)
    if len(value) <= ID_MAX:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
    return f"{value[: ID_MAX - _DIGEST - 1]}~{digest}"


def safe_name(value: object) -> object:
    """A name sent back to Asterisk in actions: control characters (CR, LF, NUL…) replaced."""
    if isinstance(value, str) and _CONTROL.search(value):
        return _CONTROL.sub("\ufffd", value)
    return value


def _cut(limit: int) -> BeforeValidator:
    def cut(value: object) -> object:
        return value[:limit] if isinstance(value, str) else value

    return BeforeValidator(cut)


# (In `Annotated`, a BeforeValidator placed after the constraints runs first, and the constraints stay in pydantic's
# core: no Python call per field for them.)
# Strings of the record, cut at their column's bound rather than refused (the bound stays readable as max_length).
Cut32 = Annotated[str, StringConstraints(max_length=32), _cut(32)]
Cut40 = Annotated[str, StringConstraints(max_length=40), _cut(40)]
Cut80 = Annotated[str, StringConstraints(max_length=80), _cut(80)]
Cut200 = Annotated[str, StringConstraints(max_length=200), _cut(200)]
# Required identifier (Uniqueid and Linkedid of the channel an event is about).
Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX), BeforeValidator(bound_id)]
# Identifier that may be absent ("" when Asterisk leaves it out).
OptId = Annotated[str, StringConstraints(max_length=ID_MAX), BeforeValidator(bound_id)]
