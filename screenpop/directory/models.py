"""The directory's typed entries: kinds with their French labels, what is written (`Draft`, checked here), what
is read (`Entry`, with its opening status), a caller recognised, the partners of a commune, an import's report.

Every string comes from a user or a file: single-line fields are cleaned (`telephony.identity.clean_text`:
control and bidirectional characters removed, blanks collapsed) and bounded; phone numbers are normalised to
E.164 (or kept as a French short number such as 3230).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from storage.directory import CallerKind, OrganisationData, Phone, StoredOrganisation
from storage.services import EXTENSION, TOPIC_KEY, Hours, InvalidHours, parse_hours
from telephony.identity import clean_text, e164, french_display


class Kind(StrEnum):
    """What an organisation is. The département's own services are transfer targets; the others are partners."""

    SERVICE = "service"
    TOWN_HALL = "town_hall"
    CCAS = "ccas"
    FRANCE_SERVICES = "france_services"
    CAF = "caf"
    CPAM = "cpam"
    MDPH = "mdph"
    FRANCE_TRAVAIL = "france_travail"
    SUB_PREFECTURE = "sub_prefecture"
    PREFECTURE = "prefecture"
    SOCIAL_LANDLORD = "social_landlord"
    MDS = "mds"
    CLIC = "clic"
    PMI = "pmi"
    CARSAT = "carsat"
    MSA = "msa"
    PUBLIC_FINANCES = "public_finances"
    MISSION_LOCALE = "mission_locale"
    EPCI = "epci"
    OTHER = "other"


# French labels, in the order partners are shown (a commune's own first).
KIND_LABELS: dict[Kind, str] = {
    Kind.TOWN_HALL: "Mairie",
    Kind.CCAS: "CCAS (centre communal d'action sociale)",
    Kind.FRANCE_SERVICES: "France Services",
    Kind.CAF: "CAF (caisse d'allocations familiales)",
    Kind.CPAM: "CPAM (assurance maladie)",
    Kind.MDPH: "MDPH (maison départementale des personnes handicapées)",
    Kind.FRANCE_TRAVAIL: "France Travail",
    Kind.SUB_PREFECTURE: "Sous-préfecture",
    Kind.PREFECTURE: "Préfecture",
    Kind.SOCIAL_LANDLORD: "Bailleur social",
    Kind.MDS: "Maison départementale des solidarités",
    Kind.CLIC: "CLIC (personnes âgées)",
    Kind.PMI: "PMI (protection maternelle et infantile)",
    Kind.CARSAT: "CARSAT (retraite)",
    Kind.MSA: "MSA (mutualité sociale agricole)",
    Kind.PUBLIC_FINANCES: "Centre des finances publiques",
    Kind.MISSION_LOCALE: "Mission locale",
    Kind.EPCI: "Intercommunalité",
    Kind.SERVICE: "Service du Département",
    Kind.OTHER: "Autre partenaire",
}
KIND_ORDER = {kind: index for index, kind in enumerate(KIND_LABELS)}
# What else people call them (searched as the kind's label is).
KIND_WORDS: dict[Kind, str] = {
    Kind.TOWN_HALL: "mairie hotel de ville commune",
    Kind.CCAS: "ccas action sociale",
    Kind.FRANCE_SERVICES: "france services maison",
    Kind.CAF: "caf allocations familiales",
    Kind.CPAM: "cpam assurance maladie securite sociale secu",
    Kind.MDPH: "mdph handicap",
    Kind.FRANCE_TRAVAIL: "france travail pole emploi chomage",
    Kind.SUB_PREFECTURE: "sous prefecture",
    Kind.PREFECTURE: "prefecture titres",
    Kind.SOCIAL_LANDLORD: "bailleur social logement hlm",
    Kind.MDS: "mds solidarites",
    Kind.CLIC: "clic personnes agees",
    Kind.PMI: "pmi protection maternelle infantile",
    Kind.CARSAT: "carsat retraite",
    Kind.MSA: "msa agricole",
    Kind.PUBLIC_FINANCES: "finances publiques impots",
    Kind.MISSION_LOCALE: "mission locale jeunes",
    Kind.EPCI: "intercommunalite communaute agglomeration epci",
    Kind.SERVICE: "service departement",
    Kind.OTHER: "autre",
}
CALLER_KIND_LABELS: dict[CallerKind, str] = {
    "citizen": "Usager",
    "town_hall": "Mairie",
    "partner": "Partenaire",
    "internal": "Service interne",
}
Source = Literal["manual", "csv", "dila", "demo"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u2028\u2029]")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_WEBSITE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_SHORT_NUMBER = re.compile(r"^[13][0-9]{2,5}$")  # 3230, 3646, 115, 119…
_INSEE = r"^[0-9][0-9AB][0-9]{3}$"


