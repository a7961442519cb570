"""The directory's text formats (pure): weekly hours as people write them, the CSV for spreadsheets, drafts."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from pydantic import ValidationError

from config.settings import WEEKDAYS, OpeningHours
from screenpop.directory import csvfile
from screenpop.directory.errors import UnreadableFile, french_reasons
from screenpop.directory.models import Draft, Entry, Kind
from screenpop.directory.parsed import Parsed, Refused
from screenpop.directory.service import kinds_named, opening_of, read_out
from screenpop.directory.weektext import format_week, parse_week
from storage.directory import StoredOrganisation
from storage.services import InvalidHours, parse_hours

WEEKDAYS_8_17 = {d: (("08:00", "17:00"),) for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.mark.parametrize(
    ("text", "week", "canonical"),
    [
        ("lun-ven 08:30-12:00 13:30-17:00; sam 09:00-12:00",
         {**{d: (("08:30", "12:00"), ("13:30", "17:00")) for d in ("mon", "tue", "wed", "thu", "fri")},
          "sat": (("09:00", "12:00"),)},
         "lun-ven 08:30-12:00 13:30-17:00; sam 09:00-12:00"),
        ("Lundi au Vendredi 8h à 17h", WEEKDAYS_8_17, "lun-ven 08:00-17:00"),
        ("mon-fri 8-17", WEEKDAYS_8_17, "lun-ven 08:00-17:00"),
        ("lun, mer 9h-12h\nven 22:00-02:00",
         {"mon": (("09:00", "12:00"),), "wed": (("09:00", "12:00"),), "fri": (("22:00", "02:00"),)},
         "lun 09:00-12:00; mer 09:00-12:00; ven 22:00-02:00"),
        ("lun-dim 00:00-24:00", {d: (("00:00", "24:00"),) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
         "lun-dim 00:00-24:00"),
        ("sam fermé; lun 8-9", {"mon": (("08:00", "09:00"),)}, "lun 08:00-09:00"),
        ("fermé", {}, "fermé"),
    ],
)  # fmt: skip
def test_weekly_hours_as_text(text: str, week: dict[str, Any], canonical: str) -> None:
    parsed = parse_week(text)
    assert parsed is not None
    assert {d: s for d, s in parsed.items() if s} == week
    assert format_week(parsed) == canonical
    assert parse_week(canonical) == parsed  # the canonical text reads back the same


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("xyz 8-9", "ne désigne pas des jours"),
        ("lun 25:00-26:00", "n'est pas une heure"),
        ("lun 8-8", "ni être vide"),
        ("lun 24:00-02:00", "ni être vide"),
        ("ven-lun 8-9", "le premier jour vient après le dernier"),
        ("lun 8-9; lun 9-10", "donné deux fois"),
        ("8-9", "commencez par les jours"),
        ("lun 8h-midi", "n'est pas une plage horaire"),
        ("lun " + "8-9 " * 200, "trop longs"),
    ],
)
def test_weekly_hours_refused_in_french(text: str, message: str) -> None:
    with pytest.raises(InvalidHours, match=message):
        parse_week(text)


def test_no_text_no_hours() -> None:
    assert parse_week("  ") is None and format_week(None) == ""


# -- drafts -------------------------------------------------------------------------------------------------


def draft(**changes: Any) -> Draft:
    return Draft.model_validate({"kind": "caf", "name": "CAF", "owner": "admin", **changes})


def reasons(**changes: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        draft(**changes)
    return french_reasons(caught.value)


def test_a_draft_cleans_what_it_is_given() -> None:
    d = draft(
        name="  CAF \u202edu\x00 Pas-de-Calais  ",
        phones=[
            {"number": "03.53.01.00.01", "label": " accueil "},
            {"number": "32 30"},
            {"number": "+44 20 7946 0000"},
        ],
        communes=["62498", "62041", "62498"],
        public_note="Ligne 1\r\nLigne 2\x07",
        website="caf.example.org",
        closed_dates=["2026-12-24", "2026-12-24"],
    )
    assert d.name == "CAF du Pas-de-Calais"  # bidi override and NUL gone, blanks collapsed
    assert [(p.number, p.label) for p in d.phones] == [
        ("+33353010001", "accueil"),
        ("3230", None),
        ("+442079460000", None),
    ]
    assert d.communes == ("62041", "62498") and d.public_note == "Ligne 1\nLigne 2"
    assert d.website == "https://caf.example.org" and d.closed_dates == (date(2026, 12, 24),)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": "  "}, "nom : obligatoire"),
        ({"kind": "astrologue"}, "type : valeur inconnue (possibles : "),
        ({"phones": [{"number": "appeler la mairie"}]}, "numéro de téléphone illisible : « appeler la mairie »"),
        ({"email": "pas-une-adresse"}, "courriel : adresse électronique invalide"),
        ({"postal_code": "6200"}, "code postal : valeur invalide"),
        ({"communes": ["62041", "ABCDE"]}, "communes servies : code(s) INSEE invalide(s) : ABCDE"),
        ({"extension": "2001"}, "seul un service du Département a un poste"),
        ({"kind": "service"}, "un service du Département a un numéro de poste"),
        ({"verified_on": "hier"}, "vérifié le : date invalide"),
        ({"closed_dates": ["2026-12-24"], "open_dates": ["2026-12-24"]}, "à la fois une fermeture et une ouverture"),
        ({"name": "x" * 201}, "nom : 200 caractères au plus"),
        ({"hours": {"mon": [["08:00", "08:00"]]}}, "horaires"),
    ],
)
def test_a_draft_refused_says_why_in_french(changes: dict[str, Any], expected: str) -> None:
    assert expected in reasons(**changes)


def test_a_word_names_the_kinds_it_starts() -> None:
    assert kinds_named("caf") == ["caf"]
    assert kinds_named("handicap") == ["mdph"]
    assert "town_hall" in kinds_named("mairie") and "france_travail" in kinds_named("pole")
    assert kinds_named("de") == [] and kinds_named("x") == []


# -- what is read and said ------------------------------------------------------------------------------------

CALENDAR = OpeningHours()
WEDNESDAY_10 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 10:00 in Paris


def stored(**changes: Any) -> StoredOrganisation:
    values: dict[str, Any] = {
        "id": 7,
        "version": 1,
        "created_at": WEDNESDAY_10,
        "updated_at": WEDNESDAY_10,
        "kind": "caf",
        "name": "CAF (exemple)",
        "owner": "admin",
        "hours": parse_hours({"mon": (("08:30", "12:00"), ("13:30", "16:30")), "wed": (("08:30", "12:00"),)}),
        **changes,
    }
    return StoredOrganisation.model_validate(values)


@pytest.mark.parametrize(
    ("changes", "at", "summary", "open_now"),
    [
        ({}, WEDNESDAY_10, "Ouvert maintenant, jusqu'à 12:00", True),
        ({}, WEDNESDAY_10.replace(hour=12), "Fermé — ouvre lundi 7 décembre à 08:30", False),
        ({}, datetime(2026, 12, 6, 18, tzinfo=UTC), "Fermé — ouvre demain 08:30", False),  # Sunday evening
        ({"closed_dates": (date(2026, 12, 2),)}, WEDNESDAY_10, "Fermé — ouvre lundi 7 décembre à 08:30", False),
        ({"hours": None}, WEDNESDAY_10, "Horaires non renseignés", None),
        ({"hours": None, "kind": "service", "extension": "2001"}, WEDNESDAY_10, "Ouvert maintenant, en continu", True),
        ({"active": False}, WEDNESDAY_10, "Désactivé", False),
        ({"hours": {}}, WEDNESDAY_10, "Fermé (pas d'ouverture prévue dans l'année)", False),
        (
            {"hours": parse_hours({d: [["00:00", "12:00"], ["12:00", "00:00"]] for d in WEEKDAYS})},
            WEDNESDAY_10,
            "Ouvert maintenant, sans interruption",
            True,
        ),  # no end within a week
    ],
)
def test_opening_of_an_entry(changes: dict[str, Any], at: datetime, summary: str, open_now: bool | None) -> None:
    found = opening_of(stored(**changes), CALENDAR, at)
    assert (found.summary, found.open_now) == (summary, open_now)


def test_what_to_read_to_a_caller_leaves_out_what_is_for_staff() -> None:
    entry = Entry.of(
        stored(
            phones=[{"number": "+33353010001", "label": "accueil"}, {"number": "+33353010002", "public": False}],
            street="12 rue de l'Exemple",
            postal_code="62000",
            city="Arras",
            staff_contact="Mme X, ligne directe",
            public_note="Sur rendez-vous.",
        ),
        "lun 08:30-12:00 13:30-16:30; mer 08:30-12:00",
        opening_of(stored(), CALENDAR, WEDNESDAY_10),
    )
    text = read_out(entry)
    assert text == (
        "CAF (exemple). Téléphone : 03 53 01 00 01 (accueil). Adresse : 12 rue de l'Exemple, 62000 Arras. "
        "Ouvert maintenant, jusqu'à 12:00. Horaires : lun 08:30-12:00 13:30-16:30; mer 08:30-12:00. Sur rendez-vous."
    )
    assert "00 02" not in text and "Mme X" not in text


# -- CSV ------------------------------------------------------------------------------------------------------


def read(text: str) -> list[Parsed | Refused]:
    return list(csvfile.read(io.StringIO(text)))


HEADER = "type;nom;téléphones;horaires;actif;communes servies;vérifié le;fermetures exceptionnelles\n"


def test_csv_lines_read_as_drafts_with_their_line_numbers() -> None:
    items = read(
        "\ufeff" + HEADER
        + "caf;CAF (exemple);03 53 01 00 01 (accueil) | 3230 | 03 53 01 00 09 [agents];lun-ven 8h-12h;oui;"
        "62041 62498;02/11/2026;2026-12-24\n"
        + '\n;;;;;;;\nCCAS;"CCAS\nsur deux lignes";;;non;;;\n'
        + "mairie;'=HYPERLINK(\"x\");;;;;;\n"
    )  # fmt: skip
    assert [i.line for i in items] == [2, 5, 7]
    first, second, third = items
    assert isinstance(first, Parsed) and isinstance(second, Parsed) and isinstance(third, Parsed)
    d = Draft.model_validate({**first.values, "owner": "admin"})
    assert [(p.number, p.label, p.public) for p in d.phones] == [
        ("+33353010001", "accueil", True),
        ("3230", None, True),
        ("+33353010009", None, False),
    ]
    assert d.hours is not None and d.hours["mon"] == (("08:00", "12:00"),)
    assert (d.communes, d.verified_on, d.closed_dates) == (("62041", "62498"), date(2026, 11, 2), (date(2026, 12, 24),))
    assert d.source == "csv" and "owner" not in first.values  # the import's owner, or the entry's own
    assert first.updated_fields == frozenset(
        {"kind", "name", "phones", "hours", "active", "communes", "verified_on", "closed_dates"}
    )
    assert second.values["kind"] is Kind.CCAS and second.values["active"] is False
    assert second.values["name"] == "CCAS\nsur deux lignes"  # the draft makes it one line
    assert third.values["name"] == '=HYPERLINK("x")' and third.values["kind"] is Kind.TOWN_HALL  # by its label


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("caf;CAF;03 53 01 00 01;;;;;;", "9 cellules pour 8 colonnes"),
        ("astrologue;X;;;;;;", "type : type « astrologue » inconnu"),
        ("caf;X;;lun 8-8;;;;", "horaires : « 8-8 » : une plage ne peut pas"),
        ("caf;X;;;peut-être;;;", "actif : « peut-être » : attendu oui ou non"),
        ("caf;X;;;;;hier;", "vérifié le : date illisible « hier »"),
        ("caf;X;(accueil);;;;;", "téléphones : téléphone illisible « (accueil) »"),
    ],
)
def test_csv_lines_refused_with_their_reason(line: str, reason: str) -> None:
    (item,) = read(HEADER + line + "\n")
    assert isinstance(item, Refused) and item.line == 2
    assert item.reason.startswith(reason), item.reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nom;type;couleur\n", "colonne(s) inconnue(s) : couleur"),
        ("nom;téléphones\n", "au moins « type » et « nom »"),
        ("type;nom;nom\n", "chacun une fois"),
        ("", "au moins « type » et « nom »"),
    ],
)
def test_a_csv_without_the_right_header_is_unreadable(text: str, message: str) -> None:
    with pytest.raises(UnreadableFile, match=re.escape(message)):
        read(text)


def test_an_export_line_reads_back_as_the_same_entry() -> None:
    original = stored(
        phones=[
            {"number": "+33353010001", "label": "accueil"},
            {"number": "3230"},
            {"number": "+442079460000", "public": False},
        ],
        name='-CAF; « spéciale », "citée"',
        communes=("62041",),
        epcis=("200033579",),
        departements=("62",),
        closed_dates=(date(2026, 12, 24),),
        verified_on=date(2026, 11, 2),
        public_note="Deux\nlignes",
        ref="demo:caf",
        source="csv",
    )
    entry = Entry.of(original, "", opening_of(original, CALENDAR, WEDNESDAY_10))
    out = io.StringIO()
    assert csvfile.write(out, [entry]) == 1
    text = out.getvalue()
    assert text.startswith("\ufeffid;référence;type;nom;") and text.endswith("\r\n")
    assert ";\"'-CAF" in text  # not a formula for a spreadsheet
    (item,) = read(text)
    assert isinstance(item, Parsed) and item.organisation_id == 7
    assert Draft.model_validate(item.values).data() == original.data()


def test_the_opening_summary_uses_the_place_s_time_zone() -> None:
    found = opening_of(stored(), OpeningHours(timezone="America/Cayenne"), WEDNESDAY_10)  # 06:00 in Cayenne
    assert found.summary == "Fermé — ouvre 08:30" and found.next_opening is not None
    assert found.next_opening.timetz().replace(tzinfo=None) == time(8, 30)
