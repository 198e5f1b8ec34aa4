"""NGSI-LD context broker (时空信息 / 城市运行状态, ETSI GS CIM 009): the city's live state as NGSI-LD entities that
standard clients create, query, subscribe to and read the history of, under /ngsi-ld/v1."""

from smartcity.ngsild import notify
from smartcity.ngsild.api import router as api_router
from smartcity.ngsild.permissions import PERMISSIONS
from smartcity.platform.i18n import N_
from smartcity.platform.jobs.service import PeriodicTask
from smartcity.platform.modules import Module


def _dispatch() -> None:
    notify.dispatch()


module = Module(
    name="ngsild",
    title=N_("Context broker (NGSI-LD)"),
    permissions=PERMISSIONS,
    api=api_router,
    periodic=(PeriodicTask("ngsild.notify", 0.5, _dispatch),),  # hands due notifications to the senders
)
