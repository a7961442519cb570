"""The editor's form read into an `ArticleInput`, or refused field by field in French (pure)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from multidict import MultiDict

from screenpop.knowledge.forms import ArticleForm, article_input

BASE = {"title": "Le RSA", "review_by": "2027-06-30", "body": "Texte", "linked_fiches": "f2487, F15062;F1"}


def posted(**changes: str | list[str]) -> ArticleForm:
    form: MultiDict[str] = MultiDict()
    for key, value in {**BASE, **changes}.items():
        for item in value if isinstance(value, list) else [value]:
            form.add(key, item)
    return ArticleForm.posted(form, form.getall)


def test_a_good_form_reads_into_an_article() -> None:
    data, errors = article_input(posted(topics=["social_aid", "social_aid/rsa"], linked_services=["1", "3"]))
    assert errors == {} and data is not None
    assert (data.title, data.review_by, data.topics) == ("Le RSA", date(2027, 6, 30), ("social_aid", "social_aid/rsa"))
    assert data.linked_services == (1, 3) and data.linked_fiches == ("F2487", "F15062", "F1")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"review_by": ""}, "review_by", "Indiquez la date « à revoir avant le » (jour, mois, année)."),
        ({"review_by": "30/06/2027"}, "review_by", "Indiquez la date « à revoir avant le » (jour, mois, année)."),
        ({"title": "ab"}, "title", "Titre : au moins 3 caractères."),
        ({"topics": [f"t{i}" for i in range(21)]}, "topics", "Thèmes : au plus 20 éléments."),
        ({"linked_services": ["1", "x"]}, "linked_services", "Service lié invalide."),
    ],
)
def test_a_refused_form_says_which_field_and_why(changes: dict[str, Any], field: str, message: str) -> None:
    data, errors = article_input(posted(**changes))
    assert data is None and errors[field] == message


def test_what_was_typed_is_kept_bounded_and_a_missing_list_is_empty() -> None:
    form = posted(body="x" * 200_000, revision="12", question="1700000000.12")
    assert len(form.get("body")) == 100_000 and form.revision == 12 and form.question() == "1700000000.12"
    assert posted(question="1; DROP").question() is None and posted(revision="-1").revision is None
    assert posted().topics == () and posted().service_id() is None
