"""Every Redis key and channel name of the service.

Keys live in the configured database; pub/sub channels do not (Redis has one channel space per server), so every
channel is prefixed with the database number: two deployments, or two test runs, on one Redis server never hear
each other's pops or commands.
"""

from __future__ import annotations

import redis.asyncio as aioredis


def channel_prefix(redis: aioredis.Redis) -> str:
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    return f"gps:{int(db)}"


# -- routing (telephony.router through storage.redis.lease, .claims, .commands) ---------------------------


def lease_key(queue: str) -> str:
    """The routing lease of a queue: the instance holding it routes."""
    return f"gps:router:{queue}:lease"


def lease_epoch_key(queue: str) -> str:
    """How many times the routing lease of a queue was taken (a new leader, a new epoch): claims carry it."""
    return f"gps:router:{queue}:epoch"


def claim_call_key(queue: str, linkedid: str) -> str:
    return f"gps:claim:{queue}:call:{linkedid}"


def claim_advisor_key(queue: str, advisor_id: int) -> str:
    return f"gps:claim:{queue}:advisor:{advisor_id}"


def commands_channel(redis: aioredis.Redis, queue: str) -> str:
    """Presence commands to the leading router of `queue`."""
    return f"{channel_prefix(redis)}:router:{queue}:commands"


def reply_channel(redis: aioredis.Redis, queue: str, token: str) -> str:
    """Where one command's sender waits for the router's reply."""
    return f"{channel_prefix(redis)}:router:{queue}:reply:{token}"


# -- the desk's messages (screenpop.pops, the websocket hub) -----------------------------------------------


def pending_key(advisor_id: int) -> str:
    """Desk messages not yet acknowledged by the advisor's browser (hash: message id → JSON)."""
    return f"gps:desk:{advisor_id}:pending"


def current_key(advisor_id: int) -> str:
    """The advisor's current call until it is qualified (hash: linkedid, pop, latest message of each kind)."""
    return f"gps:desk:{advisor_id}:current"


def desk_channel(redis: aioredis.Redis, advisor_id: int) -> str:
    return f"{channel_prefix(redis)}:desk:{advisor_id}"


def desk_pattern(redis: aioredis.Redis) -> str:
    """Every advisor's desk channel (the hub's one subscription per instance)."""
    return f"{channel_prefix(redis)}:desk:*"


def advisor_of_channel(channel: bytes | str) -> int | None:
    """The advisor id at the end of a desk channel (`…:desk:<advisor id>`), None if it is not one."""
    advisor = (channel.decode() if isinstance(channel, bytes) else channel).rpartition(":")[2]
    return int(advisor) if advisor.isdigit() else None


# -- authentication (screenpop.auth through storage.redis.sessions, .throttle) ---------------------------


def session_key(token: str) -> str:
    return f"gps:session:{token}"


def login_failures_key(kind: str, value: str) -> str:
    """Login attempts counted per `kind` ("login" or "addr") and value (cut at 80 characters)."""
    return f"gps:login-failures:{kind}:{value[:80]}"


def signing_key(purpose: str) -> str:
    """A secret key the instances share to sign tokens for `purpose` (e.g. the login form's)."""
    return f"gps:signing-key:{purpose}"


# -- the directory's imports (screenpop.directory.pages) ----------------------------------------------------


def directory_upload_key(token: str) -> str:
    """A file uploaded for import into the directory, kept between its dry run and its import (hash, expiring)."""
    return f"gps:directory:upload:{token}"


# -- the wallboard (screenpop.supervision) ---------------------------------------------------------------------


def wallboard_channel(redis: aioredis.Redis) -> str:
    """ "The wallboard changed": published (throttled) by the instance that saw a change only it knows of (the
    leading router's presence changes); every instance tells its own wallboards to read their snapshot again."""
    return f"{channel_prefix(redis)}:wallboard"
