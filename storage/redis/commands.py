"""Commands to the leading router over Redis pub/sub, request and reply (`telephony.ports.RouterCommands`).

Any instance, the CLI or the demo publishes a `PresenceCommand` on the queue's commands channel and waits for the
`PresenceReply` on a channel of its own; every instance's `CommandServer` hears it and the leading one applies it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storage.redis import names
from telephony.aio import bounded
from telephony.ports import Command, CommandHandler, RouterNotLeader, RouterUnavailable
from telephony.presence import CallInProgress, PresenceError

log = logging.getLogger(__name__)


class PresenceCommand(BaseModel):
    """A presence command travelling to the leading router over Redis (any instance or the CLI sends it)."""

    model_config = ConfigDict(frozen=True)

    advisor_id: int
    what: Command
    reason: str | None = Field(default=None, max_length=40)
    by: str | None = Field(default=None, max_length=40)  # a supervisor acting for the advisor
    note: str | None = Field(default=None, max_length=200)  # their reason
    reply_to: str = Field(max_length=100)


class PresenceReply(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    error: str | None = None
    error_id: str | None = Field(default=None, max_length=40)  # the refusal's kind ("call-in-progress"…)


class RedisRouterCommands:
    """`RouterCommands` to whichever instance leads the queue's routing."""

    def __init__(self, redis: aioredis.Redis, queue: str, within: float = 5.0) -> None:
        self._redis = redis
        self._queue = queue
        self._within = within

    async def send(
        self,
        advisor_id: int,
        what: Command,
        reason: str | None = None,
        *,
        by: str | None = None,
        note: str | None = None,
    ) -> None:
        """Raises PresenceError (its French message; `CallInProgress` when the advisor's phone rings or is in a
        call) or RouterUnavailable when no router answers in time (or Redis is away)."""
        redis, within = self._redis, self._within
        reply_to = names.reply_channel(redis, self._queue, secrets.token_hex(8))
        command = PresenceCommand(advisor_id=advisor_id, what=what, reason=reason, by=by, note=note, reply_to=reply_to)
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(reply_to)
                await redis.publish(names.commands_channel(redis, self._queue), command.model_dump_json())

                async def answer() -> PresenceReply:
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            return PresenceReply.model_validate_json(message["data"])
                    raise RouterUnavailable("the reply channel closed")

                try:
                    reply = await bounded(answer(), within)
                except TimeoutError:
                    raise RouterUnavailable(
                        f"no router answered within {within} s: is gps-admin serve running?"
                    ) from None
        except (aioredis.RedisError, OSError) as exc:
            raise RouterUnavailable(f"Redis unavailable: {exc}") from exc
        if not reply.ok:
            kind = CallInProgress if reply.error_id == CallInProgress.error_id else PresenceError
            raise kind(reply.error or "refused")


class CommandServer:
    """Hears the queue's commands and has the router apply them when it leads (the leader answers)."""

    def __init__(self, redis: aioredis.Redis, queue: str) -> None:
        self._redis = redis
        self._queue = queue

    async def serve(self, router: CommandHandler) -> None:
        """Until cancelled."""
        channel = names.commands_channel(self._redis, self._queue)
        me = asyncio.current_task()
        # redis-py's pubsub can swallow a cancellation while it reads (seen with a Unix-socket Redis): poll
        # with a short timeout and check the task's own cancellation state, so a stop always ends the loop.
        while me is None or not me.cancelling():
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    while me is None or not me.cancelling():
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                        if message is not None and message.get("type") == "message":
                            await self._on_command(router, message["data"])
            except (aioredis.RedisError, OSError) as exc:
                log.warning("presence commands: Redis unavailable (%s), retrying", exc)
                await asyncio.sleep(1.0)

    async def _on_command(self, router: CommandHandler, data: bytes | str) -> None:
        try:
            command = PresenceCommand.model_validate_json(data)
        except ValidationError as exc:
            log.warning("malformed presence command ignored: %s", exc.errors(include_input=False)[:2])
            return
        if not router.leader:
            return  # the leader answers
        try:
            await router.command(command.advisor_id, command.what, command.reason, by=command.by, note=command.note)
            reply = PresenceReply(ok=True)
        except (PresenceError, RouterNotLeader) as exc:
            reply = PresenceReply(ok=False, error=str(exc), error_id=exc.error_id)
        with contextlib.suppress(aioredis.RedisError, OSError):
            await self._redis.publish(command.reply_to, reply.model_dump_json())
