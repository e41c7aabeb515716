"""IntelliVue data export messages: the remote-operation envelope, events, polls.

A data export message (the user data of a frame) is::

    SPpdu     session_id u16 = 0xE100, p_context_id u16
    ROapdus   ro_type u16 (1 invoke, 2 result, 3 error, 5 linked result), length u16
    RO*apdu   [linked result: state u8, count u8] invoke_id u16,
              command_type u16 (error: error_value u16), length u16
    argument or result

Facts (PROTOCOLS.md): the MDS create event (invoke, confirmed event report,
NOM_NOTI_MDS_CREAT 0x0D06), the host's event result and the single poll
request, given byte for byte, fix the envelope and the event and poll
request layouts built here. The poll *reply* layout past its action header
is not in the facts: (U) it is taken as::

    ActionResult     managed object (class, context, handle: 3 x u16),
                     action_type u16, length u16
    PollMdibDataReply
                     poll_number u16, [extended poll only: sequence_no u16,]
                     rel_time u32 (1/8 ms), abs_time (8 BCD bytes),
                     polled partition u16, code u16, polled_attr_grp u16,
                     contexts: count u16, length u16, each
                       context_id u16, observations: count u16, length u16, each
                         handle u16, attribute list: count u16, length u16,
                           each attribute id u16, length u16, value

The decoder walks every list by its byte length, not its count, and skips
attributes it does not know by their length, so extra attributes (labels,
colours, time stamps of other kinds) do not disturb it. Numerics are
attribute 0x0950 (NU_VAL_OBS) and 0x094B (compound, NIBP).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from devices.protocols.intellivue_codes import (
    ATTR_NU_CMPD_VAL_OBS,
    ATTR_NU_VAL_OBS,
    MessageError,
    NumericValue,
    decode_abs_time,
    decode_numeric_attribute,
)

SESSION_ID = 0xE100
PRESENTATION_CONTEXT = 2
ROIV, RORS, ROER, ROLRS = 1, 2, 3, 5
CMD_EVENT_REPORT = 0
CMD_CONFIRMED_EVENT_REPORT = 1
CMD_GET = 3
CMD_CONFIRMED_ACTION = 7
MOC_VMS_MDS = 0x0021
NOTI_MDS_CREATE = 0x0D06
ACT_POLL_MDIB_DATA = 0x0C16
ACT_POLL_MDIB_DATA_EXT = 0xF13B
POLL_ACTIONS = frozenset({ACT_POLL_MDIB_DATA, ACT_POLL_MDIB_DATA_EXT})
PARTITION_OBJECTS = 1
CODE_NUMERICS = 6           # NOM_MOC_VMO_METRIC_NU
ATTR_ID_LABEL = 0x0924       # (U)
ATTR_TIME_ABS = 0x0987       # (U)
ATTR_TIME_REL = 0x098F       # (U)
ATTR_TIME_STAMP_ABS = 0x0990  # (U) when an observation was measured
ATTR_TIME_STAMP_REL = 0x0991  # (U)
MDS = (MOC_VMS_MDS, 0, 0)   # (class, context, handle) of the monitor itself


class _Cursor:
    """Reads big-endian fields from `data[position:end]`; MessageError past the end."""

    def __init__(self, data: bytes, position: int = 0, end: int | None = None) -> None:
        self.data, self.position = data, position
        self.end = len(data) if end is None else end

    def take(self, size: int) -> bytes:
        if size < 0 or self.position + size > self.end:
            raise MessageError(f"message cut short at byte {self.position}")
        chunk = self.data[self.position:self.position + size]
        self.position += size
        return chunk

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def sub(self, size: int) -> _Cursor:
        """A cursor over the next `size` bytes, which this one skips."""
        start = self.position
        self.take(size)
        return _Cursor(self.data, start, start + size)

    @property
    def remaining(self) -> int:
        return self.end - self.position


# --- attribute lists ------------------------------------------------------------------

def split_attributes(raw: bytes) -> list[tuple[int, bytes]]:
    """Every (attribute id, value bytes) in a run of ``id u16, length u16, value``.

    Raises
    ------
    MessageError
        An attribute runs past the end.
    """
    body = _Cursor(raw)
    attributes = []
    while body.remaining:
        ident, size = body.u16(), body.u16()
        attributes.append((ident, body.take(size)))
    return attributes


def read_attribute_list(cursor: _Cursor) -> list[tuple[int, bytes]]:
    """An attribute list (count u16, length u16, attributes), walked by its length."""
    cursor.u16()  # count: the length is what bounds the walk
    return split_attributes(cursor.take(cursor.u16()))


def attribute_list(attributes: Iterable[tuple[int, bytes]]) -> bytes:
    items = list(attributes)
    body = b"".join(_u16(i) + _u16(len(v)) + v for i, v in items)
    return _u16(len(items)) + _u16(len(body)) + body


# --- messages as decoded -----------------------------------------------------------

@dataclass(frozen=True)
class EventReport:
    """An event the monitor reports (e.g. MDS create); confirmed ones want a result."""

    invoke_id: int
    confirmed: bool
    managed_object: tuple[int, int, int]
    event_time: int
    event_type: int
    info: bytes


@dataclass(frozen=True)
class EventResult:
    """The host's answer to a confirmed event report."""

    invoke_id: int
    managed_object: tuple[int, int, int]
    event_type: int


