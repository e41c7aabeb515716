"""Philips IntelliVue MIB/RS232 framing: escaping, FCS-16, and a resyncing decoder.

On the wire (PROTOCOLS.md, "Philips IntelliVue")::

    C0 | 11 01 LL LL | user data | FCS (LSB first) | C1

``11`` is the protocol id, ``01`` the message type, ``LL LL`` the length of
the user data. The FCS is the PPP FCS-16 of RFC 1662 (reflected polynomial
0x8408, initial 0xFFFF, result complemented) over header and user data,
unescaped; run over header, data and FCS together it leaves the residue
0xF0B8. Every C0, C1 and 7D between the flags, FCS included, is sent as
``7D, byte ^ 0x20``.

Nothing here knows what the user data means (see
:mod:`devices.protocols.intellivue_messages`).
"""

from __future__ import annotations

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

_ESCAPED = frozenset({BOF, EOF, ESCAPE})


def _fcs_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        register = byte
        for _ in range(8):
            register = (register >> 1) ^ 0x8408 if register & 1 else register >> 1
        table.append(register)
    return tuple(table)


_FCS_TABLE = _fcs_table()


def fcs_register(data: bytes, register: int = 0xFFFF) -> int:
    """The PPP FCS-16 shift register after `data` (not complemented).

    Run over a frame's header, data and transmitted FCS it is
    :data:`GOOD_RESIDUE` when the frame is intact.
    """
    table = _FCS_TABLE
    for byte in data:
        register = (register >> 8) ^ table[(register ^ byte) & 0xFF]
    return register


def fcs16(data: bytes) -> int:
    """The FCS a sender appends to `data` (RFC 1662: complemented register)."""
    return fcs_register(data) ^ 0xFFFF


def escape(body: bytes) -> bytes:
    """Escape C0, C1 and 7D as ``7D, byte ^ 0x20``."""
    out = bytearray()
    for byte in body:
        if byte in _ESCAPED:
            out += bytes((ESCAPE, byte ^ ESCAPE_XOR))
        else:
            out.append(byte)
    return bytes(out)


class FrameError(ValueError):
    """A frame that cannot be used; the message is the reason counted in the stats."""


def unescape(body: bytes) -> bytes:
    """Undo :func:`escape`.

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


def encode_frame(user_data: bytes) -> bytes:
    """The complete frame, flags included, for `user_data`."""
    if len(user_data) > 0xFFFF:
        raise ValueError(f"user data of {len(user_data)} bytes does not fit a frame")
    body = bytes((PROTOCOL_ID, MESSAGE_TYPE)) + len(user_data).to_bytes(2, "big") + user_data
    fcs = fcs16(body)
    return bytes((BOF,)) + escape(body + fcs.to_bytes(2, "little")) + bytes((EOF,))


def decode_frame_body(escaped: bytes) -> bytes:
    """The user data of one frame given the bytes between C0 and C1.

    Raises
    ------
    FrameError
        With the reason: "bad escape", "frame too short", "bad checksum",
        "bad header", "wrong length".
    """
    body = unescape(escaped)
    if len(body) < HEADER_SIZE + FCS_SIZE:
        raise FrameError("frame too short")
    if fcs_register(body) != GOOD_RESIDUE:
        raise FrameError("bad checksum")
    if body[0] != PROTOCOL_ID or body[1] != MESSAGE_TYPE:
        raise FrameError("bad header")
    length = int.from_bytes(body[2:4], "big")
    if length != len(body) - HEADER_SIZE - FCS_SIZE:
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
        while buffer:
            start = buffer.find(BOF)
            if start < 0:
                if len(buffer) > MAX_FRAME:
                    out.append(Rejected("garbage between frames", bytes(buffer)))
                    buffer.clear()
                break
            if start:
                out.append(Rejected("garbage between frames", bytes(buffer[:start])))
                del buffer[:start]
            end = buffer.find(EOF, 1)
            restart = buffer.find(BOF, 1, end if end >= 0 else len(buffer))
            if restart >= 0:
                out.append(Rejected("truncated frame", bytes(buffer[:restart])))
                del buffer[:restart]
                continue
            if end < 0:
                if len(buffer) > MAX_FRAME:
                    out.append(Rejected("frame too long", bytes(buffer)))
                    buffer.clear()
                break
            raw = bytes(buffer[:end + 1])
            del buffer[:end + 1]
            try:
                out.append(decode_frame_body(raw[1:-1]))
            except FrameError as exc:
                out.append(Rejected(str(exc), raw))
        return out
