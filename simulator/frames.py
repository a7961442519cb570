"""AMI messages as Asterisk 22 writes them: ordered `Key: Value` lines, CRLF, a blank line at the end.

Channels and their header blocks follow the shapes of the project's rig captures (`tests/captures/*.ami`): the
same keys in the same order, `<unknown>` for unset caller ids, `Privilege` and `Timestamp` first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

Fields = list[tuple[str, str]]

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
UNKNOWN = "<unknown>"


def clean(value: object) -> str:
    """A header value: one line (Asterisk never sends CR or LF inside a value), bounded."""
    text = str(value)
    if "\r" in text or "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    return text[:512]


def message(fields: Fields) -> bytes:
    return ("".join(f"{k}: {clean(v)}\r\n" for k, v in fields) + "\r\n").encode("utf-8")


def event(name: str, privilege: str, fields: Fields, clock: float | None = None) -> bytes:
    at = time.time() if clock is None else clock
    return message([("Event", name), ("Privilege", privilege), ("Timestamp", f"{at:.6f}"), *fields])


def response(action_id: str | None, fields: Fields, success: bool = True) -> bytes:
    head: Fields = [("Response", "Success" if success else "Error")]
    if action_id is not None:
        head.append(("ActionID", action_id))
    return message(head + fields)


@dataclass
class Chan:
    """One channel of the simulated PBX."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    state: int = 0
    cid_num: str = UNKNOWN
    cid_name: str = UNKNOWN
    conn_num: str = UNKNOWN
    conn_name: str = UNKNOWN
    priority: int = 1
    created: float = field(default_factory=time.time)
    application: str = "AppDial"
    bridge: str = ""

    def headers(self, prefix: str = "") -> Fields:
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(self.state)),
            (f"{prefix}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{prefix}CallerIDNum", self.cid_num),
            (f"{prefix}CallerIDName", self.cid_name),
            (f"{prefix}ConnectedLineNum", self.conn_num),
            (f"{prefix}ConnectedLineName", self.conn_name),
            (f"{prefix}Language", "fr"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]


def bridge_headers(uniqueid: str, count: int, prefix: str = "") -> Fields:
    return [
        (f"{prefix}BridgeUniqueid", uniqueid),
        (f"{prefix}BridgeType", "basic"),
        (f"{prefix}BridgeTechnology", "simple_bridge"),
        (f"{prefix}BridgeCreator", UNKNOWN),
        (f"{prefix}BridgeName", UNKNOWN),
        (f"{prefix}BridgeNumChannels", str(count)),
        (f"{prefix}BridgeVideoSourceMode", "none"),
    ]


def parse_action(block: bytes) -> dict[str, str]:
    """An action sent by a client: `Key: Value` lines; keys compared case-insensitively by the caller."""
    out: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.setdefault(key.strip().lower(), value.strip())
    return out
