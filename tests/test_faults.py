"""Faults a clinic meets, with real processes: a killed recorder, a full store,
a babbling device, a wrong device clock, a stepped system clock."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from devices.emulator import Emulator
from devices.protocols.datex import DatexHost, physiological_record
from devices.protocols.datex_codec import frame
from devices.registry import open_adapter
from devices.vocabulary import DeviceEvent, DeviceEventKind, Reading
from monitor.service import Recorder
from monitor.store import Store
from monitor.store.alarm_log import session_alarms
from monitor.store.health import StoreHealth, read_health, write_health
from monitor.web.screen import store_status
from tests.conftest import REPO, free_port, until, wait_for_port


def record(port: str, db: Path, chair: str = "1", env: dict[str, str] | None = None,
           ) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "monitor", "record", "--device",
                             f"masimo:{port}", "--db", str(db), "--chair", chair],
                            cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})


def count(db: Path, sql: str, *args: Any) -> Any:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_a_killed_recorder_resumes_its_session_and_records_the_gap(tmp_path: Path) -> None:
    db = tmp_path / "clinic.db"
    with Emulator("masimo", link=tmp_path / "tty") as emulator:
        first = record(emulator.port, db)
        until(lambda: count(db, "SELECT count(*) FROM readings") >= 6, what="readings")
        committed = count(db, "SELECT count(*) FROM readings")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed = time.time()
        time.sleep(3)
        second = record(emulator.port, db)
        try:
            until(lambda: count(db, "SELECT count(*) FROM events WHERE kind = "
                               "'recording_resumed'"), what="the resume event")
            until(lambda: count(db, "SELECT count(*) FROM readings") >= committed + 4,
                  what="new readings")
        finally:
            second.terminate()
            second.wait(15)
    store = Store(db)
    sessions = store.sessions()
    assert len(sessions) == 1, "the same session goes on; no second one"
    assert store.reading_count(sessions[0].id) >= committed + 4  # nothing committed was lost
    resumed = next(e for e in store.events(sessions[0].id) if e.kind == "recording_resumed")
    assert 3 <= resumed.data["gap_s"] <= time.time() - killed + 2
    assert sessions[0].ended_at is not None  # the second recorder ended it on its way out


def break_store(recorder: Recorder, how: str | None) -> None:
    """Make the writer's own connection fail as a full or read-only disk would (None: heal).

    Real SQLite errors (SQLITE_FULL from max_page_count, SQLITE_READONLY from
    query_only), so the writer's whole error path runs.
    """
    def apply(store: Store) -> None:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages if how == 'full' else 1073741823}")
        store.conn.execute(f"PRAGMA query_only = {int(how == 'read-only')}")
    recorder.writer.call(apply, transaction=False)


@pytest.mark.parametrize(("how", "error"), [("full", "full"), ("read-only", "read-only")])
def test_a_failing_store_holds_readings_then_writes_them_all(db_path: Path, how: str,
                                                             error: str) -> None:
    recorder = Recorder(db_path, commit_interval=0.2)
    worker = recorder.add_chair("F", open_adapter("sim:?seed=4&speed=30"))
    recorder.start()
    try:
        until(lambda: worker.stats.readings > 50, what="readings")
        break_store(recorder, how)
        health = until(lambda: (h := read_health(db_path)) and not h["ok"] and h["held"] > 100
                       and h, 20, "the store's failure to be published")
        assert error in health["error"]
        with Store(db_path, readonly=True) as reader:
            status = store_status(reader)
        assert status["ok"] is False and status["held"] > 0  # what every screen shows
        before = worker.stats.readings
        until(lambda: worker.stats.readings > before + 100, what="acquisition to go on")
        break_store(recorder, None)
        until(lambda: (read_health(db_path) or {}).get("ok"), 20, "the store to recover")
    finally:
        recorder.stop()
    session = worker.stats.sessions[0]
    with Store(db_path, readonly=True) as reader:
        # Every reading acquisition handed over, during the outage too, is in the store.
        assert reader.reading_count(session) == worker.stats.readings
        outage = [e for e in reader.events(session) if e.kind == "store_write_failed"]
        alarms = [a for a in session_alarms(reader, session) if a.rule == "store.write_failed"]
    assert outage and outage[0].data["held"] > 100 and outage[0].data["dropped"] == 0
    # The alarm log has the technical alarm with its true onset and end.
    assert len(alarms) == 1 and alarms[0].kind == "technical"
    assert alarms[0].end is not None and alarms[0].end > alarms[0].onset
    assert error in alarms[0].message


def test_held_readings_are_bounded_and_the_loss_counted(db_path: Path) -> None:
    recorder = Recorder(db_path, commit_interval=0.1)
    recorder.writer.max_held_readings = 300
    worker = recorder.add_chair("B", open_adapter("sim:?seed=5&speed=60"))
    recorder.start()
    try:
        until(lambda: worker.stats.readings > 20, what="readings")
        break_store(recorder, "full")
        health = until(lambda: (h := read_health(db_path)) and h.get("dropped", 0) > 0 and h,
                       30, "readings beyond the bound to be dropped")
        assert health["held"] <= 300
    finally:
        break_store(recorder, None)
        recorder.stop()


def test_a_babbling_device_does_not_disturb_the_other_chairs(tmp_path: Path) -> None:
    db = tmp_path / "clinic.db"
    emulators = [Emulator("masimo", seed=i, link=tmp_path / f"tty{i}").start() for i in range(3)]
    stop = threading.Event()

    def babble() -> None:  # 9600 baud of noise, the line's full rate, into chair 0's line
        while not stop.is_set():
            emulators[0].inject(os.urandom(96))
            stop.wait(0.1)

    babbler = threading.Thread(target=babble, daemon=True)
    babbler.start()
    recorder = Recorder(db)
    workers = [recorder.add_chair(str(i), open_adapter(f"masimo:{e.port}"))
               for i, e in enumerate(emulators)]
    recorder.start()

    def enough_seen() -> bool:
        statuses = [w.adapter.status() for w in workers]
        return (all(s["frames_ok"] >= 8 for s in statuses[1:])
                and sum(statuses[0]["rejected"].values()) > 10)

    try:
        until(enough_seen, 60, "eight lines from each quiet chair")
    finally:
        stop.set()
        recorder.stop()
        for emulator in emulators:
            emulator.stop()
    quiet = [w.adapter.status() for w in workers[1:]]
    noisy = workers[0].adapter.status()
    for status in quiet:  # a line a second each, untouched
        assert not status["rejected"]
    assert noisy["frames_ok"] >= 3  # its own good lines still come through between the noise


def test_a_device_clock_hours_off_does_not_move_the_readings() -> None:
    host = DatexHost("datex", {"interval": "5"})
    now = 1_795_700_000.0
    record_bytes = frame(physiological_record({"hr": 72.0, "spo2": 97.0}, int(now - 3 * 3600)))
    items = host.receive(record_bytes + frame(physiological_record(
        {"hr": 73.0, "spo2": 97.0}, int(now - 3 * 3600 + 5))), now)
    readings = [i for i in items if isinstance(i, Reading)]
    assert readings and {r.time for r in readings} == {now}  # receipt time, not 3 h ago
    clock_events = [i for i in items if isinstance(i, DeviceEvent)
                    and i.kind == DeviceEventKind.DEVICE_CLOCK]
    assert len(clock_events) == 1  # said once, not for every record


FAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))),
                Path("/usr/lib/faketime/libfaketime.so.1"))


@pytest.mark.skipif(not FAKETIME.exists() and not os.environ.get(
    "INFUSION_MONITOR_REQUIRE_BROWSER"), reason="Debian's faketime package is not installed")
def test_a_system_clock_step_does_not_make_data_stale(tmp_path: Path) -> None:
    """The wall clock of the recorder jumps an hour ahead mid-session (libfaketime,
    monotonic time left alone): staleness and reading times run on monotonic time."""
    assert FAKETIME.exists() and shutil.which("faketime")
    db = tmp_path / "clinic.db"
    offset_file = tmp_path / "faketime"
    offset_file.write_text("+0s")
    env = {"LD_PRELOAD": str(FAKETIME), "FAKETIME_TIMESTAMP_FILE": str(offset_file),
           "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    with Emulator("masimo", link=tmp_path / "tty") as emulator:
        recorder = record(emulator.port, db, env=env)
        try:
            until(lambda: count(db, "SELECT count(*) FROM readings") >= 6, what="readings")
            offset_file.write_text("+3600s")  # the system clock steps an hour forward
            before = count(db, "SELECT count(*) FROM readings")
            until(lambda: count(db, "SELECT count(*) FROM readings") >= before + 10,
                  what="readings after the step")
        finally:
            recorder.terminate()
            recorder.wait(15)
    store = Store(db)
    session = store.sessions()[0]
    table = store.readings_table(session.id)
    times = sorted(set(table.time_ms.tolist()))
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert max(steps) < 5_000, "reading times jumped with the wall clock"
    kinds = {e.kind for e in store.events(session.id)}
    assert not kinds & {"no_data", "device_disconnected"}
    assert not [a for a in store._execute("SELECT rule FROM alarms").fetchall()
                if a[0] == "device.no_data"]
    received = table.received_ms.tolist()
    assert max(received) - min(received) > 3_000_000  # the wall clock did step


@pytest.mark.browser
def test_open_screens_reconnect_when_the_dashboard_restarts(browser: Any,
                                                            tmp_path: Path) -> None:
    db = tmp_path / "clinic.db"
    port = free_port()
    server: subprocess.Popen[str] | None = None
    with Emulator("masimo", link=tmp_path / "tty") as emulator:
        recorder = record(emulator.port, db, chair="2")
        try:
            until(db.exists, 30, "the store")
            server = serve(db, port)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            value = page.locator('[data-testid="value-2-spo2"]')
            until(lambda: value.inner_text().isdigit(), 30, "an SpO2 value")
            banner = page.get_by_test_id("safety-banner")

            server.send_signal(signal.SIGKILL)  # the dashboard worker dies
            server.wait(10)
            until(lambda: "NO CONNECTION" in banner.inner_text(), 10, "the lost banner")
            assert "connection-lost" in (page.locator("body").get_attribute("class") or "")

            server = serve(db, port)  # restarted (by systemd, by hand)
            until(lambda: "NO CONNECTION" not in banner.inner_text(), 30,
                  "the page to reconnect by itself")
            age = page.locator('[data-testid="age-2-spo2"]')
            until(lambda: age.inner_text() in ("0 s", "1 s", "2 s"), 15, "fresh values")

            # What the recorder publishes when it cannot write reaches the same page.
            write_health(db, StoreHealth(failing_since=time.time(), error="database or disk "
                                         "is full", held=1234))
            until(lambda: "STORE NOT WRITING" in banner.inner_text(), 10, "the store banner")
            assert "1234 readings held" in banner.inner_text()
            page.close()
        finally:
            recorder.terminate()
            recorder.wait(15)
            if server is not None and server.poll() is None:
                server.terminate()
                server.wait(15)
            write_health(db, StoreHealth())


def serve(db: Path, port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--db", str(db),
                               "--port", str(port)], cwd=REPO, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, server)
    return server
