"""Parameter models shared by the metrics; strings from a CLI or a URL validate into these types."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from analytics.filters import RowFilter


class MetricParams(BaseModel):
    """Every metric takes a reporting time zone; test accounts are always excluded (METRICS.md D.7.8)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field("UTC", description="IANA time zone days, weeks and months are cut in")
    filters: RowFilter = Field(
        default_factory=RowFilter,
        description="Accounts to include, by processor, plan, country, department, user_type",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC or Europe/Berlin"
            ) from None
        return value


class PeriodParams(MetricParams):
    """A closed range of calendar days [start, end] in the reporting time zone."""

    start: date = Field(description="First day, inclusive (YYYY-MM-DD)")
    end: date = Field(description="Last day, inclusive (YYYY-MM-DD)")

    @model_validator(mode="after")
    def _ordered(self) -> PeriodParams:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


Interval = Literal["day", "week", "month"]


def empty_to_none(value: object) -> str | None:
    """A text parameter stripped, or None when it is missing or blank ("any event")."""
    return None if value is None or not str(value).strip() else str(value).strip()


# An optional event name: blank (from a form or a CLI) means "any event".
AnyEvent = Annotated[str | None, BeforeValidator(empty_to_none)]
