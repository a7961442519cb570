"""The small interfaces through which the executors (`telephony.pipeline`, `telephony.router`) and the web reach
Asterisk, PostgreSQL and Redis. They are implemented in `storage/` (and `telephony/ami.py` for actions) and wired
by `gps_admin/app.py`; `telephony` itself never imports `storage`.
"""

from __future__ import annotations

import builtins
from datetime import datetime
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


class Claims(Protocol):
    """Atomic claims on a call and an advisor together, so no two offers share either
    (`storage.redis.claims.RedisClaims`)."""

    async def claim(self, linkedid: str, advisor_id: int, holder: str, ttl: float) -> bool:
        """Take both, or neither (False: one is held). Raises `Unavailable`."""
        ...

    def release(self, linkedid: str, advisor_id: int, holder: str) -> None:
        """Let both go, without waiting (a release lost ends with the claim's TTL)."""
        ...


class RouterCommands(Protocol):
    """Every command to the router (the desk's presence, the end of a wrap-up, the CLI, the demo) goes through
    this interface (`storage.redis.commands.RedisRouterCommands`: to whichever instance leads, over Redis)."""

    async def send(self, advisor_id: int, what: Command, reason: str | None = None) -> None:
        """Apply a presence command. Raises `telephony.presence.PresenceError` (French message) when it does not
        apply, `RouterUnavailable` when no router answers."""
        ...


class CommandHandler(Protocol):
    """What serves the commands: the router (`leader`, `command`)."""

    @property
    def leader(self) -> bool: ...

    async def command(self, advisor_id: int, what: Command, reason: str | None = None) -> None: ...
