"""One call's legs: its channels by role, its bridges, the commands the service's actions send it, and how its sides
hang up (the orders of the rig captures).

Roles: `c1`/`c2` the caller's side (`Local/<number>@callers`, as the rig's originate builds it), `p1`/`p2` the
public number's Local pair (`p2` runs the voice menu and the queue), `a1`/`a2` the member's leg (`a2` only for a
Local member; a phone is one channel), `t1`/`t2` and `s1`/`s2` the transfer target's and the service phone's pairs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from simulator.channels import Switch
from simulator.frames import Chan
from simulator.people import CallSpec
from simulator.queue import Entry, Member

Kind = Literal["blind", "atxfer", "cancel", "hangup_agent", "hangup_caller", "complete"]
Command = tuple[Kind, str]  # (what, extension)


@dataclass
class Call:
    spec: CallSpec
    linkedid: str
    chans: dict[str, Chan]  # role → channel
    bridges: dict[str, str] = field(default_factory=dict)  # "callers" | "agent" | "consult" | "service" → uniqueid
    entry: Entry | None = None  # its place in the queue, once it joined
    member: Member | None = None  # the member ringing for it or talking to it
    commands: asyncio.Queue[Command] = field(default_factory=asyncio.Queue)  # from the AMI actions
    consulting: bool = False  # an attended transfer's consultation is up


async def next_command(call: Call, timeout: float) -> Command | None:
    """The next command for the call within `timeout` s (one already there when `timeout` <= 0), or None."""
    if timeout <= 0:
        return None if call.commands.empty() else call.commands.get_nowait()
    try:
        return await asyncio.wait_for(call.commands.get(), timeout)
    except TimeoutError:
        return None


def member_leg_down(switch: Switch, call: Call, cause: int = 16) -> None:
    """The member's leg hangs up (`;1` then `;2`)."""
    a1 = call.chans.get("a1")
    if a1 is not None:
        switch.hangup(a1, cause)
    a2 = call.chans.get("a2")
    if a2 is not None:
        switch.hangup(a2, cause)


def caller_side_down(switch: Switch, call: Call, leave_first: bool = False) -> None:
    """The caller's side and the public number's pair hang up: from the PBX's end, or (`leave_first`, the caller
    hung up) from the caller's end."""
    p1, c1, c2 = call.chans["p1"], call.chans["c1"], call.chans["c2"]
    if leave_first:
        switch.hangup(c1)
        switch.leave(c2)
        switch.hangup(c2)
        switch.leave(p1)
        switch.hangup(p1)
        return
    switch.leave(p1)
    switch.hangup(p1)
    switch.leave(c2)
    switch.hangup(c2)
    switch.hangup(c1)
