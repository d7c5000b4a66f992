"""Sessions and their events in the Django admin: listed, filtered and read, never added,
changed or deleted; refused to a staff user without the permission and to callers."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from sessions_app.models import SessionEvent, SessionInstance
from sessions_app.services.events import session_event_append
from tests.sessions_app.helpers import session_world, start

pytestmark = pytest.mark.django_db

SESSIONS = "/admin/sessions_app/sessioninstance/"
EVENTS = "/admin/sessions_app/sessionevent/"


@pytest.fixture
def sessions(admin, alice) -> tuple[SessionInstance, SessionInstance]:
    """Two sessions alice started; the first ended, with events of its own."""
    session_world(admin.client())
    first = start(alice.client()).json()["session_id"]
    second = start(alice.client()).json()["session_id"]
    ended = alice.client().post(
        f"/api/v1/session-instances/{first}/end", {"reason": "done"}, format="json"
    )
    assert ended.status_code == 200, ended.content
    one = SessionInstance.objects.get(session_id=first)
    session_event_append(one, "turn.user", {"text": "where is my order 1042"})
    session_event_append(one, "tool.call", {"execution_id": "exec_admin_1", "name": "lookup"})
    two = SessionInstance.objects.get(session_id=second)
    session_event_append(two, "speech.started.only.in.two")
    return one, two


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root-1"))
    return client


def rows(response) -> list[int]:
    """The primary keys a changelist shows, in its order."""
    return [row.pk for row in response.context["cl"].result_list]


def staff_with(*codenames: str) -> Client:
    user = get_user_model().objects.create_user(
        f"staff-{len(codenames)}", password="pw-staff-123", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_sessions_are_listed_filtered_and_searched(root, sessions):
    one, two = sessions
    listing = root.get(SESSIONS).content.decode()
    assert one.session_id in listing and two.session_id in listing
    assert one.target_name in listing and "alice" in listing

    ended = root.get(SESSIONS, {"status__exact": "ended"}).content.decode()
    assert one.session_id in ended and two.session_id not in ended
    found = root.get(SESSIONS, {"q": two.session_id}).content.decode()
    assert two.session_id in found and one.session_id not in found


def test_a_session_page_is_read_only_and_shows_its_events(root, sessions):
    one, _ = sessions
    url = f"{SESSIONS}{one.pk}/change/"
    page = root.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "turn.user" in body and "tool.call" in body and "exec_admin_1" in body
    assert "speech.started.only.in.two" not in body, "only this session's events"
    assert 'name="_save"' not in body and "<textarea" not in body
    assert f"/session-instances/{one.session_id}/" in body, "links to the replay page"
    assert one.client_secret_hash not in body

    before = SessionInstance.objects.values().get(pk=one.pk)
    assert root.post(url, {"status": "active", "end_reason": ""}).status_code == 403
    assert SessionInstance.objects.values().get(pk=one.pk) == before


def test_events_have_their_own_read_only_list_filtered_by_session(root, sessions):
    one, two = sessions
    listing = root.get(EVENTS, {"session__id__exact": one.pk})
    assert listing.status_code == 200
    assert rows(listing) == list(one.events.order_by("id").values_list("pk", flat=True))
    assert {"turn.user", "tool.call"} <= {e.type for e in listing.context["cl"].result_list}
    assert f">{one.session_id}</a>" in listing.content.decode()
    by_type = root.get(EVENTS, {"type": "speech.started.only.in.two"})
    assert [e.session_id for e in by_type.context["cl"].result_list] == [two.pk]

    event = SessionEvent.objects.filter(session=one, type="turn.user").get()
    page = root.get(f"{EVENTS}{event.pk}/change/")
    assert page.status_code == 200 and "where is my order 1042" in page.content.decode()
    assert root.post(f"{EVENTS}{event.pk}/change/", {"type": "x"}).status_code == 403
    assert SessionEvent.objects.get(pk=event.pk).type == "turn.user"


@pytest.mark.parametrize("who", ["superuser", "staff with every permission"])
def test_nobody_adds_or_deletes_sessions_or_events(root, sessions, who):
    one, _ = sessions
    if who == "superuser":
        client = root
    else:
        verbs = ("add", "change", "delete", "view")
        models = ("sessioninstance", "sessionevent")
        client = staff_with(*(f"{verb}_{model}" for verb in verbs for model in models))
    event = SessionEvent.objects.filter(session=one).first()
    counts = (SessionInstance.objects.count(), SessionEvent.objects.count())
    for changelist, pk in ((SESSIONS, one.pk), (EVENTS, event.pk)):
        page = client.get(changelist)
        assert page.status_code == 200
        assert 'value="delete_selected"' not in page.content.decode()
        assert f'href="{changelist}add/"' not in page.content.decode()
        assert client.get(f"{changelist}add/").status_code == 403
        assert client.post(f"{changelist}add/", {"type": "x"}).status_code == 403
        assert client.get(f"{changelist}{pk}/delete/").status_code == 403
        assert client.post(f"{changelist}{pk}/delete/", {"post": "yes"}).status_code == 403
        client.post(changelist, {"action": "delete_selected", "_selected_action": [pk]})
    assert (SessionInstance.objects.count(), SessionEvent.objects.count()) == counts


def test_a_staff_user_without_the_permission_and_a_caller_are_refused(sessions, django_user_model):
    one, _ = sessions
    event = SessionEvent.objects.filter(session=one).first()
    staff = staff_with("view_apikey")
    caller = Client()
    caller.force_login(django_user_model.objects.create_user("member", password="pw-m-12345"))
    urls = [SESSIONS, f"{SESSIONS}{one.pk}/change/", EVENTS, f"{EVENTS}{event.pk}/change/"]
    for url in urls:
        assert staff.get(url).status_code == 403, url
        for client in (caller, Client()):
            refused = client.get(url)
            assert refused.status_code == 302 and "/admin/login/" in refused["Location"], url
    assert f'href="{SESSIONS}"' not in staff.get("/admin/").content.decode()


def test_the_admin_index_lists_sessions_events_and_executions(root):
    index = root.get("/admin/").content.decode()
    for url in (SESSIONS, EVENTS, "/admin/executions_app/execution/"):
        assert f'href="{url}"' in index, url
