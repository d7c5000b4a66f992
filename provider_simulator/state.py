"""What every simulated connection shares: scripts, pending faults, pace, the log, the live
realtime connections. One ``SimulatorState`` per simulator, used by both protocols."""

from __future__ import annotations

import copy
import itertools
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provider_simulator import audio

if TYPE_CHECKING:
    from provider_simulator.openai_realtime.connection import RealtimeConnection

FAULT_KINDS = ("error", "drop")
FAULT_WHENS = ("now", "next_response", "next_turn")
# The turn-based (HTTP) protocol's faults, applied by ``openrouter_audio``: an error status,
# an error event in the middle of the stream, or the stream cut in the middle.
HTTP_FAULT_KINDS = ("http_error", "stream_error", "cut")
HTTP_FAULT_WHENS = ("next_request", "next_transcription", "next_call", "next_sideband")
# How a turn with no scripted transcript is transcribed: ``duration`` names its length
# (``speech of N milliseconds``, deterministic: tests and benchmarks), ``speech`` runs the
# offline recognizer (``recognizer``; the demo) and names the length if it heard nothing.
TRANSCRIBE_MODES = ("duration", "speech")


@dataclass
class Fault:
    kind: str
    when: str
    status: int = 0  # HTTP faults: the status (http_error) or the error code (stream_error)
    message: str = ""


def validate_fault(kind: str, when: str) -> None:
    if kind in HTTP_FAULT_KINDS:
        whens = HTTP_FAULT_WHENS if kind == "http_error" else HTTP_FAULT_WHENS[:1]
        if when not in whens:
            raise ValueError(f"fault {kind} takes when {' or '.join(whens)}")
        return
    if kind not in FAULT_KINDS:
        kinds = ", ".join(FAULT_KINDS + HTTP_FAULT_KINDS)
        raise ValueError(f"fault kind must be one of {kinds}")
    if when not in FAULT_WHENS:
        raise ValueError(f"fault when must be one of {', '.join(FAULT_WHENS)}")


class SimulatorState:
    """What all connections share: scripts, pending faults, pace, the log, live connections.

    Not thread-safe: use it on the simulator's event loop only.
    """

    def __init__(self, pace: float = 0.0, transcribe: str = "duration") -> None:
        if transcribe not in TRANSCRIBE_MODES:
            raise ValueError(f"transcribe must be one of {', '.join(TRANSCRIBE_MODES)}")
        self.transcribe = transcribe
        self.default_pace = float(pace)
        self.pace = float(pace)
        self.transcripts: deque[str] = deque()
        self.tool_arguments: deque[dict[str, Any]] = deque()
        self.faults: list[Fault] = []
        self.events: list[dict[str, Any]] = []
        # sha256 of an uploaded clip -> its transcript: one clip, one transcript, whichever
        # endpoint hears it first (speech to text and the chat model run side by side).
        self.heard: dict[str, str] = {}
        self.connections: dict[int, RealtimeConnection] = {}
        self.generation = 0  # one per reset: a connection's close is logged in its own
        self._ids = itertools.count(1)
        self._connection_ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):016x}"

    def register(self, connection: RealtimeConnection) -> int:
        index = next(self._connection_ids)
        self.connections[index] = connection
        return index

    def unregister(self, index: int) -> None:
        self.connections.pop(index, None)

    def record(self, connection: int, entry: dict[str, Any]) -> None:
        """Log an entry; ``t`` (monotonic seconds, this process) lets benchmarks time gaps."""
        self.events.append({"connection": connection, "t": time.monotonic(), **entry})

    def log(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.events)

    def script_transcripts(self, transcripts: list[str]) -> None:
        if not all(isinstance(t, str) for t in transcripts):
            raise ValueError("transcripts must be strings")
        self.transcripts.extend(transcripts)

    def script_tool_arguments(self, arguments: dict[str, Any]) -> None:
        if not isinstance(arguments, dict):
            raise ValueError("arguments must be a JSON object")
        self.tool_arguments.append(copy.deepcopy(arguments))

    def set_pace(self, pace: float) -> None:
        pace = float(pace)
        if not pace >= 0:
            raise ValueError("pace must be a number >= 0")
        self.pace = pace

    def next_tool_arguments(self, default: dict[str, Any]) -> dict[str, Any]:
        """The scripted arguments of the next tool call, else ``default``."""
        return self.tool_arguments.popleft() if self.tool_arguments else default

    async def hear(self, pcm: bytes) -> str:
        """A user turn's transcript (pcm16 24 kHz): the scripted FIFO's next, else what the
        recognizer heard (``transcribe="speech"``), else ``speech of N milliseconds``."""
        if self.transcripts:
            return self.transcripts.popleft()
        return await self._unscripted(pcm)

    async def hear_clip(self, clip_key: str, pcm: bytes) -> str:
        """``hear`` for an uploaded clip, once: the same clip gets the same transcript."""
        if clip_key not in self.heard:
            if self.transcripts:
                self.heard[clip_key] = self.transcripts.popleft()
            else:
                text = await self._unscripted(pcm)
                self.heard.setdefault(clip_key, text)  # it may have been heard meanwhile
        return self.heard[clip_key]

    async def _unscripted(self, pcm: bytes) -> str:
        if self.transcribe == "speech":
            from provider_simulator import recognizer

            words = await recognizer.recognize(pcm)
            if words:
                return words
        return f"speech of {audio.duration_ms(pcm)} milliseconds"

    def add_fault(self, kind: str, when: str, status: int = 0, message: str = "") -> None:
        validate_fault(kind, when)
        self.faults.append(Fault(kind, when, status, message))

    def pop_fault(self, when: str) -> Fault | None:
        """Consume the first pending fault for ``when``."""
        for i, fault in enumerate(self.faults):
            if fault.when == when:
                return self.faults.pop(i)
        return None

    def take_fault(self, when: str) -> str | None:
        """Consume the first pending fault for ``when``; return its kind."""
        fault = self.pop_fault(when)
        return fault.kind if fault else None

    async def inject_fault(self, kind: str, when: str, status: int = 0, message: str = "") -> int:
        """Apply ``now`` to every live connection (returns how many); else queue it once."""
        validate_fault(kind, when)
        if when != "now":
            self.add_fault(kind, when, status, message)
            return 0
        live = list(self.connections.values())
        for connection in live:
            await connection.apply_fault(kind)
        return len(live)

    def reset(self) -> None:
        """Clear scripts, faults and the log; pace returns to its starting value."""
        self.transcripts.clear()
        self.tool_arguments.clear()
        self.faults.clear()
        self.events.clear()
        self.heard.clear()
        self.pace = self.default_pace
        self.generation += 1
