"""A readable diff between two revisions of an article, pure: data the page renders as text (never as HTML).

Bodies are compared line by line (Markdown is written in lines and paragraphs), and within a changed line word
by word, so a corrected amount shows as « 564,78 € » struck and « 607,75 € » added, not as two whole paragraphs.
Every piece is plain text: the page puts it in `<del>`/`<ins>` through its templates' autoescaping.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from enum import StrEnum

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


class Op(StrEnum):
    EQUAL = "equal"
    INSERT = "insert"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Piece:
    op: Op
    text: str


@dataclass(frozen=True, slots=True)
class LineDiff:
    """One line of the comparison: unchanged, added, removed, or changed (then `pieces` say which words)."""

    op: Op | None  # None: changed in place
    pieces: tuple[Piece, ...]


@dataclass(frozen=True, slots=True)
class RevisionDiff:
    title: tuple[Piece, ...]
    lines: tuple[LineDiff, ...]
    added: int = 0  # lines
    removed: int = 0
    changed: int = 0
    context_skipped: tuple[int, ...] = field(default=())  # indexes of `lines` after which unchanged lines were left out


def words(old: str, new: str) -> tuple[Piece, ...]:
    """Word-level diff of two short texts; consecutive pieces of the same kind merged."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    pieces: list[Piece] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            _add(pieces, Op.EQUAL, "".join(a[i1:i2]))
        else:
            if i2 > i1:
                _add(pieces, Op.DELETE, "".join(a[i1:i2]))
            if j2 > j1:
                _add(pieces, Op.INSERT, "".join(b[j1:j2]))
    return tuple(pieces)


def _add(pieces: list[Piece], op: Op, text: str) -> None:
    if not text:
        return
    if pieces and pieces[-1].op is op:
        pieces[-1] = Piece(op, pieces[-1].text + text)
    else:
        pieces.append(Piece(op, text))


def revisions(old_title: str, old_body: str, new_title: str, new_body: str, *, context: int = 2) -> RevisionDiff:
    """Compare two revisions: the title word by word, the body line by line (changed lines word by word), keeping
    `context` unchanged lines around each change."""
    a, b = old_body.splitlines(), new_body.splitlines()
    out: list[LineDiff] = []
    added = removed = changed = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.extend(LineDiff(Op.EQUAL, (Piece(Op.EQUAL, line),)) for line in a[i1:i2])
        elif tag == "replace" and i2 - i1 == j2 - j1:
            for old, new in zip(a[i1:i2], b[j1:j2], strict=True):
                out.append(LineDiff(None, words(old, new)))
                changed += 1
        else:
            out.extend(LineDiff(Op.DELETE, (Piece(Op.DELETE, line),)) for line in a[i1:i2])
            out.extend(LineDiff(Op.INSERT, (Piece(Op.INSERT, line),)) for line in b[j1:j2])
            removed += i2 - i1
            added += j2 - j1
    kept, skipped = _trim(out, context)
    return RevisionDiff(words(old_title, new_title), kept, added, removed, changed, skipped)


def _trim(lines: list[LineDiff], context: int) -> tuple[tuple[LineDiff, ...], tuple[int, ...]]:
    """Drop unchanged lines further than `context` from any change; say where lines were left out."""
    changes = [i for i, line in enumerate(lines) if line.op is not Op.EQUAL]
    if not changes:
        return (), ()
    keep = sorted({j for i in changes for j in range(max(0, i - context), min(len(lines), i + context + 1))})
    kept: list[LineDiff] = []
    skipped: list[int] = []
    previous = -1
    for index in keep:
        if index != previous + 1 and kept:
            skipped.append(len(kept) - 1)
        kept.append(lines[index])
        previous = index
    return tuple(kept), tuple(skipped)
