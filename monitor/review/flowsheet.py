"""The vitals flowsheet: the values at the protocol's time points, as clinics chart them.

Time points: *pre-infusion* (the baseline moment: the last valid NIBP
measurement before the infusion start, else the minute before the start),
then every `during_s` from the infusion start while it runs (pauses do not
shift the grid), then every `after_s` from its end until the record ends.
The intervals default to the profile's NIBP schedule (10 and 15 min).

The value at a time point
-------------------------
Streamed parameters (HR, PR, SpO2, RR, ...)
    The median of the valid values within ±`window_s` of the time point.
NIBP
    One measurement (systolic, diastolic and mean read together), the one whose
    time is closest to the time point within ``[t - before, t + nibp_late_s]``,
    shown with its own time. `before` defaults to half the phase's interval.
    A measurement up to `nibp_late_s` (default 2 min) *after* the time point
    counts because a reading carries the time of its result, which comes 30 s
    to 2 min after the cuff started at the scheduled time; a measurement from
    the previous schedule slot does not.

Nothing is ever interpolated: no value in the window means a missing cell.
Valid means status valid and inside the plausible range (as in the summary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from devices.table import ReadingTable
from devices.vocabulary import NIBP_PARAMS
from monitor.review.infusion import infusion_of
from monitor.review.summary import compact, record_end, session_profile, valid_series
from monitor.rules.profile import Profile
from monitor.store import Store

#: Columns of the flowsheet, in order; those the session never recorded are left out.
FLOWSHEET_PARAMS: tuple[str, ...] = ("hr", "pulse_rate", "spo2", "resp_rate", "etco2", "temp",
                                     "nibp_sys", "nibp_dia", "nibp_mean")


@dataclass(frozen=True)
class FlowsheetSettings:
    """Where the time points fall and how far from them a value may be (all in s).

    Attributes
    ----------
    during_s, after_s : float
        Interval between time points during and after the infusion.
    window_s : float
        Half-width of the window a streamed parameter's median is taken from.
    nibp_before_s : float or None
        How long before a time point an NIBP measurement still belongs to it;
        None: half the interval of the time point's phase.
    nibp_late_s : float
        How long after a time point an NIBP result may come (a cuff cycle).
    """

    during_s: float = 600.0
    after_s: float = 900.0
    window_s: float = 30.0
    nibp_before_s: float | None = None
    nibp_late_s: float = 120.0

    def __post_init__(self) -> None:
        if self.during_s <= 0 or self.after_s <= 0:
            raise ValueError("flowsheet intervals must be above 0 s")
        if self.window_s < 0 or self.nibp_late_s < 0 or (self.nibp_before_s or 0) < 0:
            raise ValueError("flowsheet tolerances must not be negative")

    @classmethod
    def from_profile(cls, profile: Profile, **overrides: Any) -> FlowsheetSettings:
        """Intervals from the profile's NIBP schedule; anything else as given."""
        values = {"during_s": profile.nibp_during_s, "after_s": profile.nibp_after_s}
        return cls(**(values | overrides))

    def before_s(self, phase: str) -> float:
        if self.nibp_before_s is not None:
            return self.nibp_before_s
        return (self.after_s if phase in ("after", "record") else self.during_s) / 2


@dataclass(frozen=True)
class Cell:
    """One value of the flowsheet; `value` None means missing (never filled in).

    `time` is the NIBP measurement's own time (s since epoch), None for
    streamed parameters; `count` the valid readings the value came from.
    """

    value: float | None
    time: float | None
    count: int

    @property
    def missing(self) -> bool:
        return self.value is None


MISSING = Cell(None, None, 0)


@dataclass(frozen=True)
class FlowsheetRow:
    """One time point.

    Attributes
    ----------
    label : str
        "pre-infusion", "0 min · start", "10 min", "40 min · end", ...
    phase : "pre", "infusion", "after", or "record" (no infusion recorded)
    time : float
        The time point, s since epoch.
    offset_s : float or None
        Seconds from the infusion start (from the record start without one).
    cells : dict
        Parameter id -> Cell, for every column of the flowsheet.
    nibp_time : float or None
        Time of the NIBP measurement shown, if any.
    """

    label: str
    phase: str
    time: float
    offset_s: float | None
    cells: dict[str, Cell]
    nibp_time: float | None


@dataclass(frozen=True)
class Flowsheet:
    params: tuple[str, ...]
    rows: tuple[FlowsheetRow, ...]
    settings: FlowsheetSettings
    notes: tuple[str, ...]


def _grid(first: float, last: float, interval: float, inclusive: bool) -> list[float]:
    """first, first + interval, ... up to `last` (computed, not accumulated)."""
    count = int(np.floor((last - first) / interval + 1e-9)) + 1 if last >= first else 0
    points = [first + k * interval for k in range(count)]
    return points if inclusive else [t for t in points if t < last]


def _minutes(seconds: float) -> str:
    return f"{round(seconds / 60, 1):g} min"


