"""What the overview sends each second: only what changed since the browser's cursor.

The browser keeps a small model of each chair (values with their times, the
alarms, the infusion phase) and draws ages itself from the chair's clock.
Each tick the server sends, for every chair, its clock and link state (a few
numbers), plus the numerics that got new readings, the alarm list if an
alarm changed, and the phase if a session event arrived, all since the
cursor the browser sent. A lost response is asked for again from the same
cursor, so it is late, never a gap. Plain functions; no Dash here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from devices.vocabulary import PARAMETERS, SourceKind, Status
from monitor.store import SessionRecord, Store
from monitor.store.alarm_log import StoredAlarm, session_alarms
from monitor.store.health import read_health
from monitor.web.inputs import count, text
from monitor.web.live import PRIORITY_RANK, SOURCE_LABELS, STALE_AFTER_S, format_value

# Infusion phase from session events, in order of arrival.
PHASE_EVENTS = ("infusion_start", "infusion_pause", "infusion_resume", "infusion_stop")
# A browser this far behind gets a full picture instead of every reading.
MAX_READINGS_PER_TICK = 20_000


@dataclass
class Cursor:
    """Where a browser's picture of the store ends."""

    readings: int = 0
    transitions: int = 0
    events: int = 0
    sessions: str = ""  # which session each chair shows; a change redraws the page

    def to_json(self) -> dict[str, Any]:
        return {"readings": self.readings, "transitions": self.transitions,
                "events": self.events, "sessions": self.sessions}

    @classmethod
    def from_json(cls, data: Any) -> Cursor:
        """The cursor a browser sent back; anything malformed reads as a fresh start."""
        if not isinstance(data, dict):
            return cls()
        return cls(count(data.get("readings")), count(data.get("transitions")),
                   count(data.get("events")), text(data.get("sessions")) or "")


def _max_id(store: Store, table: str) -> int:
    return store._execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]


def sessions_signature(sessions: list[SessionRecord]) -> str:
    return ";".join(f"{s.chair}={s.id}{'' if s.is_open else '.'}" for s in sessions)


def alarm_json(alarm: StoredAlarm) -> dict[str, Any]:
    return {"n": alarm.number, "rule": alarm.rule, "priority": alarm.priority,
            "state": alarm.state, "message": alarm.message, "onset": alarm.onset,
            "param": alarm.param, "kind": alarm.kind}


def numeric_json(param: str, value: float | None, t: float, status: Status) -> list[Any]:
    """[text, time, status]: the text is formatted here, once, for every screen."""
    return [format_value(param, value), t, str(status)]


def phase_of(store: Store, session_id: int) -> dict[str, Any]:
    """The infusion phase from the session's events: pre, infusion, paused, after."""
    rows = store._execute(
        "SELECT time, kind, data FROM events WHERE session_id = ? AND kind IN "
        f"({','.join('?' * len(PHASE_EVENTS))}) ORDER BY time, id",
        (session_id, *PHASE_EVENTS)).fetchall()
    phase, since, started = "pre", None, None
    for t, kind, _ in rows:
        seconds = t / 1000
        if kind == "infusion_start":
            phase, since, started = "infusion", seconds, seconds
        elif kind == "infusion_pause" and phase == "infusion":
            phase, since = "paused", seconds
        elif kind == "infusion_resume" and phase == "paused":
            phase, since = "infusion", seconds
        elif kind == "infusion_stop":
            phase, since = "after", seconds
    return {"phase": phase, "since": since, "infusion_start": started}


def chair_status(store: Store, session: SessionRecord, wall_now: float,
                 alarms: list[StoredAlarm]) -> dict[str, Any]:
    """The part of a chair sent every tick: its clock, link and alarm state."""
    now = session.clock_now(wall_now)
    newest = store._execute("SELECT max(time) FROM readings WHERE session_id = ?",
                            (session.id,)).fetchone()[0]
    silent = now - (session.started_at if newest is None else newest / 1000)
    rules = {a.rule for a in alarms}
    sounding = [a for a in alarms if a.state in ("active", "latched")]
    paused = session.audio_pause_remaining(now)
    top = max(sounding, key=lambda a: PRIORITY_RANK[a.priority], default=None)
    return {
        "now": now,
        "open": session.is_open,
        "silent_s": silent if session.is_open and silent > STALE_AFTER_S else None,
        "disconnected": "device.disconnected" in rules,
        "priority": alarms[0].priority if alarms else "none",
        "unacknowledged": bool(sounding),
        "sound": None if paused > 0 or top is None else top.priority,
        "paused_s": paused,
        "alarms_off": sorted(a.param for a in alarms if a.rule.endswith(".alarms_off")
                             and a.param),
    }


