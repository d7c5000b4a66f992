"""The node's HTTP client of the control plane: register, poll, heartbeat, execute.

Every request carries the node's API key in ``X-API-Key``; nothing here logs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import httpx

from agentfield.errors import ExecutionError, RegistrationRefused

DEFAULT_TIMEOUT = 10.0


def to_jsonable(value: Any) -> Any:
    """Plain JSON values from what handlers pass around: dataclasses, objects with
    ``to_dict()`` or ``model_dump()`` (pydantic), mappings, sequences."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    for method in ("model_dump", "to_dict"):
        convert = getattr(value, method, None)
        if callable(convert) and not isinstance(value, dict):
            return to_jsonable(convert())
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    return value


def call_input(payload: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``input`` of a call: ``payload`` (a mapping) updated with the keyword arguments."""
    if payload is not None and not isinstance(payload, Mapping):
        raise TypeError("the input of a call must be a mapping (or keyword arguments)")
    return to_jsonable({**(payload or {}), **kwargs})


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(body: Any, response: httpx.Response) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)
    return response.text[:300] or f"HTTP {response.status_code}"


class ControlPlaneClient:
    """One pooled ``httpx.AsyncClient`` per node, opened lazily on the running loop."""

    def __init__(self, server: str, api_key: str, *, call_timeout: float) -> None:
        self.server = server.rstrip("/")
        self._api_key = api_key
        self._call_timeout = call_timeout
        self._client: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.server,
                headers={"X-API-Key": self._api_key},
                timeout=DEFAULT_TIMEOUT,
            )
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def register(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v1/nodes/register``. A 4xx raises ``RegistrationRefused``; transport
        errors and 5xx raise ``httpx.HTTPError`` (worth retrying)."""
        response = await self.http.post("/api/v1/nodes/register", json=payload)
        body = _json(response)
        if 400 <= response.status_code < 500:
            raise RegistrationRefused(response.status_code, body or response.text[:300])
        response.raise_for_status()
        if not isinstance(body, dict) or "dispatch_token" not in body:
            raise httpx.HTTPError("the control plane answered the registration without a token")
        return body

    async def node(self, node_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/v1/nodes/{node_id}")
        response.raise_for_status()
        return response.json()

    async def heartbeat(self, node_id: str, body: dict[str, Any]) -> int:
        """``POST /api/v1/nodes/<id>/heartbeat``; returns the HTTP status."""
        response = await self.http.post(f"/api/v1/nodes/{node_id}/heartbeat", json=body)
        return response.status_code

    async def execute(self, target: str, input: dict[str, Any], headers: dict[str, str]) -> Any:
        """``POST /api/v1/execute/<target>`` (sync): the result, or ``ExecutionError``."""
        try:
            response = await self.http.post(
                f"/api/v1/execute/{target}",
                json={"input": input},
                headers=headers,
                timeout=self._call_timeout,
            )
        except httpx.HTTPError as exc:
            raise ExecutionError(
                f"calling {target} failed: the control plane did not answer ({type(exc).__name__})",
                status="unreachable",
            ) from None
        body = _json(response)
        execution_id = (body.get("execution_id") if isinstance(body, dict) else None) or (
            response.headers.get("X-Execution-ID")
        )
        if response.status_code == 200 and isinstance(body, dict):
            status = str(body.get("status") or "")
            if status == "succeeded":
                return body.get("result")
            raise ExecutionError(
                body.get("error_message") or f"execution of {target} ended {status}",
                execution_id=execution_id,
                status=status or "failed",
                http_status=200,
                error_category=body.get("error_category"),
                body=body,
            )
        status = "refused"
        if isinstance(body, dict) and response.status_code == 504:
            status = str(body.get("status") or "timeout")
        raise ExecutionError(
            f"calling {target} failed ({response.status_code}): {_detail(body, response)}",
            execution_id=execution_id,
            status=status,
            http_status=response.status_code,
            error_category=body.get("error") if isinstance(body, dict) else None,
            body=body,
        )
