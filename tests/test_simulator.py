"""The physiological simulator: a ketamine session as CLINICAL.md describes it.

Exact where the model is noiseless or seeded; where a test speaks about a
population (the published mean rises), it says how much a 20-patient sample
may stray and why.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from statistics import mean, median

import pytest

from devices.adapter import RecordingFinished
from devices.clock import ScaledClock, StepClock
from devices.physiology import noise_bound
from devices.registry import open_adapter
from devices.scenarios import SCENARIOS, get_scenario
from devices.simulator import (
    NIBP_MEASUREMENT_S,
    ONE_HZ_PARAMS,
    SessionPlan,
    Simulator,
    SimulatorAdapter,
    generate_session,
)
from devices.spec import SpecError, parse_spec
from devices.vocabulary import (
    NIBP_PARAMS,
    PARAMETERS,
    DeviceEvent,
    DeviceEventKind,
    Item,
    Reading,
    SourceKind,
    Status,
)

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, whole seconds
PLAN = SessionPlan(T0)
SEEDS = range(1, 21)
MIN = 60.0
SHORT = {"pre_min": 2.0, "infusion_min": 10.0, "post_min": 5.0}  # a 17-minute session


@functools.cache
def session(scenario: str, seed: int) -> tuple[Simulator, tuple[Item, ...]]:
    """A whole default session (cached: several tests look at the same patients)."""
    sim = Simulator(scenario, seed, PLAN)
    return sim, tuple(sim.take_until(PLAN.end))


def readings(items: Sequence[Item], param: str) -> list[Reading]:
    return [i for i in items if isinstance(i, Reading) and i.param == param]


def nibp_by_minute(items: Sequence[Item], param: str = "nibp_sys") -> dict[float, float | None]:
    """NIBP values keyed by cuff start, minutes after infusion start."""
    return {(r.time - NIBP_MEASUREMENT_S - PLAN.infusion_start) / MIN: r.value
            for r in readings(items, param)}


def baseline_nibp(items: Sequence[Item], param: str = "nibp_sys") -> float:
    """The clinic's baseline: the last NIBP before infusion start."""
    value = [v for m, v in nibp_by_minute(items, param).items() if m < 0][-1]
    assert value is not None
    return value


# --- determinism -----------------------------------------------------------------


def test_same_seed_same_session_and_seeds_are_different_patients() -> None:
    short = generate_session("typical", 7, T0, **SHORT)
    assert generate_session("typical", 7, T0, **SHORT) == short
    baselines = {Simulator("typical", seed, PLAN).baseline for seed in SEEDS}
    assert len({b.sbp for b in baselines}) == len(SEEDS)
    assert len({b.hr for b in baselines}) == len(SEEDS)
    assert session("typical", 1)[1] != session("typical", 2)[1]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_chunking_does_not_change_the_session(scenario: str) -> None:
    event_at = 2.0 if get_scenario(scenario).episode else None
    whole = generate_session(scenario, 5, T0, event_at=event_at, **SHORT)

    plan = SessionPlan(T0, **SHORT)
    per_second = Simulator(scenario, 5, plan, event_at=event_at)
    stepped: list[Item] = []
    while (t := per_second.next_time()) is not None:
        stepped += per_second.take_until(t)
    assert stepped == whole

    ragged = Simulator(scenario, 5, plan, event_at=event_at)
    rng, t, chunked = random.Random(0), T0 - 5.0, []
    while t < plan.end + 5:
        t += rng.choice((0.3, 1.0, 7.5, 61.0, 400.0))
        chunked += ragged.take_until(t)
    assert chunked == whole
    assert ragged.next_time() is None and ragged.take_until(plan.end + 1e6) == []
    assert all(a.time <= b.time for a, b in itertools.pairwise(whole))
    assert whole[0].time == plan.start and whole[-1].time < plan.end


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if get_scenario(s).episode])
def test_scenario_changes_nothing_outside_its_episode(scenario: str) -> None:
    """Same seed, same patient: an episode is the only difference from `typical`."""
    sim, items = session(scenario, 3)
    _, typical = session("typical", 3)
    first, stop = sim.episode_window or (0, 0)
    reach = stop + NIBP_MEASUREMENT_S  # an NIBP measured during it reports after it
    outside = [i for i in items if not first <= i.time < reach]
    assert outside == [i for i in typical if not first <= i.time < reach]


