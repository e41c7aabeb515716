"""IntelliVue poll replies: their layout, what they decode to, and reading them fast.

The poll reply layout past its action header is not in the facts of
PROTOCOLS.md: (U) it is taken as::

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

:func:`read_poll_reply` walks every list by its byte length, not its count,
and skips attributes it does not know by their length, so extra attributes
(labels, colours, time stamps of other kinds) do not disturb it. Numerics
are attribute 0x0950 (NU_VAL_OBS) and 0x094B (compound, NIBP).

Speed. A reply is read by offset with precompiled :class:`struct.Struct`
objects, one bounds check per run of fixed fields, into named tuples made
straight from the unpacked tuples; faults are named as a field-by-field
reader would name them (:func:`cut_short`). Faster still: a monitor answers
every poll in the same layout, only the numbers changing, so once a reply
has been read cleanly, :func:`make_template` notes which of its bytes
*steer* the walk (session id, operation types, every length, attribute ids
and sizes, compound counts, and each value's physio id and unit, which fix
its ``layout``) and where its fields sit. A later message of the same size
with the same steering bytes would be walked down exactly the same path, so
a :class:`PollTemplate` reads its fields with one ``struct`` call instead
(:class:`~devices.protocols.intellivue_messages.MessageDecoder` keeps them;
the tests hold both ways to the same result on every single-byte change of
real replies).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from devices.protocols.intellivue_codes import (
    ATTR_NU_CMPD_VAL_OBS,
    ATTR_NU_VAL_OBS,
    NU_VAL,
    NU_VAL_SIZE,
    MessageError,
    NumericValue,
    decode_abs_time,
)

ACT_POLL_MDIB_DATA = 0x0C16
ACT_POLL_MDIB_DATA_EXT = 0xF13B
POLL_ACTIONS = frozenset({ACT_POLL_MDIB_DATA, ACT_POLL_MDIB_DATA_EXT})
ATTR_TIME_STAMP_ABS = 0x0990  # (U) when an observation was measured
ATTR_TIME_STAMP_REL = 0x0991  # (U)
#: Where :meth:`PollTemplate.fields` puts the reply's own fields.
INVOKE_ID, POLL_NUMBER, REL_TIME, ABS_TIME, PARTITION, CODE = range(6)

# Precompiled readers, named by the fields they take (all big-endian).
_U16 = struct.Struct(">H").unpack_from
_U16X2 = struct.Struct(">HH").unpack_from
_U16X3 = struct.Struct(">HHH").unpack_from
_U32 = struct.Struct(">I").unpack_from
_POLL = struct.Struct(">HI8sHHH").unpack_from       # number, rel, abs, partition, code, group
_POLL_EXT = struct.Struct(">HHI8sHHH").unpack_from  # number, sequence, then as _POLL
_NU = NU_VAL.unpack_from
_NU_ITER = NU_VAL.iter_unpack
# tuple.__new__(NamedTupleClass, fields) builds the record with one C call,
# where calling the class goes through its Python-level __new__.
_new = tuple.__new__


def cut_short(position: int, end: int, *sizes: int) -> MessageError:
    """The fault for fields of `sizes` read in turn from `position`, bounded by `end`:
    named, as a field-by-field reader would, at the first one that does not fit."""
    for size in sizes:
        if position + size > end:
            break
        position += size
    return MessageError(f"message cut short at byte {position}")


# --- as decoded -------------------------------------------------------------------------

class Observation(NamedTuple):
    """One polled object: its numerics and, for episodic ones, when they were measured.

    (A named tuple, as :class:`NumericValue`: several in every reply.)

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


