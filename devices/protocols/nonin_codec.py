"""Nonin pulse oximeter serial formats, as pure functions: bytes <-> records.

Four formats (PROTOCOLS.md, "Nonin pulse oximeters"), all 9600 baud 8 data bits:

- ``ascii`` (7500FO, 9600, 8500, BT4000): one line a second,
  ``SPO2=097 HR=072`` CR LF, ``---`` when missing, a trailing ``F`` in fast
  mode and ``*`` on an event. Some models send 2 stop bits; a port set to 1
  stop bit reads those too, so one :data:`PORT` serves all.
- Data Format 2: 5-byte frames ``01 STATUS PLETH DATA CHK``, 25 frames a
  packet, 3 packets a second; the SYNC bit marks a packet's first frame and
  DATA carries a different value in each frame of the packet.
- Data Format 7: the same with a 16-bit pleth and no leading ``01``:
  ``STATUS PLETH_MSB PLETH_LSB DATA CHK``.
- Data Format 8: 4 bytes about once a second, no checksum.

Nothing here keeps state between calls; frame sync lives in
:class:`devices.protocols.nonin.NoninHost`.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from devices.transport import PortSettings

PORT = PortSettings(baudrate=9600)
FORMATS: tuple[str, ...] = ("ascii", "2", "7", "8")
DEFAULT_FORMAT = "2"

ACK, NAK = 0x06, 0x15
MISSING_HR = 511    # 9 bits all set: no pulse rate
MISSING_SPO2 = 127  # no saturation
# The device's measuring range, used to tell a DF8 record from noise (it has no
# checksum). (U) 321 /min is the top of Nonin's published HR range.
HR_RANGE = (0, 321)
SPO2_RANGE = (0, 100)

PACKET_FRAMES = 25
PACKETS_PER_S = 3
SYNC_BIT = 0x01
STATUS_ALWAYS = 0x80  # bit 7 of every status byte is 1

# What DATA holds, by frame index (0-based) in a DF2 packet; DF7 is assumed to
# use the same table (U). Frames not listed are reserved or unused here.
HR_MSB_FRAME, HR_LSB_FRAME = 0, 1
SPO2_FRAME = 2            # 4-beat average
FIRMWARE_FRAME = 3
STAT2_FRAME = 7
SPO2_D_FRAME = 8          # display average: the number on the oximeter's screen
SPO2_FAST_FRAME = 9
E_HR_MSB_FRAME, E_HR_LSB_FRAME, E_SPO2_FRAME = 13, 14, 15

# Which frames the host reports. SpO2: the display average, so this screen
# shows what the oximeter's own screen shows. Pulse rate: frames 0/1, the only
# HR PROTOCOLS.md documents; an HR display average (HR-D) is said to sit in
# frames 19/20 (U) and would be the match for SpO2-D: change these to switch.
REPORTED_HR_FRAMES = (HR_MSB_FRAME, HR_LSB_FRAME)
REPORTED_SPO2_FRAME = SPO2_D_FRAME


class NoninFlag(enum.Flag):
    """What the status bytes of any format say, in one vocabulary."""

    SENSOR_DISCONNECT = enum.auto()
    ARTIFACT = enum.auto()
    OUT_OF_TRACK = enum.auto()
    SENSOR_ALARM = enum.auto()
    LOW_PERFUSION = enum.auto()       # red perfusion
    MARGINAL_PERFUSION = enum.auto()  # yellow perfusion
    LOW_BATTERY = enum.auto()
    FAST_MODE = enum.auto()           # ascii trailing F
    EVENT_MARK = enum.auto()          # ascii trailing *


NO_FLAGS = NoninFlag(0)
# A value under these flags is shown but not trusted. Sensor alarm ("unusable
# data") and red perfusion are judged questionable rather than invalid (U).
QUESTIONABLE_FLAGS = (NoninFlag.ARTIFACT | NoninFlag.OUT_OF_TRACK | NoninFlag.SENSOR_ALARM
                      | NoninFlag.LOW_PERFUSION)


def flag_names(flags: NoninFlag) -> list[str]:
    """Lower-case names of the flags set, in declaration order."""
    return [f.name.lower() for f in NoninFlag if f in flags and f.name]


@dataclass(frozen=True)
class NoninRecord:
    """One decoded packet, record or line.

    Attributes
    ----------
    pulse_rate : int or None
        /min; None when the device sent its missing marker.
    spo2 : int or None
        %; None when missing.
    flags : NoninFlag
    firmware : int or None
        DF2/DF7 firmware revision byte.
    """

    pulse_rate: int | None
    spo2: int | None
    flags: NoninFlag = NO_FLAGS
    firmware: int | None = None


def checksum(data: bytes | Sequence[int]) -> int:
    """DF2/DF7 frame checksum: the sum of the bytes, modulo 256."""
    return sum(data) & 0xFF


def combine_hr(msb: int, lsb: int) -> int | None:
    """A 9-bit pulse rate from its two 7-bit halves; None for the missing marker."""
    value = ((msb & 0x03) << 7) | (lsb & 0x7F)
    return None if value == MISSING_HR else value


def _spo2(byte: int) -> int | None:
    # Out-of-range bytes pass through: the rules layer judges plausibility.
    return None if byte == MISSING_SPO2 else byte


# --- DF2 / DF7 status byte -------------------------------------------------------

_PACKET_STATUS_BITS: dict[int, NoninFlag] = {
    0x40: NoninFlag.SENSOR_DISCONNECT, 0x20: NoninFlag.ARTIFACT,
    0x10: NoninFlag.OUT_OF_TRACK, 0x08: NoninFlag.SENSOR_ALARM}
_PERFUSION_MASK, _RED, _GREEN = 0x06, 0x04, 0x02  # red + green = yellow


def _to_flags(byte: int, table: dict[int, NoninFlag]) -> NoninFlag:
    flags = NO_FLAGS
    for bit, flag in table.items():
        if byte & bit:
            flags |= flag
    return flags


def _to_bits(flags: NoninFlag, table: dict[int, NoninFlag]) -> int:
    return sum(bit for bit, flag in table.items() if flag in flags)


def packet_status_flags(status: int) -> NoninFlag:
    """Flags of a DF2/DF7 STATUS byte."""
    flags = _to_flags(status, _PACKET_STATUS_BITS)
    perfusion = status & _PERFUSION_MASK
    if perfusion == _RED:
        flags |= NoninFlag.LOW_PERFUSION
    elif perfusion == _RED | _GREEN:
        flags |= NoninFlag.MARGINAL_PERFUSION
    return flags


def packet_status_byte(flags: NoninFlag, *, sync: bool) -> int:
    """The DF2/DF7 STATUS byte a device sends for `flags` (green perfusion when fine)."""
    status = STATUS_ALWAYS | (SYNC_BIT if sync else 0) | _to_bits(flags, _PACKET_STATUS_BITS)
    if NoninFlag.LOW_PERFUSION in flags:
        status |= _RED
    elif NoninFlag.MARGINAL_PERFUSION in flags:
        status |= _RED | _GREEN
    elif NoninFlag.SENSOR_DISCONNECT not in flags:
        status |= _GREEN
    return status


# --- binary formats -----------------------------------------------------------------

@dataclass(frozen=True)
class BinaryFormat:
    """Framing facts of one binary format.

    Attributes
    ----------
    name : str
        "2", "7" or "8", as in the ``format`` option.
    code : int
        The byte of the set-format command.
    frame_size : int
        Bytes per frame (DF8: per record).
    packet_frames : int
        Frames per packet (1 for DF8, whose record is its own packet).
    bytes_per_s : float
        Nominal bytes a second: places records in a capture without receipt times.
    """

    name: str
    code: int
    frame_size: int
    packet_frames: int
    bytes_per_s: float

    def problem(self, frame: bytes) -> str | None:
        """Why `frame` (``frame_size`` bytes) is not a good frame; None if it is."""
        raise NotImplementedError

    def starts_packet(self, frame: bytes) -> bool:
        """True for the first frame of a packet (a good frame assumed)."""
        return True

    def decode(self, frames: Sequence[bytes]) -> NoninRecord:
        """A record from one packet's good frames."""
        raise NotImplementedError


