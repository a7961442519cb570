"""The directory as CSV, for spreadsheets (pure): written UTF-8 with BOM, `;`-separated, one line per entry;
read back from the same format (`;` or `,`, with or without BOM, French titles or field names).

Cells: `type` a kind key (`caf`) or its French label; `actif` oui/non; `téléphones` « 03 21 00 00 00
(accueil) | 3230 | 03 21 00 00 09 (direct) [agents] » (`[agents]`: not to be given to callers); `horaires` as
`screenpop.directory.weektext` writes them; dates `AAAA-MM-JJ` (or `JJ/MM/AAAA`), lists separated by spaces
or commas. An `id` updates that entry, a `référence` the entry with it (or creates it); neither: a new entry.
Columns left out of a file are left as they are on the entries it updates. A cell starting with `=`, `+`, `-`
or `@` is written with a leading `'` (spreadsheets would run it as a formula) and read back without it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any, TextIO

from screenpop.directory.errors import FIELD_LABELS, UnreadableFile
from screenpop.directory.models import KIND_LABELS, Entry, Kind, PhoneOut, display_number
from screenpop.directory.parsed import Parsed, Refused
from screenpop.directory.weektext import format_week, parse_week
from storage.communes import normalise
from storage.services import InvalidHours

FIELDS = (
    "id", "ref", "kind", "name", "active", "owner", "phones", "extension", "topics", "escalation_contact", "street",
    "postal_code", "city", "commune_insee", "email", "website", "hours", "closed_dates", "open_dates",
    "public_note", "staff_contact", "verified_on", "communes", "epcis", "departements",
)  # fmt: skip
TITLES = {"id": "id", **FIELD_LABELS}
_BY_HEADER = {normalise(TITLES[f]): f for f in FIELDS} | {normalise(f): f for f in FIELDS}
_KINDS = {normalise(k.value): k for k in Kind} | {normalise(label): k for k, label in KIND_LABELS.items()}
_YES = {"oui", "o", "yes", "y", "true", "vrai", "1", "x"}
_NO = {"non", "n", "no", "false", "faux", "0"}
_PHONE = re.compile(r"^(?P<number>[^()\[\]]+?)\s*(?:\((?P<label>[^()]*)\))?\s*(?P<staff>\[agents\])?$", re.IGNORECASE)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
CELL_MAX = 10_000


def _split(cell: str) -> list[str]:
    return [x for x in re.split(r"[\s,;]+", cell) if x]


def _date(text: str) -> date:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"date illisible « {text[:20]} » (attendu AAAA-MM-JJ)")


def _bool(text: str) -> bool:
    folded = normalise(text)
    if folded in _YES:
        return True
    if folded in _NO:
        return False
    raise ValueError(f"« {text[:20]} » : attendu oui ou non")


def _phones(cell: str) -> list[dict[str, Any]]:
    phones = []
    for part in (p.strip() for p in cell.split("|")):
        if not part:
            continue
        match = _PHONE.match(part)
        if match is None:
            raise ValueError(f"téléphone illisible « {part[:40]} »")
        phones.append({"number": match["number"], "label": match["label"], "public": not match["staff"]})
    return phones


def cell_value(name: str, cell: str) -> Any:
    """A cell (or a form's field: the same formats) as a `Draft` value ('' is "none"). Raises ValueError (French)."""
    if name in ("name", "owner", "ref", "escalation_contact", "street", "city", "email", "website", "public_note",
                "staff_contact", "extension", "postal_code", "commune_insee"):  # fmt: skip
        return cell or None
    if name == "kind":
        kind = _KINDS.get(normalise(cell))
        if kind is None:
            raise ValueError(f"type « {cell[:40]} » inconnu ; possibles : {', '.join(k.value for k in Kind)}")
        return kind
    if name == "active":
        return True if not cell else _bool(cell)
    if name == "phones":
        return _phones(cell)
    if name == "hours":
        try:
            return parse_week(cell)
        except InvalidHours as exc:
            raise ValueError(str(exc)) from None
    if name in ("closed_dates", "open_dates"):
        return [_date(d) for d in _split(cell)]
    if name == "verified_on":
        return _date(cell) if cell else None
    return _split(cell)  # topics, communes, epcis, departements


def _unescape(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:2] in _FORMULA else cell


def read(stream: TextIO) -> Iterator[Parsed | Refused]:
    """Each line of the file after its header, parsed; `UnreadableFile` when the file is not such a CSV."""
    try:
        header_line = stream.readline()
    except UnicodeDecodeError:
        raise UnreadableFile("le fichier n'est pas en UTF-8") from None
    header_line = header_line.removeprefix("\ufeff")
    delimiter = max((";", ",", "\t"), key=header_line.count)
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    names = [_BY_HEADER.get(normalise(h)) for h in header]
    unknown = [h for h, n in zip(header, names, strict=True) if n is None]
    if unknown:
        raise UnreadableFile(f"colonne(s) inconnue(s) : {', '.join(unknown[:5])} (voir l'export pour le format)")
    if "name" not in names or "kind" not in names or len(set(names)) != len(names):
        raise UnreadableFile("il faut une ligne de titres avec au moins « type » et « nom », chacun une fois")
    fields = [n for n in names if n is not None]
    reader = csv.reader(stream, delimiter=delimiter)
    line = 2
    try:
        for row in reader:
            start, line = line, reader.line_num + 2  # the header was read before the reader
            if not any(cell.strip() for cell in row):
                continue
            yield _parse(row, fields, start)
    except UnicodeDecodeError:
        raise UnreadableFile(f"ligne {line} : le fichier n'est pas en UTF-8") from None
    except csv.Error as exc:
        raise UnreadableFile(f"ligne {line} : CSV illisible ({exc})") from None


def _parse(row: list[str], fields: list[str], line: int) -> Parsed | Refused:
    cells = {name: _unescape(cell.strip()) for name, cell in zip(fields, row, strict=False)}
    ref, name = cells.get("ref") or None, (cells.get("name") or None)
    if len(row) != len(fields):
        return Refused(line, f"{len(row)} cellules pour {len(fields)} colonnes", ref, name)
    too_long = [TITLES[f] for f, c in cells.items() if len(c) > CELL_MAX]
    if too_long:
        return Refused(line, f"cellule trop longue : {', '.join(too_long)}", ref, name)
    values: dict[str, Any] = {}
    errors = []
    for field, cell in cells.items():
        if field == "id":
            continue
        try:
            values[field] = cell_value(field, cell)
        except ValueError as exc:
            errors.append(f"{TITLES[field]} : {exc}")
    organisation_id = None
    if cells.get("id"):
        if not cells["id"].isdigit() or len(cells["id"]) > 18:
            errors.append(f"id : « {cells['id'][:20]} » n'est pas un numéro de fiche")
        else:
            organisation_id = int(cells["id"])
    if errors:
        return Refused(line, " ; ".join(errors), ref, name)
    if not values.get("owner"):
        values.pop("owner", None)  # the import's default owner (new entries), or the entry's own
    values.setdefault("source", "csv")
    return Parsed(line, values, frozenset(values) - {"source"}, organisation_id)


# -- writing ---------------------------------------------------------------------------------------------------


def _escape(cell: str) -> str:
    return f"'{cell}" if cell.startswith(_FORMULA) else cell


def _dates(values: Iterable[date]) -> str:
    return " ".join(d.isoformat() for d in values)


def phone_text(phone: PhoneOut) -> str:
    """« 03 21 00 00 00 (accueil) [agents] »: a phone as a cell (and a form's line) writes it."""
    return (
        display_number(phone.number)
        + (f" ({phone.label})" if phone.label else "")
        + ("" if phone.public else " [agents]")
    )


def row(entry: Entry) -> list[str]:
    cells = {
        "id": str(entry.id),
        "ref": entry.ref or "",
        "kind": entry.kind.value,
        "name": entry.name,
        "active": "oui" if entry.active else "non",
        "owner": entry.owner,
        "phones": " | ".join(phone_text(p) for p in entry.phones),
        "extension": entry.extension or "",
        "topics": " ".join(entry.topics),
        "escalation_contact": entry.escalation_contact or "",
        "street": entry.street or "",
        "postal_code": entry.postal_code or "",
        "city": entry.city or "",
        "commune_insee": entry.commune_insee or "",
        "email": entry.email or "",
        "website": entry.website or "",
        "hours": format_week(entry.hours),
        "closed_dates": _dates(entry.closed_dates),
        "open_dates": _dates(entry.open_dates),
        "public_note": entry.public_note or "",
        "staff_contact": entry.staff_contact or "",
        "verified_on": entry.verified_on.isoformat() if entry.verified_on else "",
        "communes": " ".join(entry.communes),
        "epcis": " ".join(entry.epcis),
        "departements": " ".join(entry.departements),
    }
    return [_escape(cells[f]) for f in FIELDS]


def write(stream: TextIO, entries: Iterable[Entry]) -> int:
    """Write the header and one line per entry (the stream opened with `newline=""`); how many entries."""
    stream.write("\ufeff")
    writer = csv.writer(stream, delimiter=";", lineterminator="\r\n")
    writer.writerow([TITLES[f] for f in FIELDS])
    count = 0
    for entry in entries:
        writer.writerow(row(entry))
        count += 1
    return count
