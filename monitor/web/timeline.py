"""A session's data for the review screen: downsampled windows, the moment under
the playback cursor, and the clickable timeline of events and alarms.

Long sessions open fast because the browser never receives every point: each
trace of the visible window is cut into runs at every gap and every invalid
value (so gaps stay gaps, never interpolated) and each run is reduced with a
min/max-preserving downsampler (MinMaxLTTB) to about one point per pixel
column. Zooming asks again for the new window at full resolution.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from tsdownsample import MinMaxLTTBDownsampler

from devices.vocabulary import PARAMETERS, Status
from monitor.store import Store
from monitor.store.alarm_log import session_alarms, transitions
from monitor.store.rollup import BUCKET_MS
from monitor.web.live import TRACE_PARAMS, format_value

# Points per trace for the visible window: about the chart's width in pixels.
POINTS_PER_TRACE = 1000
# A streamed parameter with a hole longer than this (s), or than a few of its
# own intervals, is drawn with a break.
GAP_S = 5.0
GAP_INTERVALS = 2.5
_DOWNSAMPLER = MinMaxLTTBDownsampler()
_VALID = Status.VALID.code


def local_offset_ms(ms: int | float) -> int:
    """The server's UTC offset at a moment, in ms."""
    offset = datetime.fromtimestamp(ms / 1000).astimezone().utcoffset()
    return round(offset.total_seconds() * 1000) if offset else 0


def axis_ms(ms: int | float, offset_ms: int) -> int:
    """A time on the review's x axis: ms since the epoch shifted by the local
    offset, so that Plotly (which shows a number as UTC) shows local wall time.
    Numbers, not date strings, because a browser parses 8,000 strings slowly."""
    return int(ms) + offset_ms


def from_axis(text: Any, offset_ms: int) -> int | None:
    """Back from a range Plotly reports ("2026-11-26 08:20:00.5") to ms since the epoch."""
    try:
        moment = datetime.fromisoformat(str(text)).replace(tzinfo=UTC)
    except ValueError:
        return None
    return round(moment.timestamp() * 1000) - offset_ms


def axis_time(ms: int | float) -> str:
    """A time as the server's local clock reads it (tables, labels)."""
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _gap_ms(times: np.ndarray) -> float:
    """How long a hole must be to break the line: a few of the series' own
    intervals (a monitor sending every 60 s is not broken between readings)."""
    if len(times) < 3:
        return GAP_S * 1000
    return max(GAP_S * 1000, GAP_INTERVALS * float(np.median(np.diff(times))))


