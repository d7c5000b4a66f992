"""A live session's events as a server-sent event stream, for readers in any process.

Publishing: every JSON message a call sends its own client (the relayed WebRTC call's
data-channel messages, ``webrtc_events.channel_event``) is also group-sent to
``session_stream_group(id)``. Per event loop and session one task sends them in order,
those that queued up meanwhile together, as one layer message
``{"type": "session.stream", "events": [[type, json_text], ...]}``. Publishing never
raises into the call and costs it a ``json.dumps`` and an append. The layer delivers at
most once: what it loses is lost to live readers only (the replay log is the record).

Reading: ``event_stream_open`` joins the stream group and the session's hint group
(``session_finish`` announces the end there, also of a session no call holds), sends a
probe through the stream group and waits for it (on Redis a subscription is live only
once the server has it), then reads the row again, so a reader who waits for the
response's headers misses nothing published after them. The ``EventStream`` yields
``: open\\n\\n`` at once (daphne sends the headers with the first body bytes), then
``data: <json>\\n\\n`` per message, ``: keepalive\\n\\n`` after 15 s of quiet (and re-reads
the row then: a lost hint delays the end, never hides it), and ends after the final
``session.ended|failed|expired``. A finish known only from the hint or the row gets a
grace for the call's own final message, then the row's ``{"type": "session.<status>",
"reason"}``.

Bound: ``MAX_STREAMS_PER_SESSION`` live streams of one session per process; beyond them
429 ``too_many_streams``. Only live sessions' streams stay open, so what a caller holds
is bounded by its live sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import secrets
import weakref
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.http import StreamingHttpResponse

from foundation.errors import ApiError
from sessions_app.hints import session_group, session_stream_group
from sessions_app.models import LIVE_STATUSES, SessionInstance

log = logging.getLogger(__name__)

STREAM_MESSAGE = "session.stream"
FINAL_TYPES = frozenset({"session.ended", "session.failed", "session.expired"})
KEEPALIVE_SECONDS = 15.0
FINAL_GRACE_SECONDS = 3.0  # for the call's own final message after the hint or the row
PROBE_SECONDS = 5.0
MAX_STREAMS_PER_SESSION = 4
MAX_BATCH = 100
KEEPALIVE = b": keepalive\n\n"
OPENED = b": open\n\n"  # daphne sends the headers with the first body bytes: at once

# --- publishing ---------------------------------------------------------------------------


class _Outbox:
    """One session's messages waiting on one loop, and the task that sends them."""

    __slots__ = ("items", "task")

    def __init__(self) -> None:
        self.items: deque[tuple[str, str, asyncio.Future | None]] = deque()
        self.task: asyncio.Task | None = None


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Outbox]] = (
    weakref.WeakKeyDictionary()
)


def stream_publish_soon(session_id: str, message: dict[str, Any], text: str = "") -> None:
    """Publish without waiting, from code on the event loop (``text``: the message's JSON,
    if the caller has it). Sent in order with every other publish of the session here."""
    try:
        _enqueue(session_id, message, text, None)
    except Exception:
        log.debug("could not publish to the stream of %s", session_id, exc_info=True)


async def stream_publish(session_id: str, message: dict[str, Any]) -> None:
    """Publish, returning once the layer has taken it (or failed to: logged, not raised)."""
    try:
        sent = asyncio.get_running_loop().create_future()
        _enqueue(session_id, message, "", sent)
        await sent
    except Exception:
        log.debug("could not publish to the stream of %s", session_id, exc_info=True)


def _enqueue(session_id: str, message: dict[str, Any], text: str, sent) -> None:
    kind = str(message.get("type", ""))
    text = text or json.dumps(message, default=str)
    loop = asyncio.get_running_loop()
    boxes = _outboxes.setdefault(loop, {})
    box = boxes.get(session_id)
    if box is None:
        box = boxes[session_id] = _Outbox()
        box.task = loop.create_task(
            _drain(boxes, session_id, box),
            name=f"stream-publish:{session_id}",
            context=contextvars.Context(),  # it may outlive the request that published
        )
    box.items.append((kind, text, sent))


