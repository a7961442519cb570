"""The directory's rules: who may change an entry, what goes in its history, search, the partners of a commune,
who a caller is, and whether an entry is open now (the one opening-hours model, `telephony.hours`).

Ownership: an admin changes any entry; a supervisor creates entries they own and changes the entries they own
(not their owner); advisors read. Every write appends to the entry's history (who, when, each field before and
after) in the same transaction. Imports and exports are in `screenpop.directory.files`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
from pydantic import ValidationError

from config.settings import OpeningHours
from screenpop.directory.errors import (
    EditConflict,
    InvalidEntry,
    NotAllowed,
    UnknownOrganisation,
    french_reasons,
)
from screenpop.directory.models import (
    CALLER_KIND_LABELS,
    KIND_LABELS,
    KIND_ORDER,
    KIND_WORDS,
    REACH_LABELS,
    Actor,
    CallerIdentity,
    CommunePartners,
    DeskPartner,
    DeskPartners,
    Draft,
    Entry,
    Kind,
    Listing,
    Opening,
    Partner,
    Reach,
    ServiceView,
    address_of,
)
from screenpop.directory.weektext import format_week
from storage.communes import Commune, CommuneRepository, normalise, query_words
from storage.directory import Action, Change, DirectoryStore, OrganisationData, StaleVersion, StoredOrganisation
from storage.services import Service, ServiceRepository, week_spans
from telephony import hours as opening
from telephony.identity import e164

T = TypeVar("T")
SEARCH_LIMIT = 50
_STOPWORDS = frozenset({"a", "au", "aux", "d", "de", "des", "du", "en", "et", "l", "la", "le", "les"})
_REACHES: tuple[Reach, ...] = ("commune", "epci", "departement", "nearby")
_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")  # fmt: skip
# Each kind's words, folded, for "which kinds does this word name".
_KIND_TERMS = {kind: normalise(f"{kind.value} {KIND_LABELS[kind]} {KIND_WORDS[kind]}").split() for kind in Kind}


def kinds_named(word: str) -> list[str]:
    """The kinds whose label or usual names have a word starting with `word` (folded)."""
    if len(word) < 2 or word in _STOPWORDS:
        return []
    return [kind.value for kind, terms in _KIND_TERMS.items() if any(t.startswith(word) for t in terms)]


def _when(moment: datetime, now: datetime) -> str:
    """« 17:00 », « demain 08:30 », « lundi 7 décembre à 08:30 » (French, relative to `now`, same zone)."""
    clock = moment.strftime("%H:%M")
    days = (moment.date() - now.date()).days
    if days == 0:
        return clock
    if days == 1:
        return f"demain {clock}"
    return f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} à {clock}"


def commune_label(commune: Commune) -> str:
    """« Arras (62000) », « Calais (62100) », « Lille (59000, 59160, 59260…) »: how people know a commune."""
    codes = list(commune.postal_codes)
    if not codes:
        return f"{commune.name} ({commune.code})"
    return f"{commune.name} ({', '.join(codes[:3])}{'…' if len(codes) > 3 else ''})"


class CommuneNotPicked(Exception):
    """A commune typed in full does not designate one commune (French message); `ambiguous`: several."""

    def __init__(self, message: str, ambiguous: bool) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


def pick_commune(typed: str, candidates: Sequence[Commune], departement: str | None) -> Commune:
    """The commune a name or postal code typed in full (not picked from the list) designates, among the communes
    with that exact name or postal code (`CommuneRepository.named`): the only one, else, for a name, the only one
    of the département. Raises `CommuneNotPicked` (French) when none or several: never a silent guess."""
    if len(candidates) == 1:
        return candidates[0]
    local = [c for c in candidates if c.departement == departement]
    if len(local) == 1 and not typed.strip().isdigit():
        return local[0]
    shown = " ".join(typed.split())[:60]
    if not candidates:
        raise CommuneNotPicked(
            f"commune « {shown} » introuvable : choisissez-la dans la liste proposée, ou videz le champ", False
        )
    among = local or list(candidates)
    named = ", ".join(commune_label(c) for c in among[:4]) + (" …" if len(among) > 4 else "")
    raise CommuneNotPicked(
        f"« {shown} » désigne plusieurs communes ({named}) : choisissez la bonne dans la liste proposée", True
    )


def opening_of(stored: StoredOrganisation, calendar: OpeningHours, at: datetime) -> Opening:
    """Whether `stored` is open at `at`: its weekly spans and exceptional dates, `calendar`'s holidays."""
    if not stored.active:
        return Opening(known=True, open_now=False, summary="Désactivé")
    if stored.hours is None:
        if stored.kind == Kind.SERVICE:
            return Opening(known=True, open_now=True, summary="Ouvert maintenant, en continu")
        return Opening(known=False, open_now=None, summary="Horaires non renseignés")
    hours = opening.with_calendar(calendar, week_spans(stored.hours), stored.closed_dates, stored.open_dates)
    if opening.is_open(at, hours):
        until = opening.open_until(at, hours)
        now = at.astimezone(until.tzinfo) if until else at
        summary = (
            "Ouvert maintenant, sans interruption"
            if until is None
            else f"Ouvert maintenant, jusqu'à {_when(until, now)}"
        )
        return Opening(known=True, open_now=True, until=until, summary=summary)
    local = opening.next_opening(at, hours)
    if local is None:
        return Opening(known=True, open_now=False, summary="Fermé (pas d'ouverture prévue dans l'année)")
    return Opening(
        known=True,
        open_now=False,
        next_opening=local,
        summary=f"Fermé — ouvre {_when(local, at.astimezone(local.tzinfo))}",
    )


