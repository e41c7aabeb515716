"""Alarms and their lifecycle: the only place an alarm changes state.

Each alarm condition the rules detect (``nibp_sys.high``, ``device.no_data``)
becomes an :class:`Alarm` that moves through the allowed states only::

    active --acknowledge--> acknowledged --condition ends--> ended
    active --condition ends, latching--> latched --reset/acknowledge--> ended
    active --condition ends, not latching--> ended
    acknowledged/latched --worse priority, reminder, condition back--> active

Every change is returned as an :class:`AlarmChange`, in order, for the store;
nothing here reads a clock (times come in with the calls).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from monitor.rules.profile import Priority


class AlarmState(enum.StrEnum):
    ACTIVE = "active"              # condition present, not acknowledged: sounds
    ACKNOWLEDGED = "acknowledged"  # condition present, sound off for this occurrence
    LATCHED = "latched"            # condition gone, still shown (and sounding) until reset
    ENDED = "ended"


ALLOWED: dict[AlarmState, frozenset[AlarmState]] = {
    AlarmState.ACTIVE: frozenset({AlarmState.ACTIVE, AlarmState.ACKNOWLEDGED,
                                  AlarmState.LATCHED, AlarmState.ENDED}),
    AlarmState.ACKNOWLEDGED: frozenset({AlarmState.ACTIVE, AlarmState.ENDED}),
    AlarmState.LATCHED: frozenset({AlarmState.ACTIVE, AlarmState.ENDED}),
    AlarmState.ENDED: frozenset(),
}


class AlarmKind(enum.StrEnum):
    PHYSIOLOGICAL = "physiological"
    TECHNICAL = "technical"


@dataclass
class Alarm:
    """One occurrence of an alarm condition."""

    number: int                 # 1, 2, ... within the session
    rule: str                   # e.g. "nibp_sys.high", "device.no_data"
    param: str | None
    kind: AlarmKind
    priority: Priority
    onset: float                # s since epoch, session clock
    value: float | None         # the value that triggered it (or escalated it)
    limit: float | None         # the limit in force
    message: str
    state: AlarmState = AlarmState.ACTIVE
    end: float | None = None
    acknowledged_by: list[tuple[float, str]] = field(default_factory=list)

    @property
    def sounding(self) -> bool:
        """Unacknowledged and still shown: wants the sound on."""
        return self.state in (AlarmState.ACTIVE, AlarmState.LATCHED)


@dataclass(frozen=True)
class AlarmChange:
    """One transition of one alarm, for the store and the screen.

    `transition` says why: onset, escalated, acknowledged, latched, ended,
    reset, reactivated, reminder.
    """

    number: int
    rule: str
    param: str | None
    kind: AlarmKind
    priority: Priority
    state: AlarmState
    transition: str
    time: float
    value: float | None
    limit: float | None
    message: str
    user: str | None = None
    onset: float = 0.0


@dataclass(frozen=True)
class AuditEntry:
    """An operator's action, with who and when (acknowledge, pause, reset, limits, ...)."""

    time: float
    user: str
    action: str
    data: dict[str, Any]


@dataclass(frozen=True)
class LogEntry:
    """Something the rules noticed that is not an alarm (an artefact rejected,
    the baseline captured, discharge criteria met); stored as an event."""

    time: float
    kind: str
    data: dict[str, Any]


Output = AlarmChange | AuditEntry | LogEntry


class IllegalTransition(ValueError):
    """An operator asked for something the alarm's state does not allow."""


