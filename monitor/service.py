"""Running the parts together: a recorder (store writer + chair workers) and the web server.

The CLI commands are thin wrappers around these.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from devices.adapter import Adapter
from monitor.acquisition import Backoff, ChairWorker
from monitor.config import AcquisitionSettings
from monitor.rules import Profile
from monitor.store import StoreWriter

log = logging.getLogger(__name__)


class Recorder:
    """A store writer and one worker per chair.

    Parameters
    ----------
    db_path : path-like
        The store; created if missing (the folder must exist).
    settings : AcquisitionSettings
    commit_interval : float
        Seconds between commits (at most what a ``kill -9`` loses).
    """

    def __init__(self, db_path: str | Path, settings: AcquisitionSettings | None = None,
                 commit_interval: float = 0.5) -> None:
        self.settings = settings or AcquisitionSettings()
        self.writer = StoreWriter(db_path, commit_interval=commit_interval)
        self.workers: list[ChairWorker] = []

    def add_chair(self, chair: str, adapter: Adapter, *,
                  next_adapter: Callable[[], Adapter | None] | None = None,
                  profile: Profile | None = None) -> ChairWorker:
        s = self.settings
        worker = ChairWorker(
            chair, adapter, self.writer, next_adapter=next_adapter, profile=profile,
            silence_timeout=s.silence_timeout,
            backoff=Backoff(first=s.reconnect_first, cap=s.reconnect_cap),
        )
        self.workers.append(worker)
        return worker

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def wait(self, duration: float | None = None, stop: threading.Event | None = None) -> None:
        """Block until every chair finished, `duration` wall seconds passed, or `stop` is set."""
        deadline = None if duration is None else time.monotonic() + duration
        stop = stop or threading.Event()
        while not stop.is_set() and not all(w.finished.is_set() for w in self.workers):
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            stop.wait(0.1 if remaining is None else min(0.1, remaining))

    def stop(self) -> None:
        """End every session, commit everything, close the store."""
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.join(timeout=10)
            if worker.is_alive():
                log.error("chair %s did not stop within 10 s", worker.chair)
        self.writer.close()


def start_server(app_server: object, host: str, port: int, threads: int = 8) -> threading.Thread:
    """Serve a WSGI app with waitress in a daemon thread; returns that thread.

    Raises
    ------
    OSError
        The address cannot be bound (port in use, bad host).
    """
    from waitress import create_server

    server = create_server(app_server, host=host, port=port, threads=threads,
                           ident="infusion-monitor")
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    return thread
