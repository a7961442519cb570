"""Reading the DILA's « Annuaire de l'administration — Base de données locales » (JSON, Licence Ouverte) (pure).

The file (`{"service": [ {...}, … ]}`, about 63,000 public offices) is read record by record, never whole: a
record is one office, with the fields this directory takes:

- `id` (UUID, kept as the entry's reference `dila:<id>`: a re-import updates it), `nom`;
- `pivot`: `[{"type_service_local": "caf", "code_insee_commune": ["62041", …]}]`, the kind of office and the
  communes it serves (its territory of competence);
- `code_insee_commune` (where it is), `adresse` (`type_adresse` « Adresse » for the place itself,
  `numero_voie`, `complement1`, `complement2`, `code_postal`, `nom_commune`);
- `telephone` (`[{"valeur": "03 21 …", "description": "…"}]`), `adresse_courriel`, `site_internet`
  (`[{"libelle", "valeur"}]`);
- `plage_ouverture` (`[{"nom_jour_debut": "Lundi", "nom_jour_fin": "Vendredi", "valeur_heure_debut_1":
  "09:00:00", "valeur_heure_fin_1": "12:00:00", "valeur_heure_debut_2", "valeur_heure_fin_2", "commentaire"}]`);
- `date_modification` (« 09/08/2023 13:30:19 »: kept as « vérifié le »).

Fields may also come JSON-encoded in a string (as in the DILA's API and CSV exports). Offices of kinds this
directory does not keep (gendarmerie, tribunal…) or outside the département asked for are skipped, counted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, TextIO

from config.settings import WEEKDAYS
from screenpop.directory.errors import UnreadableFile
from screenpop.directory.models import Kind
from screenpop.directory.parsed import Parsed, Refused, Skipped
from storage.communes import normalise

CHUNK = 1 << 20
HEAD_MAX = 16 << 20  # the list of offices must start within this many characters
DAYS = dict(zip(("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"), WEEKDAYS, strict=True))
# `pivot[].type_service_local` → kind. Codes of other offices are skipped.
PIVOTS: dict[str, Kind] = {
    "mairie": Kind.TOWN_HALL,
    "mairie_com": Kind.TOWN_HALL,
    "ccas": Kind.CCAS,
    "caf": Kind.CAF,
    "cpam": Kind.CPAM,
    "maison_handicapees": Kind.MDPH,
    "mdph": Kind.MDPH,
    "prefecture": Kind.PREFECTURE,
    "sous_pref": Kind.SUB_PREFECTURE,
    "pole_emploi": Kind.FRANCE_TRAVAIL,
    "france_travail": Kind.FRANCE_TRAVAIL,
    "france_services": Kind.FRANCE_SERVICES,
    "msap": Kind.FRANCE_SERVICES,
    "mds": Kind.MDS,
    "clic": Kind.CLIC,
    "pmi": Kind.PMI,
    "carsat": Kind.CARSAT,
    "msa": Kind.MSA,
    "sip": Kind.PUBLIC_FINANCES,
    "mission_locale": Kind.MISSION_LOCALE,
    "epci": Kind.EPCI,
}
# What a re-import refreshes; the rest (owner, notes and contacts of the staff, active, territory added by
# hand…) stays as the staff left it.
UPDATED_FIELDS = frozenset(
    {"kind", "name", "phones", "email", "website", "street", "postal_code", "city", "commune_insee", "hours",
     "communes", "verified_on"}
)  # fmt: skip
_INSEE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")


def records(stream: TextIO) -> Iterator[Any]:
    """The records of the file's `service` list (or of a bare list), one at a time, never the whole file.
    Raises `UnreadableFile` when the file is not that JSON."""
    decoder = json.JSONDecoder()
    buffer = ""
    eof = False

    def more() -> bool:
        nonlocal buffer, eof
        chunk = stream.read(CHUNK)
        if not chunk:
            eof = True
            return False
        buffer += chunk
        return True

    more()
    start = re.search(r'^\s*\[|"service"\s*:\s*\[', buffer)
    while start is None and not eof and len(buffer) < HEAD_MAX:
        more()
        start = re.search(r'^\s*\[|"service"\s*:\s*\[', buffer)
    if start is None:
        raise UnreadableFile("ce n'est pas un fichier de la DILA : pas de liste « service » d'organismes")
    position = start.end()
    while True:
        while True:  # to the next record, or the end of the list
            while position < len(buffer) and buffer[position] in " \t\r\n,":
                position += 1
            if position < len(buffer) or not more():
                break
        if position >= len(buffer):
            raise UnreadableFile("fichier de la DILA tronqué : la liste des organismes n'est pas fermée")
        if buffer[position] == "]":
            return
        while True:
            try:
                record, end = decoder.raw_decode(buffer, position)
                break
            except json.JSONDecodeError as exc:
                if not more():
                    raise UnreadableFile(f"fichier de la DILA illisible (JSON) : {exc.msg}") from None
        yield record
        position = end
        if position > CHUNK:  # forget what was read
            buffer = buffer[position:]
            position = 0


def _decoded(value: Any) -> Any:
    """A field the DILA's API and CSV exports give JSON-encoded in a string."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _list(record: dict[str, Any], key: str) -> list[Any]:
    value = _decoded(record.get(key))
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _clock(value: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?", text)
    if match is None:
        raise ValueError(f"heure illisible « {text[:20]} »")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 24 or minute > 59 or second > 59:
        raise ValueError(f"heure illisible « {text[:20]} »")
    return f"{hour:02d}:{minute:02d}" if not second else f"{hour:02d}:{minute:02d}:{second:02d}"


def _hours(plages: list[Any]) -> tuple[dict[str, list[list[str]]] | None, list[str]]:
    """Weekly spans and the comments of `plage_ouverture`; (None, []) when it gives none."""
    week: dict[str, list[list[str]]] = {}
    comments: list[str] = []
    for plage in plages:
        if not isinstance(plage, dict):
            raise ValueError("plage_ouverture : une plage n'est pas un objet")
        first = DAYS.get(normalise(_text(plage.get("nom_jour_debut"))))
        last = DAYS.get(normalise(_text(plage.get("nom_jour_fin")))) or first
        if first is None or last is None:
            raise ValueError(f"plage_ouverture : jour illisible « {_text(plage.get('nom_jour_debut'))[:20]} »")
        days = WEEKDAYS[WEEKDAYS.index(first) : WEEKDAYS.index(last) + 1] or (first,)
        for n in ("1", "2"):
            start, end = _clock(plage.get(f"valeur_heure_debut_{n}")), _clock(plage.get(f"valeur_heure_fin_{n}"))
            if start is None and end is None:
                continue
            if start is None or end is None:
                raise ValueError("plage_ouverture : une plage sans début ou sans fin")
            if start == end == "00:00":  # how some offices say "no hours given"
                continue
            for day in days:
                week.setdefault(day, []).append([start, "24:00" if end == "00:00" and start != "00:00" else end])
        comment = _text(plage.get("commentaire"))
        if comment:
            comments.append(comment)
    return (week or None), comments


def _dila_date(value: Any) -> date | None:
    text = _text(value)
    for pattern in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text[:19], pattern).date()
        except ValueError:
            continue
    return None


