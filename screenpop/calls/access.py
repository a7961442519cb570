"""Who may read a caller's history (pure): the history of a number carries the notes and the advisors' names of
that person's past calls, so an advisor reads it only about the caller on the line with them: in a call with that
number (ringing on their desk, talking, transferred), or just after it (while the live view keeps the ended call,
`telephony.live.ENDED_KEPT`, or until the advisor qualified it: their desk's current call). Supervisors and admins
read any number's for now: narrower rules come with the supervisor role's own pages.
"""

from __future__ import annotations

from collections.abc import Iterable

from storage.users import Role, User
from telephony.live import LiveCall

READ_ANY_HISTORY = frozenset({Role.SUPERVISOR, Role.ADMIN})


def may_read_history(
    user: User, interface: str | None, number: str, calls: Iterable[LiveCall], current_caller: str | None
) -> bool:
    """`interface`: the user's phone (None: no advisor); `calls`: the live view's calls (in progress and recently
    ended); `current_caller`: the number of the advisor's call not yet qualified (None: none)."""
    if user.role in READ_ANY_HISTORY:
        return True
    if interface is None:
        return False
    if current_caller == number:
        return True
    return any(c.caller_number == number and interface in (c.advisor, c.desk) for c in calls)
