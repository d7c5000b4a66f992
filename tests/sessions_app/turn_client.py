"""The turns route from a test: a turn-based session's definition and an async client that
posts turns with one caller's credentials (the view runs on the test's event loop)."""

from __future__ import annotations

from django.test import AsyncClient

TURNS = {
    "provider": "openrouter",
    "transport": "audio_turns",
    "model": "openai/gpt-audio-mini",
    "voice": "alloy",
}


class Client:
    """An AsyncClient that sends one caller's credentials with every request."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers, self.client = headers, AsyncClient()

    async def post(self, url: str, data=None, **kwargs):
        return await self.client.post(url, data, headers=self.headers, **kwargs)


def client_for(caller=None, secret: str = "") -> Client:
    if secret:
        return Client({"Authorization": f"Bearer {secret}"})
    return Client({"X-API-Key": caller.secret})


async def post_turn(client: Client, sid: str, body=None, *, multipart=None):
    url = f"/api/v1/session-instances/{sid}/turns"
    if multipart is not None:
        return await client.post(url, multipart)
    return await client.post(url, body if body is not None else {}, content_type="application/json")
