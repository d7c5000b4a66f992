import time

from executions_app.models import TERMINAL_STATUSES, Execution


def wait_terminal(execution_id: str, timeout: float = 30) -> Execution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = Execution.objects.get(execution_id=execution_id)
        if execution.status in TERMINAL_STATUSES:
            return execution
        time.sleep(0.05)
    raise AssertionError(f"{execution_id} still {execution.status} after {timeout}s")


def wait_until(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
