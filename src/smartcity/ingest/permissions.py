"""Permissions of data collection and who holds them.

Department roles act on their own department's entries (the scoping is in the service's `readable` queries);
platform administrators act on all of them and carry the hub's quality oversight.
"""

from smartcity.platform.i18n import N_
from smartcity.platform.permissions import ALL_ROLES, Permission, Role

INGEST_READ = "ingest.read"
INGEST_SUBMIT = "ingest.submit"
INGEST_RULES = "ingest.rules"
INGEST_RESPOND = "ingest.feedback.respond"
INGEST_REVIEW = "ingest.feedback.review"
INGEST_PULL = "ingest.pull"
INGEST_CODES = "ingest.codetables"

ADMINS = frozenset({Role.PLATFORM_ADMIN, Role.DEPT_ADMIN})

PERMISSIONS = (
    Permission(INGEST_READ, N_("See batches, quality reports, feedback and the quality dashboard"), ALL_ROLES),
    Permission(INGEST_SUBMIT, N_("Submit batches of records for the department's catalogue entries"), ADMINS),
    Permission(INGEST_RULES, N_("Declare validation rules and column mappings on the department's entries"), ADMINS),
    Permission(INGEST_RESPOND, N_("Answer feedback on the department's problem records (dispute)"), ADMINS),
    Permission(
        INGEST_REVIEW,
        N_("Review feedback: verify corrections, uphold or reject disputes"),
        frozenset({Role.PLATFORM_ADMIN}),
    ),
    Permission(INGEST_PULL, N_("Configure scheduled pulls from department databases"), ADMINS),
    Permission(INGEST_CODES, N_("Maintain the city's code tables"), frozenset({Role.PLATFORM_ADMIN})),
)
