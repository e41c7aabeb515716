"""Nonin decoding a run of well-formed data at once: the fast path of the host.

Decoding frame by frame, with :meth:`BinaryFormat.problem`, enum flag
arithmetic and a :class:`NoninRecord` for each record, costs microseconds a
frame: DF8 and ASCII fell short of issue 4's target (>= 1,000x the 960 B/s
line rate on one core) and DF2/DF7 barely met it. So
:class:`devices.protocols.nonin.NoninHost` first hands its buffer to these
functions: they check a run of DF2/DF7 packets with a handful of operations
over slices (fixed bytes, status bits, checksums), and decode DF8 records and
ASCII lines with table look-ups and one regular expression. Each accepts
only what the careful path of :mod:`nonin_codec` would accept, and returns
what it would decode; they stop at the first thing that is not plainly
good, and the careful path decides (and counts) that.

What status bits mean is not restated here: the tables are filled on first
use by the codec's own decoders, so the two paths cannot disagree. They
depend on nothing but their keys and are bounded by the keys' range.
"""

from __future__ import annotations

import functools
import operator
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from devices.protocols import nonin_codec as codec
from devices.protocols.nonin_codec import NO_FLAGS, NoninFlag, PacketFormat
from devices.vocabulary import Status

# Flags whose change is a device_status event. Yellow perfusion comes and goes
# with ordinary signal variation; reporting it would bury the rest.
STATUS_EVENT_FLAGS = ~NoninFlag.MARGINAL_PERFUSION

FRAME_BYTES = 5                                # DF2 and DF7
PACKET_BYTES = FRAME_BYTES * codec.PACKET_FRAMES
# Bytes a host hands over at a time: a bad frame ends a run, and the check of
# what lay beyond it is redone at the next lock, so a run is kept short.
RUN_BYTES = 64 * PACKET_BYTES


@dataclass(frozen=True, slots=True)
class FlagFacts:
    """What the host needs from one combination of flags, worked out once.

    Enum flag operations cost about a microsecond each, as much as the rest
    of a record's decoding; a record's flags are instead looked up as one of
    these (the same object for the same flags, so the host can compare a
    record's to the previous one's with ``is``).

    Attributes
    ----------
    flags : NoninFlag
    sensor_off : bool
    low_battery : bool
    reported : int
        The value of the flags that make a device_status event when they change.
    value_status : Status
        Of a value that is present while the sensor is on.
    """

    flags: NoninFlag
    sensor_off: bool
    low_battery: bool
    reported: int
    value_status: Status


_FACTS: dict[int, FlagFacts] = {}
# Facts, pulse rate and SpO2 of a DF8 record or an ASCII line.
RecordFields = tuple[FlagFacts, int | None, int | None]


def facts_of(flags: NoninFlag) -> FlagFacts:
    """The :class:`FlagFacts` of `flags`."""
    facts = _FACTS.get(flags.value)
    if facts is None:
        questionable = bool(flags & codec.QUESTIONABLE_FLAGS)
        facts = _FACTS[flags.value] = FlagFacts(
            flags, NoninFlag.SENSOR_DISCONNECT in flags, NoninFlag.LOW_BATTERY in flags,
            (flags & STATUS_EVENT_FLAGS).value,
            Status.QUESTIONABLE if questionable else Status.VALID)
    return facts


class _Table(dict[int, FlagFacts]):
    """Facts by an integer key, each computed by `compute` on first use."""

    def __init__(self, compute: Callable[[int], NoninFlag]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: int) -> FlagFacts:
        facts = self[key] = facts_of(self._compute(key))
        return facts


def _packet_flags(key: int) -> NoninFlag:
    """What PacketFormat.decode makes of a packet whose status bytes OR to
    ``key & 0xFF`` and whose STAT2 byte is ``key >> 8``."""
    status, stat2 = key & 0xFF, key >> 8
    frames = [bytes([0x01, status, 0, stat2 if i == codec.STAT2_FRAME else 0, 0])
              for i in range(codec.PACKET_FRAMES)]
    return codec.DF2.decode(frames).flags


# DF2/DF7 by status OR STAT2 << 8; DF8 by STATUS (less bit 7) OR STATUS2 << 8.
_PACKET_FACTS = _Table(_packet_flags)
_RECORD_FACTS = _Table(lambda key: codec.DF8.decode(
    [bytes([codec.STATUS_ALWAYS | (key & 0x7F), 0, 0, key >> 8])]).flags)


# --- DF2 / DF7 ------------------------------------------------------------------------

# A status byte's class: 0 no bit 7 (not a frame), 1 a frame, 2 a packet's first frame.
_STATUS_CLASS = bytes(0 if not b & codec.STATUS_ALWAYS else 2 if b & codec.SYNC_BIT else 1
                      for b in range(256))
_PACKET_CLASSES = b"\x02" + b"\x01" * (codec.PACKET_FRAMES - 1)


def _lanes(column: bytes | bytearray) -> int:
    """`column`'s bytes as 16-bit lanes of one integer, first byte in the top lane.

    Adding the lanes of a run's first four columns adds the four bytes of every
    frame at once (at most 1,020: no lane carries into the next), so a run's
    checksums take a few big-integer operations instead of a loop over frames.
    """
    wide = bytearray(2 * len(column))
    wide[1::2] = column
    return int.from_bytes(wide, "big")


def _first_set_lane(bits: int, lanes: int, width: int) -> int:
    """Index, counted from the top, of the highest non-zero `width`-bit lane of `bits`."""
    return lanes - 1 - (bits.bit_length() - 1) // width if bits else lanes


