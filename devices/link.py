"""The two sides of a device protocol, as pure objects: no ports, no clocks.

A protocol module provides a :class:`HostLink` (what this program plays:
decode what the device sends, and say what to send it, for protocols that
are a dialogue) and a :class:`DeviceLink` (what the emulator plays: encode
readings as the device would, and answer the host). Both are fed bytes and
times and return bytes and items, so every protocol is tested without a
port, fuzzed byte by byte, and run over a real pseudo-terminal by the same
:class:`~devices.stream.StreamAdapter` and :mod:`devices.emulator`.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from devices.transport import PortSettings
from devices.vocabulary import DeviceEvent, Item, Reading


@dataclass
class LinkStats:
    """What a decoder has seen (shown by the CLI, available to the dashboard).

    Attributes
    ----------
    frames_ok : int
        Frames (lines, packets, records) decoded.
    rejected : Counter
        Frames or stretches of bytes thrown away, by reason ("bad checksum",
        "garbage between frames", "implausible value", ...).
    readings : int
        Readings produced.
    """

    frames_ok: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    readings: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"frames_ok": self.frames_ok, "rejected": dict(self.rejected),
                "readings": self.readings}


class HostLink(abc.ABC):
    """This program's side of a protocol.

    Subclasses set :attr:`protocol` and :attr:`port`, and implement
    :meth:`receive`; dialogue protocols also implement :meth:`start`,
    :meth:`due` and :meth:`stop`.

    Parameters
    ----------
    source : str
        Name written into readings and events (usually the protocol name).
    options : mapping
        The device spec's options (e.g. Nonin ``format=7``), as text.
    """

    protocol: ClassVar[str]
    port: ClassVar[PortSettings]
    #: Options of the device spec this link understands.
    options: ClassVar[frozenset[str]] = frozenset()
    #: Source-clock seconds without data before acquisition reports silence;
    #: short, because these devices send every second.
    silence_timeout: ClassVar[float] = 5.0

    def __init__(self, source: str = "", options: Mapping[str, str] | None = None) -> None:
        self.source = source or self.protocol
        self.stats = LinkStats()
        #: Where a capture without receipt times begins (s since epoch).
        self.capture_start: float = 0.0

    def start(self, now: float) -> bytes:
        """Bytes to send right after the port opens (a request, an association)."""
        return b""

    @abc.abstractmethod
    def receive(self, data: bytes, now: float | None) -> list[Item]:
        """Decode bytes received at `now` (s since epoch); never raises on bad input.

        `now` is None when a raw capture with no receipt times is imported:
        the link then places readings by the device's own clock where the
        protocol has one, else by its nominal cadence from
        :attr:`capture_start`.

        Partial frames are kept for the next call; garbage, bad checksums and
        impossible lengths are counted in :attr:`stats` and skipped to the
        next frame start, and, where a reading is lost, reported as a
        ``bad_frame`` DeviceEvent.
        """

    def due(self, now: float) -> bytes:
        """Bytes the host must send now (polls, keep-alives); b"" if none."""
        return b""

    def stop(self, now: float) -> bytes:
        """Bytes to send before the port closes (a release); b"" if none."""
        return b""

    def count(self, items: Sequence[Item]) -> list[Item]:
        """Add `items`' readings to the statistics and return them as a list."""
        self.stats.readings += sum(1 for i in items if isinstance(i, Reading))
        return list(items)


class DeviceLink(abc.ABC):
    """The device's side of a protocol, for the emulator.

    Parameters
    ----------
    options : mapping
        The emulator's options (e.g. Nonin ``format=7``).
    """

    protocol: ClassVar[str]
    port: ClassVar[PortSettings]

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        self.options = dict(options or {})

    @abc.abstractmethod
    def emit(self, items: Sequence[Item], now: float) -> bytes:
        """Bytes the device sends for these simulator items (readings of the
        last period, device events); b"" if the device would send nothing
        (e.g. before the host has associated)."""

    def receive(self, data: bytes, now: float) -> bytes:
        """Answer what the host sent; b"" if nothing to answer."""
        return b""

    @property
    def talking(self) -> bool:
        """True while the device sends data (a dialogue device only after the
        host has asked)."""
        return True


__all__ = ["DeviceEvent", "DeviceLink", "HostLink", "LinkStats", "PortSettings"]
