"""Qualification of calls, caller history and the services directory, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from pydantic import ValidationError

from config.settings import DeskSettings, OpeningHours, Settings
from screenpop.callbacks.models import AttemptIn, CancelIn
from screenpop.callbacks.service import CallbackService
from screenpop.calls.errors import (
    AmbiguousCommune,
    MissingTransferService,
    NoteTooLong,
    NotYourCall,
    QualificationError,
    UnknownCall,
    UnknownCommune,
    UnknownPartner,
    UnknownService,
    UnknownSubtopic,
    UnknownTopic,
)
from screenpop.calls.models import CallerFacts, CallRecordView, PendingQualification, Qualification
from screenpop.calls.service import QualificationService
from screenpop.directory.service import service_open
from screenpop.pops.models import CallerContext
from screenpop.pops.service import context_lookup
from storage.calls import CallRecordRepository
from storage.communes import ensure_communes
from storage.services import (
    DuplicateServiceName,
    InvalidExtension,
    InvalidHours,
    Service,
    ServiceRepository,
    UnknownServiceId,
    UnknownServiceTopic,
)
from storage.users import Role, User
from telephony.records import CallRecord, Outcome
from tests.fixtures_db import T0, fresh_database, make_record, migrated_pool

__all__ = ["fresh_database", "migrated_pool"]

DESK = DeskSettings()
ALICE = User(id=1, login="alice", name="Alice Martin", role=Role.ADVISOR, advisor_id=None)
SUPER = User(id=2, login="sup", name="Sam Sup", role=Role.SUPERVISOR)
ADV1 = "PJSIP/adv1"


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await ensure_communes(migrated_pool)
    # callbacks too: a callback is found by its call's linkedid, and the tests reuse them
    await migrated_pool.execute("TRUNCATE organisations, advisors, callbacks RESTART IDENTITY CASCADE")
    await migrated_pool.execute(
        "INSERT INTO advisors (login, name, interface) "
        "VALUES ('alice', 'Alice Martin', $1), ('bob', 'Bob', 'PJSIP/adv2')",
        ADV1,
    )
    return migrated_pool


async def organisation(pool: asyncpg.Pool, name: str, kind: str = "caf", active: bool = True) -> int:
    """An organisation of the directory (migration 0010), as a partner given."""
    return int(
        await pool.fetchval(
            "INSERT INTO organisations (kind, name, owner, active) VALUES ($1, $2, 'admin', $3) RETURNING id",
            kind,
            name,
            active,
        )
    )


@pytest.fixture
async def repo(pool: asyncpg.Pool) -> QualificationService:
    await CallRecordRepository(pool).upsert(make_record("100.1"))
    return QualificationService(pool, DESK)  # the rules, over storage.qualification's SQL


def qual(**changes: Any) -> Qualification:
    base: dict[str, Any] = {"topic": "disability", "subtopic": "mdph_file", "outcome": "advice"}
    base.update(changes)
    return Qualification.model_validate(base)


async def saved(repo: QualificationService, *args: Any) -> CallRecordView:
    """`repo.save` of a call whose record exists."""
    view = await repo.save(*args)
    assert isinstance(view, CallRecordView), view
    return view


async def facts(pool: asyncpg.Pool, linkedid: str = "100.1") -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM call_records WHERE linkedid = $1", linkedid)
    assert row is not None
    return {k: v for k, v in dict(row).items() if k in CallRecord.model_fields}


async def test_save_writes_the_qualification(repo: QualificationService, pool: asyncpg.Pool) -> None:
    view = await saved(repo, "100.1", qual(commune_insee="62041", note="Dossier\r\nen cours\x07"), ALICE, ADV1)
    assert view.changed
    assert (view.topic, view.subtopic, view.outcome) == ("disability", "mdph_file", Outcome.ADVICE)
    assert view.commune_insee == "62041"
    assert view.note == "Dossier\nen cours"
    assert view.qualified_by == "alice"
    assert view.qualified_at is not None
    assert view.arrived_at == T0


async def test_double_submit_is_idempotent_and_a_correction_updates(
    repo: QualificationService, pool: asyncpg.Pool
) -> None:
    first = await saved(repo, "100.1", qual(), ALICE, ADV1)
    again = await saved(repo, "100.1", qual(), ALICE, ADV1)
    assert not again.changed
    assert again.model_copy(update={"changed": True}) == first
    corrected = await saved(repo, "100.1", qual(outcome="immediate_answer", subtopic=None), ALICE, ADV1)
    assert corrected.changed
    assert corrected.outcome is Outcome.IMMEDIATE_ANSWER and corrected.subtopic is None
    assert corrected.qualified_at is not None and first.qualified_at is not None
    assert corrected.qualified_at >= first.qualified_at


async def test_pbx_facts_untouched(repo: QualificationService, pool: asyncpg.Pool) -> None:
    before = await facts(pool)
    service = await ServiceRepository(pool).add("MDPH accueil", "4501")
    mdph = await organisation(pool, "MDPH du Pas-de-Calais", "mdph")
    await repo.save(
        "100.1",
        qual(
            outcome="transfer",
            transfer_service_id=service.id,
            callback_requested=True,
            callback_slot="demain matin",
            partner_id=mdph,
            commune_insee="62119",
            note="n",
        ),
        ALICE,
        ADV1,
    )
    assert await facts(pool) == before
    # and the PBX upsert does not undo the qualification
    await CallRecordRepository(pool).upsert(make_record("100.1", talk_seconds=181.0))
    row = await pool.fetchrow("SELECT transfer_service, transfer_service_id, partner, partner_id FROM call_records")
    assert tuple(row) == ("MDPH accueil", service.id, "MDPH du Pas-de-Calais", mdph)


ERRORS: list[tuple[str, dict[str, Any], type[QualificationError]]] = [
    ("topic", {"topic": "astrology"}, UnknownTopic),
    ("subtopic", {"subtopic": "canteen"}, UnknownSubtopic),
    ("subtopic of a topic without any", {"topic": "other", "subtopic": "x"}, UnknownSubtopic),
    ("commune", {"commune_insee": "99999"}, UnknownCommune),
    ("service", {"outcome": "transfer", "transfer_service_id": 999}, UnknownService),
    ("transfer without service", {"outcome": "transfer"}, MissingTransferService),
    ("partner contact without partner", {"outcome": "partner_contact"}, UnknownPartner),
    ("unknown partner", {"outcome": "partner_contact", "partner_id": 999_999}, UnknownPartner),
    ("a commune typed and not found", {"commune": "Atlantide"}, UnknownCommune),
    ("a commune name of several communes", {"commune": "Saint-Martin"}, AmbiguousCommune),
    ("a postal code of several communes", {"commune": "62170"}, AmbiguousCommune),
    ("note", {"note": "x" * (DESK.note_max + 1)}, NoteTooLong),
]


@pytest.mark.parametrize(("case", "changes", "error"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_refused(
    repo: QualificationService,
    pool: asyncpg.Pool,
    case: str,
    changes: dict[str, Any],
    error: type[QualificationError],
) -> None:
    before = await pool.fetchrow("SELECT * FROM call_records")
    with pytest.raises(error) as caught:
        await repo.save("100.1", qual(**changes), ALICE, ADV1)
    assert caught.value.error_id == error.error_id
    assert str(caught.value)  # a French message
    assert await pool.fetchrow("SELECT * FROM call_records") == before


async def test_a_deactivated_partner_is_refused(repo: QualificationService, pool: asyncpg.Pool) -> None:
    old = await organisation(pool, "CAF (ancienne adresse)", active=False)
    with pytest.raises(UnknownPartner, match="désactivé"):
        await repo.save("100.1", qual(outcome="partner_contact", partner_id=old), ALICE, ADV1)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("arras", "62041"),  # a name typed in full, not picked: the one commune of that name
        ("  SAINT-OMER ", "62765"),
        ("st omer", "62765"),  # « st » read « saint »
        ("62100", "62193"),  # a postal code of one commune (Calais; 62100 is also an INSEE code: Beaurainville)
        ("Fleury", "62339"),  # seven communes of that name in France, one in the Pas-de-Calais
    ],
)
async def test_a_commune_typed_and_not_picked_is_resolved_when_it_designates_one(
    repo: QualificationService, typed: str, code: str
) -> None:
    view = await saved(repo, "100.1", qual(commune=typed), ALICE, ADV1)
    assert view.commune_insee == code


async def test_a_commune_picked_wins_over_the_text(repo: QualificationService) -> None:
    view = await saved(repo, "100.1", qual(commune_insee="62041", commune="Saint-Martin"), ALICE, ADV1)
    assert view.commune_insee == "62041"


async def test_note_at_the_limit_is_accepted(repo: QualificationService) -> None:
    assert (await saved(repo, "100.1", qual(note="é" * DESK.note_max), ALICE, ADV1)).note == "é" * DESK.note_max


async def test_inactive_service_is_refused(repo: QualificationService, pool: asyncpg.Pool) -> None:
    services = ServiceRepository(pool)
    service = await services.add("Routes", "4600")
    await services.update(service.id, active=False)
    with pytest.raises(UnknownService):
        await repo.save("100.1", qual(outcome="transfer", transfer_service_id=service.id), ALICE, ADV1)


async def test_unknown_call(repo: QualificationService) -> None:
    with pytest.raises(UnknownCall):
        await repo.save("999.9", qual(), ALICE, ADV1)


async def qualification_of(pool: asyncpg.Pool, linkedid: str) -> tuple[Any, ...]:
    row = await pool.fetchrow(
        "SELECT topic, outcome, commune_insee, note, qualified_by, qualified_at IS NOT NULL AS qualified"
        " FROM call_records WHERE linkedid = $1",
        linkedid,
    )
    assert row is not None
    return tuple(row)


@pytest.mark.parametrize("batch", [False, True], ids=["one_record", "a_batch"])
async def test_a_call_in_progress_is_qualified_when_its_record_is_written(
    repo: QualificationService, pool: asyncpg.Pool, batch: bool
) -> None:
    """Saved during the call (or after a transfer, the service still talking): the record does not exist yet;
    the qualification waits, and joins the record in the transaction that writes it, by either path of the
    writer. Saved again meanwhile: the latest wins. The record's PBX facts are its own."""
    first = await repo.save("300.1", qual(note="premier jet"), ALICE, ADV1, ADV1)
    assert first == PendingQualification(linkedid="300.1", qualified_by="alice")
    await repo.save("300.1", qual(commune_insee="62041", note="Dossier APA"), ALICE, ADV1, ADV1)
    assert await pool.fetchval("SELECT count(*) FROM call_records WHERE linkedid = '300.1'") == 0
    record = make_record("300.1", advisor_interface=ADV1)
    records = CallRecordRepository(pool)
    if batch:
        await records.upsert_many([make_record("300.2"), record])
    else:
        await records.upsert(record)
    assert await qualification_of(pool, "300.1") == ("disability", "advice", "62041", "Dossier APA", "alice", True)
    if batch:  # the other record of the batch has none
        assert await qualification_of(pool, "300.2") == (None, None, None, None, None, False)
    assert await pool.fetchval("SELECT count(*) FROM pending_qualifications") == 0
    later = record.model_copy(update={"talk_ended_at": record.ended_at - timedelta(seconds=1)})
    assert await records.upsert(later)  # a later version of the facts
    assert (await qualification_of(pool, "300.1"))[3] == "Dossier APA"  # the qualification stays
    assert (await saved(repo, "300.1", qual(note="corrigé"), ALICE, ADV1, ADV1)).note == "corrigé"  # now in place


