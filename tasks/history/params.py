"""The history's query parameters, validated once for the pages and the JSON API alike.

One schema means a shared link, the API and the export all accept exactly the same
filters, with the same errors; the sort keys are a closed list so no user string ever
reaches ORDER BY.
"""

from datetime import date
from typing import Literal

import pydantic
from ninja import Schema
from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from core.errors import AppError
from core.validation_messages import details_of
from tasks.models import Task

ORDER_FIELDS = ("created_at", "filename", "status", "processing_seconds")
ORDERINGS = tuple(f for name in ORDER_FIELDS for f in (name, f"-{name}"))
Ordering = Literal[ORDERINGS]  # type: ignore[valid-type]
DEFAULT_ORDERING = "-created_at"
PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
STATUS_VALUES = tuple(Task.Status.values)
# Dates the filters take: wide enough for any real history, far from the calendar's edges.
FIRST_DATE, LAST_DATE = date(1970, 1, 1), date(2999, 12, 31)


class TaskFilters(Schema):
    """Filters of the task list; also the stats' date range and the export's rows."""

    status: list[Literal[STATUS_VALUES]] = Field(  # type: ignore[valid-type]
        default_factory=list, description="Repeatable: tasks in any of these statuses")
    q: str = Field("", max_length=200, description="File name contains (case-insensitive)")
    created_from: date | None = Field(None, description="ISO date, inclusive (in TIME_ZONE)")
    created_to: date | None = Field(None, description="ISO date, inclusive (in TIME_ZONE)")
    ordering: Ordering = Field(DEFAULT_ORDERING, description="Sort key, '-' for descending")

    @field_validator("created_from", "created_to", mode="before")
    @classmethod
    def _empty_date_is_none(cls, value):
        return None if value == "" else value

    @field_validator("created_from", "created_to")
    @classmethod
    def _in_supported_range(cls, value):
        """Dates at the calendar's edges (9999-12-31, 0001-01-01) would overflow a day's bounds."""
        if value is not None and not FIRST_DATE <= value <= LAST_DATE:
            raise PydanticCustomError("date_out_of_range", "out of range", {"first": FIRST_DATE, "last": LAST_DATE})
        return value

    @field_validator("status", mode="before")
    @classmethod
    def _drop_empty_statuses(cls, value):
        if isinstance(value, str):
            value = [value]
        return [v for v in value if v != ""] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _range_in_order(self):
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise PydanticCustomError("date_range", "The 'From' date must be on or before the 'To' date.")
        return self

    def as_dict(self) -> dict:
        """The selectors' filters dict (see tasks.selectors.task_list)."""
        return {"status": list(dict.fromkeys(self.status)), "q": self.q.strip(),
                "created_from": self.created_from, "created_to": self.created_to, "ordering": self.ordering}


class PageParams(Schema):
    page: int = Field(1, ge=1, le=10_000_000, description="1-based page number")
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description=f"Rows per page (max {MAX_PAGE_SIZE})")


def _fields(data, names, multi=()):
    """Only the given keys of a QueryDict or dict; multi keys as lists; empty values dropped."""
    out = {}
    for name in names:
        if name in multi:
            values = data.getlist(name) if hasattr(data, "getlist") else data.get(name, [])
            if isinstance(values, str):
                values = [values]
            values = [v for v in values if v not in ("", None)]
            if values:
                out[name] = values
        else:
            value = data.get(name)
            if isinstance(value, list):
                value = value[-1] if value else None
            if value not in ("", None):
                out[name] = value
    return out


def parse_filters(data) -> TaskFilters:
    """TaskFilters from a QueryDict or a dict; AppError (invalid_input) whose details name each bad parameter."""
    try:
        return TaskFilters.model_validate(
            _fields(data, ("status", "q", "created_from", "created_to", "ordering"), multi=("status",)))
    except pydantic.ValidationError as exc:
        details = details_of(exc.errors())  # each message names its parameter in words
        raise AppError(" ".join(details.values()), code="invalid_input", details=details) from None
