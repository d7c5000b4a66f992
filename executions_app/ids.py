"""Identifiers in upstream's shape (``exec_YYYYMMDD_HHMMSS_<hex>``), with 64 random bits."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def _new(prefix: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    return f"{prefix}_{stamp}_{secrets.token_hex(8)}"


def new_execution_id() -> str:
    return _new("exec")


def new_run_id() -> str:
    return _new("run")
