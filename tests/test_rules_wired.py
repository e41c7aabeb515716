"""The rules in the running program: acquisition stores alarms, export and the
screen show them, imports are evaluated, and the store migrates older schemas."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from devices.scenarios import SessionPlan
from devices.simulator import generate_session
from monitor.export import iso_time
from monitor.rules import AlarmChange, load_profile
from monitor.rules.replay import rerun
from monitor.store import SCHEMA_VERSION, Store
from monitor.store.schema import MIGRATIONS
from monitor.web import live
from tests.conftest import SAMPLE_DATA, cli

START = "2026-11-26T08:00:00Z"
T0 = 1_795_680_000.0


def test_a_recorded_session_stores_the_alarms_a_rerun_gives(db_path: Path) -> None:
    spec = f"sim:?scenario=hypertensive-response&seed=2&speed=max&start={START}"
    recorded = cli("record", "--device", spec, "--db", str(db_path))
    assert recorded.returncode == 0, recorded.stderr
    doc = json.loads(cli("export", "latest", "--db", str(db_path), "--format", "json").stdout)

    # The same session re-run through the same rules, one second at a time.
    _, outputs = rerun(generate_session("hypertensive-response", 2, T0), load_profile(),
                       start=T0, end=SessionPlan(T0).end - 1)
    onsets = [(c.rule, iso_time(c.onset)) for c in outputs
              if isinstance(c, AlarmChange) and c.transition == "onset"]
    assert [(a["rule"], a["onset"]) for a in doc["alarms"]] == onsets
    sbp = next(a for a in doc["alarms"] if a["rule"] == "nibp_sys.high")
    # Stored as it stands now: escalated to high (limit 180), latched, not yet reset.
    assert (sbp["priority"], sbp["limit"], sbp["state"], sbp["end"]) == (
        "high", 180.0, "latched", None)
    assert doc["session"]["profile"] == "ketamine-adult"
    # The baseline was captured at the infusion start and the rules logged it.
    assert set(doc["session"]["baseline"]) >= {"hr", "spo2", "nibp_sys", "nibp_dia"}
    assert "baseline_captured" in [e["kind"] for e in doc["events"]]


def test_an_imported_recording_is_evaluated_and_the_screen_lists_its_alarms(
        db_path: Path) -> None:
    imported = cli("import", str(SAMPLE_DATA / "hypertensive-response-session.csv"),
                   "--db", str(db_path))
    assert imported.returncode == 0, imported.stderr
    store = Store(db_path)
    session = store.session("latest")
    view = live.chair_view(store, session)
    assert view.alarm_priority == "high"
    assert view.alarms[0].rule == "nibp_sys.high" and view.alarms[0].state == "latched"


def test_a_version_1_store_with_data_migrates_to_the_current_schema(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO sessions (chair, device, source_kind, started_at, created_at) "
                 "VALUES ('1', 'sim:', 'simulated', 1000, 1000)")
    conn.execute("INSERT INTO channels (session_id, param, unit, source) "
                 "VALUES (1, 'hr', '/min', 'sim')")
    conn.execute("INSERT INTO readings (session_id, channel_id, time, value, status, received) "
                 "VALUES (1, 1, 1000, 72, 0, 1000)")
    conn.close()
    store = Store(db_path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.readings_table(1).value.tolist() == [72.0]
    assert store.conn.execute("SELECT count(*) FROM alarm_transitions").fetchone()[0] == 0
