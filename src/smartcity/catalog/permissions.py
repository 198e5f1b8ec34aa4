"""Permissions of the catalogue and who holds them."""

from smartcity.platform.i18n import N_
from smartcity.platform.permissions import ALL_ROLES, Permission, Role

CATALOG_READ = "catalog.read"
CATALOG_WRITE = "catalog.write"

PERMISSIONS = (
    Permission(CATALOG_READ, N_("Browse and export the resource catalogue"), ALL_ROLES),
    Permission(
        CATALOG_WRITE,
        N_("Publish and edit catalogue entries (own department; any for platform admins)"),
        frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN}),
    ),
)
