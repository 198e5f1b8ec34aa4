"""Permissions of sharing, exchange and open data.

A department's administrator (信息员) asks for other departments' data, decides the requests for its own entries,
revokes its grants and manages its subscriptions; its staff and its systems read the data their department was
granted. Platform administrators see every request, grant and delivery, and redeliver dead letters. The open-data
portal needs no platform permission: it is public, and conditional data needs a portal account (not a platform user).
"""

from smartcity.platform.i18n import N_
from smartcity.platform.permissions import Permission, Role

EXCHANGE_READ = "exchange.read"
EXCHANGE_REQUEST = "exchange.request"
EXCHANGE_DECIDE = "exchange.decide"
EXCHANGE_DATA = "exchange.data"
EXCHANGE_SUBSCRIBE = "exchange.subscribe"
EXCHANGE_OVERSEE = "exchange.oversee"

OFFICERS = frozenset({Role.DEPT_ADMIN})
DEPARTMENTS = frozenset({Role.DEPT_ADMIN, Role.DEPT_STAFF})

PERMISSIONS = (
    Permission(
        EXCHANGE_READ,
        N_("See the sharing requests and grants of one's department"),
        frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN, Role.DEPT_STAFF, Role.AUDITOR}),
    ),
    Permission(EXCHANGE_REQUEST, N_("Ask to use another department's entry, withdraw the request"), OFFICERS),
    Permission(
        EXCHANGE_DECIDE, N_("Approve or reject requests for one's department's entries, revoke grants"), OFFICERS
    ),
    Permission(EXCHANGE_DATA, N_("Read granted data through the data service"), DEPARTMENTS),
    Permission(
        EXCHANGE_SUBSCRIBE,
        N_("Subscribe a system's webhook to the changes of a granted entry; redeliver its dead letters"),
        frozenset({Role.DEPT_ADMIN, Role.PLATFORM_ADMIN}),
    ),
    Permission(
        EXCHANGE_OVERSEE,
        N_("See every department's requests, grants and deliveries; redeliver dead letters"),
        frozenset({Role.PLATFORM_ADMIN}),
    ),
)
