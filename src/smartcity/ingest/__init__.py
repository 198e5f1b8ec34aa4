"""Data collection (数据采集): batches, validation rules, quarantine, quality reports and feedback to departments."""

from pathlib import Path

from smartcity.ingest.api import UPLOAD_PATH
from smartcity.ingest.api import router as api_router
from smartcity.ingest.cli import app as cli_app
from smartcity.ingest.cli import ingest as ingest_command
from smartcity.ingest.pages import CONSOLE_UPLOAD_PATH, catalogue_links
from smartcity.ingest.pages import router as page_router
from smartcity.ingest.permissions import INGEST_READ, PERMISSIONS
from smartcity.ingest.pipeline import run_job as process_batch_job
from smartcity.ingest.pulls import RUN_JOB, enqueue_due
from smartcity.ingest.pulls import run_job as run_pull_job
from smartcity.ingest.service import PROCESS_JOB
from smartcity.platform.console import add_slot
from smartcity.platform.i18n import N_
from smartcity.platform.jobs.service import JobKind, PeriodicTask
from smartcity.platform.modules import Module, NavItem

add_slot("catalog.entry.actions", catalogue_links)


def _enqueue_due_pulls() -> None:
    enqueue_due()


module = Module(
    name="ingest",
    title=N_("Data collection"),
    permissions=PERMISSIONS,
    api=api_router,
    pages=page_router,
    cli=cli_app,
    cli_name="data",
    commands=(ingest_command,),
    nav=(NavItem(N_("Data collection"), "/ingest", INGEST_READ),),
    template_dirs=(str(Path(__file__).parent / "templates"),),
    jobs=(
        # A batch that fails is reported on the batch, and a person re-runs it (the handler does not raise for that).
        # A batch is resumed once if its worker dies (a restart); one that kills its worker twice is left failed.
        JobKind(PROCESS_JOB, process_batch_job, max_attempts=2),
        JobKind(RUN_JOB, run_pull_job, max_attempts=1),
    ),
    periodic=(PeriodicTask("ingest.due_pulls", 60.0, _enqueue_due_pulls),),
    streamed_uploads=(UPLOAD_PATH, CONSOLE_UPLOAD_PATH),
)
