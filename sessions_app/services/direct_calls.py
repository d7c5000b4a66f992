"""Direct-media calls seen from code that holds no sideband: the beat sweep hangs up the
provider call of a session whose process died (decision 0030), else it would run on at the
provider, without its tools, until the caller leaves."""

from __future__ import annotations

from sessions_app.models import SessionEvent, SessionInstance
from sessions_app.providers import direct_call_hang_up

PROVIDER_CALL_EVENT = "provider.call"


def direct_call_id(session: SessionInstance) -> str:
    """The provider's id of the session's call, from its replay log; ``""`` if none."""
    data = (
        SessionEvent.objects.filter(session=session, type=PROVIDER_CALL_EVENT)
        .values_list("data", flat=True)
        .first()
    )
    return str((data or {}).get("call_id") or "")


def direct_call_hang_up_orphaned(session: SessionInstance) -> bool:
    """Hang up the call of a direct session nobody holds any more; False if there was none
    or the provider did not take it."""
    call_id = direct_call_id(session) if session.media == "direct" else ""
    return bool(call_id) and direct_call_hang_up(session.provider, call_id)
