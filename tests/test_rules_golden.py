"""Golden scenarios: each simulated session replayed through the rules raises
exactly the alarms a clinician would expect, at the right time."""

from __future__ import annotations

import pytest

from devices.scenarios import SessionPlan
from devices.simulator import Simulator, generate_session
from devices.vocabulary import Reading
from monitor.rules import AlarmChange, AlarmKind, Priority, load_profile
from monitor.rules.replay import rerun

T0 = 1_795_680_000.0
PLAN = SessionPlan(T0)
PROFILE = load_profile()
SEEDS = (1, 2, 3, 4, 5)


def alarms(scenario: str, seed: int) -> tuple[list, list[AlarmChange]]:
    items = generate_session(scenario, seed, T0)
    _, outputs = rerun(items, PROFILE, start=T0, end=PLAN.end - 1)
    return items, [o for o in outputs if isinstance(o, AlarmChange)]


def readings(items: list, param: str) -> list[tuple[float, float]]:
    return [(r.time, r.value) for r in items
            if isinstance(r, Reading) and r.param == param and r.value is not None
            and r.status == "valid"]


@pytest.mark.parametrize("seed", SEEDS)
def test_typical_session_raises_no_alarm(seed: int) -> None:
    _, changes = alarms("typical", seed)
    assert changes == []


@pytest.mark.parametrize("seed", SEEDS)
def test_hypertensive_response_high_sbp_alarm_at_the_first_nibp_of_180(seed: int) -> None:
    items, changes = alarms("hypertensive-response", seed)
    first_180 = next(t for t, v in readings(items, "nibp_sys") if v >= 180)
    sbp = [c for c in changes if c.rule == "nibp_sys.high"]
    high = next(c for c in sbp if c.priority is Priority.HIGH)
    assert high.time == first_180 and high.value >= 180 and high.limit == 180
    assert high.transition in ("onset", "escalated")
    # No high SBP alarm before that reading; the medium one (> 160) may come first.
    assert all(c.priority is Priority.MEDIUM for c in sbp if c.time < first_180)
    # High priority latches: it stays shown after the pressure falls, until reset.
    assert sbp[-1].transition == "latched"
    # Only physiological alarms of blood pressure: nothing about SpO2, HR or the device.
    assert {c.param for c in changes} <= {"nibp_sys", "nibp_dia", "nibp_mean"}
    assert all(c.kind is AlarmKind.PHYSIOLOGICAL for c in changes)


@pytest.mark.parametrize("seed", SEEDS)
def test_desaturation_alarms_only_after_the_delay(seed: int) -> None:
    items, changes = alarms("desaturation", seed)
    spo2 = readings(items, "spo2")
    first_below = next(t for t, v in spo2 if v < 90)
    onset = changes[0]
    assert onset.rule == "spo2.low" and onset.transition == "onset"
    # Saturation-seconds (50 %·s) take about as long as the 15 s delay they replace.
    assert 10 <= onset.time - first_below <= 20
    assert {c.rule for c in changes} == {"spo2.low"}
    assert changes[-1].transition in ("ended", "latched")


def test_a_brief_dip_does_not_alarm() -> None:
    sim = Simulator("typical", 1, PLAN)
    items = sim.take_until(PLAN.end - 1)
    # Three seconds at 88 %: well under the saturation-seconds and the delay.
    dip_start = PLAN.infusion_start + 600
    dipped = [Reading(r.time, r.param, 88.0, r.unit, r.status, r.source)
              if isinstance(r, Reading) and r.param == "spo2"
              and dip_start <= r.time < dip_start + 3 else r for r in items]
    _, outputs = rerun(dipped, PROFILE, start=T0, end=PLAN.end - 1)
    assert [o for o in outputs if isinstance(o, AlarmChange)] == []


@pytest.mark.parametrize("seed", SEEDS)
def test_bradycardia_alarms_on_heart_and_pulse_rate(seed: int) -> None:
    items, changes = alarms("bradycardia", seed)
    onsets = [c for c in changes if c.transition == "onset"]
    assert {c.rule for c in onsets} == {"hr.low", "pulse_rate.low"}
    first_low = next(t for t, v in readings(items, "hr") if v < 50)
    hr_onset = next(c for c in onsets if c.rule == "hr.low")
    assert hr_onset.time >= first_low + PROFILE.limits["hr"].delay_s


@pytest.mark.parametrize("seed", SEEDS)
def test_motion_artifact_spikes_raise_no_physiological_alarm(seed: int) -> None:
    _, changes = alarms("motion-artifact", seed)
    assert all(c.kind is AlarmKind.TECHNICAL for c in changes)
    # The cuff measurement spoiled by the movement is reported, as a low technical alarm.
    assert {c.rule for c in changes} <= {"nibp.failed"}
    assert all(c.priority is Priority.LOW for c in changes)


@pytest.mark.parametrize("scenario", ["sensor-off", "disconnect"])
@pytest.mark.parametrize("seed", SEEDS)
def test_device_faults_raise_technical_alarms_that_clear(scenario: str, seed: int) -> None:
    simulator = Simulator(scenario, seed, PLAN)
    start, end = simulator.episode_window  # type: ignore[misc]
    items = simulator.take_until(PLAN.end - 1)
    _, outputs = rerun(items, PROFILE, start=T0, end=PLAN.end - 1)
    changes = [o for o in outputs if isinstance(o, AlarmChange)]
    rule = "sensor.off" if scenario == "sensor-off" else "device.no_data"
    fault = [c for c in changes if c.rule == rule]
    assert [c.transition for c in fault] == ["onset", "ended"]
    stale = PROFILE.technical.stale_after_s
    assert start <= fault[0].time <= start + stale
    assert end - 1 <= fault[1].time <= end + 1
    assert all(c.kind is AlarmKind.TECHNICAL for c in changes)
    # A lost NIBP during the silence becomes an overdue prompt, nothing more.
    assert {c.rule for c in changes} <= {rule, "nibp.overdue"}
