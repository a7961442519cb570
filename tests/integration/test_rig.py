"""The Asterisk rig itself: AMI answers, list actions come through the event filter, a queue call connects."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from tests.rig.asterisk import AmiConnection, AmiFrame, AsteriskRig

pytestmark = pytest.mark.asterisk

STEP = 10.0  # seconds allowed for any single expected AMI frame


def test_rig_reports_version_and_cli(asterisk_rig: AsteriskRig) -> None:
    assert asterisk_rig.version.startswith("Asterisk 22.")
    assert "gps has 0 calls" in asterisk_rig.cli("queue show gps")


async def test_login_and_core_show_channels(asterisk_rig: AsteriskRig) -> None:
    ami = await AmiConnection.login(asterisk_rig)
    try:
        assert ami.banner.startswith("Asterisk Call Manager/")
        reply = await ami.action({"Action": "CoreShowChannels"}, STEP)
        assert reply["Response"] == "Success"
        assert reply.get("EventList") == "start"
        complete = await ami.wait_for({"Event": "CoreShowChannelsComplete", "ActionID": reply["ActionID"]}, STEP)
        assert complete["EventList"] == "Complete"

        # list responses are replies, not events: the eventfilter must let them through
        status = await ami.action({"Action": "QueueStatus", "Queue": "gps"}, STEP)
        assert status["Response"] == "Success"
        seen: list[AmiFrame] = []
        await ami.wait_for({"Event": "QueueStatusComplete", "ActionID": status["ActionID"]}, STEP, seen)
        assert any(f.get("Event") == "QueueParams" and f.get("Queue") == "gps" for f in seen)
    finally:
        await ami.close()


async def test_queue_call_is_answered_by_member(asterisk_rig: AsteriskRig) -> None:
    ami = await AmiConnection.login(asterisk_rig)
    member = "Local/adv1@advisors"
    try:
        added = await ami.action(
            {"Action": "QueueAdd", "Queue": "gps", "Interface": member, "MemberName": "Advisor 1"}, STEP
        )
        assert added["Response"] == "Success", added
        await ami.wait_for({"Event": "QueueMemberAdded", "Interface": member}, STEP)

        token = secrets.token_hex(4)
        originate = await ami.action(
            [
                ("Action", "Originate"),
                ("Channel", "Local/0321000009@callers"),
                ("Application", "Wait"),
                ("Data", "60"),
                ("CallerID", f'"Rig {token}" <0321000009>'),
                ("Async", "true"),
                ("Variable", "__ADVISOR_TALK=1"),
            ],
            STEP,
        )
        assert originate["Response"] == "Success", originate

        seen: list[AmiFrame] = []
        connect = await ami.wait_for({"Event": "AgentConnect", "Queue": "gps", "Interface": member}, STEP, seen)
        assert connect["CallerIDNum"] == "0321000009"
        assert connect["CallerIDName"] == f"Rig {token}"
        assert connect["Channel"].startswith("Local/0800123456@public-")
        joined = [f for f in seen if f.get("Event") == "QueueCallerJoin"]
        assert joined and joined[0]["Channel"] == connect["Channel"]

        # the advisor hangs up after ADVISOR_TALK seconds; the caller's queue leg follows. The two Hangup events
        # of a Local pair can come in either order (seen on Asterisk 22): wait for both, whatever the order.
        pending = {connect["DestChannel"], connect["Channel"]}

        async def both_hung_up() -> None:
            while pending:
                frame = await ami.read_frame()
                seen.append(frame)
                if frame.get("Event") == "Hangup":
                    pending.discard(frame.get("Channel", ""))

        await asyncio.wait_for(both_hung_up(), STEP)

        # the eventfilter is in force: call-class events that the service does not use never arrive
        names = {f.get("Event") for f in seen}
        assert "BridgeEnter" in names
        assert not names & {"BridgeCreate", "BridgeDestroy", "LocalBridge", "Cdr", "VarSet", "Newexten"}
    finally:
        await ami.action({"Action": "QueueRemove", "Queue": "gps", "Interface": member}, STEP)
        await ami.close()
