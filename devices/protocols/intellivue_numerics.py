"""IntelliVue numerics: what each value of a poll reply is called, and the readings.

Names: a code in :data:`~.intellivue_codes.PHYSIO_MAP`, in a unit it lists,
becomes its canonical parameter, converted to the canonical unit; any other
value keeps its device name and unit (announced once, as an
``unmapped_parameter`` event). Two codes for one canonical id in one reply:
the first in :data:`~.intellivue_codes.PRIORITY` wins.

Episodic values (NIBP, or any compound) make readings only when they change,
back-dated by their age on the monitor's own clock (poll time stamp minus
measurement time stamp), never before the previous poll; a cuff that gave no
values after measuring is reported (``nibp_failed``). Demo data: values keep
their status, and a ``device_status`` event ``{"demo_data": ...}`` says when
it starts and stops.

Speed: a poll reply is read from a flat tuple of fields by a plan of where
its values sit and what they are called: a template's fields, by a plan
worked out once per template (the hot path: no record is made for a
streamed value, see :mod:`.intellivue_polls`), or the values of a reply
decoded the general way, flattened, by a plan made for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import tzinfo
from itertools import accumulate, chain
from typing import Any

from devices.protocols.intellivue_codes import (
    EPISODIC_CODES,
    NIBP_DIA,
    NIBP_MEAN,
    NIBP_SYS,
    PHYSIO_MAP,
    PRIORITY,
    REL_TIME_PER_S,
    STATE_DEMO,
    STATE_UNAVAILABLE,
    NumericValue,
    decode_abs_time,
    device_name,
    float_value,
    reading_status,
    state_names,
    unit_text,
)
from devices.protocols.intellivue_polls import (
    ABS_TIME,
    REL_TIME,
    Observation,
    PollReply,
    PollTemplate,
)
from devices.vocabulary import PARAMETERS, DeviceEvent, DeviceEventKind, Item, Reading, Status

#: A measurement time stamp older than this (s) is not believed (wrong clock).
MAX_AGE_S = 24 * 3600.0
NIBP_COMPONENTS = frozenset({NIBP_SYS, NIBP_DIA, NIBP_MEAN})
#: Bounds of the memos of (state, FLOAT) -> (value, status) and of plans (one
#: per template): far above what a monitor needs, low enough that a corrupt
#: stream cannot grow them without end.
MAX_READINGS, MAX_PLANS = 4096, 16


#: What one value of a poll reply is called: (parameter, factor to its canonical
#: unit, unit); factor None: kept under the device's name and unit.
ValueName = tuple[str, float | None, str]


def name_values(layout: tuple[tuple[int, ...], ...]
                ) -> tuple[tuple[bool, tuple[ValueName, ...]], ...]:
    """What the values of one poll reply are called, observation by observation.

    Parameters
    ----------
    layout : tuple of tuple of int
        For each observation, each value's ``physio_id << 16 | unit_code``
        (:attr:`PollReply.layout`).

    Returns
    -------
    tuple
        For each observation: whether any of its codes is episodic
        (:data:`EPISODIC_CODES`), and a :data:`ValueName` for each value. Two
        codes for one canonical id in one reply: the first in
        :data:`PRIORITY` wins (else the first sent), the other keeps its
        device name.
    """
    flat = [(entry >> 16, entry & 0xFFFF) for codes in layout for entry in codes]
    rank = {code: i for i, code in enumerate(PRIORITY)}
    order = sorted(range(len(flat)), key=lambda i: rank.get(flat[i][0], len(rank)))
    claimed: set[str] = set()
    names: list[ValueName] = [("", None, "")] * len(flat)
    for i in order:
        physio_id, unit_code = flat[i]
        mapping = PHYSIO_MAP.get(physio_id)
        factor = mapping.units.get(unit_code) if mapping else None
        if mapping is not None and factor is not None and mapping.param not in claimed:
            claimed.add(mapping.param)
            names[i] = (mapping.param, factor, PARAMETERS[mapping.param].unit)
        else:
            names[i] = (device_name(physio_id), None, unit_text(unit_code))
    plan, start = [], 0
    for codes in layout:
        plan.append((any(entry >> 16 in EPISODIC_CODES for entry in codes),
                     tuple(names[start:start + len(codes)])))
        start += len(codes)
    return tuple(plan)


#: Per observation: its index, the names of its values, and for streamed ones
#: (not episodic, not compound) each value's (param, factor, unit, physio id,
#: unit code, field index of its state); None for episodic ones.
_Plan = tuple[tuple[int, tuple[ValueName, ...],
                    tuple[tuple[str, float | None, str, int, int, int], ...] | None], ...]


def _plan(layout: tuple[tuple[int, ...], ...], compound: tuple[bool, ...],
          starts: tuple[tuple[int, ...], ...]) -> _Plan:
    """How to read a reply of this layout whose values' fields start at `starts`
    (each: physio id, state, unit code, FLOAT)."""
    plan = []
    for index, ((episodic, names), codes, is_compound, first) in enumerate(
            zip(name_values(layout), layout, compound, starts, strict=True)):
        entries = None if episodic or is_compound else tuple(
            (*name, code >> 16, code & 0xFFFF, start + 1)
            for name, code, start in zip(names, codes, first, strict=True))
        plan.append((index, names, entries))
    return tuple(plan)


class NumericsReader:
    """Turns poll replies into readings and events (see the module doc).

    Parameters
    ----------
    source : str
        Written into readings and events.
    zone : tzinfo
        Of the monitor's clock (measurement time stamps are read in it).
    """

    def __init__(self, source: str, zone: tzinfo) -> None:
        self.source = source
        self._zone = zone
        # (context, handle) -> what the episodic observation held (its key), when it
        # was last seen, the observation itself, and whether it was demo data
        self._episodic: dict[tuple[int, int], tuple[tuple[object, ...], float, Observation,
                                                    bool]] = {}
        self._announced: set[str] = set()
        self._demo = False
        self._readings: dict[int, tuple[float | None, Status]] = {}   # see _reading_value
        self._plans: dict[PollTemplate, _Plan] = {}

    def from_template(self, template: PollTemplate, fields: tuple[Any, ...], t: float,
                      now: float | None) -> list[Item]:
        """The items of a reply read by `template` (its `fields`), sent at `t`."""
        plan = self._plans.get(template)
        if plan is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            plan = self._plans[template] = _plan(   # (see PollTemplate.observations)
                template.layout, tuple(compound for _, _, _, compound, *_ in template.observations),
                tuple(values for _, _, values, *_ in template.observations))
        return self._values(t, now, fields[REL_TIME], fields[ABS_TIME], fields, plan,
                            template.observation)

    def from_reply(self, reply: PollReply, t: float, now: float | None) -> list[Item]:
        """The items of a reply decoded the general way, sent at `t`."""
        observations = reply.observations
        # Flattened, value k's fields start at 4 * k.
        ends = list(accumulate(4 * len(o.values) for o in observations))
        starts = tuple(tuple(range(end - 4 * len(o.values), end, 4))
                       for o, end in zip(observations, ends, strict=True))
        plan = _plan(reply.layout, tuple(o.compound for o in observations), starts)
        fields = tuple(chain.from_iterable(chain.from_iterable(o.values for o in observations)))
        return self._values(t, now, reply.rel_time, reply.abs_time_raw, fields, plan,
                            lambda _, index: observations[index])

    def _event(self, t: float, kind: DeviceEventKind = DeviceEventKind.DEVICE_STATUS, /,
               **data: object) -> DeviceEvent:
        return DeviceEvent(t, kind, self.source, data)

    def _values(self, t: float, now: float | None, rel_time: int, abs_raw: bytes,
                fields: tuple[Any, ...], plan: _Plan,
                observation_at: Callable[[tuple[Any, ...], int], Observation]) -> list[Item]:
        """The readings (and events) of one poll reply, read as `plan` says;
        `observation_at(fields, index)` makes an episodic observation."""
        items: list[Item] = []
        readings, source, demo = self._readings, self.source, False
        for index, names, entries in plan:
            if entries is None:
                demo = self._episodic_values(rel_time, abs_raw, observation_at(fields, index),
                                             names, t, now, items) or demo
                continue
            # Streamed values: the hot path, inlined (see _reading).
            for param, factor, unit, code, unit_code, position in entries:
                state = fields[position]
                raw = fields[position + 2]
                if state & STATE_DEMO:
                    demo = True
                number, status = (readings.get(state << 32 | raw)
                                  or self._reading_value(state, raw))
                if factor is None:
                    if param not in self._announced:
                        items.append(self._announce(param, code, unit, unit_code, t))
                elif number is not None and factor != 1.0:
                    number = round(number * factor, 1)
                items.append(Reading(t, param, number, unit, status, source, now))
        if demo != self._demo:
            self._demo = demo
            items.append(self._event(t, demo_data=demo))
        return items

    def _reading_value(self, state: int, raw: int) -> tuple[float | None, Status]:
        """(value, status) of a value's state and FLOAT, memoised by both: a monitor
        sends the same few hundred over and over."""
        if len(self._readings) >= MAX_READINGS:
            self._readings.clear()   # a corrupt stream must not grow it without end
        found = self._readings[state << 32 | raw] = reading_status(state, float_value(raw))
        return found

    def _episodic_values(self, rel_time: int, abs_raw: bytes, observation: Observation,
                         names: tuple[ValueName, ...], t: float, now: float | None,
                         items: list[Item]) -> bool:
        """Add the readings of an episodic observation (a cuff) to `items` if it
        holds a new measurement; True if any of its values is demo data."""
        handle = (observation.context_id, observation.handle)
        last = self._episodic.get(handle)
        if last is not None and last[2] is observation:
            # The very object of last poll (a template made it, its fields being
            # the same): the same measurement, as its key would say. Every poll.
            self._episodic[handle] = (last[0], t, observation, last[3])
            return last[3]
        values = observation.values
        # A value is a tuple of its fields, so `values` is the key itself.
        key = (observation.measured_at_raw, observation.measured_rel, values)
        demo = any(value.state & STATE_DEMO for value in values)
        last_key, last_seen = (None, None) if last is None else last[:2]
        self._episodic[handle] = (key, t, observation, demo)
        if last_key != key:
            # Absent from the previous reply, so not older than it (this also
            # holds when the monitor's clock runs fast, as an emulator's may).
            when = max(t - self._age(rel_time, abs_raw, observation), last_seen or -math.inf)
            items += self._nibp_failed(values, when)
            for value, name in zip(values, names, strict=True):
                items += self._reading(value, name, when, now)
        return demo

    def _reading(self, value: NumericValue, name: ValueName, t: float, now: float | None
                 ) -> list[Item]:
        param, factor, unit = name
        number, status = reading_status(value.state, value.value)
        items: list[Item] = []
        if factor is None:
            if param not in self._announced:
                items.append(self._announce(param, value.physio_id, unit, value.unit_code, t))
        elif number is not None and factor != 1.0:
            number = round(number * factor, 1)
        items.append(Reading(t, param, number, unit, status, self.source, received_at=now))
        return items

    def _age(self, rel_time: int, abs_raw: bytes, observation: Observation) -> float:
        """Seconds the monitor says passed between measuring and its reply (0 if unknown)."""
        age = 0.0
        measured, polled = observation.measured_at(self._zone), decode_abs_time(abs_raw,
                                                                                 self._zone)
        if measured is not None and polled is not None:
            age = (polled - measured).total_seconds()
        elif observation.measured_rel is not None:
            age = ((rel_time - observation.measured_rel) & 0xFFFFFFFF) / REL_TIME_PER_S
        return age if 0.0 <= age <= MAX_AGE_S else 0.0

    def _announce(self, param: str, code: int, unit: str, unit_code: int, t: float
                  ) -> DeviceEvent:
        """The first value under a device name: say what it is, once."""
        self._announced.add(param)
        return self._event(t, DeviceEventKind.UNMAPPED_PARAMETER, name=param,
                           code=f"0x{code:04X}", unit=unit, unit_code=f"0x{unit_code:04X}")

    def _nibp_failed(self, values: tuple[NumericValue, ...], t: float) -> list[Item]:
        cuff = [v for v in values if v.physio_id in NIBP_COMPONENTS]
        if not cuff or any(reading_status(v.state, v.value)[0] is not None for v in cuff):
            return []
        if all(v.state & STATE_UNAVAILABLE for v in cuff):
            return []  # no measurement yet is not a failed one
        return [self._event(t, DeviceEventKind.NIBP_FAILED,
                            states=sorted({n for v in cuff for n in state_names(v.state)}))]

