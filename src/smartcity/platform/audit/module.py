"""The audit kernel's contribution to the app: API, console page, permissions, navigation."""

from smartcity.platform.audit.api import router as api_router
from smartcity.platform.audit.cli import app as cli_app
from smartcity.platform.audit.pages import TEMPLATES
from smartcity.platform.audit.pages import router as page_router
from smartcity.platform.audit.permissions import AUDIT_READ, PERMISSIONS
from smartcity.platform.i18n import N_
from smartcity.platform.modules import Module, NavItem

module = Module(
    name="audit",
    title=N_("Audit log"),
    permissions=PERMISSIONS,
    api=api_router,
    pages=page_router,
    nav=(NavItem(N_("Audit log"), "/admin/audit", AUDIT_READ),),
    cli=cli_app,
    template_dirs=(TEMPLATES,),
)
