"""Physiological alarm conditions: limits with delays, hysteresis and
saturation-seconds, and the change between consecutive NIBP readings.

Each rule sees only valid, plausible values with their times and tells the
:class:`~monitor.rules.alarms.AlarmBook` when its condition starts, worsens
and ends. The hot path (a value inside the limits, nothing pending) returns
after two comparisons: the engine runs hundreds of thousands of readings a
second through these.
"""

from __future__ import annotations

from collections import deque

from devices.vocabulary import PARAMETERS
from monitor.rules.alarms import AlarmBook, AlarmKind
from monitor.rules.profile import Priority, SaturationSpec


def _short(param: str) -> str:
    """The parameter as a screen names it ("SYS", "SpO2")."""
    spec = PARAMETERS.get(param)
    return spec.short if spec else param


class LimitRule:
    """One side's worth of limits of one parameter ("SBP above 160/180").

    Parameters
    ----------
    rule : str
        Alarm rule id, e.g. ``nibp_sys.high`` or ``nibp_sys.baseline_high``.
    param : str
    side : "low" or "high"
    bands : tuple of (threshold, Priority)
        Least severe first.
    delay_s : float
        The condition must hold this long before it alarms (0: at once).
    hysteresis : float
        The value must come back this far inside the first threshold to end it.
    saturation : SaturationSpec, optional
        Saturation-seconds instead of the delay (low side only).
    label : str
        How the limit is described in messages, e.g. "above baseline +25%".
    """

    __slots__ = (
        "alarm_on",
        "area",
        "band_priorities",
        "bands",
        "book",
        "delay_s",
        "dips",
        "direction",
        "edge",
        "end_edge",
        "hysteresis",
        "label",
        "last_time",
        "param",
        "pending_since",
        "rule",
        "saturation",
        "was_outside",
    )

    def __init__(self, book: AlarmBook, rule: str, param: str, side: str,
                 bands: tuple[tuple[float, Priority], ...], delay_s: float, hysteresis: float,
                 saturation: SaturationSpec | None = None, label: str = "") -> None:
        self.book = book
        self.rule = rule
        self.param = param
        self.direction = 1 if side == "high" else -1
        # Comparisons are done on direction * value, so "outside" is always ">".
        self.bands = tuple(self.direction * t for t, _ in bands)
        self.band_priorities = tuple(p for _, p in bands)
        self.edge = self.bands[0]
        self.end_edge = self.edge - hysteresis
        self.delay_s = delay_s
        self.hysteresis = hysteresis
        self.saturation = saturation if side == "low" else None
        self.label = label
        self.pending_since: float | None = None
        self.alarm_on = False
        self.area = 0.0
        self.last_time: float | None = None
        self.dips: deque[float] = deque()
        self.was_outside = False

    def update(self, value: float, time: float) -> None:
        x = self.direction * value
        if x <= self.edge and not self.alarm_on and self.pending_since is None:
            return  # the common case: inside the limit, nothing going on
        self._update(x, value, time)

    def _update(self, x: float, value: float, time: float) -> None:
        outside = x > self.edge
        if self.alarm_on:
            if outside or x > self.end_edge:  # hysteresis: not yet back to normal
                if outside:
                    self._present(x, value, time)
                self.was_outside = outside
                return
            self.alarm_on = False
            self.book.absent(self.rule, time)
            self._clear()
            return
        if not outside:
            self._clear()
            return
        if self.pending_since is None:
            self.pending_since = time
        if self._onset_due(x, time):
            self.alarm_on = True
            self._present(x, value, time)
        self.was_outside = True
        self.last_time = time

    def _onset_due(self, x: float, time: float) -> bool:
        sat = self.saturation
        if sat is None:
            return time - self.pending_since >= self.delay_s  # type: ignore[operator]
        # Saturation-seconds: area below the limit, or repeated dips.
        if self.last_time is not None and self.was_outside:
            self.area += (x - self.edge) * min(time - self.last_time, 5.0)
        if not self.was_outside:
            self.dips.append(time)
            while self.dips and self.dips[0] < time - sat.window_s:
                self.dips.popleft()
        return self.area >= sat.area or len(self.dips) >= sat.violations

    def _clear(self) -> None:
        self.pending_since = None
        self.area = 0.0
        self.last_time = None
        self.was_outside = False
        # Dips are kept: "3 violations in 60 s" counts separate excursions.

    def _present(self, x: float, value: float, time: float) -> None:
        index = 0
        for i, band in enumerate(self.bands):
            if x > band:
                index = i
        threshold = self.direction * self.bands[index]
        side = "above" if self.direction > 0 else "below"
        self.book.present(
            self.rule, time, priority=self.band_priorities[index], kind=AlarmKind.PHYSIOLOGICAL,
            param=self.param, value=value, limit=threshold,
            message=f"{_short(self.param)} {value:g} {side} {self.label or f'{threshold:g}'}")

    def end(self, time: float) -> None:
        """End the condition now (alarms for this parameter switched off)."""
        if self.alarm_on:
            self.alarm_on = False
            self.book.absent(self.rule, time)
        self._clear()


class RateRule:
    """Change between consecutive episodic readings larger than `max_change`."""

    __slots__ = ("book", "max_change", "param", "previous", "priority", "rule")

    def __init__(self, book: AlarmBook, param: str, max_change: float,
                 priority: Priority) -> None:
        self.book = book
        self.rule = f"{param}.rate"
        self.param = param
        self.max_change = max_change
        self.priority = priority
        self.previous: float | None = None

    def update(self, value: float, time: float) -> None:
        previous, self.previous = self.previous, value
        if previous is None:
            return
        change = value - previous
        if abs(change) > self.max_change:
            self.book.present(self.rule, time, priority=self.priority,
                              kind=AlarmKind.PHYSIOLOGICAL, param=self.param, value=value,
                              limit=self.max_change,
                              message=f"{_short(self.param)} changed {change:+g} since the last "
                                      f"measurement (limit {self.max_change:g})")
        else:
            self.book.absent(self.rule, time)
