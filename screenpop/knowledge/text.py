"""French search text, pure: accent folding, query terms, the tsquery built from them, highlighting.

The database folds documents and queries with `gps_fold()` (migration 0011) before the `french` configuration
stems them; `fold` here is the same function (a unit test compares the two tables), used to cut a query into
terms and to find the words to highlight in a result. Terms are `[a-z0-9]+` once folded, so the tsquery text
built from them holds no operator a user typed: nothing of the query reaches the tsquery parser unchecked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

# Lowercase letters folded one for one (Latin-1 Supplement and Latin Extended-A), as gps_fold() in SQL.
FOLD_FROM = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿāăąćĉċčďēĕėęěĝğġģĥĩīĭįĵķĺļľńņňōŏőŕŗřśŝşšţťũūŭůűųŵŷźżžđłøıħ’ŀ"
FOLD_TO = "aaaaaaceeeeiiiinooooouuuuyyaaaccccdeeeeegggghiiiijklllnnnooorrrssssttuuuuuuwyzzzdloih'l"
EXPANSIONS = {"œ": "oe", "æ": "ae", "ß": "ss"}
_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)
_FOLD_ONE = dict(zip(FOLD_FROM, FOLD_TO, strict=True))
_FOLDABLE = re.compile("[" + re.escape(FOLD_FROM) + "]")

MAX_QUERY = 200  # characters of a query kept
MAX_TERMS = 8  # terms of a query kept
MIN_TERM = 2
MAX_TERM = 40
_TERM = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lowercase without accents, as `gps_fold()`: « Œuvre Éducation » → « oeuvre education »."""
    folded = text.lower().translate(_TABLE)
    for src, dst in EXPANSIONS.items():
        folded = folded.replace(src, dst)
    return folded


def fold_chars(text: str) -> str:
    """`fold` character for character (no expansion): the same length as `text`, so positions carry over."""
    lowered = text.lower()
    if len(lowered) != len(text):  # « İ » and a few others lowercase to two characters: keep those as they are
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    # only the characters of the table are replaced, one look-up each: `str.translate` looks every character up
    # (90 ns each, most of a search's Python time on a 1,000-character body; this is 6 times faster on French text)
    return _FOLDABLE.sub(_fold_one, lowered)


def _fold_one(match: re.Match[str]) -> str:
    return _FOLD_ONE[match.group()]


def query_terms(query: str) -> list[str]:
    """The distinct folded terms of a query, in order: 2 to 40 letters or digits, at most MAX_TERMS."""
    seen: list[str] = []
    for term in _TERM.findall(fold(query[:MAX_QUERY])):
        if MIN_TERM <= len(term) <= MAX_TERM and term not in seen:
            seen.append(term)
        if len(seen) == MAX_TERMS:
            break
    return seen


@dataclass(frozen=True, slots=True)
class TermMatch:
    """One term of a query as the database sees it: its stem (empty: a stop word), and, for a term found in no
    article, the closest words of the vocabulary (typo tolerance)."""

    term: str
    stem: str
    alternatives: tuple[str, ...] = ()


def tsquery_text(matches: Sequence[TermMatch], *, prefix_last: bool = False) -> str | None:
    """The text for `to_tsquery('french', …)`: terms AND-ed, each OR-ed with its alternatives; the last term also
    as a prefix when the query is being typed. None when nothing is left to search (only stop words)."""
    groups: list[str] = []
    kept = [m for m in matches if m.stem or m.alternatives]
    for index, match in enumerate(kept):
        options = [match.term] if match.stem else []
        options += [a for a in match.alternatives if a != match.term]
        if prefix_last and index == len(kept) - 1 and len(match.term) >= 3:
            options.append(f"{match.term}:*")
        if not all(_TERM.fullmatch(o.removesuffix(":*")) for o in options):
            raise ValueError(f"unsafe tsquery operand in {options!r}")
        groups.append(options[0] if len(options) == 1 else "(" + " | ".join(options) + ")")
    return " & ".join(groups) if groups else None


# -- highlighting ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fragment:
    """A piece of a title or snippet; `hit`: it matched the query (shown marked)."""

    text: str
    hit: bool = False


def is_hit(word: str, stems: frozenset[str], terms: frozenset[str]) -> bool:
    """Whether a word of a result matches the query: its folded form is a term (or an alternative), or starts with
    a term's stem and adds a short ending (the French stemmer cuts endings: « allocations » → « alloc »)."""
    return _hits(stems, terms).fullmatch(fold_chars(word)) is not None


@lru_cache(maxsize=256)
def _hits(stems: frozenset[str], terms: frozenset[str]) -> re.Pattern[str]:
    """One pattern for the words `is_hit` accepts, run over a folded text (the same length as the original)."""
    words = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    prefixes = "|".join(re.escape(s) for s in sorted((s for s in stems if len(s) >= 2), key=len, reverse=True))
    parts = ([rf"(?:{words})"] if words else []) + ([rf"(?:{prefixes})\w{{0,7}}"] if prefixes else [])
    return re.compile(rf"\b(?:{'|'.join(parts)})\b" if parts else r"(?!)")


def highlight(text: str, stems: frozenset[str], terms: frozenset[str]) -> list[Fragment]:
    """`text` cut into fragments, the words matching the query marked; joined, the fragments give `text` back."""
    fragments: list[Fragment] = []
    plain_start = 0
    for hit in _hits(stems, terms).finditer(fold_chars(text)):
        if hit.start() > plain_start:
            fragments.append(Fragment(text[plain_start : hit.start()]))
        fragments.append(Fragment(text[hit.start() : hit.end()], True))
        plain_start = hit.end()
    if plain_start < len(text):
        fragments.append(Fragment(text[plain_start:]))
    return fragments


def nearest(
    words: Sequence[str], similarities: Sequence[float], *, spread: float = 0.1, at_most: int = 3
) -> tuple[str, ...]:
    """Of a term's closest words (closest first), those nearly as close as the closest: « logemnt » is widened to
    « logement » (0.55), not also to « loger » (0.40), whose stem would match every « log… »."""
    if not words:
        return ()
    best = similarities[0]
    return tuple(w for w, s in zip(words, similarities, strict=True) if s >= best - spread)[:at_most]


def window(head: str, words: frozenset[str], before: int = 80, size: int = 360) -> tuple[str, bool, bool]:
    """The part of a body around its first word starting like one of `words` (folded), as (text, at the start of
    the body, at its end); the start of the body when none is found."""
    found = None
    if words:
        pattern = r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"
        found = re.search(pattern, fold_chars(head))
    start = max(0, (found.start() if found else 0) - before)
    return head[start : start + size], start == 0, start + size >= len(head)


def snippet(window: str, at_start: bool, at_end: bool, width: int = 240) -> str:
    """A window of a body cut to whole words, about `width` characters, with « … » where it was cut."""
    text = " ".join(window.split())
    if not at_start:
        cut = text.find(" ")
        text = "… " + (text[cut + 1 :] if 0 <= cut < 40 else text)
    if len(text) > width:
        cut = text.rfind(" ", 0, width)
        text = text[: cut if cut > width // 2 else width] + " …"
    elif not at_end:
        text += " …"
    return text


def fragments_html(fragments: Sequence[Fragment]) -> str:
    """The fragments as HTML, every text escaped, matches in <mark>: safe to insert in a page."""
    return "".join(f"<mark>{html.escape(f.text)}</mark>" if f.hit else html.escape(f.text) for f in fragments)
