"""What the live screens show, computed from a real store without a browser."""

from __future__ import annotations

from pathlib import Path

from devices.vocabulary import Reading, SourceKind, Status
from monitor.store import Store
from monitor.web import live

T0 = 1_795_000_000.0


def _session(store: Store, chair: str, kind: SourceKind = SourceKind.DEVICE) -> int:
    # A live session whose clock is the wall clock anchored at T0 + 100.
    return store.create_session(chair=chair, device="masimo:/dev/ttyUSB0", source_kind=kind,
                                started_at=T0, clock=(1.0, T0 + 100, T0 + 100))


def test_ages_are_shown_and_stale_values_are_not_shown_as_current(db_path: Path) -> None:
    store = Store(db_path)
    sid = _session(store, "2")
    store.add_readings(sid, [
        Reading(T0 + 95, "hr", 72.0, "/min", Status.VALID, "masimo"),
        Reading(T0 + 80, "spo2", 97.0, "%", Status.VALID, "masimo"),          # 20 s old
        Reading(T0 + 40, "nibp_sys", 128.0, "mmHg", Status.VALID, "masimo"),  # episodic
        Reading(T0 + 99, "resp_rate", None, "/min", Status.INVALID, "masimo"),
    ])
    view = live.chair_view(store, store.session(sid), wall_now=T0 + 100)
    by_param = {n.param: n for n in view.numerics}
    assert [n.param for n in view.numerics] == ["hr", "spo2", "nibp_sys", "resp_rate"]
    assert by_param["hr"].text == "72" and by_param["hr"].age_text == "5 s"
    assert by_param["spo2"].stale and by_param["spo2"].text == "---"
    # NIBP is a measurement taken now and then: an old one is shown with its age.
    assert not by_param["nibp_sys"].stale and by_param["nibp_sys"].text == "128"
    assert by_param["nibp_sys"].age_text == "60 s"
    # An invalid value is a dash with its status, never 0.
    assert by_param["resp_rate"].text == "---" and by_param["resp_rate"].status is Status.INVALID
    assert view.silent_s is None

    silent = live.chair_view(store, store.session(sid), wall_now=T0 + 125)
    assert silent.silent_s == 26.0  # the newest reading (resp_rate) is 26 s old


def test_speeded_up_session_ages_on_its_own_clock(db_path: Path) -> None:
    store = Store(db_path)
    # 600x: 1 wall second after the anchor is 600 session seconds.
    sid = store.create_session(chair="1", device="sim:?speed=600", started_at=T0,
                               source_kind=SourceKind.SIMULATED, clock=(600.0, T0, T0))
    store.add_readings(sid, [Reading(T0 + 598, "hr", 70.0, "/min", Status.VALID, "sim")])
    view = live.chair_view(store, store.session(sid), wall_now=T0 + 1)
    assert view.numerics[0].age_s == 2.0
    assert view.source_label == "SIMULATED"


def test_overview_lists_each_chairs_current_session_live_first(db_path: Path) -> None:
    store = Store(db_path)
    old = _session(store, "1")
    store.end_session(old, T0 + 50)
    current = _session(store, "1")
    ended = _session(store, "0")
    store.end_session(ended, T0 + 60)
    views = live.overview(store, wall_now=T0 + 100)
    assert [(v.chair, v.session.id) for v in views] == [("1", current), ("0", ended)]


def test_trend_increment_sends_only_new_points_and_breaks_lines_at_gaps(db_path: Path) -> None:
    store = Store(db_path)
    sid = _session(store, "1")
    store.add_readings(sid, [Reading(T0 + i, "hr", 70.0 + i, "/min", Status.VALID, "sim")
                             for i in range(5)])
    points, cursor = live.trend_increment(store, sid, live.TrendCursor())
    hr = live.TRACE_INDEX["hr"]
    assert points[hr][1] == [70.0, 71.0, 72.0, 73.0, 74.0]

    # Nothing new: nothing sent.
    again, same = live.trend_increment(store, sid, cursor)
    assert again == {} and same.last_id == cursor.last_id

    # A 60 s silence, a questionable spike and an invalid reading.
    store.add_readings(sid, [
        Reading(T0 + 65, "hr", 75.0, "/min", Status.VALID, "sim"),
        Reading(T0 + 66, "hr", 210.0, "/min", Status.QUESTIONABLE, "sim"),
        Reading(T0 + 67, "hr", None, "/min", Status.INVALID, "sim"),
        Reading(T0 + 68, "spo2", 97.0, "%", Status.VALID, "sim"),
    ])
    new, cursor2 = live.trend_increment(store, sid, live.TrendCursor.from_json(cursor.to_json()))
    assert new[hr][1] == [None, 75.0, None]          # break, value, invalid break; no spike
    assert new[live.TRACE_INDEX["spo2"]][1] == [97.0]
    assert cursor2.last_id == cursor.last_id + 4