def good_packets(fmt: PacketFormat, data: bytes | bytearray) -> int:
    """How many whole packets at the start of `data` are good throughout.

    Good as the careful path judges it: every frame passes
    :meth:`PacketFormat.problem`, the first has the SYNC bit and the others
    do not.
    """
    count = len(data) // PACKET_BYTES
    if not count:
        return 0
    data = data[:count * PACKET_BYTES]
    frames = count * codec.PACKET_FRAMES
    good = frames  # frames before the first bad one
    if fmt.start_byte is not None:
        leads = data[0::FRAME_BYTES]
        good = len(leads) - len(leads.lstrip(bytes([fmt.start_byte])))
    classes = data[fmt.status_index::FRAME_BYTES].translate(_STATUS_CLASS)
    expected = _PACKET_CLASSES * count
    if classes != expected:
        wrong = int.from_bytes(classes, "big") ^ int.from_bytes(expected, "big")
        good = min(good, _first_set_lane(wrong, frames, 8))
    sums = sum(_lanes(data[i::FRAME_BYTES]) for i in range(FRAME_BYTES - 1))
    low_bytes = int.from_bytes(b"\x00\xff" * frames, "big")
    wrong = (sums & low_bytes) ^ _lanes(data[FRAME_BYTES - 1::FRAME_BYTES])
    good = min(good, _first_set_lane(wrong, frames, 16))
    return good // codec.PACKET_FRAMES


def packet_fields(fmt: PacketFormat, data: bytes | bytearray, offset: int,
                  ) -> tuple[FlagFacts, int | None, int | None, int]:
    """What :meth:`PacketFormat.decode` gives for the good packet at `offset`:
    facts, pulse rate, SpO2 and firmware revision."""
    end = offset + PACKET_BYTES
    status = functools.reduce(operator.or_, set(data[offset + fmt.status_index:end:FRAME_BYTES]))
    values = data[offset + 3:end:FRAME_BYTES]
    facts = _PACKET_FACTS[status | values[codec.STAT2_FRAME] << 8]
    msb, lsb = codec.REPORTED_HR_FRAMES
    spo2 = values[codec.REPORTED_SPO2_FRAME]
    return (facts, codec.combine_hr(values[msb], values[lsb]),
            None if spo2 == codec.MISSING_SPO2 else spo2, values[codec.FIRMWARE_FRAME])


# --- DF8 -------------------------------------------------------------------------------

_HR_LOW, _HR_HIGH = codec.HR_RANGE
_SPO2_LOW, _SPO2_HIGH = codec.SPO2_RANGE
# Distinct DF8 records a host remembers as decoded: a session's records repeat
# a few dozen values; a full memo is emptied, so noise cannot grow it.
RECORD_MEMO_SIZE = 1024


def record_fields(record: int) -> RecordFields | None:
    """Facts, pulse rate and SpO2 of the DF8 record `record` (its 4 bytes as a
    big-endian integer); None where :meth:`RecordFormat.problem` would object."""
    status, hr_lsb, spo2, status2 = record.to_bytes(4, "big")
    # The checks of RecordFormat.problem.
    if not status & 0x80 or (hr_lsb | spo2 | status2) & 0x80:
        return None
    hr = (status & 0x03) << 7 | hr_lsb
    if not (_HR_LOW <= hr <= _HR_HIGH or hr == codec.MISSING_HR) or not (
            _SPO2_LOW <= spo2 <= _SPO2_HIGH or spo2 == codec.MISSING_SPO2):
        return None
    return (_RECORD_FACTS[status & 0x7F | status2 << 8],
            None if hr == codec.MISSING_HR else hr,
            None if spo2 == codec.MISSING_SPO2 else spo2)


def good_records(data: bytes | bytearray, memo: dict[int, RecordFields],
                 ) -> Iterator[RecordFields]:
    """:func:`record_fields` of each DF8 record at the start of `data`, up to the
    first bad one. `memo` (the caller's, kept between calls) saves checking
    and decoding a record seen before: a patient's readings keep coming back
    to the same few values."""
    usable = len(data) - len(data) % 4
    for (record,) in struct.iter_unpack(">I", data[:usable]):
        fields = memo.get(record)
        if fields is None:
            fields = record_fields(record)
            if fields is None:
                return
            if len(memo) >= RECORD_MEMO_SIZE:
                memo.clear()
            memo[record] = fields
        yield fields


# --- ASCII -----------------------------------------------------------------------------

# nonin_codec's line pattern for bytes. Its \s, applied there to decoded text,
# also matches \x1c-\x1f; a bytes pattern's \s does not, so they are spelt out.
_SPACE = rb"[\t\n\x0b\x0c\r\x1c-\x1f ]"
_ASCII_LINE = re.compile(rb"SPO2=(\d{1,3}|-{1,3})" + _SPACE + rb"+HR=(\d{1,3}|-{1,3})"
                         + _SPACE + rb"*([F*]*)" + _SPACE + rb"*")
_PLAIN_LINE = facts_of(NO_FLAGS)


def ascii_fields(line: bytes) -> RecordFields | None:
    """Facts, pulse rate and SpO2 of a stripped line that is exactly one
    ``SPO2=XXX HR=YYY`` record, as :func:`parse_ascii_line` reads it; None
    for anything else (garbage before it, or not a line), left to the careful path."""
    match = _ASCII_LINE.fullmatch(line)
    if match is None:
        return None
    spo2, hr, marks = match.groups()
    facts = _PLAIN_LINE
    if marks:
        flags = NO_FLAGS
        if b"F" in marks:
            flags |= NoninFlag.FAST_MODE
        if b"*" in marks:
            flags |= NoninFlag.EVENT_MARK
        facts = facts_of(flags)
    return (facts, None if hr.startswith(b"-") else int(hr),
            None if spo2.startswith(b"-") else int(spo2))