@dataclass(frozen=True)
class PollRequest:
    """A poll the host sends (single or extended)."""

    invoke_id: int
    action_type: int
    poll_number: int
    partition: int
    code: int
    attribute_group: int


@dataclass(frozen=True)
class Observation:
    """One polled object: its numerics and, for episodic ones, when they were measured.

    Attributes
    ----------
    measured_at_raw : bytes or None
        The AbsoluteTime stamp of the measurement, as sent.
    measured_rel : int or None
        The RelativeTime stamp of the measurement (1/8 ms).
    """

    context_id: int
    handle: int
    values: tuple[NumericValue, ...]
    compound: bool
    measured_at_raw: bytes | None
    measured_rel: int | None

    def measured_at(self, zone: tzinfo = UTC) -> datetime | None:
        return decode_abs_time(self.measured_at_raw, zone) if self.measured_at_raw else None


@dataclass(frozen=True)
class PollReply:
    """The monitor's answer to a poll: what it polled, when, and the observations.

    `problems` lists parts that could not be read (the rest still decoded).
    """

    invoke_id: int
    action_type: int
    poll_number: int
    rel_time: int
    abs_time_raw: bytes
    partition: int
    code: int
    observations: tuple[Observation, ...]
    problems: tuple[str, ...] = ()

    def abs_time(self, zone: tzinfo = UTC) -> datetime | None:
        return decode_abs_time(self.abs_time_raw, zone)


@dataclass(frozen=True)
class RemoteError:
    invoke_id: int
    error_value: int


@dataclass(frozen=True)
class OtherRemote:
    """A well-formed message this program has no use for (a get result, ...)."""

    ro_type: int
    invoke_id: int
    command_type: int


DataExportMessage = EventReport | EventResult | PollRequest | PollReply | RemoteError | OtherRemote


def is_data_export(user_data: bytes) -> bool:
    return user_data[:2] == SESSION_ID.to_bytes(2, "big")


