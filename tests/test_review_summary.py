"""The session summary and the protocol flowsheet, on a recorded simulated session
and on small hand-made tables whose answers can be worked out by hand."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from devices.registry import open_adapter
from devices.table import Coded, ReadingTable
from monitor.review import (
    FlowsheetSettings,
    build_flowsheet,
    session_flowsheet,
    summarize,
    summarize_session,
)
from monitor.review.infusion import dose_of, infusion_of
from monitor.review.summary import limit_exposures
from monitor.review.tables import Times, flowsheet_table
from monitor.rules import load_profile
from monitor.rules.profile import merge, profile_from_table
from monitor.service import Recorder
from monitor.store import Store
from monitor.store.alarm_log import session_alarms

START = "2026-11-26T08:00:00Z"
T0 = 1_795_680_000.0           # START in s since epoch
INFUSION = T0 + 600             # the simulator's infusion: 10 min after the start, 40 min long
SPEC = f"sim:?scenario=hypertensive-response&seed=2&speed=max&start={START}"


def record(db: Path, spec: str = SPEC) -> int:
    """Record a whole simulated session (rules included) as acquisition does."""
    recorder = Recorder(db)
    worker = recorder.add_chair("3", open_adapter(spec))
    recorder.start()
    worker.join(timeout=120)
    recorder.stop()
    return worker.stats.sessions[0]


@pytest.fixture(scope="module")
def hypertensive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    db = tmp_path_factory.mktemp("review") / "hypertensive.db"
    return db, record(db)


@dataclass
class Event:
    time: float
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    source: str = "nurse"


def make_table(rows: list[tuple[float, str, float | None, int]]) -> ReadingTable:
    """(time s, param, value, status code) rows as a ReadingTable."""
    rows = sorted(rows, key=lambda r: r[0])
    return ReadingTable(
        time_ms=np.array([round(t * 1000) for t, *_ in rows], dtype=np.int64),
        param=Coded.encode([p for _, p, _, _ in rows]),
        value=np.array([np.nan if v is None else v for _, _, v, _ in rows], dtype=np.float64),
        unit=Coded.encode(["" for _ in rows]),
        status=np.array([s for *_, s in rows], dtype=np.int8),
        source=Coded.encode(["test" for _ in rows]))


# -- the recorded hypertensive session ----------------------------------------------------

def test_peaks_minimum_and_their_times(hypertensive: tuple[Path, int]) -> None:
    db, session_id = hypertensive
    with Store(db) as store:
        summary = summarize(store, session_id)
    found = {p: (e.value, e.time - T0) for p, e in {**summary.peaks, **summary.minima}.items()}
    assert found == {
        "nibp_sys": (199.0, 40 * 60 + 35),   # 08:40:35, the 30-min cuff's result
        "nibp_dia": (113.0, 50 * 60 + 35),   # 08:50:35, the end-of-infusion cuff
        "hr": (86.0, 48 * 60 + 42),
        "pulse_rate": (87.0, 49 * 60 + 33),
        "spo2": (95.0, 10 * 60 + 28),
    }
    assert summary.min_spo2 is summary.minima["spo2"]
    assert summary.baseline["nibp_sys"] == 124.0 and summary.baseline["nibp_dia"] == 81.0


def test_alarm_counts_are_the_stored_alarms(hypertensive: tuple[Path, int]) -> None:
    db, session_id = hypertensive
    with Store(db) as store:
        summary = summarize(store, session_id)
        alarms = session_alarms(store, session_id)
    assert summary.alarm_count == len(alarms) == 6
    assert summary.alarms_by_priority == {"high": 2, "medium": 4, "low": 0}
    assert {p: n for p, n in summary.alarms_by_priority.items() if n} == Counter(
        a.priority for a in alarms)
    assert summary.alarms_by_rule == dict(Counter(a.rule for a in alarms))
    assert summary.alarms_by_rule["nibp_sys.rate"] == 2


def test_infusion_duration_and_the_dose_from_the_start_event(
        hypertensive: tuple[Path, int]) -> None:
    db, session_id = hypertensive
    with Store(db) as store:
        summary = summarize(store, session_id)
        start = next(e for e in store.events(session_id) if e.kind == "infusion_start")
    infusion, dose = summary.infusion, summary.dose
    assert (infusion.start, infusion.stop) == (INFUSION, INFUSION + 40 * 60)
    assert infusion.duration_s == 40 * 60 and infusion.pauses == ()
    # The simulator's nurse gives 0.5 mg/kg and the mg; the session has no weight.
    assert dose.mg == start.data["dose_mg"] == 52.7
    assert dose.mg_per_kg == 0.5
    assert dose.method == "dose_mg recorded with the infusion start"
    assert any("no weight" in note for note in dose.notes)


def test_time_beyond_limits_counts_nibp_measurements(hypertensive: tuple[Path, int]) -> None:
    db, session_id = hypertensive
    with Store(db) as store:
        summary = summarize(store, session_id)
    nibp = {(e.param, e.threshold): (e.beyond, e.readings) for e in summary.exposures
            if e.episodic}
    assert nibp[("nibp_sys", 160.0)] == (4, 12)
    assert nibp[("nibp_sys", 180.0)] == (2, 12)
    assert nibp[("nibp_sys", 155.0)] == (4, 12)    # baseline 124 +25%
    assert nibp[("nibp_dia", 110.0)] == (1, 12)
    hr = [e for e in summary.exposures if e.param == "hr"]
    assert {e.threshold for e in hr} == {40.0, 50.0, 120.0, 150.0}
    assert all(e.seconds == 0.0 and e.observed_s == pytest.approx(7799) for e in hr)


def test_discharge_criteria_met_when_the_bp_came_back(hypertensive: tuple[Path, int]) -> None:
    db, session_id = hypertensive
    with Store(db) as store:
        discharge = summarize(store, session_id).discharge
    # 30 min of observation ended at 09:20:00 with SYS still 166 (+34%); the
    # 09:20:35 NIBP (147/89) is within 20% of 124/81.
    assert discharge.met_at == INFUSION + 40 * 60 + 30 * 60 + 35
    assert discharge.logged_at == discharge.met_at    # the live rules agree
    assert [item.met for item in discharge.checklist] == [True, True, True]


def test_flowsheet_at_the_protocol_time_points(hypertensive: tuple[Path, int]) -> None:
    db, session_id = hypertensive
    with Store(db) as store:
        sheet = session_flowsheet(store, session_id)
    minutes = [None if r.phase == "pre" else r.offset_s / 60 for r in sheet.rows]
    assert minutes == [None, 0, 10, 20, 30, 40, 55, 70, 85, 100, 115]
    pre = sheet.rows[0]
    assert pre.label == "pre-infusion" and pre.time == INFUSION - 85   # the baseline NIBP
    nibp = [(r.cells["nibp_sys"].value, r.cells["nibp_dia"].value) for r in sheet.rows]
    assert nibp == [(124, 81), (126, 77), (133, 80), (178, 98), (199, 109), (198, 113),
                    (166, 100), (147, 89), (136, 83), (135, 78), (126, 81)]
    # Each cuff result carries its own time: 35 s after the scheduled start.
    assert [r.nibp_time - r.time for r in sheet.rows[1:]] == [35.0] * 10
    assert sheet.rows[5].label == "40 min · end" and sheet.rows[1].label == "0 min · start"
    for row in sheet.rows:
        assert row.cells["hr"].count == 61   # 1 Hz, ±30 s
        assert not row.cells["spo2"].missing


# -- hand-made tables ----------------------------------------------------------------------

def test_extremes_use_valid_plausible_readings_only() -> None:
    rows = [(float(t), "hr", 80.0, 0) for t in range(100)]
    rows += [(50.0, "hr", 180.0, 1),    # questionable
             (51.0, "hr", None, 2),     # invalid
             (52.0, "hr", 400.0, 0),    # valid but impossible: an artefact
             (60.5, "hr", 95.0, 0)]
    summary = summarize_session(make_table(rows), [], [], load_profile(), {}, start=0, end=100)
    assert (summary.peaks["hr"].value, summary.peaks["hr"].time) == (95.0, 60.5)
    assert summary.alarms_by_priority == {"high": 0, "medium": 0, "low": 0}


def test_time_beyond_holds_a_value_at_most_the_stale_time() -> None:
    hr = [(float(t), 100.0) for t in range(100)]
    hr += [(float(t), 130.0) for t in range(100, 160)]     # 60 readings above 120
    # ... then the device is silent for two minutes ...
    hr += [(float(t), 130.0) for t in range(280, 290)]
    hr += [(float(t), 100.0) for t in range(290, 300)]
    table = make_table([(t, "hr", v, 0) for t, v in hr] + [(200.0, "hr", 200.0, 1)])
    exposures = limit_exposures(table, load_profile(), {}, end=300.0, hold_s=10.0)
    above = next(e for e in exposures if e.param == "hr" and e.threshold == 120.0)
    # 100..158 one second each, 159 held for 10 s (not through the silence),
    # 280..289 one second each; the questionable 200 counts for nothing.
    assert above.seconds == 59 + 10 + 10
    assert above.observed_s == 159 + 10 + 19 + 1   # 0..158, 159 + 10 s, 280..298, 299 to the end
    assert next(e for e in exposures if e.threshold == 150.0 and e.param == "hr").seconds == 0


def test_dose_from_weight_rate_or_unknown() -> None:
    start, stop = 1000.0, 1000.0 + 50 * 60
    # mg/kg with a weight comes first; a dose_mg that disagrees is pointed out.
    events = [Event(start, "infusion_start", {"dose_mg_per_kg": 0.5, "dose_mg": 30}),
              Event(stop, "infusion_stop")]
    infusion = infusion_of(events, stop)
    dose = dose_of(events, infusion, 70.0)
    assert (dose.mg, dose.mg_per_kg) == (35.0, 0.5)
    assert dose.method.startswith("0.5 mg/kg") and "70 kg" in dose.method
    assert any("30.0 mg, not 35.0 mg" in note for note in dose.notes)

    # Rate × time, with a pause and a rate change: 30 mg/h for 20 min, paused
    # 10 min, 30 mg/h for 10 min, 60 mg/h for 10 min = 10 + 5 + 10 mg.
    events = [Event(start, "infusion_start", {"rate_mg_per_h": 30}),
              Event(start + 1200, "infusion_pause"), Event(start + 1800, "infusion_resume"),
              Event(start + 2400, "infusion_rate", {"rate_mg_per_h": "60"}),
              Event(stop, "infusion_stop")]
    infusion = infusion_of(events, stop)
    assert infusion.duration_s == 40 * 60 and infusion.pauses == ((2200.0, 2800.0),)
    dose = dose_of(events, infusion, None)
    assert dose.mg == pytest.approx(25.0) and dose.method.startswith("rate_mg_per_h")
    assert dose.mg_per_kg is None

    # Nothing to go on: unknown, not zero; a rate entered late does not reach back.
    events = [Event(start, "infusion_start", {"dose_mg_per_kg": "a lot"}),
              Event(start + 60, "infusion_rate", {"rate_mg_per_h": 30}),
              Event(stop, "infusion_stop")]
    dose = dose_of(events, infusion_of(events, stop), None)
    assert dose.mg is None and dose.method.startswith("unknown")

    # Never stopped: no duration, and it says so.
    running = infusion_of([Event(start, "infusion_start")], start + 600)
    assert running.duration_s is None and "running at the end" in running.notes[0]


def test_flowsheet_never_interpolates() -> None:
    start, infusion = 0.0, 600.0
    rows = [(float(t), "hr", 70.0 + (t > 1500) * 10, 0) for t in range(0, 3600)
            if not 1000 <= t < 1500]                  # the ECG lead off for 500 s
    for when, sys_ in ((500.0, 120.0), (635.0, 130.0), (1835.0, 150.0)):   # cuff results
        rows += [(when, "nibp_sys", sys_, 0), (when, "nibp_dia", sys_ - 50, 0)]
    rows.append((1235.0, "nibp_sys", None, 2))        # the 20-min cuff failed
    sheet = build_flowsheet(make_table(rows), start=start, end=3599.0,
                            infusion_start=infusion, infusion_stop=infusion + 2400,
                            settings=FlowsheetSettings())
    by_offset = {r.offset_s: r for r in sheet.rows if r.phase != "pre"}
    at_10, at_20 = by_offset[600.0], by_offset[1200.0]
    assert at_10.cells["hr"].missing            # 1200 s ± 30 s falls in the hole
    # The 10-min cuff failed: missing, not (130 + 150) / 2 nor the 0-min value.
    assert at_10.cells["nibp_sys"].missing and at_10.nibp_time is None
    assert (at_20.cells["nibp_sys"].value, at_20.nibp_time) == (150.0, 1835.0)
    assert at_20.cells["hr"].value == 80.0
    assert sheet.rows[0].cells["nibp_sys"].value == 120.0      # pre-infusion
    html = flowsheet_table(sheet, Times(None, start))
    row_10 = html.split("<tr")[4]                # before, header, pre, 0 min, 10 min
    assert "10 min" in row_10 and row_10.count("—") == 3   # HR, NIBP, NIBP time


def test_flowsheet_intervals_follow_the_profile() -> None:
    profile = profile_from_table(merge(load_profile().raw,
                                       {"schedule": {"nibp_during": 5, "nibp_after": 30}}))
    settings = FlowsheetSettings.from_profile(profile)
    rows = [(float(t), "spo2", 97.0, 0) for t in range(0, 7200, 5)]
    sheet = build_flowsheet(make_table(rows), start=0.0, end=7199.0, infusion_start=600.0,
                            infusion_stop=600.0 + 20 * 60, settings=settings)
    assert [r.offset_s / 60 for r in sheet.rows[1:]] == [0, 5, 10, 15, 20, 50, 80]
    assert sheet.params == ("spo2",)
    assert all(r.cells["spo2"].count == 13 for r in sheet.rows[1:])   # every 5 s, ±30 s

    no_infusion = build_flowsheet(make_table(rows), start=0.0, end=3600.0,
                                  infusion_start=None, infusion_stop=None, settings=settings)
    assert [r.time for r in no_infusion.rows] == [0.0, 1800.0, 3600.0]
    assert "no infusion start" in no_infusion.notes[0]
