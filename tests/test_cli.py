"""The command line, run as real processes against real files."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from devices.csv_format import write_long_csv
from devices.simulator import generate_session
from devices.table import ReadingTable
from devices.vocabulary import Reading
from tests.conftest import SAMPLE_DATA, cli

COMMANDS = ["demo", "run", "record", "serve", "import", "export", "sessions"]


def test_every_command_has_help_and_the_console_script_works() -> None:
    script = Path(sys.executable).with_name("infusion-monitor")
    top = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0
    for command in COMMANDS:
        assert command in top.stdout
        result = cli(command, "--help")
        assert result.returncode == 0, result.stderr
        assert f"Usage: python -m monitor {command}" in result.stdout


def test_record_a_simulated_session_then_list_and_export_it(db_path: Path, tmp_path: Path) -> None:
    # 600x for 3 wall seconds: about 30 minutes of session.
    rec = cli("record", "--device", "sim:?scenario=typical&seed=2&speed=600", "--db", str(db_path),
              "--chair", "5", "--duration", "3")
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.startswith("session 1 (chair 5):")

    listing = cli("sessions", "--db", str(db_path))
    assert listing.returncode == 0
    row = listing.stdout.splitlines()[1].split()
    assert row[:3] == ["1", "5", "simulated"]
    minutes = float(row[5])
    assert 20 <= minutes <= 45, listing.stdout

    exported = cli("export", "latest", "--db", str(db_path), "--format", "json")
    assert exported.returncode == 0, exported.stderr
    doc = json.loads(exported.stdout)
    params = {r["param"] for r in doc["readings"]}
    assert {"hr", "pulse_rate", "spo2", "resp_rate", "nibp_sys"} <= params
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds[0] == "device_connected" and "infusion_start" in kinds
    assert doc["session"]["ended_at"] is not None

    report = cli("export", "1", "--db", str(db_path), "--format", "html")
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("<!DOCTYPE html>") and "SIMULATED" in report.stdout

    out = tmp_path / "s.csv"
    as_csv = cli("export", "1", "--db", str(db_path), "--format", "csv", "-o", str(out))
    assert as_csv.returncode == 0, as_csv.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "time,param,value,unit,status,source"
    assert len(lines) == len(doc["readings"]) + 1


def _canonical_file(path: Path) -> Path:
    items = generate_session("desaturation", seed=4, start=1_795_000_000.0, post_min=5)
    table = ReadingTable.from_readings(i for i in items if isinstance(i, Reading))
    with open(path, "w", encoding="utf-8", newline="") as out:
        write_long_csv(table, out)
    return path


SAMPLE_FILES = sorted(p.name for p in SAMPLE_DATA.glob("*.csv"))


@pytest.mark.parametrize("source", ["generated", *SAMPLE_FILES])
def test_export_of_an_imported_csv_reproduces_it_byte_for_byte(
        source: str, db_path: Path, tmp_path: Path) -> None:
    original = (_canonical_file(tmp_path / "generated.csv") if source == "generated"
                else SAMPLE_DATA / source)
    imported = cli("import", str(original), "--db", str(db_path))
    assert imported.returncode == 0, imported.stderr
    assert "0 rows rejected" in imported.stdout
    session = imported.stdout.split()[1].rstrip(":")
    copy = tmp_path / "copy.csv"
    exported = cli("export", session, "--db", str(db_path), "--format", "csv", "-o", str(copy))
    assert exported.returncode == 0, exported.stderr
    assert copy.read_bytes() == original.read_bytes()


def test_bad_rows_are_reported_by_line_and_the_rest_is_kept(db_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "time,param,value,unit,status,source\n"
        "2026-11-26T14:03:05.000+00:00,hr,72,/min,valid,sim\n"
        "2026-11-26T14:03:06.000+00:00,hr,abc,/min,valid,sim\n"       # line 3: not a number
        "yesterday,hr,72,/min,valid,sim\n"                            # line 4: bad time
        "2026-11-26T14:03:07.000+00:00,hr,73,/min,valid,sim\n"
        "2026-11-26T14:03:01.000+00:00,hr,70,/min,valid,sim\n"        # line 6: goes back
        "2026-11-26T14:03:08.000+00:00,spo2,,%,invalid,sim\n")
    result = cli("import", str(bad), "--db", str(db_path))
    assert result.returncode == 2
    assert "session 1: 3 readings kept, 3 rows rejected" in result.stdout
    reported = [line for line in result.stderr.splitlines() if line.startswith(f"{bad}:")]
    assert [line.split(":")[1] for line in reported] == ["3", "4", "6"]
    doc = json.loads(cli("export", "1", "--db", str(db_path), "--format", "json").stdout)
    assert [r["value"] for r in doc["readings"]] == [72, 73, None]
    assert sorted(e["data"]["line"] for e in doc["events"] if e["kind"] == "bad_row") == [3, 4, 6]


def _one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_files_get_one_clear_line_and_exit_2(db_path: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    _one_line_error(cli("import", str(missing), "--db", str(db_path)), "nope.csv")
    assert not db_path.exists(), "a failed import must not create a database"
    _one_line_error(cli("import", str(tmp_path), "--db", str(db_path)), "directory")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _one_line_error(cli("import", str(empty), "--db", str(db_path)), "empty.csv", "empty")
    no_time = tmp_path / "no_time.csv"
    no_time.write_text("heart,sat\n72,98\n")
    _one_line_error(cli("import", str(no_time), "--db", str(db_path)), "no_time.csv", "time")
    _one_line_error(cli("record", "--device", "sim:?scenario=nosuch", "--db", str(db_path)),
                    "nosuch")
    _one_line_error(cli("record", "--device", "nonsense", "--db", str(db_path)), "protocol")
    _one_line_error(cli("export", "1", "--db", str(tmp_path / "none.db"), "--format", "csv"),
                    "none.db")


def test_a_database_that_is_not_sqlite_or_is_locked_is_left_intact(
        db_path: Path, tmp_path: Path) -> None:
    good = _canonical_file(tmp_path / "good.csv")
    not_db = tmp_path / "notes.db"
    not_db.write_bytes(b"these are my notes, not a database\n" * 100)
    before = not_db.read_bytes()
    _one_line_error(cli("import", str(good), "--db", str(not_db)), "notes.db", "not an SQLite")
    assert not_db.read_bytes() == before

    assert cli("import", str(good), "--db", str(db_path)).returncode == 0
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        _one_line_error(cli("import", str(good), "--db", str(db_path)), "locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    listing = cli("sessions", "--db", str(db_path))
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == 2  # header + 1


def test_replay_imports_then_serves_the_review(tmp_path: Path) -> None:
    import urllib.request

    from tests.conftest import free_port, wait_for_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "replay", str(SAMPLE_DATA / "typical-session.csv"),
         "--db", str(tmp_path / "replay.db"), "--port", str(port), "--speed", "30"],
        cwd=SAMPLE_DATA.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, process)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/review/1").status == 200
        report = urllib.request.urlopen(f"http://127.0.0.1:{port}/export/1.html").read()
        assert b"IMPORTED" in report.upper()
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=20)
    assert out.startswith("session 1: 24030 readings")
    assert "/review/1?speed=30" in out
