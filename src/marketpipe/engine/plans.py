"""Plans as data: the Alpha Vantage news weekday plans and the X account schedules (YAML under
``marketpipe/plans``), validated with pydantic and evaluated on the run's logical date.

"The run's logical date" is the day the run is for; with Airflow 3's cron timetables that is the
scheduled time itself, so Monday's run executes Monday's plan (the seed used Airflow 2's
``execution_date`` = the previous day, and the wall clock for X).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from marketpipe.http.errors import ConfigurationError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SHORT_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NEWS_TOPICS = frozenset(
    {
        "blockchain", "earnings", "ipo", "mergers_and_acquisitions", "financial_markets", "economy_fiscal",
        "economy_monetary", "economy_macro", "energy_transportation", "finance", "life_sciences",
        "manufacturing", "real_estate", "retail_wholesale", "technology",
    }
)  # fmt: skip


# -- Alpha Vantage news weekday plans ------------------------------------------------------------------


class NewsQuery(BaseModel):
    """One NEWS_SENTIMENT query: a label stored as ``query_type`` and the request parameters."""

    model_config = {"frozen": True}

    label: str
    params: dict[str, str]

    @property
    def param_string(self) -> str:
        """The ``query_params`` text stored with each article (seed-compatible)."""
        return "&".join(f"{k}={v}" for k, v in self.params.items())


class NewsDay(BaseModel):
    theme: str = ""
    topics: list[str] = Field(default_factory=list)
    tickers: list[str] = Field(default_factory=list)
    combos: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, topics: list[str]) -> list[str]:
        for entry in topics:
            topic, _, sort = entry.partition(":")
            if topic not in NEWS_TOPICS or sort not in ("", "LATEST", "RELEVANCE", "EARLIEST"):
                raise ValueError(f"unknown topic or sort {entry!r}")
        return topics

    @field_validator("combos")
    @classmethod
    def _known_combo_topics(cls, combos: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = [topic for topic in combos if topic not in NEWS_TOPICS]
        if unknown:
            raise ValueError(f"unknown combo topics {unknown}")
        return combos

    def queries(self) -> list[NewsQuery]:
        """Topic-only, then ticker-only, then ticker+topic combos (labels are unique per day)."""
        found: list[NewsQuery] = []
        for entry in self.topics:
            topic, _, sort = entry.partition(":")
            params = {"topics": topic, **({"sort": sort} if sort else {})}
            found.append(NewsQuery(label=f"{topic}_{sort.lower()}" if sort else topic, params=params))
        found.extend(NewsQuery(label=f"ticker_{t.lower()}", params={"tickers": t}) for t in self.tickers)
        for topic, tickers in self.combos.items():
            found.extend(
                NewsQuery(label=f"{t.lower()}_{topic}", params={"tickers": t, "topics": topic})
                for t in tickers
            )
        return found


class NewsWeekdayPlan(BaseModel):
    days: dict[Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], NewsDay]

    @field_validator("days")
    @classmethod
    def _every_day(cls, days: dict[str, NewsDay]) -> dict[str, NewsDay]:
        missing = [d for d in WEEKDAYS if d not in days]
        if missing:
            raise ValueError(f"plan lacks {missing}")
        for name, day in days.items():
            labels = [q.label for q in day.queries()]
            if len(labels) != len(set(labels)):
                raise ValueError(f"{name}: duplicate query labels")
        return days

    def queries_for(self, day: date) -> list[NewsQuery]:
        """The queries of the weekday of ``day`` (the run's logical date)."""
        return self.days[WEEKDAYS[day.weekday()]].queries()  # type: ignore[index]


# -- X account schedules -------------------------------------------------------------------------------


class XAccount(BaseModel):
    model_config = {"frozen": True}

    username: str
    category: str | None = None
    every_days: int = Field(default=1, ge=1)
    offset: int = 0
    weekdays: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = ()
    token: int = Field(ge=1, description="1-based index into the X key pool")
    priority: int = 1

    def due_on(self, day: date) -> bool:
        """Weekday rules when given, else ``(day_of_year + offset) % every_days == 0``."""
        if self.weekdays:
            return SHORT_WEEKDAYS[day.weekday()] in self.weekdays
        return (day.timetuple().tm_yday + self.offset) % self.every_days == 0


class XSchedule(BaseModel):
    account_category: str | None = None
    collection_source: str
    accounts: list[XAccount]

    def due_accounts(self, day: date) -> list[XAccount]:
        """Accounts due on ``day``, by priority then as listed."""
        due = [(a.priority, i, a) for i, a in enumerate(self.accounts) if a.due_on(day)]
        return [a for _, _, a in sorted(due, key=lambda t: (t[0], t[1]))]

    def category_of(self, account: XAccount) -> str | None:
        return account.category or self.account_category


# -- loading -------------------------------------------------------------------------------------------


def _read(name: str, path: Path | None) -> Any:
    try:
        text = (
            path.read_text("utf-8")
            if path
            else (resources.files("marketpipe.plans") / name).read_text("utf-8")
        )
        return yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"plan {path or name} cannot be read: {exc}") from None


@lru_cache(maxsize=4)
def news_weekday_plan(path: Path | None = None) -> NewsWeekdayPlan:
    """The AV news weekday plan (the packaged YAML unless ``path`` is given)."""
    try:
        return NewsWeekdayPlan(days=_read("av_news_weekday.yaml", path))
    except ValidationError as exc:
        raise ConfigurationError(f"news weekday plan is invalid: {exc}") from None


@lru_cache(maxsize=4)
def x_schedules(path: Path | None = None) -> dict[str, XSchedule]:
    """The X account schedules by name ("primary", "secondary")."""
    raw = _read("x_accounts.yaml", path)
    try:
        return {name: XSchedule.model_validate(body) for name, body in (raw or {}).items()}
    except ValidationError as exc:
        raise ConfigurationError(f"X account schedule is invalid: {exc}") from None
