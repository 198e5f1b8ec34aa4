"""Permissions of the identity kernel and which roles hold them."""

from smartcity.platform.i18n import N_
from smartcity.platform.permissions import ALL_ROLES, Permission, Role

PROFILE_READ = "identity.profile.read"
DEPARTMENT_READ = "identity.department.read"
DEPARTMENT_MANAGE = "identity.department.manage"
USER_READ = "identity.user.read"
USER_MANAGE = "identity.user.manage"
TOKEN_MANAGE = "identity.token.manage"

PERMISSIONS = (
    Permission(PROFILE_READ, N_("See one's own profile"), ALL_ROLES),
    Permission(DEPARTMENT_READ, N_("List departments"), ALL_ROLES),
    Permission(DEPARTMENT_MANAGE, N_("Create and rename departments"), frozenset({Role.PLATFORM_ADMIN})),
    Permission(USER_READ, N_("List users"), frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN, Role.AUDITOR})),
    Permission(
        USER_MANAGE,
        N_("Create users, change roles, deactivate accounts"),
        frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN}),
    ),
    Permission(
        TOKEN_MANAGE,
        N_("Issue and revoke API tokens"),
        frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN}),
    ),
)