@dataclass(frozen=True)
class PacketFormat(BinaryFormat):
    """DF2 and DF7: 5-byte checksummed frames, 25 to a packet.

    Attributes
    ----------
    start_byte : int or None
        The constant first byte of every frame (DF2: 0x01; DF7 has none).
    """

    start_byte: int | None = None

    @property
    def status_index(self) -> int:
        return 0 if self.start_byte is None else 1

    def problem(self, frame: bytes) -> str | None:
        if self.start_byte is not None and frame[0] != self.start_byte:
            return "lost frame sync"
        if not frame[self.status_index] & STATUS_ALWAYS:
            return "lost frame sync"
        if checksum(frame[:4]) != frame[4]:
            return "bad checksum"
        return None

    def starts_packet(self, frame: bytes) -> bool:
        return bool(frame[self.status_index] & SYNC_BIT)

    def decode(self, frames: Sequence[bytes]) -> NoninRecord:
        index = self.status_index
        status = 0
        for frame in frames:
            status |= frame[index]
        data = [frame[3] for frame in frames]
        flags = packet_status_flags(status)
        if data[STAT2_FRAME] & 0x01:
            flags |= NoninFlag.LOW_BATTERY
        msb, lsb = REPORTED_HR_FRAMES
        return NoninRecord(combine_hr(data[msb], data[lsb]), _spo2(data[REPORTED_SPO2_FRAME]),
                           flags, data[FIRMWARE_FRAME])

    def encode(self, record: NoninRecord, pleth: Sequence[int], firmware: int = 0x2A) -> bytes:
        """One packet as a device sends it; `pleth` gives the 25 waveform samples
        (8-bit for DF2, 16-bit for DF7)."""
        hr = MISSING_HR if record.pulse_rate is None else record.pulse_rate
        spo2 = MISSING_SPO2 if record.spo2 is None else record.spo2
        data = [0] * PACKET_FRAMES
        data[HR_MSB_FRAME] = data[E_HR_MSB_FRAME] = (hr >> 7) & 0x03
        data[HR_LSB_FRAME] = data[E_HR_LSB_FRAME] = hr & 0x7F
        for frame in (SPO2_FRAME, SPO2_D_FRAME, SPO2_FAST_FRAME, E_SPO2_FRAME):
            data[frame] = spo2
        data[FIRMWARE_FRAME] = firmware
        data[STAT2_FRAME] = 0x01 if NoninFlag.LOW_BATTERY in record.flags else 0x00
        out = bytearray()
        for i in range(PACKET_FRAMES):
            status = packet_status_byte(record.flags, sync=i == 0)
            if self.start_byte is not None:
                head = [self.start_byte, status, pleth[i] & 0xFF, data[i]]
            else:
                head = [status, (pleth[i] >> 8) & 0xFF, pleth[i] & 0xFF, data[i]]
            out += bytes([*head, checksum(head)])
        return bytes(out)


