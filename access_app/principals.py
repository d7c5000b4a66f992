"""The principal a request acts as, whatever authenticated it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied

from access_app.models import ApiKey, Role


def user_is_admin(user) -> bool:
    """A browser login is an admin (API, pages, approvals) when it is an active superuser."""
    return bool(user.is_active and user.is_superuser)


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``id`` is the stable owner string stored on the rows they create."""

    id: str
    role: str
    tags: tuple[str, ...] = ()
    node_id: str = ""
    name: str = ""
    # Set for a session's client secret: the one session this principal may touch, and
    # the principal who started it (whose rate limits the client's calls count against).
    session_id: str = ""
    on_behalf_of: str = ""

    is_authenticated = True
    is_anonymous = False

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def acts_as_node(self, node_id: str) -> bool:
        """May act as that agent node: an admin, or an agent key bound to it (decision
        0015). ``AgentNode.owner`` decides nothing."""
        return self.is_admin or (
            self.role == Role.AGENT and bool(node_id) and self.node_id == node_id
        )

    @property
    def actor(self) -> str:
        """How decisions by this principal are signed in the audit trail."""
        return f"{self.name} ({self.id})" if self.name else self.id

    @classmethod
    def from_api_key(cls, key: ApiKey) -> Principal:
        return cls(
            id=f"key:{key.pk}",
            role=key.role,
            tags=tuple(key.tags or ()),
            node_id=key.node_id,
            name=key.name,
        )

    @classmethod
    def from_user(cls, user) -> Principal:
        profile = getattr(user, "caller_profile", None)
        tags = tuple(profile.tags or ()) if profile is not None else ()
        # Superusers only: ``is_staff`` merely opens the Django admin, where a staff user
        # sees what their model permissions allow; it never makes an API admin.
        role = Role.ADMIN if user_is_admin(user) else Role.CALLER
        return cls(id=f"user:{user.pk}", role=role, tags=tags, name=user.get_username())


# --- The pages' principal: a Django login, or an API key signed in through the login page --

# The one thing an API-key sign-in keeps in the Django session: the key's pk (decision 0031).
SESSION_API_KEY = "agentfield_api_key_id"
BROWSER_KEY_ROLES = (Role.CALLER, Role.ADMIN)  # agent keys never sign in to the pages


def session_api_key(request) -> ApiKey | None:
    """The API key this browser signed in with, re-read on every request; a revoked or
    deleted key (or one whose role may not use the pages) signs the browser out."""
    session = getattr(request, "session", None)
    key_id = session.get(SESSION_API_KEY) if session is not None else None
    if key_id is None:
        return None
    key = ApiKey.objects.filter(
        pk=key_id, revoked_at__isnull=True, role__in=BROWSER_KEY_ROLES
    ).first()
    if key is None:
        session.flush()
    return key


def page_principal(request) -> Principal | None:
    """Who a page request acts as: an active Django login, else the signed-in API key, else
    None. Computed once per request."""
    if hasattr(request, "_page_principal"):
        return request._page_principal
    user = getattr(request, "user", None)
    principal = None
    if isinstance(user, Principal):  # a DRF request (the API docs page): already resolved
        principal = user
    elif user is not None and user.is_authenticated and user.is_active:
        principal = Principal.from_user(user)
    else:
        key = session_api_key(request)
        principal = Principal.from_api_key(key) if key is not None else None
    request._page_principal = principal
    return principal


def principal_required(view=None, *, admin: bool = False):
    """For page views: anonymous visitors go to the login page; with ``admin``, a signed-in
    caller gets the 403 page. The view reads ``page_principal(request)``."""
    from django.contrib.auth.views import redirect_to_login  # needs the app registry

    def decorate(function):
        @wraps(function)
        def wrapper(request, *args, **kwargs):
            principal = page_principal(request)
            if principal is None:
                return redirect_to_login(request.get_full_path())
            if admin and not principal.is_admin:
                raise PermissionDenied("this page is for admins")
            return function(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
