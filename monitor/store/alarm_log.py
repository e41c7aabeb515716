"""Storing what the rules engine says: alarms, their transitions, audit and log entries.

The alarm log of CLINICAL.md: every alarm with onset, end, priority, rule,
triggering value and the limit in force; every acknowledgement, pause and
limit change with user and time (the audit table).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from monitor.rules.alarms import AlarmChange, AlarmState, AuditEntry, LogEntry, Output
from monitor.store.store import Store, to_ms


def record_outputs(store: Store, session_id: int, outputs: Iterable[Output]) -> None:
    """Store engine outputs in order, in one transaction."""
    with store.transaction():
        log = []
        for out in outputs:
            if isinstance(out, AlarmChange):
                _record_change(store, session_id, out)
            elif isinstance(out, AuditEntry):
                store.add_audit(session_id, out.time, out.user, out.action, out.data)
                if out.action == "pause_audio":
                    # Screens in other processes show the countdown from here.
                    store.set_audio_pause(session_id, out.time + out.data["seconds"])
            elif isinstance(out, LogEntry):
                log.append((out.time, out.kind, "rules", out.data))
                if out.kind == "baseline_captured":
                    store.set_baseline(session_id, out.data["baseline"])
                elif out.kind in ("audio_pause_broken", "audio_pause_ended"):
                    store.set_audio_pause(session_id, None)
        store.add_events(session_id, log)


def _record_change(store: Store, session_id: int, change: AlarmChange) -> None:
    execute = store._execute
    if change.transition == "onset":
        execute("INSERT INTO alarms (session_id, number, rule, param, kind, priority, onset, "
                "value, limit_value, state, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, change.number, change.rule, change.param, str(change.kind),
                 str(change.priority), to_ms(change.time), change.value, change.limit,
                 str(change.state), change.message))
    else:
        ended = to_ms(change.time) if change.state is AlarmState.ENDED else None
        execute("UPDATE alarms SET state = ?, priority = ?, value = ?, limit_value = ?, "
                "message = ?, end = coalesce(?, end) WHERE session_id = ? AND number = ?",
                (str(change.state), str(change.priority), change.value, change.limit,
                 change.message, ended, session_id, change.number))
    execute("INSERT INTO alarm_transitions (session_id, number, time, state, transition, "
            "priority, value, user, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, change.number, to_ms(change.time), str(change.state),
             change.transition, str(change.priority), change.value, change.user,
             change.message))


@dataclass(frozen=True)
class StoredAlarm:
    """An alarm as the store holds it (times in s since epoch)."""

    number: int
    rule: str
    param: str | None
    kind: str
    priority: str
    onset: float
    end: float | None
    value: float | None
    limit: float | None
    state: str
    message: str
    acknowledgements: tuple[tuple[float, str], ...]

    def as_json(self) -> dict[str, Any]:
        """The DESIGN.md shape (times as seconds; the exporter formats them)."""
        return {"id": self.number, "rule": self.rule, "param": self.param, "kind": self.kind,
                "priority": self.priority, "onset": self.onset, "end": self.end,
                "value": self.value, "limit": self.limit, "state": self.state,
                "message": self.message,
                "acknowledgements": [{"time": t, "user": u} for t, u in self.acknowledgements]}


def session_alarms(store: Store, session_id: int, *, current_only: bool = False,
                   ) -> list[StoredAlarm]:
    """A session's alarms in onset order (or only those not ended)."""
    where = " AND state != 'ended'" if current_only else ""
    rows = store._execute(
        "SELECT number, rule, param, kind, priority, onset, end, value, limit_value, state, "
        f"message FROM alarms WHERE session_id = ?{where} ORDER BY onset, number",
        (session_id,)).fetchall()
    acks: dict[int, list[tuple[float, str]]] = {}
    for number, t, user in store._execute(
            "SELECT number, time, user FROM alarm_transitions WHERE session_id = ? "
            "AND transition = 'acknowledged' ORDER BY time, id", (session_id,)):
        acks.setdefault(number, []).append((t / 1000, user))
    return [StoredAlarm(n, rule, param, kind, prio, onset / 1000,
                        None if end is None else end / 1000, value, limit, state, message,
                        tuple(acks.get(n, ())))
            for n, rule, param, kind, prio, onset, end, value, limit, state, message in rows]


def transitions(store: Store, session_id: int) -> list[dict[str, Any]]:
    """Every alarm transition of a session, in order (the alarm log)."""
    rows = store._execute(
        "SELECT number, time, state, transition, priority, value, user, message "
        "FROM alarm_transitions WHERE session_id = ? ORDER BY time, id",
        (session_id,)).fetchall()
    return [{"alarm": n, "time": t / 1000, "state": state, "transition": tr, "priority": p,
             "value": v, "user": u, "message": m} for n, t, state, tr, p, v, u, m in rows]

