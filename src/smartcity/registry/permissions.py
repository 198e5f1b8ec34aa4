"""Permissions of the base registries and who holds them.

Everyone signed in may search the registries and see golden records with personal fields masked; plain values,
clerical review and the registries' configuration belong to the platform administrators (大数据局).
"""

from smartcity.platform.i18n import N_
from smartcity.platform.permissions import ALL_ROLES, Permission, Role

REGISTRY_READ = "registry.read"
REGISTRY_PLAIN = "registry.read_plain"
REGISTRY_REVIEW = "registry.review"
REGISTRY_MANAGE = "registry.manage"

HUB = frozenset({Role.PLATFORM_ADMIN})

PERMISSIONS = (
    Permission(
        REGISTRY_READ, N_("Search the base registries and see golden records (personal fields masked)"), ALL_ROLES
    ),
    Permission(REGISTRY_PLAIN, N_("See personal fields of golden records unmasked"), HUB),
    Permission(REGISTRY_REVIEW, N_("Decide pairs in the registries' clerical review queue"), HUB),
    Permission(REGISTRY_MANAGE, N_("Configure the registries' feeds and survivorship rules, and resolve them"), HUB),
)
