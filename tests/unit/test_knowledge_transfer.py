"""Local articles as Markdown files with front matter, or JSON (screenpop.knowledge.transfer)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from screenpop.knowledge.transfer import (
    PortableArticle,
    TransferError,
    file_name,
    parse_json,
    parse_markdown,
    to_json,
    to_markdown,
)
from screenpop.knowledge.workflow import Status

ARTICLE = PortableArticle(
    uid=UUID("0d3c5b8e-2f4a-4c7b-9a51-6b2e8f0c1d23"),
    title="Le RSA dans le Pas-de-Calais : « qui instruit ? »",
    service="Action sociale — RSA",
    status=Status.PUBLISHED,
    review_by=date(2027, 6, 30),
    topics=("social_aid", "social_aid/rsa"),
    summary="Où déposer une demande : Maison du Département Solidarité, CCAS, Caf.",
    linked_services=("Action sociale — RSA",),
    linked_partners=("caf",),
    linked_fiches=("F19778",),
    example=True,
    body="## Qui instruit ?\n\n- la **Caf**\n- les MDS\n\n---\n\nFin : « --- » n'arrête pas le corps.",
)


def test_markdown_round_trip() -> None:
    text = to_markdown(ARTICLE)
    assert text.startswith("---\nuid: 0d3c5b8e-2f4a-4c7b-9a51-6b2e8f0c1d23\ntitle: ")
    assert "service: Action sociale — RSA" in text  # readable UTF-8, not escapes
    assert parse_markdown(text) == ARTICLE


def test_json_round_trip() -> None:
    assert parse_json(to_json([ARTICLE, ARTICLE.model_copy(update={"uid": None})])) == [
        ARTICLE,
        ARTICLE.model_copy(update={"uid": None}),
    ]


def test_file_name() -> None:
    assert file_name(ARTICLE) == "le-rsa-dans-le-pas-de-calais-qui-instruit-0d3c5b8e.md"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("# Pas de front matter", "no front matter"),
        ("---\ntitle: [unclosed\n---\ncorps", "not valid YAML"),
        ("---\n- a\n- b\n---\ncorps", "not a mapping"),
        ("---\ntitle: Titre\nservice: S\n---\ncorps", "review_by"),
        ("---\ntitle: Titre\nservice: S\nreview_by: 2027-01-01\nstatus: online\n---\n", "status"),
        ("---\ntitle: Ti\nservice: S\nreview_by: 2027-01-01\n---\n", "title"),
        ("---\ntitle: Titre\nservice: S\nreview_by: 2027-01-01\nauthor: moi\n---\n", "author"),
        ("---\ntitle: Titre\nservice: S\nreview_by: 2027-01-01\nbody: x\n---\n", "'body' is not"),
        ("---\ntitle: !!python/object/apply:os.system ['true']\n---\n", "not valid YAML"),
        ("---\n" + "title: " + "x" * 300_000 + "\n---\n", "larger than"),
    ],
)
def test_refused_files_say_why(text: str, reason: str) -> None:
    with pytest.raises(TransferError, match=reason):
        parse_markdown(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("{", "not JSON"), ("[]", "expected an object"), ('{"articles": [{"title": "x"}]}', r"articles\[0\]")],
)
def test_refused_json(text: str, reason: str) -> None:
    with pytest.raises(TransferError, match=reason):
        parse_json(text)
