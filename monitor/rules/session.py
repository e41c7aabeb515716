"""Session logic: the baseline, the pre-treatment gate, the NIBP schedule and
the discharge-readiness checklist. Pure data in, data out."""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

from devices.vocabulary import PARAMETERS
from monitor.rules.profile import Profile


class BaselineWindow:
    """Recent valid values per parameter, long enough to take a baseline from.

    Kept only until the baseline is captured (so it costs nothing after).
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.values: dict[str, deque[tuple[float, float]]] = {}
        self.last: dict[str, tuple[float, float]] = {}

    def add(self, param: str, value: float, time: float, episodic: bool) -> None:
        if episodic:
            self.last[param] = (time, value)
            return
        series = self.values.get(param)
        if series is None:
            series = self.values[param] = deque()
        series.append((time, value))
        while series[0][0] < time - self.window_s:
            series.popleft()

    def baseline(self, at: float, method: str) -> dict[str, float]:
        """Per parameter: the median (or last value) of the window before `at`;
        NIBP: its last measurement before `at`."""
        result: dict[str, float] = {}
        for param, series in self.values.items():
            recent = [v for t, v in series if at - self.window_s <= t <= at]
            if recent:
                result[param] = recent[-1] if method == "last" else statistics.median(recent)
        for param, (t, v) in self.last.items():
            if t <= at:
                result[param] = v
        return {p: round(v, 2) for p, v in sorted(result.items())}


@dataclass(frozen=True)
class Gate:
    """Pre-treatment gate: may the infusion start on this baseline?"""

    blocked: bool
    reasons: tuple[str, ...]
    overridden_by: str | None

    @property
    def clear(self) -> bool:
        return not self.blocked or self.overridden_by is not None


def gate_for(baseline: dict[str, float], profile: Profile, overridden_by: str | None) -> Gate:
    reasons = tuple(f"baseline {p} {baseline[p]:g} above {limit:g}"
                    for p, limit in profile.gate.items() if p in baseline and baseline[p] > limit)
    return Gate(bool(reasons), reasons, overridden_by)


@dataclass(frozen=True)
class ChecklistItem:
    """One discharge criterion: met, not met, or unknown (no data), with why."""

    key: str
    label: str
    met: bool | None
    detail: str


@dataclass(frozen=True)
class Checklist:
    items: tuple[ChecklistItem, ...]

    @property
    def ready(self) -> bool:
        """All criteria met. A checklist for the clinician, never an automatic discharge."""
        return all(item.met for item in self.items)


def discharge_checklist(profile: Profile, baseline: dict[str, float],
                        latest: dict[str, tuple[float, float]], infusion_end: float | None,
                        now: float) -> Checklist:
    """The discharge criteria of the profile against the latest valid values.

    Parameters
    ----------
    latest : dict
        param -> (time, value) of the newest valid reading.
    """
    within = profile.discharge_bp_within_percent
    items = []
    bp_parts, bp_met = [], True
    for param in ("nibp_sys", "nibp_dia"):
        base, last = baseline.get(param), latest.get(param)
        if base is None or last is None:
            bp_met, bp_parts = None, [f"no {'baseline' if base is None else 'measurement'} "
                                      f"for {param}"]
            break
        change = (last[1] - base) / base * 100
        bp_parts.append(f"{PARAMETERS[param].short} {last[1]:g} ({change:+.0f}% of {base:g})")
        bp_met = bp_met and abs(change) <= within
    items.append(ChecklistItem("bp", f"BP within ±{within:g}% of baseline", bp_met,
                               ", ".join(bp_parts)))
    spo2 = latest.get("spo2")
    limit = profile.discharge_spo2_above
    items.append(ChecklistItem(
        "spo2", f"SpO2 above {limit:g}%", None if spo2 is None else spo2[1] > limit,
        "no SpO2 reading" if spo2 is None else f"SpO2 {spo2[1]:g}%"))
    minimum = profile.discharge_min_observation_s
    if infusion_end is None:
        observed = ChecklistItem("observation", f"{minimum / 60:g} min observed after the "
                                 "infusion", False, "the infusion has not ended")
    else:
        waited = now - infusion_end
        observed = ChecklistItem("observation", f"{minimum / 60:g} min observed after the "
                                 "infusion", waited >= minimum,
                                 f"{waited / 60:.0f} min since the infusion ended")
    items.append(observed)
    return Checklist(tuple(items))


class NibpSchedule:
    """When the next NIBP is due: every `during` seconds in the infusion, every
    `after` seconds once it has ended, counted from the last measurement."""

    def __init__(self, during_s: float, after_s: float) -> None:
        self.during_s = during_s
        self.after_s = after_s
        self.last: float | None = None
        self.phase_start: float | None = None
        self.infusing = False

    def start_infusion(self, time: float) -> None:
        self.infusing, self.phase_start = True, time

    def stop_infusion(self, time: float) -> None:
        self.infusing, self.phase_start = False, time

    def measured(self, time: float) -> None:
        self.last = time

    def due(self) -> float | None:
        """Time the next measurement is due; None before the infusion starts."""
        if self.phase_start is None:
            return None
        interval = self.during_s if self.infusing else self.after_s
        return (self.phase_start if self.last is None else self.last) + interval