# --- a typical session ----------------------------------------------------------


def test_typical_model_rises_peaks_and_returns_as_published() -> None:
    """Noiseless, per patient: +12-16 / +8-11 mmHg, peak 30-40 min, gone by 90 min."""
    start = PLAN.infusion_start
    for seed in SEEDS:
        sim = Simulator("typical", seed, PLAN)
        base = {p: sim.expected(p, start) for p in ("nibp_sys", "nibp_dia", "hr")}
        assert sim.expected("nibp_sys", PLAN.start) == base["nibp_sys"]  # flat before start
        rise = {p: sim.expected(p, start + 35 * MIN) - base[p] for p in base}
        assert 12 <= rise["nibp_sys"] <= 16
        assert 8 <= rise["nibp_dia"] <= 11
        assert 1 <= rise["hr"] <= 3
        at_nibp = {t: sim.expected("nibp_sys", t + NIBP_MEASUREMENT_S)
                   for t in PLAN.nibp_schedule()}
        assert 30 * MIN <= max(at_nibp, key=at_nibp.__getitem__) - start <= 40 * MIN
        assert sim.expected("nibp_sys", start + 90 * MIN) - base["nibp_sys"] \
            < 0.05 * rise["nibp_sys"]


def test_typical_measured_rise_matches_the_published_means() -> None:
    """Measured as the papers do: peak NIBP around 30-40 min minus the last
    NIBP before start, averaged over 20 patients.

    A 20-patient mean carries about 1.0 mmHg (SBP) and 0.75 mmHg (DBP) of
    sampling error from measurement noise, so the bands are widened by ~2 of those.
    """
    sys_rises, dia_rises, curves, late, bases = [], [], {}, [], []
    for seed in SEEDS:
        items = session("typical", seed)[1]
        sys_by_min, dia_by_min = nibp_by_minute(items), nibp_by_minute(items, "nibp_dia")
        sys_rises.append(max(sys_by_min[30], sys_by_min[40]) - baseline_nibp(items))
        dia_rises.append(max(dia_by_min[30], dia_by_min[40])
                         - baseline_nibp(items, "nibp_dia"))
        for minute, value in sys_by_min.items():
            curves.setdefault(minute, []).append(value)
        late += [v for m, v in sys_by_min.items() if m >= 90]
        bases.append(baseline_nibp(items))
    assert 12 - 2 <= mean(sys_rises) <= 16 + 2
    assert 8 - 1.5 <= mean(dia_rises) <= 11 + 1.5
    mean_curve = {minute: mean(values) for minute, values in curves.items()}
    assert max(mean_curve, key=mean_curve.__getitem__) in (30, 40)
    assert abs(mean(late) - mean(bases)) <= 5


def test_typical_patients_pass_the_gate_and_stay_out_of_alarm() -> None:
    """Baseline under 140/90; HR rises little; SpO2 >= 92; RR steady."""
    hr_rises = []
    for seed in SEEDS:
        sim, items = session("typical", seed)
        assert baseline_nibp(items) <= 140 and baseline_nibp(items, "nibp_dia") <= 90
        hr = [r.value for r in readings(items, "hr")]
        k0 = PLAN.infusion_start_offset
        rise = mean(hr[k0 + 30 * 60:k0 + 40 * 60]) - mean(hr[k0 - 5 * 60:k0])
        assert abs(rise) < 10
        hr_rises.append(rise)
        for param in ("hr", "pulse_rate"):
            assert all(50 <= r.value <= 120 for r in readings(items, param))
        assert min(r.value for r in readings(items, "spo2")) >= 92
        rr = [r.value for r in readings(items, "resp_rate")]
        assert min(rr) >= 8 and max(rr) <= 30
        assert max(abs(v - sim.baseline.rr) for v in rr) <= noise_bound("resp_rate") + 0.5
    assert 0 < mean(hr_rises) < 5  # published: pulse +1.9/min


def test_every_typical_reading_is_truth_plus_bounded_noise() -> None:
    for seed in range(1, 6):
        sim, items = session("typical", seed)
        for r in items:
            if isinstance(r, Reading):
                slack = 1.0 if r.param == "nibp_mean" else 0.5  # rounding
                assert r.status is Status.VALID and r.value == round(r.value)
                assert abs(r.value - sim.expected(r.param, r.time)) <= \
                    noise_bound(r.param) + slack, (seed, r)


