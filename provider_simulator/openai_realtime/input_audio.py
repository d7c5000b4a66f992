"""The input audio buffer: ``input_audio_buffer.append`` / ``commit`` / ``clear``, and the
user turns server VAD cuts from it (speech started, stopped, committed, transcribed)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from provider_simulator import audio
from provider_simulator.openai_realtime.conversation import Turn
from provider_simulator.openai_realtime.wire import ClientEventError, RealtimeWire

IDLE_PADDING_MS = 200  # audio kept beyond prefix_padding_ms while nobody speaks


class InputAudio(RealtimeWire):
    """Buffered input audio, addressed by absolute byte offsets in the connection's audio."""

    buffer: bytearray
    buffer_start: int  # absolute byte offset of buffer[0] in this connection's audio
    audio_bytes: int  # all audio appended so far

    async def _on_append(self, event: dict[str, Any]) -> None:
        raw = event.get("audio")
        if not isinstance(raw, str):
            raise ClientEventError("Missing required parameter: 'audio'.", param="audio")
        try:
            pcm = base64.b64decode(raw, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ClientEventError("Invalid 'audio': not base64.", param="audio") from exc
        await self.feed_audio(pcm)

    async def feed_audio(self, pcm: bytes) -> None:
        """Input audio (pcm16 24 kHz mono), from an append or a call's microphone track."""
        self.buffer += pcm
        self.audio_bytes += len(pcm)
        events = self.vad.feed(pcm)
        td = self.turn_detection
        if td is None:
            self.vad.reset_speech()
            return
        for vad_event in events:
            if vad_event.kind == "start":
                await self._speech_started(vad_event.at_ms, td)
            else:
                await self._speech_stopped(vad_event.at_ms, td)
        if not self.vad.speaking:
            keep_ms = int(td.get("prefix_padding_ms") or 0) + IDLE_PADDING_MS
            self._trim_buffer(self.audio_bytes - keep_ms * audio.BYTES_PER_MS)

    def _trim_buffer(self, keep_from: int) -> None:
        """Drop buffered audio before absolute byte offset ``keep_from``."""
        keep_from -= keep_from % 2
        if keep_from > self.buffer_start:
            del self.buffer[: keep_from - self.buffer_start]
            self.buffer_start = keep_from

    def _take_buffer(self, end: int) -> bytes:
        """Remove and return buffered audio up to absolute byte offset ``end``."""
        count = max(0, end - self.buffer_start)
        pcm = bytes(self.buffer[:count])
        del self.buffer[:count]
        self.buffer_start += len(pcm)
        return pcm

    async def _speech_started(self, at_ms: int, td: dict[str, Any]) -> None:
        self.speech_item_id = self.state.new_id("item")
        padding_ms = int(td.get("prefix_padding_ms") or 0)
        self._trim_buffer(max(0, at_ms - padding_ms) * audio.BYTES_PER_MS)
        await self.send(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": at_ms,
                "item_id": self.speech_item_id,
            }
        )
        if td.get("interrupt_response", True):
            if self.response is not None:
                await self.cancel_response("turn_detected")
            if self.audio_out is not None:  # a call: what is still playing is cut off
                await self.audio_out.clear()

    async def _speech_stopped(
        self, at_ms: int, td: dict[str, Any], transcript: str | None = None
    ) -> None:
        item_id = self.speech_item_id or self.state.new_id("item")
        self.speech_item_id = None
        await self.send(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": at_ms, "item_id": item_id}
        )
        pcm = self._take_buffer(at_ms * audio.BYTES_PER_MS)
        respond = bool(td.get("create_response", True))
        await self._commit_audio_turn(pcm, item_id, respond=respond, transcript=transcript)

    async def spoken_turn(self, text: str) -> None:
        """A user turn heard without audio (control ``call-turn``): speech started and stopped
        now, committed, transcribed as ``text``, then the usual automatic response."""
        td = self.turn_detection
        if td is None:
            raise ClientEventError(
                "Turn detection is off: no turn can be heard.", code="turn_detection_disabled"
            )
        self.vad.reset_speech()
        at_ms = self.vad.position_ms
        await self._speech_started(at_ms, td)
        await self._speech_stopped(at_ms, td, transcript=text)

    async def _on_commit(self, event: dict[str, Any]) -> None:
        if not self.buffer:
            raise ClientEventError(
                "Error committing input audio buffer: the buffer is empty.",
                code="input_audio_buffer_commit_empty",
            )
        item_id = self.speech_item_id or self.state.new_id("item")
        self.speech_item_id = None
        self.vad.reset_speech()
        pcm = self._take_buffer(self.audio_bytes)
        td = self.turn_detection
        await self._commit_audio_turn(pcm, item_id, respond=bool(td and td.get("create_response")))

    async def _on_clear(self, event: dict[str, Any]) -> None:
        self._take_buffer(self.audio_bytes)
        self.vad.reset_speech()
        self.speech_item_id = None
        await self.send({"type": "input_audio_buffer.cleared"})

    async def _commit_audio_turn(
        self, pcm: bytes, item_id: str, *, respond: bool, transcript: str | None = None
    ) -> None:
        """committed, item added/done, transcription; then maybe the automatic response."""
        fault = self.state.take_fault("next_turn")
        if fault:
            await self.apply_fault(fault)
            return
        previous = self.turns[-1].id if self.turns else None
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "item_id": item_id,
                "previous_item_id": previous,
            }
        )
        ms = audio.duration_ms(pcm)
        if transcript is None:  # scripted, else recognized or "speech of N milliseconds"
            transcript = await self.state.hear(pcm)
        self.turns.append(Turn(item_id, "user", transcript))
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self._item_added(item, previous)
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": transcript,
                "usage": {"type": "duration", "seconds": round(ms / 1000, 3)},
            }
        )
        if respond:
            await self.start_response({}, automatic=True)
