"""The conversation: ``conversation.item.create`` / ``truncate``, and the turns (items reduced
to what response planning needs) that responses are planned from."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from provider_simulator.openai_realtime.wire import ClientEventError, RealtimeWire


@dataclass
class Turn:
    """One conversation item, reduced to what response planning needs."""

    id: str
    kind: str  # user | assistant | function_call | function_call_output | other
    text: str = ""
    call_id: str = ""
    called: bool = False  # for a user turn: it already produced a function call


def message_text(content: Any) -> str:
    """The text of a message item's content parts (input_text / text / transcripts)."""
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        if isinstance(part, dict):
            value = part.get("text") if part.get("text") is not None else part.get("transcript")
            if isinstance(value, str):
                texts.append(value)
    return " ".join(texts)


class Conversation(RealtimeWire):
    """Items the client adds, and the ``conversation.item.added`` / ``done`` pair."""

    async def _on_item_create(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            raise ClientEventError("Missing required parameter: 'item'.", param="item")
        item = copy.deepcopy(item)
        turn = self._turn_for_item(item)
        if turn.kind == "user":
            fault = self.state.take_fault("next_turn")
            if fault:
                await self.apply_fault(fault)
                return
        item.update(id=turn.id, object="realtime.item", status="completed")
        previous = self.turns[-1].id if self.turns else None
        self.turns.append(turn)
        await self._item_added(item, previous)

    def _turn_for_item(self, item: dict[str, Any]) -> Turn:
        """Validate a client item and reduce it to a ``Turn``."""
        item_id = item.get("id") if isinstance(item.get("id"), str) else self.state.new_id("item")
        kind = item.get("type")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system"):
                raise ClientEventError("Invalid 'item.role'.", param="item.role")
            text = message_text(item.get("content"))
            return Turn(
                item_id,
                "user" if role == "user" else "assistant" if role == "assistant" else "other",
                text,
            )
        if kind == "function_call_output":
            call_id, output = item.get("call_id"), item.get("output")
            if not isinstance(call_id, str) or not isinstance(output, str):
                raise ClientEventError(
                    "A function_call_output needs string 'call_id' and 'output'.",
                    param="item.output",
                )
            return Turn(item_id, "function_call_output", output, call_id=call_id)
        if kind == "function_call":
            return Turn(
                item_id,
                "function_call",
                str(item.get("arguments", "")),
                call_id=str(item.get("call_id", "")),
            )
        raise ClientEventError(f"Invalid value for 'item.type': {kind!r}.", param="item.type")

    async def _on_truncate(self, event: dict[str, Any]) -> None:
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": event.get("item_id"),
                "content_index": event.get("content_index", 0),
                "audio_end_ms": event.get("audio_end_ms", 0),
            }
        )

    async def _item_added(self, item: dict[str, Any], previous: str | None) -> None:
        for kind in ("conversation.item.added", "conversation.item.done"):
            await self.send({"type": kind, "previous_item_id": previous, "item": item})

    def _latest_user_turn(self) -> Turn | None:
        return next((t for t in reversed(self.turns) if t.kind == "user"), None)
