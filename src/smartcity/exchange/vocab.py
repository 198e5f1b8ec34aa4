"""The states of sharing requests, grants and deliveries, with their console names as message ids."""

from __future__ import annotations

import enum

from smartcity.platform.i18n import N_


class RequestStatus(enum.StrEnum):
    """Where a sharing request stands."""

    PENDING = "pending"  # 待审核: waits for the providing department (有条件共享)
    APPROVED = "approved"  # 已批准: a grant was made (at once for 无条件共享)
    REJECTED = "rejected"  # 已驳回
    WITHDRAWN = "withdrawn"  # 已撤回 by the requesting department


class GrantState(enum.StrEnum):
    """A grant as of now (derived from its period and revocation, never stored)."""

    ACTIVE = "active"
    NOT_YET = "not_yet"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Side(enum.StrEnum):
    """Which side of a request or grant the caller's department is on."""

    RECEIVED = "received"  # the caller's department uses the data
    PROVIDED = "provided"  # the caller's department provides it


class DeliveryStatus(enum.StrEnum):
    """Where a push to a subscriber stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # every attempt failed: in the dead-letter list until redelivered


REQUEST_LABELS = {
    RequestStatus.PENDING: N_("Waiting for approval"),
    RequestStatus.APPROVED: N_("Approved"),
    RequestStatus.REJECTED: N_("Rejected"),
    RequestStatus.WITHDRAWN: N_("Withdrawn"),
}
GRANT_LABELS = {
    GrantState.ACTIVE: N_("In force"),
    GrantState.NOT_YET: N_("Not yet in force"),
    GrantState.EXPIRED: N_("Expired"),
    GrantState.REVOKED: N_("Revoked"),
}
DELIVERY_LABELS = {
    DeliveryStatus.PENDING: N_("Pending"),
    DeliveryStatus.DELIVERED: N_("Delivered"),
    DeliveryStatus.DEAD: N_("Dead letter"),
}
