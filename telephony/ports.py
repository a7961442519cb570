"""The small interfaces through which the executors (`telephony.pipeline`, `telephony.router`) and the web reach
Asterisk, PostgreSQL and Redis. They are implemented in `storage/` (and `telephony/ami.py` for actions) and wired
by `gps_admin/app.py`; `telephony` itself never imports `storage`.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from telephony.advisors import Advisor, StateChange

Command = Literal["login", "logout", "pause", "available", "wrapup_done"]


class Unavailable(Exception):
    """The store behind a port (Redis, PostgreSQL) did not answer; the message says why."""

    error_id = "store-unavailable"


class RouterNotLeader(Exception):
    error_id = "router-not-leader"


class RouterUnavailable(Exception):
    """No router answered a command in time (is `gps-admin serve` running?)."""

    error_id = "router-unavailable"


class ActionSender(Protocol):
    """Sends an AMI action (`telephony.ami.AmiClient`)."""

    async def send(self, action: dict[str, str], timeout: float | None = None) -> Any: ...


class AdvisorStore(Protocol):
    """Advisors and their presence log (`storage.advisors.AdvisorRepository`)."""

    async def get(self, advisor_id: int) -> Advisor | None: ...
    async def list(self, active_only: bool = False) -> builtins.list[Advisor]: ...
    async def last_states(self) -> dict[int, StateChange]: ...
    async def record_many(self, changes: builtins.list[StateChange]) -> None: ...
    async def last_advisor_for(self, caller_number: str, since: datetime) -> int | None: ...


class Lease(Protocol):
    """Which instance routes a queue (`storage.redis.lease.RedisLease`)."""

    async def hold(self, holder: str, ttl: float) -> bool:
        """Take or extend the lease for `ttl` seconds; True while `holder` holds it. Raises `Unavailable`."""
        ...

    async def release(self, holder: str) -> None:
        """Give the lease up if `holder` holds it. Raises `Unavailable`."""
        ...


class Claim(StrEnum):
    """What a claim on a call and an advisor came to."""

    CLAIMED = "claimed"
    TAKEN_OVER = "taken_over"  # claimed over a claim an earlier leader left behind (it crashed or lost the lease)
    HELD = "held"  # the call or the advisor is claimed already, in this leader's epoch
    NOT_LEADER = "not_leader"  # the holder does not hold the routing lease (any more)

    @property
    def taken(self) -> bool:
        return self in (Claim.CLAIMED, Claim.TAKEN_OVER)


class Claims(Protocol):
    """Atomic claims on a call and an advisor together, so no two offers share either, fenced by the routing lease:
    only its holder claims, and claims left by an earlier leader do not count (`storage.redis.claims.RedisClaims`)."""

    async def claim(self, linkedid: str, advisor_id: int, holder: str, ttl: float) -> Claim:
        """Take both, or neither. Raises `Unavailable`."""
        ...

    def release(self, linkedid: str, advisor_id: int, holder: str) -> None:
        """Let both go, without waiting (a release lost ends with the claim's TTL)."""
        ...


class RouterCommands(Protocol):
    """Every command to the router (the desk's presence, the end of a wrap-up, the CLI, the demo) goes through
    this interface (`storage.redis.commands.RedisRouterCommands`: to whichever instance leads, over Redis)."""

    async def send(
        self,
        advisor_id: int,
        what: Command,
        reason: str | None = None,
        *,
        by: str | None = None,
        note: str | None = None,
    ) -> None:
        """Apply a presence command (`by`: the supervisor's login when one acts for the advisor, `note` their
        reason, both kept in the presence log). Raises `telephony.presence.PresenceError` (French message) when it
        does not apply, `RouterUnavailable` when no router answers."""
        ...


class CommandHandler(Protocol):
    """What serves the commands: the router (`leader`, `command`)."""

    @property
    def leader(self) -> bool: ...

    async def command(
        self,
        advisor_id: int,
        what: Command,
        reason: str | None = None,
        *,
        by: str | None = None,
        note: str | None = None,
    ) -> None: ...
