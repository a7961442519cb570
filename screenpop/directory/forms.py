"""The administration pages' entry form (pure): what a person typed, kept as typed to show it again, read into the
values of a `Draft` with a French reason per field refused, and an entry written back as the form shows it.

The fields take the formats of the CSV (`screenpop.directory.csvfile`): phones one per line « 03 21 00 00 00
(accueil) », with « [agents] » for a number not to be given to callers; hours « lun-ven 08:30-12:00 13:30-17:00;
sam 09:00-12:00 »; dates AAAA-MM-JJ or JJ/MM/AAAA separated by spaces; codes separated by spaces or commas. The
commune where the entry is, typed by name or postal code (or picked from the list when scripts run), is resolved
by the page (`DirectoryService.resolve_commune`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from screenpop.directory.csvfile import cell_value, phone_text
from screenpop.directory.errors import field_reasons
from screenpop.directory.models import Draft, Entry
from screenpop.directory.weektext import format_week

TEXT_FIELDS = (
    "kind", "name", "owner", "ref", "extension", "escalation_contact", "phones", "street", "postal_code", "city",
    "commune", "email", "website", "hours", "closed_dates", "open_dates", "public_note", "staff_contact",
    "verified_on", "communes", "epcis", "departements",
)  # fmt: skip
FIELD_MAX = 20_000  # characters of one field (a list of communes served is the longest)
GENERAL = "_"  # the key of the errors that concern the entry as a whole


@dataclass
class EntryForm:
    """The entry form as typed (every field a string), the topics ticked, the commune picked from the list, the
    version the editor read."""

    values: dict[str, str] = field(default_factory=dict)
    topics: list[str] = field(default_factory=list)
    commune_code: str | None = None
    version: int | None = None

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    @classmethod
    def posted(cls, form: Mapping[str, Any], topics: Iterable[str]) -> EntryForm:
        """From a posted form (`MultiDictProxy`): only the known fields, strings, bounded."""
        values = {name: _text(form.get(name)) for name in TEXT_FIELDS}
        getall = getattr(form, "getall", None)
        ticked = getall("topics", []) if getall is not None else []
        known = set(topics)
        version_text = _text(form.get("version"))
        code = _text(form.get("commune_code")).strip().upper() or None
        return cls(
            values=values,
            topics=sorted({t for t in ticked if isinstance(t, str) and t in known}),
            commune_code=code,
            version=int(version_text) if version_text.isdigit() and len(version_text) < 10 else None,
        )

    @classmethod
    def of(cls, entry: Entry, commune_name: str | None) -> EntryForm:
        """The form that shows `entry` for editing."""
        values = {
            "kind": entry.kind.value,
            "name": entry.name,
            "owner": entry.owner,
            "ref": entry.ref or "",
            "extension": entry.extension or "",
            "escalation_contact": entry.escalation_contact or "",
            "phones": "\n".join(phone_text(p) for p in entry.phones),
            "street": entry.street or "",
            "postal_code": entry.postal_code or "",
            "city": entry.city or "",
            "commune": commune_name or entry.commune_insee or "",
            "email": entry.email or "",
            "website": entry.website or "",
            "hours": format_week(entry.hours),
            "closed_dates": " ".join(d.isoformat() for d in entry.closed_dates),
            "open_dates": " ".join(d.isoformat() for d in entry.open_dates),
            "public_note": entry.public_note or "",
            "staff_contact": entry.staff_contact or "",
            "verified_on": entry.verified_on.isoformat() if entry.verified_on else "",
            "communes": " ".join(entry.communes),
            "epcis": " ".join(entry.epcis),
            "departements": " ".join(entry.departements),
        }
        return cls(values=values, topics=list(entry.topics), commune_code=entry.commune_insee, version=entry.version)


def draft_of(
    form: EntryForm, *, commune_insee: str | None, owner: str, active: bool
) -> tuple[Draft | None, dict[str, str]]:
    """The `Draft` the form gives (its commune resolved by the page: `commune_insee`; `owner`: the form's, or the
    supervisor's own login), or None and the French reason of each field refused (`GENERAL` for the whole)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"owner": owner, "active": active, "topics": form.topics, "commune_insee": commune_insee}
    for name in TEXT_FIELDS:
        if name in ("owner", "commune"):
            continue
        text = form.get(name).strip()
        if len(text) > FIELD_MAX:
            errors[name] = f"{FIELD_MAX} caractères au plus"
            continue
        if name == "phones":
            text = " | ".join(line.strip() for line in text.splitlines() if line.strip())
        if name == "kind" and not text:
            errors[name] = "obligatoire : choisissez le type de la fiche"
            continue
        try:
            values[name] = cell_value(name, text)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        return None, errors
    try:
        return Draft.model_validate(values), {}
    except ValidationError as exc:
        for refused, reason in field_reasons(exc):
            key = refused if refused in (*TEXT_FIELDS, "topics", "commune_insee") else GENERAL
            errors[key] = f"{errors[key]} ; {reason}" if key in errors else reason
        if "commune_insee" in errors:
            errors["commune"] = errors.pop("commune_insee")
        return None, errors


def _text(value: Any) -> str:
    return value[: FIELD_MAX + 1] if isinstance(value, str) else ""
