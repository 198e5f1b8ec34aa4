"""Permissions of the NGSI-LD broker.

Every platform user may read the city's context (entities, types, attributes, subscriptions' state); department
staff and administrators write entities and subscribe; the platform administrators register context sources and
manage @contexts beyond their own. Applications use API tokens holding these scopes.
"""

from smartcity.platform.i18n import N_
from smartcity.platform.permissions import Permission, Role

NGSILD_READ = "ngsild.read"
NGSILD_WRITE = "ngsild.write"
NGSILD_MANAGE = "ngsild.manage"

PERMISSIONS = (
    Permission(
        NGSILD_READ,
        N_("Read the city's context through the NGSI-LD API: entities, types, attributes, their history"),
        frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN, Role.DEPT_STAFF, Role.AUDITOR}),
    ),
    Permission(
        NGSILD_WRITE,
        N_("Create, change and delete NGSI-LD entities; subscribe to changes; register @contexts"),
        frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN, Role.DEPT_STAFF}),
    ),
    Permission(
        NGSILD_MANAGE,
        N_("Register context sources and load cached copies of public @contexts"),
        frozenset({Role.PLATFORM_ADMIN}),
    ),
)
