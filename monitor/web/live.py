"""What the live screens show, computed from the store: plain functions, no Dash.

The Dash callbacks in :mod:`monitor.web.app` only call these and place the
result; everything here is tested without a browser.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devices.vocabulary import PARAMETERS, SourceKind, Status
from monitor.store import LatestValue, SessionRecord, Store
from monitor.store.alarm_log import StoredAlarm, session_alarms
from monitor.web.inputs import count, number

# Parameters shown on a tile, in this order; others follow, by name.
TILE_ORDER: tuple[str, ...] = ("hr", "pulse_rate", "spo2", "nibp_sys", "nibp_dia",
                               "nibp_mean", "resp_rate", "etco2", "temp", "perf_index")

# A streamed value older than this (session-clock seconds) is not shown as a
# number: "never show an old value as if it were current" (DESIGN.md).
STALE_AFTER_S = 10.0

# Trend panels: (title, params). Each param is one trace, in this order.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Heart / pulse rate  /min", ("hr", "pulse_rate")),
    ("SpO2  %", ("spo2",)),
    ("NIBP  mmHg", ("nibp_sys", "nibp_dia", "nibp_mean")),
    ("Resp rate  /min · EtCO2  mmHg", ("resp_rate", "etco2")),
)
TRACE_PARAMS: tuple[str, ...] = tuple(p for _, params in PANELS for p in params)
TRACE_INDEX: dict[str, int] = {p: i for i, p in enumerate(TRACE_PARAMS)}

# A streamed trace with a hole longer than this (s) gets a break in its line,
# so a silent device shows as a gap, never as a straight line across it.
GAP_S = 5.0

PRIORITY_RANK = {"high": 3, "medium": 2, "low": 1}

SOURCE_LABELS: dict[SourceKind, str] = {
    SourceKind.SIMULATED: "SIMULATED",
    SourceKind.REPLAY: "REPLAY",
    SourceKind.IMPORT: "IMPORTED RECORDING",
    SourceKind.DEVICE: "",
}


@dataclass(frozen=True)
class Numeric:
    """One parameter as a tile shows it."""

    param: str
    label: str
    text: str          # the value as shown, or a dash when there is none to show
    unit: str
    age_s: float       # seconds between the reading and the session's now
    status: Status
    stale: bool

    @property
    def age_text(self) -> str:
        return format_age(self.age_s)


@dataclass(frozen=True)
class ChairView:
    """A chair's current session and its numerics."""

    chair: str
    session: SessionRecord
    numerics: tuple[Numeric, ...]
    now: float
    alarms: tuple[StoredAlarm, ...] = ()   # not ended, most urgent first
    device: dict[str, Any] | None = None    # the device's counters, as last reported

    @property
    def device_summary(self) -> str:
        """One line about the link: what it is, and what came through it."""
        d = self.device
        if not d:
            return ""
        parts = [str(d.get("device", ""))]
        if "bytes_in" in d:
            parts.append(f"{d['bytes_in']:,} bytes, {d.get('frames_ok', 0):,} frames ok")
        rejected = d.get("rejected") or {}
        if rejected:
            parts.append(f"{sum(rejected.values()):,} rejected (" + ", ".join(
                f"{reason} {count}" for reason, count in sorted(rejected.items())) + ")")
        if d.get("reconnects"):
            parts.append(f"{d['reconnects']} reconnects")
        return "; ".join(parts)

    @property
    def alarm_priority(self) -> str:
        """The highest priority among the chair's current alarms, or "none"."""
        return self.alarms[0].priority if self.alarms else "none"

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.session.source_kind]

    @property
    def silent_s(self) -> float | None:
        """Seconds since the newest reading of any parameter, if over the stale limit."""
        if not self.numerics:
            return self.now - self.session.started_at
        newest = min(n.age_s for n in self.numerics)
        return newest if newest > STALE_AFTER_S else None


