"""The registries, their attributes, which attribute identifies and names a record, and the survivorship rules."""

from __future__ import annotations

import enum

from smartcity.platform.i18n import N_


class Kind(enum.StrEnum):
    """A base registry (基础库)."""

    PERSON = "person"  # 人口
    ENTITY = "entity"  # 法人
    ADDRESS = "address"  # 地名地址


class Survivorship(enum.StrEnum):
    """How a golden record chooses one value of an attribute among its sources' values."""

    TRUST = "trust"  # the most trusted source that has a value (then the most recent)
    RECENT = "recent"  # the value the hub received last
    COMPLETE = "complete"  # the longest, most complete value (then the most trusted)


class ReviewStatus(enum.StrEnum):
    """Where a pair in the clerical review queue stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class LinkMethod(enum.StrEnum):
    """How a source record came to belong to its golden record."""

    KEY = "key"  # the same valid resident ID / credit code / address code
    MODEL = "model"  # the trained model's probability passed the match threshold
    CLERICAL = "clerical"  # a person accepted the pair
    SINGLE = "single"  # no other source record matched it


KIND_LABELS = {Kind.PERSON: N_("Persons"), Kind.ENTITY: N_("Legal entities"), Kind.ADDRESS: N_("Addresses")}
RULE_LABELS = {
    Survivorship.TRUST: N_("Most trusted source"),
    Survivorship.RECENT: N_("Most recent"),
    Survivorship.COMPLETE: N_("Most complete"),
}
STATUS_LABELS = {
    ReviewStatus.PENDING: N_("Pending"),
    ReviewStatus.ACCEPTED: N_("Accepted: same"),
    ReviewStatus.REJECTED: N_("Rejected: different"),
}
METHOD_LABELS = {
    LinkMethod.KEY: N_("Same identifier"),
    LinkMethod.MODEL: N_("Matched by the model"),
    LinkMethod.CLERICAL: N_("Accepted in review"),
    LinkMethod.SINGLE: N_("Only source"),
}

# Attribute -> (label, default survivorship). The first attribute identifies, the second names a record.
ATTRIBUTES: dict[Kind, dict[str, tuple[str, Survivorship]]] = {
    Kind.PERSON: {
        "resident_id": (N_("Resident ID number"), Survivorship.TRUST),
        "full_name": (N_("Name"), Survivorship.TRUST),
        "gender_code": (N_("Sex"), Survivorship.TRUST),
        "birth_date": (N_("Date of birth"), Survivorship.TRUST),
        "phone": (N_("Phone"), Survivorship.RECENT),
        "address": (N_("Address"), Survivorship.RECENT),
        "town_code": (N_("Town"), Survivorship.RECENT),
    },
    Kind.ENTITY: {
        "credit_code": (N_("Unified social credit code"), Survivorship.TRUST),
        "org_name": (N_("Name"), Survivorship.TRUST),
        "legal_rep": (N_("Legal representative"), Survivorship.RECENT),
        "established_date": (N_("Date established"), Survivorship.TRUST),
        "phone": (N_("Phone"), Survivorship.RECENT),
        "address": (N_("Address"), Survivorship.COMPLETE),
        "town_code": (N_("Town"), Survivorship.RECENT),
    },
    Kind.ADDRESS: {
        "address_code": (N_("Address code"), Survivorship.TRUST),
        "full_address": (N_("Standard address"), Survivorship.TRUST),
        "road": (N_("Road"), Survivorship.TRUST),
        "number": (N_("Number"), Survivorship.TRUST),
        "town_code": (N_("Town"), Survivorship.TRUST),
        "village": (N_("Village or community"), Survivorship.TRUST),
        "longitude": (N_("Longitude"), Survivorship.TRUST),
        "latitude": (N_("Latitude"), Survivorship.TRUST),
    },
}
# Personal attributes, shown masked unless the caller may see plain values.
PERSONAL: dict[Kind, frozenset[str]] = {
    Kind.PERSON: frozenset({"resident_id", "full_name", "phone", "address"}),
    Kind.ENTITY: frozenset({"legal_rep", "phone"}),
    Kind.ADDRESS: frozenset(),
}
NUMBER_PREFIX = {Kind.PERSON: "RK", Kind.ENTITY: "FR", Kind.ADDRESS: "DZ"}


def ident_attribute(kind: Kind) -> str:
    """The attribute that identifies a record of `kind` (resident ID, credit code, address code)."""
    return next(iter(ATTRIBUTES[kind]))


def name_attribute(kind: Kind) -> str:
    """The attribute that names a record of `kind`."""
    return list(ATTRIBUTES[kind])[1]


# The parts of an address and how precisely it matched the address registry, as the console names them.
ADDRESS_PART_LABELS = {
    "province": N_("Province"),
    "city": N_("City"),
    "district": N_("County or district"),
    "town": N_("Town"),
    "village": N_("Village or community"),
    "road": N_("Road"),
    "number": N_("Door number"),
}
MATCH_LABELS = {
    "exact": N_("Door number"),
    "road": N_("Road"),
    "village": N_("Village or community"),
    "town": N_("Town"),
    "none": N_("Not found"),
}
