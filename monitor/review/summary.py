"""The session summary: what a clinician reads first when reviewing a session.

:func:`summarize_session` is pure (a reading table, events, alarms, the
profile and the baseline in; a :class:`SessionSummary` out), so it is tested
without a store; :func:`summarize` gathers those from a store.

The rules, stated once
----------------------
Which readings count
    Only *valid* readings with a value inside the parameter's plausible range
    (:attr:`devices.vocabulary.ParamSpec.plausible`). Questionable and invalid
    readings, and values the rules engine rejects as artefacts, never make a
    peak, a minimum, time beyond a limit or a discharge decision: the same
    readings the alarm rules act on.
Peaks and minima
    The highest (lowest) such value over the whole record, and the time of its
    first occurrence.
Time beyond a limit
    Streamed parameters (HR, SpO2, RR, ...): seconds of session time during
    which the parameter's last valid value was beyond the threshold (strictly
    above a high, strictly below a low one, as the rules compare). A value is in
    effect from its reading until the next valid reading, but for at most
    `hold_s` seconds (the profile's stale-data time), so a silent device adds
    nothing. Bands nest: time beyond 120/min includes the time beyond 150/min.
    Episodic NIBP: a measurement has no duration, so it is the *count* of valid
    measurements beyond the threshold, out of all valid measurements.
    Baseline-relative limits (e.g. SBP above baseline +25%) are included when
    the session has a baseline. Alarm delays and hysteresis do not apply: this
    is about the values, the alarm table is about the alarms.
Alarm counts
    From the stored alarms, one per alarm occurrence, by its stored (final,
    possibly escalated) priority and by rule.
Infusion and dose
    See :func:`infusion_of` and :func:`dose_of`.
Discharge criteria met
    Recomputed, not read from the log: the first moment at or after the end of
    the infusion at which :func:`monitor.rules.session.discharge_checklist`
    holds, evaluated at every valid SBP, DBP or SpO2 reading after the end and
    at the moment the minimum observation time passes. The rules engine's
    ``discharge_criteria_met`` event (checked live every 5 s, absent in sessions
    recorded without it) is kept beside it as a cross-check, not used.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from devices.table import ReadingTable
from devices.vocabulary import PARAMETERS, Status
from monitor.review.infusion import Dose, EventLike, Infusion, dose_of, infusion_of
from monitor.rules.profile import Profile, ProfileError, load_profile, profile_from_table
from monitor.rules.session import ChecklistItem, discharge_checklist
from monitor.store import SessionRecord, Store
from monitor.store.alarm_log import StoredAlarm, session_alarms

__all__ = ["Discharge", "Dose", "Extreme", "Infusion", "LimitExposure", "SessionSummary",
           "compact", "record_end", "session_profile", "summarize", "summarize_session",
           "valid_series"]

#: Parameters whose highest value the summary reports.
PEAK_PARAMS: tuple[str, ...] = ("nibp_sys", "nibp_dia", "hr", "pulse_rate")
#: Parameters whose lowest value the summary reports.
MINIMUM_PARAMS: tuple[str, ...] = ("spo2",)
PRIORITIES: tuple[str, ...] = ("high", "medium", "low")
_DISCHARGE_PARAMS = ("nibp_sys", "nibp_dia", "spo2")


def compact(table: ReadingTable) -> ReadingTable:
    """The table with contiguous columns (the store hands out strided views of one
    record array, on which every whole-column operation is several times slower)."""
    if table.value.flags.c_contiguous and table.time_ms.flags.c_contiguous:
        return table
    return replace(table, time_ms=np.ascontiguousarray(table.time_ms),
                   value=np.ascontiguousarray(table.value),
                   status=np.ascontiguousarray(table.status),
                   param=replace(table.param, codes=np.ascontiguousarray(table.param.codes)))


def valid_series(table: ReadingTable, param: str) -> tuple[np.ndarray, np.ndarray]:
    """Times (s since epoch) and values of `param`'s valid, plausible readings.

    Returns
    -------
    times, values : ndarray of float64
        In time order; empty when the parameter has no such reading.
    """
    codes = [i for i, name in enumerate(table.param.names) if name == param]
    if not codes or not len(table):
        return np.empty(0), np.empty(0)
    value = table.value
    mask = (np.isin(table.param.codes, codes) & (table.status == Status.VALID.code)
            & np.isfinite(value))
    spec = PARAMETERS.get(param)
    if spec is not None:
        low, high = spec.plausible
        mask &= (value >= low) & (value <= high)
    times, values = table.time_ms[mask] / 1000.0, value[mask]
    if len(times) > 1 and bool(np.any(np.diff(times) < 0)):
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
    return times, values


@dataclass(frozen=True)
class Extreme:
    """The highest (``kind="max"``) or lowest (``"min"``) valid value of a parameter.

    `time` is its first occurrence (s since epoch); `count` the valid readings seen.
    """

    param: str
    kind: str
    value: float
    time: float
    count: int


@dataclass(frozen=True)
class LimitExposure:
    """How long (or how often) one parameter was beyond one threshold.

    Attributes
    ----------
    side : "low" or "high"
    priority : str
        The alarm priority the profile gives this band.
    threshold : float
        In the parameter's unit.
    basis : str
        ``"absolute"``, or how a baseline-relative threshold was derived.
    episodic : bool
        True for NIBP: `beyond` and `readings` are counts, `seconds` is None.
    seconds, observed_s : float or None
        Streamed parameters: seconds beyond, and seconds with a valid value in
        effect (the denominator of a percentage).
    beyond : int or None
        Episodic parameters: valid measurements beyond the threshold.
    readings : int
        Valid readings considered.
    """

    param: str
    side: str
    priority: str
    threshold: float
    basis: str
    episodic: bool
    seconds: float | None
    observed_s: float | None
    beyond: int | None
    readings: int


@dataclass(frozen=True)
class Discharge:
    """When the discharge criteria first all held after the infusion.

    Attributes
    ----------
    met_at : float or None
        Recomputed time (s since epoch); None when never met in the record.
    logged_at : float or None
        The rules engine's ``discharge_criteria_met`` event, if any (cross-check).
    checklist : tuple of ChecklistItem
        The checklist at `met_at`, or at the end of the record when never met.
    note : str
        Why there is no time, when there is none.
    """

    met_at: float | None
    logged_at: float | None
    checklist: tuple[ChecklistItem, ...]
    note: str


@dataclass(frozen=True)
class SessionSummary:
    """The figures of one session (times in s since epoch, values in canonical units)."""

    start: float
    end: float
    baseline: dict[str, float]
    peaks: dict[str, Extreme]
    minima: dict[str, Extreme]
    exposures: tuple[LimitExposure, ...]
    alarm_count: int
    alarms_by_priority: dict[str, int]
    alarms_by_rule: dict[str, int]
    infusion: Infusion
    dose: Dose
    discharge: Discharge
    hold_s: float

    @property
    def min_spo2(self) -> Extreme | None:
        return self.minima.get("spo2")


def summarize_session(table: ReadingTable, events: Sequence[EventLike],
                      alarms: Sequence[StoredAlarm], profile: Profile,
                      baseline: Mapping[str, float], *, start: float, end: float,
                      weight_kg: float | None = None) -> SessionSummary:
    """Compute the summary of a session from plain inputs.

    Parameters
    ----------
    table : ReadingTable
        All readings of the session.
    events : sequence
        Session events (``time`` s since epoch, ``kind``, ``data``), e.g.
        :class:`monitor.store.EventRecord`.
    alarms : sequence of StoredAlarm
    profile : Profile
        The alarm profile in force (limits, discharge criteria, stale time).
    baseline : mapping
        Parameter id -> baseline value, as stored with the session.
    start, end : float
        The record's first and last moment, s since epoch.
    weight_kg : float, optional
        The patient's weight recorded with the session (for mg/kg doses).
    """
    table = compact(table)
    ordered = sorted(events, key=lambda e: e.time)
    hold_s = profile.technical.stale_after_s
    peaks, minima = {}, {}
    for params, kind, target in ((PEAK_PARAMS, "max", peaks), (MINIMUM_PARAMS, "min", minima)):
        for param in params:
            times, values = valid_series(table, param)
            if len(values):
                i = int(np.argmax(values) if kind == "max" else np.argmin(values))
                target[param] = Extreme(param, kind, float(values[i]), float(times[i]),
                                        len(values))
    infusion = infusion_of(ordered, end)
    counts = Counter(a.priority for a in alarms)
    by_priority = {p: counts.pop(p, 0) for p in PRIORITIES} | dict(sorted(counts.items()))
    by_rule = dict(sorted(Counter(a.rule for a in alarms).items(),
                          key=lambda kv: (-kv[1], kv[0])))
    return SessionSummary(
        start=start, end=end, baseline=dict(baseline), peaks=peaks, minima=minima,
        exposures=limit_exposures(table, profile, baseline, end=end, hold_s=hold_s),
        alarm_count=len(alarms), alarms_by_priority=by_priority, alarms_by_rule=by_rule,
        infusion=infusion, dose=dose_of(ordered, infusion, weight_kg),
        discharge=discharge_of(table, profile, baseline, infusion, ordered, end),
        hold_s=hold_s)


def limit_bands(profile: Profile, param: str,
                baseline: Mapping[str, float]) -> list[tuple[str, float, str, str]]:
    """(side, threshold, priority, basis) of every band the profile sets for `param`."""
    bands: list[tuple[str, float, str, str]] = []
    limit = profile.limits.get(param)
    if limit is not None:
        for side, side_bands in (("low", limit.low), ("high", limit.high)):
            bands += [(side, threshold, str(p), "absolute") for threshold, p in side_bands]
    relative = profile.baseline_limits.get(param)
    base = baseline.get(param)
    if relative is not None and base is not None:
        # The same thresholds the rules engine derives (monitor.rules.engine).
        for side, percent, change in (("high", relative.high_percent, relative.high_change),
                                      ("low", relative.low_percent, relative.low_change)):
            sign = 1 if side == "high" else -1
            if percent is not None:
                threshold, how = base * (1 + sign * percent / 100), f"{sign * percent:+g}%"
            elif change is not None:
                threshold, how = base + sign * change, f"{sign * change:+g}"
            else:
                continue
            bands.append((side, round(threshold, 1), str(relative.priority),
                          f"baseline {base:g} {how}"))
    return bands


def held_seconds(times: np.ndarray, end: float, hold_s: float) -> np.ndarray:
    """Seconds each reading's value stays in effect: until the next reading,
    at most `hold_s`, never past `end` (all in s)."""
    following = np.append(times[1:], np.inf)
    until = np.minimum(np.minimum(following, times + hold_s), end)
    return np.clip(until - times, 0.0, None)


def limit_exposures(table: ReadingTable, profile: Profile, baseline: Mapping[str, float], *,
                    end: float, hold_s: float) -> tuple[LimitExposure, ...]:
    """Time (streamed) or readings (episodic) beyond each band of the profile.

    Parameters without a valid reading in the record are left out.
    """
    out = []
    # In the vocabulary's order (HR, PR, SpO2, NIBP, RR, ...), not the profile file's.
    wanted = set(profile.limits) | set(profile.baseline_limits)
    params = [p for p in PARAMETERS if p in wanted] + sorted(wanted - set(PARAMETERS))
    for param in params:
        times, values = valid_series(table, param)
        if not len(values):
            continue
        spec = PARAMETERS.get(param)
        episodic = bool(spec and spec.episodic)
        held = None if episodic else held_seconds(times, end, hold_s)
        for side, threshold, priority, basis in limit_bands(profile, param, baseline):
            beyond = values > threshold if side == "high" else values < threshold
            if episodic:
                out.append(LimitExposure(param, side, priority, threshold, basis, True,
                                         None, None, int(beyond.sum()), len(values)))
            else:
                out.append(LimitExposure(param, side, priority, threshold, basis, False,
                                         float(held[beyond].sum()), float(held.sum()),
                                         None, len(values)))
    return tuple(out)


def discharge_of(table: ReadingTable, profile: Profile, baseline: Mapping[str, float],
                 infusion: Infusion, events: Sequence[EventLike], end: float) -> Discharge:
    """The first moment after the infusion ended at which all discharge criteria held.

    The checklist changes only when a valid SBP, DBP or SpO2 reading arrives
    or when the minimum observation time passes, so it is evaluated at those
    moments only (and only where the values it sees changed).
    """
    stop = infusion.stop
    logged = next((e.time for e in events if e.kind == "discharge_criteria_met"
                   and (stop is None or e.time >= stop)), None)
    if stop is None:
        return Discharge(None, logged, (), "the infusion has no recorded end")
    base = dict(baseline)
    series = {p: valid_series(table, p) for p in _DISCHARGE_PARAMS}
    observed = stop + profile.discharge_min_observation_s
    moments = np.unique(np.concatenate(
        [np.array([stop, observed])] + [times[times >= stop] for times, _ in series.values()]))
    moments = moments[moments <= end]
    index = {p: np.searchsorted(times, moments, side="right") - 1
             for p, (times, _) in series.items()}
    # Where nothing the checklist looks at changed, its answer cannot change.
    key = np.stack([*index.values(), moments >= observed]) if len(moments) else None
    changed = (np.ones(len(moments), dtype=bool) if key is None or len(moments) < 2 else
               np.concatenate([[True], np.any(key[:, 1:] != key[:, :-1], axis=0)]))
    for k in np.flatnonzero(changed).tolist():
        latest = _latest(series, index, k)
        checklist = discharge_checklist(profile, base, latest, stop, float(moments[k]))
        if checklist.ready:
            return Discharge(float(moments[k]), logged, checklist.items, "")
    at_end = discharge_checklist(profile, base, _latest_at(series, end), stop, end)
    return Discharge(None, logged, at_end.items, "not met by the end of the record")


def _latest(series: dict[str, tuple[np.ndarray, np.ndarray]], index: dict[str, np.ndarray],
            k: int) -> dict[str, tuple[float, float]]:
    latest = {}
    for param, (times, values) in series.items():
        i = int(index[param][k])
        if i >= 0:
            latest[param] = (float(times[i]), float(values[i]))
    return latest


def _latest_at(series: dict[str, tuple[np.ndarray, np.ndarray]],
               t: float) -> dict[str, tuple[float, float]]:
    index = {p: np.searchsorted(times, [t], side="right") - 1
             for p, (times, _) in series.items()}
    return _latest(series, index, 0)


# -- from a store ---------------------------------------------------------------------

def session_profile(store: Store, session_id: int) -> tuple[Profile, str]:
    """The profile stored with a session, and a note when another had to be used.

    The store keeps the profile table last set for the session (after any
    limit change); a session without one, or with one that no longer loads,
    is reviewed under the shipped default, and the note says so.
    """
    table = store.profile_table(session_id)
    if table is None:
        return load_profile(), "no profile stored with the session: shipped default used"
    try:
        return profile_from_table(table, origin=f"session {session_id} profile"), ""
    except ProfileError as exc:
        return load_profile(), f"stored profile unusable ({exc}): shipped default used"


def record_end(session: SessionRecord, table: ReadingTable,
               events: Sequence[EventLike] = ()) -> float:
    """The end of what the record covers (s): the session's end, or for an open
    session its newest reading or event."""
    if session.ended_at is not None:
        return session.ended_at
    newest = [session.started_at]
    if len(table):
        newest.append(float(table.time_ms.max()) / 1000)
    newest += [e.time for e in events]
    return max(newest)


def summarize(store: Store, session_id: int, *, profile: Profile | None = None,
              ) -> SessionSummary:
    """The summary of a stored session (under its stored profile unless one is given)."""
    session = store.session(session_id)
    table = compact(store.readings_table(session.id))
    events = store.events(session.id)
    if profile is None:
        profile, _ = session_profile(store, session.id)
    return summarize_session(
        table, events, session_alarms(store, session.id), profile, session.baseline,
        start=session.started_at, end=record_end(session, table, events),
        weight_kg=session.weight_kg)

