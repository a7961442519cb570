"""How the administration pages show an entry's history and an import's report (pure): French labels, values as
text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from screenpop.directory.errors import FIELD_LABELS
from screenpop.directory.models import KIND_LABELS, Kind, display_number
from screenpop.directory.weektext import format_week
from storage.directory import Change

ACTION_LABELS = {
    "create": "Création",
    "update": "Modification",
    "deactivate": "Désactivation",
    "reactivate": "Réactivation",
    "import": "Import",
}
VALUE_MAX = 300  # characters of a value shown in the history (the rest is cut, with « … »)


@dataclass(frozen=True)
class ChangeLine:
    field: str  # French label
    before: str  # '' when the field had no value
    after: str  # « — » when it has none now


@dataclass(frozen=True)
class ChangeView:
    at: str  # « 02/12/2026 10:00 », the line's time zone
    actor: str
    action: str  # French
    lines: tuple[ChangeLine, ...]


def local_time(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%d/%m/%Y %H:%M")


def change_view(change: Change, zone: str) -> ChangeView:
    lines = []
    for name, values in change.changes.items():
        if not isinstance(values, Mapping):  # a note such as {"from": "services (0004)"}
            lines.append(ChangeLine(FIELD_LABELS.get(name, name), "", value_text(name, values)))
            continue
        before = _text(name, values.get("before"))  # nothing before: only what it became
        lines.append(
            ChangeLine(
                FIELD_LABELS.get(name, name),
                value_text(name, values.get("before")) if before else "",
                value_text(name, values.get("after")),
            )
        )
    return ChangeView(
        at=local_time(change.at, zone),
        actor=change.actor,
        action=ACTION_LABELS.get(change.action, change.action),
        lines=tuple(lines),
    )


def value_text(name: str, value: Any) -> str:
    """A history value (JSON) as a person reads it: « — » for none."""
    text = _text(name, value)
    if not text:
        return "—"
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


def _text(name: str, value: Any) -> str:
    if value is None or value == [] or value == "":
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if name == "kind" and isinstance(value, str):
        try:
            return KIND_LABELS[Kind(value)]
        except ValueError:
            return value
    if name == "hours" and isinstance(value, Mapping):
        spans = {
            day: tuple((str(s[0]), str(s[1])) for s in v if isinstance(s, list | tuple) and len(s) == 2)
            for day, v in value.items()
            if isinstance(v, list | tuple)
        }
        return format_week(spans)
    if name == "phones" and isinstance(value, list):
        shown = []
        for phone in value:
            if isinstance(phone, Mapping) and isinstance(phone.get("number"), str):
                label = f" ({phone['label']})" if phone.get("label") else ""
                shown.append(
                    display_number(phone["number"]) + label + ("" if phone.get("public", True) else " [agents]")
                )
        return " | ".join(shown)
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} : {v}" for k, v in value.items())
    return str(value)
