"""The rules engine: readings, device events and time in; alarm changes out.

Pure: no I/O and no clock of its own. Time comes with the input (the
readings' times and ``now``, both on the session's clock), so the same engine
runs live, at 600x, in replay and in tests, and re-running a recorded
session gives the same alarms. Operators' actions (acknowledge, pause,
reset, alarms off, limit changes) are calls that return their audit entries
with the alarm changes they cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from devices.vocabulary import PARAMETERS, DeviceEvent, DeviceEventKind, Item, Reading, Status
from monitor.rules.alarms import (
    AlarmBook,
    AlarmChange,
    AlarmKind,
    AlarmState,
    AuditEntry,
    LogEntry,
    Output,
)
from monitor.rules.conditions import LimitRule, RateRule
from monitor.rules.profile import (
    BaselineLimitSpec,
    LimitSpec,
    Priority,
    Profile,
    merge,
    profile_from_table,
)
from monitor.rules.session import (
    BaselineWindow,
    Checklist,
    Gate,
    NibpSchedule,
    discharge_checklist,
    gate_for,
)

_VALID = Status.VALID
_SENSOR_PARAMS = frozenset({"spo2", "pulse_rate", "perf_index"})


@dataclass
class _ParamRules:
    """Everything the engine does with one parameter's valid values."""

    low: float          # plausible range: outside it a value is an artefact
    high: float
    episodic: bool
    checks: list[LimitRule | RateRule] = field(default_factory=list)