def decode_data_export(user_data: bytes) -> DataExportMessage:
    """Decode one data export message.

    Raises
    ------
    MessageError
        Not a data export message, or lengths that do not add up.
    """
    outer = _Cursor(user_data)
    if outer.u16() != SESSION_ID:
        raise MessageError("not a data export message")
    outer.u16()  # presentation context
    ro_type = outer.u16()
    cursor = outer.sub(outer.u16())
    if ro_type == ROLRS:
        cursor.take(2)  # linked id: state, count
    elif ro_type not in (ROIV, RORS, ROER):
        raise MessageError(f"unknown remote operation type {ro_type}")
    invoke_id, command_type = cursor.u16(), cursor.u16()
    body = cursor.sub(cursor.u16())
    if ro_type == ROER:
        return RemoteError(invoke_id, command_type)
    if ro_type == ROIV and command_type in (CMD_EVENT_REPORT, CMD_CONFIRMED_EVENT_REPORT):
        managed, event_time, event_type = _moi(body), body.u32(), body.u16()
        info = body.take(body.u16())
        return EventReport(invoke_id, command_type == CMD_CONFIRMED_EVENT_REPORT, managed,
                           event_time, event_type, info)
    if ro_type == RORS and command_type == CMD_CONFIRMED_EVENT_REPORT:
        managed = _moi(body)
        body.u32()  # current time
        return EventResult(invoke_id, managed, body.u16())
    if ro_type == ROIV and command_type == CMD_CONFIRMED_ACTION:
        _moi(body)
        body.u32()  # scope
        action = body.u16()
        argument = body.sub(body.u16())
        if action in POLL_ACTIONS:
            return PollRequest(invoke_id, action, argument.u16(), argument.u16(),
                               argument.u16(), argument.u16())
    if ro_type in (RORS, ROLRS) and command_type == CMD_CONFIRMED_ACTION:
        _moi(body)
        action = body.u16()
        if action in POLL_ACTIONS:
            return _poll_reply(invoke_id, action, body.sub(body.u16()))
    return OtherRemote(ro_type, invoke_id, command_type)


def _moi(cursor: _Cursor) -> tuple[int, int, int]:
    return cursor.u16(), cursor.u16(), cursor.u16()


def _poll_reply(invoke_id: int, action: int, cursor: _Cursor) -> PollReply:
    poll_number = cursor.u16()
    if action == ACT_POLL_MDIB_DATA_EXT:
        cursor.u16()  # sequence number of a multi-part reply
    rel_time, abs_raw = cursor.u32(), cursor.take(8)
    partition, code = cursor.u16(), cursor.u16()
    cursor.u16()  # attribute group
    observations: list[Observation] = []
    problems: list[str] = []
    try:
        cursor.u16()  # context count
        contexts = cursor.sub(min(cursor.u16(), cursor.remaining))
        while contexts.remaining:
            context_id = contexts.u16()
            contexts.u16()  # observation count
            polls = contexts.sub(contexts.u16())
            while polls.remaining:
                observations.append(_observation(context_id, polls, problems))
    except MessageError as exc:
        problems.append(str(exc))  # what came before the fault still counts
    return PollReply(invoke_id, action, poll_number, rel_time, abs_raw, partition, code,
                     tuple(observations), tuple(problems))


def _observation(context_id: int, cursor: _Cursor, problems: list[str]) -> Observation:
    handle = cursor.u16()
    values: list[NumericValue] = []
    compound = False
    stamp_abs = stamp_rel = None
    for ident, value in read_attribute_list(cursor):
        if ident in (ATTR_NU_VAL_OBS, ATTR_NU_CMPD_VAL_OBS):
            try:
                values += decode_numeric_attribute(ident, value)
            except MessageError as exc:   # this attribute only; its neighbours are fine
                problems.append(f"handle {handle}: {exc}")
                continue
            compound = compound or ident == ATTR_NU_CMPD_VAL_OBS
        elif ident == ATTR_TIME_STAMP_ABS and len(value) == 8:
            stamp_abs = value
        elif ident == ATTR_TIME_STAMP_REL and len(value) == 4:
            stamp_rel = int.from_bytes(value, "big")
    return Observation(context_id, handle, tuple(values), compound, stamp_abs, stamp_rel)


# --- building ---------------------------------------------------------------------------

def _u16(value: int) -> bytes:
    return (value & 0xFFFF).to_bytes(2, "big")


