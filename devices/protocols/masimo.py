"""Masimo Radical-7 / Rad-8 / Rad-87 / Radical-5 "ASCII 1" serial output.

9600 baud 8N1, one line a second ending CR LF, no checksum::

    09/15/10 15:10:29 SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800

The token set varies by model and licence, so tokens are parsed by name,
never by column. Dashes mean no value. ``ALARM`` and ``EXC`` are hex bit
sets (PROTOCOLS.md); their changes become DeviceEvents, and exceptions set
the status of the line's readings.

The device clock has no zone and drifts, so live readings are stamped with
the receipt time; the device time is used only when importing a capture that
has no receipt times (read in ``tz``, default UTC).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from devices.link import DeviceLink, HostLink
from devices.stream import StreamAdapter
from devices.transport import PortSettings
from devices.vocabulary import (
    PARAMETERS,
    DeviceEvent,
    DeviceEventKind,
    Item,
    Reading,
    Status,
)

PORT = PortSettings(baudrate=9600)
MAX_LINE = 512  # bytes; a longer run without CR LF is garbage

# Token -> canonical parameter.
TOKENS: dict[str, str] = {"SPO2": "spo2", "BPM": "pulse_rate", "PI": "perf_index"}

ALARM_BITS: dict[int, str] = {0x1: "spo2_high", 0x2: "spo2_low", 0x4: "pr_high",
                              0x8: "pr_low", 0x10: "alarm_active", 0x20: "alarm_silenced",
                              0x40: "low_battery"}
EXC_BITS: dict[int, str] = {0x1: "no_sensor", 0x2: "defective_sensor", 0x4: "low_perfusion",
                            0x8: "pulse_search", 0x10: "interference", 0x20: "sensor_off",
                            0x40: "ambient_light", 0x80: "unrecognized_sensor",
                            0x100: "sensor_not_connected", 0x200: "low_signal_iq_early",
                            0x400: "low_signal_iq"}
SENSOR_OFF_BITS = 0x1 | 0x20 | 0x100          # no value can be measured
QUESTIONABLE_BITS = 0x4 | 0x8 | 0x10 | 0x40 | 0x400  # a value, but not to be trusted

_LINE_START = re.compile(rb"\d\d/\d\d/\d\d \d\d:\d\d:\d\d")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def bit_names(bits: int, table: Mapping[int, str]) -> list[str]:
    return [name for bit, name in table.items() if bits & bit] + (
        [f"0x{bits & ~sum(table):X}"] if bits & ~sum(table) else [])


@dataclass(frozen=True)
class MasimoLine:
    """One decoded line: the device's clock, its values and its flags."""

    device_time: datetime
    values: dict[str, float | None]   # canonical id -> value (None for dashes)
    alarm: int
    exceptions: int
    serial_number: str | None


def parse_line(text: str) -> MasimoLine:
    """Decode one line (without CR LF).

    Raises
    ------
    ValueError
        Not a Masimo line: no date and time at the start, or a token that is
        neither KEY=VALUE nor a known value shape.
    """
    parts = text.split()
    if len(parts) < 3:
        raise ValueError("too short for date, time and a token")
    try:
        device_time = datetime.strptime(f"{parts[0]} {parts[1]}", "%m/%d/%y %H:%M:%S")
    except ValueError:
        raise ValueError(f"no date and time at the start ({parts[0]} {parts[1]!r})") from None
    values: dict[str, float | None] = {}
    alarm = exceptions = 0
    serial = None
    for token in parts[2:]:
        key, sep, raw = token.partition("=")
        if not sep or not key:
            raise ValueError(f"token {token!r} is not KEY=VALUE")
        raw = raw.rstrip("%")
        if key in TOKENS:
            if set(raw) <= set("-.+"):
                values[TOKENS[key]] = None
            elif _NUMBER.match(raw):
                values[TOKENS[key]] = float(raw)
            else:
                raise ValueError(f"{key}={raw!r} is not a number")
        elif key == "ALARM":
            alarm = int(raw, 16)
        elif key == "EXC":
            exceptions = int(raw, 16)
        elif key == "SN":
            serial = raw
    return MasimoLine(device_time, values, alarm, exceptions, serial)


