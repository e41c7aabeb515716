"""Decode rate of every device protocol, against the device's own line rate.

For each protocol an hour of a simulated session is played through its
emulator side and answered by its host side in memory (devices.conversation),
which gives the bytes the device sends, exactly as a port would receive
them. Those bytes are then decoded again by a fresh host link, timed.

Target (issue 4): decoding at >= 1,000x the device's line rate (its baud
rate's byte capacity) on one core. Prints figures; asserts nothing.

    python bench/bench_decode.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from devices.conversation import converse
from devices.link import DeviceLink, HostLink
from devices.protocols.datex import DatexDevice, DatexHost
from devices.protocols.intellivue import IntelliVueDevice, IntelliVueHost
from devices.protocols.masimo import MasimoDevice, MasimoHost
from devices.protocols.nonin import NoninDevice, NoninHost
from devices.scenarios import SessionPlan
from devices.simulator import Simulator
from devices.vocabulary import Reading

T0 = 1_795_680_000.0
TARGET = 1000.0
CHUNK = 4096  # bytes per receive(), about what a port read returns when busy

PROTOCOLS: dict[str, tuple[Callable[[], HostLink], Callable[[], DeviceLink]]] = {
    "masimo": (MasimoHost, MasimoDevice),
    "nonin format=2": (lambda: NoninHost("nonin", {"format": "2"}),
                       lambda: NoninDevice({"format": "2"})),
    "nonin format=7": (lambda: NoninHost("nonin", {"format": "7"}),
                       lambda: NoninDevice({"format": "7"})),
    "nonin format=8": (lambda: NoninHost("nonin", {"format": "8"}),
                       lambda: NoninDevice({"format": "8"})),
    "nonin ascii": (lambda: NoninHost("nonin", {"format": "ascii"}),
                    lambda: NoninDevice({"format": "ascii"})),
    "intellivue": (IntelliVueHost, IntelliVueDevice),
    "datex interval=1": (lambda: DatexHost("datex", {"interval": "1"}), DatexDevice),
}


def capture(host: HostLink, device: DeviceLink, minutes: float) -> bytes:
    plan = SessionPlan(T0, pre_min=10, infusion_min=40, post_min=max(1.0, minutes - 50))
    talk = converse(host, device, Simulator("typical", 1, plan), minutes * 60)
    return bytes(talk.device_bytes)


def decode(make_host: Callable[[], HostLink], data: bytes, seconds: float,
           ) -> tuple[float, int]:
    """Decode `data` (sent over `seconds`) in port-sized chunks, each stamped
    with when it would have arrived."""
    host = make_host()
    per_byte = seconds / len(data)
    readings = 0
    start = time.perf_counter()
    for offset in range(0, len(data), CHUNK):
        now = T0 + (offset + CHUNK) * per_byte
        readings += sum(1 for i in host.receive(data[offset:offset + CHUNK], now)
                        if isinstance(i, Reading))
    return time.perf_counter() - start, readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0,
                        help="minutes of simulated session per protocol")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'protocol':>17}  {'bytes':>9}  {'readings':>8}  {'readings/s':>11}  {'MB/s':>6}  "
          f"{'line B/s':>8}  {'x line rate':>11}  {'x data rate':>11}")
    for name, (make_host, make_device) in PROTOCOLS.items():
        data = capture(make_host(), make_device(), args.minutes)
        seconds, readings = min(decode(make_host, data, args.minutes * 60)
                                for _ in range(args.repeat))
        line = 1.0 / make_host().port.byte_time()          # bytes/s the line can carry
        sent = len(data) / (args.minutes * 60)               # bytes/s the device sent
        rate = len(data) / seconds
        ratio = rate / line
        print(f"{name:>17}  {len(data):>9,}  {readings:>8,}  {readings / seconds:>11,.0f}  "
              f"{rate / 1e6:>6.2f}  {line:>8,.0f}  {ratio:>10,.0f}x  {rate / sent:>10,.0f}x"
              f"  {'PASS' if ratio >= TARGET else 'FAIL'}")


if __name__ == "__main__":
    main()