def format_age(seconds: float) -> str:
    """Age for a person at 3 m: "4 s", "12 min", "2 h 05 min"."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def format_value(param: str, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "---"
    spec = PARAMETERS.get(param)
    decimals = spec.decimals if spec else 1
    return f"{value:.{decimals}f}"


def numeric(latest: LatestValue, now: float) -> Numeric:
    spec = PARAMETERS.get(latest.param)
    age = now - latest.time
    # NIBP is a measurement taken now and then: its age is shown, not hidden.
    stale = age > STALE_AFTER_S and not (spec and spec.episodic)
    return Numeric(
        param=latest.param,
        label=spec.short if spec else latest.param,
        text="---" if stale else format_value(latest.param, latest.value),
        unit=latest.unit,
        age_s=age,
        status=latest.status,
        stale=stale,
    )


def _order(param: str) -> tuple[int, str]:
    return (TILE_ORDER.index(param) if param in TILE_ORDER else len(TILE_ORDER), param)


def chair_view(store: Store, session: SessionRecord, wall_now: float | None = None) -> ChairView:
    now = session.clock_now(time.time() if wall_now is None else wall_now)
    latest = store.latest_values(session.id)
    numerics = tuple(numeric(latest[p], now) for p in sorted(latest, key=_order))
    alarms = sorted(session_alarms(store, session.id, current_only=True),
                    key=lambda a: (-PRIORITY_RANK[a.priority], a.onset, a.number))
    status = store.device_status(session.id)
    return ChairView(session.chair, session, numerics, now, tuple(alarms),
                     status[1] if status else None)


def overview(store: Store, wall_now: float | None = None) -> list[ChairView]:
    """Every chair's current session (live ones first), with its numerics."""
    views = [chair_view(store, s, wall_now) for s in store.chair_sessions()]
    return sorted(views, key=lambda v: (not v.session.is_open, v.chair))


def session_for(store: Store, chair: str | None = None,
                session_id: int | None = None) -> SessionRecord | None:
    """The session a chair page shows: the given id, else the chair's current one."""
    if session_id is not None:
        try:
            return store.session(session_id)
        except Exception:
            return None
    for session in store.chair_sessions():
        if session.chair == chair:
            return session
    return None


# -- trends ------------------------------------------------------------------------

def display_time(t: float) -> str:
    """A time for the chart's x axis, in the server's local time."""
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass
class TrendCursor:
    """How far a browser's chart has got: the last reading id, and each trace's
    last time (to break lines across gaps)."""

    last_id: int = 0
    last_time: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"last_id": self.last_id, "last_time": self.last_time or {}}

    @classmethod
    def from_json(cls, data: Any) -> TrendCursor:
        """The cursor a browser sent back; anything malformed reads as a fresh start."""
        if not isinstance(data, dict):
            return cls()
        last_time = data.get("last_time")
        times = {k: v for k, v in last_time.items() if number(v) is not None} \
            if isinstance(last_time, dict) else {}
        return cls(count(data.get("last_id")), times)


def trend_points(rows: list[tuple[int, str, float, float | None, Status]],
                 cursor: TrendCursor) -> tuple[dict[int, tuple[list[str], list[Any]]], TrendCursor]:
    """New chart points per trace index from readings in arrival order.

    Questionable and invalid readings are not drawn as values (an artefact
    spike is not the patient); an invalid one draws a break.
    """
    last_time = dict(cursor.last_time or {})
    points: dict[int, tuple[list[str], list[Any]]] = {}
    last_id = cursor.last_id
    for reading_id, param, t, value, status in rows:
        last_id = reading_id
        index = TRACE_INDEX.get(param)
        if index is None:
            continue
        xs, ys = points.setdefault(index, ([], []))
        spec = PARAMETERS[param]
        previous = last_time.get(param)
        if previous is not None and not spec.episodic and t - previous > GAP_S:
            xs.append(display_time((t + previous) / 2))
            ys.append(None)
        if status is Status.VALID and value is not None:
            xs.append(display_time(t))
            ys.append(value)
        elif status is Status.INVALID:
            xs.append(display_time(t))
            ys.append(None)
        last_time[param] = t
    return points, TrendCursor(last_id, last_time)


def trend_increment(store: Store, session_id: int, cursor: TrendCursor, limit: int = 20000,
                    ) -> tuple[dict[int, tuple[list[str], list[Any]]], TrendCursor]:
    """Only what arrived since `cursor`: the payload of one live tick."""
    rows = store.readings_since(session_id, cursor.last_id, limit)
    return trend_points(rows, cursor)
