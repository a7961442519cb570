"""The callbacks slice's rules: who may see and close callbacks (advisors, supervisors, admins), the open list with
what is past one working day (`screenpop.statistics.kpis.is_overdue`, the line's opening hours), an attempt (« joint »
closes the callback), a cancellation. No aiohttp; SQL in `storage/callbacks.py`. A callback is made by the
qualification's save (`storage.qualification.SavingQualification.callback`), in its transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg

from config.settings import OpeningHours
from screenpop.callbacks.errors import CallbackClosed, NotForCallbacks, UnknownCallback
from screenpop.callbacks.models import RESULT_LABELS, AttemptIn, AttemptOut, CallbackList, CallbackOut, CancelIn
from screenpop.statistics import kpis
from storage import callbacks as store
from storage.callbacks import CallbackRepository, Row
from storage.users import Role, User
from telephony.identity import french_display

ROLES = frozenset({Role.ADVISOR, Role.SUPERVISOR, Role.ADMIN})
STATUS_WORDS = {"done": "déjà effectué", "cancelled": "déjà annulé"}

Clock = Callable[[], datetime]
Changed = Callable[[], None]


def check(user: User) -> User:
    if user.role not in ROLES:
        raise NotForCallbacks()
    return user


class CallbackService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        hours: OpeningHours,
        topics: Mapping[str, str],
        *,
        clock: Clock | None = None,
        changed: Changed | None = None,
    ) -> None:
        """`changed`: told when a callback is closed (the wallboards refresh)."""
        self._repo = CallbackRepository(pool)
        self._hours = hours
        self._tz = ZoneInfo(hours.timezone)
        self._topics = topics
        self._clock = clock or (lambda: datetime.now(UTC))
        self._changed = changed

    async def open(self, user: User) -> CallbackList:
        """The open callbacks, oldest first, those past one working day marked."""
        check(user)
        rows = await self._repo.open()
        now = self._clock()
        out = [self._out(r, now) for r in rows]
        overdue = await self.waiting()
        return CallbackList(open=overdue[0], overdue=overdue[1], callbacks=out)

    async def waiting(self) -> tuple[int, int]:
        """How many callbacks are open now, and how many of them are past one working day."""
        since = await self._repo.open_since()
        now = self._clock()
        return len(since), kpis.overdue_count(since, now, self._hours)

    async def attempt(self, user: User, callback_id: int, attempt: AttemptIn) -> AttemptOut:
        check(user)
        try:
            closed = await self._repo.attempt(callback_id, user.login, attempt.result, attempt.note)
        except store.CallbackGone:
            raise UnknownCallback(f"Le rappel n° {callback_id} n'existe pas.") from None
        except store.CallbackClosed as exc:
            raise CallbackClosed(f"Le rappel n° {callback_id} est {STATUS_WORDS.get(exc.status, 'clos')}.") from None
        if closed.changed and self._changed is not None:
            self._changed()
        if closed.status == "done":
            message = f"Rappel n° {callback_id} effectué."
        else:
            label = RESULT_LABELS[attempt.result].lower()
            message = f"Tentative enregistrée pour le rappel n° {callback_id} ({label}) : le rappel reste en attente."
        return AttemptOut(id=callback_id, status=closed.status, message=message)

    async def cancel(self, user: User, callback_id: int, cancel: CancelIn) -> AttemptOut:
        check(user)
        try:
            await self._repo.cancel(callback_id, user.login, cancel.reason)
        except store.CallbackGone:
            raise UnknownCallback(f"Le rappel n° {callback_id} n'existe pas.") from None
        except store.CallbackClosed as exc:
            raise CallbackClosed(f"Le rappel n° {callback_id} est {STATUS_WORDS.get(exc.status, 'clos')}.") from None
        if self._changed is not None:
            self._changed()
        return AttemptOut(id=callback_id, status="cancelled", message=f"Rappel n° {callback_id} annulé.")

    def _out(self, r: Row, now: datetime) -> CallbackOut:
        number = r["caller_number"]
        result = r["last_attempt_result"]
        return CallbackOut(
            id=r["id"],
            linkedid=r["linkedid"],
            number=number,
            number_shown=french_display(number) if number else "numéro inconnu",
            commune_insee=r["commune_insee"],
            commune=r["commune_name"],
            topic=r["topic"],
            topic_label=None if r["topic"] is None else self._topics.get(r["topic"], r["topic"]),
            slot=r["slot"],
            requested_at=r["created_at"],
            requested_shown=r["created_at"].astimezone(self._tz).strftime("%d/%m/%Y %H:%M"),
            requested_by=r["requested_by"],
            requested_by_name=r["requested_by_name"],
            attempts=r["attempts"],
            last_attempt_result=result,
            last_attempt_label=None if result is None else RESULT_LABELS.get(result, result),
            last_attempt_at=r["last_attempt_at"],
            overdue=kpis.is_overdue(r["created_at"], now, self._hours),
            owner=r["owner_login"],
        )
