"""Pydantic I/O of the data collection API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smartcity.catalog.schemas import DepartmentRef
from smartcity.ingest.rules.kinds import RuleKind
from smartcity.ingest.vocab import BatchStatus, FeedbackStatus, Severity, Source, Stage


class RowCounts(BaseModel):
    """How a batch's rows fared."""

    total: int = Field(description="records read from the file")
    accepted: int = Field(description="records without errors, written or found unchanged")
    rejected: int = Field(description="records kept out of the store (quarantined)")
    warned: int = Field(description="accepted records with warnings")
    inserted: int
    updated: int
    unchanged: int


class BatchError(BaseModel):
    """Why a batch failed as a whole (nothing was written)."""

    message: str
    field: str | None = None


class Progress(BaseModel):
    stage: Stage
    done: int
    total: int


class BatchRead(BaseModel):
    """A batch and how it went."""

    id: int
    entry_code: str
    version: int
    department: DepartmentRef
    submitted_by: str
    source: Source
    filename: str
    file_hash: str
    file_size: int
    file_format: str | None
    encoding: str | None
    headers: list[str]
    mapping: dict[str, str | None]
    status: BatchStatus
    stage: Stage
    progress: Progress | None = None
    rows: RowCounts
    score: float | None
    error: BatchError | None
    created_at: dt.datetime
    received_at: dt.datetime = Field(description="when the data reached the hub (quality figures are by this date)")
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class MappingIn(BaseModel):
    """Header → field name, or null to ignore the column; every header of the file must appear."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str | None] = Field(max_length=500)


class FieldRef(BaseModel):
    name: str
    title: str
    required: bool
    key: bool


class MappingRead(BaseModel):
    """The mapping of a batch's headers, and what still needs a person."""

    batch_id: int
    headers: list[str]
    columns: dict[str, str | None]
    unmapped: list[str]
    missing_required: list[str]
    duplicates: dict[str, list[str]]
    fields: list[FieldRef]
    samples: dict[str, list[str | None]] = Field(default_factory=dict, description="first values of each column")


class ProblemRead(BaseModel):
    field: str
    kind: str
    detail: str
    severity: Severity
    rule_id: int | None
    message: str


class ProblemRowRead(BaseModel):
    """A quarantined (or warned) row: its number in the file, key, values as sent and its problems."""

    row: int
    key: str | None
    values: dict[str, str | None]
    problems: list[ProblemRead]


class RuleCount(BaseModel):
    field: str
    title: str
    kind: str
    detail: str
    label: str
    severity: Severity
    rule_id: int | None
    rows: int


class FieldCount(BaseModel):
    field: str
    title: str
    rows: int


class QualityReport(BaseModel):
    """A batch's quality report: counts per rule and field, a sample of bad rows, a score out of 100."""

    batch_id: int
    entry_code: str
    version: int
    status: BatchStatus
    score: float | None
    rows: RowCounts
    by_rule: list[RuleCount]
    by_field: list[FieldCount]
    sample: list[ProblemRowRead]
    skipped_rules: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]
    titles: dict[str, str] = Field(default_factory=dict, description="field name → Chinese title")


class RuleIn(BaseModel):
    """A validation rule on one field of an entry."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    field: str = Field(min_length=1, max_length=63)
    kind: RuleKind
    params: dict[str, Any] = Field(default_factory=dict)
    severity: Severity = Severity.ERROR
    enabled: bool = True
    note: str = Field(default="", max_length=200)


class RuleRead(RuleIn):
    id: int
    entry_code: str
    description: str
    updated_by: str
    updated_at: dt.datetime


class FeedbackRead(BaseModel):
    """A problem record fed back to its providing department."""

    id: int
    entry_code: str
    version: int
    department: DepartmentRef
    record_key: str | None
    status: FeedbackStatus
    row: int
    values: dict[str, str | None]
    problems: list[ProblemRead]
    first_batch_id: int
    last_batch_id: int
    corrected_batch_id: int | None
    dispute_reason: str
    resolution_note: str
    handled_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None


class FeedbackDispute(BaseModel):
    """Why the department holds that the record is right."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=2, max_length=1000)


class FeedbackReview(BaseModel):
    """The hub's note on a review decision."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(default="", max_length=1000)


class PullIn(BaseModel):
    """A scheduled pull: a read-only SQL query against a department database."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=100)
    entry_code: str = Field(min_length=3, max_length=40)
    url: str = Field(min_length=8, max_length=1000, description="SQLAlchemy URL, e.g. postgresql://user:pw@host/db")
    query: str = Field(min_length=8, max_length=20000, description="one SELECT statement")
    every_minutes: int = Field(ge=5, le=60 * 24 * 31)
    enabled: bool = True


class PullUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str | None = Field(default=None, min_length=8, max_length=1000)
    query: str | None = Field(default=None, min_length=8, max_length=20000)
    every_minutes: int | None = Field(default=None, ge=5, le=60 * 24 * 31)
    enabled: bool | None = None


class PullRead(BaseModel):
    id: int
    name: str
    department: DepartmentRef
    entry_code: str
    url: str = Field(description="the URL with its password hidden")
    query: str
    every_minutes: int
    enabled: bool
    next_run_at: dt.datetime
    last_run_at: dt.datetime | None
    last_batch_id: int | None
    last_error: str


class CodeTableIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=100)
    codes: dict[str, str] = Field(min_length=1, max_length=20000)


class CodeTableRead(BaseModel):
    name: str
    title: str
    builtin: bool
    standard: str
    size: int
    codes: dict[str, str] | None = None


class DepartmentQuality(BaseModel):
    department: DepartmentRef
    entries: int
    records: int
    batches: int
    rows_received: int
    rows_rejected: int = Field(description="rows quarantined for errors")
    rows_warned: int = Field(description="rows stored with warnings (e.g. a cross-department mismatch)")
    problem_rate: float | None = Field(description="(rejected + warned) / received")
    open_feedback: int
    disputed_feedback: int


class QualitySeries(BaseModel):
    days: list[dt.date]
    received: list[int]
    rejected: list[int] = Field(description="problem rows per day: quarantined or warned")
    feedback_opened: list[int]
    feedback_closed: list[int]


class QualityOverview(BaseModel):
    """Each department's record counts, problem rate and open feedback, and the trend over time."""

    since: dt.date
    departments: list[DepartmentQuality]
    series: QualitySeries
