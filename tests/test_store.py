"""The SQLite store on real files: round trip, schema version, bad files, kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from devices.vocabulary import Reading, SourceKind, Status
from monitor.store import SCHEMA_VERSION, Store, StoreError, StoreWriter

T0 = 1_795_000_000.0  # 2026-11-18, a whole second


def _readings(n: int = 120) -> list[Reading]:
    rows = []
    for i in range(n):
        t = T0 + i
        rows.append(Reading(t, "hr", 70.0 + i % 5, "/min", Status.VALID, "sim"))
        if i % 10 == 3:
            rows.append(Reading(t, "spo2", None, "%", Status.INVALID, "sim"))
        else:
            rows.append(Reading(t, "spo2", 97.5, "%", Status.QUESTIONABLE if i % 10 == 4
                                else Status.VALID, "sim"))
    rows.append(Reading(T0 + 60.25, "nibp_sys", 131.0, "mmHg", Status.VALID, "sim"))
    rows.append(Reading(T0 + 61, "BIS", 42.0, "", Status.VALID, "datex"))  # unmapped, kept
    return rows


def test_round_trip_keeps_every_value_status_and_order(db_path: Path) -> None:
    store = Store(db_path)
    sid = store.create_session(chair="3", device="sim:?seed=1", source_kind=SourceKind.SIMULATED,
                               started_at=T0)
    readings = _readings()
    store.add_readings(sid, readings)
    table = store.readings_table(sid)

    expected = sorted(readings, key=lambda r: r.time)  # stable: arrival order within a time
    assert len(table) == len(expected)
    got = list(table.readings())
    for want, have in zip(expected, got, strict=True):
        assert (have.time, have.param, have.value, have.unit, have.status, have.source) == (
            want.time, want.param, want.value, want.unit, want.status, want.source)
    # None stays None (never 0), with its status.
    invalid = [r for r in got if r.status is Status.INVALID]
    assert invalid and all(r.value is None for r in invalid)

    # The bulk path stores the same thing.
    sid2 = store.create_session(chair="4", device="x", source_kind=SourceKind.IMPORT,
                                started_at=T0)
    store.add_table(sid2, table)
    again = store.readings_table(sid2)
    assert np.array_equal(again.time_ms, table.time_ms)
    assert np.array_equal(again.value, table.value, equal_nan=True)
    assert again.param.decoded() == table.param.decoded()
    assert again.status.tolist() == table.status.tolist()


def test_latest_values_and_json_document(db_path: Path) -> None:
    store = Store(db_path)
    sid = store.create_session(chair="1", device="sim:", source_kind=SourceKind.SIMULATED,
                               started_at=T0)
    store.add_readings(sid, _readings())
    store.add_event(sid, T0 + 5, "infusion_start", "sim", {"dose_mg_per_kg": 0.5})
    store.add_audit(sid, T0 + 6, "nurse1", "baseline_override", {"reason": "anxious"})
    store.set_baseline(sid, {"nibp_sys": 128.0})
    store.end_session(sid, T0 + 200)
    from monitor.export import session_document

    latest = store.latest_values(sid)
    assert latest["hr"].time == T0 + 119 and latest["hr"].value == 70.0 + 119 % 5
    assert latest["nibp_sys"].value == 131.0 and latest["BIS"].unit == ""

    doc = json.loads(json.dumps(session_document(store, sid)))
    assert doc["format"] == "infusion-monitor-session/1"
    assert doc["session"]["baseline"] == {"nibp_sys": 128.0}
    assert doc["session"]["started_at"].endswith("+00:00")
    assert doc["session"]["ended_at"] is not None
    assert len(doc["readings"]) == len(_readings())
    assert {"time", "param", "value", "unit", "status", "source"} == set(doc["readings"][0])
    assert any(r["value"] is None and r["status"] == "invalid" for r in doc["readings"])
    assert doc["events"][0]["kind"] == "infusion_start"
    assert doc["audit"][0]["user"] == "nurse1"
    assert doc["alarms"] == []


def test_new_database_is_wal_with_current_schema_version(db_path: Path) -> None:
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_older_schema_is_migrated_and_newer_refused(db_path: Path) -> None:
    # Version 0: an SQLite file with nothing in it yet (what an older program
    # would leave before its first migration).
    sqlite3.connect(db_path).execute("PRAGMA user_version = 0").connection.close()
    with Store(db_path) as store:
        assert store.sessions() == []
    newer = db_path.with_name("newer.db")
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this program"):
        Store(newer)


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    not_db = tmp_path / "notes.db"
    not_db.write_text("time,param\n" * 200)
    before = not_db.read_bytes()
    with pytest.raises(StoreError) as info:
        Store(not_db)
    assert "not an SQLite database" in str(info.value) and "\n" not in str(info.value)
    assert not_db.read_bytes() == before


def test_writer_commits_within_its_interval_and_others_see_it(db_path: Path) -> None:
    writer = StoreWriter(db_path, commit_interval=0.2)
    sid = writer.call(lambda s: s.create_session(chair="1", device="sim:", started_at=T0,
                                                 source_kind=SourceKind.SIMULATED))
    reader = Store(db_path, readonly=True)
    writer.add_readings(sid, _readings(10))
    deadline = time.monotonic() + 5
    while reader.reading_count(sid) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.reading_count(sid) == len(_readings(10))
    writer.close()


def test_kill_9_of_a_recorder_loses_at_most_the_last_second(db_path: Path) -> None:
    """A real recorder process, killed without warning mid-session."""
    recorder = subprocess.Popen(
        [sys.executable, "-m", "monitor", "record", "--device", "sim:?seed=5&speed=60",
         "--db", str(db_path), "--chair", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        seen_ids: list[int] = []
        # Read from this process while the recorder writes (WAL: no blocking).
        while time.monotonic() < deadline:
            if db_path.exists():
                try:
                    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
                    seen = conn.execute("SELECT coalesce(max(id), 0) FROM readings").fetchone()[0]
                    conn.close()
                except sqlite3.OperationalError:
                    seen = 0  # schema not created yet
                seen_ids.append(seen)
                if seen > 1000 and len(set(seen_ids)) >= 4:
                    break
            time.sleep(0.25)
        assert recorder.poll() is None, recorder.communicate()
        assert len(set(seen_ids)) >= 4, "readers saw no progress while the recorder wrote"
        killed_at = time.time()
        os.kill(recorder.pid, signal.SIGKILL)
        recorder.wait(10)
    finally:
        if recorder.poll() is None:
            recorder.kill()

    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    max_id, last_received = conn.execute("SELECT max(id), max(received) FROM readings").fetchone()
    assert max_id >= max(seen_ids), "a reading another process saw committed was lost"
    lost_s = killed_at - last_received / 1000
    assert lost_s <= 1.0, f"the last {lost_s:.2f} s before the kill were lost"
    # The session is still open: nobody ended it (resuming it is the hardening issue).
    assert conn.execute("SELECT ended_at FROM sessions").fetchone()[0] is None
