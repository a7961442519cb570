"""The statistics slice's wire models: the report's query, the report (JSON API and pages), a drill-down page."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Grouping = Literal["day", "week", "month"]
Compare = Literal["none", "month", "year"]
Dimension = Literal[
    "day",
    "week",
    "month",
    "hour",
    "weekday",
    "topic",
    "subtopic",
    "outcome",
    "service",
    "partner",
    "commune",
    "epci",
    "advisor",
    "caller_kind",
]
# The breakdowns of a report, in the order the page shows them (the time one is the chosen grouping).
BREAKDOWNS: tuple[Dimension, ...] = (
    "hour",
    "weekday",
    "topic",
    "subtopic",
    "outcome",
    "service",
    "partner",
    "commune",
    "epci",
    "advisor",
    "caller_kind",
)
DIMENSION_LABELS: dict[str, str] = {
    "day": "Jour",
    "week": "Semaine",
    "month": "Mois",
    "hour": "Heure d'arrivée",
    "weekday": "Jour de la semaine",
    "topic": "Thème",
    "subtopic": "Sous-thème",
    "outcome": "Issue",
    "service": "Service de transfert",
    "partner": "Partenaire",
    "commune": "Commune",
    "epci": "Intercommunalité (EPCI)",
    "advisor": "Conseiller",
    "caller_kind": "Type d'appelant",
}


class ReportQuery(BaseModel):
    """A report's period (dates in the line's time zone, both included), time grouping and comparison."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    end: date
    grouping: Grouping = "day"
    compare: Compare = "none"


class FigureOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    value: float | None = Field(description="share in [0, 1], seconds, or a count; null when « — »")
    numerator: float
    denominator: float | None
    shown: str = Field(description="as the page shows it, in French")
    target: float | None = None
    meets_target: bool | None = None


class GroupOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str | None = Field(description="null: « non renseigné »")
    label: str
    share: float | None = Field(description="the group's calls / the period's calls")
    figures: dict[str, FigureOut]


class AdvisorPresenceOut(BaseModel):
    """An advisor's time over the period, from the presence log (seconds)."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="the advisor's phone interface (the key of the `advisor` breakdown)")
    advisor: str
    logged_in: float
    paused: float
    busy: float = Field(description="on call and in wrap-up")
    occupancy: FigureOut
    pauses: dict[str, float] = Field(description="pause seconds by reason (French label)")


class SupervisorActionOut(BaseModel):
    """A pause or a log-out a supervisor imposed on an advisor (presence log, `by_login` and `note`)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    at_shown: str = Field(description="dd/mm/yyyy hh:mm:ss in the line's time zone")
    key: str = Field(description="the advisor's phone interface")
    advisor: str
    action: Literal["pause", "logout"]
    action_label: str
    reason: str = Field(description="the pause's reason (French label); empty for a log-out")
    by: str = Field(description="the supervisor's login")
    note: str | None = Field(description="what the supervisor wrote")
    seconds: float = Field(description="how long it lasted: until the advisor's next change, within the period")


class AdvisorActionsOut(BaseModel):
    """The pauses and log-outs supervisors imposed on one advisor over the period."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="the advisor's phone interface")
    advisor: str
    pauses: int
    pause_seconds: float
    logouts: int
    logout_seconds: float
    by: list[str] = Field(description="the supervisors' logins, by number of actions")
    reasons: dict[str, int] = Field(description="imposed pauses by reason (French label)")


class PeriodOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date
    end: date
    label: str
    figures: dict[str, FigureOut]
    breakdowns: dict[str, list[GroupOut]]
    presence: list[AdvisorPresenceOut] = Field(default_factory=list)
    pauses: dict[str, float] = Field(default_factory=dict, description="every advisor's pause seconds by reason")
    supervisor_actions: list[AdvisorActionsOut] = Field(
        default_factory=list, description="per advisor, the pauses and log-outs a supervisor imposed"
    )
    supervisor_action_log: list[SupervisorActionOut] = Field(
        default_factory=list, description="each action a supervisor took, by time (the latest 500)"
    )
    callbacks: dict[str, FigureOut] = Field(
        default_factory=dict,
        description="the callbacks created in the period: created, done, cancelled, completion, done within one"
        " working day, median delay, attempts per callback (screenpop.statistics.kpis.CallbackFigures)",
    )


class ReportOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    grouping: Grouping
    compare: Compare
    timezone: str
    report: PeriodOut
    comparison: PeriodOut | None = None


class UnansweredTopicOut(BaseModel):
    """One call topic's questions without an answer: per week shown, in all, and the latest questions asked."""

    model_config = ConfigDict(frozen=True)

    key: str | None
    label: str
    weeks: list[int]  # in the order of UnansweredOut.weeks
    total: int
    questions: list[str]  # the latest, each cut to QUESTION_SHOWN characters


class UnansweredOut(BaseModel):
    """The calls qualified « pas de réponse trouvée » by topic and week (KPIS.md, "Unanswered questions")."""

    model_config = ConfigDict(frozen=True)

    weeks: list[str]  # Mondays (yyyy-mm-dd), the latest weeks that have some, oldest first
    week_labels: list[str]
    more_weeks: bool  # earlier weeks of the period had some too (not shown)
    topics: list[UnansweredTopicOut]


class CallRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    linkedid: str
    arrived_at: str = Field(description="dd/mm/yyyy hh:mm:ss in the line's time zone")
    number: str = Field(description="French format; empty when withheld")
    status: str
    wait_seconds: float
    wait: str
    talk_seconds: float | None
    outcome: str
    topic: str
    commune: str
    advisor: str


class DrillOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    figure: str
    figure_label: str
    dimension: Dimension | None
    key: str | None
    group_label: str | None
    start: date
    end: date
    total: int  # the figure's own count: every call of the list
    page: int  # 0 when reached by a cursor
    pages: int
    page_size: int
    numbered_pages: int  # the pages reachable by number (the first DRILL_OFFSET_MAX calls)
    next_after: str | None  # the cursor of the next page (`after`), None on the last
    previous_before: str | None  # the cursor of the previous page (`before`), None on the first
    calls: list[CallRow]