def read_out(entry: Entry) -> str:
    """What to read to a caller about `entry`: name, public phones, address, opening, the note for callers.
    Never the staff-only contact nor staff-only phones."""
    parts = [entry.name]
    phones = [p for p in entry.phones if p.public]
    if phones:
        parts.append("Téléphone : " + ", ".join(p.display + (f" ({p.label})" if p.label else "") for p in phones))
    address = address_of(entry)
    if address:
        parts.append(f"Adresse : {address}")
    if entry.opening.known:
        parts.append(entry.opening.summary)
    if entry.hours_text:
        parts.append(f"Horaires : {entry.hours_text}")
    if entry.website:
        parts.append(f"Site : {entry.website}")
    if entry.public_note:
        parts.append(entry.public_note)
    return " ".join(p if p.endswith((".", "!", "?", "…")) else f"{p}." for p in parts)


def service_open(service: Service, at: datetime, calendar: OpeningHours) -> bool:
    """Whether a service takes calls at `at` (timezone-aware): active, and always open or open by its hours (its
    weekly spans and exceptional dates, with `calendar`'s time zone and public holidays)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at must be timezone-aware, got {at!r}")
    if not service.active:
        return False
    hours = service.opening_hours(calendar)
    return hours is None or opening.is_open(at, hours)


def service_next_opening(service: Service, at: datetime, calendar: OpeningHours) -> datetime | None:
    """When the service opens next, at or after `at` (None: inactive, or not within a year)."""
    if not service.active:
        return None
    hours = service.opening_hours(calendar)
    return at if hours is None else opening.next_opening(at, hours)


class DirectoryService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        calendar: OpeningHours,
        *,
        topics: Iterable[str] | None = None,
        departement: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`calendar`: the line's hours (time zone and public holidays for every entry); `topics`: the desk's
        topic keys (a service's topics must be among them); `departement`: its communes come first."""
        self.store = DirectoryStore(pool)
        self._services = ServiceRepository(pool, topics)
        self._communes = CommuneRepository(pool)
        self._calendar = calendar
        self._topics = None if topics is None else frozenset(topics)
        self._departement = departement
        self._clock = clock

    # -- reading ---------------------------------------------------------------------------------------------

    def entry(self, stored: StoredOrganisation, at: datetime | None = None) -> Entry:
        when = at or self._clock()
        return Entry.of(stored, format_week(stored.hours), opening_of(stored, self._calendar, when))

    async def get(self, organisation_id: int) -> Entry:
        stored = await self.store.get(organisation_id)
        if stored is None:
            raise UnknownOrganisation(f"organisation n° {organisation_id} inconnue")
        return self.entry(stored)

    async def history(self, organisation_id: int) -> list[Change]:
        if await self.store.get(organisation_id) is None:
            raise UnknownOrganisation(f"organisation n° {organisation_id} inconnue")
        return await self.store.history(organisation_id)

    async def entries(self, kind: Kind | None = None, active_only: bool = False) -> list[Entry]:
        at = self._clock()
        stored = await self.store.list(kind=None if kind is None else kind.value, active_only=active_only)
        return [self.entry(s, at) for s in stored]

    # -- the services a call is transferred to, the communes ------------------------------------------------

    def is_open(self, service: Service, at: datetime) -> bool:
        return service_open(service, at, self._calendar)

    def next_opening(self, service: Service, at: datetime) -> datetime | None:
        return service_next_opening(service, at, self._calendar)

    async def service(self, service_id: int) -> Service | None:
        return await self._services.get(service_id)

    async def services(self, at: datetime) -> list[ServiceView]:
        """The active services by name, open at `at` or not."""
        return [
            ServiceView(**s.model_dump(), open_now=self.is_open(s, at), next_opening=self.next_opening(s, at))
            for s in await self._services.list(active_only=True)
        ]

    async def communes(self, q: str, limit: int, departement: str | None) -> list[Commune]:
        return await self._communes.search(q, limit=limit, departement=departement)

    async def commune(self, code: str) -> Commune | None:
        return await self._communes.get(code)

    async def communes_of(self, codes: Sequence[str]) -> dict[str, Commune]:
        """The communes of these INSEE codes that exist, by code (one query)."""
        return await self._communes.by_codes(list(codes))

    async def resolve_commune(self, typed: str) -> Commune:
        """The commune a name or postal code typed designates (`pick_commune`), or an INSEE code that is no
        postal code. Raises `CommuneNotPicked`."""
        text = typed.strip()
        candidates = await self._communes.named(text)
        if not candidates and re.fullmatch(r"[0-9][0-9AB][0-9]{3}", text.upper()):
            by_code = await self._communes.get(text.upper())
            if by_code is not None:
                return by_code
        return pick_commune(text, candidates, self._departement)

    async def search(
        self, q: str, *, kind: Kind | None = None, active_only: bool = True, limit: int = 20
    ) -> list[Entry]:
        """Entries matching what an advisor typed, accents and case ignored: words of the name, the city, the
        postal code, the kind (« caf », « handicap »…); a commune named (« caf lens », « 62300 ») finds the
        entries serving it, those in it first; a phone number finds the entry it belongs to."""
        limit = max(1, min(limit, SEARCH_LIMIT))
        at = self._clock()
        digits = re.sub(r"[\s.\-+()]", "", q)
        if digits.isdigit() and len(digits) >= 8:
            number = e164(q)
            found = [] if number is None else await self.store.with_phone(number)
            return [self.entry(s, at) for s in found if s.active or not active_only][:limit]
        words = query_words(q).split()[:8]
        meaningful = [w for w in words if w not in _STOPWORDS] or words
        if not meaningful:
            return []
        communes, rest = await self._communes_in(meaningful)
        results: list[StoredOrganisation] = []
        kind_key = None if kind is None else kind.value
        if communes:
            results = await self.store.search(
                rest, [kinds_named(w) for w in rest], communes, kind=kind_key, active_only=active_only, limit=limit
            )
        seen = {s.id for s in results}
        if len(results) < limit:
            plain = await self.store.search(
                meaningful,
                [kinds_named(w) for w in meaningful],
                [],
                kind=kind_key,
                active_only=active_only,
                limit=limit,
            )
            results.extend(s for s in plain if s.id not in seen)
        return [self.entry(s, at) for s in results[:limit]]

    async def _communes_in(self, words: Sequence[str]) -> tuple[list[str], list[str]]:
        """The communes a query names (the longest run of its words that is a commune's name, or a postal code)
        and the words left; ([], words) when it names none."""
        runs = {
            " ".join(words[i:j]): (i, j) for i in range(len(words)) for j in range(i + 1, min(len(words), i + 4) + 1)
        }
        postal = [w for w in words if re.fullmatch(r"[0-9]{5}", w)]
        found = await self.store.communes_named(list(runs), postal)
        if not found:
            return [], list(words)
        best: tuple[int, int] | None = None
        for commune in found:
            named = normalise(commune.name)
            if named in runs:
                span = runs[named]
            else:
                code = next(p for p in postal if p in commune.postal_codes)
                span = (words.index(code), words.index(code) + 1)
            if best is None or span[1] - span[0] > best[1] - best[0]:
                best = span
        assert best is not None
        phrase = " ".join(words[best[0] : best[1]])
        chosen = [c for c in found if normalise(c.name) == phrase or (phrase.isdigit() and phrase in c.postal_codes)]
        if not phrase.isdigit():  # a name: that of the département first, else the most populated
            local = [c for c in chosen if c.departement == self._departement]
            chosen = local or chosen[:1]
        return [c.code for c in chosen], [*words[: best[0]], *words[best[1] :]]

    async def partners_of(self, commune: str) -> CommunePartners:
        """The partners serving a commune (INSEE code), by kind in the order a caller needs them, the most local
        first: its town hall and CCAS, France Services (the nearest, of the same intercommunality, when none
        serves it), CAF, CPAM, MDPH, France Travail, sous-préfecture… and what to read to the caller."""
        keys = await self.store.commune(commune)
        if keys is None:
            raise UnknownOrganisation(f"commune {commune} inconnue (code INSEE)")
        at = self._clock()
        found = await self.store.serving(commune)
        partners: list[Partner] = []
        serving_kinds = {s.kind for reach, s in found if reach < 3}
        for reach, stored in found:
            if reach == 3 and stored.kind in serving_kinds:
                continue  # a France Services serves the commune: no need for the nearest one
            entry = self.entry(stored, at)
            partners.append(
                Partner(
                    entry=entry,
                    reach=_REACHES[reach],
                    reach_label=REACH_LABELS[_REACHES[reach]],
                    read_out=read_out(entry),
                )
            )
        partners.sort(key=lambda p: (KIND_ORDER[p.entry.kind], _REACHES.index(p.reach), p.entry.name, p.entry.id))
        return CommunePartners(
            commune=keys.code, commune_name=keys.name, epci_name=keys.epci_name, partners=tuple(partners)
        )

    # -- the desk: search, the partners of the caller's commune -------------------------------------------------

    @staticmethod
    def listing(entry: Entry) -> Listing:
        return Listing.of(entry, read_out(entry))

    async def desk_search(self, q: str, *, kind: Kind | None = None, limit: int = 20) -> list[Listing]:
        """`search` of the active entries, as the desk lists them."""
        return [self.listing(e) for e in await self.search(q, kind=kind, limit=limit)]

    async def desk_partners(self, commune: str) -> DeskPartners:
        """`partners_of` a commune, as the desk shows them in a pop, the commune with its postal codes."""
        found = await self.partners_of(commune)
        keys = await self._communes.get(commune)
        label = found.commune_name if keys is None else commune_label(keys)
        return DeskPartners(
            commune=found.commune,
            commune_name=found.commune_name,
            commune_label=label,
            epci_name=found.epci_name,
            partners=tuple(
                DeskPartner(listing=Listing.of(p.entry, p.read_out), reach=p.reach, reach_label=p.reach_label)
                for p in found.partners
            ),
        )

    async def identify(self, number: str | None, raw: str = "") -> CallerIdentity:
        """Who a caller is: the organisation its number (E.164, or an internal extension given raw) belongs to,
        or a citizen. The same rule as the one that classifies the call records (`directory_caller`)."""
        found = await self.store.caller(number, raw)
        if found is None:
            return CallerIdentity(kind="citizen", kind_label=CALLER_KIND_LABELS["citizen"])
        kind, organisation_id = found
        stored = await self.store.get(organisation_id)
        return CallerIdentity(
            kind=kind,
            kind_label=CALLER_KIND_LABELS[kind],
            organisation=None if stored is None else self.entry(stored),
        )

    # -- writing ---------------------------------------------------------------------------------------------

    def check_allowed(self, actor: Actor, before: OrganisationData | None, after: OrganisationData) -> None:
        """Ownership: admins change everything; supervisors their own entries (and not their owner)."""
        if actor.role == "admin":
            return
        if actor.role != "supervisor":
            raise NotAllowed("seuls les superviseurs et les administrateurs modifient l'annuaire")
        if before is not None and before.owner != actor.login:
            raise NotAllowed(f"cette fiche est tenue par {before.owner} : seul un administrateur peut la modifier")
        if after.owner != actor.login:
            raise NotAllowed("seul un administrateur peut confier une fiche à quelqu'un d'autre")

    def check_topics(self, draft: Draft) -> None:
        if self._topics is None:
            return
        unknown = [t for t in draft.topics if t not in self._topics]
        if unknown:
            known = ", ".join(sorted(self._topics))
            raise InvalidEntry(f"thème(s) inconnu(s) : {', '.join(unknown)} ; possibles : {known}")

    async def _check_communes(self, draft: Draft, conn: asyncpg.Connection | None = None) -> None:
        codes = [*draft.communes, *([draft.commune_insee] if draft.commune_insee else [])]
        unknown = sorted(set(codes) - await self.store.known_communes(codes, conn))
        if unknown:
            raise InvalidEntry(f"commune(s) inconnue(s) (code INSEE) : {', '.join(unknown[:10])}")

    async def create(self, draft: Draft, actor: Actor) -> Entry:
        data = draft.data()
        self.check_allowed(actor, None, data)
        self.check_topics(draft)
        await self._check_communes(draft)
        async with self.store.transaction() as conn:
            organisation_id = await self.write_new(conn, data, actor.login, "create")
        return await self.get(organisation_id)

    async def update(self, organisation_id: int, draft: Draft, actor: Actor, expected_version: int | None) -> Entry:
        """Replace the entry by `draft`; `expected_version`: the version the editor read (refused with
        `EditConflict` if someone changed it since; None: last writer wins, for the commands)."""
        after = draft.data()
        self.check_topics(draft)
        await self._check_communes(draft)
        async with self.store.transaction() as conn:
            before = await self._locked(conn, organisation_id)
            self.check_allowed(actor, before, after)
            await self.write_over(conn, before, after, actor.login, expected_version)
        return await self.get(organisation_id)

    async def set_active(
        self, organisation_id: int, active: bool, actor: Actor, expected_version: int | None = None
    ) -> Entry:
        """Deactivate (never delete: the calls and the history keep pointing at it) or reactivate an entry."""
        async with self.store.transaction() as conn:
            before = await self._locked(conn, organisation_id)
            after = before.data().model_copy(update={"active": active})
            self.check_allowed(actor, before, after)
            await self.write_over(conn, before, after, actor.login, expected_version)
        return await self.get(organisation_id)

    async def _locked(self, conn: asyncpg.Connection, organisation_id: int) -> StoredOrganisation:
        await conn.execute("SELECT 1 FROM organisations WHERE id = $1 FOR UPDATE", organisation_id)
        before = await self.store.get(organisation_id, conn)
        if before is None:
            raise UnknownOrganisation(f"organisation n° {organisation_id} inconnue")
        return before

    async def write_new(self, conn: asyncpg.Connection, data: OrganisationData, actor: str, action: Action) -> int:
        """Insert a checked entry with its history row (the caller checked who may); its id."""
        return await self._write(
            self.store.create(conn, data, actor=actor, action=action, changes=data.changes_from(None))
        )

    async def write_over(
        self,
        conn: asyncpg.Connection,
        before: StoredOrganisation,
        after: OrganisationData,
        actor: str,
        expected_version: int | None,
        action: Action | None = None,
    ) -> bool:
        """Write `after` over `before` with its history row (the caller checked who may); False (nothing
        written) when nothing changed. `action` None: update, or deactivate/reactivate when only that changed."""
        if expected_version is not None and expected_version != before.version:
            raise EditConflict(
                f"la fiche « {before.name} » a été modifiée entre-temps (version {before.version}) : "
                "rechargez-la avant de l'enregistrer"
            )
        changes = after.changes_from(before.data())
        if not changes:
            return False
        if action is None:
            action = "update"
            if set(changes) == {"active"}:
                action = "reactivate" if after.active else "deactivate"
        await self._write(
            self.store.replace(
                conn, before.id, after, expected_version=before.version, actor=actor, action=action, changes=changes
            )
        )
        return True

    @staticmethod
    async def _write(write: Awaitable[T]) -> T:
        try:
            return await write
        except StaleVersion:
            raise EditConflict("la fiche a été modifiée entre-temps : rechargez-la avant de l'enregistrer") from None
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "organisations_service_name_key":
                raise InvalidEntry("un service du Département porte déjà ce nom") from None
            if exc.constraint_name == "organisations_ref_key":
                raise InvalidEntry("une autre fiche a déjà cette référence") from None
            raise


def draft_or_error(values: dict[str, object]) -> Draft:
    """A `Draft` from plain values, or `InvalidEntry` with the French reasons."""
    try:
        return Draft.model_validate(values)
    except ValidationError as exc:
        raise InvalidEntry(french_reasons(exc)) from None
