"""Fault behaviour in figures: what tests/test_faults.py asserts, measured.

For the RELIABILITY.md table. Each measurement starts real processes (or a
real in-process recorder) against emulated devices, breaks something the way
a clinic would, and prints one line per figure with its unit:

- ``--kill``: ``kill -9`` of ``python -m monitor record`` mid-session, restarted
  after a pause: committed readings lost, the ``recording_resumed`` gap against
  the wall time, seconds from restart to the first new reading (N repeats);
- ``--outage``: the store made full, then read-only (real SQLite errors) under
  12 real-time simulated chairs for T seconds, then healed: readings held,
  acquired vs stored, recovery time, memory per held reading, the bound;
- ``--babble``: one of three Masimo emulators fed random bytes at its line
  rate: the quiet chairs' frame rate before and during, the noisy chair's
  rejections, the recorder's CPU;
- ``--clock``: the recorder's system clock stepped +1 h under libfaketime
  (monotonic time left alone): reading times, received times, staleness events;
- ``--screen``: the dashboard server killed under an open overview in headless
  Chromium and restarted: time to the NO CONNECTION banner, time to clear it
  and to fresh values.

Run from the repository root with the project's virtualenv::

    python bench/bench_faults.py              # all, ~10 minutes
    python bench/bench_faults.py --quick      # all, shorter, < 3 minutes
    python bench/bench_faults.py --kill --repeats 10

Prints figures and notes anything unexpected (a lost reading, an alarm that
should not be there) on a line starting ``UNEXPECTED``; asserts nothing.
Figures depend on the machine's load: the load average is printed first.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devices.emulator import Emulator  # noqa: E402
from devices.registry import open_adapter  # noqa: E402
from monitor.service import Recorder  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.store.alarm_log import session_alarms  # noqa: E402
from monitor.store.health import health_path, read_health  # noqa: E402
from monitor.store.writer import MAX_HELD_READINGS  # noqa: E402
from tests.conftest import CHROMIUM, free_port, stop_process  # noqa: E402

FAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))),
                Path("/usr/lib/faketime/libfaketime.so.1"))
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]
MASIMO_BYTES_PER_S = 960  # 9600 baud, 8N1


# -- helpers ---------------------------------------------------------------------------------

def wait_until(check: Callable[[], Any], timeout: float, what: str,
               poll: float = 0.05) -> Any:
    """Poll `check` until it returns something true, and return that.

    Parameters
    ----------
    check : callable
        Returns a false value until the condition holds.
    timeout : float
        Seconds before giving up.
    what : str
        Said in the error on timeout.
    poll : float
        Seconds between calls (the resolution of any time measured with it).

    Raises
    ------
    TimeoutError
        `check` stayed false for `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of `sql` on a read-only connection of its own ([] if the store is not there yet).

    Parameters
    ----------
    db : Path
        The store.
    sql : str
        One SELECT statement; `args` are its parameters.
    """
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def reading_count(db: Path) -> int:
    """Readings in the store, all sessions."""
    rows = query(db, "SELECT count(*) FROM readings")
    return rows[0][0] if rows else 0


def record(port: str, db: Path, chair: str, log: Path,
           env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``python -m monitor record`` on a Masimo port, output to `log`.

    Parameters
    ----------
    port : str
        The emulator's port (its symlink).
    db : Path
        The store.
    chair : str
        The chair's name.
    log : Path
        Where the recorder's stdout and stderr go (appended).
    env : dict, optional
        Added to this process's environment.
    """
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "monitor", "record", "--device",
                                 f"masimo:{port}", "--db", str(db), "--chair", chair],
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})


def serve(db: Path, port: int) -> subprocess.Popen[bytes]:
    """Start ``python -m monitor serve`` on `port` (not waiting for it to listen)."""
    return subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--db", str(db),
                             "--port", str(port)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary folder; the store's health file (kept elsewhere) goes with it."""
    with tempfile.TemporaryDirectory(prefix=f"bench-faults-{prefix}-") as tmp:
        folder = Path(tmp)
        try:
            yield folder
        finally:
            for db in folder.glob("*.db"):
                health_path(db).unlink(missing_ok=True)


def rss_kb() -> int:
    """This process's resident set size, kB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def spread(values: list[float], unit: str = "s", digits: int = 1) -> str:
    """``min / median / max`` of `values`, formatted with `unit`."""
    if not values:
        return "n/a"
    return (f"min {min(values):.{digits}f} / median {statistics.median(values):.{digits}f} / "
            f"max {max(values):.{digits}f} {unit}")


def unexpected(message: str) -> None:
    """Print something that should not have happened, so that it is not missed."""
    print(f"  UNEXPECTED: {message}", flush=True)


# -- 1. kill -9 of the recorder ------------------------------------------------------------

@dataclass
class KillRun:
    """One kill -9 and restart of the recorder."""

    committed: int          # readings in the store once the killed process was gone
    lost: int               # of those, not in the store after the restart
    sessions: int           # sessions in the store at the end (1 expected)
    gap_s: float            # the recording_resumed event's gap_s
    wall_gap_s: float       # kill -> restart, wall
    last_to_kill_s: float   # last stored reading -> kill
    restart_to_resume_s: float  # restart -> the resume event's time
    first_new_s: float      # restart -> first new reading visible in the store


def kill_once(folder: Path, run_s: float, pause_s: float) -> KillRun:
    """Record, kill -9 after `run_s` s of readings, restart after `pause_s` s.

    Parameters
    ----------
    folder : Path
        A fresh folder for the store, the emulator's link and the logs.
    run_s : float
        Seconds of recording after the first readings before the kill.
    pause_s : float
        Seconds between the kill and the restart.
    """
    db = folder / "clinic.db"
    log = folder / "record.log"
    rows_sql = "SELECT id, channel_id, time, value, status, received FROM readings"
    first = second = None
    with Emulator("masimo", link=folder / "tty") as emulator:
        try:
            first = record(emulator.port, db, "1", log)
            wait_until(lambda: reading_count(db) >= 6, 60, "readings", poll=0.2)
            time.sleep(run_s)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            killed = time.time()
            before = set(query(db, rows_sql))  # what was committed when it died
            last_reading = max(r[2] for r in before) / 1000
            time.sleep(max(0.0, killed + pause_s - time.time()))
            restarted = time.time()
            second = record(emulator.port, db, "1", log)
            wait_until(lambda: reading_count(db) > len(before), 60, "a new reading")
            first_new = time.time() - restarted
            resumed = wait_until(lambda: query(
                db, "SELECT time, data FROM events WHERE kind = 'recording_resumed'"),
                60, "the resume event")
        finally:
            stop_process(first, 15)
            stop_process(second, 15)
    after = set(query(db, rows_sql))
    event_ms, data = resumed[-1]
    return KillRun(committed=len(before), lost=len(before - after),
                   sessions=len(query(db, "SELECT id FROM sessions")),
                   gap_s=float(json.loads(data)["gap_s"]), wall_gap_s=restarted - killed,
                   last_to_kill_s=killed - last_reading,
                   restart_to_resume_s=event_ms / 1000 - restarted, first_new_s=first_new)


def bench_kill(repeats: int, run_s: float, pause_s: float = 3.0) -> None:
    """kill -9 the recorder `repeats` times (fresh store each time) and print the figures."""
    print(f"1. kill -9 of `monitor record` (masimo emulator), repeats: {repeats}, "
          f"restart {pause_s:g} s after the kill:", flush=True)
    runs = []
    for i in range(repeats):
        with scratch("kill") as folder:
            run = kill_once(folder, run_s, pause_s)
        runs.append(run)
        print(f"  run {i + 1}: kill -9 resume: {run.lost} committed readings lost (of "
              f"{run.committed}); gap recorded {run.gap_s:.1f} s vs {run.wall_gap_s:.1f} s "
              f"kill->restart measured (last stored reading {run.last_to_kill_s:.1f} s before "
              f"the kill, resume event {run.restart_to_resume_s:.1f} s after the restart); "
              f"first new reading {run.first_new_s:.1f} s after restart", flush=True)
        if run.lost:
            unexpected(f"run {i + 1} lost {run.lost} committed readings")
        if run.sessions != 1:
            unexpected(f"run {i + 1} left {run.sessions} sessions, not 1")
    lost = sum(r.lost for r in runs)
    print(f"  kill -9 resume, committed readings lost: {lost} of "
          f"{sum(r.committed for r in runs)} over {repeats} runs")
    print(f"  kill -9 resume, gap_s recorded: {spread([r.gap_s for r in runs])}")
    print(f"  kill -9 resume, kill->restart wall: {spread([r.wall_gap_s for r in runs])}")
    print(f"  kill -9 resume, gap_s minus kill->restart wall: "
          f"{spread([r.gap_s - r.wall_gap_s for r in runs])} (last reading before the kill "
          f"{spread([r.last_to_kill_s for r in runs])}; restart to resume event "
          f"{spread([r.restart_to_resume_s for r in runs])})")
    print(f"  kill -9 resume, restart -> first new reading in the store: "
          f"{spread([r.first_new_s for r in runs])} (polled every 0.05 s)", flush=True)


# -- 2. store outage ------------------------------------------------------------------------

def break_store(recorder: Recorder, how: str | None) -> None:
    """Make the writer's connection fail as a full or read-only disk would; None heals.

    The technique of tests/test_faults.py: real SQLITE_FULL from ``max_page_count``
    at the current page count, real SQLITE_READONLY from ``query_only``.
    """
    def apply(store: Store) -> None:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages if how == 'full' else 1073741823}")
        store.conn.execute(f"PRAGMA query_only = {int(how == 'read-only')}")
    recorder.writer.call(apply, transaction=False)


def acquired(recorder: Recorder) -> int:
    """Readings the chair workers have handed to the writer so far."""
    return sum(w.stats.readings for w in recorder.workers)


@dataclass
class Outage:
    """What one store outage showed."""

    rate: float             # readings/s acquired by all chairs, healthy
    held: int               # readings held in memory at the heal
    bytes_per_held: float   # slope of RSS against readings held during the outage


def bench_outage(how: str, outage_s: float, warm_s: float, chairs: int = 12,
                 speed: float = 1.0) -> Outage:
    """Break the store for `outage_s` s under `chairs` simulated chairs; print the figures.

    Parameters
    ----------
    how : str
        "full" or "read-only".
    outage_s : float
        Seconds the store stays broken.
    warm_s : float
        Seconds of healthy recording first; the readings/s and the RSS growth
        of a healthy recorder (the control) are measured over it.
    chairs : int
        Simulated chairs (``sim:?seed=i&speed=SPEED``).
    speed : float
        Simulation speed: 1 is real time; more makes more readings to hold, so
        that the memory per held reading stands out of RSS noise.
    """
    label = f"store {how}" + ("" if speed == 1 else f" x{speed:g}")
    pace = "real time" if speed == 1 else f"{speed:g}x real time (for memory per reading)"
    print(f"2. store {how} for {outage_s:g} s, {chairs} chairs at {pace} "
          f"(commit every 0.5 s):", flush=True)
    with scratch("outage") as folder:
        db = folder / "clinic.db"
        recorder = Recorder(db, commit_interval=0.5)
        for i in range(chairs):
            recorder.add_chair(str(i + 1), open_adapter(f"sim:?seed={i}&speed={speed:g}"))
        recorder.start()
        healed = False
        try:
            wait_until(lambda: acquired(recorder) > 0, 30, "readings", poll=0.2)
            time.sleep(1.0)  # every chair under way
            n0, t0, rss0 = acquired(recorder), time.monotonic(), rss_kb()
            time.sleep(warm_s)
            rate = (acquired(recorder) - n0) / (time.monotonic() - t0)
            control_kb = rss_kb() - rss0

            break_store(recorder, how)
            broke, rss_broke = time.monotonic(), rss_kb()
            peak_published = 0
            samples: list[tuple[int, int]] = []  # (held, RSS kB) through the outage
            while time.monotonic() < broke + outage_s:
                health = read_health(db) or {}
                if not health.get("ok", True):
                    peak_published = max(peak_published, int(health.get("held", 0)))
                samples.append((recorder.writer.health.held, rss_kb()))
                time.sleep(0.25)
            held = recorder.writer.health.held  # at the last failed commit
            rss_growth = rss_kb() - rss_broke
            error = (read_health(db) or {}).get("error", "")
            dropped = recorder.writer.health.dropped

            break_store(recorder, None)
            heal = time.monotonic()
            healed = True
            wait_until(lambda: (read_health(db) or {}).get("ok"), 60, "health ok", poll=0.02)
            recovery = time.monotonic() - heal
        finally:
            if not healed:
                break_store(recorder, None)
            recorder.stop()
        sessions = [s for w in recorder.workers for s in w.stats.sessions]
        with Store(db, readonly=True) as reader:
            stored = sum(reader.reading_count(s) for s in sessions)
            outages = [e for s in sessions for e in reader.events(s)
                       if e.kind == "store_write_failed"]
            alarms = [a for s in sessions for a in session_alarms(reader, s)
                      if a.rule == "store.write_failed"]
    total = acquired(recorder)
    held = max([held, *(int(e.data.get("held", 0)) for e in outages)])
    per_held = rss_growth * 1024 / held if held else float("nan")
    slope = rss_slope(samples)
    print(f"  {label}: error published: {error!r}")
    print(f"  {label}: readings held at peak: {held:,} when written again "
          f"({held / outage_s:.0f} readings/s held; {peak_published:,} was the largest the "
          f"health file showed, rewritten every 5 s); dropped {dropped}")
    print(f"  {label}: readings acquired {total:,} vs stored {stored:,} after stop: "
          f"difference {total - stored}")
    print(f"  {label}: heal -> health ok: {recovery:.2f} s (polled every 0.02 s)")
    print(f"  {label}: RSS growth during the outage {rss_growth:,} kB for {held:,} held "
          f"readings = {per_held:.0f} bytes per held reading; slope of RSS against held "
          f"{slope:.0f} bytes per reading (healthy control: {control_kb:+,} kB over "
          f"{warm_s:g} s before the outage)")
    print(f"  {label}: store_write_failed events {len(outages)} (held in event: "
          f"{sorted({e.data.get('held') for e in outages})}, dropped: "
          f"{sorted({e.data.get('dropped') for e in outages})}); store.write_failed alarms "
          f"{len(alarms)}, all ended: {all(a.end is not None for a in alarms)}", flush=True)
    if total != stored:
        unexpected(f"{label}: {total - stored} readings acquired but not stored")
    if held == 0:
        unexpected(f"{label}: no readings were ever held (did the store fail?)")
    if len(alarms) != len(sessions) or any(a.end is None for a in alarms):
        unexpected(f"{label}: {len(alarms)} store.write_failed alarms for "
                   f"{len(sessions)} sessions, or one not ended")
    return Outage(rate / speed, held, slope)


def rss_slope(samples: list[tuple[int, int]]) -> float:
    """Bytes of RSS per held reading: least-squares slope of RSS against readings held.

    A slope over the whole outage rather than end minus start, so that a step
    in RSS (an allocator arena, SQLite's page cache) weighs less.
    """
    import numpy as np

    held = np.array([h for h, _ in samples], dtype=float)
    rss = np.array([r for _, r in samples], dtype=float) * 1024
    if len(samples) < 3 or np.ptp(held) == 0:
        return float("nan")
    return float(np.polyfit(held, rss, 1)[0])


def print_bound(real_time: Outage, scaled: Outage, chairs: int = 12) -> None:
    """The held-readings bound in hours at `chairs` real-time chairs, and in memory."""
    rate = real_time.rate
    hours = MAX_HELD_READINGS / rate / 3600 if rate else float("nan")
    print(f"  store bound: MAX_HELD_READINGS = {MAX_HELD_READINGS:,} readings = {hours:.1f} h "
          f"at {chairs} chairs x {rate / chairs:.2f} readings/s ({rate:.1f} readings/s "
          f"measured at real time)")
    megabytes = MAX_HELD_READINGS * scaled.bytes_per_held / 1e6
    print(f"  store bound: memory at the bound ~{megabytes:,.0f} MB at "
          f"{scaled.bytes_per_held:.0f} bytes per held reading (RSS slope, {scaled.held:,} held, "
          f"accelerated run); the real-time runs' {real_time.held:,} held readings are too few "
          f"for RSS to resolve ({real_time.bytes_per_held:.0f} bytes each)", flush=True)


# -- 3. babbling device ---------------------------------------------------------------------

def frames(workers: list[Any]) -> list[dict[str, Any]]:
    """Each worker's adapter status (frames_ok, rejected, ...)."""
    return [w.adapter.status() for w in workers]


def bench_babble(window_s: float) -> None:
    """Three Masimo chairs, one fed random bytes at its line rate; print the figures.

    Parameters
    ----------
    window_s : float
        Seconds of each window: quiet first, then babbling.
    """
    print(f"3. babbling device: 3 masimo emulators, chair 0 fed os.urandom at "
          f"{MASIMO_BYTES_PER_S} bytes/s; {window_s:g} s quiet, then {window_s:g} s babbling:",
          flush=True)
    stop = threading.Event()
    injected = [0]

    with scratch("babble") as folder:
        emulators: list[Emulator] = []
        recorder: Recorder | None = None
        babbler: threading.Thread | None = None
        try:
            emulators = [Emulator("masimo", seed=i, link=folder / f"tty{i}").start()
                         for i in range(3)]

            def babble() -> None:
                while not stop.is_set():
                    emulators[0].inject(os.urandom(MASIMO_BYTES_PER_S // 10))
                    injected[0] += MASIMO_BYTES_PER_S // 10
                    stop.wait(0.1)

            recorder = Recorder(folder / "clinic.db")
            workers = [recorder.add_chair(str(i), open_adapter(f"masimo:{e.port}"))
                       for i, e in enumerate(emulators)]
            recorder.start()
            wait_until(lambda: all(s["frames_ok"] >= 3 for s in frames(workers)), 60,
                       "every chair's first lines", poll=0.2)
            quiet0, cpu0, wall0 = frames(workers), time.process_time(), time.monotonic()
            time.sleep(window_s)
            quiet1, cpu1, wall1 = frames(workers), time.process_time(), time.monotonic()
            babbler = threading.Thread(target=babble, daemon=True)
            babbler.start()
            time.sleep(window_s)
            noisy1, cpu2, wall2 = frames(workers), time.process_time(), time.monotonic()
        finally:
            stop.set()
            if babbler is not None:
                babbler.join(5)
            if recorder is not None:
                recorder.stop()
            for emulator in emulators:
                emulator.stop()
    quiet_s, noisy_s = wall1 - wall0, wall2 - wall1
    for i in (1, 2):
        before = (quiet1[i]["frames_ok"] - quiet0[i]["frames_ok"]) / quiet_s
        during = (noisy1[i]["frames_ok"] - quiet1[i]["frames_ok"]) / noisy_s
        rejected = sum(Counter(noisy1[i]["rejected"]).values())
        print(f"  babble: quiet chair {i}: {before:.2f} frames_ok/s before vs {during:.2f} "
              f"frames_ok/s during; rejected {rejected}")
        if rejected:
            unexpected(f"quiet chair {i} rejected {noisy1[i]['rejected']}")
        if during < 0.9 * before:
            unexpected(f"quiet chair {i} slowed from {before:.2f} to {during:.2f} frames/s")
    reasons = Counter(noisy1[0]["rejected"]) - Counter(quiet1[0]["rejected"])
    noisy_ok = (noisy1[0]["frames_ok"] - quiet1[0]["frames_ok"]) / noisy_s
    before_ok = (quiet1[0]["frames_ok"] - quiet0[0]["frames_ok"]) / quiet_s
    print(f"  babble: noisy chair 0: {sum(reasons.values())} rejected during "
          f"({sum(reasons.values()) / noisy_s:.1f}/s; by reason: {dict(reasons)}); its own "
          f"frames_ok {before_ok:.2f}/s before vs {noisy_ok:.2f}/s during; "
          f"{injected[0]:,} bytes injected")
    print(f"  babble: recorder process CPU (recorder + 3 emulators, in-process): "
          f"{(cpu1 - cpu0) / quiet_s:.3f} CPU s per wall s quiet vs "
          f"{(cpu2 - cpu1) / noisy_s:.3f} during babbling", flush=True)


# -- 4. system clock step -------------------------------------------------------------------

def bench_clock(before_s: float, after_s: float, step_s: int = 3600) -> None:
    """Step the recorder's wall clock by `step_s` s under libfaketime; print the figures.

    Parameters
    ----------
    before_s, after_s : float
        Seconds of recording before and after the step (after the first readings).
    step_s : int
        The step, seconds forward.
    """
    print(f"4. system clock step +{step_s} s under libfaketime (monotonic clock left alone), "
          f"{before_s:g} s before and {after_s:g} s after:", flush=True)
    if not FAKETIME.exists():
        print(f"  clock step: SKIPPED, {FAKETIME} is missing (Debian package faketime)")
        return
    with scratch("clock") as folder:
        db = folder / "clinic.db"
        offset = folder / "faketime"
        offset.write_text("+0s")
        env = {"LD_PRELOAD": str(FAKETIME), "FAKETIME_TIMESTAMP_FILE": str(offset),
               "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        recorder = None
        with Emulator("masimo", link=folder / "tty") as emulator:
            try:
                recorder = record(emulator.port, db, "1", folder / "record.log", env=env)
                wait_until(lambda: reading_count(db) >= 6, 60, "readings", poll=0.2)
                time.sleep(before_s)
                offset.write_text(f"+{step_s}s")
                time.sleep(after_s)
            finally:
                stop_process(recorder, 15)
        rows = query(db, "SELECT time, received FROM readings ORDER BY id")
        kinds = Counter(k for (k,) in query(db, "SELECT kind FROM events"))
        rules = Counter(r for (r,) in query(db, "SELECT rule FROM alarms"))
    times = sorted({t for t, _ in rows})
    largest = max((b - a for a, b in itertools.pairwise(times)), default=0)
    received = [r for _, r in rows]
    jumps = [b - a for a, b in itertools.pairwise(received)]
    at = max(range(len(jumps)), key=jumps.__getitem__) if jumps else 0
    across = (min(t for t, _ in rows[at + 1:]) - max(t for t, _ in rows[:at + 1])
              if jumps else 0)
    stale = kinds["no_data"] + kinds["device_disconnected"]
    print(f"  clock step: {len(rows)} readings; reading time step across the clock step "
          f"{across:,} ms; largest step between consecutive distinct reading times "
          f"{largest:,} ms")
    print(f"  clock step: received_ms jump {max(jumps, default=0):,} ms "
          f"(step {step_s * 1000:,} ms + the gap between readings)")
    print(f"  clock step: no_data/device_disconnected events {stale}, device.no_data alarms "
          f"{rules['device.no_data']} (all events: {dict(kinds)}; all alarms: {dict(rules)})",
          flush=True)
    if stale or rules["device.no_data"]:
        unexpected("the clock step raised staleness events or alarms")
    if largest >= 5000:
        unexpected(f"reading times jumped {largest} ms")


# -- 5. screen reconnect --------------------------------------------------------------------

@dataclass
class Reconnect:
    """One kill and restart of the dashboard server under an open page."""

    kill_to_banner_s: float    # SIGKILL -> banner says NO CONNECTION
    start_to_port_s: float     # restart -> port accepting
    port_to_cleared_s: float   # port accepting -> banner no longer says NO CONNECTION
    port_to_fresh_s: float     # port accepting -> age-1-spo2 shows 0-2 s


def reconnect_once(page: Any, server: subprocess.Popen[bytes], db: Path,
                   port: int) -> tuple[Reconnect, subprocess.Popen[bytes]]:
    """SIGKILL `server`, restart it on `port`, time what `page` shows; return the new server."""
    banner = page.locator('[data-testid="safety-banner"]')
    age = page.locator('[data-testid="age-1-spo2"]')
    fresh = ("0 s", "1 s", "2 s")
    wait_until(lambda: age.inner_text() in fresh, 60, "fresh values before the kill")
    server.send_signal(signal.SIGKILL)
    server.wait(10)
    killed = time.monotonic()
    wait_until(lambda: "NO CONNECTION" in banner.inner_text(), 60, "the NO CONNECTION banner")
    lost = time.monotonic() - killed
    started = time.monotonic()
    server = serve(db, port)
    wait_until(lambda: port_open(port) or server.poll() is not None, 60, "the port", poll=0.02)
    if server.poll() is not None:
        raise RuntimeError(f"the restarted server exited with {server.returncode}")
    listening = time.monotonic()
    wait_until(lambda: "NO CONNECTION" not in banner.inner_text(), 60, "the banner to clear")
    cleared = time.monotonic() - listening
    wait_until(lambda: age.inner_text() in fresh, 60, "fresh values after the restart")
    return Reconnect(lost, listening - started, cleared, time.monotonic() - listening), server


def bench_screen(repeats: int) -> None:
    """Kill and restart the dashboard under an open overview `repeats` times; print figures."""
    from playwright.sync_api import sync_playwright

    print(f"5. screen reconnect: `monitor serve` SIGKILLed under an open overview in headless "
          f"Chromium and restarted on the same port, repeats: {repeats}:", flush=True)
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        print(f"  screen reconnect: SKIPPED, {CHROMIUM} is missing")
        return
    runs: list[Reconnect] = []
    with scratch("screen") as folder:
        db = folder / "clinic.db"
        port = free_port()
        recorder = server = None
        with Emulator("masimo", link=folder / "tty") as emulator:
            try:
                recorder = record(emulator.port, db, "1", folder / "record.log")
                wait_until(db.exists, 30, "the store", poll=0.1)
                server = serve(db, port)
                wait_until(lambda: port_open(port) or server.poll() is not None, 60, "the port")
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                    try:
                        page = browser.new_page()
                        page.goto(f"http://127.0.0.1:{port}/")
                        value = page.locator('[data-testid="value-1-spo2"]')
                        wait_until(lambda: value.inner_text().isdigit(), 60, "an SpO2 value")
                        for i in range(repeats):
                            run, server = reconnect_once(page, server, db, port)
                            runs.append(run)
                            print(f"  run {i + 1}: SIGKILL -> NO CONNECTION banner "
                                  f"{run.kill_to_banner_s:.1f} s; restart -> port "
                                  f"{run.start_to_port_s:.1f} s; port -> banner cleared "
                                  f"{run.port_to_cleared_s:.1f} s; port -> fresh values "
                                  f"(age 0-2 s) {run.port_to_fresh_s:.1f} s", flush=True)
                    finally:
                        browser.close()
            finally:
                stop_process(server, 15)
                stop_process(recorder, 15)
    print(f"  screen reconnect, SIGKILL -> NO CONNECTION banner: "
          f"{spread([r.kill_to_banner_s for r in runs])}")
    print(f"  screen reconnect, restart -> port accepting: "
          f"{spread([r.start_to_port_s for r in runs])}")
    print(f"  screen reconnect, port accepting -> banner cleared: "
          f"{spread([r.port_to_cleared_s for r in runs])}")
    print(f"  screen reconnect, port accepting -> age-1-spo2 0-2 s: "
          f"{spread([r.port_to_fresh_s for r in runs])} (polled every 0.05 s)", flush=True)


# -- main -----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, text in (("kill", "kill -9 of the recorder and its resume"),
                       ("outage", "a full, then read-only, store under 12 chairs"),
                       ("babble", "a babbling device beside two quiet ones"),
                       ("clock", "a system clock step under libfaketime"),
                       ("screen", "an open screen across a server restart")):
        parser.add_argument(f"--{name}", action="store_true", help=f"run only: {text}")
    parser.add_argument("--quick", action="store_true", help="shorter runs (< 3 minutes)")
    parser.add_argument("--repeats", type=int, help="kill -9 runs (default 5, quick 2)")
    parser.add_argument("--outage-seconds", type=float, help="store outage (default 60, "
                        "quick 15)")
    args = parser.parse_args()
    chosen = [n for n in ("kill", "outage", "babble", "clock", "screen") if getattr(args, n)]
    run = set(chosen or ["kill", "outage", "babble", "clock", "screen"])
    quick = args.quick
    # The in-process recorder's own warnings (store failing, writing again), marked as such.
    logging.basicConfig(level=logging.WARNING, format="    [recorder log] %(message)s")

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs){'; --quick' if quick else ''}", flush=True)
    start = time.monotonic()
    if "kill" in run:
        bench_kill(args.repeats or (2 if quick else 5), run_s=3.0 if quick else 8.0)
    if "outage" in run:
        outage_s = args.outage_seconds or (15.0 if quick else 60.0)
        warm_s = 8.0 if quick else 20.0
        real_time = [bench_outage(how, outage_s, warm_s) for how in ("full", "read-only")]
        scaled = bench_outage("full", outage_s / 2, warm_s / 2, speed=60)
        print_bound(real_time[0], scaled)
    if "babble" in run:
        bench_babble(10.0 if quick else 30.0)
    if "clock" in run:
        bench_clock(5.0 if quick else 10.0, 8.0 if quick else 20.0)
    if "screen" in run:
        bench_screen(1 if quick else 3)
    print(f"done in {time.monotonic() - start:.0f} s; load average at end: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
