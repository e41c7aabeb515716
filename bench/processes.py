"""Stopping the subprocesses a benchmark started, and reading their logs."""

from __future__ import annotations

import subprocess
from typing import IO, Any


def stop_all(processes: dict[str, subprocess.Popen[Any]], grace: float = 30) -> list[str]:
    """SIGTERM every process still running, then SIGKILL any not gone after `grace` s.

    Returns
    -------
    list of str
        The names of the processes that had to be killed.
    """
    for proc in processes.values():
        if proc.poll() is None:
            proc.terminate()
    killed = []
    for name, proc in processes.items():
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            killed.append(name)
    return killed


def problem_lines(log: IO[str]) -> list[str]:
    """The lines of a process's log that report a problem (warnings, errors, tracebacks)."""
    log.seek(0)
    return [line for line in log.read().splitlines()
            if "Traceback" in line or " ERROR " in line or " WARNING " in line]
