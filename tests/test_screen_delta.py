"""The overview's per-tick payload: only what changed since the browser's cursor."""

from __future__ import annotations

import json
from pathlib import Path

from devices.vocabulary import Reading, SourceKind, Status
from monitor.rules import AlarmChange, AlarmKind, AlarmState, Priority
from monitor.store import Store
from monitor.store.alarm_log import record_outputs
from monitor.web.screen import Cursor, overview_delta

T0 = 1_795_700_000.0


def _store(db_path: Path) -> tuple[Store, int, int]:
    store = Store(db_path)
    a = store.create_session(chair="1", device="sim:", source_kind=SourceKind.SIMULATED,
                             started_at=T0, clock=(1.0, T0, T0))
    b = store.create_session(chair="2", device="masimo:/dev/ttyUSB0",
                             source_kind=SourceKind.DEVICE, started_at=T0, clock=(1.0, T0, T0))
    for session in (a, b):
        store.add_readings(session, [Reading(T0 + 1, "hr", 70.0, "/min", Status.VALID, "x"),
                                     Reading(T0 + 1, "spo2", 97.0, "%", Status.VALID, "x")])
    return store, a, b


def test_first_tick_draws_everything_then_only_changes(db_path: Path) -> None:
    store, a, b = _store(db_path)
    first, cursor, redraw = overview_delta(store, Cursor(), wall_now=T0 + 2)
    assert redraw and set(first["chairs"]) == {"1", "2"}
    assert first["chairs"]["1"]["numerics"]["hr"] == ["70", T0 + 1, "valid"]
    assert first["chairs"]["1"]["source"] == "SIMULATED" and first["chairs"]["2"]["source"] == ""

    quiet, cursor, redraw = overview_delta(store, cursor, wall_now=T0 + 3)
    assert not redraw
    # Nothing happened: each chair's clock and state, nothing else.
    assert {k for chair in quiet["chairs"].values() for k in chair} == {"session", "status"}
    assert quiet["chairs"]["1"]["status"]["now"] == T0 + 3

    store.add_readings(a, [Reading(T0 + 3, "spo2", 95.0, "%", Status.VALID, "x")])
    record_outputs(store, b, [AlarmChange(1, "hr.high", "hr", AlarmKind.PHYSIOLOGICAL,
                                          Priority.MEDIUM, AlarmState.ACTIVE, "onset", T0 + 3,
                                          125.0, 120.0, "HR 125 above 120", None, T0 + 3)])
    changed, newer, _ = overview_delta(store, cursor, wall_now=T0 + 4)
    assert changed["chairs"]["1"]["numerics"] == {"spo2": ["95", T0 + 3, "valid"]}
    assert "numerics" not in changed["chairs"]["2"]
    assert [x["rule"] for x in changed["chairs"]["2"]["alarms"]] == ["hr.high"]
    assert changed["chairs"]["2"]["status"]["priority"] == "medium"
    assert changed["chairs"]["2"]["status"]["sound"] == "medium"

    # A lost response: the browser asks again from its old cursor and gets it all again.
    again, _, _ = overview_delta(store, cursor, wall_now=T0 + 4)
    assert again == changed
    # The payload of a quiet tick is small: a few hundred bytes for two chairs.
    assert len(json.dumps(overview_delta(store, newer, wall_now=T0 + 5)[0])) < 1200


def test_a_silent_chair_is_reported_and_a_new_session_redraws(db_path: Path) -> None:
    store, a, _ = _store(db_path)
    _, cursor, _ = overview_delta(store, Cursor(), wall_now=T0 + 2)
    silent, cursor, _ = overview_delta(store, cursor, wall_now=T0 + 30)
    assert silent["chairs"]["1"]["status"]["silent_s"] == 29.0
    store.end_session(a, T0 + 31)
    store.create_session(chair="1", device="sim:", source_kind=SourceKind.SIMULATED,
                         started_at=T0 + 32, clock=(1.0, T0 + 32, T0 + 32))
    _, _, redraw = overview_delta(store, cursor, wall_now=T0 + 33)
    assert redraw
