"""Clocks a source runs on.

Every adapter tells time through one of these, so acquisition judges silence
and backs off in the source's own time: a simulator at 600x goes quiet for
60 session seconds in 0.1 wall seconds, and a test in stepping mode never
sleeps at all. All clocks read seconds since the epoch, UTC, but advance on
``time.monotonic`` so a step of the system clock does not move them.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What a source's clock offers."""

    speed: float

    def now(self) -> float:
        """Current time on this clock, seconds since the epoch (UTC)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let `seconds` of this clock's time pass."""
        ...

    def sleep_until(self, t: float) -> None:
        """Let time pass until this clock reads at least `t`."""
        ...


def clock_at(start: float, speed: float) -> ScaledClock | StepClock:
    """A clock reading `start` now and running at `speed` (infinity: stepping)."""
    return StepClock(start) if math.isinf(speed) else ScaledClock(start, speed)


class ScaledClock:
    """Wall time, optionally sped up: ``speed`` clock seconds per wall second.

    Parameters
    ----------
    start : float, optional
        Clock time at creation (s since epoch); default the current wall time.
    speed : float
        1 for real time, 600 for ten minutes per wall-clock second.
    """

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, not {speed!r}")
        self.speed = float(speed)
        self.start = time.time() if start is None else float(start)
        self._mono0 = time.monotonic()
        self._interrupt = threading.Event()

    def now(self) -> float:
        return self.start + (time.monotonic() - self._mono0) * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._interrupt.wait(seconds / self.speed)

    def sleep_until(self, t: float) -> None:
        self.sleep(t - self.now())

    def wall_anchor(self) -> tuple[float, float]:
        """(wall time, clock time) of one instant, so another process can
        compute this clock's now as ``clock + (wall_now - wall) * speed``."""
        return time.time(), self.now()

    def interrupt(self) -> None:
        """Wake any sleeper for good (used when shutting down)."""
        self._interrupt.set()


class StepClock:
    """A clock that only moves when told to: sleeping advances it at once.

    Used for tests and batch generation, where a whole session must run in
    the time it takes to compute it.
    """

    speed = float("inf")

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._now += seconds

    def sleep_until(self, t: float) -> None:
        # Set, not added: repeated float additions would never land exactly on t.
        self._now = max(self._now, float(t))

    def wall_anchor(self) -> tuple[float, float]:
        return time.time(), self._now

    def interrupt(self) -> None:
        pass
