"""The OpenAI Realtime (GA) WebSocket protocol, simulated deterministically, one state machine
per connection (``RealtimeConnection``).

Only the subset our adapter uses is implemented; see ``provider_simulator/server.py`` for
the transport and control endpoints. Transport-agnostic: a connection is given a coroutine that
sends one text frame and a callable that drops the TCP connection. A client event the
protocol does not have, or one that breaks its rules, is answered with an ``error`` event,
as the real service does: the double fails loudly, never silently.

One module per part of a connection:

- ``wire``: sending server events and errors, ``ClientEventError``.
- ``session_config``: the session object, ``session.update``, the VAD's settings.
- ``input_audio``: ``input_audio_buffer.*`` and server VAD turns. Server VAD is energy based
  over 20 ms frames (see ``audio.EnergyVad``), in audio time; a user turn's transcript comes
  from the scripted FIFO, else from the offline recognizer when the simulator transcribes
  speech (``provider_simulator.recognizer``), else ``speech of N milliseconds``.
- ``conversation``: ``conversation.item.*`` and the turns a response is planned from.
- ``responses``: ``response.create`` / ``cancel``; a response speaks (SAY prefix, tool
  result, or ``You said: ...``) or calls a tool.
- ``connection``: the life of one connection: open, dispatch, faults, close.

A WebRTC call (``provider_simulator.call``) is a connection too: its microphone feeds
``InputAudio.feed_audio`` and its outgoing track is the responses' ``wire.AudioOut``, so
audio leaves on the track, not as ``response.output_audio.delta`` events.

Faults ``next_turn`` / ``next_response`` replace the turn or response they hit: the turn is
discarded (no ``committed``) or the response never starts (no ``response.created``).
"""

from provider_simulator.openai_realtime.connection import RealtimeConnection
from provider_simulator.openai_realtime.session_config import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "RealtimeConnection"]
