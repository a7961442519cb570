"""Originate, as a callback sends it: `Channel=<advisor's phone> Context=<ctx> Exten=<citizen's number>`.

The advisor's phone rings first; once it answers, the dialplan dials the citizen (`Local/<exten>@<ctx>`), who
answers or not. OriginateResponse tells whether the first leg answered (Reason 4) or not (Reason 3), as Asterisk
does. Not a call of the public line: no queue, no call record.
"""

from __future__ import annotations

import asyncio

from simulator.channels import CALL, Switch
from simulator.frames import UNKNOWN, Chan, Fields
from simulator.people import People
from simulator.stats import PbxStats
from simulator.tasks import Spawn


class Originator:
    def __init__(self, switch: Switch, stats: PbxStats, people: People, spawn: Spawn) -> None:
        self.switch = switch
        self.stats = stats
        self.people = people
        self.spawn = spawn

    def start(self, channel: str, context: str, exten: str, callerid: str, aid: str | None, timeout: float) -> None:
        """Originate in its own task; its events carry `aid` as Asterisk's do."""
        self.spawn(self._run(channel, context, exten, callerid, aid, timeout))

    async def _run(self, channel: str, context: str, exten: str, callerid: str, aid: str | None, timeout: float) -> str:
        sw = self.switch
        self.stats.originated += 1
        linkedid = sw.uid()
        cid = (callerid.rpartition("<")[2].rstrip(">") or UNKNOWN, UNKNOWN)
        tech = channel.removeprefix("Local/")
        o2: Chan | None
        if not channel.startswith("Local/"):  # a SIP phone: one channel
            o1 = sw.add(Chan(f"{channel}-{sw.suffix()}", linkedid, linkedid, "from-internal", "s", 0))
            o2 = None
        else:
            o1, o2 = sw.local_pair(tech, linkedid, cid, (UNKNOWN, UNKNOWN), first_uid=linkedid)
        sw.dial("DialBegin", None, o1, [("DialString", tech)])
        sw.state(o1, 5)
        phone = self.people.phone_of(channel)
        answered = phone.answers and phone.answer_after <= timeout
        await asyncio.sleep(phone.answer_after if answered else timeout)
        result: Fields = [
            ("Channel", o1.name),
            ("Context", context),
            ("Exten", exten),
            ("Application", ""),
            ("Data", ""),
            ("Uniqueid", linkedid),
            ("CallerIDNum", cid[0]),
            ("CallerIDName", cid[1]),
        ]
        head: Fields = [("ActionID", aid)] if aid is not None else []
        if not answered:
            sw.dial("DialEnd", None, o1, [("DialStatus", "NOANSWER")])
            if o2 is not None:
                sw.hangup(o2, 0)
            sw.hangup(o1, 19)
            sw.emit("OriginateResponse", CALL, [*head, ("Response", "Failure"), *result, ("Reason", "3")])
            return "no_answer"
        if o2 is not None:
            sw.state(o2, 6)
        sw.state(o1, 6)
        sw.dial("DialEnd", None, o1, [("DialStatus", "ANSWER")])
        sw.emit("OriginateResponse", CALL, [*head, ("Response", "Success"), *result, ("Reason", "4")])
        leg = o2 or o1  # the leg that runs the dialplan: Dial(Local/<exten>@<context>)
        leg.context, leg.exten = context, exten
        c1, c2 = sw.local_pair(f"{exten}@{context}", linkedid, (leg.cid_num, leg.cid_name), cid)
        sw.dial("DialBegin", leg, c1, [("DialString", f"{exten}@{context}")])
        sw.state(c1, 5)
        citizen = self.people.citizen_answers()
        if citizen is None:
            await asyncio.sleep(min(timeout, 20.0))
            sw.dial("DialEnd", leg, c1, [("DialStatus", "NOANSWER")])
            sw.hangup(c2, 19)
            sw.hangup(c1, 19)
            if o2 is not None:
                sw.hangup(o2)
            sw.hangup(o1)
            return "citizen_no_answer"
        await asyncio.sleep(citizen)
        sw.state(c2, 6)
        sw.state(c1, 6)
        sw.dial("DialEnd", leg, c1, [("DialStatus", "ANSWER")])
        bridge: dict[str, str] = {}
        sw.enter(bridge, "call", c1)
        sw.enter(bridge, "call", leg)
        await asyncio.sleep(self.people.originate_talk)
        sw.hangup(c2)
        sw.leave(c1)
        sw.hangup(c1)
        sw.leave(leg)
        if o2 is not None:
            sw.hangup(o2)
        sw.hangup(o1)
        return "answered"
