"""IntelliVue association: the session-layer messages that open and close a conversation.

Facts (PROTOCOLS.md): the host's association request starts with the session
byte 0x0D; the monitor accepts with 0x0E or refuses with 0x0C; a release
starts with 0x09, an abort with 0x19. The full request bytes are in the
programming guide, which this project does not have, so everything past the
first byte is built here from the ISO 8327 session-layer shape those bytes
follow: ``SPDU type, length indicator, then parameters (PI, LI, value)``,
the last one (PI 0xC1, user data) carrying a presentation/ACSE envelope
around the Philips user info (versions, client/server, poll profile).
(U) every byte after the session byte; the monitor emulator accepts exactly
what :func:`association_request` builds, and the host only needs the
session byte of the monitor's answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.protocols.intellivue_codes import REL_TIME_PER_S

# Session SPDU types (the first byte of a session-layer message).
CONNECT = 0x0D          # CN: association request (fact)
ACCEPT = 0x0E           # AC: association accepted (fact)
REFUSE = 0x0C           # RF: association refused (fact)
FINISH = 0x09           # FN: release request (fact)
DISCONNECT = 0x0A       # DN: release response (U)
ABORT = 0x19            # AB: abort (fact)
SESSION_KINDS = frozenset({CONNECT, ACCEPT, REFUSE, FINISH, DISCONNECT, ABORT})
KIND_NAMES = {CONNECT: "association request", ACCEPT: "association accepted",
              REFUSE: "association refused", FINISH: "release request",
              DISCONNECT: "release response", ABORT: "abort"}

# Parameter ids inside an SPDU (ISO 8327 numbering, U for this device).
PI_CONNECT_ITEM = 0x05
PI_TRANSPORT_DISCONNECT = 0x11
PI_USER_REQUIREMENTS = 0x14
PI_REASON = 0x32
PI_USER_DATA = 0xC1

#: Refuse reason codes (ISO 8327 values; which ones a monitor uses is U).
REFUSE_REASONS: dict[int, str] = {
    0x00: "rejected by the monitor", 0x01: "monitor busy (temporary congestion)",
    0x02: "rejected by the monitor", 0x81: "session selector unknown",
    0x82: "no data export user at the monitor", 0x83: "congestion at connect time",
    0x84: "protocol version not supported",
}

MDDL_VERSION1 = 0x80000000
NOMEN_VERSION = 0x40000000
SYST_CLIENT = 0x80000000
SYST_SERVER = 0x00800000
COLD_START = 0x20000000
POLL_PROFILE_SUPPORT = 0x0001
POLL_PROFILE_REV0 = 0x80000000

# (U) Session items and the presentation/ACSE envelope around the user info:
# fixed bytes of BER with indefinite lengths, closed by END_OF_CONTENTS.
_CONNECT_ITEM = bytes.fromhex("130100160102")          # protocol options 0, version 2
_USER_REQUIREMENTS = bytes.fromhex("0002")            # duplex
_REQUEST_ENVELOPE = bytes.fromhex(
    "31 80 a0 80 80 01 01 00 00 a2 80 a4 80 30 80 02 01 01 06 04 52 01 00 01"
    " 30 80 06 04 51 01 00 01 00 00 00 00 61 80 30 80 02 01 01 a0 80 60 80 a1"
    " 80 06 06 51 01 01 01 01 00 00 be 80 28 80 06 02 51 01 02 01 02 81")
_ACCEPT_ENVELOPE = bytes.fromhex(
    "31 80 a0 80 80 01 01 00 00 a2 80 a5 80 30 80 80 01 00 81 02 51 01 00 00"
    " 00 00 61 80 30 80 02 01 01 a0 80 61 80 a1 80 06 06 51 01 01 01 01 00 00"
    " a2 03 02 01 00 be 80 28 80 02 01 02 81")
_END_OF_CONTENTS = b"\x00" * 12
_RELEASE_DATA = bytes.fromhex("61 80 30 80 02 01 01 a0 80 62 80 80 01 00 00 00 00 00 00 00 00 00")
_RELEASE_RESPONSE_DATA = bytes.fromhex(
    "61 80 30 80 02 01 01 a0 80 63 80 80 01 00 00 00 00 00 00 00 00 00")


class SessionError(ValueError):
    """Bytes that are not a well-formed session message."""


@dataclass(frozen=True)
class Spdu:
    """One session-layer message: its type and its (PI, value) parameters in order."""

    kind: int
    params: tuple[tuple[int, bytes], ...] = ()

    def param(self, pi: int) -> bytes | None:
        return next((value for p, value in self.params if p == pi), None)


@dataclass(frozen=True)
class UserInfo:
    """The Philips user info of an association request or accept (U: field layout).

    Attributes
    ----------
    min_poll_period_s : float
        Shortest poll period the sender will use (request) or allows (accept), s.
    """

    system_type: int
    min_poll_period_s: float = 1.0
    protocol_version: int = MDDL_VERSION1
    nomenclature_version: int = NOMEN_VERSION
    functional_units: int = 0
    startup_mode: int = COLD_START
    max_mtu_rx: int = 1000
    max_mtu_tx: int = 1000
    max_bw_tx: int = 0xFFFFFFFF
    options: int = 0
    extra: dict[int, bytes] = field(default_factory=dict)

    def encode(self) -> bytes:
        profile = b"".join(v.to_bytes(4, "big") for v in (
            POLL_PROFILE_REV0, round(self.min_poll_period_s * REL_TIME_PER_S) & 0xFFFFFFFF,
            self.max_mtu_rx, self.max_mtu_tx, self.max_bw_tx, self.options)) + b"\x00" * 4
        profile_ava = _u16(POLL_PROFILE_SUPPORT) + _u16(len(profile)) + profile
        return (b"".join(v.to_bytes(4, "big") for v in (
            self.protocol_version, self.nomenclature_version, self.functional_units,
            self.system_type, self.startup_mode))
            + b"\x00\x00\x00\x00"                                   # option list: empty
            + _u16(1) + _u16(len(profile_ava)) + profile_ava)       # supported profiles

    @classmethod
    def decode(cls, raw: bytes) -> UserInfo:
        """Read a user info; SessionError if it is cut short."""
        if len(raw) < 28:
            raise SessionError("user info too short")
        words = [int.from_bytes(raw[i:i + 4], "big") for i in range(0, 20, 4)]
        position = 24 + int.from_bytes(raw[22:24], "big")        # past the option list
        end = position + 4 + int.from_bytes(raw[position + 2:position + 4], "big")
        if end > len(raw):
            raise SessionError("user info profiles run past its end")
        position += 4
        profile: dict[str, float | int] = {}
        extra: dict[int, bytes] = {}
        while position + 4 <= end:
            ident = int.from_bytes(raw[position:position + 2], "big")
            value = raw[position + 4:position + 4 + int.from_bytes(raw[position + 2:position + 4],
                                                                   "big")]
            position += 4 + len(value)
            if ident == POLL_PROFILE_SUPPORT and len(value) >= 24:
                period, rx, tx, bw, opts = (int.from_bytes(value[i:i + 4], "big")
                                            for i in range(4, 24, 4))
                profile = {"min_poll_period_s": period / REL_TIME_PER_S, "max_mtu_rx": rx,
                           "max_mtu_tx": tx, "max_bw_tx": bw, "options": opts}
            else:
                extra[ident] = value
        return cls(system_type=words[3], protocol_version=words[0],
                   nomenclature_version=words[1], functional_units=words[2],
                   startup_mode=words[4], extra=extra, **profile)  # type: ignore[arg-type]


def _u16(value: int) -> bytes:
    return (value & 0xFFFF).to_bytes(2, "big")


def _length_indicator(length: int) -> bytes:
    # ISO 8327: one byte up to 254, else 0xFF and two bytes.
    return bytes((length,)) if length <= 254 else b"\xff" + _u16(length)


def _read_length(data: bytes, position: int) -> tuple[int, int]:
    if position >= len(data):
        raise SessionError("length indicator missing")
    if data[position] != 0xFF:
        return data[position], position + 1
    if position + 3 > len(data):
        raise SessionError("long length indicator cut short")
    return int.from_bytes(data[position + 1:position + 3], "big"), position + 3


def build_spdu(kind: int, params: list[tuple[int, bytes]]) -> bytes:
    """A session message: type, length indicator, then each (PI, LI, value)."""
    body = b"".join(bytes((pi,)) + _length_indicator(len(v)) + v for pi, v in params)
    return bytes((kind,)) + _length_indicator(len(body)) + body


def parse_spdu(data: bytes) -> Spdu:
    """Split a session message into its type and parameters.

    Raises
    ------
    SessionError
        Unknown type, or lengths that do not add up.
    """
    if not data or data[0] not in SESSION_KINDS:
        raise SessionError("not a session message")
    length, position = _read_length(data, 1)
    if position + length != len(data):
        raise SessionError(f"session length {length} but {len(data) - position} bytes follow")
    params: list[tuple[int, bytes]] = []
    while position < len(data):
        pi = data[position]
        size, position = _read_length(data, position + 1)
        if position + size > len(data):
            raise SessionError(f"parameter 0x{pi:02X} runs past the message")
        params.append((pi, data[position:position + size]))
        position += size
    return Spdu(data[0], tuple(params))


def _wrap(envelope: bytes, info: UserInfo) -> bytes:
    raw = info.encode()
    ber_length = bytes((len(raw),)) if len(raw) < 0x80 else b"\x81" + bytes((len(raw),))
    return envelope + ber_length + raw + _END_OF_CONTENTS


def _unwrap(envelope: bytes, user_data: bytes | None) -> UserInfo:
    if user_data is None or not user_data.startswith(envelope):
        raise SessionError("no user info where expected")
    position = len(envelope)
    if position >= len(user_data):
        raise SessionError("user info missing")
    length = user_data[position]
    position += 1
    if length == 0x81 and position < len(user_data):
        length = user_data[position]
        position += 1
    return UserInfo.decode(user_data[position:position + length])


def association_request(poll_period_s: float = 1.0) -> bytes:
    """The host's association request (user data of one frame). (U) bytes after 0x0D."""
    info = UserInfo(system_type=SYST_CLIENT, min_poll_period_s=poll_period_s)
    return build_spdu(CONNECT, [(PI_CONNECT_ITEM, _CONNECT_ITEM),
                                (PI_USER_REQUIREMENTS, _USER_REQUIREMENTS),
                                (PI_USER_DATA, _wrap(_REQUEST_ENVELOPE, info))])


