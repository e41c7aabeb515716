"""Alarm profiles: the clinic's limits, priorities, delays and policies, from TOML.

The shipped ``ketamine-adult`` profile (profiles/ketamine-adult.toml) holds
the defaults of CLINICAL.md. A clinic's own file names only what it changes;
it is merged over the default table by table, key by key::

    name = "our-clinic"
    [limits.nibp_sys]
    high = { medium = 150, high = 175 }

Everything is checked on load; an unknown parameter, a low limit at or above
a high one, a negative delay or an unknown priority is one error naming the
key, e.g. ``clinic.toml: limits.nibp_sys.high.medium: 150 must be above the
low limit 160``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from devices.vocabulary import PARAMETERS

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = "ketamine-adult"


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and key."""


class Priority(IntEnum):
    """Alarm priority (IEC 60601-1-8); ordered, so max() is the most urgent."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: object, where: str) -> Priority:
        try:
            return cls[str(text).upper()]
        except KeyError:
            raise ProfileError(f"{where}: unknown priority {text!r}; "
                               "use low, medium or high") from None


@dataclass(frozen=True)
class LimitSpec:
    """Absolute limits of one parameter.

    Attributes
    ----------
    low, high : tuple of (threshold, Priority)
        Least severe first: ``low=((90, MEDIUM), (85, HIGH))`` means below 90
        is medium, below 85 is high.
    delay_s : float
        Seconds a condition must hold before it alarms.
    hysteresis : float
        How far back inside the limit a value must come to end the alarm.
    """

    param: str
    low: tuple[tuple[float, Priority], ...]
    high: tuple[tuple[float, Priority], ...]
    delay_s: float
    hysteresis: float


@dataclass(frozen=True)
class BaselineLimitSpec:
    """A limit relative to the session baseline (percent or absolute change)."""

    param: str
    high_percent: float | None
    low_percent: float | None
    high_change: float | None
    low_change: float | None
    priority: Priority


@dataclass(frozen=True)
class SaturationSpec:
    """Saturation-seconds for the first low band of a parameter (SpO2)."""

    param: str
    area: float          # %·s below the limit before the alarm
    violations: int      # separate dips within `window_s` that alarm at once
    window_s: float


@dataclass(frozen=True)
class RateSpec:
    """Largest change between consecutive episodic readings (NIBP)."""

    param: str
    max_change: float
    priority: Priority


@dataclass(frozen=True)
class TechnicalSpec:
    stale_after_s: float
    stale_priority: Priority
    disconnected_priority: Priority
    sensor_off_priority: Priority
    nibp_failed_priority: Priority
    nibp_overdue_grace_s: float
    nibp_overdue_priority: Priority
    alarms_off_priority: Priority


@dataclass(frozen=True)
class Profile:
    """A whole alarm profile, checked."""

    name: str
    description: str
    limits: dict[str, LimitSpec]
    baseline_limits: dict[str, BaselineLimitSpec]
    saturation: dict[str, SaturationSpec]
    rate: dict[str, RateSpec]
    technical: TechnicalSpec
    nibp_during_s: float
    nibp_after_s: float
    latching: dict[Priority, bool]
    audio_pause_s: float
    alarms_off_reminder_s: float
    baseline_window_s: float
    baseline_method: str
    baseline_nibp_method: str
    gate: dict[str, float]
    discharge_bp_within_percent: float
    discharge_spo2_above: float
    discharge_min_observation_s: float
    raw: Mapping[str, Any]  # the merged table, for the audit log and display


def load_profile(path: str | Path | None = None) -> Profile:
    """The default profile, or a clinic file merged over it.

    Raises
    ------
    ProfileError
        The file is missing or not TOML, or a value is wrong (named).
    """
    base = _read(PROFILES_DIR / f"{DEFAULT_PROFILE}.toml")
    if path is None:
        return profile_from_table(base, origin=DEFAULT_PROFILE)
    path = Path(path)
    if not path.suffix and not path.exists() and (PROFILES_DIR / f"{path}.toml").exists():
        path = PROFILES_DIR / f"{path}.toml"  # a shipped profile named by name
    clinic = _read(path)
    if not clinic:  # a wiped or truncated file must not quietly become the defaults
        raise ProfileError(f"{path}: the profile is empty; name at least one setting, "
                           "or leave the profile out for the shipped defaults")
    return profile_from_table(merge(base, clinic), origin=str(path))


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such profile file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer literal too long to convert
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None


def shown_key(name: str) -> str:
    """A key from a TOML file as an error message shows it: quoted when it is not plain.

    A quoted TOML key can hold a newline or other control characters, which
    would split a one-line message.
    """
    plain = bool(name) and name.isprintable() and not any(c in name for c in " .\"'")
    return name if plain else repr(name)


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`, tables merged key by key (recursively)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _Table:
    """Reads keys of one TOML table, naming the key in every error."""

    def __init__(self, data: Any, where: str, origin: str) -> None:
        if not isinstance(data, Mapping):
            raise ProfileError(f"{origin}: {where} must be a table")
        self.data, self.where, self.origin = data, where, origin
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.where}.{shown_key(name)}" if self.where else shown_key(name)

    def fail(self, name: str, message: str) -> ProfileError:
        return ProfileError(f"{self.origin}: {self.key(name)}: {message}")

    def number(self, name: str, *, default: float | None = None, minimum: float = 0.0,
               optional: bool = False) -> float:
        self.used.add(name)
        value = self.data.get(name, default)
        if value is None:
            if optional:
                return None  # type: ignore[return-value]
            raise self.fail(name, "missing")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, f"{value!r} is not a number")
        if not math.isfinite(value):
            raise self.fail(name, f"{value!r} is not a finite number")
        if value < minimum:
            raise self.fail(name, f"{value!r} must not be below {minimum:g}")
        return float(value)

    def text(self, name: str, choices: tuple[str, ...] | None = None,
             default: str | None = None) -> str:
        self.used.add(name)
        value = self.data.get(name, default)
        if not isinstance(value, str):
            raise self.fail(name, f"{value!r} is not text")
        if choices and value not in choices:
            raise self.fail(name, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def priority(self, name: str, default: str | None = None) -> Priority:
        self.used.add(name)
        return Priority.parse(self.data.get(name, default), f"{self.origin}: {self.key(name)}")

    def table(self, name: str) -> _Table:
        self.used.add(name)
        return _Table(self.data.get(name, {}), self.key(name), self.origin)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key" + (
                f"; known: {', '.join(sorted(self.used))}" if self.used else ""))


def _param(table: _Table, param: str) -> str:
    if param not in PARAMETERS:
        raise table.fail(param, f"unknown parameter; known: {', '.join(PARAMETERS)}")
    return param


def _bands(table: _Table, side: str) -> tuple[tuple[float, Priority], ...]:
    """One side of a limit: {priority: threshold}, least severe first."""
    bands_table = table.table(side)
    bands = []
    for name in list(bands_table.data):
        priority = Priority.parse(name, f"{table.origin}: {bands_table.key(name)}")
        bands.append((bands_table.number(name, minimum=-1e9), priority))
    bands.sort(key=lambda band: band[1])
    for (outer, outer_p), (inner, inner_p) in zip(bands[1:], bands, strict=False):
        wrong = outer >= inner if side == "low" else outer <= inner
        if wrong:
            where = "below" if side == "low" else "above"
            raise bands_table.fail(str(outer_p), f"{outer:g} must be {where} the {inner_p} "
                                                 f"limit {inner:g}")
    return tuple(bands)


def _limits(root: _Table) -> dict[str, LimitSpec]:
    limits_table = root.table("limits")
    limits = {}
    for param in limits_table.data:
        _param(limits_table, param)
        t = limits_table.table(param)
        low, high = _bands(t, "low"), _bands(t, "high")
        if low and high and low[0][0] >= high[0][0]:
            raise t.fail("low", f"low limit {low[0][0]:g} must be below the high limit "
                                f"{high[0][0]:g}")
        limits[param] = LimitSpec(param, low, high, t.number("delay", default=0.0),
                                  t.number("hysteresis", default=0.0))
        t.done()
    return limits


def profile_from_table(data: Mapping[str, Any], origin: str = "profile") -> Profile:
    """Check a merged profile table and build the :class:`Profile`."""
    root = _Table(data, "", origin)
    limits = _limits(root)
    baseline_limits = {}
    bl = root.table("baseline_limits")
    for param in bl.data:
        t = bl.table(_param(bl, param))
        spec = BaselineLimitSpec(param, t.number("high_percent", optional=True),
                                 t.number("low_percent", optional=True),
                                 t.number("high_change", optional=True),
                                 t.number("low_change", optional=True),
                                 t.priority("priority", "medium"))
        if all(v is None for v in (spec.high_percent, spec.low_percent, spec.high_change,
                                   spec.low_change)):
            raise t.fail("high_percent", "give at least one of high_percent, low_percent, "
                                         "high_change, low_change")
        baseline_limits[param] = spec
        t.done()
    saturation = {}
    sat = root.table("saturation")
    for param in sat.data:
        t = sat.table(_param(sat, param))
        if param not in limits or not limits[param].low:
            raise t.fail("area", f"saturation-seconds need a low limit for {param}")
        saturation[param] = SaturationSpec(param, t.number("area"),
                                           int(t.number("violations", default=3, minimum=1)),
                                           t.number("window", default=60))
        t.done()
    rate = {}
    rt = root.table("rate")
    for param in rt.data:
        t = rt.table(_param(rt, param))
        rate[param] = RateSpec(param, t.number("max_change"), t.priority("priority", "medium"))
        t.done()
    tech = root.table("technical")
    technical = TechnicalSpec(
        stale_after_s=tech.number("stale_after", default=10),
        stale_priority=tech.priority("stale_priority", "medium"),
        disconnected_priority=tech.priority("disconnected_priority", "medium"),
        sensor_off_priority=tech.priority("sensor_off_priority", "medium"),
        nibp_failed_priority=tech.priority("nibp_failed_priority", "low"),
        nibp_overdue_grace_s=tech.number("nibp_overdue_grace", default=120),
        nibp_overdue_priority=tech.priority("nibp_overdue_priority", "low"),
        alarms_off_priority=tech.priority("alarms_off_priority", "low"),
    )
    tech.done()
    schedule = root.table("schedule")
    alarms = root.table("alarms")
    latching_table = alarms.table("latching")
    latching = {p: False for p in Priority}
    for name in latching_table.data:
        latching_table.used.add(name)
        priority = Priority.parse(name, f"{origin}: {latching_table.key(name)}")
        value = latching_table.data[name]
        if not isinstance(value, bool):
            raise latching_table.fail(name, f"{value!r} is not true or false")
        latching[priority] = value
    baseline = root.table("baseline")
    gate = root.table("gate")
    discharge = root.table("discharge")
    profile = Profile(
        name=root.text("name", default=DEFAULT_PROFILE),
        description=root.text("description", default=""),
        limits=limits, baseline_limits=baseline_limits, saturation=saturation, rate=rate,
        technical=technical,
        nibp_during_s=schedule.number("nibp_during", default=10) * 60,
        nibp_after_s=schedule.number("nibp_after", default=15) * 60,
        latching=latching,
        audio_pause_s=alarms.number("audio_pause", default=120),
        alarms_off_reminder_s=alarms.number("alarms_off_reminder", default=5) * 60,
        baseline_window_s=baseline.number("window", default=300),
        baseline_method=baseline.text("method", ("median", "last"), "median"),
        baseline_nibp_method=baseline.text("nibp_method", ("last",), "last"),
        gate={_param(gate, p): gate.number(p) for p in list(gate.data)},
        discharge_bp_within_percent=discharge.number("bp_within_percent", default=20),
        discharge_spo2_above=discharge.number("spo2_above", default=92),
        discharge_min_observation_s=discharge.number("min_observation", default=30) * 60,
        raw=dict(data),
    )
    for table in (schedule, alarms, baseline, gate, discharge):
        table.done()
    if profile.nibp_during_s <= 0 or profile.nibp_after_s <= 0:
        raise schedule.fail("nibp_during", "NIBP intervals must be above 0 minutes")
    root.done()
    return profile
