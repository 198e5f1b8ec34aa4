"""Permissions of the IoT platform.

A department's staff see their department's devices, their telemetry, alarms and refusals; its administrator
registers and imports devices, changes them and issues new credentials. Platform administrators and auditors see
every department's devices; platform administrators manage any of them. Devices themselves are not users: they
present their own credential with each message (see iot/telemetry.py).
"""

from smartcity.platform.i18n import N_
from smartcity.platform.permissions import Permission, Role

IOT_READ = "iot.read"
IOT_MANAGE = "iot.manage"
IOT_OVERSEE = "iot.oversee"
IOT_ALARMS = "iot.alarms"

PERMISSIONS = (
    Permission(
        IOT_READ,
        N_("See the devices of one's department, their telemetry and refused messages"),
        frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN, Role.DEPT_STAFF, Role.AUDITOR}),
    ),
    Permission(
        IOT_MANAGE,
        N_("Register, import and change devices of one's department; issue their credentials"),
        frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN}),
    ),
    Permission(
        IOT_ALARMS,
        N_("Acknowledge and clear the alarms of one's department's devices"),
        frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN, Role.DEPT_STAFF}),
    ),
    Permission(
        IOT_OVERSEE, N_("See and manage every department's devices"), frozenset({Role.PLATFORM_ADMIN, Role.AUDITOR})
    ),
)
