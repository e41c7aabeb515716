"""A Nonin oximeter's side of its serial formats, for the emulator and the tests."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from devices.link import DeviceLink
from devices.protocols import nonin_codec as codec
from devices.protocols.nonin_codec import NO_FLAGS, NoninFlag, NoninRecord
from devices.vocabulary import DeviceEventKind, Item, Reading, Status


class NoninDevice(DeviceLink):
    """A Nonin oximeter's output, from the simulator's ``spo2`` and ``pulse_rate``.

    Options: ``format`` as for the host. A binary-format device obeys the
    set-format command (ACK, and switches among 2, 7 and 8; NAK otherwise);
    an ASCII model ignores what it is sent. Each 1 s tick sends 3 packets
    (DF2/DF7, with a pleth waveform at the pulse rate), one record (DF8) or
    one line (ascii). Simulator sensor_off/on events set the sensor-disconnect
    bit; questionable values set the artefact bit; None values are sent as
    the missing markers.

    Attributes
    ----------
    low_battery : bool
        Set it to make the device report a low battery.
    """

    protocol = "nonin"
    port = codec.PORT
    tick_s = 1.0

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        super().__init__(options)
        self.format_name = codec.parse_format(self.options.get("format"))
        self.low_battery = False
        self._values: dict[str, float | None] = {"pulse_rate": None, "spo2": None}
        self._doubtful: set[str] = set()
        self._sensor_off = False
        self._phase = 0.0  # of the pleth waveform, in beats
        self._commands = bytearray()

    def emit(self, items: Sequence[Item], now: float) -> bytes:
        heard = False
        for item in items:
            if isinstance(item, Reading):
                heard = True
                if item.param in self._values:
                    self._values[item.param] = item.value
                    if item.status is Status.QUESTIONABLE:
                        self._doubtful.add(item.param)
                    else:
                        self._doubtful.discard(item.param)
            elif item.kind in (DeviceEventKind.SENSOR_OFF, DeviceEventKind.SENSOR_ON):
                heard = True
                self._sensor_off = item.kind == DeviceEventKind.SENSOR_OFF
        if not heard:
            return b""  # the simulated device is silent (a disconnect scenario)
        record = self.record()
        fmt = codec.BINARY_FORMATS.get(self.format_name)
        if isinstance(fmt, codec.PacketFormat):
            bits = 8 if fmt.start_byte is not None else 16
            return b"".join(fmt.encode(record, self._pleth(record, bits))
                            for _ in range(codec.PACKETS_PER_S))
        if isinstance(fmt, codec.RecordFormat):
            return fmt.encode(record)
        return codec.format_ascii_line(record)

    def record(self) -> NoninRecord:
        """What the device would report now."""
        flags = NO_FLAGS
        if self._sensor_off:
            flags |= NoninFlag.SENSOR_DISCONNECT
        if self._doubtful:
            flags |= NoninFlag.ARTIFACT
        if self.low_battery:
            flags |= NoninFlag.LOW_BATTERY

        def shown(param: str, low: int, high: int) -> int | None:
            value = self._values[param]
            if value is None or self._sensor_off or not math.isfinite(value):
                return None
            return min(high, max(low, round(value)))

        return NoninRecord(shown("pulse_rate", *codec.HR_RANGE),
                           shown("spo2", *codec.SPO2_RANGE), flags)

    def _pleth(self, record: NoninRecord, bits: int) -> list[int]:
        samples, self._phase = codec.pleth_wave(self._phase, record.pulse_rate, bits)
        return samples

    def receive(self, data: bytes, now: float) -> bytes:
        if self.format_name == "ascii":
            return b""
        buf = self._commands
        buf += data
        reply = bytearray()
        while (start := buf.find(codec.SET_FORMAT_PREFIX)) >= 0 and len(buf) >= start + 6:
            code, end = buf[start + 4], buf[start + 5]
            del buf[:start + 6]
            name = str(code)
            if end == 0x03 and name in codec.BINARY_FORMATS:
                self.format_name = name
                reply.append(codec.ACK)
            else:
                reply.append(codec.NAK)
        if len(buf) > 16:
            del buf[:-5]  # noise: keep only what could begin a command
        return bytes(reply)
