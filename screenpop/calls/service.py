"""The calls slice's rules: qualifying a call (the configured lists, who may qualify which call, the note's length,
French messages), the caller's history with its labels, and the transfer of the live call. No aiohttp here; SQL
in `storage/qualification.py`.

A qualification saved while the call is in progress (during the conversation, or after a transfer while the
service still talks) waits for the call's record (`PendingQualification`). After a successful save, the
qualification service tells the desk (`Qualified.qualified`): the page forgets the call, the wrap-up ends.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import asyncpg

from config.settings import DeskSettings
from screenpop.calls.access import may_read_history
from screenpop.calls.errors import (
    AmbiguousCommune,
    ConsultationInProgress,
    MissingTransferService,
    NoConsultation,
    NoLiveCall,
    NoteTooLong,
    NotYourCall,
    NotYourCaller,
    ServiceClosed,
    TransferFailed,
    UnknownArticle,
    UnknownCall,
    UnknownCommune,
    UnknownPartner,
    UnknownService,
    UnknownSubtopic,
    UnknownTopic,
)
from screenpop.calls.models import (
    CallbackItem,
    CallerFacts,
    CallRecordView,
    HistoryItem,
    OrganisationCallItem,
    PendingQualification,
    Qualification,
)
from screenpop.directory.service import CommuneNotPicked, DirectoryService, pick_commune
from storage.advisors import AdvisorRepository
from storage.communes import CommuneRepository
from storage.knowledge.loop import UnusableArticle
from storage.qualification import NOTE_DB_MAX, QualificationRepository, QualificationValues, Row
from storage.users import Role, User
from telephony.identity import french_display
from telephony.live import LiveCall, LiveView
from telephony.ports import ActionSender
from telephony.records import OUTCOME_LABELS, Outcome

log = logging.getLogger(__name__)

TakenBy = Callable[[str], str | None]  # linkedid → the interface of the advisor who took that call in progress
CurrentCaller = Callable[[int], Awaitable[str | None]]  # advisor → the number of their call not yet qualified


class Qualified(Protocol):
    """Told once a call is qualified (`screenpop.desk.service.DeskService`)."""

    async def qualified(self, advisor_id: int, linkedid: str) -> None: ...


def _no_call(_: str) -> str | None:
    return None


class QualificationService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        desk: DeskSettings,
        taken_by: TakenBy = _no_call,
        qualified: Qualified | None = None,
        callbacks_changed: Callable[[], None] | None = None,
    ) -> None:
        """`taken_by`: for a call in progress (its record not written yet), the interface of the advisor who
        answered it, as the live view tells (`LiveView.taken_by`). `qualified`: told after each successful save.
        `callbacks_changed`: told when a save made, asked again or cancelled a callback (the wallboards refresh)."""
        self._repository = QualificationRepository(pool)
        self._advisors = AdvisorRepository(pool, {})
        self._communes = CommuneRepository(pool)
        self._desk = desk
        self._taken_by = taken_by
        self._qualified = qualified
        self._callbacks_changed = callbacks_changed

    # ---- qualifying ----

    async def qualify(self, linkedid: str, q: Qualification, user: User) -> CallRecordView | PendingQualification:
        """The logged-in user qualifies a call; then the desk is told (the wrap-up ends)."""
        interface = None
        if user.advisor_id is not None:
            advisor = await self._advisors.get(user.advisor_id)
            interface = None if advisor is None else advisor.interface
        saved = await self.save(linkedid, q, user, interface, self._taken_by(linkedid))
        if self._qualified is not None and user.advisor_id is not None:
            await self._qualified.qualified(user.advisor_id, linkedid)
        return saved

    async def save(
        self,
        linkedid: str,
        q: Qualification,
        user: User,
        advisor_interface: str | None,
        taken_by: str | None = None,
    ) -> CallRecordView | PendingQualification:
        """Qualify a call. `advisor_interface`: the phone of the user's advisor (None if they have none);
        an advisor qualifies only the calls they answered, supervisors and admins any call. `taken_by`: for a
        call in progress (its record not written yet), the interface of the advisor who answered it (None: not
        known to be in progress): the qualification then waits for the record (`PendingQualification`). Raises a
        `QualificationError` (nothing written) when refused."""
        self._check_lists(q)
        if q.commune_insee is None and q.commune is not None:  # typed and not picked: never silently dropped
            try:
                picked = pick_commune(q.commune, await self._communes.named(q.commune), self._desk.departement)
            except CommuneNotPicked as exc:
                raise (AmbiguousCommune if exc.ambiguous else UnknownCommune)(str(exc)) from None
            q = q.model_copy(update={"commune_insee": picked.code})
        async with self._repository.saving(linkedid) as saving:
            call = saving.call
            if call is None and taken_by is None:
                raise UnknownCall(f"appel {linkedid} inconnu")
            owner = taken_by if call is None else call["advisor_interface"]
            if user.role not in (Role.SUPERVISOR, Role.ADMIN) and (
                advisor_interface is None or owner != advisor_interface
            ):
                raise NotYourCall("cet appel a été pris par un autre conseiller : seul lui peut le qualifier")
            if q.commune_insee is not None and not await saving.commune_exists(q.commune_insee):
                raise UnknownCommune(f"commune {q.commune_insee} inconnue (code INSEE)")
            service_name = None
            if q.transfer_service_id is not None:
                service = await saving.service(q.transfer_service_id)
                if service is None or not service.active:
                    raise UnknownService(f"service n° {q.transfer_service_id} inconnu ou désactivé")
                service_name = service.name
            partner_name = None
            if q.partner_id is not None:
                partner = await saving.organisation(q.partner_id)
                if partner is None:
                    raise UnknownPartner(f"partenaire n° {q.partner_id} inconnu dans l'annuaire")
                if not partner["active"]:
                    raise UnknownPartner(
                        f"« {partner['name']} » est désactivé dans l'annuaire : indiquez un autre partenaire"
                    )
                partner_name = str(partner["name"])[:100]
            values = QualificationValues(
                topic=q.topic,
                subtopic=q.subtopic,
                outcome=q.outcome.value,
                transfer_service_id=q.transfer_service_id,
                transfer_service=service_name,
                partner=partner_name,
                partner_id=q.partner_id,
                callback_requested=q.callback_requested,
                callback_slot=q.callback_slot,
                commune_insee=q.commune_insee,
                note=q.note,
            )
            try:
                await saving.record_knowledge(q.articles_used, q.no_answer_question, q.topic, q.subtopic, user.login)
            except UnusableArticle as exc:
                raise UnknownArticle(f"article(s) inconnu(s) ou non publié(s) : {exc}") from None
            callbacks_changed = await saving.callback(values, user.login)
            if call is None:
                await saving.keep_pending(owner, values, user.login)
                saved: CallRecordView | PendingQualification = PendingQualification(
                    linkedid=linkedid, qualified_by=user.login
                )
            else:
                row, changed = await saving.save(values, user.login)
                saved = CallRecordView.model_validate({**dict(row), "changed": changed})
        if isinstance(saved, PendingQualification):
            await self._repository.join_pending(linkedid)
        if callbacks_changed and self._callbacks_changed is not None:
            self._callbacks_changed()
        return saved

    def _check_lists(self, q: Qualification) -> None:
        topic = self._desk.topics.get(q.topic)
        if topic is None:
            known = ", ".join(t.label for t in self._desk.topics.values())
            raise UnknownTopic(f"thème « {q.topic} » inconnu ; thèmes possibles : {known}")
        if q.subtopic is not None and q.subtopic not in topic.subtopics:
            if topic.subtopics:
                raise UnknownSubtopic(
                    f"sous-thème « {q.subtopic} » inconnu pour le thème {topic.label} ; "
                    f"possibles : {', '.join(topic.subtopics.values())}"
                )
            raise UnknownSubtopic(f"le thème {topic.label} n'a pas de sous-thème")
        if q.outcome is Outcome.TRANSFER and q.transfer_service_id is None:
            raise MissingTransferService("un transfert doit indiquer le service vers lequel l'appel a été transféré")
        if q.outcome is Outcome.PARTNER_CONTACT and q.partner_id is None:
            raise UnknownPartner("indiquez le partenaire dont les coordonnées ont été données")
        note_max = self.note_max
        if q.note is not None and len(q.note) > note_max:
            raise NoteTooLong(f"la note fait {len(q.note)} caractères ; {note_max} au plus")

    @property
    def note_max(self) -> int:
        return min(self._desk.note_max, NOTE_DB_MAX)

    # ---- the caller's history ----

    async def history(self, caller_number: str, limit: int | None = None) -> list[HistoryItem]:
        """The caller's answered or qualified calls, latest first (at most `limit`, default `history_size`)."""
        rows = await self._repository.history(caller_number, self._size(limit))
        return [self._history_item(r) for r in rows]

    async def open_callbacks(self, caller_number: str, limit: int = 10) -> list[CallbackItem]:
        """The open callbacks of the calls from this number, latest call first: a callback stays open until an attempt
        reaches the citizen or an advisor cancels it (/rappels), even when the citizen has called again since."""
        rows = await self._repository.open_callbacks(caller_number, max(1, min(limit, 100)))
        return [self._callback_item(r) for r in rows]

    async def caller_facts(self, caller_number: str, limit: int | None = None, callbacks: int = 10) -> CallerFacts:
        """`history`, `last_commune` (with the commune's name) and `open_callbacks` in one query, for a pop."""
        rows = await self._repository.caller(caller_number, self._size(limit), max(1, min(callbacks, 100)))
        return CallerFacts(
            [self._history_item(r) for r in rows.history],
            rows.commune,
            [self._callback_item(c) for c in rows.open_callbacks],
            rows.postal_codes,
        )

    async def organisation_history(
        self, organisation_id: int, commune: str | None, caller_number: str, limit: int | None = None
    ) -> list[OrganisationCallItem]:
        """The recent calls of a recognised caller: of its commune's town hall and CCAS when `commune` is given
        (a town hall calling), else of its organisation; and of its number. Latest first."""
        rows = await self._repository.organisation_history(organisation_id, commune, caller_number, self._size(limit))
        return [
            OrganisationCallItem(
                **self._history_item(r).model_dump(),
                caller=r["caller_organisation"] or r["caller_name"] or _display(r["caller_number"]),
            )
            for r in rows
        ]

    async def last_commune(self, caller_number: str) -> str | None:
        """The commune given on the caller's latest call that had one."""
        return await self._repository.last_commune(caller_number)

    def _size(self, limit: int | None) -> int:
        return self._desk.history_size if limit is None else max(1, min(limit, 100))

    def _topic_label(self, topic: str | None) -> str | None:
        if topic is None:
            return None
        known = self._desk.topics.get(topic)
        return known.label if known else topic

    def _callback_item(self, row: Mapping[str, Any]) -> CallbackItem:
        """From a row of the open callbacks (a record, or its JSON object in the pop's single query)."""
        return CallbackItem.model_validate(
            {
                "id": row["id"],
                "linkedid": row["linkedid"],
                "requested_at": row["arrived_at"],
                "topic_label": self._topic_label(row["topic"]),
                "slot": row["callback_slot"],
            }
        )

    def _history_item(self, row: Row) -> HistoryItem:
        topic = self._desk.topics.get(row["topic"]) if row["topic"] else None
        outcome = _outcome(row["outcome"])
        subtopic = row["subtopic"]
        return HistoryItem(
            linkedid=row["linkedid"],
            date=row["arrived_at"],
            status=row["status"],
            topic=row["topic"],
            topic_label=topic.label if topic else row["topic"],
            subtopic_label=(topic.subtopics.get(subtopic, subtopic) if topic else subtopic) if subtopic else None,
            outcome=outcome,
            outcome_label=None if outcome is None else OUTCOME_LABELS[outcome],
            advisor_name=row["advisor_name"],
            commune_insee=row["commune_insee"],
            note=row["note"],
            partner_label=self._partner_label(row["partner"], row["partner_id"]),
        )

    def _partner_label(self, partner: str | None, partner_id: int | None) -> str | None:
        """The partner given: its name as saved, or, on a record qualified before migration 0012, the label of
        its key in the settings' former list."""
        if partner is None:
            return None
        return partner if partner_id is not None else self._desk.partners.get(partner, partner)