def current_alarms(store: Store, session_id: int) -> list[StoredAlarm]:
    alarms = session_alarms(store, session_id, current_only=True)
    return sorted(alarms, key=lambda a: (-PRIORITY_RANK[a.priority], a.onset, a.number))


def chair_full(store: Store, session: SessionRecord, wall_now: float) -> dict[str, Any]:
    """Everything the browser needs of a chair, for a first or redrawn picture."""
    alarms = current_alarms(store, session.id)
    latest = store.latest_values(session.id)
    return {
        "session": session.id,
        "source": SOURCE_LABELS[session.source_kind],
        "status": chair_status(store, session, wall_now, alarms),
        "numerics": {p: numeric_json(p, v.value, v.time, v.status) for p, v in latest.items()},
        "alarms": [alarm_json(a) for a in alarms],
        "phase": phase_of(store, session.id),
    }


def overview_delta(store: Store, cursor: Cursor, wall_now: float | None = None,
                   ) -> tuple[dict[str, Any], Cursor, bool]:
    """The changes since `cursor`.

    Returns
    -------
    delta : dict
        ``{"chairs": {chair: {...}}, "stale_after": s}``; each chair has its
        ``status``, and ``numerics``, ``alarms``, ``phase`` where they changed.
    cursor : Cursor
        The browser's next cursor.
    redraw : bool
        The chairs or their sessions changed: the page is drawn afresh, and
        `delta` holds everything (not only changes).
    """
    wall_now = time.time() if wall_now is None else wall_now
    sessions = store.chair_sessions()
    signature = sessions_signature(sessions)
    top = Cursor(_max_id(store, "readings"), _max_id(store, "alarm_transitions"),
                 _max_id(store, "events"), signature)
    redraw = signature != cursor.sessions or top.readings - cursor.readings > \
        MAX_READINGS_PER_TICK
    chairs: dict[str, Any] = {}
    if redraw:
        for session in sessions:
            chairs[session.chair] = chair_full(store, session, wall_now)
        return {"chairs": chairs, "stale_after": STALE_AFTER_S,
                "store": store_status(store)}, top, True
    by_session = {s.id: s for s in sessions}
    numerics = _new_numerics(store, cursor.readings, top.readings, by_session)
    changed_alarms = _sessions_touched(store, "alarm_transitions", cursor.transitions,
                                       top.transitions)
    changed_events = _sessions_touched(store, "events", cursor.events, top.events)
    for session in sessions:
        alarms = current_alarms(store, session.id)
        chair: dict[str, Any] = {"session": session.id,
                                 "status": chair_status(store, session, wall_now, alarms)}
        if session.id in numerics:
            chair["numerics"] = numerics[session.id]
        if session.id in changed_alarms:
            chair["alarms"] = [alarm_json(a) for a in alarms]
        if session.id in changed_events:
            chair["phase"] = phase_of(store, session.id)
        chairs[session.chair] = chair
    return {"chairs": chairs, "stale_after": STALE_AFTER_S,
            "store": store_status(store)}, top, False


def store_status(store: Store) -> dict[str, Any]:
    """Whether the recorder can write this store (from its status file)."""
    health = read_health(store.path)
    if health is None or health.get("ok", True):
        return {"ok": True}
    return {"ok": False, "since": health.get("failing_since"), "held": health.get("held", 0),
            "dropped": health.get("dropped", 0), "error": health.get("error", ""),
            "updated": health.get("updated")}


def _new_numerics(store: Store, after: int, upto: int, sessions: dict[int, SessionRecord],
                  ) -> dict[int, dict[str, list[Any]]]:
    """The newest new reading of each parameter of each shown session."""
    if upto <= after:
        return {}
    rows = store._execute(
        "SELECT r.session_id, c.param, r.time, r.value, r.status FROM readings r "
        "JOIN channels c ON c.id = r.channel_id WHERE r.id > ? AND r.id <= ? ORDER BY r.id",
        (after, upto)).fetchall()
    out: dict[int, dict[str, list[Any]]] = {}
    newest: dict[tuple[int, str], float] = {}
    for session_id, param, t, value, status in rows:
        if session_id not in sessions:
            continue
        key = (session_id, param)
        if t < newest.get(key, -1):
            continue  # an older measurement arriving late does not replace the newer
        newest[key] = t
        out.setdefault(session_id, {})[param] = numeric_json(
            param, value, t / 1000, Status.from_code(status))
    return out


def _sessions_touched(store: Store, table: str, after: int, upto: int) -> set[int]:
    if upto <= after:
        return set()
    return {row[0] for row in store._execute(
        f"SELECT DISTINCT session_id FROM {table} WHERE id > ? AND id <= ?", (after, upto))}


def is_simulated(session: SessionRecord) -> bool:
    return session.source_kind is not SourceKind.DEVICE


__all__ = ["PARAMETERS", "Cursor", "overview_delta"]
