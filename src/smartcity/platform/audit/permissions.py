"""Permissions of the audit log."""

from smartcity.platform.i18n import N_
from smartcity.platform.permissions import Permission, Role

AUDIT_READ = "audit.read"
AUDIT_VERIFY = "audit.verify"

PERMISSIONS = (
    Permission(AUDIT_READ, N_("Read the audit log"), frozenset({Role.PLATFORM_ADMIN, Role.AUDITOR})),
    Permission(AUDIT_VERIFY, N_("Verify the audit log's hash chain"), frozenset({Role.PLATFORM_ADMIN, Role.AUDITOR})),
)
