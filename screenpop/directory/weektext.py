"""Weekly hours as people write them, in a spreadsheet cell or a command line, and back (pure).

    lun-ven 08:30-12:00 13:30-17:00; sam 09:00-12:00
    lundi, mercredi 9h-12h; ven 22:00-02:00        (an end before its start runs past midnight)

Groups are separated by `;` or a new line; each names days (`lun`…`dim`, full French names, or `mon`…`sun`;
ranges with `-`, lists with `,`) then spans `HH:MM-HH:MM` (`9h`, `9h30`, `09:30`; `24:00` ends the day). A
group `… fermé` (or with no span) lists days closed. Days not named are closed. The result is the directory's
weekly hours (`storage.services.parse_hours`'s form), checked by it; `format_week` writes the canonical text.
"""

from __future__ import annotations

import re

from config.settings import WEEKDAYS
from storage.communes import normalise
from storage.services import Hours, InvalidHours, parse_hours

_DAY_NAMES = {
    **{d: d for d in WEEKDAYS},
    **dict(zip(("lun", "mar", "mer", "jeu", "ven", "sam", "dim"), WEEKDAYS, strict=True)),
    **dict(zip(("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"), WEEKDAYS, strict=True)),
}
SHORT = dict(zip(WEEKDAYS, ("lun", "mar", "mer", "jeu", "ven", "sam", "dim"), strict=True))
_TIME = re.compile(r"^(?P<h>[0-9]{1,2})(?:[:h](?P<m>[0-9]{2})?)?$")
_SPAN = re.compile(r"^(?P<start>[0-9][0-9:h]*)-(?P<end>[0-9][0-9:h]*)$")
_CLOSED = {"ferme", "fermee", "closed"}
TEXT_MAX = 500


def _clock(text: str) -> str:
    match = _TIME.match(text)
    if match is None:
        raise InvalidHours(f"« {text} » n'est pas une heure (ex. 08:30 ou 8h30)")
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        raise InvalidHours(f"« {text} » n'est pas une heure (ex. 08:30 ou 8h30)")
    return f"{hour:02d}:{minute:02d}"


def _days(spec: str) -> list[str]:
    found: list[str] = []
    for part in re.split(r"\s*,\s*|\s+et\s+", spec.strip()):
        ends = [e for e in re.split(r"\s*(?:-|–|à|au)\s*", part) if e]
        names = [_DAY_NAMES.get(normalise(e).rstrip(".").replace(" ", "")) for e in ends]
        if not names or None in names or len(names) > 2:
            raise InvalidHours(f"« {part} » ne désigne pas des jours (lun, mar… ou lun-ven)")
        first, last = WEEKDAYS.index(names[0] or ""), WEEKDAYS.index(names[-1] or "")
        if last < first:
            raise InvalidHours(f"« {part} » : le premier jour vient après le dernier")
        found.extend(WEEKDAYS[first : last + 1])
    return found


def parse_week(text: str) -> Hours | None:
    """The weekly hours a text gives; None for an empty text (hours not given). Raises `InvalidHours` (French)."""
    if len(text) > TEXT_MAX:
        raise InvalidHours(f"horaires trop longs ({len(text)} caractères ; {TEXT_MAX} au plus)")
    groups = [g.strip() for g in re.split(r"[;\n]", text) if g.strip()]
    if not groups:
        return None
    if len(groups) == 1 and normalise(groups[0]) in _CLOSED:
        return parse_hours({})
    week: dict[str, list[list[str]]] = {}
    for group in groups:
        match = re.match(r"^(?P<days>[^0-9]*?)\s*(?P<rest>(?:[0-9].*)|(?:ferm\S*|closed))?$", group, re.IGNORECASE)
        if match is None or not match["days"]:
            raise InvalidHours(f"« {group} » : commencez par les jours (ex. lun-ven 08:30-12:00)")
        days = _days(match["days"])
        rest = (match["rest"] or "").strip()
        spans: list[list[str]] = []
        if normalise(rest) not in _CLOSED and rest:
            rest = re.sub(r"\s*(?:-|–|\bà\b)\s*", "-", rest)
            for chunk in (c for c in re.split(r"[\s,/]+", rest) if c and c.lower() != "et"):
                span = _SPAN.match(chunk)
                if span is None:
                    raise InvalidHours(f"« {chunk} » n'est pas une plage horaire (ex. 08:30-12:00)")
                start, end = _clock(span["start"]), _clock(span["end"])
                if start == "24:00" or start == end:
                    raise InvalidHours(f"« {chunk} » : une plage ne peut pas commencer à 24:00 ni être vide")
                spans.append([start, end])
        for day in days:
            if day in week:
                raise InvalidHours(f"le {SHORT[day]} est donné deux fois")
            week[day] = spans
    try:
        return parse_hours(week)
    except InvalidHours as exc:
        raise InvalidHours(f"horaires : {exc}") from None


def format_week(hours: Hours | None) -> str:
    """The canonical text of weekly hours: consecutive days with the same spans grouped; '' for None."""
    if hours is None:
        return ""
    groups: list[tuple[list[str], tuple[tuple[str, str], ...]]] = []
    for day in WEEKDAYS:
        spans = hours.get(day, ())
        if groups and groups[-1][1] == spans and WEEKDAYS.index(groups[-1][0][-1]) == WEEKDAYS.index(day) - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], spans))
    parts = []
    for days, spans in groups:
        if not spans:
            continue
        named = SHORT[days[0]] if len(days) == 1 else f"{SHORT[days[0]]}-{SHORT[days[-1]]}"
        parts.append(f"{named} {' '.join(f'{start}-{end}' for start, end in spans)}")
    return "; ".join(parts) or "fermé"
