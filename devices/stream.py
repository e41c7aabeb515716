"""The thin adapter that puts a protocol's :class:`HostLink` on a port.

``masimo:/dev/ttyUSB0``, ``intellivue:socket://10.1.2.3:4001``: the spec's
port goes to :class:`~devices.transport.SerialTransport` with the protocol's
line settings; bytes go through the link's decoder; the link's requests
(association, polls, keep-alives) go back out. Nothing here knows a protocol.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import ClassVar

from devices.adapter import Adapter, DeviceError
from devices.clock import Clock, ScaledClock
from devices.link import HostLink
from devices.spec import DeviceSpec, SpecError
from devices.transport import SerialTransport
from devices.vocabulary import Item, SourceKind

# Longest single wait on the port (wall seconds), so the link's polls and
# keep-alives go out on time while the device is quiet.
_MAX_WAIT_S = 0.2


class StreamAdapter(Adapter):
    """A real device on a port, spoken to through a :class:`HostLink`.

    Subclasses set :attr:`link_class`. Options common to every protocol:
    ``capture`` is not one (raw capture is a recording option, passed by the
    caller); the link's own options (e.g. Nonin ``format``) are checked here.

    Parameters
    ----------
    spec : DeviceSpec
    clock : Clock, optional
        Defaults to real time.
    raw_capture : path, optional
        Keep every byte received in this file (``record --raw-capture``).
    """

    link_class: ClassVar[type[HostLink]]
    source_kind = SourceKind.DEVICE

    def __init__(self, spec: DeviceSpec, clock: Clock | None = None, *,
                 raw_capture: str | Path | None = None) -> None:
        super().__init__(spec)
        if not spec.port:
            raise SpecError(f"{spec.text}: no port; write {self.protocol}:/dev/ttyUSB0 "
                            "or socket://HOST:PORT")
        spec.check_known(set(self.link_class.options))
        self.clock = clock or ScaledClock()
        self.transport = SerialTransport(spec.port, self.link_class.port,
                                         raw_capture=raw_capture)
        self.link = self._new_link()
        # The link knows its cadence (a Datex record every `interval` seconds).
        self.silence_timeout = self.link.silence_timeout

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "link_class" in cls.__dict__:
            cls.protocol = cls.link_class.protocol

    def _new_link(self) -> HostLink:
        try:
            return self.link_class(self.protocol, self.spec.options)
        except ValueError as exc:
            raise SpecError(f"{self.spec.text}: {exc}") from None

    def describe(self) -> str:
        return f"{self.protocol} on {self.spec.port} ({self.link_class.port.describe()})"

    def _open(self) -> None:
        self.transport.open()
        # A new connection is a new conversation: association, requests and
        # half-received frames all start again. Counters carry on.
        stats = self.link.stats
        self.link = self._new_link()
        self.link.stats = stats
        try:
            self.transport.write(self.link.start(self.now()))
        except DeviceError:
            self.transport.close()
            raise

    def _close(self) -> None:
        if self.transport.is_open:
            # If the link is already gone there is nothing to release.
            with contextlib.suppress(DeviceError):
                self.transport.write(self.link.stop(self.now()))
        self.transport.close()

    def release(self) -> None:
        """Close for good (also the raw capture file)."""
        self.close()
        self.transport.release()

    def _read(self, timeout: float) -> list[Item]:
        clock = self.clock
        deadline = clock.now() + timeout
        while True:
            now = clock.now()
            self.transport.write(self.link.due(now))
            wait = min(_MAX_WAIT_S, max(0.0, deadline - now) / clock.speed)
            data = self.transport.read(wait)
            received = clock.now()
            self.transport.keep(data, received)
            # Called even with no bytes: a link may have news of its own (an
            # association that timed out).
            items = self.link.receive(data, received)
            if items or clock.now() >= deadline:
                return items

    def status(self) -> dict[str, object]:
        return {**super().status(), **self.link_stats}

    @property
    def link_stats(self) -> dict[str, object]:
        """Bytes and frames so far, for the CLI and the dashboard."""
        return {"bytes_in": self.transport.bytes_in, "bytes_out": self.transport.bytes_out,
                **self.link.stats.as_dict(), "opens": self.stats.opens}