def time_points(*, start: float, end: float, infusion_start: float | None,
                infusion_stop: float | None, pre_time: float,
                settings: FlowsheetSettings) -> list[tuple[str, str, float, float | None]]:
    """The flowsheet's time points as (label, phase, time s, offset from infusion start s)."""
    if infusion_start is None:
        return [(_minutes(t - start), "record", t, t - start)
                for t in _grid(start, end, settings.after_s, inclusive=True)]
    points = [("pre-infusion", "pre", pre_time, pre_time - infusion_start)]
    during_end = infusion_stop if infusion_stop is not None else end
    for t in _grid(infusion_start, during_end, settings.during_s,
                   inclusive=infusion_stop is None):
        label = _minutes(t - infusion_start) + (" · start" if t == infusion_start else "")
        points.append((label, "infusion", t, t - infusion_start))
    if infusion_stop is not None:
        for t in _grid(infusion_stop, max(end, infusion_stop), settings.after_s, inclusive=True):
            label = _minutes(t - infusion_start) + (" · end" if t == infusion_stop else "")
            points.append((label, "after", t, t - infusion_start))
    return points


def _median_cell(times: np.ndarray, values: np.ndarray, t: float, half: float) -> Cell:
    lo = int(np.searchsorted(times, t - half, side="left"))
    hi = int(np.searchsorted(times, t + half, side="right"))
    if hi <= lo:
        return MISSING
    return Cell(float(np.median(values[lo:hi])), None, hi - lo)


def _nibp_time(measured: np.ndarray, t: float, before: float, late: float) -> float | None:
    """The measurement time closest to `t` within [t - before, t + late]; ties: the earlier."""
    lo = int(np.searchsorted(measured, t - before, side="left"))
    hi = int(np.searchsorted(measured, t + late, side="right"))
    if hi <= lo:
        return None
    near = measured[lo:hi]
    return float(near[int(np.argmin(np.abs(near - t)))])


def build_flowsheet(table: ReadingTable, *, start: float, end: float,
                    infusion_start: float | None, infusion_stop: float | None,
                    settings: FlowsheetSettings | None = None) -> Flowsheet:
    """The flowsheet of a session from its readings and infusion times (s since epoch).

    Parameters
    ----------
    table : ReadingTable
    start, end : float
        The record's first and last moment.
    infusion_start, infusion_stop : float or None
        From :func:`monitor.review.infusion.infusion_of`.
    settings : FlowsheetSettings, optional
        Defaults: 10 / 15 min, ±30 s, NIBP half an interval before to 2 min after.
    """
    settings = settings or FlowsheetSettings()
    table = compact(table)
    present = set(table.param.names) if len(table) else set()
    params = tuple(p for p in FLOWSHEET_PARAMS if p in present)
    series = {p: valid_series(table, p) for p in params}
    nibp = [series[p] for p in NIBP_PARAMS if p in series]
    measured = np.unique(np.concatenate([times for times, _ in nibp])) if nibp else np.empty(0)
    notes = []
    if infusion_start is None:
        notes.append(f"no infusion start recorded: time points every "
                     f"{_minutes(settings.after_s)} from the start of the record")
        pre_time = start
    else:
        earlier = measured[measured <= infusion_start]
        pre_time = (float(earlier[-1]) if len(earlier)
                    else infusion_start - max(settings.window_s, 1.0))
    rows = []
    for label, phase, t, offset in time_points(
            start=start, end=end, infusion_start=infusion_start, infusion_stop=infusion_stop,
            pre_time=pre_time, settings=settings):
        cells: dict[str, Cell] = {}
        when = _nibp_time(measured, t, settings.before_s(phase), settings.nibp_late_s)
        for param in params:
            times, values = series[param]
            if param not in NIBP_PARAMS:
                cells[param] = _median_cell(times, values, t, settings.window_s)
                continue
            i = int(np.searchsorted(times, when)) if when is not None else len(times)
            found = i < len(times) and times[i] == when
            cells[param] = Cell(float(values[i]), when, 1) if found else MISSING
        rows.append(FlowsheetRow(label, phase, t, offset, cells, when))
    return Flowsheet(params, tuple(rows), settings, tuple(notes))


def session_flowsheet(store: Store, session_id: int,
                      settings: FlowsheetSettings | None = None) -> Flowsheet:
    """The flowsheet of a stored session (intervals from its stored profile by default)."""
    session = store.session(session_id)
    table = store.readings_table(session.id)
    events = store.events(session.id)
    if settings is None:
        profile, _ = session_profile(store, session.id)
        settings = FlowsheetSettings.from_profile(profile)
    end = record_end(session, table, events)
    infusion = infusion_of(sorted(events, key=lambda e: e.time), end)
    return build_flowsheet(table, start=session.started_at, end=end,
                           infusion_start=infusion.start, infusion_stop=infusion.stop,
                           settings=settings)
