"""The resource catalogue (政务信息资源目录): entries, field schemas, versions, search, DCAT export."""

from pathlib import Path

from smartcity.catalog.api import router as api_router
from smartcity.catalog.pages import router as page_router
from smartcity.catalog.permissions import CATALOG_READ, PERMISSIONS
from smartcity.platform.i18n import N_
from smartcity.platform.modules import Module, NavItem

module = Module(
    name="catalog",
    title=N_("Resource catalogue"),
    permissions=PERMISSIONS,
    api=api_router,
    pages=page_router,
    nav=(NavItem(N_("Resource catalogue"), "/catalog", CATALOG_READ),),
    template_dirs=(str(Path(__file__).parent / "templates"),),
)
