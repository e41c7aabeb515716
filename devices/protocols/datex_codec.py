"""GE Datex-Ohmeda S/5 computer interface ("DRI"): the pure codec, no port, no clock.

From PROTOCOLS.md, checked against the real capture in ``tests/data``: a frame
is ``7E`` + byte-stuffed (payload + 8-bit sum of the payload) + ``7E``; a
payload is a little-endian record, a 40-byte header with up to 8 subrecord
descriptors, then the subrecords. The host asks with a 49-byte request; a
physiological subrecord is ``time u32`` then the basic class block of groups
(``status u32, label u16``, i16 values); values at or below -32001 are markers.

Parsers raise :class:`FrameError` (a ValueError) whose ``reason`` is the
statistics key; :class:`Deframer` never raises. The links that count and
resync are in :mod:`devices.protocols.datex`.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FLAG = 0x7E
ESCAPE = 0x7D
ESCAPE_XOR = 0x20          # 7E -> 7D 5E, 7D -> 7D 5D
HEADER_LEN = 40
SUBRECORD_SLOTS = 8
END_OF_LIST = 0xFF
#: Longest record accepted (bytes, unstuffed). r_len is an i16, but the
#: capture's longest is 1152 (four 278-byte classes); 16 KiB leaves room. (U)
MAX_RECORD_LEN = 16384
#: Longest run between two flags before it is thrown away (every byte stuffed).
MAX_STUFFED_LEN = 2 * (MAX_RECORD_LEN + 1)

_HEADER = struct.Struct("<hBBHIBBHh")     # r_len ... r_maintype, 16 bytes
_DESCRIPTOR = struct.Struct("<hB")        # sr_offset, sr_type
_REQUEST = struct.Struct("<BhIh")         # phdb_rcrd_type, tx_interval, class_bf, reserved
_I16 = struct.Struct("<h")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


class FrameError(ValueError):
    """A frame or record that cannot be used; ``reason`` is the statistics key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class MainType(enum.IntEnum):
    """``r_maintype``: what a record carries."""

    PHYSIOLOGICAL = 0
    WAVEFORM = 1
    ALARM = 4


class PhdbRecordType(enum.IntEnum):
    """``phdb_rcrd_type`` of a request, and the sr_type of the subrecords it brings."""

    DISPLAYED = 1
    TREND_10S = 2
    TREND_60S = 3


# -- framing -----------------------------------------------------------------------------

def checksum(payload: bytes) -> int:
    """8-bit sum of the unstuffed payload bytes."""
    return sum(payload) & 0xFF


def stuff(data: bytes) -> bytes:
    """Escape 0x7E and 0x7D so that a flag never appears inside a frame."""
    return (data.replace(b"\x7d", b"\x7d\x5d")).replace(b"\x7e", b"\x7d\x5e")


def unstuff(data: bytes) -> bytes:
    """Undo :func:`stuff`; FrameError ``bad stuffing`` for an escape not
    followed by 5E or 5D (or at the end)."""
    first, *escaped = data.split(bytes([ESCAPE]))
    out = bytearray(first)
    for part in escaped:
        if not part or part[0] not in (FLAG ^ ESCAPE_XOR, ESCAPE ^ ESCAPE_XOR):
            raise FrameError("bad stuffing", f"7D {part[:1].hex().upper() or 'at the end'}")
        out.append(part[0] ^ ESCAPE_XOR)
        out += part[1:]
    return bytes(out)


def frame(payload: bytes) -> bytes:
    """``7E`` + stuffed (payload + checksum) + ``7E``, as on the wire."""
    return bytes([FLAG]) + stuff(payload + bytes([checksum(payload)])) + bytes([FLAG])


def unframe(body: bytes) -> bytes:
    """The payload of what came between two flags, checksum checked and removed.

    FrameError ``garbage between frames`` (too short for a header and a
    checksum), ``bad stuffing`` or ``bad checksum``.
    """
    if len(body) < HEADER_LEN + 1:
        # Stuffing only lengthens, so this cannot be a record.
        raise FrameError("garbage between frames", f"{len(body)} bytes")
    data = unstuff(body)
    if len(data) < HEADER_LEN + 1:
        raise FrameError("garbage between frames", f"{len(data)} bytes unstuffed")
    payload, received = data[:-1], data[-1]
    if checksum(payload) != received:
        raise FrameError("bad checksum", f"sum {checksum(payload):02X}, frame says {received:02X}")
    return payload


