"""The AMI edge: the only module that touches panoramisk.

Bytes become frozen event models (`telephony.events`) handed, in order, to one synchronous sink.
panoramisk keeps what it does well (login, action futures); the rest is ours because of its defects
(see ASTERISK-AMI-NOTES.md §1):

- D3/D4 and speed: `_Protocol.data_received` frames bytes itself (`telephony.frames`), decodes whole
  frames (no split UTF-8 characters), drops unused events before parsing, never raises.
- D2: actions are sent with an explicit `as_list`, Originate always with `Async`; any error while
  handling a response is contained.
- D5: a watchdog pings with a timeout and aborts a dead link; panoramisk's blind pinger is disabled.
- D6/D8: reconnection is owned here (capped exponential backoff with jitter), never panoramisk's.
- §2: after every login, a snapshot (CoreShowChannels + QueueStatus) is delivered as one `Snapshot`
  event before any live event received meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message
from pydantic import BaseModel, SecretStr, ValidationError

from telephony import events as ev
from telephony.aio import bounded
from telephony.frames import BufferOverflow, DuplicateHeader, EventFrame, FrameReader, FrameStats, extract_headers
from telephony.throttle import LogThrottle

log = logging.getLogger(__name__)
T = TypeVar("T")

Sink = Callable[[ev.AmiEvent], None]
Clock = Callable[[], datetime]

# Actions whose reply shape panoramisk misjudges (D1/D2): say it explicitly.
AS_LIST: Mapping[str, bool] = {
    "coreshowchannels": True,
    "queuestatus": True,
    "status": True,
    "queueadd": False,
    "queueremove": False,
    "queuepause": False,
    "atxfer": False,
    "cancelatxfer": False,
    "playdtmf": False,
    "originate": False,
    "blindtransfer": False,
    "redirect": False,
    "hangup": False,
    "ping": False,
    "setvar": False,
    "getvar": False,
    "command": False,
}


class AmiError(Exception):
    error_id = "ami-error"


class AmiNotConnected(AmiError):
    error_id = "ami-not-connected"


class AmiActionFailed(AmiError):
    error_id = "ami-action-failed"

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"Asterisk refused {action}: {message}")
        self.action = action
        self.message = message


class AmiTimeout(AmiError):
    error_id = "ami-timeout"


class AmiUnsafeAction(AmiError):
    """An action whose header or value holds a line break: AMI would read it as more headers (Asterisk ends a
    line at a lone LF too). Never sent."""

    error_id = "ami-unsafe-action"


def check_action(action: Mapping[str, str]) -> None:
    """Refuse an action that could carry more headers than it shows (see AmiUnsafeAction)."""
    for key, value in action.items():
        if "\r" in key or "\n" in key or "\r" in value or "\n" in value:
            raise AmiUnsafeAction(f"line break in the {key[:40]!r} header of {action.get('Action', '?')[:40]!r}")


@dataclass(frozen=True)
class AmiConfig:
    host: str
    port: int
    username: str
    secret: SecretStr
    ping_interval: float = 5.0
    ping_timeout: float = 3.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    action_timeout: float = 10.0


@dataclass
class EdgeStats:
    frames: FrameStats = field(default_factory=FrameStats)
    invalid_events: int = 0  # wanted events whose headers failed validation (or were repeated)
    duplicate_headers: int = 0  # of which: a header the model reads appeared twice (refused, never first-wins)
    callback_errors: int = 0
    connects: int = 0
    disconnects: int = 0
    login_failures: int = 0
    watchdog_aborts: int = 0

    def as_dict(self) -> dict[str, int]:
        out = {k: v for k, v in self.__dict__.items() if isinstance(v, int)}
        out.update({f"frames_{k}": v for k, v in self.frames.as_dict().items()})
        return out


def parse_timestamp(value: str | None) -> datetime | None:
    """AMI `Timestamp: 1795888079.123456` (with `timestampevents = yes`) → aware datetime."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


