"""One thread that owns the store's write connection and commits on a beat.

Chair workers hand it readings and events; it writes them in one transaction
per beat (every :attr:`StoreWriter.commit_interval` seconds, 0.5 s by default),
so a ``kill -9`` of the recorder loses at most the last beat, and twelve
chairs cost one commit a beat rather than one per reading.
"""

from __future__ import annotations

import logging
import queue
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
from monitor.store.schema import StoreError
from monitor.store.store import Store

log = logging.getLogger(__name__)

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

    def __init__(self, path: str | Path, commit_interval: float = 0.5) -> None:
        self.commit_interval = commit_interval
        self._store = Store(path)
        self.path = self._store.path
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

    def finish_command(self, command_id: int, *, refused: str | None = None) -> None:
        """Mark an operator's command done (or refused, with the reason)."""
        self._queue.put(("command", command_id, refused))

    def call(self, fn: Callable[[Store], T]) -> T:
        """Run `fn(store)` in the writer thread, committed, and return its result."""
        future: Future[T] = Future()
        self._queue.put(("call", fn, future))
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
                self._commit(pending)
                return
            if item is not None and item[0] == "call":
                # A call sees (and commits) everything queued before it.
                pending = self._commit(pending)
                self._run_call(item[1], item[2])
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
        except StoreError as exc:
            # Keep the data and try again next beat (the disk may come back);
            # the hardening issue bounds this and raises a technical alarm.
            log.error("store write failed, %d batches held in memory: %s", len(pending), exc)
            return pending
        self.committed_readings += sum(len(p[2]) for p in pending if p[0] == "readings")
        return []

    def _run_call(self, fn: Callable[[Store], Any], future: Future[Any]) -> None:
        try:
            with self._store.transaction():
                result = fn(self._store)
        except BaseException as exc:  # handed to the caller, who decides
            future.set_exception(exc)
        else:
            future.set_result(result)