def test_one_hz_parameters_come_exactly_every_second() -> None:
    items = session("typical", 1)[1]
    for param in ONE_HZ_PARAMS:
        rows = readings(items, param)
        assert [r.time for r in rows] == [T0 + k for k in range(PLAN.duration_s)]
        assert {(r.unit, r.source, r.received_at) for r in rows} == \
            {(PARAMETERS[param].unit, "sim", None)}


def test_nibp_follows_the_schedule() -> None:
    items = session("typical", 1)[1]
    assert list(nibp_by_minute(items)) == [-8, -2, 0, 10, 20, 30, 40, 55, 70, 85, 100, 115]
    for sys_r, dia_r, mean_r in zip(*(readings(items, p) for p in NIBP_PARAMS), strict=True):
        assert sys_r.time == dia_r.time == mean_r.time
        assert mean_r.value == round(dia_r.value + (sys_r.value - dia_r.value) / 3)

    custom = dict(pre_min=5.0, infusion_min=20.0, post_min=30.0,
                  nibp_during_min=5.0, nibp_after_min=7.5)
    plan = SessionPlan(T0, **custom)
    times = [r.time for r in readings(generate_session("typical", 2, T0, **custom), "nibp_sys")]
    assert [(t - NIBP_MEASUREMENT_S - plan.infusion_start) / MIN for t in times] == \
        [-3, -2, 0, 5, 10, 15, 20, 27.5, 35, 42.5]
    assert times == [t + NIBP_MEASUREMENT_S for t in plan.nibp_schedule()]


def test_the_simulator_plays_the_nurse() -> None:
    events = [i for i in session("typical", 1)[1] if isinstance(i, DeviceEvent)]
    assert [(e.time, e.kind) for e in events] == [
        (PLAN.infusion_start, DeviceEventKind.INFUSION_START),
        (PLAN.infusion_end, DeviceEventKind.INFUSION_STOP)]
    data = events[0].data
    assert (data["dose_mg_per_kg"], data["duration_min"], data["simulated"]) == (0.5, 40, True)


# --- scenarios ---------------------------------------------------------------------


def test_hypertensive_response_passes_180_around_the_peak() -> None:
    for seed in SEEDS:
        sim = Simulator("hypertensive-response", seed, PLAN)
        items = sim.take_until(PLAN.infusion_start + 41 * MIN)  # the part that matters
        sys_by_min = nibp_by_minute(items)
        assert sys_by_min[30] >= 180 and sys_by_min[40] >= 180, seed
        assert baseline_nibp(items) <= 140  # a patient the clinic would have started
        assert max(nibp_by_minute(session("typical", seed)[1]).values()) < 160


def test_desaturation_spends_30_to_60_seconds_under_88() -> None:
    for seed in range(1, 11):
        sim = Simulator("desaturation", seed, PLAN)
        first, stop = sim.episode_window or (0, 0)
        spo2 = readings(sim.take_until(stop + MIN), "spo2")
        low = [r for r in spo2 if r.value < 88]
        assert 30 <= len(low) <= 60, (seed, len(low))
        assert all(first <= r.time < stop for r in low)
        assert 82 <= min(r.value for r in spo2) <= 87


def test_bradycardia_under_50_for_about_two_minutes() -> None:
    for seed in range(1, 11):
        sim = Simulator("bradycardia", seed, PLAN)
        first, stop = sim.episode_window or (0, 0)
        items = sim.take_until(stop + MIN)
        for param in ("hr", "pulse_rate"):
            low = [r for r in readings(items, param) if r.value < 50]
            assert 90 <= len(low) <= 150, (seed, param, len(low))
            assert all(first <= r.time < stop for r in low)
            assert 38 <= median(r.value for r in low) <= 46  # "around 42"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_motion_artifact_is_flagged_and_changes_no_physiology(seed: int) -> None:
    sim = Simulator("motion-artifact", seed, PLAN)
    first, stop = sim.episode_window or (0, 0)
    items = sim.take_until(stop + MIN)
    spikes = dropouts = 0
    for r in items:
        if not isinstance(r, Reading):
            continue
        if r.status is Status.INVALID:
            assert r.value is None and first <= r.time < stop + NIBP_MEASUREMENT_S
            dropouts += 1
        elif r.status is Status.QUESTIONABLE:
            assert r.param in ("hr", "pulse_rate", "spo2") and first <= r.time < stop
            assert abs(r.value - sim.expected(r.param, r.time)) > noise_bound(r.param) + 0.5
            spikes += 1
        else:  # a value shown as valid is the patient's, never an artefact
            slack = 1.0 if r.param == "nibp_mean" else 0.5
            assert abs(r.value - sim.expected(r.param, r.time)) <= noise_bound(r.param) + slack
    assert spikes >= 20 and dropouts >= 20
    assert nibp_by_minute(items)[20] is None  # the cuff on a moving arm fails