async def _drain(boxes: dict[str, _Outbox], session_id: str, box: _Outbox) -> None:
    group = session_stream_group(session_id)
    layer = get_channel_layer()
    try:
        while box.items:
            batch = [box.items.popleft() for _ in range(min(MAX_BATCH, len(box.items)))]
            try:
                events = [[kind, text] for kind, text, _ in batch]
                await layer.group_send(group, {"type": STREAM_MESSAGE, "events": events})
            except Exception:
                log.debug("could not publish to %s", group, exc_info=True)
            finally:
                _resolve(batch)
    finally:
        if boxes.get(session_id) is box:
            del boxes[session_id]
        _resolve(box.items)  # cancelled (the loop is closing): no publisher waits forever
        box.items.clear()


def _resolve(items) -> None:
    for _, _, sent in items:
        if sent is not None and not sent.done():
            sent.set_result(None)


# --- reading ------------------------------------------------------------------------------

_open_streams: dict[str, int] = {}  # session id -> live streams in this process
_leaving: set[asyncio.Task] = set()


def _slot_take(session_id: str) -> None:
    count = _open_streams.get(session_id, 0)
    if count >= MAX_STREAMS_PER_SESSION:
        message = f"at most {MAX_STREAMS_PER_SESSION} event streams of one session at once"
        raise ApiError(429, "too_many_streams", message, limit=MAX_STREAMS_PER_SESSION)
    _open_streams[session_id] = count + 1


def _slot_give(session_id: str) -> None:
    count = _open_streams.pop(session_id, 0) - 1
    if count > 0:
        _open_streams[session_id] = count


def open_stream_count(session_id: str) -> int:
    return _open_streams.get(session_id, 0)


@database_sync_to_async
def _status_of(session_id: str) -> tuple[str, str] | None:
    return (
        SessionInstance.objects.filter(session_id=session_id)
        .values_list("status", "end_reason")
        .first()
    )


def final_message(status: str, reason: str) -> dict[str, str]:
    """The final message a call sends (``SessionRuntime.end``), from a row or a hint."""
    return {"type": f"session.{status}", "reason": reason}


def _data(text: str) -> bytes:
    return b"data: " + text.encode() + b"\n\n"  # json.dumps writes one line


class _Subscription:
    """A stream's slot, channel and pending receive; released once, from the loop, whether
    by the stream's end, Django's ``close()`` of the response (another thread) or the
    garbage collector (a response dropped before its first frame)."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.loop = asyncio.get_running_loop()
        self.channel = ""
        self.receiving: asyncio.Future | None = None
        self.slot = False
        self.released = False

    async def join(self) -> None:
        _slot_take(self.session_id)
        self.slot = True
        layer = get_channel_layer()
        self.channel = await layer.new_channel("event-stream.")
        self.receiving = asyncio.ensure_future(layer.receive(self.channel))
        await layer.group_add(session_stream_group(self.session_id), self.channel)
        await layer.group_add(session_group(self.session_id), self.channel)

    async def next(self, timeout: float) -> dict[str, Any] | None:
        """The next layer message, or None after ``timeout``. One receive stays pending
        across timeouts: cancelling it drops the channel on Redis."""
        if self.receiving is None:
            self.receiving = asyncio.ensure_future(get_channel_layer().receive(self.channel))
        done, _ = await asyncio.wait({self.receiving}, timeout=max(0.0, timeout))
        if not done:
            return None
        receiving, self.receiving = self.receiving, None
        return receiving.result()

    def release_soon(self) -> None:
        """Thread-safe; idempotent."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to leave
            self.loop.call_soon_threadsafe(self._release_on_loop)

    def _release_on_loop(self) -> None:
        if not self.released:
            task = self.loop.create_task(self.release(), context=contextvars.Context())
            _leaving.add(task)
            task.add_done_callback(_leaving.discard)

    async def release(self) -> None:
        if self.released:
            return
        self.released = True
        if self.slot:
            _slot_give(self.session_id)
        receiving, self.receiving = self.receiving, None
        if receiving is not None:
            receiving.cancel()  # on Redis this unsubscribes the channel
        if self.channel:
            leaving = asyncio.ensure_future(self._leave(receiving))
            _leaving.add(leaving)
            leaving.add_done_callback(_leaving.discard)
            await asyncio.shield(leaving)  # a second cancel must not stop it halfway

    async def _leave(self, receiving: asyncio.Future | None) -> None:
        if receiving is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiving
        layer = get_channel_layer()
        for group in (session_stream_group(self.session_id), session_group(self.session_id)):
            try:
                await layer.group_discard(group, self.channel)
            except Exception:
                log.debug("leaving %s failed", group, exc_info=True)


