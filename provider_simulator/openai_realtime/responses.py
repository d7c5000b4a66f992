"""Responses: ``response.create`` / ``cancel``; what a response does (speak or call a tool),
streamed as the real service streams it, and its ``response.done``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from provider_simulator import audio
from provider_simulator.openai_realtime.conversation import Turn
from provider_simulator.openai_realtime.wire import ClientEventError, RealtimeWire
from provider_simulator.scripting import (
    NO_USER_TURN_REPLY,
    SAY_PREFIX,
    mentions,
    reply_for_tool_output,
    tool_arguments,
    transcript_deltas,
)

logger = logging.getLogger(__name__)


@dataclass
class ActiveResponse:
    id: str
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""
    output: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class Responses(RealtimeWire):
    """At most one active response per connection, run as a task on the simulator's loop."""

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        request = event.get("response") or {}
        if not isinstance(request, dict):
            raise ClientEventError("Invalid type for 'response'.", param="response")
        if self.response is not None:
            raise ClientEventError(
                "Conversation already has an active response in progress: "
                f"{self.response.id}. Wait until the response is finished before creating a "
                "new one.",
                code="conversation_already_has_active_response",
            )
        await self.start_response(request, automatic=False)

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        if not await self.cancel_response("client_cancelled"):
            raise ClientEventError(
                "Cancellation failed: no active response found.", code="response_cancel_not_active"
            )

    async def start_response(self, request: dict[str, Any], *, automatic: bool) -> None:
        """Send ``response.created`` and run the response in the background.

        An automatic response while another is active is skipped (the client's own
        ``response.create`` gets an error instead, see ``_on_response_create``).
        """
        if self.response is not None:
            if automatic:
                self.state.record(self.index, {"type": "simulator.response_skipped"})
            return
        fault = self.state.take_fault("next_response")
        if fault:
            await self.apply_fault(fault)
            return
        plan = self._plan(request)
        response = ActiveResponse(self.state.new_id("resp"))
        self.response = response
        await self.send(
            {"type": "response.created", "response": self._response_object(response, "in_progress")}
        )
        response.task = asyncio.create_task(self._run_response(response, plan))

    async def cancel_response(self, reason: str) -> bool:
        """Cancel the active response and wait for its ``response.done``; False if none."""
        response = self.response
        if response is None:
            return False
        response.reason = reason
        response.cancelled.set()
        if response.task is not None:
            await asyncio.wait({response.task})
        return True

    def _response_object(self, response: ActiveResponse, status: str) -> dict[str, Any]:
        details = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": response.reason}
        return {
            "id": response.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": copy.deepcopy(response.output),
            "usage": None,
        }

    # Planning ----------------------------------------------------------------------------

    def _plan(self, request: dict[str, Any]) -> tuple[str, Any]:
        """Decide now what the response does: ("say", text) or ("call", (tool, turn))."""
        instructions = request.get("instructions")
        if isinstance(instructions, str) and instructions.startswith(SAY_PREFIX):
            return "say", instructions[len(SAY_PREFIX) :]
        call = self._tool_to_call(request)
        if call is not None:
            return "call", call
        return "say", self._reply_text()

    def _tool_to_call(self, request: dict[str, Any]) -> tuple[dict[str, Any], Turn] | None:
        tools = request["tools"] if isinstance(request.get("tools"), list) else None
        if tools is None:
            tools = self.session.get("tools") if isinstance(self.session.get("tools"), list) else []
        functions = [
            t
            for t in tools
            if isinstance(t, dict)
            and t.get("type", "function") == "function"
            and isinstance(t.get("name"), str)
        ]
        choice = request.get("tool_choice", self.session.get("tool_choice", "auto"))
        turn = self._latest_user_turn()
        if not functions or choice == "none" or turn is None or turn.called:
            return None
        if isinstance(choice, dict) and choice.get("type") == "function":
            forced = [t for t in functions if t["name"] == choice.get("name")]
            return (forced[0], turn) if forced else None
        loosely = self.state.transcribe == "speech"
        named = [t for t in functions if mentions(turn.text, t["name"], loosely=loosely)]
        if not named and choice == "required":
            named = functions
        return (named[0], turn) if named else None

    def _reply_text(self) -> str:
        last = self.turns[-1] if self.turns else None
        if last is not None and last.kind == "function_call_output":
            return reply_for_tool_output(last.text)
        user = self._latest_user_turn()
        return f"You said: {user.text}" if user else NO_USER_TURN_REPLY

    # Running -----------------------------------------------------------------------------

    async def _run_response(self, response: ActiveResponse, plan: tuple[str, Any]) -> None:
        try:
            action, arg = plan
            if action == "call":
                await self._call_tool(response, *arg)
            else:
                await self._speak(response, arg)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("provider simulator: a response failed")
            await self._finish(response, "failed")
            return
        await self._finish(response, "cancelled" if response.cancelled.is_set() else "completed")

    async def _finish(self, response: ActiveResponse, status: str) -> None:
        if self.response is response:
            self.response = None
        for item in response.output:
            if item.get("status") == "in_progress":
                item["status"] = "incomplete"
        await self.send(
            {"type": "response.done", "response": self._response_object(response, status)}
        )
        if self.audio_out is not None:
            await self.audio_out.response_done(response.id)

    async def _pause(self, response: ActiveResponse) -> None:
        """Between audio chunks: yield (pace 0) or wait 100 ms / pace, waking on cancel."""
        pace = self.state.pace
        if pace <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(response.cancelled.wait(), audio.CHUNK_MS / 1000 / pace)

    def _stopped(self, response: ActiveResponse) -> bool:
        return self.closed or response.cancelled.is_set()

    async def _output_item(self, kind: str, response: ActiveResponse, item: dict) -> None:
        """``response.output_item.added`` or ``.done`` for the response's one output item."""
        await self.send(
            {
                "type": f"response.output_item.{kind}",
                "response_id": response.id,
                "output_index": 0,
                "item": copy.deepcopy(item),
            }
        )

    async def _call_tool(self, response: ActiveResponse, tool: dict[str, Any], turn: Turn) -> None:
        turn.called = True
        encoded = json.dumps(self.state.next_tool_arguments(tool_arguments(tool, turn.text)))
        call_id, item_id = self.state.new_id("call"), self.state.new_id("item")
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": tool["name"],
            "call_id": call_id,
            "arguments": "",
        }
        where = {
            "response_id": response.id,
            "item_id": item_id,
            "output_index": 0,
            "call_id": call_id,
        }
        await self._output_item("added", response, item)
        await self.send(
            {"type": "response.function_call_arguments.delta", **where, "delta": encoded}
        )
        await self.send(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": tool["name"],
                "arguments": encoded,
            }
        )
        item.update(status="completed", arguments=encoded)
        response.output.append(item)
        self.turns.append(Turn(item_id, "function_call", encoded, call_id=call_id))
        await self._output_item("done", response, item)
        self.state.record(self.index, {"type": "simulator.function_call", "call_id": call_id})

    async def _speak(self, response: ActiveResponse, text: str) -> None:
        """Stream ``text`` as an assistant audio message, stopping early on cancel."""
        self.state.record(self.index, {"type": "simulator.spoke", "text": text})
        pcm = await asyncio.to_thread(audio.synthesize, text)
        item_id = self.state.new_id("item")
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        if self._stopped(response):
            return
        response.output.append(item)
        where = {"response_id": response.id, "item_id": item_id, "output_index": 0}
        part = {"content_index": 0, "part": {"type": "audio", "transcript": ""}}
        await self._output_item("added", response, item)
        await self.send({"type": "response.content_part.added", **where, **part})
        if not await self._stream_audio(response, where, pcm, text):
            return
        await self.send({"type": "response.output_audio.done", **where, "content_index": 0})
        await self.send(
            {
                "type": "response.output_audio_transcript.done",
                **where,
                "content_index": 0,
                "transcript": text,
            }
        )
        part["part"]["transcript"] = text
        await self.send({"type": "response.content_part.done", **where, **part})
        item.update(status="completed", content=[{"type": "output_audio", "transcript": text}])
        self.turns.append(Turn(item_id, "assistant", text))
        await self._output_item("done", response, item)

    async def _stream_audio(
        self, response: ActiveResponse, where: dict[str, Any], pcm: bytes, text: str
    ) -> bool:
        """Audio deltas, each with its words of transcript, paced; False if stopped early."""
        pieces = audio.chunks(pcm)
        words = transcript_deltas(text, len(pieces))
        for index, chunk in enumerate(pieces):
            if self._stopped(response):
                return False
            if self.audio_out is not None:
                await self.audio_out.play(response.id, chunk)
            else:
                delta = base64.b64encode(chunk).decode("ascii")
                await self.send(
                    {
                        "type": "response.output_audio.delta",
                        **where,
                        "content_index": 0,
                        "delta": delta,
                    }
                )
            for word in words.get(index, []):
                await self.send(
                    {
                        "type": "response.output_audio_transcript.delta",
                        **where,
                        "content_index": 0,
                        "delta": word,
                    }
                )
            await self._pause(response)
        return not self._stopped(response)
