"""Provenance records: who called what, from where, with hashes of input and result,
signed with Ed25519 so anyone holding the public key can check a record.

The key is derived from ``SECRET_KEY`` (HKDF), so no extra secret has to be managed;
rotating ``SECRET_KEY`` invalidates old signatures, which ``verify_provenance`` reports.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from executions_app.models import Execution

ALGORITHM = "Ed25519"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def sha256_of(value: Any) -> str | None:
    return None if value is None else hashlib.sha256(canonical_json(value)).hexdigest()


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def provenance_record(execution: Execution) -> dict[str, Any]:
    """Everything the signature covers, built only from stored columns."""
    caller: dict[str, Any] = {
        "principal": execution.owner,
        "actor_id": execution.actor_id or None,
        "tags": list(execution.caller_tags),
    }
    if execution.claimed_actor_id:  # only when there is one: older records verify unchanged
        caller["claimed_actor_id"] = execution.claimed_actor_id
    return {
        "execution_id": execution.execution_id,
        "caller": caller,
        "target": {
            "name": execution.target_name,
            "type": execution.target_type,
            "approved_tags": list(execution.target_tags),
        },
        "origin": {
            "session_id": execution.session_id or None,
            "parent_execution_id": execution.parent_execution_id or None,
            "workflow_id": execution.workflow_id,
            "run_id": execution.run_id,
        },
        "status": execution.status,
        "input_sha256": sha256_of(execution.input),
        "result_sha256": sha256_of(execution.result),
        "error_sha256": sha256_of(execution.error_message or None),
        "created_at": _iso(execution.created_at),
        "started_at": _iso(execution.started_at),
        "completed_at": _iso(execution.completed_at),
    }


@functools.cache
def _private_key(secret_key: str) -> Ed25519PrivateKey:
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"agentfield-provenance", info=b"ed25519"
    ).derive(secret_key.encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key() -> Ed25519PrivateKey:
    return _private_key(settings.SECRET_KEY)


def public_key_b64() -> str:
    raw = (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode()


def sign_execution(execution: Execution) -> str:
    signature = signing_key().sign(canonical_json(provenance_record(execution)))
    return base64.b64encode(signature).decode()


def verify_execution(execution: Execution) -> bool:
    if not execution.provenance_signature:
        return False
    try:
        signature = base64.b64decode(execution.provenance_signature, validate=True)
        signing_key().public_key().verify(signature, canonical_json(provenance_record(execution)))
    except (InvalidSignature, ValueError):
        return False
    return True