_DF8_STATUS_BITS: dict[int, NoninFlag] = {
    0x40: NoninFlag.SENSOR_DISCONNECT,  # (U): PROTOCOLS.md lists no DF8 disconnect bit
    0x20: NoninFlag.OUT_OF_TRACK, 0x10: NoninFlag.LOW_PERFUSION,
    0x08: NoninFlag.MARGINAL_PERFUSION, 0x04: NoninFlag.ARTIFACT}
_DF8_STATUS2_BITS: dict[int, NoninFlag] = {0x08: NoninFlag.SENSOR_ALARM,
                                           0x01: NoninFlag.LOW_BATTERY}


@dataclass(frozen=True)
class RecordFormat(BinaryFormat):
    """DF8: ``STATUS HR_LSB SPO2 STATUS2``. With no checksum, a record is told
    from noise by its fixed bits (bit 7 set in STATUS only, (U) for STATUS2)
    and by its values being in the device's range or its missing markers."""

    def problem(self, frame: bytes) -> str | None:
        if not frame[0] & STATUS_ALWAYS or any(b & 0x80 for b in frame[1:4]):
            return "lost frame sync"
        hr = ((frame[0] & 0x03) << 7) | frame[1]
        if not (HR_RANGE[0] <= hr <= HR_RANGE[1] or hr == MISSING_HR) or not (
                SPO2_RANGE[0] <= frame[2] <= SPO2_RANGE[1] or frame[2] == MISSING_SPO2):
            return "value out of range"
        return None

    def decode(self, frames: Sequence[bytes]) -> NoninRecord:
        status, hr_lsb, spo2, status2 = frames[0][:4]
        flags = _to_flags(status, _DF8_STATUS_BITS) | _to_flags(status2, _DF8_STATUS2_BITS)
        return NoninRecord(combine_hr(status, hr_lsb), _spo2(spo2), flags)

    def encode(self, record: NoninRecord) -> bytes:
        hr = MISSING_HR if record.pulse_rate is None else record.pulse_rate
        spo2 = MISSING_SPO2 if record.spo2 is None else record.spo2
        status = STATUS_ALWAYS | ((hr >> 7) & 0x03) | _to_bits(record.flags, _DF8_STATUS_BITS)
        status2 = _to_bits(record.flags, _DF8_STATUS2_BITS)
        return bytes([status, hr & 0x7F, spo2 & 0x7F, status2])