def test_sensor_off_blanks_the_oximeter_for_90_seconds() -> None:
    sim, items = session("sensor-off", 1)
    first, stop = sim.episode_window or (0, 0)
    assert stop - first == 90
    events = [(e.time, e.kind) for e in items if isinstance(e, DeviceEvent)
              and e.kind in (DeviceEventKind.SENSOR_OFF, DeviceEventKind.SENSOR_ON)]
    assert events == [(first, DeviceEventKind.SENSOR_OFF), (stop, DeviceEventKind.SENSOR_ON)]
    for param in ("spo2", "pulse_rate"):
        blank = [r for r in readings(items, param) if r.value is None]
        assert [r.time for r in blank] == [first + k for k in range(90)]
        assert {r.status for r in blank} == {Status.INVALID}
    assert len(readings(items, "hr")) == PLAN.duration_s  # ECG carries on
    assert all(r.value is not None for r in readings(items, "hr"))


def test_disconnect_leaves_exactly_a_60_second_hole() -> None:
    sim, items = session("disconnect", 1)
    first, stop = sim.episode_window or (0, 0)
    assert not [i for i in items if first <= i.time < stop]
    for param in ONE_HZ_PARAMS:
        times = [r.time for r in readings(items, param)]
        gaps = [(a, b) for a, b in itertools.pairwise(times) if b - a != 1]
        assert gaps == [(first - 1, stop)] and stop - first == 60
    assert 20 not in nibp_by_minute(items)  # measured during the hole: lost
    assert list(nibp_by_minute(items)) == [-8, -2, 0, 10, 30, 40, 55, 70, 85, 100, 115]


def test_an_episode_can_be_moved_but_must_fit() -> None:
    sim = Simulator("desaturation", 1, PLAN, event_at=-5)  # before the infusion starts
    assert sim.episode_window and sim.episode_window[0] == PLAN.infusion_start - 5 * MIN
    with pytest.raises(ValueError, match="does not fit"):
        Simulator("sensor-off", 1, PLAN, event_at=119.5)  # ends after the session


# --- the adapter ---------------------------------------------------------------------


def test_stepping_adapter_runs_a_whole_session_without_sleeping() -> None:
    adapter = open_adapter("sim:?scenario=typical&seed=3&speed=max")
    assert isinstance(adapter, SimulatorAdapter) and isinstance(adapter.clock, StepClock)
    assert adapter.source_kind is SourceKind.SIMULATED
    adapter.open()
    got: list[Item] = []
    with pytest.raises(RecordingFinished):
        while True:
            got += adapter.read(timeout=60.0)
    plan = adapter.plan
    assert got[0].time == plan.start and got[-1].time == plan.end - 1
    assert len(readings(got, "hr")) == plan.duration_s
    assert adapter.stats.readings == sum(isinstance(i, Reading) for i in got)
    assert adapter.describe() == "simulated: typical, seed 3, max speed"


def test_speed_600_covers_ten_minutes_per_wall_second() -> None:
    wall0 = time.monotonic()
    adapter = open_adapter("sim:?scenario=hypertensive-response&seed=3&speed=600")
    assert isinstance(adapter, SimulatorAdapter) and isinstance(adapter.clock, ScaledClock)
    assert adapter.describe() == "simulated: hypertensive-response, seed 3, 600x"
    adapter.open()
    got: list[Item] = []
    while not got or time.monotonic() - wall0 < 0.3:
        got += adapter.read(timeout=1.0)
    wall = time.monotonic() - wall0
    covered = got[-1].time - adapter.plan.start
    # Behaviour, not timing: roughly 0.3 s x 600 = 180 s of session.
    assert 90 <= covered <= 600 * wall + 1


