"""The switch of the simulated PBX: the channels that exist, the bridges they sit in, and the AMI events each change
produces, in the shapes of the rig captures (`tests/captures/*.ami`).

Asterisk 22 dials through Local channels, which come in pairs (`Local/<exten>@<context>-XXXXXXXX;1` and `;2`) with
the caller ids the rig shows: `;1` "dial" and the caller's name, `;2` the caller, connected to "dial". One counter
names every new channel (Local pairs and phones alike) and one numbers every uniqueid, so a scenario gives the
channel names it gives on the rig (`Local/2001@services-00000003;2`).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable

from simulator.frames import UNKNOWN, Chan, Fields, bridge_headers, event, response

CALL = "call,all"
AGENT = "agent,all"

Listener = Callable[[bytes], None]
CallerId = tuple[str, str]  # (number, name)


def presentation(number: str) -> str:
    """The `CID-CallingPres` header of a caller id: withheld numbers are "Presentation Prohibited"."""
    if number == UNKNOWN:
        return "35 (Presentation Prohibited, Network Number)"
    return "0 (Presentation Allowed, Not Screened)"


class Switch:
    """Every channel while it exists, and the events of its life: created, caller id, state, dial, bridge, hang-up.

    Events go to each listener (an AMI session) at once, in the order they are emitted."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.channels: dict[str, Chan] = {}  # name → channel, while it exists
        self.listeners: set[Listener] = set()
        self._ids = itertools.count()
        self._local = itertools.count()

    def emit(self, name: str, privilege: str, fields: Fields) -> None:
        data = event(name, privilege, fields, self.clock())
        for listener in list(self.listeners):
            listener(data)

    def uid(self) -> str:
        """A new uniqueid, as Asterisk makes them: `<epoch seconds>.<sequence>`."""
        return f"{int(self.clock())}.{next(self._ids)}"

    def suffix(self) -> str:
        """The eight hex digits that end the name of a new channel."""
        return f"{next(self._local):08x}"

    def add(self, chan: Chan) -> Chan:
        """A new channel: Newchannel."""
        self.channels[chan.name] = chan
        self.emit("Newchannel", CALL, chan.headers())
        return chan

    def caller_id(self, chan: Chan, cid: CallerId, connected: CallerId | None = None) -> None:
        """NewCallerid: the channel's caller id (and connected line, when given) set."""
        chan.cid_num, chan.cid_name = cid
        if connected is not None:
            chan.conn_num, chan.conn_name = connected
        self.emit("NewCallerid", CALL, [*chan.headers(), ("CID-CallingPres", presentation(cid[0]))])

    def local_pair(
        self,
        target: str,
        linkedid: str,
        caller: CallerId,
        one_connected: CallerId,
        first_uid: str | None = None,
    ) -> tuple[Chan, Chan]:
        """Local/<exten>@<context>-XXXXXXXX;1 and ;2 dialled on behalf of `caller` (number, name), with their
        caller ids as the rig shows them: ;1 "dial" + the caller's name, ;2 the caller (connected to "dial")."""
        exten, _, context = target.partition("@")
        base = f"Local/{target}-{self.suffix()}"
        one = Chan(f"{base};1", first_uid or self.uid(), linkedid, context, exten, 0)
        two = Chan(f"{base};2", self.uid(), linkedid, context, exten, 4)
        self.add(one)
        self.add(two)
        number, name = caller
        self.caller_id(one, ("dial", name), one_connected)
        self.caller_id(two, (number, name), ("dial", name))
        return one, two

    def state(self, chan: Chan, state: int) -> None:
        """Newstate (4 ring, 5 ringing, 6 up)."""
        chan.state = state
        self.emit("Newstate", CALL, chan.headers())

    def dial(self, name: str, src: Chan | None, dest: Chan, extra: Fields) -> None:
        """A Dial* or Agent* event: the calling channel's headers (none for an originate), then `Dest…`."""
        head = src.headers() if src is not None else []
        self.emit(name, CALL, [*head, *dest.headers("Dest"), *extra])

    def enter(self, bridges: dict[str, str], role: str, chan: Chan) -> None:
        """BridgeEnter of the bridge `role` of a call (`bridges`: role → bridge uniqueid), created on first use."""
        key = bridges.setdefault(role, str(uuid.uuid4()))
        count = sum(1 for c in self.channels.values() if c.bridge == key) + 1
        chan.bridge = key
        self.emit("BridgeEnter", CALL, [*bridge_headers(key, count), *chan.headers()])

    def put(self, chan: Chan, bridge: str, count: int) -> None:
        """BridgeEnter with the channel count Asterisk reports when a transfer moves a channel between bridges."""
        chan.bridge = bridge
        self.emit("BridgeEnter", CALL, [*bridge_headers(bridge, count), *chan.headers()])

    def hold(self, chan: Chan, on: bool) -> None:
        """Hold / Unhold: the channel puts its peer on hold or takes it off (a phone's hold key; the transferer at the
        start of an attended transfer and when it cancels one), the channel's snapshot only, no MusicClass."""
        self.emit("Hold" if on else "Unhold", CALL, chan.headers())

    def leave(self, chan: Chan) -> None:
        """BridgeLeave, if the channel is in a bridge."""
        key = chan.bridge
        if not key:
            return
        chan.bridge = ""
        count = sum(1 for c in self.channels.values() if c.bridge == key)
        self.emit("BridgeLeave", CALL, [*bridge_headers(key, count), *chan.headers()])

    def hangup(self, chan: Chan, cause: int = 16) -> None:
        """Hangup (16 normal clearing, 19 no answer, 0 cancelled), once: the channel is gone afterwards."""
        if self.channels.pop(chan.name, None) is None:
            return
        text = "Normal Clearing" if cause == 16 else "Unknown"
        self.emit("Hangup", CALL, [*chan.headers(), ("Cause", str(cause)), ("Cause-txt", text)])

    def show_channels(self, aid: str | None) -> list[bytes]:
        """The answer to CoreShowChannels: one CoreShowChannel per channel, then the list's end."""
        out = [response(aid, [("EventList", "start"), ("Message", "Channels will follow")])]
        extra: Fields = [("ActionID", aid)] if aid is not None else []
        now = self.clock()
        for chan in self.channels.values():
            seconds = int(now - chan.created)
            duration = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
            out.append(
                event(
                    "CoreShowChannel",
                    CALL,
                    [
                        *extra,
                        *chan.headers(),
                        ("Application", chan.application),
                        ("ApplicationData", ""),
                        ("Duration", duration),
                        ("BridgeId", chan.bridge),
                    ],
                    now,
                )
            )
        out.append(
            event(
                "CoreShowChannelsComplete",
                CALL,
                [*extra, ("EventList", "Complete"), ("ListItems", str(len(self.channels)))],
                now,
            )
        )
        return out
