"""``GET /api/v1/session-instances/<id>/events/stream``: server-sent events of a live
session, read by a real HTTP client from a real daphne process (and, where a test looks
inside the serving process, from the ASGI application in this one).

On PostgreSQL + Redis what the stream shows is published by this process (the test's
``stream_publish``, a call answered here) and served by daphne: another process.
"""

from __future__ import annotations

import asyncio
import gc

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from access_app.models import CallerProfile
from foundation.errors import UNAUTHORIZED_BODY
from sessions_app.hints import session_group, session_stream_group
from sessions_app.models import SessionInstance
from sessions_app.transports import event_stream
from sessions_app.transports.event_stream import (
    MAX_STREAMS_PER_SESSION,
    event_stream_open,
    open_stream_count,
    stream_publish,
)
from tests.servers import daphne_server
from tests.sessions_app.helpers import session_world, start
from tests.sessions_app.sse_client import (
    AsgiReader,
    assert_stream_headers,
    messages_until_end,
    stream_url,
)
from tests.sessions_app.webrtc_calls import open_call
from tests.sessions_app.webrtc_client import BrowserPeer

pytestmark = [pytest.mark.django_db(transaction=True)]

on_redis = pytest.mark.skipif(
    not settings.REDIS_URL, reason="the in-memory channel layer does not cross processes"
)


@pytest.fixture(scope="module")
def daphne(django_db_setup, _simulator_process):
    env = {"OPENAI_API_KEY": "sk-simulator", "OPENAI_BASE_URL": _simulator_process.base_url}
    with daphne_server("event-stream", **env) as server:
        yield server


@database_sync_to_async
def started_session(admin, caller) -> dict:
    session_world(admin.client())
    return start(caller.client()).json()


@database_sync_to_async
def end_session(caller, session_id: str, reason: str) -> None:
    url = f"/api/v1/session-instances/{session_id}/end"
    assert caller.client().post(url, {"reason": reason}, format="json").status_code == 200


# --- through daphne -----------------------------------------------------------------------


async def test_a_finished_session_gives_its_final_state_and_the_stream_ends(daphne, admin, alice):
    sid = (await started_session(admin, alice))["session_id"]
    await end_session(alice, sid, "done for today")
    async with httpx.AsyncClient(base_url=daphne.base_url, timeout=30) as client:
        headers = {"X-API-Key": alice.secret, "Accept": "text/event-stream"}
        async with client.stream("GET", stream_url(sid), headers=headers) as response:
            assert_stream_headers(response)
            assert await messages_until_end(response) == [
                {"type": "session.ended", "reason": "done for today"}
            ]


async def test_only_the_sessions_own_callers_open_its_stream(daphne, admin, alice, bob):
    started = await started_session(admin, alice)
    sid = started["session_id"]
    async with httpx.AsyncClient(base_url=daphne.base_url, timeout=30) as client:
        unknown = await client.get(stream_url("sess_nope"), headers={"X-API-Key": alice.secret})
        others = await client.get(stream_url(sid), headers={"X-API-Key": bob.secret})
        bobs_detail = await client.get(
            f"/api/v1/session-instances/{sid}/events", headers={"X-API-Key": bob.secret}
        )
        anonymous = await client.get(stream_url(sid), headers={"Accept": "text/event-stream"})
        as_browser = await client.get(
            stream_url(sid), headers={"X-API-Key": bob.secret, "Accept": "text/event-stream"}
        )
        secret = started["client_secret"]["value"]
        by_secret = {"Authorization": f"Bearer {secret}"}
        async with client.stream("GET", stream_url(sid), headers=by_secret) as response:
            assert_stream_headers(response)  # the session's own client secret opens it too
    for refused in (unknown, others, as_browser):
        assert refused.status_code == 404
        assert refused.json() == bobs_detail.json() == {"error": "session not found"}
    assert bobs_detail.status_code == 404
    assert anonymous.status_code == 401
    assert anonymous.json() == UNAUTHORIZED_BODY


@database_sync_to_async
def logged_in_session(admin) -> tuple[str, str, str]:
    """A session a browser login started: its id, that login's cookie and another's."""
    session_world(admin.client())
    cookies = []
    for name in ("carol", "dave"):
        user = get_user_model().objects.create_user(name, password="pw-12345678")
        CallerProfile.objects.create(user=user, tags=["team:a"])
        client = Client()
        client.force_login(user)
        cookies.append(f"sessionid={client.cookies['sessionid'].value}")
    carol = Client()
    carol.cookies.load(cookies[0])
    started = carol.post(
        "/api/v1/session-targets/voice-support-af.voice/start", {}, content_type="application/json"
    )
    assert started.status_code == 201, started.content
    return started.json()["session_id"], cookies[0], cookies[1]


