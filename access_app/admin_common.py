"""What every model admin of the product shares: how lists show, records that are read
only, and actions only an admin (an active superuser) may run."""

from __future__ import annotations

from access_app.principals import user_is_admin


def tag_list(tags) -> str:
    return ", ".join(tags or ()) or "—"


# Approvals and revocations are an admin's (an active superuser's), whatever model
# permissions a staff user holds: each such action names the "admin" permission, which the
# model admins below answer with user_is_admin, so nobody else is offered or may run it.
ADMIN_ONLY = ["admin"]


class ReadOnlyAdmin:
    """A record: viewed in the admin (with the view permission), never added, changed or
    deleted there (so no delete action either)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AdminOnlyActions:
    """For the model admins whose actions need ``ADMIN_ONLY``."""

    def has_admin_permission(self, request) -> bool:
        return user_is_admin(request.user)
