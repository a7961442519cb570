"""A small builder of AMI event sequences shaped like Asterisk 22's, for the tracker's table tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from telephony import events as ev

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Paris: the line is open


@dataclass(frozen=True)
class Chan:
    channel: str
    uniqueid: str
    linkedid: str


@dataclass
class Scenario:
    t: datetime = T0
    seq: int = 0
    events: list[ev.AmiEvent] = field(default_factory=list)

    def at(self, seconds: float) -> Scenario:
        self.t = T0 + timedelta(seconds=seconds)
        return self

    def _uid(self) -> str:
        self.seq += 1
        return f"1795888079.{self.seq}"

    def _snap(self, c: Chan, num: str = "", name: str = "", context: str = "", exten: str = "") -> dict[str, str]:
        return {
            "channel": c.channel,
            "uniqueid": c.uniqueid,
            "linkedid": c.linkedid,
            "caller_num": num,
            "caller_name": name,
            "context": context,
            "exten": exten,
        }

    def new(
        self,
        channel: str,
        linkedid: str | None = None,
        context: str = "",
        exten: str = "",
        num: str = "<unknown>",
        name: str = "<unknown>",
    ) -> Chan:
        uid = self._uid()
        chan = Chan(channel, uid, linkedid or uid)
        self.events.append(ev.Newchannel(at=self.t, **self._snap(chan, num, name, context, exten)))
        return chan

    def inbound(self, num: str = "0321000001", name: str = "Hélène Lefèvre", exten: str = "0800123456") -> Chan:
        """A trunk call on the public number (one channel, as with PJSIP)."""
        return self.new(f"PJSIP/trunk-{self.seq:08x}", context="public", exten=exten, num=num, name=name)

    def callerid(self, c: Chan, num: str, name: str) -> None:
        self.events.append(ev.NewCallerid(at=self.t, **self._snap(c, num, name)))

    def menu(self, c: Chan, topic: str) -> None:
        """The caller's voice-menu choice, as the dialplan's `UserEvent(GpsTopic,Topic: …)` tells it."""
        self.events.append(
            ev.UserEvent.model_validate({"at": self.t, "UserEvent": "GpsTopic", "Topic": topic, **self._snap(c)})
        )

    def join(self, c: Chan, num: str = "0321000001", name: str = "Hélène Lefèvre") -> None:
        self.events.append(ev.QueueCallerJoin(at=self.t, queue="gps", position=1, **self._snap(c, num, name)))

    def leave(self, c: Chan) -> None:
        self.events.append(ev.QueueCallerLeave(at=self.t, queue="gps", **self._snap(c)))

    def abandon(self, c: Chan) -> None:
        self.events.append(ev.QueueCallerAbandon(at=self.t, queue="gps", hold_time=3, **self._snap(c)))

    def ring(self, caller: Chan, member: str) -> Chan:
        leg = self.new(f"PJSIP/{member}-{self.seq:08x}", linkedid=caller.linkedid)
        self.events.append(
            ev.AgentCalled(
                at=self.t,
                queue="gps",
                interface=f"PJSIP/{member}",
                member_name=member.title(),
                dest_channel=leg.channel,
                dest_uniqueid=leg.uniqueid,
                **self._snap(caller),
            )
        )
        return leg

    def no_answer(self, caller: Chan, leg: Chan, member: str) -> None:
        self.events.append(
            ev.AgentRingNoAnswer(
                at=self.t,
                queue="gps",
                interface=f"PJSIP/{member}",
                member_name=member.title(),
                dest_channel=leg.channel,
                dest_uniqueid=leg.uniqueid,
                ring_time_ms=15000,
                **self._snap(caller),
            )
        )

    def dial_end(self, caller: Chan, leg: Chan, status: str) -> None:
        self.events.append(ev.DialEnd(at=self.t, dest_uniqueid=leg.uniqueid, dial_status=status, **self._snap(caller)))

    def connect(self, caller: Chan, leg: Chan, member: str) -> None:
        self.events.append(
            ev.AgentConnect(
                at=self.t,
                queue="gps",
                interface=f"PJSIP/{member}",
                member_name=member.title(),
                dest_channel=leg.channel,
                dest_uniqueid=leg.uniqueid,
                hold_time=2,
                **self._snap(caller),
            )
        )

    def complete(self, member: str, caller: Chan | None = None, reason: str = "agent") -> None:
        ids = {"uniqueid": caller.uniqueid, "linkedid": caller.linkedid} if caller else {}
        self.events.append(
            ev.AgentComplete(at=self.t, queue="gps", interface=f"PJSIP/{member}", reason=reason, talk_time=10, **ids)
        )

    def bridge(self, c: Chan, linkedid: str | None = None) -> Chan:
        moved = Chan(c.channel, c.uniqueid, linkedid or c.linkedid)
        self.events.append(ev.BridgeEnter(at=self.t, bridge="b1", **self._snap(moved)))
        return moved

    def leave_bridge(self, c: Chan) -> None:
        self.events.append(ev.BridgeLeave(at=self.t, bridge="b1", **self._snap(c)))

    def hold(self, c: Chan, music_class: str = "") -> None:
        self.events.append(ev.Hold(at=self.t, music_class=music_class, **self._snap(c)))

    def unhold(self, c: Chan) -> None:
        self.events.append(ev.Unhold(at=self.t, **self._snap(c)))

    def hangup(self, c: Chan, cause: int = 16) -> None:
        self.events.append(ev.Hangup(at=self.t, cause=cause, cause_txt="Normal Clearing", **self._snap(c)))

    def blind(self, transferer: Chan, transferee: Chan, exten: str, result: str = "Success") -> None:
        self.events.append(
            ev.BlindTransfer(
                at=self.t,
                result=result,
                transferer_uniqueid=transferer.uniqueid,
                transferee_uniqueid=transferee.uniqueid,
                transferee_linkedid=transferee.linkedid,
                extension=exten,
                context="services",
            )
        )

    def attended(self, advisor: Chan, transferee: Chan, target_exten: str) -> None:
        self.events.append(
            ev.AttendedTransfer(
                at=self.t,
                result="Success",
                orig_transferer_uniqueid=advisor.uniqueid,
                orig_transferer_linkedid=advisor.linkedid,
                transferee_uniqueid=transferee.uniqueid,
                transferee_linkedid=transferee.linkedid,
                second_transferer_exten=target_exten,
                dest_type="Bridge",
            )
        )

    def snapshot(
        self,
        channels: Sequence[tuple[Chan, str, str, int, str]] = (),
        entries: Sequence[tuple[Chan, int]] = (),
        members: Sequence[tuple[str, bool]] = (),
    ) -> None:
        """channels: (chan, context, exten, seconds up, bridge); entries: (chan, wait); members: (iface, busy)."""
        self.events.append(
            ev.Snapshot(
                at=self.t,
                channels=tuple(
                    ev.SnapshotChannel(
                        channel=c.channel,
                        uniqueid=c.uniqueid,
                        linkedid=c.linkedid,
                        caller_num="0321000009",
                        caller_name="Zoé Dubois",
                        context=ctx,
                        exten=ex,
                        duration=f"00:00:{secs:02d}",
                        bridge=bridge,
                    )
                    for c, ctx, ex, secs, bridge in channels
                ),
                queue_entries=tuple(
                    ev.SnapshotQueueEntry(queue="gps", channel=c.channel, uniqueid=c.uniqueid, wait=w)
                    for c, w in entries
                ),
                queue_members=tuple(
                    ev.SnapshotQueueMember(
                        queue="gps", name=iface.split("/")[1].title(), location=iface, in_call=int(busy)
                    )
                    for iface, busy in members
                ),
            )
        )

    def link_down(self) -> None:
        self.events.append(ev.LinkDown(at=self.t, reason="test"))