class PollReply(NamedTuple):
    """The monitor's answer to a poll: what it polled, when, and the observations.

    `problems` lists parts that could not be read (the rest still decoded).
    `layout` holds, for each observation, each value's ``physio_id << 16 |
    unit_code``: what the values are called depends on it alone, and a
    monitor sends the same layout poll after poll, so a reader can memoise
    by it (the host does).
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
    layout: tuple[tuple[int, ...], ...] = ()

    def abs_time(self, zone: tzinfo = UTC) -> datetime | None:
        return decode_abs_time(self.abs_time_raw, zone)


# --- the general way ------------------------------------------------------------------

def read_poll_reply(data: bytes, invoke_id: int, action: int, position: int, end: int
                    ) -> PollReply:
    """The poll reply in `data[position:end]`; a fault past its header is kept in
    `problems`, with the observations read before it."""
    if action == ACT_POLL_MDIB_DATA_EXT:
        if position + 22 > end:
            raise cut_short(position, end, 2, 2, 4, 8, 2, 2, 2)
        poll_number, _sequence, rel_time, abs_raw, partition, code, _group = _POLL_EXT(
            data, position)
        position += 22
    else:
        if position + 20 > end:
            raise cut_short(position, end, 2, 4, 8, 2, 2, 2)
        poll_number, rel_time, abs_raw, partition, code, _group = _POLL(data, position)
        position += 20
    observations: list[Observation] = []
    problems: list[str] = []
    try:
        if position + 4 > end:
            raise cut_short(position, end, 2, 2)
        length = _U16X2(data, position)[1]   # the count is not needed: the length bounds
        position += 4
        contexts_end = position + min(length, end - position)
        while position < contexts_end:
            if position + 6 > contexts_end:
                raise cut_short(position, contexts_end, 2, 2, 2)
            context_id, _count, length = _U16X3(data, position)
            position += 6
            polls_end = position + length
            if polls_end > contexts_end:
                raise cut_short(position, contexts_end, length)
            while position < polls_end:
                position = _observation(data, context_id, position, polls_end, observations,
                                        problems)
    except MessageError as exc:
        problems.append(str(exc))  # what came before the fault still counts
    layout = tuple([tuple([v[0] << 16 | v[2] for v in o.values]) for o in observations])
    return _new(PollReply, (invoke_id, action, poll_number, rel_time, abs_raw, partition,
                            code, tuple(observations), tuple(problems), layout))


def _observation(data: bytes, context_id: int, position: int, end: int,
                 observations: list[Observation], problems: list[str]) -> int:
    """Append the observation at `position` (its list ending at `end`) and its
    problems; return where the next one starts.

    Raises
    ------
    MessageError
        Its attribute list does not add up (the observation is lost, and so
        are the problems of its numerics: the list is unreadable as a whole).
    """
    if position + 6 > end:
        raise cut_short(position, end, 2, 2, 2)
    handle, _count, length = _U16X3(data, position)
    position += 6
    list_end = position + length
    if list_end > end:
        raise cut_short(position, end, length)
    base = position   # faults inside the list are counted from its start
    values: list[NumericValue] = []
    faults: list[str] = []
    compound = False
    stamp_abs: bytes | None = None
    stamp_rel: int | None = None
    while position < list_end:
        if position + 4 > list_end:
            raise cut_short(position - base, list_end - base, 2, 2)
        ident, size = _U16X2(data, position)
        position += 4
        value_end = position + size
        if value_end > list_end:
            raise cut_short(position - base, list_end - base, size)
        if ident == ATTR_NU_VAL_OBS:
            if size >= NU_VAL_SIZE:
                values.append(_new(NumericValue, _NU(data, position)))
            else:   # this attribute only; its neighbours are fine
                faults.append(f"handle {handle}: a numeric value needs {NU_VAL_SIZE} bytes,"
                              f" not {size}")
        elif ident == ATTR_NU_CMPD_VAL_OBS:
            if size >= 4:
                count, length = _U16X2(data, position)
                # Trust the bytes that are there over a count that promises more.
                count = min(count, min(length, size - 4) // NU_VAL_SIZE)
                start = position + 4
                values += [_new(NumericValue, entry)
                           for entry in _NU_ITER(data[start:start + count * NU_VAL_SIZE])]
                compound = True
            else:
                faults.append(f"handle {handle}: compound value without its count and length")
        elif ident == ATTR_TIME_STAMP_ABS and size == 8:
            stamp_abs = data[position:value_end]
        elif ident == ATTR_TIME_STAMP_REL and size == 4:
            stamp_rel = _U32(data, position)[0]
        position = value_end
    problems += faults
    observations.append(_new(Observation, (context_id, handle, tuple(values), compound,
                                           stamp_abs, stamp_rel)))
    return position


# --- by template ---------------------------------------------------------------------

class PollTemplate:
    """What to check in, and read from, a poll reply of one size and layout.

    Attributes
    ----------
    fields : callable
        ``struct.unpack_from`` of every field: the reply's own (indices
        :data:`INVOKE_ID` to :data:`CODE`), then in byte order each context
        id, handle, value (physio id, state, unit, FLOAT) and time stamp.
    observations : tuple
        Per observation: field index of its context id and of its handle,
        field index of each of its values, compound, field index of its
        absolute and relative time stamps (-1: none), and the index past its
        last field (its own fields are ``fields[handle:end]``).
    layout : tuple
        :attr:`PollReply.layout` of every reply this template reads.
    """

    __slots__ = ("_last", "action", "expected", "fields", "layout", "observations", "steering")

    def __init__(self, steering: int, expected: int, fields: Callable[[bytes], tuple[Any, ...]],
                 action: int,
                 observations: tuple[tuple[int, int, tuple[int, ...], bool, int, int, int], ...],
                 layout: tuple[tuple[int, ...], ...]) -> None:
        self.steering, self.expected, self.fields = steering, expected, fields
        self.action, self.observations, self.layout = action, observations, layout
        # Per observation: its own fields and the Observation made of them, last time.
        self._last: list[tuple[tuple[Any, ...], Observation] | None] = [None] * len(observations)

    def observation(self, fields: tuple[Any, ...], index: int) -> Observation:
        """Observation `index` of the reply whose :attr:`fields` these are.

        The same object as last time if its fields are the same: an episodic
        observation (a cuff) repeats poll after poll, and its reader compares
        it with the last one, which identical parts make quick.
        """
        context, handle, values, compound, stamp_abs, stamp_rel, end = self.observations[index]
        own = fields[handle:end]
        last = self._last[index]
        if last is not None and last[0] == own and last[1].context_id == fields[context]:
            return last[1]
        observation = _new(Observation, (
            fields[context], fields[handle],
            tuple([_new(NumericValue, fields[i:i + 4]) for i in values]), compound,
            fields[stamp_abs] if stamp_abs >= 0 else None,
            fields[stamp_rel] if stamp_rel >= 0 else None))
        self._last[index] = (own, observation)
        return observation

    def reply(self, fields: tuple[Any, ...]) -> PollReply:
        """The reply whose :attr:`fields` these are."""
        observations = tuple([self.observation(fields, i) for i in range(len(self.observations))])
        return _new(PollReply, (fields[INVOKE_ID], self.action, *fields[POLL_NUMBER:CODE + 1],
                                observations, (), self.layout))


class _Builder:
    """Collects a template's steering bytes and field format while walking a reply."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.steering = bytearray(len(data))
        self.format = [">"]
        self.end = 0          # where the last field ends
        self.count = 0        # fields so far

    def steers(self, position: int, size: int) -> None:
        self.steering[position:position + size] = b"\xff" * size

    def u16(self, position: int) -> int:
        """A steering u16."""
        self.steers(position, 2)
        return int(_U16(self.data, position)[0])

    def field(self, position: int, code: str) -> int:
        """Field(s) to read here (struct `code`: "8s" is one, "HHHI" four); the
        index of the first in the fields."""
        gap = position - self.end
        self.format.append(f"{gap}x{code}" if gap else code)
        self.end = position + struct.calcsize(">" + code)
        self.count += 1 if code.endswith("s") else len(code)
        return self.count - (1 if code.endswith("s") else len(code))

    def value(self, position: int) -> int:
        """A value (its physio id and unit steer: they fix the layout)."""
        self.steers(position, 2)
        self.steers(position + 4, 2)
        return self.field(position, "HHHI")


