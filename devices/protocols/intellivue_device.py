"""The monitor's side of IntelliVue data export, for the emulator and the tests.

An IntelliVue monitor only speaks when spoken to: it answers an association
request (accept, or refuse), announces itself with an MDS create event,
answers each poll with the newest numerics, and drops the association when
the polls stop (here with an abort, so the host hears of it at once).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from devices.link import DeviceLink
from devices.protocols.intellivue_codes import (
    HR,
    NIBP_DIA,
    NIBP_MEAN,
    NIBP_SYS,
    PLETH_PR,
    REL_TIME_PER_S,
    RR,
    SPO2,
    STATE_DEMO,
    STATE_INVALID,
    STATE_QUESTIONABLE,
    STATE_UNAVAILABLE,
    UNIT_MMHG,
    UNIT_PER_MIN,
    UNIT_PERCENT,
    UNIT_RESP_PER_MIN,
    MessageError,
    NumericValue,
    compound_attribute,
    encode_abs_time,
    encode_float,
    nu_val_attribute,
)
from devices.protocols.intellivue_frame import FrameDecoder, encode_frame
from devices.protocols.intellivue_messages import (
    ATTR_ID_LABEL,
    ATTR_TIME_ABS,
    ATTR_TIME_REL,
    CODE_NUMERICS,
    PARTITION_OBJECTS,
    ObservationSpec,
    PollRequest,
    decode_data_export,
    is_data_export,
    mds_create,
    poll_reply,
)
from devices.protocols.intellivue_polls import ATTR_TIME_STAMP_ABS
from devices.protocols.intellivue_session import (
    ABORT,
    CONNECT,
    FINISH,
    MDDL_VERSION1,
    NOMEN_VERSION,
    SessionError,
    Spdu,
    abort,
    association_accept,
    association_refuse,
    parse_spdu,
    release_response,
    request_user_info,
)
from devices.transport import PortSettings
from devices.vocabulary import PARAMETERS, Item, Reading, Status

PORT = PortSettings(baudrate=115200)
#: Canonical id -> (device code, unit code, observation handle) the monitor
#: sends it under. (U) handles and the label attribute's value.
STREAMED: dict[str, tuple[int, int, int]] = {
    "hr": (HR, UNIT_PER_MIN, 1), "pulse_rate": (PLETH_PR, UNIT_PER_MIN, 2),
    "spo2": (SPO2, UNIT_PERCENT, 3), "resp_rate": (RR, UNIT_RESP_PER_MIN, 4),
}
NIBP_HANDLE = 5
NIBP_CODES = {"nibp_sys": NIBP_SYS, "nibp_dia": NIBP_DIA, "nibp_mean": NIBP_MEAN}
#: Monitor seconds without a poll before it drops the association.
DROP_AFTER_S = 10.0
MDS_CONTEXT = 0  # (U)


def _state_of(value: float | None, status: Status) -> int:
    if value is None or status is Status.INVALID:
        return STATE_INVALID
    return STATE_QUESTIONABLE if status is Status.QUESTIONABLE else 0


class IntelliVueDevice(DeviceLink):
    """An IntelliVue monitor exporting numerics from the simulator's values.

    Options: ``refuse`` (refuse this many association requests first, with
    "monitor busy"; default 0), ``demo`` (1: every value carries the demo-data
    state bit), ``drop_after`` (seconds without a poll before the association
    is dropped; default 10).
    """

    protocol = "intellivue"
    port = PORT
    tick_s = 1.0

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        super().__init__(options)
        try:
            self._refusals_left = int(self.options.get("refuse", "0"))
            self._demo = self.options.get("demo", "0") not in ("", "0", "false", "no")
            self._drop_after = float(self.options.get("drop_after", DROP_AFTER_S))
        except ValueError:
            raise ValueError("refuse must be a whole number and drop_after a number "
                             "of seconds") from None
        self._frames = FrameDecoder()
        self._associated = False
        self._ticks_without_poll = 0
        self._values: dict[str, tuple[float | None, Status]] = {}
        self._nibp: dict[str, tuple[float | None, Status]] = {}
        self._nibp_time: float | None = None
        self._silent = False
        self._origin: float | None = None   # when the monitor's relative clock was 0
        self._invoke = 0
        #: Messages received, for tests: ("association", "poll", "event result", ...).
        self.heard: list[str] = []

    @property
    def talking(self) -> bool:
        return self._associated

    def emit(self, items: Sequence[Item], now: float) -> bytes:
        self._origin = now if self._origin is None else self._origin
        for item in items:
            if not isinstance(item, Reading):
                continue
            if item.param in STREAMED:
                self._values[item.param] = (item.value, item.status)
            elif item.param in NIBP_CODES:
                self._nibp[item.param] = (item.value, item.status)
                self._nibp_time = item.time
        # A simulated disconnect: the monitor says nothing, answers nothing.
        self._silent = not items
        if not self._associated:
            return b""
        self._ticks_without_poll += 1
        if self._ticks_without_poll * self.tick_s >= self._drop_after:
            self._associated = False
            return b"" if self._silent else encode_frame(abort())
        return b""

    def receive(self, data: bytes, now: float) -> bytes:
        self._origin = now if self._origin is None else self._origin
        out = bytearray()
        for frame in self._frames.feed(data):
            if isinstance(frame, bytes) and not self._silent:
                out += self._answer(frame, now)
        return bytes(out)

    def _rel_time(self, now: float) -> int:
        return int((now - (self._origin or now)) * REL_TIME_PER_S) & 0xFFFFFFFF

    def _answer(self, user_data: bytes, now: float) -> bytes:
        if is_data_export(user_data):
            try:
                message = decode_data_export(user_data)
            except MessageError:
                return b""
            self.heard.append(type(message).__name__)
            if isinstance(message, PollRequest) and self._associated:
                self._ticks_without_poll = 0
                return encode_frame(self._poll_reply(message, now))
            return b""
        try:
            spdu = parse_spdu(user_data)
        except SessionError:
            return b""
        self.heard.append(f"session 0x{spdu.kind:02X}")
        if spdu.kind == CONNECT:
            return self._associate(spdu, now)
        if spdu.kind == FINISH:
            self._associated = False
            return encode_frame(release_response())
        if spdu.kind == ABORT:
            self._associated = False
        return b""

    def _associate(self, spdu: Spdu, now: float) -> bytes:
        try:
            info = request_user_info(spdu)
        except SessionError:
            return encode_frame(association_refuse(0x02))
        if not (info.protocol_version & MDDL_VERSION1
                and info.nomenclature_version & NOMEN_VERSION):
            return encode_frame(association_refuse(0x84))
        if self._refusals_left > 0:
            self._refusals_left -= 1
            return encode_frame(association_refuse(0x01))
        self._associated = True
        self._ticks_without_poll = 0
        self._invoke = (self._invoke + 1) & 0xFFFF
        rel = self._rel_time(now)
        create = mds_create(self._invoke, rel, [(ATTR_TIME_ABS, encode_abs_time(now)),
                                                (ATTR_TIME_REL, rel.to_bytes(4, "big"))])
        return encode_frame(association_accept()) + encode_frame(create)

    def _poll_reply(self, request: PollRequest, now: float) -> bytes:
        observations: list[ObservationSpec] = []
        if (request.partition, request.code) == (PARTITION_OBJECTS, CODE_NUMERICS):
            observations = self._observations()
        return poll_reply(request.invoke_id, request.poll_number, self._rel_time(now),
                          encode_abs_time(now), [(MDS_CONTEXT, observations)],
                          partition=request.partition, code=request.code,
                          action_type=request.action_type)

    def _numeric(self, param: str, code: int, unit: int, value: float | None,
                 status: Status, *, unavailable: bool = False) -> NumericValue:
        state = STATE_UNAVAILABLE if unavailable else _state_of(value, status)
        state |= STATE_DEMO if self._demo else 0
        no_value = state & (STATE_INVALID | STATE_UNAVAILABLE)
        raw = encode_float(None if no_value else value, PARAMETERS[param].decimals)
        return NumericValue(code, state, unit, raw)

    def _observations(self) -> list[ObservationSpec]:
        observations: list[ObservationSpec] = []
        for param, (code, unit, handle) in STREAMED.items():
            if param not in self._values:
                continue  # not measured yet: the monitor has no such numeric
            value, status = self._values[param]
            numeric = self._numeric(param, code, unit, value, status)
            label = ((0x0002 << 16) | code).to_bytes(4, "big")
            observations.append((handle, [(ATTR_ID_LABEL, label), nu_val_attribute(numeric)]))
        nibp_attributes = []
        entries = []
        for param, code in NIBP_CODES.items():
            value, status = self._nibp.get(param, (None, Status.INVALID))
            entries.append(self._numeric(param, code, UNIT_MMHG, value, status,
                                         unavailable=self._nibp_time is None))
        nibp_attributes.append(compound_attribute(entries))
        if self._nibp_time is not None and math.isfinite(self._nibp_time):
            nibp_attributes.append((ATTR_TIME_STAMP_ABS, encode_abs_time(self._nibp_time)))
        observations.append((NIBP_HANDLE, nibp_attributes))
        return observations
