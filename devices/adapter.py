"""What every source of readings looks like to acquisition.

An adapter is opened, read from until it fails or finishes, and closed; it can
be opened again after a failure. It never sleeps on the wall clock directly:
time passes through its :class:`~devices.clock.Clock`, so the same acquisition
loop runs a real device, a 600x simulator and a never-sleeping test.
"""

from __future__ import annotations

import abc
import math
from collections import Counter
from dataclasses import dataclass, field

from devices.clock import Clock
from devices.spec import DeviceSpec
from devices.vocabulary import DeviceEvent, DeviceEventKind, Item, Reading, SourceKind


class DeviceError(Exception):
    """The device or its link failed; the message says how, for the event log."""


class RecordingFinished(Exception):
    """A finite source (a recording, a scripted session) has nothing more to give."""


@dataclass
class AdapterStats:
    """Counters a screen or the CLI can show for one device.

    Attributes
    ----------
    readings : int
        Readings handed to acquisition.
    events : int
        Device events handed to acquisition.
    rejected : Counter
        Input thrown away by the adapter, counted by reason (bad frame,
        bad row, ...). Each one was also reported as a DeviceEvent.
    opens : int
        Successful opens; more than one means reconnects.
    last_reading_at : float or None
        Source-clock time of the newest reading (s since epoch).
    """

    readings: int = 0
    events: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    opens: int = 0
    last_reading_at: float | None = None

    def count(self, items: list[Item]) -> None:
        for item in items:
            if isinstance(item, Reading):
                self.readings += 1
                self.last_reading_at = item.time
            else:
                self.events += 1


class Adapter(abc.ABC):
    """Base of every adapter.

    Subclasses set :attr:`protocol`, :attr:`source_kind` and :attr:`clock`,
    and implement :meth:`_open`, :meth:`_close` and :meth:`_read`.
    """

    protocol: str = ""
    source_kind: SourceKind = SourceKind.DEVICE
    clock: Clock

    def __init__(self, spec: DeviceSpec) -> None:
        self.spec = spec
        self.stats = AdapterStats()
        self.is_open = False

    @property
    def name(self) -> str:
        """Source name written into readings and the session record."""
        return self.protocol

    def now(self) -> float:
        """Current time on this source's clock (s since epoch, UTC)."""
        return self.clock.now()

    def session_start(self) -> float:
        """When the session this source records began (source clock, s since
        epoch). Now, for a device; a simulator opened part way into its
        session says when that session started."""
        return self.now()

    def status(self) -> dict[str, object]:
        """Counters for the screen and the CLI (JSON-ready)."""
        s = self.stats
        return {"protocol": self.protocol, "device": self.describe(), "open": self.is_open,
                "readings": s.readings, "events": s.events, "rejected": dict(s.rejected),
                "opens": s.opens, "last_reading_at": s.last_reading_at}

    def describe(self) -> str:
        """A short human description of the source."""
        return self.spec.text

    def open(self) -> None:
        """Connect; raises :class:`DeviceError` when the device cannot be reached."""
        self._open()
        self.is_open = True
        self.stats.opens += 1

    def close(self) -> None:
        """Disconnect; safe to call twice and after a failure."""
        self.is_open = False
        self._close()

    def read(self, timeout: float) -> list[Item]:
        """Items received within `timeout` seconds of source-clock time.

        Returns an empty list when nothing arrived. Raises
        :class:`DeviceError` when the link fails and :class:`RecordingFinished`
        when a finite source is done.
        """
        if not self.is_open:
            raise DeviceError(f"{self.name} is not open")
        items = self._read(timeout)
        self.stats.count(items)
        return items

    def reject(self, kind: str, reason: str, time: float, **data: object) -> DeviceEvent:
        """Count one piece of rejected input under `kind` (a short category,
        "bad checksum", "not a number") and describe it, with the detailed
        `reason`, as an event."""
        self.stats.rejected[kind] += 1
        event = DeviceEventKind.BAD_ROW if "line" in data else DeviceEventKind.BAD_FRAME
        return DeviceEvent(time, event, self.name, {"kind": kind, "reason": reason, **data})

    @abc.abstractmethod
    def _open(self) -> None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    @abc.abstractmethod
    def _read(self, timeout: float) -> list[Item]: ...


class TimelineAdapter(Adapter):
    """A source whose items are known by time in advance (simulator, recording).

    Items are handed out when the clock reaches their time. With a
    :class:`~devices.clock.StepClock` the clock jumps straight to the next
    item, so a whole session replays without sleeping.
    """

    # Sleep at least this long (wall seconds) between wake-ups; at high speed
    # the items that fell due meanwhile come out together, in order.
    min_wall_sleep = 0.02

    @abc.abstractmethod
    def _next_time(self) -> float | None:
        """Time of the next item, or None when the timeline is exhausted."""

    @abc.abstractmethod
    def _take_until(self, t: float) -> list[Item]:
        """Remove and return all items with time <= `t`, in time order."""

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _read(self, timeout: float) -> list[Item]:
        clock = self.clock
        deadline = clock.now() + timeout
        while True:
            now = clock.now()
            due = self._take_until(now)
            if due:
                return due
            upcoming = self._next_time()
            if upcoming is None:
                raise RecordingFinished(f"{self.name}: end of recording")
            if now >= deadline:
                return []
            target = min(upcoming, deadline)
            if math.isfinite(clock.speed):
                target = max(target, min(now + self.min_wall_sleep * clock.speed, deadline))
            clock.sleep_until(target)