class EventStream:
    """One reader's frames (async-iterable, once). ``close()`` is for Django's response."""

    def __init__(self, session_id: str, final: dict[str, str] | None = None) -> None:
        self.session_id = session_id
        self._final = final  # a session finished at the open: this one message
        self._sub = _Subscription(session_id)
        self._backlog: deque[dict[str, Any]] = deque()  # arrived before the probe
        self._ending: dict[str, str] | None = None
        self._ending_at = 0.0
        weakref.finalize(self, self._sub.release_soon)

    async def open(self) -> None:
        """Join, prove the subscription with a probe, and re-read the row (which settles
        whether the session finished before the join)."""
        try:
            await self._sub.join()
            await self._probe()
            row = await _status_of(self.session_id)
        except BaseException:
            await self._sub.release()
            raise
        if row is None or row[0] not in LIVE_STATUSES:
            self._final = final_message(*(row or ("ended", "session not found")))

    async def _probe(self) -> None:
        token = secrets.token_hex(8)
        probe = {"type": STREAM_MESSAGE, "events": [], "probe": token}
        await get_channel_layer().group_send(session_stream_group(self.session_id), probe)
        deadline = self._sub.loop.time() + PROBE_SECONDS
        while (message := await self._sub.next(deadline - self._sub.loop.time())) is not None:
            if message.get("probe") == token:
                return
            self._backlog.append(message)
        raise ApiError(503, "unavailable", "the event stream could not subscribe; retry shortly")

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._frames()

    def close(self) -> None:
        self._sub.release_soon()

    async def _frames(self) -> AsyncIterator[bytes]:
        try:
            if self._final is not None:
                yield _data(json.dumps(self._final))
                return
            yield OPENED
            while True:
                message = self._backlog.popleft() if self._backlog else await self._next()
                if message is None:  # quiet past the keepalive, or the grace is over
                    if self._ending is not None:
                        yield _data(json.dumps(self._ending))
                        return
                    row = await _status_of(self.session_id)
                    if row is None or row[0] not in LIVE_STATUSES:
                        self._end_known(*(row or ("ended", "session not found")))
                    else:
                        yield KEEPALIVE
                    continue
                kind = message.get("type")
                if kind == "session.finished":  # session_finish's hint
                    self._end_known(str(message.get("status")), str(message.get("reason", "")))
                elif kind == STREAM_MESSAGE:
                    frames, final = self._frames_of(message)
                    if frames:
                        yield frames
                    if final:
                        return
        finally:
            await self._sub.release()

    async def _next(self) -> dict[str, Any] | None:
        if self._ending is None:
            return await self._sub.next(KEEPALIVE_SECONDS)
        return await self._sub.next(self._ending_at - self._sub.loop.time())

    def _end_known(self, status: str, reason: str) -> None:
        if self._ending is None:
            self._ending = final_message(status, reason)
            self._ending_at = self._sub.loop.time() + FINAL_GRACE_SECONDS

    @staticmethod
    def _frames_of(message: dict[str, Any]) -> tuple[bytes, bool]:
        """The batch's frames up to and with a final message, and whether there was one."""
        frames = []
        for kind, text in message.get("events") or ():
            frames.append(_data(text))
            if kind in FINAL_TYPES:
                return b"".join(frames), True
        return b"".join(frames), False


async def event_stream_open(session: SessionInstance) -> EventStream:
    """The stream of a session the caller may see (looked up already); joined once this
    returns. ``ApiError`` 429 past the bound, 503 if the layer does not answer."""
    if not session.is_live:
        return EventStream(session.session_id, final_message(session.status, session.end_reason))
    stream = EventStream(session.session_id)
    await stream.open()
    return stream


def event_stream_response(stream: EventStream) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx and friends: pass each frame on at once
    return response
