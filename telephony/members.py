"""Queue members as Asterisk reports them: QueueMember* events and the snapshot's QueueMember list become
`MemberUpdate`/`MembersResynced` effects. Pure."""

from __future__ import annotations

from telephony import events as ev
from telephony.effects import AnyEffect, MembersResynced, MemberUpdate


class MemberTracker:
    def __init__(self, queue: str) -> None:
        self._queue = queue

    def apply(self, event: ev.AmiEvent) -> list[AnyEffect]:
        if isinstance(event, ev.MemberEvent):
            if event.queue != self._queue:
                return []
            return [
                MemberUpdate(
                    linkedid="",
                    at=event.at,
                    queue=event.queue,
                    interface=event.interface,
                    present=not isinstance(event, ev.QueueMemberRemoved),
                    paused=bool(event.paused),
                    paused_reason=event.paused_reason,
                    penalty=event.penalty or 0,
                    in_call=bool(event.in_call),
                    device_state=event.status or 0,
                )
            ]
        if isinstance(event, ev.Snapshot):
            members = tuple(
                MemberUpdate(
                    linkedid="",
                    at=event.at,
                    queue=m.queue,
                    interface=m.location,
                    present=True,
                    paused=bool(m.paused),
                    paused_reason=m.paused_reason,
                    penalty=m.penalty or 0,
                    in_call=bool(m.in_call),
                    device_state=m.status or 0,
                )
                for m in event.queue_members
                if m.queue == self._queue
            )
            return [MembersResynced(linkedid="", at=event.at, members=members)]
        return []