def request_user_info(spdu: Spdu) -> UserInfo:
    """The user info of an association request; SessionError if it has none."""
    return _unwrap(_REQUEST_ENVELOPE, spdu.param(PI_USER_DATA))


def association_accept(min_poll_period_s: float = 1.0) -> bytes:
    """The monitor's accept (U: bytes after 0x0E)."""
    info = UserInfo(system_type=SYST_SERVER, min_poll_period_s=min_poll_period_s)
    return build_spdu(ACCEPT, [(PI_CONNECT_ITEM, _CONNECT_ITEM),
                               (PI_USER_REQUIREMENTS, _USER_REQUIREMENTS),
                               (PI_USER_DATA, _wrap(_ACCEPT_ENVELOPE, info))])


def association_refuse(reason: int = 0x00) -> bytes:
    """The monitor's refusal with an ISO 8327 reason code (U: bytes after 0x0C)."""
    return build_spdu(REFUSE, [(PI_REASON, bytes((reason & 0xFF,)))])


def refuse_reason(spdu: Spdu) -> str:
    """Why a refusal says it refused, in words."""
    raw = spdu.param(PI_REASON)
    if not raw:
        return "no reason given"
    return REFUSE_REASONS.get(raw[0], f"reason code 0x{raw[0]:02X}")


def release_request() -> bytes:
    """The host's (or monitor's) release request (U: bytes after 0x09)."""
    return build_spdu(FINISH, [(PI_TRANSPORT_DISCONNECT, b"\x01"),
                               (PI_USER_DATA, _RELEASE_DATA)])


def release_response() -> bytes:
    """The answer to a release request (U)."""
    return build_spdu(DISCONNECT, [(PI_USER_DATA, _RELEASE_RESPONSE_DATA)])


def abort() -> bytes:
    """An abort (U: bytes after 0x19)."""
    return build_spdu(ABORT, [(PI_TRANSPORT_DISCONNECT, b"\x03")])