async def test_a_qualification_saved_as_the_record_is_written_is_never_lost(
    repo: QualificationService, pool: asyncpg.Pool
) -> None:
    """The save and the record's writing race (the call ends as the advisor clicks): each side commits its row,
    then looks for the other's, so whichever comes second joins them and no qualification is left waiting."""
    records = CallRecordRepository(pool)
    ids = [f"400.{i}" for i in range(40)]

    async def both(linkedid: str) -> None:
        await asyncio.gather(
            repo.save(linkedid, qual(note=linkedid), ALICE, ADV1, ADV1),
            records.upsert(make_record(linkedid, advisor_interface=ADV1)),
        )

    await asyncio.gather(*(both(i) for i in ids))
    assert await pool.fetchval("SELECT count(*) FROM pending_qualifications") == 0
    notes = await pool.fetch("SELECT linkedid, note FROM call_records WHERE linkedid = ANY($1)", ids)
    assert sorted((r["linkedid"], r["note"]) for r in notes) == sorted((i, i) for i in ids)


async def test_a_call_in_progress_is_refused_to_another_advisor_and_unknown_calls_stay_unknown(
    repo: QualificationService, pool: asyncpg.Pool
) -> None:
    with pytest.raises(NotYourCall):
        await repo.save("300.3", qual(), ALICE, ADV1, "PJSIP/adv2")  # bob's call in progress
    with pytest.raises(UnknownCall):
        await repo.save("300.4", qual(), ALICE, ADV1, None)  # neither recorded nor in progress
    with pytest.raises(UnknownCommune):
        await repo.save("300.3", qual(commune_insee="99999"), ALICE, ADV1, ADV1)  # checked as for a record
    assert await pool.fetchval("SELECT count(*) FROM pending_qualifications") == 0
    assert isinstance(await repo.save("300.3", qual(), SUPER, None, "PJSIP/adv2"), PendingQualification)