async def test_a_browser_login_opens_the_stream_of_its_own_session_only(daphne, admin):
    sid, carols, daves = await logged_in_session(admin)
    async with httpx.AsyncClient(base_url=daphne.base_url, timeout=30) as client:
        accept = {"Accept": "text/event-stream"}
        as_dave = await client.get(stream_url(sid), headers={**accept, "Cookie": daves})
        headers = {**accept, "Cookie": carols}
        async with client.stream("GET", stream_url(sid), headers=headers) as response:
            assert_stream_headers(response)
    assert (as_dave.status_code, as_dave.json()) == (404, {"error": "session not found"})


async def test_the_end_route_ends_the_stream_of_a_session_no_call_holds(daphne, admin, alice):
    """No runtime publishes a final message: the finish's hint (from the process serving
    the end route: this one on Redis) ends the stream with the row's state."""
    sid = (await started_session(admin, alice))["session_id"]
    async with httpx.AsyncClient(base_url=daphne.base_url, timeout=30) as client:
        headers = {"X-API-Key": alice.secret}
        async with client.stream("GET", stream_url(sid), headers=headers) as response:
            assert_stream_headers(response)
            if settings.REDIS_URL:
                await end_session(alice, sid, "no longer needed")
            else:
                end = await client.post(
                    f"/api/v1/session-instances/{sid}/end",
                    json={"reason": "no longer needed"},
                    headers=headers,
                )
                assert end.status_code == 200
            messages = await messages_until_end(response)
    assert messages == [{"type": "session.ended", "reason": "no longer needed"}]


@on_redis
async def test_messages_published_in_another_process_reach_the_stream_in_order(
    daphne, admin, alice
):
    sid = (await started_session(admin, alice))["session_id"]
    sent = [
        {"type": "transcript.delta", "role": "assistant", "text": f"part {n}"} for n in range(60)
    ]
    final = {"type": "session.failed", "reason": "the provider went away"}
    async with httpx.AsyncClient(base_url=daphne.base_url, timeout=30) as client:
        headers = {"X-API-Key": alice.secret}
        async with client.stream("GET", stream_url(sid), headers=headers) as response:
            assert_stream_headers(response)  # joined: nothing published from now is missed
            for message in sent[:30]:
                await stream_publish(sid, message)

            def from_a_thread() -> None:  # as sync code would publish
                for message in sent[30:]:
                    async_to_sync(stream_publish)(sid, message)

            await sync_to_async(from_a_thread, thread_sensitive=False)()
            await stream_publish(sid, final)
            await stream_publish(sid, {"type": "turn.user", "text": "after the end"})
            assert await messages_until_end(response) == [*sent, final]


@on_redis
async def test_a_disconnected_reader_leaves_the_groups(daphne, admin, alice):
    import redis

    sid = (await started_session(admin, alice))["session_id"]
    stream_group = f"asgi__group__{session_stream_group(sid)}"
    hint_group = f"asgi__group__{session_group(sid)}"
    server = redis.Redis.from_url(settings.REDIS_URL)

    def subscribers() -> list[int]:
        return [count for _, count in server.pubsub_numsub(stream_group, hint_group)]

    headers = {"X-API-Key": alice.secret}
    async with (
        httpx.AsyncClient(base_url=daphne.base_url, timeout=30) as client,
        client.stream("GET", stream_url(sid), headers=headers),
    ):
        assert subscribers() == [1, 1]  # daphne's one subscription for its readers
    async with asyncio.timeout(10):
        while subscribers() != [0, 0]:
            await asyncio.sleep(0.05)
    server.close()


async def test_streams_per_session_are_bounded_and_a_closed_one_frees_its_place(
    daphne, admin, alice
):
    sid = (await started_session(admin, alice))["session_id"]
    headers = {"X-API-Key": alice.secret}
    for _ in range(2):  # the second round gets the places the first one gave back
        async with httpx.AsyncClient(base_url=daphne.base_url, timeout=30) as client:
            opened = [
                await client.send(
                    client.build_request("GET", stream_url(sid), headers=headers), stream=True
                )
                for _ in range(MAX_STREAMS_PER_SESSION)
            ]
            assert [r.status_code for r in opened] == [200] * MAX_STREAMS_PER_SESSION
            refused = await client.get(stream_url(sid), headers=headers)
            assert refused.status_code == 429
            assert refused.json() == {
                "error": "too_many_streams",
                "message": f"at most {MAX_STREAMS_PER_SESSION} event streams of one session "
                "at once",
                "limit": MAX_STREAMS_PER_SESSION,
            }
            for response in opened:
                await response.aclose()
        await wait_until_a_stream_opens(daphne, sid, headers)


async def wait_until_a_stream_opens(daphne, sid: str, headers: dict, timeout: float = 10) -> None:
    """The server sees a client's disconnect a moment after it: until then the place is
    still taken."""
    async with httpx.AsyncClient(base_url=daphne.base_url, timeout=30) as client:
        async with asyncio.timeout(timeout):
            while True:
                async with client.stream("GET", stream_url(sid), headers=headers) as response:
                    if response.status_code == 200:
                        return
                await asyncio.sleep(0.05)