class EventDecoder:
    """EventFrame → typed model; counts what does not validate and logs it, one line per event name per interval
    (`LogThrottle`: a storm of bad events must not become a storm of log lines). No I/O but the log."""

    def __init__(self, stats: EdgeStats, clock: Clock, throttle: LogThrottle | None = None) -> None:
        self._stats = stats
        self._clock = clock
        self._throttle = throttle or LogThrottle(log)
        # per event name: the model, the headers it reads (plus Asterisk's Timestamp), those that are ids
        self._plans: dict[str, tuple[type[ev.AmiEvent], frozenset[str], frozenset[str]]] = {
            name: (model, frozenset((*_aliases(model), "Timestamp")), _id_aliases(model))
            for name, model in ev.MODELS.items()
        }

    def handler_failed(self, exc: Exception) -> None:
        """A handler raised while a frame was handled: counted, logged once per error type per interval."""
        self._stats.callback_errors += 1
        self._throttle.error(f"handler {type(exc).__name__}", "error while handling an AMI frame", exc_info=True)

    def decode(self, frame: EventFrame) -> ev.AmiEvent | None:
        plan = self._plans.get(frame.name)
        if plan is None:
            return None
        model, keys, ids = plan
        try:
            # values cut at the models' bound, but ids whole: they are bounded by a digest of the whole value
            headers: dict[str, Any] = extract_headers(frame.text, keys, ev.TEXT_MAX, ids)
        except DuplicateHeader as exc:
            self._stats.invalid_events += 1
            self._stats.duplicate_headers += 1
            self._throttle.warning(f"duplicate {frame.name}", "AMI event %s refused: %s", frame.name, exc)
            return None
        headers["at"] = parse_timestamp(headers.pop("Timestamp", None)) or self._clock()
        try:
            return model.model_validate(headers)
        except ValidationError as exc:
            self._stats.invalid_events += 1
            self._throttle.warning(
                f"invalid {frame.name}",
                "invalid AMI event %s linkedid=%s: %s",
                frame.name,
                str(headers.get("Linkedid", ""))[:64],
                exc.errors(include_url=False, include_input=False)[:3],
            )
            return None


def _aliases(model: type[BaseModel]) -> list[str]:
    return [f.alias for f in model.model_fields.values() if f.alias is not None]