async def test_not_your_call(repo: QualificationService, pool: asyncpg.Pool) -> None:
    before = await pool.fetchrow("SELECT * FROM call_records")
    for interface in ("PJSIP/adv2", None):
        with pytest.raises(NotYourCall):
            await repo.save("100.1", qual(), ALICE, interface)
    await CallRecordRepository(pool).upsert(
        make_record("100.2", advisor_interface=None, answered_at=None, status="abandoned")
    )
    with pytest.raises(NotYourCall):
        await repo.save("100.2", qual(), ALICE, ADV1)
    assert await pool.fetchrow("SELECT * FROM call_records WHERE linkedid = '100.1'") == before
    # a supervisor (or admin) qualifies any call
    assert (await saved(repo, "100.1", qual(), SUPER, None)).qualified_by == "sup"
    admin = SUPER.model_copy(update={"role": Role.ADMIN, "login": "root"})
    assert (await saved(repo, "100.2", qual(), admin, None)).qualified_by == "root"


@pytest.mark.parametrize(
    "data",
    [
        {"topic": "health", "outcome": "teleportation"},
        {"topic": "health"},
        {"topic": "", "outcome": "advice"},
        {"topic": "health", "outcome": "advice", "callback_slot": "x" * 81, "callback_requested": True},
        {"topic": "health", "outcome": "advice", "callback_slot": "lundi"},
        {"topic": "health", "outcome": "advice", "commune_insee": "6204"},
        {"topic": "health", "outcome": "advice", "extra": 1},
    ],
)
def test_model_refuses(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Qualification.model_validate(data)


def test_model_cleans() -> None:
    q = Qualification.model_validate(
        {"topic": " health ", "outcome": "advice", "subtopic": "", "note": "  \x00\x1b[31m ", "commune": " \t"}
    )
    assert (q.topic, q.subtopic, q.note, q.commune) == ("health", None, "[31m", None)
    assert Qualification.model_validate({"topic": "health", "outcome": "advice", "note": "\t\n"}).note is None


async def test_history_latest_first_with_labels(repo: QualificationService, pool: asyncpg.Pool) -> None:
    calls = CallRecordRepository(pool)
    for i, status in enumerate(["answered", "abandoned", "answered"], start=1):
        changes: dict[str, Any] = {"arrived_at": T0 + timedelta(days=i), "ended_at": T0 + timedelta(days=i, minutes=5)}
        if status == "abandoned":
            changes.update(status="abandoned", answered_at=None, advisor_interface=None, advisor_name=None)
        await calls.upsert(make_record(f"20{i}.1", **changes))
    await calls.upsert(make_record("300.1", caller_number="+33700000000"))
    await repo.save("201.1", qual(commune_insee="62041", note="premier"), ALICE, ADV1)
    caf = await organisation(pool, "CAF du Pas-de-Calais")
    await repo.save(
        "203.1", qual(topic="health", subtopic=None, outcome="partner_contact", partner_id=caf), ALICE, ADV1
    )

    items = await repo.history("+33612345678")
    assert [i.linkedid for i in items] == ["203.1", "201.1", "100.1"]  # the abandoned, unqualified call is left out
    assert (items[0].topic_label, items[0].outcome_label, items[0].subtopic_label) == (
        "Santé",
        "Coordonnées d'un partenaire",
        None,
    )
    assert (items[1].topic_label, items[1].subtopic_label, items[1].outcome_label) == (
        "Handicap",
        "Dossier MDPH",
        "Conseil, orientation",
    )
    assert items[1].note == "premier"
    assert (items[0].partner_label, items[1].partner_label) == ("CAF du Pas-de-Calais", None)
    assert items[1].advisor_name == "Alice Martin"  # from advisors, by interface
    assert items[2].topic_label is None and items[2].outcome_label is None
    assert [i.linkedid for i in await repo.history("+33612345678", limit=1)] == ["203.1"]
    assert await repo.history("+33100000000") == []

    assert await repo.last_commune("+33612345678") == "62041"
    assert await repo.last_commune("+33700000000") is None
    # the pop's single query says the same
    assert await repo.caller_facts("+33612345678") == CallerFacts(items, ("62041", "Arras"), [], ("62000",))
    assert (await repo.caller_facts("+33612345678", limit=1)).history == items[:1]
    assert await repo.caller_facts("+33700000000") == CallerFacts(await repo.history("+33700000000"), None, [])
    assert await repo.caller_facts("+33100000000") == CallerFacts([], None, [])
    # a record qualified before migration 0012 named the partner by a key of the settings' former list
    await pool.execute("UPDATE call_records SET partner = 'caf', partner_id = NULL WHERE linkedid = '203.1'")
    assert (await repo.history("+33612345678"))[0].partner_label == "CAF"
    # a supervisor qualifies the abandoned call: it appears in the history
    await repo.save("202.1", qual(commune_insee="62119"), SUPER, None)
    assert [i.linkedid for i in await repo.history("+33612345678")] == ["203.1", "202.1", "201.1", "100.1"]
    assert await repo.last_commune("+33612345678") == "62119"


async def test_open_callbacks_are_the_open_ones_of_rappels(repo: QualificationService, pool: asyncpg.Pool) -> None:
    """The pop's « rappels en attente » are /rappels' open callbacks of the number's calls: closing one is an
    advisor's act there (an attempt that reached the citizen, or a cancellation), not the citizen calling again."""
    calls = CallRecordRepository(pool)
    callbacks = CallbackService(pool, Settings().hours, {})
    number = "+33612345678"
    # 100.1 (T0, answered) asks for a callback; 101.1 (T0 + 1 day, answered) asks for another one
    await repo.save(
        "100.1", qual(outcome="callback_needed", callback_requested=True, callback_slot="matin"), ALICE, ADV1
    )
    await calls.upsert(
        make_record("101.1", arrived_at=T0 + timedelta(days=1), ended_at=T0 + timedelta(days=1, minutes=3))
    )
    await repo.save("101.1", qual(topic="health", subtopic=None, callback_requested=True), ALICE, ADV1)
    ids = {r["linkedid"]: r["id"] for r in await pool.fetch("SELECT id, linkedid FROM callbacks")}
    # both are owed, latest call first, each with its callback's id (the desk links to /rappels#rappel-<id>)
    owed = await repo.open_callbacks(number)
    assert [(c.id, c.linkedid, c.topic_label, c.slot) for c in owed] == [
        (ids["101.1"], "101.1", "Santé", None),
        (ids["100.1"], "100.1", "Handicap", "matin"),
    ]
    assert owed[1].requested_at == T0  # when the call that asked came in
    assert (await repo.caller_facts(number)).open_callbacks == owed  # the pop's single query says the same

    # the citizen calls again and is answered: both stay open (the old rule closed them)
    await calls.upsert(make_record("103.1", arrived_at=T0 + timedelta(days=3)))
    assert [c.linkedid for c in await repo.open_callbacks(number)] == ["101.1", "100.1"]
    # an attempt that did not reach them leaves it open; one that did closes it (done) on /rappels
    await callbacks.attempt(ALICE, ids["100.1"], AttemptIn(result="sans_reponse"))
    assert [c.linkedid for c in await repo.open_callbacks(number)] == ["101.1", "100.1"]
    await callbacks.attempt(ALICE, ids["100.1"], AttemptIn(result="joint"))
    assert [c.linkedid for c in await repo.open_callbacks(number)] == ["101.1"]
    assert [c.linkedid for c in (await repo.caller_facts(number)).open_callbacks] == ["101.1"]
    # cancelled on /rappels: gone from the pop too
    await callbacks.cancel(ALICE, ids["101.1"], CancelIn(reason="Demande réglée à l'accueil"))
    assert await repo.open_callbacks(number) == []
    assert (await repo.caller_facts(number)).open_callbacks == []
    # a record with callback_requested but no callback (the former rule's only evidence) is no callback
    await pool.execute("UPDATE call_records SET callback_requested = true WHERE linkedid = '103.1'")
    assert await repo.open_callbacks(number) == []
    assert await repo.open_callbacks("+33100000000") == []


async def test_a_callback_belongs_to_its_record_s_number(repo: QualificationService, pool: asyncpg.Pool) -> None:
    """Asked for while the call was in progress, a callback has no number until its record exists: the record's
    number is the one its pop shows it for."""
    number = "+33612345000"
    await repo.save("300.1", qual(callback_requested=True), ALICE, ADV1, ADV1)  # pending: no record yet
    assert await pool.fetchval("SELECT caller_number FROM callbacks WHERE linkedid = '300.1'") is None
    assert await repo.open_callbacks(number) == []
    await CallRecordRepository(pool).upsert(make_record("300.1", caller_number=number))
    await pool.execute("UPDATE callbacks SET caller_number = '+33699999999' WHERE linkedid = '300.1'")  # not read
    assert [c.linkedid for c in await repo.open_callbacks(number)] == ["300.1"]
    assert [c.linkedid for c in (await repo.caller_facts(number)).open_callbacks] == ["300.1"]
    assert await repo.open_callbacks("+33699999999") == []


async def test_pop_context_carries_history_commune_and_open_callbacks(
    repo: QualificationService, pool: asyncpg.Pool
) -> None:
    await repo.save(
        "100.1", qual(commune_insee="62041", callback_requested=True, callback_slot="après 17 h"), ALICE, ADV1
    )
    context = await context_lookup(pool, DESK)("+33612345678", "")
    assert (context.commune, context.commune_code) == ("Arras (62000)", "62041")  # as people know it
    assert context.caller is None and context.organisation_history == ()
    # one HistoryItem for the pops and the history API (the pop showed "Handicap — Dossier MDPH" in one field)
    assert [(h.topic_label, h.subtopic_label, h.outcome_label, h.advisor_name) for h in context.history] == [
        ("Handicap", "Dossier MDPH", "Conseil, orientation", "Alice Martin")
    ]
    assert [(c.topic_label, c.slot) for c in context.open_callbacks] == [("Handicap", "après 17 h")]
    assert await context_lookup(pool, DESK)(None, "") == CallerContext()


async def test_a_town_hall_calling_pops_as_itself_with_its_commune_s_recent_calls(
    repo: QualificationService, pool: asyncpg.Pool
) -> None:
    """The directory knows the number: the pop names the town hall, gives its commune by name and postal code (for
    its partners), and the commune's recent calls: from the town hall's numbers and its CCAS's, not only this one."""

    async def org(kind: str, name: str, number: str, commune: str = "62498") -> int:
        organisation_id = await organisation(pool, name, kind)
        await pool.execute("UPDATE organisations SET commune_insee = $2 WHERE id = $1", organisation_id, commune)
        await pool.execute(
            "INSERT INTO organisation_phones (organisation_id, position, number) VALUES ($1, 0, $2)",
            organisation_id,
            number,
        )
        return organisation_id

    mairie = await org("town_hall", "Mairie de Lens", "+33353010010")
    await org("ccas", "CCAS de Lens", "+33353010011")
    await org("town_hall", "Mairie d'Arras", "+33353010012", "62041")
    calls = CallRecordRepository(pool)
    for linkedid, number, days in (("501.1", "+33353010011", 1), ("502.1", "+33353010010", 2),
                                   ("503.1", "+33353010012", 3), ("504.1", "+33600000000", 4)):  # fmt: skip
        await calls.upsert(make_record(linkedid, caller_number=number, arrived_at=T0 + timedelta(days=days)))
    await repo.save("501.1", qual(note="demande du CCAS"), ALICE, ADV1)
    kinds = dict(await pool.fetch("SELECT linkedid, caller_kind FROM call_records WHERE linkedid LIKE '50%'"))
    assert kinds == {"501.1": "partner", "502.1": "town_hall", "503.1": "town_hall", "504.1": "citizen"}  # 0010

    context = await context_lookup(pool, DESK)("+33353010010", "")
    assert context.caller is not None
    assert (context.caller.kind, context.caller.kind_label, context.caller.name) == (
        "town_hall",
        "Mairie",
        "Mairie de Lens",
    )
    assert context.caller.organisation_id == mairie
    assert (context.commune, context.commune_code) == ("Lens (62300)", "62498")
    assert [(c.linkedid, c.caller) for c in context.organisation_history] == [
        ("502.1", "Mairie de Lens"),
        ("501.1", "CCAS de Lens"),  # the commune's CCAS: its call is the commune's too
    ]  # not Arras's, nor a citizen's
    assert context.organisation_history[1].note == "demande du CCAS"
    assert [h.linkedid for h in context.history] == ["502.1"]  # the number's own history, as for anyone
    ccas = await context_lookup(pool, DESK)("+33353010011", "")  # a partner: its own calls, no commune of its own
    assert ccas.caller is not None and ccas.caller.kind == "partner"
    assert [c.linkedid for c in ccas.organisation_history] == ["501.1"]
    assert (await context_lookup(pool, DESK)("+33600000000", "")).caller is None


async def test_an_internal_service_calling_from_its_extension_pops_as_itself(
    repo: QualificationService, pool: asyncpg.Pool
) -> None:
    """An extension has no E.164 form: the directory still names the service (the record's classification, 0010,
    did; the pop did not), with its recent calls; a number nobody has, or a withheld one, stays a citizen."""
    service = int(
        await pool.fetchval(
            "INSERT INTO organisations (kind, name, owner, active, extension) "
            "VALUES ('service', 'Service des collèges', 'admin', true, '4321') RETURNING id"
        )
    )
    calls = CallRecordRepository(pool)
    await calls.upsert(make_record("601.1", caller_number=None, caller_number_raw="4321", caller_name=None))
    assert await pool.fetchval("SELECT caller_kind FROM call_records WHERE linkedid = '601.1'") == "internal"

    context = await context_lookup(pool, DESK)(None, " 4321 ")
    assert context.caller is not None
    assert (context.caller.kind, context.caller.name, context.caller.organisation_id) == (
        "internal",
        "Service des collèges",
        service,
    )
    assert [c.linkedid for c in context.organisation_history] == ["601.1"]
    assert context.history == () and context.commune is None
    assert await context_lookup(pool, DESK)(None, "9999") == CallerContext()  # an extension nobody has
    assert await context_lookup(pool, DESK)(None, "") == CallerContext()  # withheld
    assert await context_lookup(pool, DESK)(None, "0321;DROP") == CallerContext()  # not an extension: not looked up


# -- services ----------------------------------------------------------------------------------------


async def test_services_add_list_get_update(pool: asyncpg.Pool) -> None:
    services = ServiceRepository(pool, DESK.topics)
    mdph = await services.add("MDPH", "4501", ["disability"], {"mon": [["08:30", "12:00"], ["13:30", "17:00"]]})
    roads = await services.add("  Routes   départementales ", "46", ["roads"])
    assert roads.name == "Routes départementales" and roads.hours is None and roads.active
    assert mdph.hours is not None and mdph.hours["mon"] == (("08:30", "12:00"), ("13:30", "17:00"))
    assert mdph.hours["sun"] == ()
    assert [s.name for s in await services.list()] == ["MDPH", "Routes départementales"]
    assert await services.get(mdph.id) == mdph
    assert await services.get(12345) is None

    changed = await services.update(mdph.id, extension="4502", hours=None, active=False)
    assert (changed.extension, changed.hours, changed.active, changed.topics) == ("4502", None, False, ("disability",))
    assert [s.name for s in await services.list(active_only=True)] == ["Routes départementales"]
    assert (await services.update(mdph.id, name="MDPH 62")).hours is None  # hours unchanged when not given

    with pytest.raises(DuplicateServiceName):
        await services.add("Routes départementales", "47")
    with pytest.raises(DuplicateServiceName):
        await services.update(mdph.id, name="Routes départementales")
    with pytest.raises(InvalidExtension):
        await services.add("X", "1")
    with pytest.raises(InvalidExtension):
        await services.add("X", "12a")
    with pytest.raises(UnknownServiceTopic):
        await services.add("X", "12", ["astrology"])
    with pytest.raises(UnknownServiceId):
        await services.update(999, active=True)
    bad_hours: list[Any] = [{"lun": []}, {"mon": [["08:00", "08:00"]]}, {"mon": [["8h", "9h"]]}, {"mon": "08-17"}, [1]]
    for hours in bad_hours:
        with pytest.raises(InvalidHours):
            await services.add("X", "12", (), hours)
    assert len(await services.list()) == 2


PARIS_MONDAY = datetime(2025, 3, 17, 8, 0, tzinfo=UTC)  # 09:00 in Paris (UTC+1)


def is_open(service: Service, at: datetime, calendar: OpeningHours | None = None) -> bool:
    """A service's hours with the line's calendar (by default Europe/Paris, French public holidays)."""
    return service_open(service, at, calendar or OpeningHours())


@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        (None, PARIS_MONDAY, True),
        ({"mon": (("08:30", "17:00"),)}, PARIS_MONDAY, True),
        ({"mon": (("08:30", "17:00"),)}, PARIS_MONDAY - timedelta(minutes=31), False),  # 08:29 Paris
        ({"mon": (("08:30", "17:00"),)}, PARIS_MONDAY - timedelta(minutes=30), True),  # 08:30 Paris: open
        ({"mon": (("08:30", "17:00"),)}, PARIS_MONDAY + timedelta(hours=8), False),  # 17:00 Paris: closed
        ({"mon": (("08:30", "17:00"),)}, PARIS_MONDAY + timedelta(days=1), False),  # Tuesday
        ({"mon": (("08:30", "17:00"),)}, datetime(2025, 7, 7, 6, 45, tzinfo=UTC), True),  # 08:45 summer time
        ({"mon": (("08:30", "17:00"),)}, datetime(2025, 7, 14, 6, 45, tzinfo=UTC), False),  # Bastille Day
        (None, datetime(2025, 7, 14, 6, 45, tzinfo=UTC), True),  # always open: holidays too
        ({"mon": (("20:00", "24:00"),)}, datetime(2025, 3, 17, 22, 59, 59, tzinfo=UTC), True),  # 23:59:59
        ({"mon": (("22:00", "02:00"),)}, datetime(2025, 3, 18, 0, 30, tzinfo=UTC), True),  # Tuesday 01:30
        ({"mon": (("22:00", "02:00"),)}, datetime(2025, 3, 18, 1, 0, tzinfo=UTC), False),  # Tuesday 02:00
    ],
)
def test_is_open(hours: Any, at: datetime, expected: bool) -> None:
    service = Service(id=1, name="S", extension="12", topics=(), hours=hours, active=True)
    assert is_open(service, at) is expected


def test_is_open_with_the_line_s_calendar_and_exceptional_dates() -> None:
    monday = {"mon": (("08:30", "17:00"),)}
    closed = Service(id=1, name="S", extension="12", topics=(), hours=monday, active=True,
                     closed_dates=(date(2025, 3, 17),))  # fmt: skip
    assert not is_open(closed, PARIS_MONDAY)
    opened = Service(id=1, name="S", extension="12", topics=(), hours=monday, active=True,
                     open_dates=(date(2025, 7, 14),))  # fmt: skip
    assert is_open(opened, datetime(2025, 7, 14, 6, 45, tzinfo=UTC))
    # a line in another time zone: 08:00 UTC is 09:00 in Paris but 08:00 in London (before 08:30)
    london = OpeningHours(timezone="Europe/London", holidays_country="GB")
    assert not is_open(opened, PARIS_MONDAY, calendar=london)


def test_is_open_inactive_or_naive() -> None:
    service = Service(id=1, name="S", extension="12", topics=(), hours=None, active=False)
    assert not is_open(service, PARIS_MONDAY)
    with pytest.raises(ValueError, match="aware"):
        is_open(service, datetime(2025, 3, 17, 9))
