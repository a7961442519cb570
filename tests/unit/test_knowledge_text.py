"""Folding, query terms, the tsquery built from them, highlighting (screenpop.knowledge.text)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from screenpop.knowledge.text import (
    FOLD_FROM,
    FOLD_TO,
    Fragment,
    TermMatch,
    fold,
    fold_chars,
    fragments_html,
    highlight,
    nearest,
    query_terms,
    snippet,
    tsquery_text,
    window,
)

MIGRATION = Path(__file__).resolve().parents[2] / "storage/migrations/0011_knowledge.sql"


def test_the_sql_folding_is_this_one() -> None:
    sql = MIGRATION.read_text("utf-8")
    pairs = re.findall(r"translate\(lower\(\$1\),\s*'([^']*)',\s*'((?:[^']|'')*)'\)", sql)
    assert len(pairs) == 1  # gps_fold
    for source, target in pairs:
        assert source == FOLD_FROM
        assert target.replace("''", "'") == FOLD_TO
    assert len(FOLD_FROM) == len(FOLD_TO)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Œuvre", "oeuvre"),
        ("ÉDUCATION", "education"),
        ("Personnes âgées", "personnes agees"),
        ("L’Hôpital", "l'hopital"),
        ("Straße", "strasse"),
        ("Noël à Hénin-Beaumont", "noel a henin-beaumont"),
        ("ça", "ca"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_chars_keeps_positions() -> None:
    text = "Œuvre sociale à l’Hôtel"
    assert len(fold_chars(text)) == len(text)
    assert len(fold_chars("İstanbul Hôtel")) == len("İstanbul Hôtel")
    assert highlight("İstanbul : l'Hôtel", frozenset({"hotel"}), frozenset())[-1] == Fragment("Hôtel", True)
    assert fold_chars(text).index("hotel") == text.index("Hôtel")


@pytest.mark.parametrize(
    "text",
    [
        "Œuvre sociale à l’Hôtel, ÉLÈVES, ŀl, ß, æ",
        "İstanbul Hôtel",  # a capital whose lowercase is two characters
        "Kelvin \u212a, e\u0301, ǅ, ﬁ, Ἀθῆναι, 東京",
        "àáâãäåçèéêëìíîïñòóôõöùúûüýÿāăąćĉċčďēĕėęěĝğġģĥĩīĭįĵķĺļľńņňōŏőŕŗřśŝşšţťũūŭůűųŵŷźżžđłøıħ’ŀ",
        "",
    ],
)
def test_fold_chars_is_the_table_character_for_character(text: str) -> None:
    lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    assert fold_chars(text) == lowered.translate(str.maketrans(FOLD_FROM, FOLD_TO))


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("Allocation personnalisée d'autonomie", ["allocation", "personnalisee", "autonomie"]),
        ("  RSA   rsa RSA ", ["rsa"]),
        ("<script>alert(1)</script>", ["script", "alert"]),
        ("a & b | !c", []),  # operators and one-letter words dropped
        ("carte grise:* & (x)", ["carte", "grise"]),
        ("1 2 3 4 5 6 7 8 9 10 11 12", ["10", "11", "12"]),
    ],
)
def test_query_terms(query: str, terms: list[str]) -> None:
    assert query_terms(query) == terms


def test_query_terms_are_bounded() -> None:
    assert len(query_terms(" ".join(f"mot{i}" for i in range(50)))) == 8
    assert query_terms("x" * 41) == []


@pytest.mark.parametrize(
    ("matches", "prefix", "expected"),
    [
        ([TermMatch("rsa", "rsa")], False, "rsa"),
        ([TermMatch("carte", "cart"), TermMatch("grise", "gris")], False, "carte & grise"),
        ([TermMatch("alocation", "aloc", ("allocation", "location"))], False, "(alocation | allocation | location)"),
        ([TermMatch("des", ""), TermMatch("aides", "aid")], False, "aides"),  # stop word dropped
        ([TermMatch("des", "")], False, None),
        ([TermMatch("aide", "aid"), TermMatch("alloc", "alloc")], True, "aide & (alloc | alloc:*)"),
        ([TermMatch("apa", "apa")], True, "(apa | apa:*)"),
    ],
)
def test_tsquery_text(matches: list[TermMatch], prefix: bool, expected: str | None) -> None:
    assert tsquery_text(matches, prefix_last=prefix) == expected


def test_tsquery_text_refuses_operators() -> None:
    with pytest.raises(ValueError, match="unsafe"):
        tsquery_text([TermMatch("rsa", "rsa", ("x & y",))])


def test_highlight_marks_accented_and_inflected_words() -> None:
    stems, terms = frozenset({"alloc", "ag"}), frozenset({"allocation", "agees"})
    fragments = highlight("Les allocations des personnes âgées (Allocation)", stems, terms)
    assert "".join(f.text for f in fragments) == "Les allocations des personnes âgées (Allocation)"
    assert [f.text for f in fragments if f.hit] == ["allocations", "âgées", "Allocation"]


def test_highlight_html_is_escaped() -> None:
    fragments = highlight("<script>alert('rsa')</script> RSA", frozenset({"rsa"}), frozenset({"rsa"}))
    html = fragments_html(fragments)
    assert "<script>" not in html
    assert html.count("<mark>RSA</mark>") == 1 and "<mark>rsa</mark>" in html
    assert fragments_html([Fragment('" onmouseover="x', True)]) == "<mark>&quot; onmouseover=&quot;x</mark>"


def test_nearest_keeps_the_near_misses_only() -> None:
    assert nearest(("logement", "loger", "loges"), (0.55, 0.4, 0.4)) == ("logement",)
    assert nearest(("assistante", "assistantes", "assistant"), (0.6, 0.55, 0.5)) == (
        "assistante", "assistantes", "assistant")  # fmt: skip
    assert nearest((), ()) == ()


def test_window_centres_the_first_match() -> None:
    head = "Introduction. " * 20 + "Les personnes âgées peuvent demander l'aide. " + "Suite. " * 100
    text, at_start, at_end = window(head, frozenset({"ag"}))
    assert "personnes âgées" in text and not at_start and not at_end
    assert text.index("âgées") == 80  # 80 characters before the match
    assert window("Court.", frozenset({"rien"})) == ("Court.", True, True)


def test_snippet_cuts_at_words() -> None:
    window = "début coupé au milieu " + "mot " * 100
    text = snippet(window, at_start=False, at_end=False, width=60)
    assert text.startswith("… coupé") and text.endswith(" …") and len(text) <= 64
    assert snippet("Court texte entier.", at_start=True, at_end=True) == "Court texte entier."
