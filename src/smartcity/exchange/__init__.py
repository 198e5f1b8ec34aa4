"""Sharing, exchange and open data (共享交换与数据开放): requests and grants between departments, the data service,
change pushes to webhooks, and the public open-data portal with its CKAN Action API and DCAT catalogue."""

from pathlib import Path

from fastapi import APIRouter

from smartcity.exchange import push
from smartcity.exchange.api import router as api_router
from smartcity.exchange.opendata.ckan import router as ckan_router
from smartcity.exchange.opendata.pages import router as portal_router
from smartcity.exchange.pages import request_button
from smartcity.exchange.pages import router as console_router
from smartcity.exchange.permissions import EXCHANGE_READ, PERMISSIONS
from smartcity.ingest.service import BATCH_STORED
from smartcity.platform.console import add_slot
from smartcity.platform.events import Reaction
from smartcity.platform.i18n import N_
from smartcity.platform.jobs.service import JobKind
from smartcity.platform.modules import Module, NavItem

add_slot("catalog.entry.actions", request_button)

pages = APIRouter(include_in_schema=False)
for part in (console_router, portal_router, ckan_router):
    pages.include_router(part)

module = Module(
    name="exchange",
    title=N_("Sharing and open data"),
    permissions=PERMISSIONS,
    api=api_router,
    pages=pages,
    nav=(NavItem(N_("Sharing and open data"), "/exchange", EXCHANGE_READ),),
    template_dirs=(str(Path(__file__).parent / "templates"),),
    # Each attempt of a delivery is its own job; the delivery itself keeps count and turns into a dead letter.
    jobs=(JobKind(push.DELIVER_JOB, push.deliver, max_attempts=3),),
    reactions=(Reaction(BATCH_STORED, "exchange.queue_batch", push.queue_batch),),
)