DF2 = PacketFormat("2", 2, 5, PACKET_FRAMES, 5 * PACKET_FRAMES * PACKETS_PER_S, start_byte=0x01)
DF7 = PacketFormat("7", 7, 5, PACKET_FRAMES, 5 * PACKET_FRAMES * PACKETS_PER_S)
DF8 = RecordFormat("8", 8, 4, 1, 4.0)
BINARY_FORMATS: dict[str, BinaryFormat] = {f.name: f for f in (DF2, DF7, DF8)}


def set_format_command(code: int) -> bytes:
    """The host's request to switch the device to data format `code`."""
    return bytes([0x02, 0x70, 0x02, 0x02, code & 0xFF, 0x03])


SET_FORMAT_PREFIX = set_format_command(0)[:4]


def parse_format(text: str | None) -> str:
    """The ``format`` option: ``ascii``, ``2``, ``7`` or ``8`` (default 2).

    Raises
    ------
    ValueError
        Any other value.
    """
    if text is None:
        return DEFAULT_FORMAT
    name = text.strip().lower()
    if name not in FORMATS:
        raise ValueError(f"format={text!r} is not a Nonin format; use ascii, 2, 7 or 8")
    return name


_YES_NO = {"yes": True, "true": True, "1": True, "on": True,
           "no": False, "false": False, "0": False, "off": False}


def parse_yes_no(key: str, text: str | None, default: bool) -> bool:
    """A yes/no option; ValueError for anything else."""
    if text is None:
        return default
    try:
        return _YES_NO[text.strip().lower()]
    except KeyError:
        raise ValueError(f"{key}={text!r} must be yes or no") from None


def pleth_wave(phase: float, pulse_rate: int | None, bits: int) -> tuple[list[int], float]:
    """One packet's pleth samples (75 Hz, `bits` wide: 8 for DF2, 16 for DF7) for
    the emulator: a systolic peak and a dicrotic wave a beat at `pulse_rate`
    /min, flat with no pulse. `phase` (0-1 of a beat) carries on from packet to
    packet; returns the samples and the new phase."""
    top = (1 << bits) - 1
    if pulse_rate is None:
        return [top // 2] * PACKET_FRAMES, phase
    step = pulse_rate / 60.0 / (PACKET_FRAMES * PACKETS_PER_S)
    samples = []
    for _ in range(PACKET_FRAMES):
        phase = (phase + step) % 1.0
        shape = (math.exp(-((phase - 0.2) / 0.09) ** 2)
                 + 0.4 * math.exp(-((phase - 0.5) / 0.12) ** 2))
        samples.append(min(top, round(top * (0.1 + 0.75 * shape))))
    return samples, phase


# --- ASCII ---------------------------------------------------------------------------

_ASCII_LINE = re.compile(r"SPO2=(?P<spo2>\d{1,3}|-{1,3})\s+HR=(?P<hr>\d{1,3}|-{1,3})"
                         r"\s*(?P<marks>[F*]*)\s*")
ASCII_START = b"SPO2="


def parse_ascii_line(text: str) -> NoninRecord:
    """Decode one ASCII line (without CR LF), starting at ``SPO2=``.

    Raises
    ------
    ValueError
        Not the ``SPO2=XXX HR=YYY`` shape.
    """
    match = _ASCII_LINE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text[:40]!r} is not 'SPO2=XXX HR=YYY'")
    spo2, hr, marks = match.group("spo2", "hr", "marks")
    flags = NO_FLAGS
    if "F" in marks:
        flags |= NoninFlag.FAST_MODE
    if "*" in marks:
        flags |= NoninFlag.EVENT_MARK
    return NoninRecord(None if hr.startswith("-") else int(hr),
                       None if spo2.startswith("-") else int(spo2), flags)


def format_ascii_line(record: NoninRecord) -> bytes:
    """One line as an ASCII model writes it, with CR LF."""
    spo2 = "---" if record.spo2 is None else f"{record.spo2:03d}"
    hr = "---" if record.pulse_rate is None else f"{record.pulse_rate:03d}"
    marks = ("F" if NoninFlag.FAST_MODE in record.flags else "") + (
        "*" if NoninFlag.EVENT_MARK in record.flags else "")
    return f"SPO2={spo2} HR={hr}{' ' + marks if marks else ''}\r\n".encode("ascii")