class RulesEngine:
    """Alarm rules for one session.

    Parameters
    ----------
    profile : Profile
    baseline : mapping, optional
        A baseline already known (a resumed session, a replay under another
        profile); otherwise captured at the infusion start or on request.
    first_alarm_number : int
        Where alarm numbers start (a resumed session continues its own).
    """

    def __init__(self, profile: Profile, *, baseline: Mapping[str, float] | None = None,
                 first_alarm_number: int = 1) -> None:
        self.profile = profile
        self.book = AlarmBook(profile.latching, first_alarm_number)
        self.baseline: dict[str, float] = dict(baseline or {})
        self._window: BaselineWindow | None = (
            None if self.baseline else BaselineWindow(profile.baseline_window_s))
        self.latest: dict[str, tuple[float, float]] = {}
        self.schedule = NibpSchedule(profile.nibp_during_s, profile.nibp_after_s)
        self.infusion_start: float | None = None
        self.infusion_end: float | None = None
        self.gate_overridden_by: str | None = None
        self.params_off: dict[str, float] = {}   # param -> next reminder time
        self.audio_paused_until: float | None = None
        self._pause_priority = 0
        self.discharge_ready_at: float | None = None
        self._next_discharge_check = 0.0
        self._log: list[Output] = []
        self._first_seen: float | None = None
        self._last_data: float | None = None
        self._stale = self._link_down = self._sensor_off = self._nibp_failed = False
        self._overdue = False
        self._compile()

    # -- building the rules ---------------------------------------------------------

    def _compile(self) -> None:
        """Turn the profile (and the baseline, once known) into per-parameter rules."""
        book, profile = self.book, self.profile
        self._rules: dict[str, _ParamRules] = {}
        for param, spec in PARAMETERS.items():
            low, high = spec.plausible
            self._rules[param] = _ParamRules(low, high, spec.episodic)
        for param, limit in profile.limits.items():
            self._rules[param].checks += self._limit_rules(limit)
        for param, relative in profile.baseline_limits.items():
            if param in self.baseline:
                self._rules[param].checks += self._baseline_rules(relative, self.baseline[param])
        for param, rate in profile.rate.items():
            self._rules[param].checks.append(RateRule(book, param, rate.max_change,
                                                      rate.priority))

    def _limit_rules(self, limit: LimitSpec) -> list[LimitRule | RateRule]:
        rules: list[LimitRule | RateRule] = []
        saturation = self.profile.saturation.get(limit.param)
        for side, bands in (("low", limit.low), ("high", limit.high)):
            if bands:
                rules.append(LimitRule(self.book, f"{limit.param}.{side}", limit.param, side,
                                       bands, limit.delay_s, limit.hysteresis, saturation))
        return rules

    def _baseline_rules(self, spec: BaselineLimitSpec, base: float) -> list[LimitRule | RateRule]:
        limit = self.profile.limits.get(spec.param)
        delay = limit.delay_s if limit else 0.0
        hysteresis = limit.hysteresis if limit else 0.0
        rules: list[LimitRule | RateRule] = []
        for side, percent, change in (("high", spec.high_percent, spec.high_change),
                                      ("low", spec.low_percent, spec.low_change)):
            if percent is None and change is None:
                continue
            sign = 1 if side == "high" else -1
            threshold = (base * (1 + sign * percent / 100) if percent is not None
                         else base + sign * change)  # type: ignore[operator]
            label = (f"baseline {'+' if sign > 0 else '-'}{percent:g}% ({threshold:g})"
                     if percent is not None else f"baseline {sign * change:+g} ({threshold:g})")  # type: ignore[operator]
            rules.append(LimitRule(self.book, f"{spec.param}.baseline_{side}", spec.param, side,
                                   ((round(threshold, 1), spec.priority),), delay, hysteresis,
                                   label=label))
        return rules

    # -- the input ------------------------------------------------------------------------

    def process(self, items: Sequence[Item], now: float) -> list[Output]:
        """Run readings and device events (in order) and the passing of time to `now`.

        Returns the alarm changes, audit entries and log entries they caused.
        Never raises on any input.
        """
        rules_of = self._rules
        for item in items:
            if item.__class__ is not Reading:
                self._event(item)  # type: ignore[arg-type]
                continue
            t = item.time
            if self._last_data is None or t > self._last_data:
                self._last_data = t
                if self._stale:
                    self._stale = False
                    self.book.absent("device.no_data", t)
                if self._link_down:
                    self._link_down = False
                    self.book.absent("device.disconnected", t)
            rules = rules_of.get(item.param)
            if rules is None:
                continue  # a device-named parameter: kept, but no rules apply
            value = item.value
            if item.status is not _VALID or value is None:
                # Questionable and invalid values never raise physiological alarms.
                if rules.episodic and item.status is Status.INVALID:
                    self._nibp_result(t, failed=True)
                continue
            if value < rules.low or value > rules.high:
                self._log.append(LogEntry(t, "artefact_rejected", {
                    "param": item.param, "value": value, "source": item.source,
                    "reason": f"outside the plausible range {rules.low:g}-{rules.high:g}"}))
                continue
            self.latest[item.param] = (t, value)
            if self._window is not None:
                self._window.add(item.param, value, t, rules.episodic)
            if self._sensor_off and item.param in _SENSOR_PARAMS:
                self._sensor_back(t)
            if rules.episodic:
                self._nibp_result(t, failed=False)
            if item.param in self.params_off:
                continue
            for check in rules.checks:
                check.update(value, t)
        self._tick(now)
        return self._take()

    def _event(self, event: DeviceEvent) -> None:
        kind, t, book = event.kind, event.time, self.book
        technical = self.profile.technical
        if kind == DeviceEventKind.DISCONNECTED:
            self._link_down = True
            book.present("device.disconnected", t, priority=technical.disconnected_priority,
                         kind=AlarmKind.TECHNICAL, param=None, value=None, limit=None,
                         message=f"device disconnected: {event.data.get('reason', '')}".strip())
        elif kind in (DeviceEventKind.CONNECTED, DeviceEventKind.DATA_RESUMED):
            if self._link_down:
                self._link_down = False
                book.absent("device.disconnected", t)
        elif kind in (DeviceEventKind.SENSOR_OFF, DeviceEventKind.NO_SIGNAL):
            self._sensor_off = True
            what = "sensor off" if kind == DeviceEventKind.SENSOR_OFF else "no signal"
            book.present("sensor.off", t, priority=technical.sensor_off_priority,
                         kind=AlarmKind.TECHNICAL, param=None, value=None, limit=None,
                         message=f"{what} ({event.source})")
        elif kind == DeviceEventKind.SENSOR_ON:
            self._sensor_back(t)
        elif kind == DeviceEventKind.NIBP_FAILED:
            self._nibp_result(t, failed=True)
        elif kind == DeviceEventKind.INFUSION_START:
            self.start_infusion(t)
        elif kind == DeviceEventKind.INFUSION_STOP:
            self.stop_infusion(t)

    def _sensor_back(self, t: float) -> None:
        self._sensor_off = False
        self.book.absent("sensor.off", t)

    def _nibp_result(self, t: float, *, failed: bool) -> None:
        self.schedule.measured(t)
        if self._overdue:
            self._overdue = False
            self.book.absent("nibp.overdue", t)
        if failed and not self._nibp_failed:
            self._nibp_failed = True
            self.book.present("nibp.failed", t, kind=AlarmKind.TECHNICAL, param="nibp_sys",
                              priority=self.profile.technical.nibp_failed_priority,
                              value=None, limit=None, message="NIBP measurement gave no result")
        elif not failed and self._nibp_failed:
            self._nibp_failed = False
            self.book.absent("nibp.failed", t)

    def _tick(self, now: float) -> None:
        """What the passing of time alone does: staleness, overdue NIBP, reminders."""
        technical = self.profile.technical
        if self._first_seen is None:
            self._first_seen = now
        quiet_since = self._last_data if self._last_data is not None else self._first_seen
        if not self._stale and now - quiet_since >= technical.stale_after_s:
            self._stale = True
            self.book.present("device.no_data", now, priority=technical.stale_priority,
                              kind=AlarmKind.TECHNICAL, param=None, value=now - quiet_since,
                              limit=technical.stale_after_s,
                              message=f"no data for {now - quiet_since:.0f} s")
        due = self.schedule.due()
        if due is not None and not self._overdue and now > due + technical.nibp_overdue_grace_s:
            self._overdue = True
            self.book.present("nibp.overdue", now, priority=technical.nibp_overdue_priority,
                              kind=AlarmKind.TECHNICAL, param="nibp_sys", value=None,
                              limit=None, message="NIBP measurement overdue")
        for param, reminder in self.params_off.items():
            if now >= reminder:
                self.params_off[param] = reminder + self.profile.alarms_off_reminder_s
                self.book.remind(f"{param}.alarms_off", now)
        if self.audio_paused_until is not None and now >= self.audio_paused_until:
            self.audio_paused_until = None
            self._log.append(LogEntry(now, "audio_pause_ended", {}))
        if self.infusion_end is not None and self.discharge_ready_at is None \
                and now >= self._next_discharge_check:
            self._next_discharge_check = now + 5.0
            if self.discharge(now).ready:
                self.discharge_ready_at = now
                self._log.append(LogEntry(now, "discharge_criteria_met", {}))

    def _take(self) -> list[Output]:
        changes = self.book.take()
        if self.audio_paused_until is not None:
            for change in changes:
                if (change.transition in ("onset", "escalated")
                        and change.priority > self._pause_priority):
                    # A new, worse alarm breaks through the audio pause.
                    self.audio_paused_until = None
                    self._log.append(LogEntry(change.time, "audio_pause_broken", {
                        "by": change.rule, "priority": str(change.priority)}))
                    break
        out = [*changes, *self._log] if self._log else changes
        self._log = []
        return out

    # -- the infusion and the baseline -------------------------------------------------

    def start_infusion(self, t: float) -> None:
        self.infusion_start, self.infusion_end = t, None
        self.discharge_ready_at = None
        self.schedule.start_infusion(t)
        if not self.baseline:
            self._capture_baseline(t, user=None)
        gate = self.gate()
        if not gate.clear:
            self.book.present("gate.not_cleared", t, priority=Priority.MEDIUM,
                              kind=AlarmKind.TECHNICAL, param=None, value=None, limit=None,
                              message="infusion started over the pre-treatment gate: "
                                      + "; ".join(gate.reasons))

    def restore(self, infusion_events: Sequence[DeviceEvent], *,
                gate_overridden_by: str | None, last_nibp: float | None) -> None:
        """Set the session state a record holds, raising nothing (a resumed session).

        The infusion's phase and the NIBP schedule come from the infusion
        events, in order; the baseline was given to the constructor.
        """
        for event in infusion_events:
            if event.kind == DeviceEventKind.INFUSION_START:
                self.infusion_start, self.infusion_end = event.time, None
                self.schedule.start_infusion(event.time)
            elif event.kind == DeviceEventKind.INFUSION_STOP:
                self.stop_infusion(event.time)
        self.gate_overridden_by = gate_overridden_by
        if last_nibp is not None:
            self.schedule.measured(last_nibp)

    def store_health(self, failing: bool, now: float, error: str = "") -> list[Output]:
        """The recorder could not (or can again) write the store: a technical alarm.

        Its changes are held with the readings and reach the alarm log once
        the store takes writes again, with the true onset and end.
        """
        if failing:
            self.book.present("store.write_failed", now, priority=Priority.MEDIUM,
                              kind=AlarmKind.TECHNICAL, param=None, value=None, limit=None,
                              message=f"recording store failing: {error}"[:200])
        else:
            self.book.absent("store.write_failed", now)
        return self._take()

    def stop_infusion(self, t: float) -> None:
        self.infusion_end = t
        self.schedule.stop_infusion(t)

    def _capture_baseline(self, t: float, user: str | None) -> None:
        if self._window is None:
            return
        baseline = self._window.baseline(t, self.profile.baseline_method)
        if not baseline:
            return
        self.baseline = baseline
        self._log.append(LogEntry(t, "baseline_captured", {"baseline": baseline, "user": user}))
        self._compile_keeping_state()
        gate = self.gate()
        if gate.blocked:
            self._log.append(LogEntry(t, "gate_blocked", {"reasons": list(gate.reasons)}))

    def _compile_keeping_state(self) -> None:
        """Add the baseline-relative rules without losing the others' state."""
        for param, relative in self.profile.baseline_limits.items():
            if param in self.baseline:
                self._rules[param].checks += self._baseline_rules(relative,
                                                                  self.baseline[param])

    def capture_baseline(self, now: float, user: str) -> list[Output]:
        """Take the baseline now from the window before `now` (audited)."""
        self._window = self._window or BaselineWindow(self.profile.baseline_window_s)
        before = dict(self.baseline)
        self.baseline = {}
        for rules in self._rules.values():
            rules.checks = [c for c in rules.checks if ".baseline_" not in getattr(c, "rule", "")]
        self._capture_baseline(now, user)
        if not self.baseline:
            self.baseline = before
        self._log.append(AuditEntry(now, user, "capture_baseline",
                                    {"baseline": self.baseline, "previous": before}))
        return self._take()

    def gate(self) -> Gate:
        return gate_for(self.baseline, self.profile, self.gate_overridden_by)

    def override_gate(self, user: str, reason: str, now: float) -> list[Output]:
        """Allow the infusion despite a high baseline: explicit and audited."""
        if not reason.strip():
            raise ValueError("a gate override needs a reason")
        self.gate_overridden_by = user
        self._log.append(AuditEntry(now, user, "override_gate",
                                    {"reason": reason, "gate": list(self.gate().reasons)}))
        self.book.absent("gate.not_cleared", now)
        return self._take()

    def discharge(self, now: float) -> Checklist:
        return discharge_checklist(self.profile, self.baseline, self.latest,
                                   self.infusion_end, now)

    # -- operators ---------------------------------------------------------------------

    def acknowledge(self, number: int, user: str, now: float) -> list[Output]:
        self.book.acknowledge(number, user, now)
        self._log.append(AuditEntry(now, user, "acknowledge", {"alarm": number}))
        return self._take()

    def reset(self, number: int, user: str, now: float) -> list[Output]:
        self.book.reset(number, user, now)
        self._log.append(AuditEntry(now, user, "reset", {"alarm": number}))
        return self._take()

    def pause_audio(self, user: str, now: float, seconds: float | None = None) -> list[Output]:
        """Silence this chair's sound for `seconds` (default the profile's, 2 min).
        The visual signals stay; a new alarm of higher priority breaks through."""
        seconds = self.profile.audio_pause_s if seconds is None else seconds
        self.audio_paused_until = now + seconds
        self._pause_priority = max((a.priority for a in self.book.current()), default=0)
        self._log.append(AuditEntry(now, user, "pause_audio", {"seconds": seconds}))
        return self._take()

    def audio_pause_remaining(self, now: float) -> float:
        if self.audio_paused_until is None:
            return 0.0
        return max(0.0, self.audio_paused_until - now)

    def sound(self, now: float) -> Priority | None:
        """The priority the chair's sound should play now (None: silent)."""
        if self.audio_pause_remaining(now) > 0:
            return None
        return max((a.priority for a in self.book.current() if a.sounding), default=None)

    def set_alarms_off(self, param: str, off: bool, user: str, now: float) -> list[Output]:
        """Switch one parameter's physiological alarms off (or back on).

        Off is never silent: a low-priority technical alarm stays while it
        lasts and sounds again every reminder interval.
        """
        if param not in PARAMETERS:
            raise ValueError(f"unknown parameter {param!r}")
        rule = f"{param}.alarms_off"
        if off and param not in self.params_off:
            self.params_off[param] = now + self.profile.alarms_off_reminder_s
            for check in self._rules[param].checks:
                if isinstance(check, LimitRule):
                    check.end(now)
            self.book.present(rule, now, priority=self.profile.technical.alarms_off_priority,
                              kind=AlarmKind.TECHNICAL, param=param, value=None, limit=None,
                              message=f"{PARAMETERS[param].short} alarms are OFF")
        elif not off and param in self.params_off:
            del self.params_off[param]
            self.book.absent(rule, now)
            alarm = self.book.by_rule.get(rule)
            if alarm is not None and alarm.state is AlarmState.LATCHED:
                self.book.reset(alarm.number, user, now)
        self._log.append(AuditEntry(now, user, "alarms_off" if off else "alarms_on",
                                    {"param": param}))
        return self._take()

    def set_limit(self, param: str, side: str, priority: str, value: float, user: str,
                  now: float) -> list[Output]:
        """Change one threshold (audited); the rules are rebuilt, alarms kept."""
        raw = merge(self.profile.raw, {"limits": {param: {side: {priority: value}}}})
        before = self.profile.limits.get(param)
        profile = profile_from_table(raw, origin="limit change")
        self._log.append(AuditEntry(now, user, "set_limit", {
            "param": param, "side": side, "priority": priority, "value": value,
            "previous": None if before is None else
            dict((str(p), t) for t, p in getattr(before, side))}))
        return self._replace_profile(profile, now)

    def set_profile(self, profile: Profile, user: str, now: float) -> list[Output]:
        self._log.append(AuditEntry(now, user, "set_profile",
                                    {"profile": profile.name, "previous": self.profile.name}))
        return self._replace_profile(profile, now)

    def _replace_profile(self, profile: Profile, now: float) -> list[Output]:
        self.profile = profile
        self.book.latching = profile.latching
        # Conditions start afresh under the new limits: those that still hold
        # re-enter at the next reading (an active alarm keeps its number).
        active = {rule for rule in self.book.by_rule}
        self._compile()
        for rule in active:
            check = self._find(rule)
            if isinstance(check, LimitRule):
                check.alarm_on = True
        self.schedule = replace_schedule(self.schedule, profile)
        return self._take()

    def _find(self, rule: str) -> LimitRule | RateRule | None:
        param = rule.split(".", 1)[0]
        rules = self._rules.get(param)
        for check in rules.checks if rules else ():
            if check.rule == rule:
                return check
        return None

    def current_alarms(self) -> list[AlarmChange]:
        """Alarms not ended, most urgent first, as change records of their state now."""
        return [AlarmChange(a.number, a.rule, a.param, a.kind, a.priority, a.state, "current",
                            a.onset, a.value, a.limit, a.message, None, a.onset)
                for a in self.book.current()]


def replace_schedule(schedule: NibpSchedule, profile: Profile) -> NibpSchedule:
    """The same schedule state under a profile's intervals."""
    new = NibpSchedule(profile.nibp_during_s, profile.nibp_after_s)
    new.last, new.phase_start, new.infusing = schedule.last, schedule.phase_start, \
        schedule.infusing
    return new

