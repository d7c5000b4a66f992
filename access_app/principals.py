"""The principal a request acts as, whatever authenticated it."""

from __future__ import annotations

from dataclasses import dataclass

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
