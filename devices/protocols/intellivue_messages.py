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
request layouts built here. Poll replies, whose layout is not in the facts,
are read by :mod:`devices.protocols.intellivue_polls`; :class:`MessageDecoder`
is :func:`decode_data_export` reading them by template, the host's hot path.

Faults are named as a field-by-field reader would name them: ``message cut
short at byte N`` at the first field that does not fit (see
:func:`~devices.protocols.intellivue_polls.cut_short`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from devices.protocols.intellivue_codes import MessageError
from devices.protocols.intellivue_polls import (
    ACT_POLL_MDIB_DATA,
    ACT_POLL_MDIB_DATA_EXT,
    POLL_ACTIONS,
    PollReply,
    PollTemplate,
    cut_short,
    make_template,
    read_poll_reply,
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
PARTITION_OBJECTS = 1
CODE_NUMERICS = 6           # NOM_MOC_VMO_METRIC_NU
ATTR_ID_LABEL = 0x0924       # (U)
ATTR_TIME_ABS = 0x0987       # (U)
ATTR_TIME_REL = 0x098F       # (U)
MDS = (MOC_VMS_MDS, 0, 0)   # (class, context, handle) of the monitor itself

SESSION_PREFIX = SESSION_ID.to_bytes(2, "big")   # how a data export message begins
#: Poll reply templates a MessageDecoder keeps, one per message size: a monitor
#: needs one or two; the bound keeps a stream of odd replies from growing them.
MAX_TEMPLATES = 16
# Precompiled readers, named by the fields they take (all big-endian).
_U16 = struct.Struct(">H").unpack_from
_U16X2 = struct.Struct(">HH").unpack_from
_U16X3 = struct.Struct(">HHH").unpack_from
_ENVELOPE = struct.Struct(">HHHH").unpack_from     # session, context, ro_type, length
_MOI_U32_U16 = struct.Struct(">HHHIH").unpack_from  # managed object, a u32, a u16
_MOI_U32_U16X2 = struct.Struct(">HHHIHH").unpack_from


# --- attribute lists ------------------------------------------------------------------

def split_attributes(raw: bytes) -> list[tuple[int, bytes]]:
    """Every (attribute id, value bytes) in a run of ``id u16, length u16, value``.

    Raises
    ------
    MessageError
        An attribute runs past the end.
    """
    attributes = []
    position, end = 0, len(raw)
    while position < end:
        if position + 4 > end:
            raise cut_short(position, end, 2, 2)
        ident, size = _U16X2(raw, position)
        position += 4
        if position + size > end:
            raise cut_short(position, end, size)
        attributes.append((ident, raw[position:position + size]))
        position += size
    return attributes


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
    return user_data[:2] == SESSION_PREFIX


def decode_data_export(user_data: bytes) -> DataExportMessage:
    """Decode one data export message.

    Raises
    ------
    MessageError
        Not a data export message, or lengths that do not add up.
    """
    data, size = user_data, len(user_data)
    if size < 8:
        if size >= 2 and _U16(data)[0] != SESSION_ID:
            raise MessageError("not a data export message")
        raise cut_short(0, size, 2, 2, 2, 2)
    session, _context, ro_type, length = _ENVELOPE(data)
    if session != SESSION_ID:
        raise MessageError("not a data export message")
    position, end = 8, 8 + length
    if end > size:
        raise cut_short(position, size, length)
    if ro_type == ROLRS:
        position += 2  # linked id: state, count
        if position > end:
            raise cut_short(8, end, 2)
    elif ro_type not in (ROIV, RORS, ROER):
        raise MessageError(f"unknown remote operation type {ro_type}")
    if position + 6 > end:
        raise cut_short(position, end, 2, 2, 2)
    invoke_id, command_type, length = _U16X3(data, position)
    position += 6
    if position + length > end:
        raise cut_short(position, end, length)
    end = position + length  # from here on, within the argument or result
    if ro_type == ROER:
        return RemoteError(invoke_id, command_type)
    if ro_type == ROIV and command_type in (CMD_EVENT_REPORT, CMD_CONFIRMED_EVENT_REPORT):
        if position + 14 > end:
            raise cut_short(position, end, 2, 2, 2, 4, 2, 2)
        klass, context, handle, event_time, event_type, length = _MOI_U32_U16X2(data, position)
        position += 14
        if position + length > end:
            raise cut_short(position, end, length)
        return EventReport(invoke_id, command_type == CMD_CONFIRMED_EVENT_REPORT,
                           (klass, context, handle), event_time, event_type,
                           data[position:position + length])
    if ro_type == RORS and command_type == CMD_CONFIRMED_EVENT_REPORT:
        if position + 12 > end:
            raise cut_short(position, end, 2, 2, 2, 4, 2)
        klass, context, handle, _current_time, event_type = _MOI_U32_U16(data, position)
        return EventResult(invoke_id, (klass, context, handle), event_type)
    if ro_type == ROIV and command_type == CMD_CONFIRMED_ACTION:
        if position + 14 > end:
            raise cut_short(position, end, 2, 2, 2, 4, 2, 2)
        *_, action, length = _MOI_U32_U16X2(data, position)  # object, scope, action
        position += 14
        if position + length > end:
            raise cut_short(position, end, length)
        if action in POLL_ACTIONS:
            end = position + length
            if position + 8 > end:
                raise cut_short(position, end, 2, 2, 2, 2)
            return PollRequest(invoke_id, action, *_U16X2(data, position),
                               *_U16X2(data, position + 4))
    if ro_type in (RORS, ROLRS) and command_type == CMD_CONFIRMED_ACTION:
        if position + 8 > end:
            raise cut_short(position, end, 2, 2, 2, 2)
        action = _U16(data, position + 6)[0]
        if action in POLL_ACTIONS:
            position += 8
            if position + 2 > end:
                raise cut_short(position, end, 2)
            length = _U16(data, position)[0]
            position += 2
            if position + length > end:
                raise cut_short(position, end, length)
            return read_poll_reply(data, invoke_id, action, position, position + length)
    return OtherRemote(ro_type, invoke_id, command_type)


class MessageDecoder:
    """:func:`decode_data_export`, fast for poll replies laid out as one seen before.

    A poll reply decoded without problems becomes the template for messages
    of its size (see :mod:`devices.protocols.intellivue_polls`). One per
    stream (the host keeps one), as a :class:`FrameDecoder` is.
    """

    def __init__(self) -> None:
        self._templates: dict[int, PollTemplate] = {}

    def match(self, user_data: bytes) -> PollTemplate | None:
        """The template `user_data` fits, if any: then :func:`decode_data_export`
        would return ``template.reply(template.fields(user_data))``."""
        template = self._templates.get(len(user_data))
        # One C-level pass: the message as a big integer, masked to its steering bytes.
        if (template is not None
                and int.from_bytes(user_data, "big") & template.steering == template.expected):
            return template
        return None

    def decode(self, user_data: bytes) -> DataExportMessage:
        """Exactly what :func:`decode_data_export` returns, or raises, for `user_data`."""
        template = self.match(user_data)
        if template is not None:
            return template.reply(template.fields(user_data))
        message = decode_data_export(user_data)
        if type(message) is PollReply and not message.problems:
            if len(self._templates) >= MAX_TEMPLATES:
                self._templates.clear()
            linked = _U16(user_data, 4)[0] == ROLRS   # a linked id before the invoke id
            self._templates[len(user_data)] = make_template(user_data, message,
                                                            10 if linked else 8)
        return message


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