@pytest.mark.parametrize("speed", ["max", "1"])
def test_elapsed_opens_on_a_session_in_progress(speed: str) -> None:
    adapter = open_adapter(f"sim:?seed=2&elapsed=30&speed={speed}")
    assert isinstance(adapter, SimulatorAdapter)
    adapter.open()
    wall0 = time.monotonic()
    first = adapter.read(timeout=1.0)
    assert time.monotonic() - wall0 < 1.0
    hr = readings(first, "hr")
    assert hr[0].time == adapter.plan.start
    assert 30 * MIN <= hr[-1].time - adapter.plan.start <= 30 * MIN + 2
    assert any(isinstance(i, DeviceEvent) and i.kind is DeviceEventKind.INFUSION_START
               for i in first)


def test_reopening_continues_the_same_session() -> None:
    clock = StepClock(T0)
    adapter = SimulatorAdapter(parse_spec("sim:?seed=4&pre=2&infusion=10&post=5"), clock=clock)
    assert adapter.plan == SessionPlan(T0, **SHORT)
    whole = generate_session("typical", 4, T0, **SHORT)
    adapter.open()
    before = adapter.read(timeout=10.0)
    assert before == [i for i in whole if i.time == T0]
    adapter.close()
    clock.sleep(30.0)  # unplugged for 30 s: what the monitor sent meanwhile is lost
    adapter.open()
    after = adapter.read(timeout=10.0)
    assert after == [i for i in whole if i.time == T0 + 30]


def test_spec_options_reach_the_session() -> None:
    adapter = open_adapter("sim:?scenario=desaturation&seed=9&speed=max&start=2026-11-26T14:00:00"
                           "+01:00&pre=5&infusion=30&post=45&nibp_during=5&nibp_after=10"
                           "&event_at=12")
    assert isinstance(adapter, SimulatorAdapter)
    start = datetime(2026, 11, 26, 13, 0, tzinfo=UTC).timestamp()
    assert adapter.plan == SessionPlan(start, 5, 30, 45, 5, 10)
    assert adapter.simulator.episode_window is not None
    assert adapter.simulator.episode_window[0] == adapter.plan.infusion_start + 12 * MIN
    zulu = open_adapter("sim:?start=2026-11-26T13:00:00Z")
    assert isinstance(zulu, SimulatorAdapter) and zulu.plan.start == start


@pytest.mark.parametrize(("spec", "message"), [
    ("sim:?sead=3", "unknown option"),
    ("sim:?scenario=hypotension", "known: typical, hypertensive-response, desaturation"),
    ("sim:?speed=0", "speed"),
    ("sim:?speed=fast", "speed"),
    ("sim:?speed=inf", "speed"),
    ("sim:?seed=1.5", "whole number"),
    ("sim:?start=2026-11-26T14:00:00", "offset"),
    ("sim:?start=yesterday", "ISO 8601"),
    ("sim:?pre=-1", "pre"),
    ("sim:?pre=1e308", "at most"),
    ("sim:?nibp_after=1e308", "nibp_after"),
    ("sim:?nibp_during=0.5", "nibp_during"),
    ("sim:?event_at=5", "no episode"),
    ("sim:?scenario=disconnect&event_at=200", "does not fit"),
    ("sim:?elapsed=500", "elapsed"),
    ("sim:?elapsed=nan", "elapsed"),
    ("sim:?scenario=desaturation&event_at=nan", "event_at"),
])
def test_bad_specs_are_refused(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        open_adapter(spec)


def test_speed_max_never_sleeps_even_through_the_disconnect() -> None:
    adapter = open_adapter("sim:?scenario=disconnect&speed=max&pre=1&infusion=2&post=1"
                           "&event_at=0.5")
    adapter.open()
    stamps = []
    with pytest.raises(RecordingFinished):
        while True:
            stamps += [i.time for i in adapter.read(timeout=5.0)]
    silence = max(b - a for a, b in itertools.pairwise(stamps))
    assert silence == 61 and math.isclose(adapter.now(), stamps[-1])