class AlarmBook:
    """All alarms of a session, keyed by rule while their condition lasts."""

    def __init__(self, latching: dict[Priority, bool], first_number: int = 1) -> None:
        self.latching = latching
        # A resumed session goes on numbering after the alarms it already has.
        self.first_number = first_number
        self.alarms: list[Alarm] = []
        self.by_rule: dict[str, Alarm] = {}   # rule -> its current (not ended) alarm
        self.out: list[Output] = []            # changes since the caller last took them

    def take(self) -> list[Output]:
        out, self.out = self.out, []
        return out

    def _move(self, alarm: Alarm, state: AlarmState, transition: str, time: float,
              user: str | None = None) -> None:
        if state not in ALLOWED[alarm.state]:
            raise IllegalTransition(f"alarm {alarm.number} ({alarm.rule}) is {alarm.state}; "
                                    f"it cannot become {state}")
        alarm.state = state
        if state is AlarmState.ENDED:
            alarm.end = time
            if self.by_rule.get(alarm.rule) is alarm:
                del self.by_rule[alarm.rule]
        self.out.append(AlarmChange(alarm.number, alarm.rule, alarm.param, alarm.kind,
                                    alarm.priority, state, transition, time, alarm.value,
                                    alarm.limit, alarm.message, user, alarm.onset))

    # -- conditions, from the rules ----------------------------------------------------

    def present(self, rule: str, time: float, *, priority: Priority, kind: AlarmKind,
                param: str | None, value: float | None, limit: float | None,
                message: str) -> Alarm | None:
        """The condition of `rule` holds now; returns the alarm if it started or got worse."""
        alarm = self.by_rule.get(rule)
        if alarm is None:
            alarm = Alarm(self.first_number + len(self.alarms), rule, param, kind, priority,
                          time, value, limit, message)
            self.alarms.append(alarm)
            self.by_rule[rule] = alarm
            self.out.append(AlarmChange(alarm.number, rule, param, kind, priority,
                                        AlarmState.ACTIVE, "onset", time, value, limit,
                                        message, None, time))
            return alarm
        if priority > alarm.priority:
            # Worse than when acknowledged: a new condition, to be acknowledged again.
            alarm.priority, alarm.value, alarm.limit, alarm.message = (priority, value, limit,
                                                                       message)
            self._move(alarm, AlarmState.ACTIVE, "escalated", time)
            return alarm
        if alarm.state is AlarmState.LATCHED:
            self._move(alarm, AlarmState.ACTIVE, "reactivated", time)
        return None

    def absent(self, rule: str, time: float) -> None:
        """The condition of `rule` no longer holds."""
        alarm = self.by_rule.get(rule)
        if alarm is None or alarm.state is AlarmState.LATCHED:
            return
        if alarm.state is AlarmState.ACTIVE and self.latching.get(alarm.priority, False):
            self._move(alarm, AlarmState.LATCHED, "latched", time)
        else:
            self._move(alarm, AlarmState.ENDED, "ended", time)

    def remind(self, rule: str, time: float) -> None:
        """Sound an acknowledged alarm again (e.g. alarms still off)."""
        alarm = self.by_rule.get(rule)
        if alarm is not None and alarm.state is AlarmState.ACKNOWLEDGED:
            self._move(alarm, AlarmState.ACTIVE, "reminder", time)

    # -- operators --------------------------------------------------------------------

    def get(self, number: int) -> Alarm:
        index = number - self.first_number
        if not 0 <= index < len(self.alarms):
            raise IllegalTransition(f"no alarm {number} in this session (or not since the "
                                    "recorder last started)")
        return self.alarms[index]

    def acknowledge(self, number: int, user: str, time: float) -> None:
        alarm = self.get(number)
        if alarm.state is AlarmState.LATCHED:
            # Its condition is over and someone has now seen it.
            self._move(alarm, AlarmState.ENDED, "acknowledged", time, user)
        else:
            self._move(alarm, AlarmState.ACKNOWLEDGED, "acknowledged", time, user)
        alarm.acknowledged_by.append((time, user))

    def reset(self, number: int, user: str, time: float) -> None:
        alarm = self.get(number)
        if alarm.state is not AlarmState.LATCHED:
            raise IllegalTransition(f"alarm {number} ({alarm.rule}) is {alarm.state}; "
                                    "only a latched alarm can be reset")
        self._move(alarm, AlarmState.ENDED, "reset", time, user)

    def current(self) -> list[Alarm]:
        """Alarms not ended, most urgent first, then oldest first."""
        live = [a for a in self.alarms if a.state is not AlarmState.ENDED]
        return sorted(live, key=lambda a: (-a.priority, a.onset, a.number))
