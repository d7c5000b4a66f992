"""A child process's output, read as it comes: kept in memory, copied to a log file, and
waited on (a condition variable, not a polling loop), so a test waits for what a process
says rather than for a wall-clock window."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path


class ProcessOutput:
    """The combined stdout/stderr of ``process`` (started with ``stdout=PIPE, text=True``)."""

    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self._text = ""
        self._ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="process-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with self.log_path.open("w") as log:
            for line in iter(self.process.stdout.readline, ""):
                log.write(line)
                log.flush()
                with self._changed:
                    self._text += line
                    self._changed.notify_all()
        with self._changed:
            self._ended = True  # every holder of the pipe (the process tree) closed it
            self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return self._text

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first match of ``pattern`` in the output; AssertionError when the output ends
        without it, or after ``timeout`` seconds (a failsafe)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._ended or re.search(pattern, self._text), timeout=timeout
            )
            match = re.search(pattern, self._text)
            if match is None:
                raise AssertionError(f"no {pattern!r} in the output:\n{self._text}")
            return match

    def wait_closed(self, timeout: float = 30) -> str:
        """All of the output, once the whole process tree closed it."""
        self._reader.join(timeout)
        if self._reader.is_alive():
            raise AssertionError(f"the output is still open after {timeout} s:\n{self.text()}")
        return self.text()