@dataclass(frozen=True)
class Rejected:
    """Bytes between flags that were not a frame, and why."""

    reason: str
    raw: bytes
    detail: str = ""


class Deframer:
    """Cuts a byte stream at the flags; never raises.

    The stream is cut at every 0x7E: a frame's closing flag and the next one's
    opening flag come back to back, so empty pieces are skipped, and any piece
    that is not a good frame (garbage, a frame cut by a pulled cable) is
    rejected on its own, the next flag starting afresh.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._synced = False        # a flag has been seen on this connection
        self._discarding = False    # inside an over-long run already rejected

    def feed(self, data: bytes) -> list[bytes | Rejected]:
        """Payloads of the complete frames in `data` (plus what was kept), or rejections."""
        self._buffer += data
        out: list[bytes | Rejected] = []
        while True:
            end = self._buffer.find(FLAG)
            if end < 0:
                if len(self._buffer) > MAX_STUFFED_LEN:
                    if not self._discarding:
                        out.append(Rejected("frame too long", bytes(self._buffer[:60]),
                                            f"no flag in {len(self._buffer)} bytes"))
                    self._buffer.clear()
                    self._discarding = True
                return out
            body = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            if self._discarding:
                self._discarding = False   # the tail of the run rejected above
            elif not self._synced:
                # Connected mid-frame: what came before the first flag is a tail.
                if body:
                    out.append(Rejected("no frame start", body[:60], f"{len(body)} bytes"))
            elif len(body) > MAX_STUFFED_LEN:
                out.append(Rejected("frame too long", body[:60], f"{len(body)} bytes"))
            elif body:
                try:
                    out.append(unframe(body))
                except FrameError as exc:
                    out.append(Rejected(exc.reason, body[:60], str(exc)))
            self._synced = True


# -- records -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Header:
    """The 40-byte record header: r_len (whole record), r_nbr, r_dri_level,
    plug_id, r_time (Unix seconds, the monitor's clock), r_maintype, and the
    ``(sr_offset, sr_type)`` descriptors before the 0xFF end of the list."""

    length: int
    number: int
    dri_level: int
    plug_id: int
    time: int
    main_type: int
    subrecords: tuple[tuple[int, int], ...]


def parse_header(payload: bytes) -> Header:
    """The header of a record whose checksum is good.

    FrameError ``wrong length`` (r_len is not the record's length) or ``bad
    subrecord list`` (an offset outside the record).
    """
    if len(payload) < HEADER_LEN:
        raise FrameError("wrong length", f"{len(payload)} bytes, shorter than a header")
    length, number, level, plug, r_time, _, _, _, main_type = _HEADER.unpack_from(payload)
    if length != len(payload):
        raise FrameError("wrong length", f"r_len {length}, record has {len(payload)} bytes")
    descriptors = []
    for slot in range(SUBRECORD_SLOTS):
        offset, sr_type = _DESCRIPTOR.unpack_from(payload, _HEADER.size + 3 * slot)
        if sr_type == END_OF_LIST:
            break
        if not 0 <= offset <= length - HEADER_LEN:
            raise FrameError("bad subrecord list", f"subrecord {slot} at offset {offset}")
        descriptors.append((offset, sr_type))
    return Header(length, number, level, plug, r_time, main_type, tuple(descriptors))


def build_record(main_type: int, subrecords: Iterable[tuple[int, bytes]], *, r_time: int = 0,
                 number: int = 0, dri_level: int = 0, plug_id: int = 0) -> bytes:
    """An unframed record: header, descriptor list ended by 0xFF, subrecord bodies.

    `subrecords` are ``(sr_type, body)`` pairs, at most 7 (the 8th slot ends the list).
    """
    parts = list(subrecords)
    if len(parts) >= SUBRECORD_SLOTS:
        raise ValueError(f"at most {SUBRECORD_SLOTS - 1} subrecords, not {len(parts)}")
    descriptors = bytearray()
    offset = 0
    for sr_type, body in parts:
        descriptors += _DESCRIPTOR.pack(offset, sr_type)
        offset += len(body)
    descriptors += _DESCRIPTOR.pack(0, END_OF_LIST)
    descriptors += bytes(3 * SUBRECORD_SLOTS - len(descriptors))
    length = HEADER_LEN + offset
    header = _HEADER.pack(length, number & 0xFF, dri_level, plug_id, r_time & 0xFFFFFFFF,
                          0, 0, 0, main_type)
    return header + bytes(descriptors) + b"".join(body for _, body in parts)


def subrecord_bodies(payload: bytes, header: Header) -> list[tuple[int, bytes]]:
    """``(sr_type, body)`` of each subrecord; a body runs to the next subrecord's start."""
    starts = sorted({HEADER_LEN + offset for offset, _ in header.subrecords} | {len(payload)})
    bodies = []
    for offset, sr_type in header.subrecords:
        start = HEADER_LEN + offset
        end = next(s for s in starts if s > start) if start < len(payload) else start
        bodies.append((sr_type, payload[start:end]))
    return bodies


# -- the request ---------------------------------------------------------------------------

#: DRI level and classes of the request in PROTOCOLS.md's example (displayed
#: values every 5 s): level 0x09, classes ext1|ext2|ext3 (basic is always sent).
#: This program reads only the basic class; the example's values are kept
#: because they are the bytes known to work. (U)
REQUEST_DRI_LEVEL = 0x09
REQUEST_CLASSES = 0x02 | 0x04 | 0x08
REQUEST_LEN = HEADER_LEN + _REQUEST.size   # 49


@dataclass(frozen=True)
class PhdbRequest:
    """A physiological data request: what, how often (s; 0 stops), which classes."""

    record_type: int
    interval_s: int
    classes: int


def build_request(interval_s: int, *, record_type: int = PhdbRecordType.DISPLAYED,
                  classes: int = REQUEST_CLASSES, dri_level: int = REQUEST_DRI_LEVEL) -> bytes:
    """The framed 49-byte request; ``interval_s=0`` stops the transmission."""
    if not 0 <= interval_s <= 32767:
        raise ValueError(f"tx_interval is an i16 of seconds, not {interval_s!r}")
    body = _REQUEST.pack(record_type, interval_s, classes, 0)
    # One subrecord of type 0 (the request) at offset 0, then the end of the list.
    return frame(build_record(MainType.PHYSIOLOGICAL, [(0, body)], dri_level=dri_level))


def parse_request(payload: bytes) -> PhdbRequest:
    """The request in a record a host sent; FrameError ``not a request`` for another."""
    header = parse_header(payload)
    if (header.main_type != MainType.PHYSIOLOGICAL or header.length != REQUEST_LEN
            or header.subrecords[:1] != ((0, 0),)):
        raise FrameError("not a request", f"main type {header.main_type}, {header.length} bytes")
    record_type, interval, classes, _ = _REQUEST.unpack_from(payload, HEADER_LEN)
    return PhdbRequest(record_type, interval, classes)


# -- the basic class -------------------------------------------------------------------------

#: Markers: i16 values at or below -32001 say something about the value.
MARKER_LIMIT = -32001
MARKERS: dict[int, str] = {-32767: "invalid", -32766: "not updated", -32765: "discontinuity",
                           -32764: "under range", -32763: "over range",
                           -32762: "not calibrated"}
INVALID = -32767
NOT_UPDATED = "not updated"


def marker_name(raw: int) -> str | None:
    """The marker `raw` stands for, or None for a number."""
    if raw > MARKER_LIMIT:
        return None
    return MARKERS.get(raw, f"marker {raw}")


# Group starts (byte offsets in the basic block). The offsets of PROTOCOLS.md
# fit groups of ``status u32, label u16`` + i16 values: ECG 5 values, four
# invasive pressures of 4, NIBP 4, four temperatures of 1, SpO2 4, CO2 4.
GROUPS: dict[str, int] = {"ecg": 0, "nibp": 72, "t1": 86, "spo2": 118, "co2": 132}
GROUP_EXISTS = 0x1   # status bit 0 (U: from an open-source DRI header, not PROTOCOLS.md)
GROUP_ACTIVE = 0x2   # status bit 1 (U: same source)


@dataclass(frozen=True)
class Field:
    """One i16 value of the basic block: its group, byte offset and divisor."""

    group: str
    offset: int
    divisor: float = 1.0


FIELDS: dict[str, Field] = {
    "ecg_hr": Field("ecg", 6),
    "ecg_imp_rr": Field("ecg", 14),
    "nibp_sys": Field("nibp", 78, 100.0),
    "nibp_dia": Field("nibp", 80, 100.0),
    "nibp_mean": Field("nibp", 82, 100.0),
    "t1_temp": Field("t1", 92, 100.0),
    "spo2": Field("spo2", 124, 100.0),
    "spo2_pr": Field("spo2", 126),
    "co2_et": Field("co2", 138, 100.0),       # % of ambient pressure
    "co2_fi": Field("co2", 140, 100.0),       # %
    "co2_rr": Field("co2", 142),
    "co2_amb": Field("co2", 144, 10.0),       # mmHg
}
BASIC_NEEDED = max(f.offset for f in FIELDS.values()) + 2   # bytes of the block read
#: The basic class block and a whole subrecord (time + block + trailer), as
#: the capture has them: 278-byte subrecords, one per class. (U: not in PROTOCOLS.md)
BASIC_LEN = 270
SUBRECORD_LEN = 4 + BASIC_LEN + 4
#: In the capture a subrecord ends ``marker u8, reserved u8, u16`` whose high
#: byte is the class (0 basic, 1-3 ext1-3) and low byte 0xA1 (DRI level 10,
#: displayed). Used only to pick the basic class when several come. (U)
CLASS_TRAILER_OFFSET = 4 + BASIC_LEN + 2


@dataclass(frozen=True)
class BasicBlock:
    """The basic class of one physiological subrecord: raw i16 values and group statuses."""

    time: int
    raw: Mapping[str, int]
    status: Mapping[str, int]

    def exists(self, group: str) -> bool:
        return bool(self.status[group] & GROUP_EXISTS)

    def active(self, group: str) -> bool:
        return bool(self.status[group] & GROUP_ACTIVE)

    def value(self, name: str) -> float | None:
        """The scaled value of field `name`, None for a marker."""
        raw = self.raw[name]
        return None if marker_name(raw) else raw / FIELDS[name].divisor


def subrecord_class(body: bytes) -> int | None:
    """The class in a whole subrecord's trailer (0 basic), None if it has none."""
    if len(body) < SUBRECORD_LEN:
        return None
    return (_U16.unpack_from(body, CLASS_TRAILER_OFFSET)[0] >> 8) & 0x0F


def parse_physiological(payload: bytes, header: Header) -> BasicBlock | None:
    """The basic class block of a physiological record; None if it has no values
    subrecord (displayed or trend). FrameError ``unreadable record`` if too short.
    """
    values_types = {t.value for t in PhdbRecordType}
    for sr_type, body in subrecord_bodies(payload, header):
        if sr_type not in values_types or subrecord_class(body) not in (None, 0):
            continue
        if len(body) < 4 + BASIC_NEEDED:
            raise FrameError("unreadable record", f"values subrecord of {len(body)} bytes")
        return parse_basic(body)
    return None


def parse_basic(body: bytes) -> BasicBlock:
    """Time, values and group statuses of a subrecord (``time u32`` + basic block)."""
    block = body[4:]
    raw = {name: _I16.unpack_from(block, f.offset)[0] for name, f in FIELDS.items()}
    status = {group: _U32.unpack_from(block, offset)[0] for group, offset in GROUPS.items()}
    return BasicBlock(_U32.unpack_from(body)[0], raw, status)


def build_basic(r_time: int, raw: Mapping[str, int], status: Mapping[str, int], *,
                trailer: int = 0x00A1) -> bytes:
    """A whole basic class subrecord: time, block, trailer.

    Fields missing from `raw` are sent as "invalid"; groups missing from
    `status` as not present (status 0). The rest of the block is zero: the
    other groups (invasive pressures, T2-T4, ...) then say "not present".
    """
    block = bytearray(BASIC_LEN)
    for group, offset in GROUPS.items():
        _U32.pack_into(block, offset, status.get(group, 0))
    for name, f in FIELDS.items():
        _I16.pack_into(block, f.offset, raw.get(name, INVALID))
    return _U32.pack(r_time & 0xFFFFFFFF) + bytes(block) + b"\x00\x00" + _U16.pack(trailer)
