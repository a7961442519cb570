"""The router: executes what the presence board and the routing plan decide (AMI actions, claims, the
state-change log). It runs inside the service loop as an effect listener, plus a timer task.

Only the instance holding the lease acts (offers, member changes, the log); the others track and take over when
the lease expires. Each offer also takes an atomic claim on the call and on the advisor, so even two instances
that both believe they lead cannot offer one call twice or one advisor twice. The lease, the claims, the advisors
and the AMI are reached through the ports of `telephony.ports` (Redis and PostgreSQL in `storage/`); commands
arrive through `command`, served by `storage.redis.commands.CommandServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from config.settings import RoutingSettings
from telephony.advisors import Advisor, StateChange
from telephony.aio import bounded
from telephony.effects import (
    AdvisorRinging,
    AnyEffect,
    CallEnded,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    CallTransferred,
    MembersResynced,
    MemberUpdate,
)
from telephony.ports import (
    ActionSender,
    AdvisorStore,
    Claim,
    Claims,
    Command,
    Lease,
    RouterNotLeader,
    RouterUnavailable,
    Unavailable,
)
from telephony.presence import MemberConfig, PresenceBoard, PresenceError, reconcile
from telephony.routing import Hold, Offer, next_wakeup, plan_head

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


LOG_WINDOW = 0.02  # seconds: the presence log is written at most this often (several steps' changes at once)


@dataclass
class RouterStats:
    offers: int = 0
    claim_conflicts: int = 0
    claims_taken_over: int = 0  # claims an earlier leader left behind, replaced by this one's
    holds: int = 0
    actions: int = 0
    action_errors: int = 0
    state_changes: int = 0
    unrecorded: int = 0
    takeovers: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # effect in → offer action sent (bounded)

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = {k: v for k, v in self.__dict__.items() if isinstance(v, int)}
        if self.latencies_ms:
            ordered = sorted(self.latencies_ms)
            out["decision_p50_ms"] = ordered[len(ordered) // 2]
            out["decision_p99_ms"] = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return out


class Router:
    def __init__(
        self,
        *,
        ami: ActionSender,
        store: AdvisorStore,
        lease: Lease,
        claims: Claims,
        routing: RoutingSettings,
        queue: str,
        clock: Clock | None = None,
        lease_ttl: float = 3.0,
        instance: str | None = None,
    ) -> None:
        self.board = PresenceBoard(routing)
        self._ami = ami
        self._store = store
        self._lease = lease
        self._claims_store = claims
        self._routing = routing
        self._queue = queue
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lease_ttl = lease_ttl
        self.instance = instance or secrets.token_hex(6)
        self._actual: dict[str, MemberConfig] = {}
        self._known_interfaces: set[str] = set()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._unrecorded: list[StateChange] = []  # changes of this step, for the desks and the log
        self._unlogged: list[StateChange] = []  # changes not yet in the presence log (oldest first)
        self._log_task: asyncio.Task[None] | None = None
        self._last_log = 0.0  # time.monotonic() of the last presence log write
        self._hold_until: datetime | None = None
        self.leader = False
        self.stats = RouterStats()
        self._claims: dict[str, int] = {}  # linkedid → advisor we claimed it with
        self._lookups: dict[str, asyncio.Task[None]] = {}  # linkedid → its continuity look-up, in flight
        self.changed = asyncio.Event()  # set whenever leadership or presence changes (tests, desk)
        self.presence_listeners: list[Callable[[list[StateChange]], Awaitable[None]]] = []  # e.g. the desk

    # ---- lifecycle ----

    async def load(self) -> None:
        """Advisors and their last presence from the database."""
        advisors = await self._store.list(active_only=True)
        self.board.load(advisors, await self._store.last_states())
        self._known_interfaces = {a.interface for a in advisors}

    async def run(self) -> None:
        """Lease keeping and timers, until cancelled."""
        while True:
            await self._keep_lease()
            async with self._lock:
                await self._step()
            deadline = min((d for d in (self.board.next_deadline(), self._hold_until) if d is not None), default=None)
            timeout = self._lease_ttl / 3
            if deadline is not None:
                timeout = max(0.0, min(timeout, (deadline - self._clock()).total_seconds()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await bounded(self._wake.wait(), timeout)

    async def resign(self) -> None:
        """Give the lease up (clean stop), so another instance takes over at once."""
        with contextlib.suppress(Unavailable):
            await self._lease.release(self.instance)
        self.leader = False

    async def _keep_lease(self) -> None:
        try:
            held = await self._lease.hold(self.instance, self._lease_ttl)
        except Unavailable as exc:
            log.warning("router lease unavailable (%s): standing by", exc)
            held = False
        if held and not self.leader:
            async with self._lock:
                try:
                    await self.load()
                except Exception as exc:  # database away: do not lead blind; retry at the next renewal
                    log.warning("router cannot load the advisors (%s): not leading yet", exc)
                    await self.resign()
                    return
                self.leader = True
                self.stats.takeovers += 1
                log.info("router %s leads queue %s", self.instance, self._queue)
                self._record(self.board.adopt_members(self._member_updates(), self._clock()))
            self._signal()
        elif not held and self.leader:
            log.warning("router %s lost the lease", self.instance)
            async with self._lock:
                await self._flush_log()  # what it decided while leading is logged (the log keeps the latest `at`)
                self.leader = False
            self._signal()

    # ---- inputs ----

    async def on_effect(self, effect: AnyEffect) -> None:
        started = time.perf_counter()
        async with self._lock:
            if isinstance(effect, MemberUpdate):
                self._observe(effect)
            elif isinstance(effect, MembersResynced):
                self._actual = {}
                self.board.dirty.update(self._known_interfaces)
                for member in effect.members:
                    self._observe(member)
                if self.leader:
                    self._record(self.board.adopt_members(effect.members, self._clock()))
            self._record(self.board.on_effect(effect))
            if isinstance(effect, CallQueued) and effect.caller_number:
                # a call joining decides nothing for the calls ahead of it, and it is decided once its look-up
                # has answered (that look-up's step)
                self._look_up(effect.linkedid, effect.caller_number, started)
                return
            if isinstance(effect, AdvisorRinging | CallEnded | CallLeftQueue):
                await self._release_call(effect.linkedid)
            if not isinstance(effect, CallStarted | CallTransferred):  # nothing to decide on those
                await self._step(started)

    async def command(
        self,
        advisor_id: int,
        what: Command,
        reason: str | None = None,
        *,
        by: str | None = None,
        note: str | None = None,
    ) -> None:
        """An advisor's presence command. Raises PresenceError (French message) or RouterNotLeader. `by` and `note`
        (a supervisor acting for the advisor, and why) go with the advisor's change into the presence log."""
        if not self.leader:
            raise RouterNotLeader("another instance routes this queue")
        fresh = await self._read_advisor(advisor_id) if what == "login" else None
        now = self._clock()
        async with self._lock:
            if not self.board.knows(advisor_id):  # added since the last load
                advisor = fresh or await self._store.get(advisor_id)
                if advisor is not None:
                    self.board.add(advisor)
                    self._known_interfaces.add(advisor.interface)
            elif fresh is not None:  # skills edited since the last load apply from this login
                self.board.update(fresh)
            if what == "login":
                changes = self.board.login(advisor_id, now)
            elif what == "logout":
                changes = self.board.logout(advisor_id, now)
            elif what == "pause":
                changes = self.board.pause(advisor_id, reason or "", now)
            elif what == "wrapup_done":
                changes = self.board.wrapup_done(advisor_id, now)
            else:
                changes = self.board.available(advisor_id, now)
            if by is not None or note is not None:
                changes = [
                    c.model_copy(update={"by": by, "note": note}) if c.advisor_id == advisor_id else c for c in changes
                ]
            self._record(changes)
            await self._step()

    async def _read_advisor(self, advisor_id: int) -> Advisor | None:
        """The advisor as the directory holds it now, outside the routing lock and bounded: a slow or unreachable
        database leaves the advisor as last loaded (their login goes on) rather than delaying routing."""
        try:
            return await bounded(self._store.get(advisor_id), self._routing.continuity_lookup_within)
        except Exception as exc:  # the database slow (TimeoutError) or away
            log.warning("advisor #%d not read again at login (%s): routing keeps what it loaded", advisor_id, exc)
            return None

    # ---- the step: decide, claim, reconcile, log ----

    async def _step(self, started: float | None = None) -> None:
        if not self.leader:
            return
        now = self._clock()
        self._record(self.board.expire(now))
        for advisor_id in self.board.stale_offers():
            self.board.withdraw(advisor_id)
        await self._release_withdrawn()
        # the head and the offered advisors as the board keeps them: O(1) in the calls waiting (a step used to
        # rebuild and sort them all, O(n²) over a pile-up: bench/README.md, "Router step made incremental")
        head = self.board.head()
        decisions = (
            plan_head(
                head,
                self.board.offered_advisors(),
                self.board.views(relevant_only=True),
                now,
                self._routing.continuity_wait,
            )
            if head is not None
            else []
        )
        offered = False
        for decision in decisions:
            if isinstance(decision, Offer):
                if await self._claim(decision.linkedid, decision.advisor_id):
                    self.board.offer(decision.linkedid, decision.advisor_id)
                    self.stats.offers += 1
                    offered = True
                    log.info(
                        "offer linkedid=%s advisor=%s (%s)", decision.linkedid, decision.advisor_id, decision.reason
                    )
                else:
                    self.stats.claim_conflicts += 1
            elif isinstance(decision, Hold):
                self.stats.holds += 1
        self._hold_until = next_wakeup(decisions)
        await self._reconcile()
        if offered and started is not None:
            self.stats.latencies_ms.append((time.perf_counter() - started) * 1000)
            del self.stats.latencies_ms[:-10_000]
        await self._flush_log()

    async def _reconcile(self) -> None:
        """Member actions for the interfaces whose desired or observed membership changed since the last step."""
        dirty, self.board.dirty = self.board.dirty, set()
        dirty &= self._known_interfaces
        if not dirty:
            return
        desired = self.board.desired_members(only=dirty)
        actual = {i: self._actual[i] for i in dirty if i in self._actual}
        for action in reconcile(desired, actual, self._queue):
            interface = action["Interface"]
            try:
                await self._ami.send(action)
                self.stats.actions += 1
                self._apply_locally(action, desired.get(interface))
            except Exception as exc:
                self.stats.action_errors += 1
                self.board.dirty.add(interface)  # tried again at a later step
                log.error("%s %s refused: %s", action["Action"], interface, exc)
                advisor = self.board.advisor_of(interface)
                if advisor is not None:
                    self.board.withdraw(advisor.id)
                    await self._release_withdrawn()
                    if action["Action"] == "QueueAdd":
                        self.board.invalid_interfaces.add(interface)

    def _apply_locally(self, action: dict[str, str], want: MemberConfig | None) -> None:
        """Assume an accepted action took effect until Asterisk's event confirms (no duplicate sends)."""
        interface = action["Interface"]
        if action["Action"] == "QueueRemove" or want is None:
            self._actual.pop(interface, None)
        else:
            self._actual[interface] = want

    def _observe(self, member: MemberUpdate) -> None:
        self.board.dirty.add(member.interface)  # compare again with what is desired
        if not member.present:
            self._actual.pop(member.interface, None)
            return
        self._actual[member.interface] = MemberConfig(
            name="", paused=member.paused, reason=member.paused_reason, penalty=member.penalty
        )

    def _member_updates(self) -> list[MemberUpdate]:
        now = self._clock()
        return [
            MemberUpdate(
                linkedid="",
                at=now,
                queue=self._queue,
                interface=i,
                present=True,
                paused=m.paused,
                paused_reason=m.reason,
                penalty=m.penalty,
                in_call=False,
                device_state=0,
            )
            for i, m in self._actual.items()
        ]

    # ---- continuity ----

    def _look_up(self, linkedid: str, caller_number: str, started: float) -> None:
        """The caller's previous advisor, asked in a task of its own: the service loop does not wait for
        PostgreSQL (it used to, at every queued call, and a slow database then held every call's events, pops
        included, for up to the look-up's bound). The call is held meanwhile (`routing.plan`); its answer is
        applied and the router plans again."""
        if linkedid in self._lookups:
            return
        self.board.look_up(linkedid)
        self._lookups[linkedid] = asyncio.get_running_loop().create_task(
            self._lookup_preferred(linkedid, caller_number, started), name=f"continuity-{linkedid}"
        )

    async def _lookup_preferred(self, linkedid: str, caller_number: str, started: float) -> None:
        since = self._clock() - timedelta(days=self._routing.continuity_days)
        advisor_id: int | None = None
        try:
            advisor_id = await bounded(
                self._store.last_advisor_for(caller_number, since), self._routing.continuity_lookup_within
            )
        except TimeoutError:
            log.warning(
                "continuity look-up slower than %.1f s linkedid=%s: routed without it",
                self._routing.continuity_lookup_within,
                linkedid,
            )
        except Exception as exc:  # routing goes on without continuity
            log.warning("continuity look-up failed linkedid=%s: %s", linkedid, exc)
        try:
            async with self._lock:
                self.board.set_preferred(linkedid, advisor_id)
                await self._step(started)
        except Exception:  # as the pipeline does for an effect that fails: logged, the next step goes on
            log.exception("routing step after the continuity look-up failed linkedid=%s", linkedid)
        finally:
            del self._lookups[linkedid]
            self._signal()

    @property
    def lookups(self) -> int:
        """Continuity look-ups in flight."""
        return len(self._lookups)

    # ---- claims (telephony.ports.Claims) ----

    async def _claim(self, linkedid: str, advisor_id: int) -> bool:
        try:
            claim = await self._claims_store.claim(linkedid, advisor_id, self.instance, self._routing.claim_ttl)
        except Unavailable as exc:
            log.error("claim failed linkedid=%s: %s (no offer)", linkedid, exc)
            return False
        if claim is Claim.TAKEN_OVER:
            self.stats.claims_taken_over += 1
            log.info("claim of an earlier leader replaced linkedid=%s advisor=%s", linkedid, advisor_id)
        elif claim is Claim.NOT_LEADER:
            log.warning("claim refused linkedid=%s: router %s no longer holds the lease", linkedid, self.instance)
            self._wake.set()  # the lease is checked again at once
        if claim.taken:
            self._claims[linkedid] = advisor_id
        return claim.taken

    async def _release(self, linkedid: str, advisor_id: int) -> None:
        """Sent with the next round, not waited for: a claim taken later leaves after it (rounds keep order), and
        a release lost with Redis ends with the claim's TTL."""
        self._claims.pop(linkedid, None)
        self._claims_store.release(linkedid, advisor_id, self.instance)

    async def _release_withdrawn(self) -> None:
        """Release the claims of the offers the board cancelled: an advisor offered for one call may ring for
        another (app_queue gives a penalty-1 member to whichever caller tries first, e.g. the head caller back
        from a ring-no-answer taking the advisor offered to the next caller), pause or log out. A claim left
        behind makes every new offer for its call a conflict until `claim_ttl`, and the router decides for the
        head call only: nobody would be offered meanwhile."""
        for linkedid, advisor_id in self.board.take_withdrawn():
            if self._claims.get(linkedid) == advisor_id:  # not already released (e.g. when that call rang)
                await self._release(linkedid, advisor_id)

    async def _release_call(self, linkedid: str) -> None:
        advisor_id = self._claims.get(linkedid)
        if advisor_id is not None:
            await self._release(linkedid, advisor_id)

    # ---- the state-change log ----

    def _record(self, changes: list[StateChange]) -> None:
        """Keep the changes for the presence log and the desks. A follower's board follows the events too, but
        only the leader logs (a follower kept every change, without end, and wrote them again once it led)."""
        if changes:
            if self.leader:
                self._unrecorded.extend(changes)
                self.stats.state_changes += len(changes)
            self._signal()

    async def _flush_log(self) -> None:
        """The step's changes go to the presence log, then to the presence listeners (the desks), in a task of
        their own: the service loop does not wait for PostgreSQL. Log first: a desk told of a change reads its
        advisor's state from the log (`/api/desk`), and nothing tells it again while the state holds; told first,
        it could read the state before the change and show it for good (an advisor shown in wrap-up after the
        wrap-up had expired). One batch at a time, in order; a batch that fails is kept and tried again, before
        the newer ones, at the next step, and its listeners are told once it is written."""
        if self._unrecorded:
            batch, self._unrecorded = self._unrecorded, []
            self._unlogged.extend(batch)
        if self._unlogged and (self._log_task is None or self._log_task.done()):
            self._log_task = asyncio.get_running_loop().create_task(self._write_log(), name="presence-log")

    async def _write_log(self) -> None:
        """Under load the changes of several steps go in one write: at most one write per `LOG_WINDOW` (an
        executemany costs ~0.3 ms of CPU whatever its size: written at every step, it took 7 % of the service at
        90 calls/s). Idle, a change is written at once."""
        while self._unlogged:
            wait = self._last_log + LOG_WINDOW - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_log = time.monotonic()
            batch, self._unlogged = self._unlogged, []
            try:
                await bounded(self._store.record_many(batch), 2.0)
            except Exception as exc:  # kept, tried again at the next step
                self._unlogged = batch + self._unlogged
                self.stats.unrecorded = len(self._unlogged)
                log.warning("presence log not written (%s): %d change(s) kept", exc, len(self._unlogged))
                return
            self.stats.unrecorded = len(self._unlogged)
            for listener in self.presence_listeners:
                try:
                    await listener(batch)
                except Exception as exc:  # the desk is told best-effort; the log is what counts
                    log.warning("presence listener failed: %s", exc)

    async def log_drained(self) -> None:
        """Return once the changes so far are in the presence log and told to the listeners (or kept after a
        failure: `stats.unrecorded`)."""
        while self._log_task is not None and not self._log_task.done():
            await asyncio.wait({self._log_task})

    @property
    def pending_log(self) -> int:
        """State changes not yet in the presence log."""
        return len(self._unrecorded) + len(self._unlogged)

    def _signal(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()
        self._wake.set()


async def wait_for(router: Router, condition: Callable[[], bool], within: float) -> None:
    """Wait until `condition()` holds, re-checked at each change the router signals."""

    async def loop() -> None:
        while not condition():
            await router.changed.wait()

    await bounded(loop(), within)


__all__ = [
    "ActionSender",
    "AdvisorStore",
    "PresenceError",
    "Router",
    "RouterNotLeader",
    "RouterUnavailable",
    "wait_for",
]
