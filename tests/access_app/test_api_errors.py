"""Database overload is a 503 with Retry-After, never a 500."""

import pytest
from django.db import OperationalError
from psycopg_pool import PoolTimeout

from foundation.errors import exception_handler


def _pool_timeout() -> OperationalError:
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 30.00 sec")
        except PoolTimeout as cause:
            raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        return exc


@pytest.mark.parametrize(
    "exc", [_pool_timeout(), OperationalError("database is locked")], ids=["pool", "sqlite"]
)
def test_database_overload_answers_503_with_retry_after(exc):
    response = exception_handler(exc, {})
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.data["error"] == "overloaded"


def test_other_database_errors_are_not_disguised_as_overload():
    assert exception_handler(OperationalError("relation does not exist"), {}) is None
