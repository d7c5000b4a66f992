"""Chunked request bodies (no ``Content-Length``) through a real daphne: counted as they
reach Django and refused with 413 past ``AGENTFIELD_MAX_REQUEST_BYTES``, before anyone is
authenticated; a chunked body under the limit is served as usual."""

from __future__ import annotations

import json
import socket

import pytest

from tests.servers import daphne_server

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 64 * 1024
CHUNK = 8 * 1024
URL = "/api/v1/execute/async/no-such-node.no_such_reasoner"


def chunked_post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    """One HTTP/1.1 request with ``Transfer-Encoding: chunked``; the status and JSON body."""
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked",
            "Content-Type: application/json", "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items())]  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for start in range(0, len(body), CHUNK):
            piece = body[start : start + CHUNK]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        answer = b""
        while data := sock.recv(65536):
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(payload)


def json_body(size: int) -> bytes:
    return b'{"input": {"pad": "' + b"x" * size + b'"}}'


@pytest.fixture(scope="module")
def server():
    with daphne_server("chunked", AGENTFIELD_MAX_REQUEST_BYTES=str(LIMIT)) as running:
        yield running


def test_a_chunked_body_past_the_limit_is_a_413_before_authentication(server):
    status, body = chunked_post(server.port, URL, json_body(4 * LIMIT), {})
    assert status == 413
    assert body["error"] == "request_too_large" and body["limit"] == LIMIT


def test_a_chunked_body_past_the_limit_is_a_413_for_a_caller_too(server, alice):
    status, body = chunked_post(server.port, URL, json_body(LIMIT + 1), {"X-API-Key": alice.secret})
    assert (status, body["error"]) == (413, "request_too_large")


def test_a_chunked_body_under_the_limit_reaches_the_view(server, alice):
    unknown, body = chunked_post(
        server.port, URL, json_body(LIMIT // 2), {"X-API-Key": alice.secret}
    )
    assert unknown == 404, body  # the view read it: no such target
    unauthenticated, _ = chunked_post(server.port, URL, json_body(100), {})
    assert unauthenticated == 401
