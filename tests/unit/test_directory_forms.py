"""The directory's pure rules for the pages and the desk: which commune a name or postal code typed designates, the
entry form read into a draft (a French reason per field), an entry written back as the form shows it, the
history's values as text; and the simulated callers that dial from the directory's numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from multidict import MultiDict

from screenpop.directory.forms import GENERAL, EntryForm, draft_of
from screenpop.directory.models import Entry, Kind, Opening
from screenpop.directory.service import CommuneNotPicked, commune_label, pick_commune
from screenpop.directory.views import change_view, value_text
from simulator.traffic import Callers, Mix
from storage.communes import Commune
from storage.directory import Change

ARRAS = Commune(code="62041", name="Arras", departement="62", postal_codes=("62000",), epci_name=None)
DAINVILLE = Commune(code="62263", name="Dainville", departement="62", postal_codes=("62000",), epci_name=None)
FLEURY_62 = Commune(code="62339", name="Fleury", departement="62", postal_codes=("62134",), epci_name=None)
FLEURY_02 = Commune(code="02316", name="Fleury", departement="02", postal_codes=("02600",), epci_name=None)
SAINT_MARTIN = [
    Commune(code=code, name="Saint-Martin", departement=code[:2], postal_codes=(postal,), epci_name=None)
    for code, postal in (
        ("32389", "32300"),
        ("54480", "54450"),
        ("65392", "65360"),
        ("66183", "66220"),
        ("67434", "67220"),
    )
]
LILLE = Commune(
    code="59350", name="Lille", departement="59", postal_codes=("59000", "59160", "59260", "59777"), epci_name=None
)


@pytest.mark.parametrize(
    ("typed", "candidates", "expected"),
    [
        ("arras", [ARRAS], ARRAS),  # the only one
        ("Fleury", [FLEURY_02, FLEURY_62], FLEURY_62),  # several in France, one in the département
        ("62000", [ARRAS], ARRAS),
    ],
)
def test_a_commune_typed_is_the_one_it_designates(typed: str, candidates: list[Commune], expected: Commune) -> None:
    assert pick_commune(typed, candidates, "62") == expected


@pytest.mark.parametrize(
    ("typed", "candidates", "ambiguous", "message"),
    [
        ("Atlantide", [], False, "commune « Atlantide » introuvable : choisissez-la dans la liste proposée"),
        ("62000", [ARRAS, DAINVILLE], True, "« 62000 » désigne plusieurs communes (Arras (62000), Dainville (62000))"),
        (
            "Saint-Martin",
            SAINT_MARTIN,
            True,
            "(Saint-Martin (32300), Saint-Martin (54450), Saint-Martin (65360), "
            "Saint-Martin (66220) …) : choisissez la bonne",
        ),
        ("Fleury", [FLEURY_02, FLEURY_62], False, None),  # one in the département: taken (above)
        ("  plusieurs\n  espaces ", [], False, "« plusieurs espaces »"),  # shown on one line
    ],
)
def test_a_commune_typed_that_designates_none_or_several_is_refused_in_french(
    typed: str, candidates: list[Commune], ambiguous: bool, message: str | None
) -> None:
    if message is None:
        pick_commune(typed, candidates, "62")
        return
    with pytest.raises(CommuneNotPicked) as refused:
        pick_commune(typed, candidates, "62")
    assert refused.value.ambiguous is ambiguous
    assert message in str(refused.value)


def test_a_postal_code_of_several_communes_of_the_departement_is_never_guessed() -> None:
    with pytest.raises(CommuneNotPicked):
        pick_commune("62000", [ARRAS, DAINVILLE], "62")


def test_a_commune_is_labelled_as_people_know_it() -> None:
    assert commune_label(ARRAS) == "Arras (62000)"
    assert commune_label(LILLE) == "Lille (59000, 59160, 59260…)"
    assert commune_label(ARRAS.model_copy(update={"postal_codes": ()})) == "Arras (62041)"


# -- the entry form -----------------------------------------------------------------------------------------------


def posted(**values: Any) -> EntryForm:
    base = {"kind": "caf", "name": "CAF de Lens",
            "phones": "03 21 00 00 00 (accueil)\r\n\r\n3230\n03 21 00 00 09 [agents]", "hours": "lun-ven 8h30-12h",
            "closed_dates": "24/12/2026 2026-12-31", "communes": "62498, 62510",
            "verified_on": "2026-11-02", "version": "3"}  # fmt: skip
    form: MultiDict[str] = MultiDict({k: v for k, v in {**base, **values}.items() if not isinstance(v, list)})
    for key, value in values.items():
        if isinstance(value, list):
            for one in value:
                form.add(key, one)
    return EntryForm.posted(form, topics=("roads", "taxes"))


def test_a_form_is_read_in_the_csv_s_formats() -> None:
    draft, errors = draft_of(posted(), commune_insee="62498", owner="admin", active=True)
    assert errors == {}
    assert draft is not None
    assert draft.kind is Kind.CAF and draft.commune_insee == "62498"
    assert [(p.number, p.public) for p in draft.phones] == [("+33321000000", True), ("3230", True),
                                                             ("+33321000009", False)]  # fmt: skip
    morning = (("08:30", "12:00"),)
    assert draft.hours == {"mon": morning, "tue": morning, "wed": morning, "thu": morning, "fri": morning, "sat": (),
                           "sun": ()}  # fmt: skip
    assert draft.closed_dates == (date(2026, 12, 24), date(2026, 12, 31))
    assert draft.communes == ("62498", "62510") and draft.verified_on == date(2026, 11, 2)


def test_only_known_topics_and_fields_are_read_and_bounded() -> None:
    form = posted(topics=["roads", "astrology", "taxes"], owner="mallory", extra="x", version="99999999999")
    assert form.topics == ["roads", "taxes"]
    assert "extra" not in form.values and form.version is None
    long = posted(public_note="x" * 30_000)
    assert len(long.get("public_note")) == 20_001
    draft, errors = draft_of(long, commune_insee=None, owner="admin", active=True)
    assert draft is None and errors == {"public_note": "20000 caractères au plus"}


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"name": "  "}, "name", "obligatoire"),
        ({"kind": ""}, "kind", "obligatoire"),
        ({"kind": "nasa"}, "kind", "type « nasa » inconnu"),
        ({"phones": "03 21 pas un numéro"}, "phones", "téléphone illisible"),
        ({"hours": "lun 25:00-26:00"}, "hours", "n'est pas une heure"),
        ({"closed_dates": "31/02/2026"}, "closed_dates", "date illisible"),
        ({"email": "x@y"}, "email", "adresse électronique invalide"),
        ({"communes": "6204"}, "communes", "code(s) INSEE invalide(s)"),
        ({"kind": "service"}, GENERAL, "un service du Département a un numéro de poste"),
        ({"extension": "12"}, GENERAL, "seul un service du Département a un poste"),
        ({"closed_dates": "2026-12-24", "open_dates": "24/12/2026"}, GENERAL, "à la fois une fermeture"),
    ],
)
def test_a_refused_form_gives_a_french_reason_per_field(changes: dict[str, str], field: str, reason: str) -> None:
    draft, errors = draft_of(posted(**changes), commune_insee=None, owner="admin", active=True)
    assert draft is None
    assert reason in errors[field], errors


def entry(**changes: Any) -> Entry:
    at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    base: dict[str, Any] = {
        "id": 7, "version": 4, "kind": Kind.CAF, "kind_label": "CAF", "name": "CAF de Lens", "owner": "admin",
        "source": "manual", "ref": None, "active": True, "extension": None, "topics": (), "escalation_contact": None,
        "street": None, "postal_code": "62300", "city": "Lens", "commune_insee": "62498", "email": None,
        "website": None, "hours": {"mon": (("08:30", "12:00"),)}, "hours_text": "lun 08:30-12:00",
        "closed_dates": (date(2026, 12, 24),), "open_dates": (), "public_note": None, "staff_contact": None,
        "verified_on": None, "communes": ("62498",), "epcis": (), "departements": ("62",),
        "phones": ({"number": "+33321000009", "display": "03 21 00 00 09", "label": "direct", "public": False},),
        "opening": Opening(known=True, open_now=True, summary="Ouvert"), "created_at": at, "updated_at": at,
    }  # fmt: skip
    return Entry.model_validate({**base, **changes})


def test_an_entry_is_shown_in_the_form_as_it_is_read_back() -> None:
    form = EntryForm.of(entry(), "Lens")
    assert form.get("phones") == "03 21 00 00 09 (direct) [agents]"
    assert (form.get("hours"), form.get("closed_dates"), form.get("commune")) == (
        "lun 08:30-12:00",
        "2026-12-24",
        "Lens",
    )
    assert (form.commune_code, form.version) == ("62498", 4)
    draft, errors = draft_of(form, commune_insee="62498", owner="admin", active=True)
    assert errors == {} and draft is not None
    assert draft.phones[0].public is False and draft.departements == ("62",)


# -- the history ---------------------------------------------------------------------------------------------------


def test_the_history_is_shown_in_french_with_values_as_text() -> None:
    change = Change(
        id=1,
        organisation_id=7,
        at=datetime(2026, 12, 2, 9, 5, tzinfo=UTC),
        actor="sam",
        action="update",
        changes={
            "name": {"before": "CAF", "after": "CAF de Lens"},
            "kind": {"before": "ccas", "after": "caf"},
            "hours": {"before": None, "after": {"mon": [["08:30", "12:00"]], "tue": [["08:30", "12:00"]]}},
            "phones": {"before": [{"number": "+33321000009", "label": None, "public": False}], "after": []},
            "active": {"before": True, "after": False},
            "public_note": {"before": "x" * 400, "after": None},
        },
    )
    view = change_view(change, "Europe/Paris")
    assert (view.at, view.actor, view.action) == ("02/12/2026 10:05", "sam", "Modification")
    lines = {line.field: (line.before, line.after) for line in view.lines}
    assert lines["nom"] == ("CAF", "CAF de Lens")
    assert lines["type"] == ("CCAS (centre communal d'action sociale)", "CAF (caisse d'allocations familiales)")
    assert lines["horaires"] == ("", "lun-mar 08:30-12:00")  # nothing before: only what it became
    assert lines["téléphones"] == ("03 21 00 00 09 [agents]", "—")
    assert lines["actif"] == ("oui", "non")
    assert len(lines["à dire à l'usager"][0]) == 300 and lines["à dire à l'usager"][0].endswith("…")
    assert value_text("epcis", ["246200364", "200033579"]) == "246200364 200033579"
    migrated = change_view(
        change.model_copy(update={"action": "create", "changes": {"from": "services (0004)"}}), "UTC"
    )
    assert [(line.field, line.after) for line in migrated.lines] == [("from", "services (0004)")]


# -- the demo's callers --------------------------------------------------------------------------------------------


def test_some_simulated_callers_dial_from_the_directory_s_numbers() -> None:
    organisations = (("0353010010", "Mairie de Lens (exemple)"),)
    callers = Callers(mix=Mix(organisation=0.3), seed=1, organisations=organisations)
    specs = [callers.spec() for _ in range(1000)]
    from_directory = [s for s in specs if s.number == "0353010010"]
    assert 200 < len(from_directory) < 400
    assert {s.name for s in from_directory} == {"Mairie de Lens (exemple)"}
    none = Callers(mix=Mix(), seed=1, organisations=organisations)  # the default mix: none (the load generator)
    assert all(none.spec().number != "0353010010" for _ in range(1000))
