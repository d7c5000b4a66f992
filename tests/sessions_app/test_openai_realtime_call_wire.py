"""The direct-media call's wire pieces that need no server: the session it posts, the call id
it reads, and the WebRTC-only playback events."""

from __future__ import annotations

import pytest

from sessions_app.providers.base import PlaybackStarted, PlaybackStopped, ProviderConfig
from sessions_app.providers.openai_realtime import wire
from sessions_app.providers.openai_realtime.call import call_id_from_location


def test_a_call_session_names_no_audio_format_but_keeps_the_rest() -> None:
    config = ProviderConfig(
        session_id="s",
        model="gpt-realtime",
        voice="cedar",
        turn_detection={"type": "server_vad"},
        auto_respond=False,
    )
    relayed = wire.session_payload(config)
    direct = wire.session_payload(config, audio_formats=False)
    assert "format" in relayed["audio"]["input"] and "format" in relayed["audio"]["output"]
    assert "format" not in direct["audio"]["input"]
    assert "format" not in direct["audio"]["output"]
    assert direct["type"] == "realtime" and direct["model"] == "gpt-realtime"
    assert direct["audio"]["output"]["voice"] == "cedar"
    assert direct["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "create_response": False,
    }
    update = wire.session_update(config, audio_formats=False)
    assert update == {"type": "session.update", "session": direct}


@pytest.mark.parametrize(
    ("location", "call_id"),
    [
        ("/v1/realtime/calls/rtc_u1_9c65", "rtc_u1_9c65"),
        ("https://api.openai.com/v1/realtime/calls/rtc_abc/", "rtc_abc"),
        ("/v1/realtime/calls/", ""),
        ("/v1/realtime/calls/sess_123", ""),
        ("", ""),
        ("/v1/realtime/calls/rtc_" + "x" * 300, ""),
    ],
)
def test_the_call_id_is_the_last_rtc_segment_of_location(location: str, call_id: str) -> None:
    assert call_id_from_location(location) == call_id


def test_the_provider_playback_events_map_to_neutral_events() -> None:
    mapper = wire.EventMapper(lambda text: text)
    assert mapper.map({"type": "output_audio_buffer.started"}) == [PlaybackStarted()]
    assert mapper.map({"type": "output_audio_buffer.stopped"}) == [PlaybackStopped()]
    assert mapper.map({"type": "output_audio_buffer.cleared"}) == [PlaybackStopped()]
    assert wire.playback_clear() == {"type": "output_audio_buffer.clear"}
