"""Access policy writes (upstream's admin CRUD)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from access_app.models import AccessPolicy
from foundation.errors import ApiError


def _name_taken(name: str) -> ApiError:
    return ApiError(409, "policy_exists", f"a policy named '{name}' already exists")


def policy_create(*, data: dict[str, Any]) -> AccessPolicy:
    try:
        with transaction.atomic():
            return AccessPolicy.objects.create(
                **{k: data[k] for k in AccessPolicy.EDITABLE_FIELDS if k in data}
            )
    except IntegrityError:
        raise _name_taken(data["name"]) from None


def policy_update(*, policy: AccessPolicy, data: dict[str, Any]) -> AccessPolicy:
    for key in AccessPolicy.EDITABLE_FIELDS:
        if key in data:
            setattr(policy, key, data[key])
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise _name_taken(data["name"]) from None
    return policy


def policy_delete(*, policy: AccessPolicy) -> None:
    policy.delete()
