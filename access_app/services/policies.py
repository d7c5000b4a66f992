"""Access policy writes (upstream's admin CRUD)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from access_app.models import AccessPolicy


class PolicyNameTaken(Exception):
    pass


POLICY_FIELDS = (
    "name",
    "caller_tags",
    "target_tags",
    "allow_functions",
    "deny_functions",
    "constraints",
    "action",
    "priority",
    "enabled",
    "description",
)


def policy_create(*, data: dict[str, Any]) -> AccessPolicy:
    try:
        with transaction.atomic():
            return AccessPolicy.objects.create(**{k: data[k] for k in POLICY_FIELDS if k in data})
    except IntegrityError:
        raise PolicyNameTaken(data["name"]) from None


def policy_update(*, policy: AccessPolicy, data: dict[str, Any]) -> AccessPolicy:
    for key in POLICY_FIELDS:
        if key in data:
            setattr(policy, key, data[key])
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise PolicyNameTaken(data["name"]) from None
    return policy


def policy_delete(*, policy: AccessPolicy) -> None:
    policy.delete()
