"""Role checks for DRF views."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from access_app.models import Role


class _RolePermission(BasePermission):
    roles: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        return "this route requires role " + " or ".join(self.roles)

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "role", None) in self.roles)


class IsAdmin(_RolePermission):
    roles = (Role.ADMIN,)


class IsAgentOrAdmin(_RolePermission):
    roles = (Role.AGENT, Role.ADMIN)
