"""Shared fixtures: callers with keys (alice, bob, an admin, an agent) and API clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from access_app.models import ApiKey
from access_app.services.api_keys import api_key_create


@dataclass
class Caller:
    key: ApiKey
    secret: str

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=self.secret)
        return client


@pytest.fixture
def make_caller(db) -> Callable[..., Caller]:
    def make(
        role: str = "caller", tags: list[str] | None = None, node_id: str = "", name: str = ""
    ):
        key, secret = api_key_create(
            name=name or f"{role}-key", role=role, tags=tags or [], node_id=node_id
        )
        return Caller(key=key, secret=secret)

    return make


@pytest.fixture
def admin(make_caller) -> Caller:
    return make_caller("admin", name="admin")


@pytest.fixture
def alice(make_caller) -> Caller:
    return make_caller("caller", tags=["team:a"], name="alice")


@pytest.fixture
def bob(make_caller) -> Caller:
    return make_caller("caller", tags=["team:b"], name="bob")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()