def make_template(data: bytes, reply: PollReply, invoke_at: int) -> PollTemplate:
    """The template of `data`, a message that decoded as the poll reply `reply`
    without problems (so every length in it has been checked), its invoke id
    at `invoke_at`. This walk follows decode_data_export's and
    :func:`read_poll_reply`'s step for step."""
    b = _Builder(data)
    b.steers(0, 2)                                # session id
    b.steers(4, 4)                                # ro_type (so where the invoke id is), length
    position = invoke_at
    b.field(position, "H")                        # INVOKE_ID
    b.steers(position + 2, 4)                     # command, length
    position += 12                                # and the managed object
    action, length = b.u16(position), b.u16(position + 2)
    position += 4
    end = position + length
    b.field(position, "H")                        # POLL_NUMBER
    position += 4 if action == ACT_POLL_MDIB_DATA_EXT else 2   # and the sequence number
    for offset, code in ((0, "I"), (4, "8s"), (12, "H"), (14, "H")):
        b.field(position + offset, code)          # REL_TIME, ABS_TIME, PARTITION, CODE
    position += 18                                # and the attribute group
    contexts_end = position + 4 + min(b.u16(position + 2), end - position - 4)
    position += 4
    observations = []
    while position < contexts_end:
        context = b.field(position, "H")
        polls_end = position + 6 + b.u16(position + 4)
        position += 6
        while position < polls_end:
            handle = b.field(position, "H")
            list_end = position + 6 + b.u16(position + 4)
            position += 6
            values: list[int] = []
            compound, stamp_abs, stamp_rel = False, -1, -1
            while position < list_end:
                ident, size = b.u16(position), b.u16(position + 2)
                position += 4
                if ident == ATTR_NU_VAL_OBS:
                    values.append(b.value(position))
                elif ident == ATTR_NU_CMPD_VAL_OBS:
                    count, length = b.u16(position), b.u16(position + 2)
                    count = min(count, min(length, size - 4) // NU_VAL_SIZE)
                    values += [b.value(position + 4 + i * NU_VAL_SIZE) for i in range(count)]
                    compound = True
                elif ident == ATTR_TIME_STAMP_ABS and size == 8:
                    stamp_abs = b.field(position, "8s")
                elif ident == ATTR_TIME_STAMP_REL and size == 4:
                    stamp_rel = b.field(position, "I")
                position += size
            observations.append((context, handle, tuple(values), compound, stamp_abs,
                                 stamp_rel, b.count))
    steering = int.from_bytes(b.steering, "big")
    return PollTemplate(steering, int.from_bytes(data, "big") & steering,
                        struct.Struct("".join(b.format)).unpack_from, action,
                        tuple(observations), reply.layout)
