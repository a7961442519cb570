"""Settings: read once at start, from the environment (prefix GPS_ADMIN_), then a TOML file, then defaults.

The TOML file is `config/gps-admin.toml` next to this module unless GPS_ADMIN_CONFIG_FILE names another one.
Secrets are `SecretStr`: they never appear in reprs or logs. A wrong value stops the start with a message
naming the setting (see `load_settings`).
"""

from __future__ import annotations

import os
import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "GPS_ADMIN_"
DEFAULT_TOML = Path(__file__).with_name("gps-admin.toml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ORIGIN = re.compile(r"https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?")  # scheme, host, port: no path
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class OpeningSpan(BaseModel):
    """One opening span of a day, [start, end) in local time, exact to the second.

    An `end` before `start` runs past midnight: 22:00–02:00 opens at 22:00 and closes at 02:00 the next day
    (22:00–00:00 closes at midnight). The span belongs to the day it starts: that day's public holiday or
    exceptional closure closes all of it, the next day's does not. `end == start` is refused (for a whole
    day, 00:00–24:00). An end of "24:00" is the day's last instant (`time.max`)."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time

    @field_validator("end", mode="before")
    @classmethod
    def _midnight(cls, value: Any) -> Any:
        return time.max if value in ("24:00", "24:00:00") else value

    @model_validator(mode="after")
    def _ordered(self) -> OpeningSpan:
        if self.end == self.start:
            raise ValueError(f"start and end are both {self.start}: an empty span")
        return self

    @property
    def overnight(self) -> bool:
        """Whether the span runs past midnight into the next day."""
        return self.end < self.start


def _default_week() -> dict[str, tuple[OpeningSpan, ...]]:
    weekday = (OpeningSpan(start=time(8), end=time(21)),)
    return {
        "mon": weekday,
        "tue": weekday,
        "wed": weekday,
        "thu": weekday,
        "fri": weekday,
        "sat": (OpeningSpan(start=time(8), end=time(14)),),
        "sun": (),
    }


class OpeningHours(BaseModel):
    """Opening hours: weekly spans in `timezone`, closed on the public holidays of `holidays_country` /
    `holidays_subdiv`, with exceptional closures and openings. The line's (`Settings.hours`), and a service's or a
    partner's: its weekly spans with the line's calendar (`telephony.hours.weekly`). Checked by
    `telephony.hours.is_open` and `next_opening`."""

    model_config = ConfigDict(frozen=True)

    timezone: str = "Europe/Paris"
    week: dict[str, tuple[OpeningSpan, ...]] = Field(default_factory=_default_week)
    holidays_country: str = "FR"
    holidays_subdiv: str | None = None  # e.g. "57" for Moselle's extra holidays
    closed_dates: tuple[date, ...] = ()  # extra closures (bridges, exceptional days)
    open_dates: tuple[date, ...] = ()  # exceptional openings on a holiday (weekly hours apply)

    @field_validator("week")
    @classmethod
    def _known_days(cls, value: dict[str, tuple[OpeningSpan, ...]]) -> dict[str, tuple[OpeningSpan, ...]]:
        unknown = set(value) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        return {day: tuple(value.get(day, ())) for day in WEEKDAYS}

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class LineSettings(BaseModel):
    """How the public line appears in Asterisk."""

    model_config = ConfigDict(frozen=True)

    public_numbers: tuple[str, ...] = ("0800123456",)  # the dialled number(s) of the line (DID)
    inbound_contexts: tuple[str, ...] = ("public",)  # dialplan contexts where the line's calls arrive
    queue: str = "gps"
    default_region: str = "FR"  # for numbers without a country prefix


def _default_skills() -> dict[str, str]:
    return {
        "taxes": "Impôts et fiscalité",
        "secondary_schools": "Collèges",
        "health": "Santé",
        "elderly": "Personnes âgées",
        "disability": "Handicap (MDPH)",
        "social_aid": "Aide sociale, RSA",
        "childhood": "Enfance et famille",
        "roads": "Routes et transports",
    }


def _default_pause_reasons() -> dict[str, str]:
    return {
        "break": "Pause",
        "meal": "Repas",
        "training": "Formation",
        "back_office": "Travail administratif",
    }


class RoutingSettings(BaseModel):
    """How calls are shared among advisors (see README, "Routing")."""

    model_config = ConfigDict(frozen=True)

    skills: dict[str, str] = Field(default_factory=_default_skills)  # key → French label
    pause_reasons: dict[str, str] = Field(default_factory=_default_pause_reasons)  # key → French label
    wrapup_max: Annotated[float, Field(gt=0, le=3600)] = 120.0  # seconds of wrap-up at most
    # seconds of wrap-up at least after a call, even when its qualification is saved sooner (or during the call):
    # the advisor finishes a sentence before the next call rings; 0: none. Never longer than `wrapup_max`.
    wrapup_min: Annotated[float, Field(ge=0, le=600)] = 5.0
    continuity_wait: Annotated[float, Field(ge=0, le=120)] = 10.0  # wait this long for the previous advisor
    continuity_days: Annotated[int, Field(ge=0, le=365)] = 30  # "recent record": within these days
    # the look-up of the previous advisor holds its call (and those behind it) this long at most
    continuity_lookup_within: Annotated[float, Field(gt=0, le=30)] = 0.5
    claim_ttl: Annotated[float, Field(gt=0, le=600)] = 60.0  # Redis claims on calls/advisors expire after

    @field_validator("skills", "pause_reasons")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for key, label in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", key):
                raise ValueError(f"key {key!r} must be lowercase letters, digits or _ (at most 40)")
            if not label.strip() or len(label) > 80:
                raise ValueError(f"label of {key!r} must be 1 to 80 characters")
        return value


class Topic(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str = Field(min_length=1, max_length=80)
    subtopics: dict[str, str] = Field(default_factory=dict)  # key → French label


def _default_topics() -> dict[str, Topic]:
    return {
        "taxes": Topic(
            label="Impôts et fiscalité", subtopics={"income_tax": "Impôt sur le revenu", "local_tax": "Taxe foncière"}
        ),
        "secondary_schools": Topic(
            label="Collèges",
            subtopics={"enrolment": "Inscription", "canteen": "Restauration", "transport": "Transport scolaire"},
        ),
        "health": Topic(label="Santé", subtopics={"pmi": "PMI", "vaccination": "Vaccination"}),
        "elderly": Topic(label="Personnes âgées", subtopics={"apa": "APA", "nursing_home": "Établissement (EHPAD)"}),
        "disability": Topic(label="Handicap", subtopics={"mdph_file": "Dossier MDPH", "pch": "PCH"}),
        "social_aid": Topic(label="Aide sociale, RSA", subtopics={"rsa": "RSA", "housing": "Logement"}),
        "childhood": Topic(
            label="Enfance et famille", subtopics={"childcare": "Garde d'enfants", "adoption": "Adoption"}
        ),
        "roads": Topic(label="Routes et transports", subtopics={"works": "Travaux", "winter": "Viabilité hivernale"}),
        "other": Topic(label="Autre demande"),
    }


def _default_partners() -> dict[str, str]:
    return {
        "mdph": "MDPH",
        "prefecture": "Préfecture",
        "caf": "CAF",
        "cpam": "CPAM",
        "social_landlord": "Bailleur social",
        "town_hall": "Mairie",
    }


class DeskSettings(BaseModel):
    """What the advisor desk offers (qualification lists), French labels."""

    model_config = ConfigDict(frozen=True)

    topics: dict[str, Topic] = Field(default_factory=_default_topics)
    partners: dict[str, str] = Field(default_factory=_default_partners)
    note_max: Annotated[int, Field(ge=100, le=10_000)] = 2000
    departement: str = Field(default="62", pattern=r"^[0-9][0-9AB]?[0-9]?$")  # its communes come first
    history_size: Annotated[int, Field(ge=1, le=100)] = 10
    secure_cookies: bool = True  # set false only behind plain HTTP on a non-localhost name (not advised)
    session_hours: Annotated[float, Field(gt=0, le=24)] = 12.0
    login_attempts: Annotated[int, Field(ge=1, le=100)] = 5  # failed logins per login and address …
    login_window: Annotated[float, Field(gt=0, le=86400)] = 900.0  # … within this many seconds, then refused


class StatisticsSettings(BaseModel):
    """The thresholds of the KPI dictionary (../shared/design/KPIS.md, `screenpop.statistics.kpis`) and the bounds
    of the reports. Changing a threshold changes every figure computed after, over the stored facts."""

    model_config = ConfigDict(frozen=True)

    short_abandon_seconds: Annotated[float, Field(ge=0, le=120)] = 5.0  # an abandon after a shorter wait is short
    service_level_seconds: Annotated[float, Field(gt=0, le=600)] = 20.0  # T of the service level (answered ≤ T)
    answer_rate_target: Annotated[float, Field(gt=0, le=1)] = 0.85  # taux de décroché (Services Publics+)
    service_level_target: Annotated[float, Field(gt=0, le=1)] = 0.80
    repeat_days: Annotated[int, Field(ge=1, le=90)] = 7  # a repeat caller called within these days before
    max_range_days: Annotated[int, Field(ge=1, le=3700)] = 1100  # a report covers at most this many days
    drill_page_size: Annotated[int, Field(ge=10, le=500)] = 50  # calls per page of a drill-down


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    # Storage. None means "start the embedded server under data_dir".
    database_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".local" / "share" / "gps-admin")

    # Asterisk Manager Interface.
    ami_host: str = "127.0.0.1"
    ami_port: Annotated[int, Field(ge=1, le=65535)] = 5038
    ami_username: str = "gps-admin"
    ami_secret: SecretStr = SecretStr("")
    ami_ping_interval: Annotated[float, Field(gt=0, le=300)] = 5.0
    ami_ping_timeout: Annotated[float, Field(gt=0, le=60)] = 3.0
    ami_reconnect_min: Annotated[float, Field(gt=0, le=60)] = 0.5
    ami_reconnect_max: Annotated[float, Field(gt=0, le=600)] = 30.0
    ami_action_timeout: Annotated[float, Field(gt=0, le=120)] = 10.0

    # HTTP.
    http_host: str = "127.0.0.1"
    http_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # Where browsers open the pages from ("https://gps.example.fr"): the desk's websocket is refused to any other
    # origin. Empty: the listener's own http://host:port (and its localhost names when it listens on loopback).
    public_origins: tuple[str, ...] = ()

    line: LineSettings = Field(default_factory=LineSettings)
    hours: OpeningHours = Field(default_factory=OpeningHours)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    desk: DeskSettings = Field(default_factory=DeskSettings)
    statistics: StatisticsSettings = Field(default_factory=StatisticsSettings)

    log_level: str = "INFO"
    db_write_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @field_validator("public_origins")
    @classmethod
    def _origins(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = []
        for value in values:
            origin = value.strip().rstrip("/").lower()
            if not ORIGIN.fullmatch(origin):
                raise ValueError(f"{value!r} is not an origin such as https://gps.example.fr or http://10.0.0.5:8080")
            cleaned.append(origin)
        return tuple(cleaned)

    @property
    def origins(self) -> frozenset[str]:
        """The origins the pages are served from (`public_origins`, or the listener's own)."""
        if self.public_origins:
            return frozenset(self.public_origins)
        host = self.http_host.lower()
        hosts = [host]
        if host in LOOPBACK_NAMES:
            hosts = list(LOOPBACK_NAMES)
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return frozenset(f"http://{f'[{h}]' if ':' in h else h}{port}" for h in hosts)

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get(f"{ENV_PREFIX}CONFIG_FILE", str(DEFAULT_TOML)))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path))


class SettingsError(Exception):
    """A setting has a wrong value: the message names it (as an environment variable)."""


def _setting_name(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    return ENV_PREFIX + "__".join(parts).upper() if parts else "settings"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; raise SettingsError with every wrong setting named."""
    toml_path = Path(os.environ.get(f"{ENV_PREFIX}CONFIG_FILE", str(DEFAULT_TOML)))
    if f"{ENV_PREFIX}CONFIG_FILE" in os.environ and not toml_path.is_file():
        raise SettingsError(f"{ENV_PREFIX}CONFIG_FILE: no such file {toml_path}")
    known = {name.upper() for name in Settings.model_fields} | {"CONFIG_FILE"}
    unknown = sorted(
        key for key in os.environ if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].split("__")[0] not in known
    )
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(unknown)} (a typo?)")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False, include_input=False):
            lines.append(f"{_setting_name(err['loc'])}: {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
    except ValueError as exc:  # TOML syntax errors and the like
        raise SettingsError(f"cannot read settings ({toml_path}): {exc}") from None
