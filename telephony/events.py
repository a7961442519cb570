"""Typed AMI events: the only AMI vocabulary the core knows.

Each model is frozen and built from one frame's headers (AMI header names as aliases). `at` is the
event's time: Asterisk's `Timestamp` header when `timestampevents = yes`, else the edge's receive time.
`WANTED` lists the events the service uses; the edge drops every other event before parsing it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic.fields import FieldInfo

from telephony.bounds import Id, OptId, bound_id, safe_name

# Identifiers (telephony.bounds): the channel's own must be present; any id beyond the record's bound is replaced by
# the same bounded form wherever it appears, so correlation holds and the record keeps its key.
Ident = Id
# Text: bounded; the edge cuts header values at TEXT_MAX before validation (ids excepted: they are bounded whole).
# Free text is cleaned later (telephony.identity).
TEXT_MAX = 512
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX)]
# Names that go back to Asterisk in actions (channels, interfaces, queues, contexts, extensions): also cleared of
# control characters, so a raw line break can never add a header to an action built from them.
Name = Annotated[str, StringConstraints(max_length=TEXT_MAX), BeforeValidator(safe_name)]


def is_id(info: FieldInfo) -> bool:
    """Whether a model field is an identifier (bounded whole, by a digest, never cut by the edge)."""
    return any(getattr(m, "func", None) is bound_id for m in info.metadata)


def _int_or_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        if value == "" or not value.lstrip("-").isdigit() or len(value) > 12:
            return None
    return value


OptInt = Annotated[int | None, BeforeValidator(_int_or_none)]


class AmiEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    at: datetime


class ChannelEvent(AmiEvent):
    """An event about one channel (Asterisk's standard channel snapshot)."""

    channel: Name = Field("", alias="Channel")
    uniqueid: Ident = Field(alias="Uniqueid")
    linkedid: Ident = Field(alias="Linkedid")
    caller_num: Text = Field("", alias="CallerIDNum")
    caller_name: Text = Field("", alias="CallerIDName")
    context: Name = Field("", alias="Context")
    exten: Name = Field("", alias="Exten")


class Newchannel(ChannelEvent):
    kind: Literal["Newchannel"] = "Newchannel"


class NewCallerid(ChannelEvent):
    kind: Literal["NewCallerid"] = "NewCallerid"


class Hangup(ChannelEvent):
    kind: Literal["Hangup"] = "Hangup"
    cause: OptInt = Field(None, alias="Cause")
    cause_txt: Text = Field("", alias="Cause-txt")


class BridgeEnter(ChannelEvent):
    kind: Literal["BridgeEnter"] = "BridgeEnter"
    bridge: Name = Field("", alias="BridgeUniqueid")


class BridgeLeave(ChannelEvent):
    kind: Literal["BridgeLeave"] = "BridgeLeave"
    bridge: Name = Field("", alias="BridgeUniqueid")


class DialEnd(ChannelEvent):
    """The calling side may be absent (a dial started by Originate): its snapshot is then empty."""

    kind: Literal["DialEnd"] = "DialEnd"
    uniqueid: OptId = Field("", alias="Uniqueid")
    linkedid: OptId = Field("", alias="Linkedid")
    dest_uniqueid: OptId = Field("", alias="DestUniqueid")
    dial_status: Text = Field("", alias="DialStatus")


class Hold(ChannelEvent):
    """A channel put its peer on hold (Asterisk 22: `ast_queue_hold` when a phone re-INVITEs sendonly, or
    `ast_bridge_channel_write_hold`, e.g. the transferer at the start of an attended transfer). Channel snapshot
    plus the suggested `MusicClass`, if any."""

    kind: Literal["Hold"] = "Hold"
    music_class: Text = Field("", alias="MusicClass")


class Unhold(ChannelEvent):
    """The channel took its peer off hold (phone, or an attended transfer cancelled: the transferer is back)."""

    kind: Literal["Unhold"] = "Unhold"


class QueueCallerJoin(ChannelEvent):
    kind: Literal["QueueCallerJoin"] = "QueueCallerJoin"
    queue: Name = Field(alias="Queue")
    position: OptInt = Field(None, alias="Position")


class QueueCallerLeave(ChannelEvent):
    kind: Literal["QueueCallerLeave"] = "QueueCallerLeave"
    queue: Name = Field(alias="Queue")


class QueueCallerAbandon(ChannelEvent):
    kind: Literal["QueueCallerAbandon"] = "QueueCallerAbandon"
    queue: Name = Field(alias="Queue")
    hold_time: OptInt = Field(None, alias="HoldTime")


class AgentEvent(ChannelEvent):
    queue: Name = Field(alias="Queue")
    interface: Name = Field(alias="Interface")
    member_name: Text = Field("", alias="MemberName")
    dest_channel: Name = Field("", alias="DestChannel")
    dest_uniqueid: OptId = Field("", alias="DestUniqueid")


class AgentCalled(AgentEvent):
    kind: Literal["AgentCalled"] = "AgentCalled"


class AgentRingNoAnswer(AgentEvent):
    kind: Literal["AgentRingNoAnswer"] = "AgentRingNoAnswer"
    ring_time_ms: OptInt = Field(None, alias="RingTime")


class AgentConnect(AgentEvent):
    kind: Literal["AgentConnect"] = "AgentConnect"
    hold_time: OptInt = Field(None, alias="HoldTime")


class AgentComplete(AmiEvent):
    """May arrive with no channel snapshot at all (see the AMI notes §4): correlate by Queue/Interface."""

    kind: Literal["AgentComplete"] = "AgentComplete"
    uniqueid: OptId = Field("", alias="Uniqueid")
    linkedid: OptId = Field("", alias="Linkedid")
    queue: Name = Field("", alias="Queue")
    interface: Name = Field(alias="Interface")
    reason: Text = Field("", alias="Reason")
    talk_time: OptInt = Field(None, alias="TalkTime")


class BlindTransfer(AmiEvent):
    kind: Literal["BlindTransfer"] = "BlindTransfer"
    result: Text = Field("", alias="Result")
    transferer_uniqueid: OptId = Field("", alias="TransfererUniqueid")
    transferee_uniqueid: OptId = Field("", alias="TransfereeUniqueid")
    transferee_linkedid: OptId = Field("", alias="TransfereeLinkedid")
    extension: Name = Field("", alias="Extension")
    context: Name = Field("", alias="Context")


class AttendedTransfer(AmiEvent):
    kind: Literal["AttendedTransfer"] = "AttendedTransfer"
    result: Text = Field("", alias="Result")
    orig_transferer_uniqueid: OptId = Field("", alias="OrigTransfererUniqueid")
    orig_transferer_linkedid: OptId = Field("", alias="OrigTransfererLinkedid")
    second_transferer_uniqueid: OptId = Field("", alias="SecondTransfererUniqueid")
    second_transferer_exten: Name = Field("", alias="SecondTransfererExten")
    second_transferer_context: Name = Field("", alias="SecondTransfererContext")
    second_transferer_channel: Name = Field("", alias="SecondTransfererChannel")
    transferee_uniqueid: OptId = Field("", alias="TransfereeUniqueid")
    transferee_linkedid: OptId = Field("", alias="TransfereeLinkedid")
    transfer_target_uniqueid: OptId = Field("", alias="TransferTargetUniqueid")
    transfer_target_channel: Name = Field("", alias="TransferTargetChannel")
    transfer_target_exten: Name = Field("", alias="TransferTargetExten")
    dest_type: Text = Field("", alias="DestType")


class MemberEvent(AmiEvent):
    """A queue member's snapshot, carried by every QueueMember* event."""

    queue: Name = Field(alias="Queue")
    interface: Name = Field(alias="Interface")
    member_name: Text = Field("", alias="MemberName")
    penalty: OptInt = Field(None, alias="Penalty")
    paused: OptInt = Field(None, alias="Paused")
    paused_reason: Text = Field("", alias="PausedReason")
    in_call: OptInt = Field(None, alias="InCall")
    status: OptInt = Field(None, alias="Status")  # device state: 4 invalid, 5 unavailable, 6 ringing…


class QueueMemberAdded(MemberEvent):
    kind: Literal["QueueMemberAdded"] = "QueueMemberAdded"


class QueueMemberRemoved(MemberEvent):
    kind: Literal["QueueMemberRemoved"] = "QueueMemberRemoved"


class QueueMemberPause(MemberEvent):
    kind: Literal["QueueMemberPause"] = "QueueMemberPause"


class QueueMemberPenalty(MemberEvent):
    kind: Literal["QueueMemberPenalty"] = "QueueMemberPenalty"


class QueueMemberStatus(MemberEvent):
    kind: Literal["QueueMemberStatus"] = "QueueMemberStatus"


class UserEvent(AmiEvent):
    """`UserEvent(GpsTopic,Topic: taxes)` from the dialplan: the caller's voice-menu choice."""

    kind: Literal["UserEvent"] = "UserEvent"
    name: Text = Field("", alias="UserEvent")
    uniqueid: OptId = Field("", alias="Uniqueid")
    linkedid: OptId = Field("", alias="Linkedid")
    topic: Text = Field("", alias="Topic")


class FullyBooted(AmiEvent):
    kind: Literal["FullyBooted"] = "FullyBooted"


class Shutdown(AmiEvent):
    """Asterisk stops or restarts (`core stop|restart now|gracefully…`). With "now" it has hung up every channel
    before it says so (seen on the rig: the hang-ups, Cause 0 on the channels it cut, then Shutdown 1 s later)."""

    kind: Literal["Shutdown"] = "Shutdown"
    shutdown: Text = Field("", alias="Shutdown")  # Cleanly / Uncleanly
    restart: Text = Field("", alias="Restart")  # True / False


# ---- the resync snapshot (built by the edge from CoreShowChannels / QueueStatus list responses) ----


class SnapshotChannel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    channel: Name = Field("", alias="Channel")
    uniqueid: Ident = Field(alias="Uniqueid")
    linkedid: Ident = Field(alias="Linkedid")
    caller_num: Text = Field("", alias="CallerIDNum")
    caller_name: Text = Field("", alias="CallerIDName")
    context: Name = Field("", alias="Context")
    exten: Name = Field("", alias="Exten")
    application: Text = Field("", alias="Application")
    bridge: Name = Field("", validation_alias=AliasChoices("BridgeId", "BridgeID"))
    duration: Text = Field("", alias="Duration")  # "HH:MM:SS"

    @property
    def duration_seconds(self) -> int:
        try:
            h, m, s = (int(part) for part in self.duration.split(":"))
        except ValueError:
            return 0
        return h * 3600 + m * 60 + s


class SnapshotQueueEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    queue: Name = Field(alias="Queue")
    channel: Name = Field("", alias="Channel")
    uniqueid: OptId = Field("", alias="Uniqueid")
    wait: OptInt = Field(None, alias="Wait")


class SnapshotQueueMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    queue: Name = Field(alias="Queue")
    name: Text = Field("", alias="Name")
    location: Name = Field(alias="Location")
    in_call: OptInt = Field(None, alias="InCall")
    paused: OptInt = Field(None, alias="Paused")
    paused_reason: Text = Field("", alias="PausedReason")
    penalty: OptInt = Field(None, alias="Penalty")
    status: OptInt = Field(None, alias="Status")


class Snapshot(AmiEvent):
    """Everything Asterisk holds now, taken right after a (re)connect."""

    kind: Literal["Snapshot"] = "Snapshot"
    channels: tuple[SnapshotChannel, ...] = ()
    queue_entries: tuple[SnapshotQueueEntry, ...] = ()
    queue_members: tuple[SnapshotQueueMember, ...] = ()


class LinkDown(AmiEvent):
    """The AMI link is lost: events may be missed until the next Snapshot."""

    kind: Literal["LinkDown"] = "LinkDown"
    reason: str = ""


Event = Annotated[
    Newchannel
    | NewCallerid
    | Hangup
    | BridgeEnter
    | BridgeLeave
    | DialEnd
    | Hold
    | Unhold
    | QueueCallerJoin
    | QueueCallerLeave
    | QueueCallerAbandon
    | AgentCalled
    | AgentRingNoAnswer
    | AgentConnect
    | AgentComplete
    | BlindTransfer
    | AttendedTransfer
    | QueueMemberAdded
    | QueueMemberRemoved
    | QueueMemberPause
    | QueueMemberPenalty
    | QueueMemberStatus
    | UserEvent
    | FullyBooted
    | Shutdown
    | Snapshot
    | LinkDown,
    Field(discriminator="kind"),
]

# AMI event name → model, for every event of the union that comes from Asterisk as such (not Snapshot, which the
# edge builds from list replies, nor LinkDown). The edge drops every other event before building anything.
MODELS: dict[str, type[AmiEvent]] = {
    cls.model_fields["kind"].default: cls for cls in get_args(get_args(Event)[0]) if cls not in (Snapshot, LinkDown)
}
WANTED: frozenset[bytes] = frozenset(name.encode() for name in MODELS)