async def test_open_streams_hold_no_request_slot(_simulator_process, admin, alice):
    """With one request slot in the process, requests are still answered while streams
    are open: a stream waits on the event loop, not in a request's thread."""
    sid = (await started_session(admin, alice))["session_id"]
    headers = {"X-API-Key": alice.secret}
    with daphne_server("event-stream-one-slot", AGENTFIELD_WEB_THREADS="1") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            opened = [
                await client.send(
                    client.build_request("GET", stream_url(sid), headers=headers), stream=True
                )
                for _ in range(3)
            ]
            assert [r.status_code for r in opened] == [200, 200, 200]
            async with asyncio.timeout(5):
                detail = await client.get(f"/api/v1/session-instances/{sid}", headers=headers)
                events = await client.get(
                    f"/api/v1/session-instances/{sid}/events", headers=headers
                )
            assert (detail.status_code, events.status_code) == (200, 200)
            for response in opened:
                await response.aclose()


async def test_a_relayed_webrtc_call_shows_up_on_the_stream(daphne, simulator, admin, alice):
    """The stream carries what the call's data channel carried, in the same order. On
    Redis the call is answered in this process and the stream served by daphne."""
    sid = (await started_session(admin, alice))["session_id"]
    async with httpx.AsyncClient(base_url=daphne.base_url, timeout=30) as client:
        headers = {"X-API-Key": alice.secret}
        async with client.stream("GET", stream_url(sid), headers=headers) as response:
            assert_stream_headers(response)
            reading = asyncio.ensure_future(messages_until_end(response, timeout=60))
            if settings.REDIS_URL:
                peer = await open_call(sid, caller=alice)
            else:
                peer = BrowserPeer()
                offer = await client.post(
                    f"/api/v1/session-instances/{sid}/realtime-offer",
                    content=await peer.offer(),
                    headers={**headers, "Content-Type": "application/sdp"},
                )
                assert offer.status_code == 200, offer.text
                await peer.accept(offer.text)
                await peer.connected()
            try:
                await peer.until("session.active")
                peer.speak()
                await peer.until("turn.user")
                await peer.until("response.done")
                peer.send({"type": "input_text", "text": "hi"})
                await peer.until("turn.assistant", text="You said: hi")
                await peer.until("response.done")
                peer.send({"type": "end"})
                await peer.until("session.ended")
                streamed = await reading
            finally:
                await peer.close()
    assert streamed == peer.events
    types = [m["type"] for m in streamed]
    assert types[0] == "session.active" and types[-1] == "session.ended"
    assert {"turn.user", "transcript.delta", "turn.assistant"} <= set(types)
    assert streamed[-1]["reason"] == "ended by the client"


# --- in this process: the ASGI application, to look at the channel layer ------------------


def in_memory_members(session_id: str) -> dict[str, int]:
    layer = get_channel_layer()
    return {
        group: len(layer.groups.get(group, {}))
        for group in (session_stream_group(session_id), session_group(session_id))
    }


async def test_in_process_keepalives_come_while_quiet_and_a_disconnect_leaves_the_groups(
    admin, alice, monkeypatch
):
    monkeypatch.setattr(event_stream, "KEEPALIVE_SECONDS", 0.2)
    sid = (await started_session(admin, alice))["session_id"]
    reader = AsgiReader(stream_url(sid), alice.secret)
    start = await reader.open()
    assert start["status"] == 200
    assert (b"Content-Type", b"text/event-stream") in start["headers"]
    assert open_stream_count(sid) == 1
    if not settings.REDIS_URL:
        assert in_memory_members(sid) == {session_stream_group(sid): 1, session_group(sid): 1}
    assert await reader.body() == b": open\n\n"  # with it daphne sends the headers
    await stream_publish(sid, {"type": "speech.started"})
    assert await reader.body() == b'data: {"type": "speech.started"}\n\n'
    assert await reader.body() == b": keepalive\n\n"
    assert await reader.body() == b": keepalive\n\n"
    await reader.disconnect()
    assert open_stream_count(sid) == 0
    if not settings.REDIS_URL:
        assert in_memory_members(sid) == {session_stream_group(sid): 0, session_group(sid): 0}


async def test_a_stream_dropped_before_its_first_frame_is_released(admin, alice):
    """A response Django never iterates (the client left as the headers went out) and
    never closes: the garbage collector's finalizer releases what the stream held."""
    sid = (await started_session(admin, alice))["session_id"]
    session = await database_sync_to_async(SessionInstance.objects.get)(session_id=sid)
    stream = await event_stream_open(session)
    assert open_stream_count(sid) == 1
    del stream
    gc.collect()
    async with asyncio.timeout(5):
        while open_stream_count(sid):
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # the groups are left right after
    if not settings.REDIS_URL:
        assert in_memory_members(sid) == {session_stream_group(sid): 0, session_group(sid): 0}