def _postal_code(value: Any) -> str | None:
    """« 62000 », also from « 62008 CEDEX »."""
    match = re.search(r"\b[0-9][0-9AB][0-9]{3}\b", _text(value))
    return None if match is None else match[0]


def departement_of(code: str) -> str:
    return code[:3] if code.startswith("97") else code[:2]


def parse(record: Any, line: int, departement: str | None = None) -> Parsed | Refused | Skipped:
    """One record as the values of an entry, or why it is refused or skipped."""
    if not isinstance(record, dict):
        return Refused(line, "l'enregistrement n'est pas un objet JSON")
    name = _text(record.get("nom"))[:200] or None
    identifier = _text(record.get("id"))
    ref = f"dila:{identifier}" if identifier else None
    pivots = [p for p in _list(record, "pivot") if isinstance(p, dict)]
    types = [_text(p.get("type_service_local")) for p in pivots]
    known = [(PIVOTS[t], p) for t, p in zip(types, pivots, strict=True) if t in PIVOTS]
    if not known:
        return Skipped(line, f"type {types[0] if types and types[0] else 'non précisé'}")
    kind, pivot = known[0]
    here = _text(record.get("code_insee_commune"))
    served = [c for c in _list(pivot, "code_insee_commune") if isinstance(c, str) and _INSEE.fullmatch(c)]
    if departement is not None and not any(departement_of(c) == departement for c in [here, *served] if c):
        return Skipped(line, "hors du département")
    if not identifier or len(ref or "") > 100:
        return Refused(line, "pas d'identifiant (id)", name=name)
    try:
        week, comments = _hours(_list(record, "plage_ouverture"))
    except ValueError as exc:
        return Refused(line, str(exc), ref, name)
    addresses = [a for a in _list(record, "adresse") if isinstance(a, dict)]
    place = next((a for a in addresses if _text(a.get("type_adresse")).lower() == "adresse"), None)
    place = place or (addresses[0] if addresses else {})
    lines = ("complement1", "complement2", "numero_voie", "service_distribution")
    street = ", ".join(x for x in (_text(place.get(k)) for k in lines) if x)
    phones = [
        {"number": _text(p.get("valeur")), "label": _text(p.get("description"))[:100] or None}
        for p in _list(record, "telephone")
        if isinstance(p, dict) and _text(p.get("valeur"))
    ]
    websites = [_text(w.get("valeur")) if isinstance(w, dict) else _text(w) for w in _list(record, "site_internet")]
    emails = [_text(e) for e in _list(record, "adresse_courriel")]
    note = " ".join(comments)
    values: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "source": "dila",
        "ref": ref,
        "phones": phones[:20],
        "email": next((e for e in emails if e), None),
        "website": next((w for w in websites if w), None),
        "street": street[:300] or None,
        "postal_code": _postal_code(place.get("code_postal")),
        "city": _text(place.get("nom_commune"))[:100] or None,
        "commune_insee": here or None,
        "hours": week,
        "communes": served,
        "verified_on": _dila_date(record.get("date_modification")),
        "public_note": f"Horaires : {note}"[:2000] if note else None,
    }
    return Parsed(line, values, UPDATED_FIELDS)


def read(stream: TextIO, departement: str | None = None) -> Iterator[Parsed | Refused | Skipped]:
    """Every record of the file, parsed (`parse`), numbered from 1."""
    for line, record in enumerate(records(stream), start=1):
        yield parse(record, line, departement)
