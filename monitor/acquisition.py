"""Acquisition: one worker per chair runs adapter -> rules -> store.

A chair's worker owns its adapter and its session. Whatever the adapter does
(raise, go silent, finish) the worker turns into device events and reconnect
attempts with backoff; it never lets an exception escape to other chairs.
All timing is on the adapter's clock (see :mod:`devices.clock`), so a 600x
simulator goes quiet, is noticed and is reconnected in session time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from devices.adapter import Adapter, RecordingFinished
from devices.vocabulary import DeviceEvent, DeviceEventKind, Item, Reading
from monitor.chair_commands import CommandDesk, SessionRequest
from monitor.resume import engine_for, take_up
from monitor.rules import AuditEntry, Output, Profile, RulesEngine, load_profile
from monitor.store import StoreWriter

log = logging.getLogger(__name__)

# Seconds between device-status updates in the store (wall time).
STATUS_EVERY_S = 5.0


class RulesHook(Protocol):
    """Where alarm rules plug in (the :class:`~monitor.rules.RulesEngine`).

    Called with every batch of items a chair receives and the chair's clock
    time (also with no items, so that time passes); returns the alarm
    changes, audit and log entries to store, in order.
    """

    def process(self, items: Sequence[Item], now: float) -> Sequence[Output]: ...




@dataclass
class Backoff:
    """Reconnect delays in source-clock seconds: first, doubling, capped."""

    first: float = 1.0
    cap: float = 30.0
    _next: float = field(default=0.0, init=False)

    def delay(self) -> float:
        self._next = self.first if self._next == 0 else min(self._next * 2, self.cap)
        return self._next

    def reset(self) -> None:
        self._next = 0.0


@dataclass
class ChairStats:
    """What a chair's worker has done, for the CLI's summary."""

    sessions: list[int] = field(default_factory=list)
    readings: int = 0
    events: int = 0
    reconnects: int = 0
    failures: int = 0


class ChairWorker(threading.Thread):
    """Runs one chair: reads its adapter, applies rules, hands data to the store.

    Parameters
    ----------
    chair : str
        Chair name, as shown on screen.
    adapter : Adapter
        Built but not yet opened; opened (and reopened) by the worker.
    writer : StoreWriter
    next_adapter : callable, optional
        Called when the adapter's recording finishes; a returned adapter
        starts a new session on the same chair (the demo's next patient).
        Without it the session ends and the worker stops.
    resume : bool
        Go on with the chair's session if a dead recorder left it open (see
        monitor/resume.py).
    profile : Profile, optional
        The alarm profile (default the shipped ketamine-adult).
    rules_factory : callable, optional
        Builds the rules hook for each new session (default: the rules
        engine with `profile`).
    silence_timeout : float
        Source-clock seconds without any item before a ``no_data`` event
        and reconnect attempts.
    read_timeout : float
        Source-clock seconds one read may wait.
    """

    def __init__(
        self, chair: str, adapter: Adapter, writer: StoreWriter, *,
        next_adapter: Callable[[], Adapter | None] | None = None,
        rules_factory: Callable[[], RulesHook] | None = None,
        silence_timeout: float = 10.0, read_timeout: float = 0.5,
        backoff: Backoff | None = None, profile: Profile | None = None,
        resume: bool = True,
    ) -> None:
        super().__init__(name=f"chair-{chair}", daemon=True)
        self.chair = chair
        self.adapter = adapter
        self.writer = writer
        self.next_adapter = next_adapter
        self.profile = profile or load_profile()
        self.resume = resume
        self.rules_factory = rules_factory or (lambda: RulesEngine(self.profile))
        # A protocol that sends every second knows its silence sooner.
        self.silence_timeout = getattr(adapter, "silence_timeout", None) or silence_timeout
        self.read_timeout = read_timeout
        self.backoff = backoff or Backoff()
        self.stats = ChairStats()
        self.session_id: int | None = None
        self._rules: RulesHook = self.rules_factory()
        self._store_failing = False
        self._next_status = 0.0
        self._stop_requested = threading.Event()
        self.finished = threading.Event()

    # -- control -------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to end its session and stop; returns at once."""
        self._stop_requested.set()
        interrupt = getattr(self.adapter.clock, "interrupt", None)
        if interrupt:
            interrupt()

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    def run(self) -> None:
        desk = CommandDesk(self.chair, self.writer)
        try:
            adapter: Adapter | None = self.adapter
            request: SessionRequest | None = None
            while adapter is not None and not self.stopping:
                self.adapter = adapter
                outcome = self._run_session(adapter, desk, request)
                if isinstance(outcome, SessionRequest):
                    # The next patient (or nobody) on the same device, which stays open.
                    request = outcome
                    continue
                request = None
                adapter = self.next_adapter() if outcome and self.next_adapter else None
        except Exception:  # a bug here must be loud, and must not touch other chairs
            log.exception("chair %s: acquisition stopped by an unexpected error", self.chair)
        finally:
            desk.close()
            self.finished.set()

    # -- one session -----------------------------------------------------------

    def _run_session(self, adapter: Adapter, desk: CommandDesk,
                     request: SessionRequest | None) -> bool | SessionRequest:
        """Record one session.

        Returns True when the source finished, False when stopped, or the
        operator's request to end this session (and perhaps start the next).
        """
        wall, now = adapter.clock.wall_anchor()
        if request is not None and request.profile is not None:
            self.profile = request.profile
            self.rules_factory = lambda: RulesEngine(self.profile)
        clock = (adapter.clock.speed, wall, now)
        resumed = None
        if request is None and self.resume:
            # A recorder that died left this chair's session open: go on with it.
            resumed = self.writer.call(lambda store: take_up(
                store, chair=self.chair, device=adapter.spec.text,
                source_kind=adapter.source_kind, now=now, clock=clock))
        if resumed is not None:
            session_id = resumed.session.id
            self._rules = self.writer.call(lambda store: engine_for(store, resumed,
                                                                    self.profile))
            log.warning("chair %s: resumed session %d after %.0f s without recording",
                        self.chair, session_id, resumed.gap_s)
        else:
            started = now if request is not None else min(now, adapter.session_start())
            session_id = self.writer.call(lambda store: store.create_session(
                chair=self.chair, device=adapter.spec.text, source_kind=adapter.source_kind,
                started_at=started, profile=self.profile.name, clock=clock,
                patient_ref=request.patient_ref if request else None,
                weight_kg=request.weight_kg if request else None))
            self._rules = self.rules_factory()
            self.writer.set_profile(session_id, self.profile.name, dict(self.profile.raw))
        self.session_id = session_id
        self._store_failing = False  # a new engine: it has not heard
        self.stats.sessions.append(session_id)
        if request is not None and request.new:
            self.writer.add_outputs(session_id, [AuditEntry(now, request.user, "new_session", {
                "weight_kg": request.weight_kg, "profile": self.profile.name})])
        log.info("chair %s: session %d from %s", self.chair, session_id, adapter.spec.text)
        link = _Link(self, adapter, session_id)
        finished: bool | SessionRequest = False
        try:
            while not self.stopping:
                if not adapter.is_open and not link.reconnect():
                    continue
                try:
                    items = adapter.read(self.read_timeout)
                except RecordingFinished:
                    finished = True
                    break
                except Exception as exc:  # any failure of the device or its code
                    link.lost(f"{type(exc).__name__}: {exc}")
                    continue
                now = adapter.now()
                if items:
                    link.heard(now)
                else:
                    link.quiet(now)
                self._deliver(session_id, items, now)
                self._report_status(session_id, adapter, now)
                asked = desk.poll(session_id, self._rules, now,
                                  lambda events, at=now: self._deliver(session_id, events, at))
                if asked is not None:
                    self.writer.add_outputs(session_id, [AuditEntry(now, asked.user,
                                                                    "end_session", {})])
                    finished = asked
                    break
        finally:
            self._report_status(session_id, adapter, adapter.now(), force=True)
            if not isinstance(finished, SessionRequest):
                adapter.close()
            end = adapter.now()
            self.writer.call(lambda store: store.end_session(session_id, end))
            log.info("chair %s: session %d ended", self.chair, session_id)
        return finished

    def _deliver(self, session_id: int, items: Sequence[Item], now: float) -> None:
        """Store what arrived and run it (and the passing of time) through the rules."""
        received = time.time()
        readings: list[Reading] = []
        for item in items:
            if isinstance(item, Reading):
                if item.received_at is None:
                    item.received_at = received
                readings.append(item)
            else:
                self.emit(session_id, item)
        self.writer.add_readings(session_id, readings)
        self.stats.readings += len(readings)
        self.writer.add_outputs(session_id, self._rules.process(items, now))
        failing = self.writer.health.failing_since is not None
        if failing != self._store_failing and hasattr(self._rules, "store_health"):
            self._store_failing = failing
            self.writer.add_outputs(session_id, self._rules.store_health(
                failing, now, self.writer.health.error))

    def _report_status(self, session_id: int, adapter: Adapter, now: float, *,
                       force: bool = False) -> None:
        """Keep the device's counters in the store for the dashboard, every few seconds."""
        if not force and now < self._next_status:
            return
        self._next_status = now + STATUS_EVERY_S * max(1.0, min(adapter.clock.speed, 1e6))
        status = {**adapter.status(), "reconnects": self.stats.reconnects,
                  "failures": self.stats.failures}
        self.writer.set_device_status(session_id, now, status)
        # Re-anchor the session's clock for other processes: if the system
        # clock steps, screens read the right "now" again within a few seconds
        # (our own clocks run on time.monotonic and never stepped).
        wall, clock_now = adapter.clock.wall_anchor()
        self.writer.set_clock(session_id, adapter.clock.speed, wall, clock_now)

    def emit(self, session_id: int, event: DeviceEvent) -> None:
        self.writer.add_event(session_id, event)
        self.stats.events += 1
        if event.kind in (DeviceEventKind.DISCONNECTED, DeviceEventKind.NO_DATA):
            log.warning("chair %s: %s %s", self.chair, event.kind, dict(event.data))


