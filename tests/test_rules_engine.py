"""The rules engine, one behaviour at a time: limits, delays, hysteresis, artefacts,
the alarm lifecycle, audio pause, alarms off, baseline, gate and discharge."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.vocabulary import PARAMETERS, DeviceEvent, DeviceEventKind, Reading, Status
from monitor.rules import (
    AlarmChange,
    AlarmState,
    AuditEntry,
    IllegalTransition,
    LogEntry,
    Priority,
    ProfileError,
    RulesEngine,
    load_profile,
)

T = 1_795_700_000.0
PROFILE = load_profile()


def r(t: float, param: str, value: float | None, status: Status = Status.VALID) -> Reading:
    return Reading(T + t, param, value, PARAMETERS[param].unit, status, "test")


def changes(outputs: list) -> list[tuple[str, str, str]]:
    return [(o.rule, str(o.priority), o.transition) for o in outputs if isinstance(o, AlarmChange)]


def feed(engine: RulesEngine, seconds: range, param: str, value: float) -> list:
    out = []
    for s in seconds:
        out += engine.process([r(s, param, value)], T + s)
    return out


def test_a_streamed_limit_alarms_after_its_delay_and_ends_with_hysteresis() -> None:
    engine = RulesEngine(PROFILE)  # HR high 120 medium, delay 10 s, hysteresis 3
    assert changes(feed(engine, range(0, 9), "hr", 125)) == []
    onset = feed(engine, range(9, 11), "hr", 125)
    assert changes(onset) == [("hr.high", "medium", "onset")]
    assert [o.time for o in onset if isinstance(o, AlarmChange)] == [T + 10]
    assert changes(feed(engine, range(11, 13), "hr", 155)) == [("hr.high", "high", "escalated")]
    # Back to 119: inside the limit but not past the hysteresis (117): still on.
    assert changes(feed(engine, range(13, 15), "hr", 119)) == []
    # High priority latches when it ends.
    assert changes(feed(engine, range(15, 16), "hr", 110)) == [("hr.high", "high", "latched")]


def test_a_condition_shorter_than_the_delay_never_alarms() -> None:
    engine = RulesEngine(PROFILE)
    out = feed(engine, range(0, 8), "hr", 130) + feed(engine, range(8, 20), "hr", 80)
    assert changes(out) == []


def test_episodic_nibp_alarms_at_once_and_rate_of_change_is_watched() -> None:
    engine = RulesEngine(PROFILE)
    first = engine.process([r(0, "nibp_sys", 130)], T)
    assert changes(first) == []
    jump = engine.process([r(600, "nibp_sys", 170)], T + 600)
    assert changes(jump) == [("nibp_sys.high", "medium", "onset"),
                             ("nibp_sys.rate", "medium", "onset")]


def test_questionable_invalid_and_implausible_values_never_alarm() -> None:
    engine = RulesEngine(PROFILE)
    out = []
    for s in range(30):
        out += engine.process([r(s, "spo2", 70, Status.QUESTIONABLE),
                               r(s, "hr", None, Status.INVALID),
                               r(s, "pulse_rate", 400)], T + s)
    assert changes(out) == []
    artefacts = [o for o in out if isinstance(o, LogEntry) and o.kind == "artefact_rejected"]
    assert len(artefacts) == 30 and artefacts[0].data["value"] == 400


def test_acknowledge_keeps_the_visual_and_stops_the_sound() -> None:
    engine = RulesEngine(PROFILE)
    feed(engine, range(0, 16), "spo2", 84)  # below 85: high, after saturation-seconds
    (alarm,) = engine.book.current()
    assert alarm.priority is Priority.HIGH and engine.sound(T + 16) is Priority.HIGH
    out = engine.acknowledge(alarm.number, "nurse.kim", T + 17)
    assert changes(out) == [("spo2.low", "high", "acknowledged")]
    assert [(a.user, a.action) for a in out if isinstance(a, AuditEntry)] == [
        ("nurse.kim", "acknowledge")]
    assert engine.sound(T + 17) is None
    assert [a.state for a in engine.book.current()] == [AlarmState.ACKNOWLEDGED]
    # Acknowledged alarms end without latching once the condition is over.
    assert changes(feed(engine, range(18, 20), "spo2", 97)) == [("spo2.low", "high", "ended")]


def test_latched_alarm_needs_a_reset_and_reset_is_refused_while_active() -> None:
    engine = RulesEngine(PROFILE)
    engine.process([r(0, "nibp_sys", 185)], T)
    (alarm,) = engine.book.current()
    with pytest.raises(IllegalTransition):
        engine.reset(alarm.number, "dr.li", T + 1)
    # 158 is under 160 but not past the 5 mmHg hysteresis: the condition holds.
    engine.process([r(600, "nibp_sys", 158)], T + 600)
    assert engine.book.current()[0].state is AlarmState.ACTIVE
    engine.process([r(1200, "nibp_sys", 150)], T + 1200)
    assert engine.book.current()[0].state is AlarmState.LATCHED
    assert engine.sound(T + 1201) is Priority.HIGH  # a latched alarm still calls for attention
    out = engine.reset(alarm.number, "dr.li", T + 1202)
    assert changes(out) == [("nibp_sys.high", "high", "reset")]
    assert engine.book.current() == []


def test_audio_pause_counts_down_and_a_worse_alarm_breaks_through() -> None:
    engine = RulesEngine(PROFILE)
    feed(engine, range(0, 11), "hr", 125)  # medium HR alarm
    out = engine.pause_audio("nurse.kim", T + 11)
    assert [a.action for a in out if isinstance(a, AuditEntry)] == ["pause_audio"]
    assert engine.audio_pause_remaining(T + 41) == pytest.approx(90)
    assert engine.sound(T + 41) is None
    # Another medium alarm does not break the pause ...
    engine.process([r(50, "nibp_sys", 165)], T + 50)
    assert engine.audio_pause_remaining(T + 50) > 0
    # ... a high one does.
    out = engine.process([r(60, "nibp_sys", 190)], T + 60)
    assert any(isinstance(o, LogEntry) and o.kind == "audio_pause_broken" for o in out)
    assert engine.sound(T + 60) is Priority.HIGH
    # Without a worse alarm the pause simply runs out after 2 minutes.
    quiet = RulesEngine(PROFILE)
    quiet.pause_audio("nurse.kim", T)
    quiet.process([], T + 119)
    assert quiet.audio_pause_remaining(T + 119) == pytest.approx(1)
    assert any(isinstance(o, LogEntry) and o.kind == "audio_pause_ended"
               for o in quiet.process([], T + 120))


def test_alarms_off_is_never_silent() -> None:
    engine = RulesEngine(PROFILE)
    out = engine.set_alarms_off("spo2", True, "dr.li", T)
    assert changes(out) == [("spo2.alarms_off", "low", "onset")]
    (indicator,) = engine.book.current()
    engine.acknowledge(indicator.number, "nurse.kim", T + 1)
    # SpO2 alarms are off: a desaturation raises nothing ...
    assert changes(feed(engine, range(2, 300), "spo2", 80)) == []
    # ... but the indicator sounds again every 5 minutes.
    assert changes(feed(engine, range(300, 301), "spo2", 80)) == [
        ("spo2.alarms_off", "low", "reminder")]
    out = engine.set_alarms_off("spo2", False, "dr.li", T + 310)
    assert ("spo2.alarms_off", "low", "ended") in changes(out)
    assert [a.action for a in out if isinstance(a, AuditEntry)] == ["alarms_on"]


def test_stale_disconnected_and_sensor_off_are_technical() -> None:
    engine = RulesEngine(PROFILE)
    engine.process([r(0, "hr", 70)], T)
    assert changes(engine.process([], T + 9)) == []
    assert changes(engine.process([], T + 10)) == [("device.no_data", "medium", "onset")]
    assert changes(engine.process([r(11, "hr", 70)], T + 11)) == [
        ("device.no_data", "medium", "ended")]
    lost = DeviceEvent(T + 12, DeviceEventKind.DISCONNECTED, "masimo", {"reason": "EIO"})
    assert changes(engine.process([lost], T + 12)) == [
        ("device.disconnected", "medium", "onset")]
    back = DeviceEvent(T + 15, DeviceEventKind.CONNECTED, "masimo", {})
    assert changes(engine.process([back, r(15, "hr", 70)], T + 15)) == [
        ("device.disconnected", "medium", "ended")]
    off = DeviceEvent(T + 16, DeviceEventKind.SENSOR_OFF, "masimo", {})
    assert changes(engine.process([off], T + 16)) == [("sensor.off", "medium", "onset")]
    assert changes(engine.process([r(17, "spo2", 97)], T + 17)) == [
        ("sensor.off", "medium", "ended")]


def test_baseline_gate_and_discharge_checklist() -> None:
    engine = RulesEngine(PROFILE)
    for s in range(0, 300, 1):
        engine.process([r(s, "hr", 70 + s % 3), r(s, "spo2", 97)], T + s)
    engine.process([r(290, "nibp_sys", 150), r(290, "nibp_dia", 95)], T + 290)
    start = DeviceEvent(T + 300, DeviceEventKind.INFUSION_START, "nurse", {})
    out = engine.process([start], T + 300)
    captured = next(o for o in out if isinstance(o, LogEntry) and o.kind == "baseline_captured")
    assert captured.data["baseline"] == {"hr": 71.0, "nibp_dia": 95.0, "nibp_sys": 150.0,
                                         "spo2": 97.0}
    # 150/95 is over the clinic's 140/90: starting needs an audited override.
    assert engine.gate().blocked and not engine.gate().clear
    assert ("gate.not_cleared", "medium", "onset") in changes(out)
    with pytest.raises(ValueError, match="reason"):
        engine.override_gate("dr.li", " ", T + 301)
    out = engine.override_gate("dr.li", "anxious patient, repeat 138/88", T + 301)
    assert changes(out) == [("gate.not_cleared", "medium", "ended")]
    assert engine.gate().clear and engine.gate().overridden_by == "dr.li"

    engine.process([DeviceEvent(T + 2700, DeviceEventKind.INFUSION_STOP, "nurse", {})],
                   T + 2700)
    engine.process([r(3000, "nibp_sys", 160), r(3000, "nibp_dia", 96)], T + 3000)
    checklist = engine.discharge(T + 3000)
    assert [(i.key, i.met) for i in checklist.items] == [
        ("bp", True), ("spo2", True), ("observation", False)]
    assert not checklist.ready and engine.discharge(T + 2700 + 1800).ready
    engine.process([r(4600, "spo2", 97), r(4600, "hr", 70)], T + 4600)
    assert engine.discharge_ready_at == T + 4600


def test_relative_limit_follows_the_baseline() -> None:
    engine = RulesEngine(PROFILE, baseline={"nibp_sys": 110.0})
    # 110 + 25% = 137.5: a reading of 140 is within the absolute limits but alarms.
    assert changes(engine.process([r(0, "nibp_sys", 140)], T)) == [
        ("nibp_sys.baseline_high", "medium", "onset")]


def test_limit_and_profile_changes_are_audited(tmp_path: Path) -> None:
    engine = RulesEngine(PROFILE)
    out = engine.set_limit("hr", "high", "medium", 110, "dr.li", T)
    (audit,) = [o for o in out if isinstance(o, AuditEntry)]
    assert audit.action == "set_limit" and audit.data["previous"] == {"medium": 120,
                                                                      "high": 150}
    assert changes(feed(engine, range(0, 11), "hr", 115)) == [("hr.high", "medium", "onset")]
    clinic = tmp_path / "clinic.toml"
    clinic.write_text('name = "strict"\n[limits.hr]\nhigh = { medium = 100, high = 130 }\n')
    out = engine.set_profile(load_profile(clinic), "admin", T + 20)
    assert [(a.action, a.data["profile"]) for a in out if isinstance(a, AuditEntry)] == [
        ("set_profile", "strict")]
    assert engine.profile.limits["hr"].high[0][0] == 100


@pytest.mark.parametrize(("text", "key"), [
    ("[limits.hartrate]\nlow = { medium = 50 }\n", "limits.hartrate"),
    ("[limits.hr]\nlow = { medium = 130 }\nhigh = { medium = 120 }\n", "limits.hr.low"),
    ("[limits.hr]\ndelay = -5\n", "limits.hr.delay"),
    ("[limits.hr]\nhigh = { urgent = 160 }\n", "limits.hr.high.urgent"),
    ("[rate.nibp_sys]\npriority = \"critical\"\n", "rate.nibp_sys.priority"),
    ("[limits.spo2]\nlow = { medium = 85, high = 90 }\n", "limits.spo2.low.high"),
    ("[alarms]\naudio_pauze = 60\n", "alarms.audio_pauze"),
])
def test_a_bad_profile_is_one_error_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert key in message and str(path) in message and "\n" not in message


def test_a_clinic_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text('name = "our-clinic"\n[limits.nibp_sys]\nhigh = { medium = 150 }\n'
                    "[alarms]\naudio_pause = 60\n")
    profile = load_profile(path)
    assert profile.name == "our-clinic"
    assert profile.limits["nibp_sys"].high == ((150.0, Priority.MEDIUM), (180.0, Priority.HIGH))
    assert profile.limits["nibp_sys"].low == PROFILE.limits["nibp_sys"].low
    assert profile.audio_pause_s == 60 and profile.limits["spo2"] == PROFILE.limits["spo2"]
