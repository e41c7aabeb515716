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

Speed: a well-formed stream is decoded a run at a time by :mod:`nonin_fast`
(whole DF2/DF7 packets checked over slices, DF8 records and ASCII lines by
table look-up); the frame-by-frame path below takes over at the first byte
that is not plainly good, so both give the same items and counts.

Nonin has no clock: live readings carry the receipt time; in a capture
imported without receipt times (``now`` None) a record is placed at
``capture_start`` plus its byte offset from the first good frame over the
format's nominal byte rate (DF2/DF7 375 B/s, i.e. 1/3 s a packet; DF8 4 B/s,
1 s a record; lost packets keep their time slot), and an ASCII line at
``capture_start`` plus its line number in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from devices.link import HostLink
from devices.protocols import nonin_codec as codec
from devices.protocols import nonin_fast as fast
from devices.protocols.nonin_codec import NO_FLAGS, BinaryFormat, NoninRecord
from devices.protocols.nonin_device import NoninDevice
from devices.protocols.nonin_fast import STATUS_EVENT_FLAGS, FlagFacts
from devices.stream import StreamAdapter
from devices.vocabulary import PARAMETERS, DeviceEvent, DeviceEventKind, Item, Reading, Status

MAX_LINE = 64     # bytes; an ASCII line is ~20
MAX_SKIP = 1024   # bytes searched for a frame before reporting again that none was found
_HR_UNIT, _SPO2_UNIT = PARAMETERS["pulse_rate"].unit, PARAMETERS["spo2"].unit


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
        self._facts = fast.facts_of(NO_FLAGS)  # of the newest record: sensor, battery changes
        self._reported = self._facts.reported
        self._last_second: int | None = None
        self._memo: dict[int, fast.RecordFields] = {}  # DF8 records already decoded

    def start(self, now: float) -> bytes:
        if self._binary is None or not self.send_set_format:
            return b""
        self._awaiting_reply = True
        return codec.set_format_command(self._binary.code)

    def receive(self, data: bytes, now: float | None) -> list[Item]:
        self._buffer += data
        self._now = now
        # stats.readings is counted where readings are made (_report).
        if self._binary is None:
            return self._receive_lines()
        return self._receive_binary(self._binary)

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
            if self._locked and not self._awaiting_reply:
                # The fast path, where the frame-by-frame one would do the same:
                # at a packet boundary, or (DF8) once the lock is confirmed.
                if isinstance(fmt, codec.PacketFormat):
                    end = self._take_packets(fmt, items, pos) if not self._frames else pos
                else:
                    end = self._take_records(items, pos) if not self._confirming else pos
                if end > pos:
                    pos = end
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

    def _take_packets(self, fmt: codec.PacketFormat, items: list[Item], pos: int) -> int:
        """Decode the good whole packets from `pos` (locked, at a packet start) into
        `items`, as :meth:`_good_frame` would frame by frame; returns where they end."""
        data = self._buffer[pos:pos + fast.RUN_BYTES]
        count = fast.good_packets(fmt, data)
        for offset in range(0, count * fast.PACKET_BYTES, fast.PACKET_BYTES):
            facts, pulse_rate, spo2, firmware = fast.packet_fields(fmt, data, offset)
            self.firmware_revision = firmware
            self._report(items, facts, pulse_rate, spo2, self._stamp(pos + offset), True)
        frames = count * fmt.packet_frames
        self.stats.frames_ok += frames
        self._frames_seen += frames
        self.packets_ok += count
        return pos + count * fast.PACKET_BYTES

    def _take_records(self, items: list[Item], pos: int) -> int:
        """Decode the good DF8 records from `pos` (locked, confirmed) into `items`;
        returns where they end."""
        end, now, report = pos, self._now, self._report
        data = self._buffer[pos:pos + fast.RUN_BYTES]
        for facts, pulse_rate, spo2 in fast.good_records(data, self._memo):
            report(items, facts, pulse_rate, spo2, self._stamp(end) if now is None else now, False)
            end += 4
        count = (end - pos) // 4
        self.stats.frames_ok += count
        self._frames_seen += count
        self.packets_ok += count
        return end

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
        end = buf.rfind(b"\n")
        if end >= 0:
            # Every complete line at once: one split, not a search and a delete a line.
            lines = bytes(buf[:end]).split(b"\n")
            del buf[:end + 1]
            for raw in lines:
                raw = raw.strip()
                if raw:
                    self._line(items, raw)
        while len(buf) > MAX_LINE:
            # No line end in sight: keep only from the next plausible start.
            t = self._now if self._now is not None else self.capture_start + self._lines
            items += self._bad_frame("line too long", t, "", bytes(buf))
            start = buf.find(codec.ASCII_START, 1)
            del buf[:start if start > 0 else len(buf)]
        return items

    def _line(self, items: list[Item], raw: bytes) -> None:
        t = self._now if self._now is not None else self.capture_start + self._lines
        self._lines += 1  # an unreadable line still took its second
        fields = fast.ascii_fields(raw)
        if fields is None:  # not plainly a record: judged and counted below
            start = raw.find(codec.ASCII_START)
            if start < 0:
                items += self._bad_frame("unreadable line", t, "", raw)
                return
            if start:
                items += self._bad_frame("garbage before line", t, "", raw[:start])
            try:
                record = codec.parse_ascii_line(raw[start:].decode("ascii"))
            except (ValueError, UnicodeDecodeError) as exc:
                items += self._bad_frame("unreadable line", t, str(exc), raw)
                return
            fields = fast.facts_of(record.flags), record.pulse_rate, record.spo2
        self.stats.frames_ok += 1
        self.packets_ok += 1
        self._report(items, *fields, t, per_second=False)

    # -- records to readings and events ----------------------------------------------

    def _record(self, record: NoninRecord, t: float, *, per_second: bool) -> list[Item]:
        items: list[Item] = []
        self._report(items, fast.facts_of(record.flags), record.pulse_rate, record.spo2, t,
                     per_second=per_second)
        return items

    def _report(self, items: list[Item], facts: FlagFacts, pulse_rate: int | None,
                spo2: int | None, t: float, per_second: bool) -> None:
        """Append the events and readings of one record at `t` to `items`.

        With `per_second`, readings (and a device_status change) only for the
        first record of each second of `t`, or where the sensor came off or back.
        """
        previous = self._facts
        off_changed = False
        if facts is not previous:  # the same flags as the last record: no events
            off_changed = facts.sensor_off != previous.sensor_off
            if off_changed:
                kind = DeviceEventKind.SENSOR_OFF if facts.sensor_off else \
                    DeviceEventKind.SENSOR_ON
                items.append(DeviceEvent(t, kind, self.source,
                                         {"flags": codec.flag_names(facts.flags)}))
            if facts.low_battery and not previous.low_battery:
                items.append(DeviceEvent(t, DeviceEventKind.LOW_BATTERY, self.source, {}))
            self._facts = facts
        if per_second:
            second = math.floor(t)
            if second == self._last_second and not off_changed:
                return
            self._last_second = second
        if facts.reported != self._reported:
            self._reported = facts.reported
            items.append(DeviceEvent(t, DeviceEventKind.DEVICE_STATUS, self.source,
                                     {"flags": codec.flag_names(facts.flags)}))
        # Written out for the two parameters: for DF8 and ASCII, this is most of the work.
        source, status = self.source, facts.value_status
        if pulse_rate is None or facts.sensor_off:
            items.append(Reading(t, "pulse_rate", None, _HR_UNIT, Status.INVALID, source))
        else:
            items.append(Reading(t, "pulse_rate", float(pulse_rate), _HR_UNIT, status, source))
        if spo2 is None or facts.sensor_off:
            items.append(Reading(t, "spo2", None, _SPO2_UNIT, Status.INVALID, source))
        else:
            items.append(Reading(t, "spo2", float(spo2), _SPO2_UNIT, status, source))
        self.stats.readings += 2


class NoninAdapter(StreamAdapter):
    """``nonin:/dev/ttyUSB1?format=7``"""

    link_class = NoninHost


__all__ = ["STATUS_EVENT_FLAGS", "NoninAdapter", "NoninDevice", "NoninHost"]