def _display(number: str | None) -> str | None:
    return None if number is None else french_display(number)


def _outcome(value: str | None) -> Outcome | None:
    try:
        return None if value is None else Outcome(value)
    except ValueError:
        return None


class HistoryAccess:
    """Whether a user may read a number's history (`screenpop.calls.access`), from the live view and their desk."""

    def __init__(self, live: LiveView, advisors: AdvisorRepository, current_caller: CurrentCaller) -> None:
        self._live = live
        self._advisors = advisors
        self._current_caller = current_caller

    async def check(self, user: User, number: str) -> None:
        """Raises NotYourCaller (403) unless `user` may read the history of `number`."""
        interface = current = None
        if user.advisor_id is not None:
            advisor = await self._advisors.get(user.advisor_id)
            interface = None if advisor is None else advisor.interface
            current = await self._current_caller(user.advisor_id)
        if not may_read_history(user, interface, number, self._live.recent(), current):
            log.warning("history of a number refused to %s (no call with it)", user.login)
            raise NotYourCaller()


class TransferService:
    """Transfers of the live call to a service of the directory: blind (`BlindTransfer`) or attended (`Atxfer`),
    then completed (the advisor's leg hangs up) or cancelled (`CancelAtxfer`)."""

    def __init__(
        self,
        live: LiveView,
        ami: ActionSender,
        directory: DirectoryService,
        advisors: AdvisorRepository,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock
        self._live = live
        self._ami = ami
        self._directory = directory
        self._advisors = advisors

    async def _own_call(self, user: User, linkedid: str) -> tuple[LiveCall, str]:
        """The live call `linkedid`, if the logged-in advisor is on it; with the advisor's channel."""
        call = self._live.call(linkedid)
        advisor = None if user.advisor_id is None else await self._advisors.get(user.advisor_id)
        if call is None or not call.with_advisor or call.advisor_channel is None:
            raise NoLiveCall()
        if advisor is None or call.advisor != advisor.interface:
            raise NotYourCall()
        return call, call.advisor_channel

    async def transfer(self, user: User, linkedid: str, service_id: int, kind: Literal["blind", "attended"]) -> None:
        call, channel = await self._own_call(user, linkedid)
        if call.consulting is not None:
            raise ConsultationInProgress()
        service = await self._directory.service(service_id)
        if service is None or not service.active:
            raise UnknownService()
        if not self._directory.is_open(service, self._clock()):
            raise ServiceClosed()
        action = {
            "Action": "BlindTransfer" if kind == "blind" else "Atxfer",
            "Channel": channel,
            "Exten": service.extension,
            "Context": "services",
        }
        await self._send(action, linkedid, TransferFailed.default_message)
        log.info("transfer linkedid=%s to %s (%s) by %s", linkedid, service.extension, kind, user.login)

    async def complete(self, user: User, linkedid: str) -> None:
        """End the consultation by handing the caller to the service: the advisor's leg (the transferer) hangs up,
        which is how Asterisk completes an attended transfer (the caller's bridge and the consultation's merge).
        Only while the advisor is in the consultation: hanging up the advisor's leg once back with the caller
        would end the caller's call instead."""
        call, channel = await self._own_call(user, linkedid)
        if call.consulting is None:
            raise NoConsultation()
        await self._send({"Action": "Hangup", "Channel": channel}, linkedid, TransferFailed.default_message)
        log.info("attended transfer completed linkedid=%s to %s by %s", linkedid, call.consulting, user.login)

    async def cancel(self, user: User, linkedid: str) -> None:
        """Give up the consultation and return to the caller (AMI CancelAtxfer: Asterisk's atxferabort)."""
        call, channel = await self._own_call(user, linkedid)
        if call.consulting is None:
            raise NoConsultation()
        action = {"Action": "CancelAtxfer", "Channel": channel}
        await self._send(action, linkedid, "L'annulation du transfert a échoué.")
        log.info("attended transfer cancelled linkedid=%s (%s) by %s", linkedid, call.consulting, user.login)

    async def _send(self, action: dict[str, str], linkedid: str, message: str) -> None:
        try:
            await self._ami.send(action)
        except Exception as exc:
            log.error("%s refused linkedid=%s: %s", action["Action"], linkedid, exc)
            raise TransferFailed(message) from None
