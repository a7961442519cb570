"""Transfers of an answered call to a service (extension `<exten>`, phone `svc<exten>@service-phones`), in the event
orders of the rig captures `blind_transfer`, `attended_transfer` and `attended_transfer_cancelled`.

Blind: the advisor's leg goes, the caller is dialled to the service at once. Attended: the advisor consults the
service (`<exten>@services` bridged to the service phone) while the caller waits in the advisor's bridge; hanging up
the advisor's leg completes it (the two bridges merge), CancelAtxfer takes the advisor back to the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from simulator.channels import CALL, Switch
from simulator.frames import UNKNOWN, Chan, bridge_headers
from simulator.legs import Call, caller_side_down, member_leg_down, next_command
from simulator.queue import Member, Queue
from simulator.tasks import Spawn

Complete = Callable[[str], None]  # AgentComplete with its Reason ("transfer")


class Transfers:
    def __init__(self, switch: Switch, queue: Queue, spawn: Spawn) -> None:
        self.switch = switch
        self.queue = queue
        self.spawn = spawn

    def blind(self, call: Call, member: Member, exten: str, complete: Complete) -> None:
        """BlindTransfer: the advisor is free at once; the service leg lives on in its own task."""
        sw = self.switch
        p2, a1 = call.chans["p2"], call.chans["a1"]
        sw.emit(
            "BlindTransfer",
            CALL,
            [
                ("Result", "Success"),
                *a1.headers("Transferer"),
                *p2.headers("Transferee"),
                *bridge_headers(call.bridges["agent"], 2),
                ("IsExternal", "Yes"),
                ("Context", "services"),
                ("Extension", exten),
            ],
        )
        complete("transfer")
        sw.leave(a1)
        member_leg_down(sw, call)
        sw.leave(p2)
        self.queue.member_done(member)
        self.spawn(self._service_call(call, exten, p2))

    async def _service_call(self, call: Call, exten: str, p2: Chan) -> str:
        """The caller talks to the service for `service_talk` s, then everything hangs up."""
        sw = self.switch
        s1, s2 = sw.local_pair(
            f"svc{exten}@service-phones", call.linkedid, (p2.cid_num, p2.cid_name), (UNKNOWN, UNKNOWN)
        )
        sw.dial("DialBegin", p2, s1, [("DialString", f"svc{exten}@service-phones")])
        sw.state(s2, 6)
        sw.state(s1, 6)
        sw.dial("DialEnd", p2, s1, [("DialStatus", "ANSWER")])
        sw.enter(call.bridges, "service", s1)
        sw.enter(call.bridges, "service", p2)
        await asyncio.sleep(call.spec.service_talk)
        sw.hangup(s2)
        sw.leave(s1)
        sw.hangup(s1)
        sw.leave(p2)
        sw.hangup(p2)
        caller_side_down(sw, call)
        return "done"

    async def attended(self, call: Call, member: Member, exten: str, complete: Complete) -> bool:
        """Consult the service; True when the transfer completed, False when the advisor cancelled it."""
        sw = self.switch
        p2, a1 = call.chans["p2"], call.chans["a1"]
        caller = (a1.cid_num, a1.cid_name)
        sw.hold(a1, True)  # Asterisk holds the transferer's channel first (the caller hears music)
        t1, t2 = sw.local_pair(f"{exten}@services", call.linkedid, (UNKNOWN, UNKNOWN), caller)
        s1, s2 = sw.local_pair(f"svc{exten}@service-phones", call.linkedid, (UNKNOWN, UNKNOWN), caller)
        sw.dial("DialBegin", t2, s1, [("DialString", f"svc{exten}@service-phones")])
        sw.enter(call.bridges, "consult", t1)
        sw.state(s2, 6)
        sw.state(s1, 6)
        sw.leave(a1)
        sw.dial("DialEnd", t2, s1, [("DialStatus", "ANSWER")])
        sw.enter(call.bridges, "consult", a1)
        sw.state(t1, 6)
        sw.dial("DialEnd", None, t1, [("DialStatus", "ANSWER")])
        sw.state(t2, 6)
        sw.enter(call.bridges, "service", s1)
        sw.enter(call.bridges, "service", t2)
        # the consultation lasts until the advisor completes (hangs up their leg), cancels, or their talk ends
        call.consulting = True
        try:
            cmd = await next_command(call, max(call.spec.talk, 1.0))
            while cmd is not None and cmd[0] not in ("hangup_agent", "complete", "cancel"):
                cmd = await next_command(call, max(call.spec.talk, 1.0))
        finally:
            call.consulting = False
        agent_bridge, consult_bridge = call.bridges["agent"], call.bridges["consult"]
        if cmd is not None and cmd[0] == "cancel":  # back to the caller; the consultation legs hang up
            sw.leave(a1)
            sw.put(a1, agent_bridge, 2)
            sw.hold(a1, False)
            sw.leave(t1)
            sw.hangup(t1)
            sw.leave(t2)
            sw.leave(s1)
            sw.hangup(s2)
            sw.hangup(s1)
            sw.hangup(t2)
            del call.bridges["consult"], call.bridges["service"]
            return False
        sw.emit(
            "BridgeMerge",
            CALL,
            [*bridge_headers(agent_bridge, 1, "To"), *bridge_headers(consult_bridge, 2, "From")],
        )
        sw.leave(t1)
        sw.put(t1, agent_bridge, 2)
        sw.emit(
            "AttendedTransfer",
            CALL,
            [
                ("Result", "Success"),
                *a1.headers("OrigTransferer"),
                *bridge_headers(agent_bridge, 2, "Orig"),
                *a1.headers("SecondTransferer"),
                *bridge_headers(consult_bridge, 1, "Second"),
                *p2.headers("Transferee"),
                *t1.headers("TransferTarget"),
                ("IsExternal", "No"),
                ("DestType", "Bridge"),
                ("DestBridgeUniqueid", agent_bridge),
            ],
        )
        complete("transfer")
        sw.leave(a1)
        member_leg_down(sw, call)
        self.queue.member_done(member)
        await asyncio.sleep(call.spec.service_talk)
        sw.hangup(s2)
        sw.leave(s1)
        sw.hangup(s1)
        sw.leave(t2)
        sw.hangup(t2)
        sw.leave(t1)
        sw.hangup(t1)
        sw.leave(p2)
        sw.hangup(p2)
        caller_side_down(sw, call)
        return True