class _Link:
    """The state of one session's link to its device: up, lost, or silent."""

    def __init__(self, worker: ChairWorker, adapter: Adapter, session_id: int) -> None:
        self.worker = worker
        self.adapter = adapter
        self.session_id = session_id
        self.last_heard = adapter.now()
        self.silent_since: float | None = None
        self.down_reason: str | None = None
        self.next_attempt = adapter.now()
        self.first_open = True

    def _event(self, kind: DeviceEventKind, **data: object) -> None:
        # Through the rules too: a lost link is a technical alarm.
        now = self.adapter.now()
        self.worker._deliver(self.session_id,
                             [DeviceEvent(now, kind, self.adapter.name, data)], now)

    def reconnect(self) -> bool:
        """Try to open the adapter; True when it is open."""
        adapter, worker = self.adapter, self.worker
        try:
            adapter.open()
        except Exception as exc:
            worker.stats.failures += 1
            if self.down_reason is None:
                self.down_reason = f"{type(exc).__name__}: {exc}"
                self._event(DeviceEventKind.DISCONNECTED, reason=self.down_reason)
            delay = worker.backoff.delay()
            log.info("chair %s: cannot open %s (%s); next try in %.0f s",
                     worker.chair, adapter.spec.text, exc, delay)
            adapter.clock.sleep(delay)
            return False
        if not self.first_open:
            worker.stats.reconnects += 1
        # Reopening a silent link is routine; only a link that was down (or
        # never up) gets a "connected" event.
        if self.first_open or self.down_reason is not None:
            self._event(DeviceEventKind.CONNECTED, reconnect=not self.first_open)
        self.first_open = False
        self.down_reason = None
        self.last_heard = adapter.now()
        return True

    def lost(self, reason: str) -> None:
        """The adapter raised: record it, close, and wait before reopening."""
        self.worker.stats.failures += 1
        self._event(DeviceEventKind.DISCONNECTED, reason=reason)
        self.down_reason = reason
        self.adapter.close()
        self.adapter.clock.sleep(self.worker.backoff.delay())

    def heard(self, now: float) -> None:
        if self.silent_since is not None:
            self._event(DeviceEventKind.DATA_RESUMED, silent_s=round(now - self.silent_since, 3))
            self.silent_since = None
        self.last_heard = now
        self.worker.backoff.reset()

    def quiet(self, now: float) -> None:
        """Nothing arrived: after the silence timeout, say so and try reopening."""
        if self.silent_since is None:
            if now - self.last_heard >= self.worker.silence_timeout:
                self.silent_since = self.last_heard
                self._event(DeviceEventKind.NO_DATA, silent_s=round(now - self.last_heard, 3))
                self.next_attempt = now + self.worker.backoff.delay()
            return
        if now >= self.next_attempt:
            # A silent serial link often needs the port reopened (or, for some
            # protocols, a new association); try, with growing gaps.
            self.adapter.close()
            if self.reconnect():
                self.next_attempt = now + self.worker.backoff.delay()