class MasimoHost(HostLink):
    """Reads Masimo ASCII 1 lines; the device talks on its own, no requests.

    Options: ``tz`` (zone of the device clock, for captures without receipt
    times; default UTC).
    """

    protocol = "masimo"
    port = PORT
    options = frozenset({"tz"})

    def __init__(self, source: str = "", options: Mapping[str, str] | None = None) -> None:
        super().__init__(source, options)
        self._buffer = bytearray()
        self._alarm = 0
        self._exceptions = 0
        zone = (options or {}).get("tz")
        try:
            self._zone = ZoneInfo(zone) if zone else ZoneInfo("UTC")
        except (KeyError, ValueError):
            raise ValueError(f"tz={zone!r} is not a time zone name") from None

    def receive(self, data: bytes, now: float | None) -> list[Item]:
        self._buffer += data
        items: list[Item] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    # No line end in sight: keep only from the last plausible start.
                    items += self._reject("line too long", now, bytes(self._buffer[:60]))
                    start = _LINE_START.search(bytes(self._buffer[1:]))
                    del self._buffer[:start.start() + 1 if start else len(self._buffer)]
                return self.count(items)
            raw = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[:end + 1]
            items += self._line(raw, now)

    def _line(self, raw: bytes, now: float | None) -> list[Item]:
        # Garbage before a line start (a cable plugged in mid-line) is dropped
        # and counted; what follows may still be a good line.
        start = _LINE_START.search(raw)
        if start is None:
            return self._reject("unreadable line", now, raw) if raw.strip() else []
        items: list[Item] = []
        if start.start():
            items += self._reject("garbage before line", now, raw[:start.start()])
        try:
            line = parse_line(raw[start.start():].decode("ascii"))
        except (ValueError, UnicodeDecodeError) as exc:
            return items + self._reject("unreadable line", now, raw, str(exc))
        self.stats.frames_ok += 1
        t = now if now is not None else line.device_time.replace(tzinfo=self._zone).timestamp()
        return items + self._events(line, t) + self._readings(line, t)

    def _readings(self, line: MasimoLine, t: float) -> list[Item]:
        off = bool(line.exceptions & SENSOR_OFF_BITS)
        doubtful = bool(line.exceptions & QUESTIONABLE_BITS)
        readings: list[Item] = []
        for param, value in line.values.items():
            if off or value is None:
                status, value = Status.INVALID, None
            else:
                status = Status.QUESTIONABLE if doubtful else Status.VALID
            readings.append(Reading(t, param, value, PARAMETERS[param].unit, status,
                                    self.source))
        return readings

    def _events(self, line: MasimoLine, t: float) -> list[Item]:
        events: list[Item] = []
        was_off = bool(self._exceptions & SENSOR_OFF_BITS)
        is_off = bool(line.exceptions & SENSOR_OFF_BITS)
        if is_off != was_off:
            kind = DeviceEventKind.SENSOR_OFF if is_off else DeviceEventKind.SENSOR_ON
            events.append(DeviceEvent(t, kind, self.source,
                                      {"exceptions": bit_names(line.exceptions, EXC_BITS)}))
        if line.exceptions != self._exceptions:
            events.append(DeviceEvent(t, DeviceEventKind.DEVICE_STATUS, self.source,
                                      {"exceptions": bit_names(line.exceptions, EXC_BITS)}))
        if line.alarm & 0x40 and not self._alarm & 0x40:
            events.append(DeviceEvent(t, DeviceEventKind.LOW_BATTERY, self.source, {}))
        if line.alarm & ~0x40 != self._alarm & ~0x40:
            events.append(DeviceEvent(t, DeviceEventKind.DEVICE_ALARM, self.source,
                                      {"alarm": bit_names(line.alarm, ALARM_BITS)}))
        self._alarm, self._exceptions = line.alarm, line.exceptions
        return events

    def _reject(self, kind: str, now: float | None, raw: bytes, detail: str = "") -> list[Item]:
        self.stats.rejected[kind] += 1
        if now is None:
            return []  # a capture being imported: counted, no time to place an event at
        text = raw[:60].decode("ascii", "replace")
        return [DeviceEvent(now, DeviceEventKind.BAD_FRAME, self.source,
                            {"kind": kind, "reason": detail or kind, "bytes": text})]


class MasimoDevice(DeviceLink):
    """A Masimo pulse oximeter's output: one line a second of the newest values."""

    protocol = "masimo"
    port = PORT
    tick_s = 1.0

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        super().__init__(options)
        self._values: dict[str, float | None] = {}
        self._sensor_off = False

    def emit(self, items: Sequence[Item], now: float) -> bytes:
        for item in items:
            if isinstance(item, Reading) and item.param in ("spo2", "pulse_rate"):
                self._values[item.param] = item.value
            elif isinstance(item, DeviceEvent) and item.kind in (DeviceEventKind.SENSOR_OFF,
                                                                 DeviceEventKind.SENSOR_ON):
                self._sensor_off = item.kind == DeviceEventKind.SENSOR_OFF
        if not items:
            return b""  # the simulated device is silent (a disconnect scenario)
        return format_line(now, self._values.get("spo2"), self._values.get("pulse_rate"),
                           exceptions=0x20 if self._sensor_off else 0).encode("ascii")


def format_line(t: float, spo2: float | None, pulse_rate: float | None, *,
                alarm: int = 0, exceptions: int = 0, serial: str = "0000056661") -> str:
    """One ASCII 1 line as a Radical-7 writes it, with CR LF."""
    stamp = datetime.fromtimestamp(t, ZoneInfo("UTC")).strftime("%m/%d/%y %H:%M:%S")
    sat = "---" if spo2 is None else f"{round(spo2):03d}"
    bpm = "---" if pulse_rate is None else f"{round(pulse_rate):03d}"
    return (f"{stamp} SN={serial} SPO2={sat}% BPM={bpm} DESAT=-- PIDELTA=+-- "
            f"ALARM={alarm:04X} EXC={exceptions:06X}\r\n")


class MasimoAdapter(StreamAdapter):
    """``masimo:/dev/ttyUSB0``"""

    link_class = MasimoHost
