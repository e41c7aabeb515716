"""One thread that owns the store's write connection and commits on a beat.

Chair workers hand it readings and events; it writes them in one transaction
per beat (every :attr:`StoreWriter.commit_interval` seconds, 0.5 s by default),
so a ``kill -9`` of the recorder loses at most the last beat, and twelve
chairs cost one commit a beat rather than one per reading.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from devices.vocabulary import DeviceEvent, Reading
from monitor.rules.alarms import Output
from monitor.store.alarm_log import record_outputs
from monitor.store.commands import finish
from monitor.store.health import StoreHealth, write_health
from monitor.store.schema import StoreError
from monitor.store.store import Store

log = logging.getLogger(__name__)

# Readings kept in memory while the store cannot be written (disk full,
# read-only): 11.6 hours of 12 simulated chairs (48 readings/s), about
# 400 MB at the ~200 bytes a held reading measured by bench/bench_faults.py.
MAX_HELD_READINGS = 2_000_000

T = TypeVar("T")

_STOP = object()


class StoreWriter:
    """Serialises every write to one store through one thread.

    Parameters
    ----------
    path : path-like
        The database; opened (created, migrated) in the constructor, so a bad
        path fails here, in the caller's thread, with a :class:`StoreError`.
    commit_interval : float
        Seconds between commits while there is something to commit.
    """

    def __init__(self, path: str | Path, commit_interval: float = 0.5,
                 max_held_readings: int = MAX_HELD_READINGS) -> None:
        self.commit_interval = commit_interval
        self.max_held_readings = max_held_readings
        self._store = Store(path)
        self.path = self._store.path
        self.health = StoreHealth()
        write_health(self.path, self.health)
        self._queue: queue.Queue[Any] = queue.Queue()
        self.committed_readings = 0
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    # -- what workers call -----------------------------------------------------

    def add_readings(self, session_id: int, readings: list[Reading]) -> None:
        if readings:
            self._queue.put(("readings", session_id, readings))

    def add_event(self, session_id: int, event: DeviceEvent) -> None:
        self._queue.put(("event", session_id, event))

    def add_outputs(self, session_id: int, outputs: Sequence[Output]) -> None:
        """Alarm changes, audit and log entries from the rules engine."""
        if outputs:
            self._queue.put(("outputs", session_id, list(outputs)))

    def set_device_status(self, session_id: int, time_s: float,
                          status: dict[str, object]) -> None:
        """The device's latest counters (kept one per session, replaced)."""
        self._queue.put(("status", session_id, (time_s, status)))

    def set_profile(self, session_id: int, name: str, table: dict[str, object]) -> None:
        """Record the alarm profile now in force for a session."""
        self._queue.put(("profile", session_id, (name, table)))

    def set_clock(self, session_id: int, speed: float, wall: float, session_now: float) -> None:
        """A fresh anchor of the session's clock (see SessionRecord.clock_now)."""
        self._queue.put(("clock", session_id, (speed, wall, session_now)))

    def finish_command(self, command_id: int, *, refused: str | None = None) -> None:
        """Mark an operator's command done (or refused, with the reason)."""
        self._queue.put(("command", command_id, refused))

    def call(self, fn: Callable[[Store], T], *, transaction: bool = True) -> T:
        """Run `fn(store)` in the writer thread, committed, and return its result.

        With ``transaction=False`` it runs outside one (a PRAGMA that must).
        """
        future: Future[T] = Future()
        self._queue.put(("call", fn, future, transaction))
        return future.result()

    def flush(self) -> None:
        """Return once everything handed over so far is committed."""
        self.call(lambda store: None)

    def close(self) -> None:
        """Commit what is pending and stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._store.close()

    # -- the thread --------------------------------------------------------------

    def _run(self) -> None:
        pending: list[Any] = []
        next_commit = time.monotonic() + self.commit_interval
        while True:
            timeout = max(0.0, next_commit - time.monotonic()) if pending else None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                left = self._commit(pending)
                if left:  # the store still fails: say what is lost, not nothing
                    lost = sum(len(p[2]) for p in left if p[0] == "readings")
                    log.error("stopping with the store still failing: %d readings and %d "
                              "other records could not be written", lost,
                              len(left) - sum(p[0] == "readings" for p in left))
                return
            if item is not None and item[0] == "call":
                # A call sees (and commits) everything queued before it.
                pending = self._commit(pending)
                self._run_call(*item[1:])
                continue
            if item is not None:
                pending.append(item)
            if pending and time.monotonic() >= next_commit:
                pending = self._commit(pending)
                next_commit = time.monotonic() + self.commit_interval

    def _commit(self, pending: list[Any]) -> list[Any]:
        """Write and commit `pending`; on failure keep it for the next beat."""
        if not pending:
            return []
        store = self._store
        # One insert per session per beat, however many small batches the
        # chairs handed over: each statement costs a GIL round trip.
        readings: dict[int, list[Reading]] = {}
        for kind, session_id, payload in pending:
            if kind == "readings":
                readings.setdefault(session_id, []).extend(payload)
        try:
            with store.transaction():
                if self.health.failing_since is not None:
                    self._record_outage(store, readings)
                for session_id, batch in readings.items():
                    store.add_readings(session_id, batch)
                for kind, session_id, payload in pending:
                    if kind == "event":
                        store.add_event(session_id, payload.time, payload.kind,
                                        payload.source, payload.data)
                    elif kind == "outputs":
                        record_outputs(store, session_id, payload)
                    elif kind == "status":
                        store.set_device_status(session_id, *payload)
                    elif kind == "command":
                        finish(store, session_id, refused=payload)
                    elif kind == "profile":
                        store.set_profile(session_id, *payload)
                    elif kind == "clock":
                        store.set_clock(session_id, *payload)
        except (StoreError, sqlite3.Error) as exc:
            # Keep the data and try again next beat (the disk may come back),
            # up to a bound; say so where every screen can see it.
            return self._hold(pending, exc)
        self.committed_readings += sum(len(p[2]) for p in pending if p[0] == "readings")
        if self.health.failing_since is not None:
            log.warning("store writing again; %d readings held were written",
                        self.health.held)
            self.health = StoreHealth()
            write_health(self.path, self.health)
        return []

    def _hold(self, pending: list[Any], exc: BaseException) -> list[Any]:
        health = self.health
        now = time.time()
        if health.failing_since is None:
            health.failing_since = now
            log.error("store write failed; holding readings in memory: %s", exc)
        health.error = str(exc)
        held = sum(len(p[2]) for p in pending if p[0] == "readings")
        # Beyond the bound the oldest readings go, counted, so the newest stay.
        while held > self.max_held_readings:
            index = next(i for i, p in enumerate(pending) if p[0] == "readings")
            dropped = pending.pop(index)
            held -= len(dropped[2])
            health.dropped += len(dropped[2])
        health.held = held
        if now >= health.next_report:
            health.next_report = now + 5.0
            write_health(self.path, health)
            if health.dropped:
                log.error("store still failing: %d readings held, %d dropped", held,
                          health.dropped)
        return pending

    def _record_outage(self, store: Store, readings: dict[int, list[Reading]]) -> None:
        """Once writing again: each affected session gets an event saying what happened."""
        health = self.health
        for session_id in readings:
            store.add_event(session_id, time.time(), "store_write_failed", "recorder", {
                "since": health.failing_since, "until": time.time(), "error": health.error,
                "held": health.held, "dropped": health.dropped})

    def _run_call(self, fn: Callable[[Store], Any], future: Future[Any],
                  transaction: bool) -> None:
        try:
            if transaction:
                with self._store.transaction():
                    result = fn(self._store)
            else:
                result = fn(self._store)
        except BaseException as exc:  # handed to the caller, who decides
            future.set_exception(exc)
        else:
            future.set_result(result)
