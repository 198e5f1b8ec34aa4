"""The identity kernel's contribution to the app: API, admin pages, permissions, navigation."""

from smartcity.platform.i18n import N_
from smartcity.platform.identity.api import router as api_router
from smartcity.platform.identity.pages import TEMPLATES
from smartcity.platform.identity.pages import router as page_router
from smartcity.platform.identity.permissions import DEPARTMENT_READ, PERMISSIONS, TOKEN_MANAGE, USER_READ
from smartcity.platform.modules import Module, NavItem

module = Module(
    name="identity",
    title=N_("Identity"),
    permissions=PERMISSIONS,
    api=api_router,
    pages=page_router,
    nav=(
        NavItem(N_("Departments"), "/admin/departments", DEPARTMENT_READ),
        NavItem(N_("Users"), "/admin/users", USER_READ),
        NavItem(N_("API tokens"), "/admin/tokens", TOKEN_MANAGE),
    ),
    template_dirs=(TEMPLATES,),
)
