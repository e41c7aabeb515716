"""Running a protocol end to end over a real pseudo-terminal, for the protocol tests.

An :class:`~devices.emulator.Emulator` plays the device on a pty; a real
:class:`~monitor.service.Recorder` reads it through the protocol's adapter
into a real SQLite store. The test breaks the link on a schedule (garbage,
a pulled cable) and then looks at what was stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devices.emulator import Emulator
from devices.registry import open_adapter
from monitor.acquisition import Backoff, ChairWorker
from monitor.service import Recorder
from monitor.store import EventRecord, Store


@dataclass
class E2EResult:
    """What a run left in the store, plus the adapter's own counters."""

    store: Store
    session_id: int
    worker: ChairWorker
    link_stats: dict[str, object]

    def values(self, param: str) -> list[float | None]:
        table = self.store.readings_table(self.session_id)
        return [v for p, v in zip(table.param.decoded(), table.value.tolist(), strict=True)
                if p == param]

    def events(self, kind: str | None = None) -> list[EventRecord]:
        return [e for e in self.store.events(self.session_id) if kind is None or e.kind == kind]


@contextmanager
def emulated(protocol: str, tmp_path: Path, **kwargs: object) -> Iterator[Emulator]:
    """An emulator running in a thread, reachable at ``emulator.port`` (a symlink)."""
    emulator = Emulator(protocol, link=tmp_path / f"{protocol}-tty", **kwargs).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def record_through(spec: str, db_path: Path, seconds: float,
                   schedule: list[tuple[float, Callable[[], None]]] = (),  # type: ignore[assignment]
                   ) -> E2EResult:
    """Record `spec` for `seconds` wall seconds, running `schedule` actions
    (``(seconds from start, action)``) on the way; returns what was stored."""
    recorder = Recorder(db_path)
    adapter = open_adapter(spec)
    worker = recorder.add_chair("e2e", adapter)
    worker.backoff = Backoff(first=0.5, cap=2.0)  # reconnect quickly in tests
    recorder.start()
    start = time.monotonic()
    try:
        for at, action in sorted(schedule, key=lambda s: s[0]):
            time.sleep(max(0.0, start + at - time.monotonic()))
            action()
        time.sleep(max(0.0, start + seconds - time.monotonic()))
    finally:
        recorder.stop()
    return E2EResult(Store(db_path), worker.stats.sessions[0], worker,
                     getattr(adapter, "link_stats", {}))
