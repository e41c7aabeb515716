"""Philips IntelliVue MIB/RS232 framing: escaping, FCS-16, and a resyncing decoder.

On the wire (PROTOCOLS.md, "Philips IntelliVue")::

    C0 | 11 01 LL LL | user data | FCS (LSB first) | C1

``11`` is the protocol id, ``01`` the message type, ``LL LL`` the length of
the user data. The FCS is the PPP FCS-16 of RFC 1662 (reflected polynomial
0x8408, initial 0xFFFF, result complemented) over header and user data,
unescaped; run over header, data and FCS together it leaves the residue
0xF0B8. Every C0, C1 and 7D between the flags, FCS included, is sent as
``7D, byte ^ 0x20``.

Speed: at 115200 baud the decoder must keep up with 11.5 kB/s on one core
with a thousandfold margin, so the per-byte work is done by C code
(``bytes.find``, ``bytes.replace``, ``binascii.crc_hqx``); the byte-by-byte
versions are kept as the reference the tests hold the fast ones to.

Nothing here knows what the user data means (see
:mod:`devices.protocols.intellivue_messages`).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

BOF = 0xC0          # beginning of frame
EOF = 0xC1          # end of frame
ESCAPE = 0x7D
ESCAPE_XOR = 0x20
PROTOCOL_ID = 0x11
MESSAGE_TYPE = 0x01
HEADER_SIZE = 4     # protocol id, message type, length u16
FCS_SIZE = 2
GOOD_RESIDUE = 0xF0B8
#: Escaped bytes between C0 and C1 beyond which a frame is given up as garbage
#: (U: real monitors keep frames under about 1.4 kB; this leaves room).
MAX_FRAME = 8192



def _fcs_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        register = byte
        for _ in range(8):
            register = (register >> 1) ^ 0x8408 if register & 1 else register >> 1
        table.append(register)
    return tuple(table)


_FCS_TABLE = _fcs_table()
#: Each byte with its bits in reverse order.
_REVERSED_BITS = bytes(int(f"{byte:08b}"[::-1], 2) for byte in range(256))


def _reverse16(value: int) -> int:
    return (_REVERSED_BITS[value & 0xFF] << 8) | _REVERSED_BITS[value >> 8]


# The PPP FCS is CRC-CCITT with bits reflected; binascii.crc_hqx is the
# unreflected CRC-CCITT in C. Reflecting every input byte and the register
# (before and after) turns one into the other exactly.
_GOOD_RESIDUE_HQX = _reverse16(GOOD_RESIDUE)
_BOF_BYTES, _EOF_BYTES, _ESCAPE_BYTES = bytes((BOF,)), bytes((EOF,)), bytes((ESCAPE,))
_HEADER = bytes((PROTOCOL_ID, MESSAGE_TYPE))
# (escaped pair, byte it stands for); the 7D pair last, so that a 7D it
# produces is never read as the lead of another pair.
_PAIRS = tuple((bytes((ESCAPE, byte ^ ESCAPE_XOR)), bytes((byte,))) for byte in (BOF, EOF, ESCAPE))


def fcs_register_reference(data: bytes, register: int = 0xFFFF) -> int:
    """:func:`fcs_register` byte by byte from the RFC 1662 table (for the tests)."""
    table = _FCS_TABLE
    for byte in data:
        register = (register >> 8) ^ table[(register ^ byte) & 0xFF]
    return register


def fcs_register(data: bytes, register: int = 0xFFFF) -> int:
    """The PPP FCS-16 shift register (16 bits) after `data` (not complemented).

    Run over a frame's header, data and transmitted FCS it is
    :data:`GOOD_RESIDUE` when the frame is intact.
    """
    return _reverse16(binascii.crc_hqx(data.translate(_REVERSED_BITS), _reverse16(register)))


def fcs16(data: bytes) -> int:
    """The FCS a sender appends to `data` (RFC 1662: complemented register)."""
    return fcs_register(data) ^ 0xFFFF


def escape(body: bytes) -> bytes:
    """Escape C0, C1 and 7D as ``7D, byte ^ 0x20``."""
    # 7D first: the pairs the other two add start with 7D and must stay as they are.
    for pair, byte in reversed(_PAIRS):
        body = body.replace(byte, pair)
    return bytes(body)


class FrameError(ValueError):
    """A frame that cannot be used; the message is the reason counted in the stats."""


def unescape_reference(body: bytes) -> bytes:
    """:func:`unescape` byte by byte: a 7D and any byte after it stand for that byte ^ 0x20.

    Raises
    ------
    FrameError
        A 7D with nothing after it.
    """
    out = bytearray()
    it = iter(body)
    for byte in it:
        if byte == ESCAPE:
            following = next(it, None)
            if following is None:
                raise FrameError("bad escape")
            out.append(following ^ ESCAPE_XOR)
        else:
            out.append(byte)
    return bytes(out)


def unescape(body: bytes) -> bytes:
    """Undo :func:`escape`.

    Raises
    ------
    FrameError
        A 7D with nothing after it.
    """
    if ESCAPE not in body:
        return bytes(body)
    # When every 7D leads one of the three pairs escape() writes, the pairs
    # cannot overlap (none ends in 7D), so replacing them in C is exact. Any
    # other 7D (a foreign escape, a 7D at the end) goes byte by byte, which
    # also names the fault.
    leads = body.count(_ESCAPE_BYTES)
    if leads != sum(body.count(pair) for pair, _ in _PAIRS):
        return unescape_reference(body)
    for pair, byte in _PAIRS:
        body = body.replace(pair, byte)
    return bytes(body)


def encode_frame(user_data: bytes) -> bytes:
    """The complete frame, flags included, for `user_data`."""
    if len(user_data) > 0xFFFF:
        raise ValueError(f"user data of {len(user_data)} bytes does not fit a frame")
    body = _HEADER + len(user_data).to_bytes(2, "big") + user_data
    fcs = fcs16(body)
    return _BOF_BYTES + escape(body + fcs.to_bytes(2, "little")) + _EOF_BYTES


def decode_frame_body(escaped: bytes) -> bytes:
    """The user data of one frame given the bytes between C0 and C1.

    Raises
    ------
    FrameError
        With the reason: "bad escape", "frame too short", "bad checksum",
        "bad header", "wrong length".
    """
    body = unescape(escaped) if ESCAPE in escaped else bytes(escaped)  # (most have none)
    size = len(body)
    if size < HEADER_SIZE + FCS_SIZE:
        raise FrameError("frame too short")
    if binascii.crc_hqx(body.translate(_REVERSED_BITS), 0xFFFF) != _GOOD_RESIDUE_HQX:
        raise FrameError("bad checksum")
    if body[0] != PROTOCOL_ID or body[1] != MESSAGE_TYPE:
        raise FrameError("bad header")
    if (body[2] << 8 | body[3]) != size - HEADER_SIZE - FCS_SIZE:
        raise FrameError("wrong length")
    return body[HEADER_SIZE:-FCS_SIZE]


@dataclass(frozen=True)
class Rejected:
    """Bytes thrown away by :class:`FrameDecoder`, and why."""

    reason: str
    raw: bytes


class FrameDecoder:
    """Turns a byte stream into user data, resyncing on the next C0 after any fault.

    Bytes before a C0 are "garbage between frames" (counted once a C0 shows
    where they end); a C0 before the C1 means the frame was cut short
    ("truncated frame"); a frame that never ends is dropped after
    :data:`MAX_FRAME` bytes ("frame too long").
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes | Rejected]:
        """Add `data`; return the user data of every complete frame, and rejections,
        in stream order. Never raises."""
        buffer = self._buffer
        buffer += data
        out: list[bytes | Rejected] = []
        # Walk by index and cut the buffer once at the end: deleting each
        # frame from the front would move the rest of the buffer every time.
        # The C0 found after a frame's start either cuts it short or starts
        # the next one, so each C0 is looked for once.
        position, size = 0, len(buffer)
        find = buffer.find
        start = find(BOF)
        while position < size:
            if start < 0:
                if size - position > MAX_FRAME:
                    out.append(Rejected("garbage between frames", bytes(buffer[position:])))
                    position = size
                break
            if start > position:
                out.append(Rejected("garbage between frames", bytes(buffer[position:start])))
                position = start
            end = find(EOF, start + 1)
            following = find(BOF, start + 1)
            if following >= 0 and (following < end or end < 0):
                out.append(Rejected("truncated frame", bytes(buffer[start:following])))
                position = start = following
                continue
            if end < 0:
                if size - start > MAX_FRAME:
                    out.append(Rejected("frame too long", bytes(buffer[start:])))
                    position = size
                break
            position = end + 1
            try:
                out.append(decode_frame_body(buffer[start + 1:end]))
            except FrameError as exc:
                out.append(Rejected(str(exc), bytes(buffer[start:position])))
            start = following
        del buffer[:position]
        return out
