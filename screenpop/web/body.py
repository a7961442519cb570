"""Request bodies read at the edge, bounded and checked before anything parses them: every handler that reads a body
goes through `read_json` or `read_form`, so no body can make the service fail (a 500) instead of being refused.

- JSON: at most `JSON_MAX_BYTES`, UTF-8 only (whatever charset the request claims), nested at most `JSON_MAX_DEPTH`
  deep (checked on the text before `json.loads`, which recurses: 100,000 brackets raised RecursionError), numbers
  within Python's digit limit (a 5,000-digit integer raised ValueError), strings encodable in UTF-8 (a lone
  surrogate `\\ud800` would fail in PostgreSQL).
- Forms: an unknown charset (LookupError), bytes that are not UTF-8 (UnicodeDecodeError), a multipart body without
  its boundary (ValueError) are refused.

Each refusal is a `WebError` (400 or 413) with a French message, mapped by `screenpop.web.middleware.errors`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from screenpop.web.errors import BadForm, BadJson, TooLarge

JSON_MAX_BYTES = 64 * 1024  # the largest body the API takes (a qualification's note is 2,000 characters at most)
JSON_MAX_DEPTH = 32
UTF8 = frozenset({"utf-8", "utf8"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


async def read_json(request: web.Request, *, max_bytes: int = JSON_MAX_BYTES, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """The request's JSON body, checked as above. Raises BadJson or TooLarge."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise TooLarge()
    raw = await request.read()  # bounded by the application's client_max_size, whatever Content-Length says
    if len(raw) > max_bytes:
        raise TooLarge()
    charset = (request.charset or "utf-8").lower()
    if charset not in UTF8:
        raise BadJson("Le corps de la demande doit être en UTF-8.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJson("Le corps de la demande n'est pas en UTF-8 valide.") from None
    if depth(text) > max_depth:
        raise BadJson(f"Le JSON de la demande est trop imbriqué ({max_depth} niveaux au plus).")
    try:
        data = json.loads(text)
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # a lone surrogate ("\ud800") cannot be stored
    except (ValueError, RecursionError, UnicodeEncodeError):  # JSONDecodeError, a number of too many digits
        raise BadJson() from None
    return data


def depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not count); linear."""
    deepest = level = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        level += 1 if bracket.group() in "[{" else -1
        deepest = max(deepest, level)
    return deepest


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request's form (urlencoded or multipart). Raises BadForm."""
    try:
        return await request.post()
    except (ValueError, LookupError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadForm() from exc
