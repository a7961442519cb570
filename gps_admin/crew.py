"""The simulated crew: advisors played by the program, for `gps-admin demo` and `gps-admin simulate`.

They go through the running service as people at their desks would: they log in and make themselves available
through the router (presence commands over Redis), acknowledge every desk message they are sent, and after each
call take a wrap-up, either qualifying the call (a topic, an outcome, a commune of the Pas-de-Calais, sometimes a
partner of the directory whose contact was given, a note: the demo, or `simulate --qualify`) or not (load), before
ending it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis

from config.settings import Settings
from screenpop.calls.errors import QualificationError
from screenpop.calls.models import Qualification
from screenpop.calls.service import QualificationService
from screenpop.pops.models import DeskMessage
from screenpop.pops.service import acknowledge
from storage.directory import DirectoryStore
from storage.redis.commands import RedisRouterCommands
from storage.redis.names import desk_pattern
from storage.users import User
from telephony.ports import Command, RouterNotLeader
from telephony.presence import PresenceError

log = logging.getLogger(__name__)

NOTES = (
    "Explication du courrier reçu.",
    "Orientation vers le bon service.",
    "Démarche en ligne expliquée pas à pas.",
    "Pièces justificatives rappelées.",
    "L'usager rappellera après réception du dossier.",
)


@dataclass
class Crew:
    settings: Settings
    members: dict[int, User] = field(default_factory=dict)  # advisor id → the account each acts as
    rng: random.Random = field(default_factory=random.Random)
    _wrap_ups: set[asyncio.Task[None]] = field(default_factory=set)  # in progress, cancelled when the crew stops
    partners: list[int] = field(default_factory=list)  # the directory's partners whose contact they give

    async def command(self, redis: aioredis.Redis, advisor_id: int, what: Command) -> None:
        """A presence command to the service's router; retried while no router leads yet (it takes its lease at
        start), logged and dropped when refused."""
        for _ in range(30):
            try:
                await RedisRouterCommands(redis, self.settings.line.queue).send(advisor_id, what)
                return
            except (RouterNotLeader, TimeoutError):
                await asyncio.sleep(1)  # the router takes its lease at start
            except PresenceError as exc:
                log.info("demo advisor %d: %s", advisor_id, exc)
                return

    async def run(self, redis: aioredis.Redis, pool: asyncpg.Pool, *, qualify: bool = True) -> None:
        """Log in, become available, acknowledge the pops, qualify, end the wrap-up; until cancelled."""
        for advisor_id in self.members:
            await self.command(redis, advisor_id, "login")
            await self.command(redis, advisor_id, "available")
        try:
            await self._work(redis, pool, qualify)
        finally:
            for task in list(self._wrap_ups):
                task.cancel()
            for task in list(self._wrap_ups):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _work(self, redis: aioredis.Redis, pool: asyncpg.Pool, qualify: bool) -> None:
        qualification = QualificationService(pool, self.settings.desk)
        communes = [
            r["code_insee"] for r in await pool.fetch("SELECT code_insee FROM communes WHERE departement = '62'")
        ]
        # the partners they give callers the contact of (the demo's directory)
        self.partners = [e.id for e in await DirectoryStore(pool).list(active_only=True) if e.kind != "service"]
        me = asyncio.current_task()
        async with redis.pubsub() as pubsub:
            await pubsub.psubscribe(desk_pattern(redis))
            while me is None or not me.cancelling():  # redis-py's read can swallow a cancellation: poll
                raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if raw is None or raw.get("type") != "pmessage":
                    continue
                try:
                    message = DeskMessage.model_validate_json(raw["data"])
                except ValueError:
                    continue
                user = self.members.get(message.advisor_id)
                if user is None or message.type == "presence":
                    continue
                await acknowledge(redis, message.advisor_id, message.id)
                if message.type == "ended":
                    task = asyncio.create_task(
                        self._wrap_up(redis, qualification, communes, message, user, qualify), name="crew-wrap-up"
                    )
                    self._wrap_ups.add(task)
                    task.add_done_callback(self._wrap_ups.discard)

    async def _wrap_up(
        self,
        redis: aioredis.Redis,
        qualification: QualificationService,
        communes: list[str],
        message: DeskMessage,
        user: User,
        qualify: bool = True,
    ) -> None:
        r = self.rng
        if not qualify:  # load generation: a short wrap-up, nothing saved
            await asyncio.sleep(r.uniform(0.2, 1.0))
            await self.command(redis, message.advisor_id, "wrapup_done")
            return
        await asyncio.sleep(r.uniform(3, 8))  # the simulated advisor types the qualification
        topic = r.choice(list(self.settings.desk.topics))
        subtopics = list(self.settings.desk.topics[topic].subtopics)
        outcomes = ["immediate_answer", "advice", "callback_needed", "other", "partner_contact"]
        outcome = r.choices(outcomes, [5, 4, 1, 0.5, 1 if self.partners else 0])[0]
        q = Qualification.model_validate(
            {
                "topic": topic,
                "subtopic": r.choice(subtopics) if subtopics and r.random() < 0.7 else None,
                "outcome": outcome,
                "callback_requested": outcome == "callback_needed",
                "callback_slot": r.choice(["le matin", "après 17 h", "mardi après-midi"])
                if outcome == "callback_needed"
                else None,
                "commune_insee": r.choice(communes) if communes and r.random() < 0.8 else None,
                "partner_id": r.choice(self.partners) if outcome == "partner_contact" else None,
                "note": r.choice(NOTES),
            }
        )
        for _ in range(10):  # the record is committed within milliseconds of the hang-up, normally
            try:
                await qualification.save(message.linkedid, q, user, f"Local/{user.login}@advisors")
                break
            except QualificationError as exc:
                if "inconnu" not in str(exc):
                    log.info("demo qualification refused linkedid=%s: %s", message.linkedid, exc)
                    break
                await asyncio.sleep(1)
        await self.command(redis, message.advisor_id, "wrapup_done")
