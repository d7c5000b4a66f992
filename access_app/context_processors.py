"""What every page's frame (``templates/base.html``) shows: who is signed in, the links
their role may follow, the pending-approvals badge, and the provider-simulator banner."""

from __future__ import annotations

from django.conf import settings

from access_app import selectors
from access_app.principals import page_principal


def page_frame(request) -> dict[str, object]:
    principal = page_principal(request)
    user = getattr(request, "user", None)
    by_key = principal is not None and principal.id.startswith("key:")
    frame: dict[str, object] = {
        "principal": principal,
        "signed_in_as": (f"API key {principal.name}" if by_key else principal.name)
        if principal is not None
        else "",
        # The Django admin takes an admin's staff login; an API-key sign-in never opens it.
        "show_admin_link": bool(
            principal is not None and principal.is_admin and getattr(user, "is_staff", False)
        ),
        "pending_approvals": None,
        "provider_simulator": settings.AGENTFIELD_PROVIDER_SIMULATOR,
    }
    if principal is not None and principal.is_admin:
        # One COUNT: ordering is dropped and prefetches never run for .count().
        frame["pending_approvals"] = selectors.targets_with_pending_tags().count()
    return frame
