"""ResponseSequencer as a plain class: one OpenAI realtime response at a time, no socket.

The adapter asks ``request()`` before a ``response.create`` goes out, reports it ``sent()``,
and reports the server's ``response.created`` / ``response.done`` / ``error`` events; what
those return is what it sends next.
"""

from __future__ import annotations

from sessions_app.providers.openai_realtime import wire
from sessions_app.providers.openai_realtime.sequencer import (
    ACTIVE_RESPONSE,
    MAX_TRACKED_ITEMS,
    ResponseSequencer,
)

SAY = {"instructions": "Say exactly: hi", "tool_choice": "none"}


def sent_now(sequencer: ResponseSequencer, event_id: str, response: dict) -> None:
    assert sequencer.request(response)
    sequencer.sent(event_id, response)


def test_a_create_goes_out_at_once_when_no_response_is_active():
    sequencer = ResponseSequencer()
    assert not sequencer.active
    assert sequencer.request({})
    assert not sequencer.queued


def test_a_create_waits_for_ours_to_start_and_finish_then_goes_out_alone():
    sequencer = ResponseSequencer()
    sent_now(sequencer, "evt_1", {})
    assert sequencer.active  # sent, not started yet: still counts
    assert not sequencer.request(SAY)
    assert not sequencer.request({"instructions": "second"})
    sequencer.created()
    assert sequencer.active and sequencer.awaiting == ""
    assert sequencer.done() == SAY  # the first queued, and only that one
    sequencer.sent("evt_2", SAY)
    assert sequencer.done() is None  # evt_2 has not started: the next one still waits
    sequencer.created()
    assert sequencer.done() == {"instructions": "second"}


def test_a_response_the_server_started_blocks_creates_until_it_is_done():
    sequencer = ResponseSequencer()
    sequencer.created()  # server VAD, not ours
    assert not sequencer.request({})
    assert sequencer.done() == {}
    assert sequencer.done() is None


def test_a_create_that_lost_the_race_is_queued_first_and_sent_after_that_response():
    sequencer = ResponseSequencer()
    sent_now(sequencer, "evt_1", SAY)
    assert not sequencer.request({})  # a later one, queued behind it
    sequencer.created()  # the server's VAD response, not ours
    assert sequencer.failed("evt_1", ACTIVE_RESPONSE) is None  # still active: nothing yet
    assert list(sequencer.queued) == [SAY, {}]
    assert sequencer.done() == SAY


def test_a_race_reported_before_response_created_still_waits_for_that_response():
    sequencer = ResponseSequencer()
    sent_now(sequencer, "evt_1", SAY)
    assert sequencer.failed("evt_1", ACTIVE_RESPONSE) is None
    assert sequencer.active and sequencer.awaiting == ""
    assert sequencer.done() == SAY


def test_any_other_error_forgets_the_create_and_frees_the_next():
    sequencer = ResponseSequencer()
    sent_now(sequencer, "evt_1", {})
    assert not sequencer.request(SAY)
    assert sequencer.failed("evt_1", "invalid_value") == SAY
    assert sequencer.failed("evt_1", "invalid_value") is None  # reported once only


def test_an_error_for_an_event_that_is_not_a_create_changes_nothing():
    sequencer = ResponseSequencer()
    sent_now(sequencer, "evt_1", {})
    assert not sequencer.request(SAY)
    assert sequencer.failed("evt_9", ACTIVE_RESPONSE) is None
    assert sequencer.awaiting == "evt_1" and list(sequencer.queued) == [SAY]


def test_drop_queued_forgets_waiting_creates_and_retries():
    sequencer = ResponseSequencer()
    sent_now(sequencer, "evt_1", {})
    assert not sequencer.request(SAY)
    sequencer.drop_queued()
    assert sequencer.failed("evt_1", ACTIVE_RESPONSE) is None
    assert not sequencer.queued
    assert sequencer.done() is None


def test_it_remembers_a_bounded_number_of_creates():
    sequencer = ResponseSequencer()
    for number in range(MAX_TRACKED_ITEMS + 10):
        sequencer.sent(f"evt_{number}", {})
        sequencer.created()
        sequencer.done()
    assert len(sequencer.recent) == MAX_TRACKED_ITEMS
    assert "evt_0" not in sequencer.recent and f"evt_{MAX_TRACKED_ITEMS + 9}" in sequencer.recent


def test_server_events_drive_it_through_the_wire_mapping():
    sequencer = ResponseSequencer()
    sent_now(sequencer, "evt_1", {})
    assert not sequencer.request(SAY)
    race = {"type": "error", "error": {"code": ACTIVE_RESPONSE, "event_id": "evt_1"}}
    assert wire.track(sequencer, {"type": "response.created", "response": {}}) is None
    assert wire.track(sequencer, race) is None
    assert wire.track(sequencer, {"type": "response.output_audio.delta"}) is None
    assert wire.track(sequencer, {"type": "response.done", "response": {}}) == {}
    assert list(sequencer.queued) == [SAY]
