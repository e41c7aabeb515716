"""A host and a device talking in memory, with no port: for tests and benchmarks.

:func:`converse` runs a simulated session through a :class:`DeviceLink`
while a :class:`HostLink` answers it, second by second, exactly as they would
over a wire, and returns what the device sent (a capture, as a serial port
would have recorded it) and what the host decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.link import DeviceLink, HostLink
from devices.simulator import Simulator
from devices.vocabulary import Item


@dataclass
class Conversation:
    """What passed: the device's bytes (a capture), the host's, and the decoded items."""

    device_bytes: bytearray = field(default_factory=bytearray)
    host_bytes: bytearray = field(default_factory=bytearray)
    decoded: list[Item] = field(default_factory=list)


def converse(host: HostLink, device: DeviceLink, simulator: Simulator, seconds: float,
             *, step: float | None = None) -> Conversation:
    """Run `seconds` of the simulated session through `device`, answered by `host`.

    Parameters
    ----------
    step : float, optional
        Seconds between device ticks; defaults to the device's ``tick_s``.
    """
    talk = Conversation()
    step = step or getattr(device, "tick_s", 1.0)
    now = simulator.plan.start

    def host_says(data: bytes, t: float) -> None:
        while data:
            talk.host_bytes += data
            reply = device.receive(data, t)
            data = b""
            if reply:
                talk.device_bytes += reply
                talk.decoded += host.receive(reply, t)
                data = host.due(t)

    host_says(host.start(now), now)
    end = now + seconds
    while now < end:
        now += step
        sent = device.emit(simulator.take_until(now), now)
        if sent:
            talk.device_bytes += sent
            talk.decoded += host.receive(sent, now)
        host_says(host.due(now), now)
    return talk