def _line(limit: int) -> Any:
    """A single-line text field: cleaned, bounded; blank is None."""

    def clean(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            return value
        text = clean_text(value, limit + 1)
        if len(text) > limit:
            raise ValueError(f"{limit} caractères au plus")
        return text or None

    return BeforeValidator(clean)


def _text(value: Any) -> Any:
    """A multi-line text: control characters removed, line ends kept; blank is None."""
    if not isinstance(value, str):
        return value
    text = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    return text or None


def _codes(pattern: str, what: str) -> Any:
    def check(values: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in values if not re.fullmatch(pattern, v)]
        if bad:
            raise ValueError(f"{what} invalide(s) : {', '.join(bad[:5])}")
        return tuple(sorted(set(values)))

    return AfterValidator(check)


def phone_number(raw: str) -> str:
    """A phone number as stored: E.164, or a French short number. Raises ValueError (French)."""
    compact = re.sub(r"[\s.\-()/]", "", raw)
    if _SHORT_NUMBER.fullmatch(compact):
        return compact
    number = e164(raw) if re.fullmatch(r"\+?[0-9]{6,16}", compact) else None
    if number is None:
        raise ValueError(f"numéro de téléphone illisible : « {clean_text(raw, 40)} »")
    return number


def display_number(number: str) -> str:
    """`+33353010001` → `03 53 01 00 01`; short numbers as they are."""
    return number if number.isdigit() else french_display(number)


class PhoneIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str
    label: Annotated[str | None, _line(100)] = None
    public: bool = True

    @field_validator("number", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return phone_number(value) if isinstance(value, str) else value


class Draft(BaseModel):
    """An entry as written by a person or an import: checked and cleaned here, then stored as it is."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kind: Kind
    name: Annotated[str, _line(200)]
    owner: Annotated[str, _line(100)]
    source: Source = "manual"
    ref: Annotated[str | None, _line(100)] = None
    active: bool = True
    extension: str | None = Field(default=None, pattern=EXTENSION.pattern)
    topics: tuple[str, ...] = ()
    escalation_contact: Annotated[str | None, _line(500)] = None
    street: Annotated[str | None, _line(300)] = None
    postal_code: str | None = Field(default=None, pattern=_INSEE)
    city: Annotated[str | None, _line(100)] = None
    commune_insee: str | None = Field(default=None, pattern=_INSEE)
    email: Annotated[str | None, _line(254)] = None
    website: Annotated[str | None, _line(500)] = None
    hours: Hours | None = None
    closed_dates: tuple[date, ...] = ()
    open_dates: tuple[date, ...] = ()
    public_note: Annotated[str | None, BeforeValidator(_text)] = Field(default=None, max_length=2000)
    staff_contact: Annotated[str | None, _line(500)] = None
    verified_on: date | None = None
    phones: tuple[PhoneIn, ...] = Field(default=(), max_length=20)
    communes: Annotated[tuple[str, ...], _codes(_INSEE, "code(s) INSEE")] = ()
    epcis: Annotated[tuple[str, ...], _codes(r"^[0-9]{9}$", "SIREN d'EPCI")] = ()
    departements: Annotated[tuple[str, ...], _codes(r"^[0-9][0-9AB][0-9]?$", "département(s)")] = ()

    @field_validator("name", "owner", mode="after")
    @classmethod
    def _required(cls, value: str | None) -> str:
        if not value:
            raise ValueError("obligatoire")
        return value

    @field_validator("extension", "postal_code", "commune_insee", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("topics", mode="after")
    @classmethod
    def _topics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in value if not TOPIC_KEY.fullmatch(t)]
        if bad:
            raise ValueError(f"thème(s) invalide(s) : {', '.join(bad)}")
        return tuple(sorted(set(value)))

    @field_validator("email", mode="after")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError(f"adresse électronique invalide : « {value} »")
        return value

    @field_validator("website", mode="after")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^[a-z][a-z0-9+.-]*://", value, re.IGNORECASE):
            value = f"https://{value}"
        if not _WEBSITE.fullmatch(value):
            raise ValueError(f"adresse web invalide : « {value} »")
        return value

    @field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, value: Any) -> Any:
        try:
            return parse_hours(value)
        except InvalidHours as exc:
            raise ValueError(str(exc)) from None

    @field_validator("closed_dates", "open_dates", mode="after")
    @classmethod
    def _dates(cls, value: tuple[date, ...]) -> tuple[date, ...]:
        if len(value) > 366:
            raise ValueError("366 dates au plus")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _kind_rules(self) -> Draft:
        if self.kind is Kind.SERVICE and self.extension is None:
            raise ValueError("un service du Département a un numéro de poste (transfert)")
        if self.kind is not Kind.SERVICE and (self.extension is not None or self.topics):
            raise ValueError("seul un service du Département a un poste de transfert et des thèmes")
        both = set(self.closed_dates) & set(self.open_dates)
        if both:
            raise ValueError(f"{min(both).isoformat()} est à la fois une fermeture et une ouverture exceptionnelle")
        return self

    def data(self) -> OrganisationData:
        return OrganisationData.model_validate(
            {
                **self.model_dump(exclude={"phones"}),
                "kind": self.kind.value,
                "phones": [Phone(number=p.number, label=p.label, public=p.public) for p in self.phones],
            }
        )

    @classmethod
    def of(cls, stored: OrganisationData) -> Draft:
        """The draft that writes `stored` again (to edit it)."""
        return cls.model_validate(
            {**stored.model_dump(include=set(cls.model_fields)), "phones": [p.model_dump() for p in stored.phones]}
        )


class PhoneOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: str
    display: str  # in French format
    label: str | None
    public: bool


class Opening(BaseModel):
    """Whether an entry is open at a given instant, by its hours and the line's calendar."""

    model_config = ConfigDict(frozen=True)

    known: bool  # False: a partner whose hours are not given
    open_now: bool | None
    until: datetime | None = None  # the end of the opening under way (None: open without a break in sight)
    next_opening: datetime | None = None  # when closed: the next opening (None: none within a year)
    summary: str  # French: « Ouvert maintenant, jusqu'à 17:00 », « Fermé — ouvre lundi 2 février à 08:30 »…


class Entry(BaseModel):
    """An organisation of the directory as read."""

    model_config = ConfigDict(frozen=True)

    id: int
    version: int
    kind: Kind
    kind_label: str
    name: str
    owner: str
    source: str
    ref: str | None
    active: bool
    extension: str | None
    topics: tuple[str, ...]
    escalation_contact: str | None
    street: str | None
    postal_code: str | None
    city: str | None
    commune_insee: str | None
    email: str | None
    website: str | None
    hours: Hours | None
    hours_text: str  # « lun-ven 08:30-12:00 13:30-17:00; sam 09:00-12:00 », '' when not given
    closed_dates: tuple[date, ...]
    open_dates: tuple[date, ...]
    public_note: str | None
    staff_contact: str | None
    verified_on: date | None
    phones: tuple[PhoneOut, ...]
    communes: tuple[str, ...]
    epcis: tuple[str, ...]
    departements: tuple[str, ...]
    opening: Opening
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, stored: StoredOrganisation, hours_text: str, opening: Opening) -> Entry:
        return cls.model_validate(
            {
                **stored.model_dump(exclude={"phones"}),
                "kind_label": KIND_LABELS.get(Kind(stored.kind), stored.kind),
                "phones": [
                    PhoneOut(number=p.number, display=display_number(p.number), label=p.label, public=p.public)
                    for p in stored.phones
                ],
                "hours_text": hours_text,
                "opening": opening,
            }
        )


Reach = Literal["commune", "epci", "departement", "nearby"]
REACH_LABELS: dict[Reach, str] = {
    "commune": "sert la commune",
    "epci": "sert l'intercommunalité",
    "departement": "sert le département",
    "nearby": "le plus proche (même intercommunalité)",
}


class Partner(BaseModel):
    """A partner serving a commune, and what to read to the caller."""

    model_config = ConfigDict(frozen=True)

    entry: Entry
    reach: Reach
    reach_label: str
    read_out: str  # French: name, public phones, address, opening; never the staff-only contact


class CommunePartners(BaseModel):
    model_config = ConfigDict(frozen=True)

    commune: str  # INSEE code
    commune_name: str
    epci_name: str | None
    partners: tuple[Partner, ...]


class CallerIdentity(BaseModel):
    """Who a caller's number is, by the directory."""

    model_config = ConfigDict(frozen=True)

    kind: CallerKind
    kind_label: str
    organisation: Entry | None = None


class Actor(BaseModel):
    """Who changes the directory: a desk user (login, role) or a command ("cli:…", admin)."""

    model_config = ConfigDict(frozen=True)

    login: str = Field(min_length=1, max_length=100)
    role: Literal["advisor", "supervisor", "admin"]


class ImportLine(BaseModel):
    """A line (CSV) or record (DILA) refused or warned about, and why (French)."""

    model_config = ConfigDict(frozen=True)

    line: int  # CSV: the line number in the file (header = 1); DILA: the record's position (first = 1)
    ref: str | None = None
    name: str | None = None
    reason: str


class ImportReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["dila", "csv"]
    dry_run: bool
    committed: bool  # False: nothing changed (a dry run, or --strict with refused lines)
    read: int  # lines or records read
    created: int
    updated: int
    unchanged: int
    skipped: dict[str, int]  # not for this directory (other kinds, other départements): reason → count
    refused: tuple[ImportLine, ...]
    warnings: tuple[ImportLine, ...]  # imported, with something left out (an unknown commune code…)


class ServiceView(BaseModel):
    """A service of the directory as the desk lists it (`GET /api/services`), open now or not."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    extension: str
    topics: tuple[str, ...]
    hours: Hours | None  # weekly spans in the line's time zone; None: always open
    active: bool
    closed_dates: tuple[date, ...] = ()
    open_dates: tuple[date, ...] = ()
    open_now: bool
    next_opening: datetime | None  # when closed: when it opens next (None: not within a year)


class Listing(BaseModel):
    """An entry as the desk shows it to an advisor: what to give the caller (`read_out`), its opening now, and
    its staff-only contact and phones marked as such."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: Kind
    kind_label: str
    name: str
    active: bool
    extension: str | None
    phones: tuple[PhoneOut, ...]
    address: str  # « 1 rue de l'Exemple, 62000 Arras », '' when not given
    email: str | None
    website: str | None
    hours_text: str
    opening: Opening
    public_note: str | None
    staff_contact: str | None  # never to be given to callers
    read_out: str  # French: what to read to the caller

    @classmethod
    def of(cls, entry: Entry, read_out: str) -> Listing:
        return cls(
            id=entry.id,
            kind=entry.kind,
            kind_label=entry.kind_label,
            name=entry.name,
            active=entry.active,
            extension=entry.extension,
            phones=entry.phones,
            address=address_of(entry),
            email=entry.email,
            website=entry.website,
            hours_text=entry.hours_text,
            opening=entry.opening,
            public_note=entry.public_note,
            staff_contact=entry.staff_contact,
            read_out=read_out,
        )


def address_of(entry: Entry) -> str:
    return ", ".join(x for x in (entry.street, " ".join(y for y in (entry.postal_code, entry.city) if y)) if x)


class DeskPartner(BaseModel):
    model_config = ConfigDict(frozen=True)

    listing: Listing
    reach: Reach
    reach_label: str


class DeskPartners(BaseModel):
    """The partners serving a commune, as the desk shows them in a pop (`/api/directory/communes/{code}/partners`)."""

    model_config = ConfigDict(frozen=True)

    commune: str  # INSEE code
    commune_name: str
    commune_label: str  # « Arras (62000) »
    epci_name: str | None
    partners: tuple[DeskPartner, ...]