def _id_aliases(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(f.alias for f in model.model_fields.values() if f.alias is not None and ev.is_id(f))


def _bounded(message: Mapping[str, Any], ids: frozenset[str]) -> dict[str, Any]:
    """A list reply's headers cut as the edge cuts an event's (panoramisk parsed them whole)."""
    return {k: v[: ev.TEXT_MAX] if isinstance(v, str) and k not in ids else v for k, v in message.items()}


_SNAPSHOT_IDS = {m: _id_aliases(m) for m in (ev.SnapshotChannel, ev.SnapshotQueueEntry, ev.SnapshotQueueMember)}


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with our framing: never raises out of data_received."""

    version: str | None
    transport: asyncio.Transport
    reader: FrameReader
    decoder: EventDecoder
    deliver: Callable[[ev.AmiEvent], None]

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except BufferOverflow as exc:
            log.error("AMI link reset: %s", exc)
            self.transport.abort()
            return
        if self.version is None and self.reader.version is not None:
            self.version = self.reader.version
        for frame in frames:
            try:
                if isinstance(frame, EventFrame):
                    event = self.decoder.decode(frame)
                    if event is not None:
                        self.deliver(event)
                else:
                    message = Message.from_line(frame.text)
                    if message is not None:
                        self.handle_message(message)
            except Exception as exc:  # a defect in a handler must not cut the link (D2/D3)
                self.decoder.handler_failed(exc)


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk Manager whose reconnection and pinger are disabled: AmiClient owns both (D5, D8)."""

    pinger: asyncio.TimerHandle | None
    protocol: Any
    authenticated: bool
    authenticated_future: asyncio.Future[Any] | None

    def __init__(self, lost: Callable[[BaseException | None], None], **config: Any) -> None:
        super().__init__(**config)
        self._lost = lost

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            return  # AmiClient awaits the same future and handles the failure
        super().connection_made(f)
        if self.pinger is not None:
            self.pinger.cancel()
            self.pinger = None

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok: bool = super().login(future)
        if self.pinger is not None:
            self.pinger.cancel()
            self.pinger = None
        return ok

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        self._lost(exc)


class AmiClient:
    """One AMI session kept alive: connect, log in, snapshot, watch, reconnect with backoff."""

    def __init__(self, config: AmiConfig, sink: Sink, clock: Clock | None = None) -> None:
        self._config = config
        self._sink = sink
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self.stats = EdgeStats()
        self._reader = FrameReader(ev.WANTED, stats=self.stats.frames)
        self._decoder = EventDecoder(self.stats, self._clock)
        self._manager: _Manager | None = None
        self._lost: asyncio.Future[BaseException | None] | None = None
        self._held: list[ev.AmiEvent] | None = None  # live events held while the snapshot is taken
        self.ready = asyncio.Event()  # logged in and snapshot delivered
        self.version: str | None = None
        self._change = asyncio.Event()
        self._gate = asyncio.Event()  # cleared by hold_reconnect()
        self._gate.set()
        self._lived = False  # the current session's watchdog got a Pong
        self.backoff = 0.0  # the wait before the latest reconnection attempt (seconds, jitter included)

    # -- observation and operation --

    async def changed(self) -> None:
        """Return at the next change of link state (connected, lost, watchdog abort)."""
        await self._change.wait()

    def _notify(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    def drop_link(self) -> None:
        """Cut the AMI link now (the client reconnects and resyncs, as after any loss)."""
        manager = self._manager
        transport = getattr(getattr(manager, "protocol", None), "transport", None)
        if transport is not None:
            transport.abort()
        self._on_lost(ConnectionAbortedError("link dropped on request"))

    def hold_reconnect(self) -> None:
        """Do not reconnect after the next loss until release_reconnect() (maintenance of the PBX)."""
        self._gate.clear()

    def release_reconnect(self) -> None:
        self._gate.set()

    # -- delivery: live events, held during a resync so the snapshot comes first --

    def _deliver(self, event: ev.AmiEvent) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            self._sink(event)

    def _on_lost(self, exc: BaseException | None) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(exc)

    # -- lifecycle --

    async def run(self) -> None:
        """Keep the session up until cancelled. The wait before each new attempt doubles up to `reconnect_max`, and
        starts over from `reconnect_min` after a session that lived (its watchdog got a Pong): a link cut after a
        healthy spell comes back at once, a PBX that keeps failing is not hammered. (`_session` always ends by
        raising: the reset used to sit after it and never ran, so after one bad morning every cut cost 30 s.)"""
        delay = self._config.reconnect_min
        while True:
            self._lived = False
            try:
                await self._session()
            except (OSError, AmiError, TimeoutError) as exc:
                log.warning("AMI %s:%s unavailable: %s", self._config.host, self._config.port, exc)
            finally:
                self.ready.clear()
                self._close()
                if self._lived:
                    delay = self._config.reconnect_min
                self.backoff = delay * (0.8 + 0.4 * random.random())
                self._notify()
            log.info("AMI reconnect in %.1f s", self.backoff)
            await asyncio.sleep(self.backoff)
            await self._gate.wait()
            delay = min(delay * 2, self._config.reconnect_max)

    def _close(self) -> None:
        if self._manager is not None:
            manager, self._manager = self._manager, None
            with contextlib.suppress(Exception):
                manager.close()
        self._held = None

    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self._reader.reset()
        cfg = self._config

        def factory() -> _Protocol:
            protocol = _Protocol()
            protocol.reader = self._reader
            protocol.decoder = self._decoder
            protocol.deliver = self._deliver
            return protocol

        manager = _Manager(
            self._on_lost,
            host=cfg.host,
            port=cfg.port,
            username=cfg.username,
            secret=cfg.secret.get_secret_value(),
            ping_delay=10**9,
            protocol_factory=factory,
            loop=loop,
            forgetable_actions=("ping", "login"),
        )
        self._manager = manager
        self._held = []  # from the first byte: nothing reaches the sink before the snapshot
        connecting = manager.connect()
        await bounded(connecting, cfg.action_timeout)
        auth = manager.authenticated_future
        if auth is None:
            raise AmiNotConnected("no login sent")
        response = await self._unless_lost(auth, cfg.action_timeout)
        if not manager.authenticated:
            self.stats.login_failures += 1
            raise AmiActionFailed("Login", str(getattr(response, "message", "authentication failed")))
        self.stats.connects += 1
        self.version = self._reader.version
        log.info("AMI connected to %s:%s (Asterisk Call Manager/%s)", cfg.host, cfg.port, self.version)
        try:
            snapshot = await self._unless_lost(asyncio.ensure_future(self._snapshot()), None)
        except BaseException:
            self._held = None
            raise
        held, self._held = self._held, None
        self._sink(snapshot)
        for event in held:
            self._sink(event)
        self.ready.set()
        self._notify()
        watchdog = asyncio.create_task(self._watchdog(), name="ami-watchdog")
        try:
            exc = await self._lost
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        self.stats.disconnects += 1
        self._sink(ev.LinkDown(at=self._clock(), reason=str(exc or "closed")))
        raise AmiNotConnected(f"link lost ({exc or 'closed by peer'})")

    async def _unless_lost(self, future: asyncio.Future[T], timeout: float | None) -> T:
        """Wait for `future`, but give up as soon as the link is lost (a peer that closes during the login or the
        snapshot is retried at the backoff, not after the action timeout). A task given up is cancelled."""
        lost = self._lost
        assert lost is not None
        waited: set[asyncio.Future[Any]] = {future, lost}
        try:
            done, _ = await asyncio.wait(waited, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if isinstance(future, asyncio.Task) and not future.done():
                future.cancel()
        if future in done:
            return future.result()
        if lost in done:
            raise AmiNotConnected(f"link lost before the session was up ({lost.result() or 'closed by peer'})")
        raise TimeoutError(f"no answer within {timeout} s")

    async def _snapshot(self) -> ev.Snapshot:
        channels = await self.send({"Action": "CoreShowChannels"})
        queues = await self.send({"Action": "QueueStatus"})
        assert isinstance(channels, list) and isinstance(queues, list)
        at = self._clock()
        snap_channels, entries, members = [], [], []
        for message in channels:
            if message.get("Event") == "CoreShowChannel":
                try:
                    snap_channels.append(
                        ev.SnapshotChannel.model_validate(_bounded(message, _SNAPSHOT_IDS[ev.SnapshotChannel]))
                    )
                except ValidationError:
                    self.stats.invalid_events += 1
        for message in queues:
            kind = message.get("Event")
            try:
                if kind == "QueueEntry":
                    entries.append(
                        ev.SnapshotQueueEntry.model_validate(_bounded(message, _SNAPSHOT_IDS[ev.SnapshotQueueEntry]))
                    )
                elif kind == "QueueMember":
                    members.append(
                        ev.SnapshotQueueMember.model_validate(_bounded(message, _SNAPSHOT_IDS[ev.SnapshotQueueMember]))
                    )
            except ValidationError:
                self.stats.invalid_events += 1
        log.info(
            "AMI snapshot: %d channels, %d waiting, %d members",
            len(snap_channels),
            len(entries),
            len(members),
        )
        return ev.Snapshot(
            at=at, channels=tuple(snap_channels), queue_entries=tuple(entries), queue_members=tuple(members)
        )

    async def _watchdog(self) -> None:
        """Detect a hung or half-open link (D5): a Ping must be answered in time."""
        cfg = self._config
        while True:
            await asyncio.sleep(cfg.ping_interval)
            manager = self._manager
            if manager is None:
                return
            try:
                await bounded(manager.send_action({"Action": "Ping"}, as_list=False), cfg.ping_timeout)
                self._lived = True  # a healthy session: the next reconnection starts over from the shortest wait
            except TimeoutError:
                self.stats.watchdog_aborts += 1
                self._notify()
                log.error("AMI ping unanswered after %.1f s: aborting the link", cfg.ping_timeout)
                transport = getattr(manager.protocol, "transport", None)
                if transport is not None:
                    transport.abort()
                self._on_lost(TimeoutError("ping timeout"))
                return

    # -- actions --

    async def send(self, action: dict[str, str], timeout: float | None = None) -> Any:
        """Send one action; return its Message (or list of messages for list actions).

        Raises AmiNotConnected, AmiTimeout or AmiActionFailed (Asterisk's own message).
        """
        manager = self._manager
        if manager is None or manager.protocol is None or manager.protocol.closed:
            raise AmiNotConnected("AMI link is down")
        check_action(action)
        name = action.get("Action", "")
        if name.lower() == "originate" and not any(k.lower() == "async" for k in action):
            action = {**action, "Async": "true"}  # D2
        as_list = AS_LIST.get(name.lower(), False)
        future = manager.send_action(dict(action), as_list=as_list)
        try:
            reply = await bounded(future, timeout or self._config.action_timeout)
        except TimeoutError:
            raise AmiTimeout(f"no reply to {name} within {timeout or self._config.action_timeout} s") from None
        first = reply[0] if isinstance(reply, list) and reply else reply
        if isinstance(first, Message) and first.get("Response", "").lower() == "error":
            raise AmiActionFailed(name, str(first.get("Message", "")))
        return reply