def _envelope(ro_type: int, invoke_id: int, command_type: int, body: bytes) -> bytes:
    apdu = _u16(invoke_id) + _u16(command_type) + _u16(len(body)) + body
    return (_u16(SESSION_ID) + _u16(PRESENTATION_CONTEXT) + _u16(ro_type) + _u16(len(apdu))
            + apdu)


def _moi_bytes(managed: tuple[int, int, int]) -> bytes:
    return b"".join(_u16(v) for v in managed)


def event_report(invoke_id: int, event_time: int, event_type: int, info: bytes,
                 managed: tuple[int, int, int] = MDS, *, confirmed: bool = True) -> bytes:
    """An event report from the monitor (e.g. MDS create, whose info is an object
    id and an attribute list)."""
    body = (_moi_bytes(managed) + (event_time & 0xFFFFFFFF).to_bytes(4, "big")
            + _u16(event_type) + _u16(len(info)) + info)
    return _envelope(ROIV, invoke_id,
                     CMD_CONFIRMED_EVENT_REPORT if confirmed else CMD_EVENT_REPORT, body)


def mds_create(invoke_id: int, rel_time: int, attributes: Iterable[tuple[int, bytes]]) -> bytes:
    """The monitor's MDS create event: the MDS's id and its attributes."""
    return event_report(invoke_id, rel_time, NOTI_MDS_CREATE,
                        _moi_bytes(MDS) + attribute_list(attributes))


def event_result(invoke_id: int, event_type: int, managed: tuple[int, int, int] = MDS,
                 current_time: int = 0) -> bytes:
    """The host's result for a confirmed event report; the invoke id echoes the event's."""
    body = (_moi_bytes(managed) + (current_time & 0xFFFFFFFF).to_bytes(4, "big")
            + _u16(event_type) + _u16(0))
    return _envelope(RORS, invoke_id, CMD_CONFIRMED_EVENT_REPORT, body)


def poll_request(invoke_id: int, poll_number: int, *, partition: int = PARTITION_OBJECTS,
                 code: int = CODE_NUMERICS, attribute_group: int = 0) -> bytes:
    """A single poll (NOM_ACT_POLL_MDIB_DATA), numerics by default."""
    argument = _u16(poll_number) + _u16(partition) + _u16(code) + _u16(attribute_group)
    body = (_moi_bytes(MDS) + b"\x00\x00\x00\x00" + _u16(ACT_POLL_MDIB_DATA)
            + _u16(len(argument)) + argument)
    return _envelope(ROIV, invoke_id, CMD_CONFIRMED_ACTION, body)


ObservationSpec = tuple[int, Sequence[tuple[int, bytes]]]   # handle, attributes


def poll_reply(invoke_id: int, poll_number: int, rel_time: int, abs_time: bytes,
               contexts: Sequence[tuple[int, Sequence[ObservationSpec]]], *,
               partition: int = PARTITION_OBJECTS, code: int = CODE_NUMERICS,
               action_type: int = ACT_POLL_MDIB_DATA) -> bytes:
    """The monitor's poll reply in the (U) layout of this module's docstring."""
    context_bytes = b""
    for context_id, observations in contexts:
        polls = b"".join(_u16(handle) + attribute_list(attributes)
                         for handle, attributes in observations)
        context_bytes += _u16(context_id) + _u16(len(observations)) + _u16(len(polls)) + polls
    reply = (_u16(poll_number)
             + (b"\x00\x00" if action_type == ACT_POLL_MDIB_DATA_EXT else b"")
             + (rel_time & 0xFFFFFFFF).to_bytes(4, "big") + abs_time + _u16(partition)
             + _u16(code) + _u16(0) + _u16(len(contexts)) + _u16(len(context_bytes))
             + context_bytes)
    body = _moi_bytes(MDS) + _u16(action_type) + _u16(len(reply)) + reply
    return _envelope(RORS, invoke_id, CMD_CONFIRMED_ACTION, body)
