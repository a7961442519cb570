"""Reading the DILA's « base de données locales » (JSON): streamed record by record, each record parsed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from screenpop.directory import dila
from screenpop.directory.errors import UnreadableFile
from screenpop.directory.models import Draft, Kind
from screenpop.directory.parsed import Parsed, Refused, Skipped

FIXTURE = Path(__file__).parents[1] / "data" / "dila-locales-extrait.json"


def fixture_records() -> list[Any]:
    return list(json.loads(FIXTURE.read_text("utf-8"))["service"])


@pytest.mark.parametrize("chunk", [7, 64, 1000, 1 << 20])
def test_records_are_read_one_by_one_whatever_the_cut(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(dila, "CHUNK", chunk)  # records and multi-byte characters cut across reads
    with FIXTURE.open(encoding="utf-8") as stream:
        assert list(dila.records(stream)) == fixture_records()


def test_a_bare_list_is_read_too() -> None:
    assert list(dila.records(io.StringIO(' [ {"id": "a"}, {"id": "b"} ] '))) == [{"id": "a"}, {"id": "b"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"autre": []}', "pas de liste « service »"),
        ("ceci n'est pas du JSON", "pas de liste « service »"),
        ('{"service": [{"id": "a"}, {"id": "b"', "illisible"),  # cut in a record
        ('{"service": [{"id": "a"}, ', "tronqué"),  # cut between records
        ('{"service": [{"id": "a"} {"id": ]}', "illisible"),
    ],
)
def test_a_file_that_is_not_the_dila_s_json_is_unreadable(text: str, message: str) -> None:
    with pytest.raises(UnreadableFile, match=message):
        list(dila.records(io.StringIO(text)))


def parsed(departement: str | None = "62") -> list[Parsed | Refused | Skipped]:
    with FIXTURE.open(encoding="utf-8") as stream:
        return list(dila.read(stream, departement))


def test_the_fixture_s_records_are_taken_skipped_or_refused_with_their_reason() -> None:
    items = parsed()
    summary = [(i.line, type(i).__name__, i.values["kind"] if isinstance(i, Parsed) else i.reason) for i in items]
    assert summary == [
        (1, "Parsed", Kind.TOWN_HALL),
        (2, "Parsed", Kind.CAF),
        (3, "Parsed", Kind.MDPH),  # fields JSON-encoded in strings, as in the DILA's API exports
        (4, "Parsed", Kind.SUB_PREFECTURE),
        (5, "Skipped", "type gendarmerie"),
        (6, "Skipped", "hors du département"),
        (7, "Parsed", Kind.CCAS),  # its phone is refused when the draft is checked (the import's job)
        (8, "Refused", "heure illisible « 9h »"),
        (9, "Refused", "pas d'identifiant (id)"),
        (10, "Refused", "l'enregistrement n'est pas un objet JSON"),
        (11, "Parsed", Kind.CPAM),  # its e-mail is refused when the draft is checked
        (12, "Parsed", Kind.FRANCE_TRAVAIL),  # "pole_emploi", the former code
    ]
    assert [i.line for i in parsed(None) if isinstance(i, Skipped)] == [5]  # no filter: Lille is taken


def test_a_town_hall_s_values() -> None:
    arras = parsed()[0]
    assert isinstance(arras, Parsed)
    draft = Draft.model_validate({**arras.values, "owner": "admin"})
    assert (draft.ref, draft.name, draft.source) == (
        "dila:00000000-0000-4000-8000-000000000001",
        "Mairie - Arras (exemple)",
        "dila",
    )
    assert (draft.street, draft.postal_code, draft.city, draft.commune_insee) == (
        "Hôtel de ville, Place Guy Mollet",  # the place itself, not the postal box
        "62000",
        "Arras",
        "62041",
    )
    assert [p.number for p in draft.phones] == ["+33353019001"]
    assert draft.email == "mairie@arras.example.org" and draft.website == "https://www.arras.example.org/"
    assert draft.hours is not None
    assert draft.hours["mon"] == draft.hours["fri"] == (("08:30", "12:00"), ("13:30", "17:30"))
    assert draft.hours["sat"] == (("09:00", "12:00"),) and draft.hours["sun"] == ()
    assert draft.public_note == "Horaires : Etat civil uniquement le samedi."
    assert draft.communes == ("62041",) and str(draft.verified_on) == "2025-08-09"
    assert "public_note" not in arras.updated_fields and "owner" not in arras.updated_fields  # the staff's


def test_short_numbers_labels_websites_and_spans_past_midnight() -> None:
    items = parsed()
    caf, mdph, sub_prefecture, france_travail = (items[i] for i in (1, 2, 3, 11))
    assert isinstance(caf, Parsed) and isinstance(mdph, Parsed) and isinstance(france_travail, Parsed)
    caf_draft = Draft.model_validate({**caf.values, "owner": "admin"})
    assert [(p.number, p.label) for p in caf_draft.phones] == [
        ("3230", "Numéro national, service gratuit + prix d'un appel"),
        ("+33353019002", "Accueil"),
    ]
    assert caf_draft.website == "https://www.caf.example.org"
    assert caf_draft.communes == ("62065", "62413", "62498", "62510", "99999")  # 99999: the import warns
    assert mdph.values["communes"] == ["62041", "62498", "62193", "62215"]
    assert isinstance(sub_prefecture, Parsed) and sub_prefecture.values["hours"] is None  # not given
    night = Draft.model_validate({**france_travail.values, "owner": "admin"}).hours
    assert night is not None and night["fri"] == (("08:30", "12:30"), ("22:00", "02:00"))


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"nom": "X", "pivot": []}, Skipped(1, "type non précisé")),
        ({"nom": "X", "id": "1", "pivot": [{"type_service_local": "caf"}],
          "plage_ouverture": [{"nom_jour_debut": "Lundi", "valeur_heure_debut_1": "08:00:00"}]},
         Refused(1, "plage_ouverture : une plage sans début ou sans fin", "dila:1", "X")),
        ({"nom": "X", "id": "1", "pivot": [{"type_service_local": "caf"}],
          "plage_ouverture": [{"nom_jour_debut": "Jour de fête", "valeur_heure_debut_1": "08:00:00"}]},
         Refused(1, "plage_ouverture : jour illisible « Jour de fête »", "dila:1", "X")),
        ({"nom": "X", "id": "1", "pivot": [{"type_service_local": "caf"}],
          "plage_ouverture": [{"nom_jour_debut": "Lundi", "valeur_heure_debut_1": "00:00:00",
                               "valeur_heure_fin_1": "00:00:00"}]},
         "no hours"),
    ],
)  # fmt: skip
def test_odd_records(record: dict[str, Any], expected: object) -> None:
    result = dila.parse(record, 1)
    if expected == "no hours":
        assert isinstance(result, Parsed) and result.values["hours"] is None
    else:
        assert result == expected
