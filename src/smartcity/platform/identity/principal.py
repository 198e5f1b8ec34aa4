"""The authenticated caller, as services see it."""

from __future__ import annotations

from dataclasses import dataclass

from smartcity.platform.audit.service import Actor
from smartcity.platform.errors import PermissionDenied
from smartcity.platform.i18n import N_
from smartcity.platform.permissions import Role


@dataclass(frozen=True)
class Principal:
    """A signed-in user or an API token acting for its owner, with the permissions in force."""

    user_id: int
    username: str
    display_name: str
    role: Role
    department_id: int | None
    department_code: str | None
    permissions: frozenset[str]
    token_id: int | None = None
    ip: str | None = None

    @property
    def via(self) -> str:
        return "token" if self.token_id is not None else "session"

    @property
    def is_platform_admin(self) -> bool:
        return self.role is Role.PLATFORM_ADMIN

    def can(self, permission: str) -> bool:
        """Whether this caller holds `permission`."""
        return permission in self.permissions

    def require(self, permission: str) -> None:
        """Raise PermissionDenied unless this caller holds `permission`."""
        if permission not in self.permissions:
            raise PermissionDenied(N_("This needs the '{permission}' permission."), permission=permission)

    def actor(self) -> Actor:
        """How this caller appears in the audit log."""
        label = self.username if self.token_id is None else f"{self.username}#token{self.token_id}"
        return Actor(label=label, user_id=self.user_id, department_id=self.department_id, ip=self.ip)