def trace(times: np.ndarray, values: np.ndarray, ok: np.ndarray, *, episodic: bool,
          offset_ms: int, n_out: int = POINTS_PER_TRACE) -> tuple[list[int], list[float | None]]:
    """One parameter's points for the chart: valid values only, breaks at gaps.

    Parameters
    ----------
    times : ndarray of int64
        ms since the epoch, ascending.
    values : ndarray of float64
    ok : ndarray of bool
        Which points are valid values (an invalid one breaks the line).
    episodic : bool
        NIBP: measurements, drawn as markers and never joined.
    """
    if episodic:
        keep = np.flatnonzero(ok)
        if len(keep) > n_out >= 4:  # a device sending NIBP every second
            keep = keep[_DOWNSAMPLER.downsample(times[keep], values[keep],
                                                n_out=n_out - n_out % 2)]
        return (times[keep] + offset_ms).tolist(), values[keep].tolist()
    total = int(ok.sum())
    gap = _gap_ms(times[ok])
    xs: list[int] = []
    ys: list[float | None] = []
    last_t = 0
    for start, stop in _segments(times, ok, gap):
        seg_t, seg_v = times[start:stop], values[start:stop]
        seg_ok = ok[start:stop]
        seg_t, seg_v = seg_t[seg_ok], seg_v[seg_ok]
        share = max(2, round(n_out * len(seg_t) / max(total, 1)))
        if len(seg_t) > share and share >= 4:
            index = _DOWNSAMPLER.downsample(seg_t, seg_v, n_out=share - share % 2)
            seg_t, seg_v = seg_t[index], seg_v[index]
        if xs:
            xs.append((int(seg_t[0]) + last_t) // 2 + offset_ms)
            ys.append(None)  # a gap is drawn as a gap
        xs += (seg_t + offset_ms).tolist()
        ys += seg_v.tolist()
        last_t = int(seg_t[-1])
    return xs, ys


def _segments(times: np.ndarray, ok: np.ndarray, gap_ms: float) -> list[tuple[int, int]]:
    """Runs of consecutive valid points closer than `gap_ms` to each other."""
    index = np.flatnonzero(ok)
    if not len(index):
        return []
    t = times[index]
    # A new run after an invalid point or a time gap.
    cut = np.flatnonzero((np.diff(index) > 1) | (np.diff(t) > gap_ms)) + 1
    bounds = np.concatenate(([0], cut, [len(index)]))
    return [(int(index[a]), int(index[b - 1]) + 1) for a, b in itertools.pairwise(bounds)]


def window(store: Store, session_id: int, start_ms: int | None = None,
           end_ms: int | None = None, n_out: int = POINTS_PER_TRACE,
           ) -> dict[int, tuple[list[int], list[float | None]]]:
    """Every charted parameter's points in [start, end] (the whole session by default).

    A window with more 10-second buckets than half the points wanted is drawn
    from the store's 10-second low/high summaries; a shorter one from every
    reading in it.
    """
    if start_ms is None or end_ms is None:
        session = store.session(session_id)
        start_ms = round(session.started_at * 1000) if start_ms is None else start_ms
        end_ms = round((session.ended_at or session.clock_now()) * 1000) \
            if end_ms is None else end_ms
    offset = local_offset_ms(start_ms)
    summary = (end_ms - start_ms) / BUCKET_MS >= n_out / 2
    out: dict[int, tuple[list[int], list[float | None]]] = {}
    if summary:
        points = store.channel_summary(session_id, start_ms, end_ms)
        series = {p: (t, v, ~np.isnan(v)) for p, (t, v) in points.items()}
    else:
        raw = store.channel_series(session_id, start_ms, end_ms)
        series = {p: (t, v, (s == _VALID) & ~np.isnan(v)) for p, (t, v, s) in raw.items()}
    for index, param in enumerate(TRACE_PARAMS):
        if param in series:
            t, v, ok = series[param]
            out[index] = trace(t, v, ok, episodic=PARAMETERS[param].episodic,
                               offset_ms=offset, n_out=n_out)
        else:
            out[index] = ([], [])
    return out


def moment(store: Store, session_id: int, time_s: float) -> list[dict[str, Any]]:
    """The numerics as they were at `time_s`: each newest reading then, and its age."""
    state = store.state_at(session_id, round(time_s * 1000))
    rows = []
    for param in sorted(state, key=lambda p: (p not in TRACE_PARAMS,
                                              TRACE_PARAMS.index(p) if p in TRACE_PARAMS
                                              else 0, p)):
        value = state[param]
        spec = PARAMETERS.get(param)
        rows.append({"param": param, "label": spec.short if spec else param,
                     "text": format_value(param, value.value), "unit": value.unit,
                     "age_s": time_s - value.time, "status": str(value.status)})
    return rows


@dataclass(frozen=True)
class TimelineItem:
    """Something to jump to: an event, an alarm's start or worsening (with the span
    it kept that priority), an acknowledgement, an alarm's end."""

    time: float
    end: float | None
    kind: str          # "event", "alarm", "acknowledgement", "alarm_end"
    label: str
    priority: str | None = None


EVENT_NAMES = {"infusion_start": "Infusion started", "infusion_stop": "Infusion stopped",
               "infusion_pause": "Infusion paused", "infusion_resume": "Infusion resumed",
               "infusion_rate": "Rate changed", "observation": "Observation",
               "baseline_captured": "Baseline captured", "device_disconnected": "Disconnected",
               "device_connected": "Connected", "no_data": "No data", "sensor_off": "Sensor off",
               "sensor_on": "Sensor on", "discharge_criteria_met": "Discharge criteria met"}
# Event data worth showing, and how to name it.
EVENT_FIELDS = {"dose_mg_per_kg": "{} mg/kg", "dose_mg": "{} mg", "rate_mg_per_h": "{} mg/h",
                "duration_min": "over {} min", "cadss": "CADSS {}", "rass": "RASS {}",
                "nausea": "nausea {}", "note": "\u201c{}\u201d", "reason": "{}"}


def _event_label(kind: str, data: dict[str, Any]) -> str:
    name = EVENT_NAMES[kind]
    if kind == "baseline_captured":
        baseline = data.get("baseline", {})
        parts = [f"{PARAMETERS[p].short if p in PARAMETERS else p} {v:g}"
                 for p, v in baseline.items()]
    else:
        parts = [template.format(data[key]) for key, template in EVENT_FIELDS.items()
                 if data.get(key) not in (None, "")]
    who = f" ({data['user']})" if data.get("user") else ""
    return f"{name}{who}" + (": " + ", ".join(parts) if parts else "")


def items(store: Store, session_id: int) -> list[TimelineItem]:
    """Events worth a clinician's jump, and every alarm transition: its start and
    each worsening (with the time it held that priority), acknowledgements, its end."""
    found = [TimelineItem(e.time, None, "event", _event_label(e.kind, e.data))
             for e in store.events(session_id) if e.kind in EVENT_NAMES]
    ends = {a.number: a.end for a in session_alarms(store, session_id)}
    by_alarm: dict[int, list[dict[str, Any]]] = {}
    for change in transitions(store, session_id):
        by_alarm.setdefault(change["alarm"], []).append(change)
    for number, changes in by_alarm.items():
        starts = [c for c in changes if c["transition"] in ("onset", "escalated")]
        for i, change in enumerate(starts):
            until = starts[i + 1]["time"] if i + 1 < len(starts) else ends.get(number)
            found.append(TimelineItem(change["time"], until, "alarm",
                                      f"{change['priority'].upper()} {change['message']}",
                                      change["priority"]))
        for change in changes:
            if change["transition"] == "acknowledged":
                found.append(TimelineItem(change["time"], None, "acknowledgement",
                                          f"{change['user']} acknowledged: "
                                          f"{change['message']}", change["priority"]))
            elif change["transition"] in ("ended", "reset"):
                verb = "reset by " + str(change["user"]) if change["user"] else "ended"
                found.append(TimelineItem(change["time"], None, "alarm_end",
                                          f"Alarm {verb}: {change['message']}",
                                          change["priority"]))
    return sorted(found, key=lambda i: i.time)
