"""Call qualification by the advisor desk (qualification columns of `call_records`) and caller history.

`save` checks the qualification against the desk settings (topics, sub-topics, partners, note length)
and the database (the call, its advisor, the commune, the service), then writes the qualification
columns only: the PBX facts belong to `storage.calls`. The same qualification saved twice changes
nothing; a different one replaces it (the advisor corrects) and sets `qualified_at` anew.
Error messages are French: the desk shows them as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from config.settings import DeskSettings
from screenpop.models import OUTCOME_LABELS, Outcome, Role, User
from storage.calls import APPLY_PENDING, QUALIFICATION_COLUMNS
from storage.knowledge.loop import LoopRepository, UnusableArticle
from storage.services import Service, service_from_row

NOTE_DB_MAX = 2000  # call_records.note's CHECK (migration 0001): a larger note_max is capped to it
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")

# -- errors ------------------------------------------------------------------------------------------


class QualificationError(Exception):
    """A qualification refused; the message (French) says why, `error_id` is stable."""

    error_id = "qualification-error"


class UnknownCall(QualificationError):
    error_id = "unknown-call"


class NotYourCall(QualificationError):
    error_id = "not-your-call"


class UnknownTopic(QualificationError):
    error_id = "unknown-topic"


class UnknownSubtopic(QualificationError):
    error_id = "unknown-subtopic"


class UnknownCommune(QualificationError):
    error_id = "unknown-commune"


class UnknownService(QualificationError):
    error_id = "unknown-service"


class MissingTransferService(QualificationError):
    error_id = "missing-transfer-service"


class UnknownPartner(QualificationError):
    error_id = "unknown-partner"


class NoteTooLong(QualificationError):
    error_id = "note-too-long"


class UnknownArticle(QualificationError):
    error_id = "unknown-article"


# -- models ------------------------------------------------------------------------------------------


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class Qualification(BaseModel):
    """What the advisor says about a call (the desk's form)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    topic: str = Field(min_length=1, max_length=40)
    subtopic: str | None = Field(default=None, max_length=40)
    outcome: Outcome
    transfer_service_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    partner: str | None = Field(default=None, max_length=40)
    callback_requested: bool = False
    callback_slot: str | None = Field(default=None, max_length=80)
    commune_insee: str | None = Field(default=None, pattern=r"^[0-9][0-9AB][0-9]{3}$")
    note: str | None = None  # at most DeskSettings.note_max (and 2000) characters: checked by the repository
    # the knowledge base (storage.knowledge.loop): the published articles used to answer, or « pas de réponse
    # trouvée » with the question in a few words
    articles_used: tuple[int, ...] = Field(default=(), max_length=10)
    no_answer_question: str | None = Field(default=None, min_length=3, max_length=200)

    @field_validator("subtopic", "partner", "callback_slot", "commune_insee", "no_answer_question", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("callback_slot", "no_answer_question")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else " ".join(_CONTROL.sub(" ", value).split()) or None

    @field_validator("note", mode="before")
    @classmethod
    def _clean_note(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
        return text or None

    @model_validator(mode="after")
    def _slot_needs_callback(self) -> Qualification:
        if self.callback_slot is not None and not self.callback_requested:
            raise ValueError("un créneau de rappel est donné sans demande de rappel")
        if self.no_answer_question is not None and self.articles_used:
            raise ValueError("« pas de réponse trouvée » et des articles utilisés : choisissez l'un ou l'autre")
        if any(a < 1 for a in self.articles_used):
            raise ValueError("numéro d'article invalide")
        return self


class CallRecordView(BaseModel):
    """A call as the desk shows it after qualification."""

    model_config = ConfigDict(frozen=True)

    linkedid: str
    caller_number: str | None
    arrived_at: AwareDatetime
    status: str
    advisor_interface: str | None
    advisor_name: str | None
    topic: str | None
    subtopic: str | None
    outcome: Outcome | None
    transfer_service_id: int | None
    transfer_service: str | None
    partner: str | None
    callback_requested: bool | None
    callback_slot: str | None
    commune_insee: str | None
    note: str | None
    qualified_at: AwareDatetime | None
    qualified_by: str | None
    changed: bool = False  # this save changed the stored qualification


class PendingQualification(BaseModel):
    """A qualification saved while its call is in progress: it joins the call's record when the record is
    written (at the end of the call, or when the service the call was transferred to hangs up)."""

    model_config = ConfigDict(frozen=True)

    linkedid: str
    qualified_by: str


class OpenCallback(BaseModel):
    """A callback asked for on one of the caller's calls, with no answered call from that number since."""

    model_config = ConfigDict(frozen=True)

    linkedid: str
    requested_at: AwareDatetime
    topic_label: str | None
    slot: str | None


class HistoryItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    linkedid: str
    date: AwareDatetime
    status: str
    topic: str | None
    topic_label: str | None
    subtopic_label: str | None
    outcome: Outcome | None
    outcome_label: str | None
    advisor_name: str | None
    commune_insee: str | None
    note: str | None


# -- SQL ---------------------------------------------------------------------------------------------

_VIEW = (
    "linkedid, caller_number, arrived_at, status, advisor_interface, advisor_name, "
    + ", ".join(QUALIFICATION_COLUMNS)
    + ", qualified_at, qualified_by"
)
_LOCK = f"SELECT {_VIEW} FROM call_records WHERE linkedid = $1 FOR UPDATE"  # noqa: S608
_TYPES = ("text", "text", "text", "bigint", "text", "text", "boolean", "text", "bpchar", "text")
_SAVE = f"""
UPDATE call_records AS cr SET
    {", ".join(f"{c} = ${i}" for i, c in enumerate(QUALIFICATION_COLUMNS, start=2))},
    qualified_at = now(), qualified_by = ${len(QUALIFICATION_COLUMNS) + 2}, updated_at = now()
WHERE linkedid = $1
  AND ({", ".join(f"cr.{c}" for c in QUALIFICATION_COLUMNS)})
      IS DISTINCT FROM ({", ".join(f"${i}::{t}" for i, t in enumerate(_TYPES, start=2))})
RETURNING {_VIEW}
"""  # noqa: S608 - fixed column names, values are parameters

_PENDING = f"""
INSERT INTO pending_qualifications (linkedid, advisor_interface, {", ".join(QUALIFICATION_COLUMNS)}, qualified_by)
VALUES ($1, $2, {", ".join(f"${i}" for i in range(3, len(QUALIFICATION_COLUMNS) + 4))})
ON CONFLICT (linkedid) DO UPDATE SET
    advisor_interface = EXCLUDED.advisor_interface,
    {", ".join(f"{c} = EXCLUDED.{c}" for c in QUALIFICATION_COLUMNS)},
    qualified_at = now(), qualified_by = EXCLUDED.qualified_by
"""  # noqa: S608 - fixed column names, values are parameters

_HISTORY = """
SELECT cr.linkedid, cr.arrived_at, cr.status, cr.topic, cr.subtopic, cr.outcome, cr.commune_insee, cr.note,
       COALESCE(a.name, cr.advisor_name) AS advisor_name
FROM call_records AS cr
LEFT JOIN advisors AS a ON a.interface = cr.advisor_interface
WHERE cr.caller_number = $1 AND (cr.qualified_at IS NOT NULL OR cr.status = 'answered')
ORDER BY cr.arrived_at DESC, cr.linkedid DESC
LIMIT $2
"""

# $1 caller number, then the limit: $2 here, $3 in _CALLER
_OPEN_CALLBACKS_OF = """
SELECT cr.linkedid, cr.arrived_at, cr.topic, cr.callback_slot
FROM call_records AS cr
WHERE cr.caller_number = $1 AND cr.callback_requested
  AND NOT EXISTS (
      SELECT 1 FROM call_records AS later
      WHERE later.caller_number = cr.caller_number AND later.status = 'answered'
        AND later.arrived_at > cr.arrived_at
  )
ORDER BY cr.arrived_at DESC, cr.linkedid DESC
LIMIT ${limit}
"""
_OPEN_CALLBACKS = _OPEN_CALLBACKS_OF.format(limit=2)

_LAST_COMMUNE = """
SELECT commune_insee FROM call_records
WHERE caller_number = $1 AND commune_insee IS NOT NULL
ORDER BY arrived_at DESC LIMIT 1
"""

# A screen pop's facts in one round trip: the caller's history ($1 number, $2 limit), their latest commune with
# its name, and the open callbacks ($3 limit; as JSON, latest first): one row even without history (history
# columns NULL then).
_CALLER = f"""
SELECT l.commune_insee AS last_commune, c.name AS last_commune_name,
       (SELECT json_agg(json_build_object('linkedid', cb.linkedid, 'arrived_at', cb.arrived_at, 'topic', cb.topic,
                                          'callback_slot', cb.callback_slot)
                        ORDER BY cb.arrived_at DESC, cb.linkedid DESC)
        FROM ({_OPEN_CALLBACKS_OF.format(limit=3)}) AS cb) AS open_callbacks,
       h.*
FROM (SELECT 1) AS one
LEFT JOIN LATERAL ({_LAST_COMMUNE}) AS l ON true
LEFT JOIN communes AS c ON c.code_insee = l.commune_insee
LEFT JOIN LATERAL ({_HISTORY}) AS h ON true
ORDER BY h.arrived_at DESC, h.linkedid DESC
"""  # noqa: S608 (constants only)


@dataclass(frozen=True)
class CallerFacts:
    history: list[HistoryItem]  # latest first
    commune: tuple[str, str] | None  # (INSEE code, name) of the latest commune given, when it is a known one
    open_callbacks: list[OpenCallback]  # latest first


def _view(row: asyncpg.Record, changed: bool) -> CallRecordView:
    return CallRecordView.model_validate({**dict(row), "changed": changed})


class QualificationRepository:
    def __init__(self, pool: asyncpg.Pool, desk: DeskSettings) -> None:
        self._pool = pool
        self._desk = desk

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
        call in progress (its record not written yet), the interface of the advisor who answered it, as the
        live events tell (None: not known to be in progress): the qualification then waits for the record
        (`PendingQualification`). Raises a `QualificationError` (nothing written) when refused."""
        self._check_lists(q)
        async with self._pool.acquire() as conn:
            saved = await self._save(conn, linkedid, q, user, advisor_interface, taken_by)
            if isinstance(saved, PendingQualification):
                # the record may have been committed meanwhile, its writer looking for this before it existed
                await conn.execute(APPLY_PENDING, [linkedid])
            return saved

    async def _save(
        self,
        conn: asyncpg.Connection,
        linkedid: str,
        q: Qualification,
        user: User,
        advisor_interface: str | None,
        taken_by: str | None,
    ) -> CallRecordView | PendingQualification:
        async with conn.transaction():
            call = await conn.fetchrow(_LOCK, linkedid)
            if call is None and taken_by is None:
                raise UnknownCall(f"appel {linkedid} inconnu")
            owner = taken_by if call is None else call["advisor_interface"]
            if user.role not in (Role.SUPERVISOR, Role.ADMIN) and (
                advisor_interface is None or owner != advisor_interface
            ):
                raise NotYourCall("cet appel a été pris par un autre conseiller : seul lui peut le qualifier")
            if q.commune_insee is not None and not await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM communes WHERE code_insee = $1)", q.commune_insee
            ):
                raise UnknownCommune(f"commune {q.commune_insee} inconnue (code INSEE)")
            service_name = None
            if q.transfer_service_id is not None:
                service = await self._service(conn, q.transfer_service_id)
                if service is None or not service.active:
                    raise UnknownService(f"service n° {q.transfer_service_id} inconnu ou désactivé")
                service_name = service.name
            values = (
                q.topic,
                q.subtopic,
                q.outcome.value,
                q.transfer_service_id,
                service_name,
                q.partner,
                q.callback_requested,
                q.callback_slot,
                q.commune_insee,
                q.note,
            )
            await self._record_knowledge(conn, linkedid, q, user)
            if call is None:
                await conn.execute(_PENDING, linkedid, owner, *values, user.login)
                return PendingQualification(linkedid=linkedid, qualified_by=user.login)
            # an older qualification still waiting (a crash before it joined) must not overwrite this one later
            await conn.execute("DELETE FROM pending_qualifications WHERE linkedid = $1", linkedid)
            row = await conn.fetchrow(_SAVE, linkedid, *values, user.login)
            return _view(call, False) if row is None else _view(row, True)

    @staticmethod
    async def _record_knowledge(conn: asyncpg.Connection, linkedid: str, q: Qualification, user: User) -> None:
        """The articles used or the question left without an answer (keyed by linkedid, in this transaction)."""
        try:
            await LoopRepository.record_call(
                conn, linkedid, q.articles_used, q.no_answer_question, q.topic, q.subtopic, user.login
            )
        except UnusableArticle as exc:
            raise UnknownArticle(f"article(s) inconnu(s) ou non publié(s) : {exc}") from None

    async def history(self, caller_number: str, limit: int | None = None) -> list[HistoryItem]:
        """The caller's answered or qualified calls, latest first (at most `limit`, default `history_size`)."""
        size = self._desk.history_size if limit is None else max(1, min(limit, 100))
        rows = await self._pool.fetch(_HISTORY, caller_number, size)
        return [self._history_item(r) for r in rows]

    async def open_callbacks(self, caller_number: str, limit: int = 10) -> list[OpenCallback]:
        """Callbacks still owed to this number, latest first: asked for on a call, and no call from the number
        was answered since (the callback issue will add explicit closing by the advisor who calls back)."""
        rows = await self._pool.fetch(_OPEN_CALLBACKS, caller_number, max(1, min(limit, 100)))
        return [self._open_callback(r) for r in rows]

    async def caller_facts(self, caller_number: str, limit: int | None = None, callbacks: int = 10) -> CallerFacts:
        """`history`, `last_commune` (with the commune's name) and `open_callbacks` in one query, for a pop."""
        size = self._desk.history_size if limit is None else max(1, min(limit, 100))
        rows = await self._pool.fetch(_CALLER, caller_number, size, max(1, min(callbacks, 100)))
        first = rows[0]
        commune = (first["last_commune"], first["last_commune_name"]) if first["last_commune_name"] else None
        return CallerFacts(
            [self._history_item(r) for r in rows if r["linkedid"] is not None],
            commune,
            [self._open_callback(c) for c in first["open_callbacks"] or ()],
        )

    async def last_commune(self, caller_number: str) -> str | None:
        """The commune given on the caller's latest call that had one."""
        value = await self._pool.fetchval(_LAST_COMMUNE, caller_number)
        return None if value is None else str(value)

    # -- helpers ---------------------------------------------------------------------------------

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
        if q.partner is not None and q.partner not in self._desk.partners:
            raise UnknownPartner(
                f"partenaire « {q.partner} » inconnu ; possibles : {', '.join(self._desk.partners.values())}"
            )
        if q.outcome is Outcome.PARTNER_CONTACT and q.partner is None:
            raise UnknownPartner("indiquez le partenaire dont les coordonnées ont été données")
        note_max = min(self._desk.note_max, NOTE_DB_MAX)
        if q.note is not None and len(q.note) > note_max:
            raise NoteTooLong(f"la note fait {len(q.note)} caractères ; {note_max} au plus")

    @staticmethod
    async def _service(conn: asyncpg.Connection, service_id: int) -> Service | None:
        row = await conn.fetchrow(
            "SELECT id, name, extension, topics, hours::text AS hours, active FROM services WHERE id = $1", service_id
        )
        return None if row is None else service_from_row(row)

    def _open_callback(self, row: Mapping[str, Any]) -> OpenCallback:
        """From a row of `_OPEN_CALLBACKS_OF` (a record, or its JSON object in `_CALLER`)."""
        return OpenCallback.model_validate(
            {
                "linkedid": row["linkedid"],
                "requested_at": row["arrived_at"],
                "topic_label": self._topic_label(row["topic"]),
                "slot": row["callback_slot"],
            }
        )

    def _topic_label(self, topic: str | None) -> str | None:
        if topic is None:
            return None
        known = self._desk.topics.get(topic)
        return known.label if known else topic

    def _history_item(self, row: asyncpg.Record) -> HistoryItem:
        topic = self._desk.topics.get(row["topic"]) if row["topic"] else None
        outcome = _outcome(row["outcome"])
        return HistoryItem(
            linkedid=row["linkedid"],
            date=row["arrived_at"],
            status=row["status"],
            topic=row["topic"],
            topic_label=topic.label if topic else row["topic"],
            subtopic_label=(topic.subtopics.get(row["subtopic"], row["subtopic"]) if topic else row["subtopic"])
            if row["subtopic"]
            else None,
            outcome=outcome,
            outcome_label=None if outcome is None else OUTCOME_LABELS[outcome],
            advisor_name=row["advisor_name"],
            commune_insee=row["commune_insee"],
            note=row["note"],
        )


def _outcome(value: str | None) -> Outcome | None:
    try:
        return None if value is None else Outcome(value)
    except ValueError:
        return None
