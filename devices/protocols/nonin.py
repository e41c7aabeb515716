"""Nonin pulse oximeters: ``nonin:/dev/ttyUSB1?format=7``.

One protocol name for the four serial formats of :mod:`nonin_codec`; the
``format`` option (``ascii``, ``2``, ``7``, ``8``; default 2) says which.
For a binary format the host first sends the set-format command and takes
the ACK or NAK that comes back (``set_format=no`` keeps it silent, for a
device that must not be reconfigured or one wired receive-only).

Frame sync (DF2, DF7): a packet starts at a good frame with the SYNC bit
followed by a good frame without it; once locked, every 5 bytes must be a
good frame, else the partial packet is dropped and counted, and the search
starts again one byte on. DF8 has no checksum, so lock needs two records in
a row that pass the fixed-bit and range checks; live, the first of the two is
not reported (it is a second old when the second confirms it). That lowers,
but cannot remove, the chance of reading noise as DF8; the set-format command
at connect is the real protection.

Cadence: DF2/DF7 give 3 packets a second, more than a 1 Hz display needs.
The host reports the first complete packet of each whole second of the
reading's time (no waiting for "the last" packet, so no added delay and
nothing held back when the link goes quiet), plus any packet where the
sensor comes off or back, so the screen never shows a value as current after
the sensor_off event. Every frame and packet is still counted
(``stats.frames_ok`` counts frames, :attr:`NoninHost.packets_ok` packets).

Nonin has no clock: live readings carry the receipt time; in a capture
imported without receipt times (``now`` None) a record is placed at
``capture_start`` plus its byte offset from the first good frame over the
format's nominal byte rate (DF2/DF7 375 B/s, i.e. 1/3 s a packet; DF8 4 B/s,
1 s a record; lost packets keep their time slot), and an ASCII line at
``capture_start`` plus its line number in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from devices.link import DeviceLink, HostLink
from devices.protocols import nonin_codec as codec
from devices.protocols.nonin_codec import NO_FLAGS, BinaryFormat, NoninFlag, NoninRecord
from devices.stream import StreamAdapter
from devices.vocabulary import PARAMETERS, DeviceEvent, DeviceEventKind, Item, Reading, Status

MAX_LINE = 64     # bytes; an ASCII line is ~20
MAX_SKIP = 1024   # bytes searched for a frame before reporting again that none was found
# Flags whose change is a device_status event. Yellow perfusion comes and goes
# with ordinary signal variation; reporting it would bury the rest.
STATUS_EVENT_FLAGS = ~NoninFlag.MARGINAL_PERFUSION


class NoninHost(HostLink):
    """Reads a Nonin oximeter in the format of the ``format`` option.

    Options: ``format`` (ascii, 2, 7, 8; default 2); ``set_format`` (yes/no,
    default yes: send the set-format command on connect, binary formats only).

    Attributes
    ----------
    packets_ok : int
        Packets (DF2/DF7), records (DF8) or lines (ascii) decoded.
    format_reply : str or None
        "ack" or "nak" once the device answered the set-format command.
    firmware_revision : int or None
        From DF2/DF7 packets.
    """

    protocol = "nonin"
    port = codec.PORT
    options = frozenset({"format", "set_format"})

    def __init__(self, source: str = "", options: Mapping[str, str] | None = None) -> None:
        super().__init__(source, options)
        opts = options or {}
        self.format_name = codec.parse_format(opts.get("format"))
        self.send_set_format = codec.parse_yes_no("set_format", opts.get("set_format"), True)
        self._binary: BinaryFormat | None = codec.BINARY_FORMATS.get(self.format_name)
        self.packets_ok = 0
        self.format_reply: str | None = None
        self.firmware_revision: int | None = None
        self._buffer = bytearray()
        self._consumed = 0            # bytes already removed from the front of _buffer
        self._origin = 0              # stream offset of the first frame: capture_start
        self._now: float | None = None
        self._locked = False
        self._ever_locked = False
        self._confirming = False      # DF8: the record just locked on awaits its successor
        self._skipping = False        # inside a stretch of bytes already reported
        self._skipped = 0
        self._frames: list[bytes] = []
        self._packet_offset = 0
        self._frames_seen = 0         # good frames on this connection
        self._awaiting_reply = False
        self._lines = 0
        self._flags = NO_FLAGS        # of the newest record: sensor and battery transitions
        self._reported_flags = NO_FLAGS
        self._last_second: int | None = None

    def start(self, now: float) -> bytes:
        if self._binary is None or not self.send_set_format:
            return b""
        self._awaiting_reply = True
        return codec.set_format_command(self._binary.code)

    def receive(self, data: bytes, now: float | None) -> list[Item]:
        self._buffer += data
        self._now = now
        if self._binary is None:
            return self.count(self._receive_lines())
        return self.count(self._receive_binary(self._binary))

    # -- binary formats --------------------------------------------------------------

    def _stamp(self, offset: int) -> float:
        """Time of the record starting `offset` bytes into the buffer."""
        if self._now is not None:
            return self._now
        rate = self._binary.bytes_per_s if self._binary else 1.0
        return self.capture_start + (self._consumed + offset - self._origin) / rate

    def _receive_binary(self, fmt: BinaryFormat) -> list[Item]:
        buf, size = self._buffer, fmt.frame_size
        items: list[Item] = []
        pos = 0
        while pos < len(buf):
            if self._awaiting_reply and self._consumed + pos >= MAX_SKIP:
                self._awaiting_reply = False  # no answer: a model that ignores commands
            # ACK and NAK are never a frame's first byte in any binary format.
            if self._awaiting_reply and buf[pos] in (codec.ACK, codec.NAK):
                items += self._format_reply(fmt, buf[pos], self._stamp(pos))
                pos += 1
                continue
            if len(buf) - pos < (size if self._locked else 2 * size):
                break
            frame = bytes(buf[pos:pos + size])
            problem = fmt.problem(frame)
            if self._locked:
                if problem is None:
                    items += self._good_frame(fmt, frame, pos)
                    pos += size
                else:
                    items += self._lose(problem, frame, self._stamp(pos))
                    pos += 1
                continue
            following = bytes(buf[pos + size:pos + 2 * size])
            if problem is None and fmt.starts_packet(frame) and fmt.problem(following) is None \
                    and (fmt.packet_frames == 1 or not fmt.starts_packet(following)):
                if not self._ever_locked:
                    self._origin = self._consumed + pos
                self._locked = self._ever_locked = self._confirming = True
                self._skipping = False
                continue
            # A good frame in the middle of a packet is passed whole: no false
            # start can hide inside it.
            step = size if problem is None and fmt.packet_frames > 1 else 1
            items += self._skip(step, frame, self._stamp(pos))
            pos += step
        self._consumed += pos
        del buf[:pos]
        return items

    def _good_frame(self, fmt: BinaryFormat, frame: bytes, pos: int) -> list[Item]:
        self.stats.frames_ok += 1
        self._frames_seen += 1
        if self._awaiting_reply and self._frames_seen > 2 * fmt.packet_frames:
            self._awaiting_reply = False  # no answer: a model that ignores commands
        if isinstance(fmt, codec.RecordFormat):
            self.packets_ok += 1
            confirming, self._confirming = self._confirming, False
            if confirming and self._now is not None:
                # Live, the record that only led to the lock is a second old by
                # the time the next one confirms it: the next one is reported.
                return []
            return self._record(fmt.decode([frame]), self._stamp(pos), per_second=False)
        items: list[Item] = []
        starts = fmt.starts_packet(frame)
        if starts and self._frames:
            items += self._bad_frame("truncated packet", self._stamp(pos),
                                     f"{len(self._frames)} of {fmt.packet_frames} frames")
        elif not starts and not self._frames:
            return self._lose("missing packet start", frame, self._stamp(pos))
        if starts:
            self._frames, self._packet_offset = [], pos + self._consumed
        self._frames.append(frame)
        if len(self._frames) == fmt.packet_frames:
            record = fmt.decode(self._frames)
            self._frames = []
            self.packets_ok += 1
            self.firmware_revision = record.firmware
            t = self._stamp(self._packet_offset - self._consumed)
            items += self._record(record, t, per_second=True)
        return items

    def _lose(self, reason: str, frame: bytes, t: float) -> list[Item]:
        """Frame sync is lost: drop the partial packet and search again."""
        dropped = len(self._frames)
        self._frames = []
        self._locked = False
        self._skipping, self._skipped = True, 0  # the search that follows is this same loss
        detail = (f"{dropped} frame(s) of a packet dropped" if dropped
                  else "not a frame where a packet should start")
        return self._bad_frame(reason, t, detail, frame)

    def _skip(self, count: int, frame: bytes, t: float) -> list[Item]:
        items: list[Item] = []
        if not self._skipping:
            self._skipping, self._skipped = True, 0
            if self._ever_locked:
                items += self._bad_frame("garbage between frames", t, "", frame)
            else:
                # Joining a stream mid-packet is normal on every connect: counted, no event.
                self.stats.rejected["partial data before first frame"] += 1
        self._skipped += count
        if self._skipped >= MAX_SKIP:
            self._skipped = 0
            items += self._bad_frame("no frame found", t,
                                     f"no data format {self.format_name} frame in {MAX_SKIP} "
                                     "bytes: is the oximeter set to another format?", frame)
        return items

    def _format_reply(self, fmt: BinaryFormat, byte: int, t: float) -> list[Item]:
        self._awaiting_reply = False
        if byte == codec.ACK:
            self.format_reply = "ack"
            return []
        self.format_reply = "nak"
        self.stats.rejected["set-format refused (NAK)"] += 1
        return [DeviceEvent(t, DeviceEventKind.DEVICE_STATUS, self.source, {
            "reason": f"the oximeter refused data format {self.format_name} (NAK); set the "
                      "format on the device, or choose the format it sends",
            "command": codec.set_format_command(fmt.code).hex(" ")})]

    def _bad_frame(self, reason: str, t: float, detail: str = "",
                   raw: bytes = b"") -> list[Item]:
        self.stats.rejected[reason] += 1
        if self._now is None:
            return []  # a capture being imported: counted only
        data: dict[str, object] = {"kind": reason, "reason": detail or reason}
        if raw:
            data["bytes"] = raw[:20].hex(" ")
        return [DeviceEvent(t, DeviceEventKind.BAD_FRAME, self.source, data)]

    # -- ascii ---------------------------------------------------------------------

    def _receive_lines(self) -> list[Item]:
        buf = self._buffer
        items: list[Item] = []
        while True:
            end = buf.find(b"\n")
            if end < 0:
                while len(buf) > MAX_LINE:
                    # No line end in sight: keep only from the next plausible start.
                    t = self._now if self._now is not None else self.capture_start + self._lines
                    items += self._bad_frame("line too long", t, "", bytes(buf))
                    start = buf.find(codec.ASCII_START, 1)
                    del buf[:start if start > 0 else len(buf)]
                return items
            raw = bytes(buf[:end]).strip()
            del buf[:end + 1]
            if raw:
                items += self._line(raw)

    def _line(self, raw: bytes) -> list[Item]:
        t = self._now if self._now is not None else self.capture_start + self._lines
        self._lines += 1  # an unreadable line still took its second
        start = raw.find(codec.ASCII_START)
        if start < 0:
            return self._bad_frame("unreadable line", t, "", raw)
        items = self._bad_frame("garbage before line", t, "", raw[:start]) if start else []
        try:
            record = codec.parse_ascii_line(raw[start:].decode("ascii"))
        except (ValueError, UnicodeDecodeError) as exc:
            return items + self._bad_frame("unreadable line", t, str(exc), raw)
        self.stats.frames_ok += 1
        self.packets_ok += 1
        return items + self._record(record, t, per_second=False)

    # -- records to readings and events ----------------------------------------------

    def _record(self, record: NoninRecord, t: float, *, per_second: bool) -> list[Item]:
        flags = record.flags
        items: list[Item] = []
        was_off = NoninFlag.SENSOR_DISCONNECT in self._flags
        is_off = NoninFlag.SENSOR_DISCONNECT in flags
        if is_off != was_off:
            kind = DeviceEventKind.SENSOR_OFF if is_off else DeviceEventKind.SENSOR_ON
            items.append(DeviceEvent(t, kind, self.source, {"flags": codec.flag_names(flags)}))
        if NoninFlag.LOW_BATTERY in flags and NoninFlag.LOW_BATTERY not in self._flags:
            items.append(DeviceEvent(t, DeviceEventKind.LOW_BATTERY, self.source, {}))
        self._flags = flags
        if per_second:
            second = math.floor(t)
            if second == self._last_second and is_off == was_off:
                return items
            self._last_second = second
        reported = flags & STATUS_EVENT_FLAGS
        if reported != self._reported_flags:
            self._reported_flags = reported
            items.append(DeviceEvent(t, DeviceEventKind.DEVICE_STATUS, self.source,
                                     {"flags": codec.flag_names(flags)}))
        for param, value in (("pulse_rate", record.pulse_rate), ("spo2", record.spo2)):
            if value is None or is_off:
                status, number = Status.INVALID, None
            else:
                status = Status.QUESTIONABLE if flags & codec.QUESTIONABLE_FLAGS else Status.VALID
                number = float(value)
            items.append(Reading(t, param, number, PARAMETERS[param].unit, status, self.source))
        return items


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


class NoninAdapter(StreamAdapter):
    """``nonin:/dev/ttyUSB1?format=7``"""

    link_class = NoninHost
