"""The session list's filters and the what-if re-run of the rules."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

from monitor.rules import AlarmChange, load_profile
from monitor.store import Store
from monitor.web.review_page import rerun_table
from monitor.web.sessions_page import session_rows
from monitor.web.whatif import rerun_session
from tests.conftest import cli

START = "2026-11-26T08:00:00Z"


def _record(db: Path, scenario: str, seed: int, chair: str) -> None:
    result = cli("record", "--device",
                 f"sim:?scenario={scenario}&seed={seed}&speed=max&start={START}",
                 "--db", str(db), "--chair", chair)
    assert result.returncode == 0, result.stderr


def test_session_list_filters_and_figures(db_path: Path) -> None:
    _record(db_path, "hypertensive-response", 2, "A")
    _record(db_path, "desaturation", 3, "B")
    store = Store(db_path)
    rows = session_rows(store)
    assert [r.session.chair for r in rows] == ["B", "A"]  # newest first
    hypertensive = rows[1]
    assert hypertensive.peak_sbp is not None and hypertensive.peak_sbp >= 180
    assert hypertensive.alarms.get("high", 0) >= 1
    assert rows[0].min_spo2 is not None and rows[0].min_spo2 < 88
    assert [r.session.chair for r in session_rows(store, chair="A")] == ["A"]
    assert session_rows(store, start=date(2026, 11, 27)) == []
    assert len(session_rows(store, start=date(2026, 11, 26), end=date(2026, 11, 26))) == 2
    assert session_rows(store, patient="nobody") == []


def test_what_if_a_looser_profile_would_have_raised(db_path: Path, tmp_path: Path) -> None:
    _record(db_path, "hypertensive-response", 2, "A")
    store = Store(db_path)
    loose = tmp_path / "loose.toml"
    loose.write_text('name = "loose"\n[limits.nibp_sys]\nhigh = { medium = 200, high = 220 }\n'
                     "[baseline_limits.nibp_sys]\nhigh_percent = 80\n"
                     "[rate.nibp_sys]\nmax_change = 80\n")
    as_stored = {c.rule for c in rerun_session(store, 1, load_profile())
                 if isinstance(c, AlarmChange)}
    under_loose = {c.rule for c in rerun_session(store, 1, load_profile(loose))
                   if isinstance(c, AlarmChange)}
    assert "nibp_sys.high" in as_stored and "nibp_sys.high" not in under_loose
    # The stored alarms are untouched: a what-if writes nothing.
    assert store.conn.execute("SELECT count(*) FROM alarms WHERE rule = 'nibp_sys.high'"
                              ).fetchone()[0] == 1
    upload = "data:application/toml;base64," + base64.b64encode(loose.read_bytes()).decode()
    shown = str(rerun_table(store, 1, upload, "loose.toml"))
    assert "Under 'loose'" in shown and "nibp_sys.high'" not in shown
    broken = "data:;base64," + base64.b64encode(b"[limits.hr]\nlow = { medium = 130 }\n"
                                                b"high = { medium = 120 }\n").decode()
    assert "limits.hr.low" in str(rerun_table(store, 1, broken, "broken.toml"))
