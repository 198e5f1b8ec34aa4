"""Controlled vocabularies of data collection, with their zh-CN names as message ids."""

from __future__ import annotations

import enum

from smartcity.platform.i18n import N_


class BatchStatus(enum.StrEnum):
    """Where a batch is in its life."""

    AWAITING_MAPPING = "awaiting_mapping"  # uploaded; some columns still need a field
    QUEUED = "queued"
    RUNNING = "running"
    COMMITTED = "committed"
    FAILED = "failed"  # the file could not be read as a whole; nothing was written


class Stage(enum.StrEnum):
    """What a running batch is doing."""

    WAITING = "waiting"
    READING = "reading"
    VALIDATING = "validating"
    WRITING = "writing"
    DONE = "done"


class Source(enum.StrEnum):
    """How a batch arrived."""

    UPLOAD = "upload"  # console upload
    API = "api"
    CLI = "cli"
    PULL = "pull"  # scheduled pull from a department database


class Severity(enum.StrEnum):
    """An error keeps a row out of the store; a warning is reported and the row is kept."""

    ERROR = "error"
    WARNING = "warning"


class FeedbackStatus(enum.StrEnum):
    """问题数据反馈 lifecycle: open → corrected → verified, or open → disputed → open/dismissed."""

    OPEN = "open"
    DISPUTED = "disputed"
    CORRECTED = "corrected"
    VERIFIED = "verified"
    DISMISSED = "dismissed"


ACTIVE_FEEDBACK = (FeedbackStatus.OPEN, FeedbackStatus.DISPUTED)


class FileFormat(enum.StrEnum):
    """Formats a batch can arrive in (detected from the content, not the file name)."""

    CSV = "csv"
    XLSX = "xlsx"
    JSONL = "jsonl"


LABELS: dict[str, dict[str, str]] = {
    "status": {
        BatchStatus.AWAITING_MAPPING: N_("Awaiting column mapping"),
        BatchStatus.QUEUED: N_("Queued"),
        BatchStatus.RUNNING: N_("Running"),
        BatchStatus.COMMITTED: N_("Committed"),
        BatchStatus.FAILED: N_("Failed"),
    },
    "stage": {
        Stage.WAITING: N_("Waiting"),
        Stage.READING: N_("Reading the file"),
        Stage.VALIDATING: N_("Checking the rules"),
        Stage.WRITING: N_("Writing to the store"),
        Stage.DONE: N_("Done"),
    },
    "source": {
        Source.UPLOAD: N_("Console upload"),
        Source.API: N_("API"),
        Source.CLI: N_("Command line"),
        Source.PULL: N_("Scheduled pull"),
    },
    "severity": {Severity.ERROR: N_("Error"), Severity.WARNING: N_("Warning")},
    "feedback": {
        FeedbackStatus.OPEN: N_("Open"),
        FeedbackStatus.DISPUTED: N_("Disputed"),
        FeedbackStatus.CORRECTED: N_("Corrected"),
        FeedbackStatus.VERIFIED: N_("Verified"),
        FeedbackStatus.DISMISSED: N_("Dismissed"),
    },
}
