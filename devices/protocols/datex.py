"""GE Datex-Ohmeda S/5 (AS/3, CARESCAPE) computer interface ("DRI"): host, emulator, adapter.

19200 baud 8E1 with RTS/CTS. The monitor is silent until asked: the host sends
a request for displayed values every ``interval`` seconds (``datex:PORT?interval=5``,
default 5), and the monitor sends a physiological record at that interval
until asked with interval 0. Framing, header and basic class are in
:mod:`devices.protocols.datex_codec`.

Choices made here (PROTOCOLS.md leaves them open):

- ``hr`` is ECG HR; ``pulse_rate`` is SpO2 pulse rate; ``resp_rate`` is the
  ECG impedance RR, or the CO2 RR when impedance gives no number (one source
  per record, never both); ``etco2`` is et × ambient pressure × 1e-5 mmHg;
  ``temp`` is T1. FiCO2 has no canonical id: it is kept as ``co2_fi`` (%),
  announced once.
- A marker value becomes ``value=None``, status invalid; "not updated" gives
  no reading at all (the last one stands). Under/over range, not calibrated
  and discontinuity are also reported by a ``device_status`` event when they
  start or end.
- A group whose status says "not present" gives no readings (T1 without a
  probe sends "invalid" forever); present but not active: questionable. (U)
- NIBP is episodic and the S/5 repeats the last one in every record: the
  three NIBP readings are emitted when the (sys, dia, mean) triple changes,
  so once per measurement (and once when it turns invalid). Two measurements
  with identical values look like one: the basic class does not say when the
  cuff was last inflated.
- Waveform and alarm records are good frames (``stats.frames_ok``) counted in
  :attr:`DatexHost.record_types`; they give no readings.
- r_time is Unix seconds: live readings carry it while it is within 10 min of
  the receipt time, else the receipt time and one ``device_clock`` event; a
  capture with no receipt times is placed by r_time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from devices.link import DeviceLink, HostLink
from devices.protocols.datex_codec import (
    FIELDS,
    GROUP_ACTIVE,
    GROUP_EXISTS,
    INVALID,
    NOT_UPDATED,
    BasicBlock,
    Deframer,
    FrameError,
    MainType,
    PhdbRecordType,
    Rejected,
    build_basic,
    build_record,
    build_request,
    frame,
    marker_name,
    parse_header,
    parse_physiological,
    parse_request,
)
from devices.stream import StreamAdapter
from devices.transport import PortSettings
from devices.vocabulary import (
    NIBP_PARAMS,
    PARAMETERS,
    DeviceEvent,
    DeviceEventKind,
    Item,
    Reading,
    Status,
)

PORT = PortSettings(baudrate=19200, bytesize=8, parity="E", stopbits=1, rtscts=True)
DEFAULT_INTERVAL_S = 5
MAX_INTERVAL_S = 3600
#: A monitor restarted (or a cable replugged) forgets the request: ask again
#: after this many intervals without a record.
RESEND_AFTER_INTERVALS = 3
#: The device clock is trusted within this many seconds of the receipt time.
CLOCK_TOLERANCE_S = 600.0
#: Device-named parameters: unit and what they are (announced once).
UNMAPPED: dict[str, tuple[str, str]] = {"co2_fi": ("%", "FiCO2, basic class CO2 group fi")}
#: Markers worth a device_status event ("invalid" is the reading's status itself).
NOTABLE_MARKERS = frozenset({"discontinuity", "under range", "over range", "not calibrated"})
RECORD_KINDS: dict[int, str] = {MainType.PHYSIOLOGICAL: "physiological",
                                MainType.WAVEFORM: "waveform", MainType.ALARM: "alarm"}

# canonical (or device-named) parameter -> basic class field
_DIRECT: dict[str, str] = {"hr": "ecg_hr", "nibp_sys": "nibp_sys", "nibp_dia": "nibp_dia",
                           "nibp_mean": "nibp_mean", "temp": "t1_temp", "spo2": "spo2",
                           "pulse_rate": "spo2_pr", "co2_fi": "co2_fi"}

Measure = tuple[float | None, str | None, Status]   # value, marker, status


def parse_interval(text: str | None) -> int:
    """The ``interval`` option: whole seconds between records, 1 to 3600."""
    if text is None:
        return DEFAULT_INTERVAL_S
    try:
        interval = int(text)
    except ValueError:
        raise ValueError(f"interval={text!r} is not a whole number of seconds") from None
    if not 1 <= interval <= MAX_INTERVAL_S:
        raise ValueError(f"interval={text!r} must be 1 to {MAX_INTERVAL_S} seconds")
    return interval


def measures(block: BasicBlock) -> dict[str, Measure]:
    """Parameter -> (value, marker, status) for the groups the monitor says are present."""
    out: dict[str, Measure] = {}

    def measure(field: str) -> Measure | None:
        group = FIELDS[field].group
        if not block.exists(group):
            return None
        marker = marker_name(block.raw[field])
        if marker:
            return None, marker, Status.INVALID
        return (block.value(field), None,
                Status.VALID if block.active(group) else Status.QUESTIONABLE)

    for param, field in _DIRECT.items():
        if (m := measure(field)) is not None:
            out[param] = m
    rr = measure("ecg_imp_rr")
    if rr is None or rr[0] is None:
        co2_rr = measure("co2_rr")
        rr = co2_rr if co2_rr is not None and co2_rr[0] is not None else rr
    if rr is not None:
        out["resp_rate"] = rr
    et, amb = measure("co2_et"), measure("co2_amb")
    if et is not None and amb is not None:
        if et[0] is None or amb[0] is None:
            out["etco2"] = et if et[0] is None else amb
        else:
            # et is % of the ambient pressure (mmHg): mmHg = et x amb x 1e-5 in raw units.
            out["etco2"] = (round(et[0] * amb[0] / 100.0, 2), None, et[2])
    return out


class DatexHost(HostLink):
    """Asks an S/5 for displayed values and decodes its records.

    Options: ``interval`` (seconds between records, default 5).

    Attributes
    ----------
    record_types : Counter
        Good records by kind ("physiological", "waveform", "alarm", ...).
    """

    protocol = "datex"
    port = PORT
    options = frozenset({"interval"})

    def __init__(self, source: str = "", options: Mapping[str, str] | None = None) -> None:
        super().__init__(source, options)
        self.interval_s = parse_interval((options or {}).get("interval"))
        # Records come every interval, not every second: silence is judged on that.
        self.silence_timeout = 2.0 * self.interval_s + 2.0
        self.record_types: Counter[str] = Counter()
        self._deframer = Deframer()
        self._asked_at: float | None = None
        self._heard_at: float | None = None
        # Start as "no measurement yet", so a monitor with no NIBP says nothing.
        self._nibp: tuple[tuple[float | None, str | None], ...] = ((None, "invalid"),) * 3
        self._markers: dict[str, str] = {}
        self._announced: set[str] = set()
        self._clock_off = False

    @property
    def waveform_records(self) -> int:
        """Waveform records received (good frames, not decoded)."""
        return self.record_types["waveform"]

    # -- the dialogue ----------------------------------------------------------------------

    def start(self, now: float) -> bytes:
        self._asked_at = now
        return build_request(self.interval_s)

    def due(self, now: float) -> bytes:
        last = max(t for t in (self._asked_at, self._heard_at, float("-inf")) if t is not None)
        if now - last < RESEND_AFTER_INTERVALS * self.interval_s:
            return b""
        self._asked_at = now
        return build_request(self.interval_s)

    def stop(self, now: float) -> bytes:
        return build_request(0)

    # -- decoding --------------------------------------------------------------------------

    def receive(self, data: bytes, now: float | None) -> list[Item]:
        items: list[Item] = []
        for piece in self._deframer.feed(data):
            if isinstance(piece, Rejected):
                items += self._reject(piece.reason, now, piece.raw, piece.detail)
                continue
            try:
                items += self._record(piece, now)
            except FrameError as exc:
                items += self._reject(exc.reason, now, piece, str(exc))
        return self.count(items)

    def _record(self, payload: bytes, now: float | None) -> list[Item]:
        header = parse_header(payload)
        block = (parse_physiological(payload, header)
                 if header.main_type == MainType.PHYSIOLOGICAL else None)
        self.stats.frames_ok += 1
        self.record_types[RECORD_KINDS.get(header.main_type, f"type {header.main_type}")] += 1
        if now is not None:
            self._heard_at = now
        if block is None:
            return []   # waveforms, alarms: counted, not decoded
        t, items = self._place(header.time, now)
        return items + self._readings(measures(block), t)

    def _place(self, r_time: int, now: float | None) -> tuple[float, list[Item]]:
        """The time to stamp a record with, and a device_clock event if it is far off."""
        if now is None:
            return float(r_time), []
        offset = r_time - now
        if abs(offset) <= CLOCK_TOLERANCE_S:
            self._clock_off = False
            return float(r_time), []
        if self._clock_off:
            return now, []
        self._clock_off = True
        return now, [DeviceEvent(now, DeviceEventKind.DEVICE_CLOCK, self.source,
                                 {"offset_s": round(offset, 1), "device_time": r_time})]

    def _readings(self, values: dict[str, Measure], t: float) -> list[Item]:
        items: list[Item] = self._marker_events(values, t)
        for param, (value, marker, status) in values.items():
            if param in NIBP_PARAMS or marker == NOT_UPDATED:
                continue
            if param not in PARAMETERS and param not in self._announced:
                self._announced.add(param)
                unit, meaning = UNMAPPED[param]
                items.append(DeviceEvent(t, DeviceEventKind.UNMAPPED_PARAMETER, self.source,
                                         {"param": param, "unit": unit, "meaning": meaning}))
            items.append(Reading(t, param, value, _unit(param), status, self.source))
        return items + self._nibp_readings(values, t)

    def _nibp_readings(self, values: dict[str, Measure], t: float) -> list[Item]:
        nibp = {p: values[p] for p in NIBP_PARAMS if p in values}
        if not nibp or any(m[1] == NOT_UPDATED for m in nibp.values()):
            return []
        triple = tuple(nibp[p][:2] if p in nibp else (None, "absent") for p in NIBP_PARAMS)
        if triple == self._nibp:
            return []   # the same measurement, repeated in every record
        self._nibp = triple
        return [Reading(t, p, value, _unit(p), status, self.source)
                for p, (value, _, status) in nibp.items()]

    def _marker_events(self, values: dict[str, Measure], t: float) -> list[Item]:
        notable = {p: m[1] for p, m in values.items() if m[1] in NOTABLE_MARKERS}
        if notable == self._markers:
            return []
        self._markers = notable
        return [DeviceEvent(t, DeviceEventKind.DEVICE_STATUS, self.source,
                            {"markers": dict(notable)})]

    def _reject(self, kind: str, now: float | None, raw: bytes, detail: str = "") -> list[Item]:
        self.stats.rejected[kind] += 1
        if now is None:
            return []  # a capture being imported: counted, no time to place an event at
        return [DeviceEvent(now, DeviceEventKind.BAD_FRAME, self.source,
                            {"kind": kind, "reason": detail or kind,
                             "bytes": raw[:32].hex(" ")})]


def _unit(param: str) -> str:
    spec = PARAMETERS.get(param)
    return spec.unit if spec else UNMAPPED[param][0]


# -- the monitor's side, for the emulator --------------------------------------------------

#: DRI level the emulated monitor writes in its records (the capture's S/5 says 10).
DEVICE_DRI_LEVEL = 0x0A
#: Ambient pressure the emulated CO2 module reports (0.1 mmHg units). (U)
AMBIENT_RAW = 7600


class DatexDevice(DeviceLink):
    """An S/5 monitor: silent until asked, then a physiological record every interval."""

    protocol = "datex"
    port = PORT
    tick_s = 1.0

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        super().__init__(options)
        self.interval_s = 0
        self._deframer = Deframer()
        self._next_at = float("-inf")
        self._fresh = False
        self._values: dict[str, float | None] = {}
        self._number = 0

    @property
    def talking(self) -> bool:
        return self.interval_s > 0

    def receive(self, data: bytes, now: float) -> bytes:
        for piece in self._deframer.feed(data):
            if isinstance(piece, Rejected):
                continue
            try:
                request = parse_request(piece)
            except FrameError:
                continue   # a real monitor ignores what it does not understand
            if request.record_type == PhdbRecordType.DISPLAYED:   # trends: not emulated
                self.interval_s = request.interval_s
                self._next_at = now
        return b""

    def emit(self, items: Sequence[Item], now: float) -> bytes:
        for item in items:
            if isinstance(item, Reading) and item.param in PARAMETERS:
                self._values[item.param] = None if item.status is Status.INVALID else item.value
        # No items at all: the simulated monitor is silent (a disconnect scenario).
        self._fresh = self._fresh or bool(items)
        if not self.talking or not self._fresh or now < self._next_at:
            return b""
        self._fresh = False
        # Half a tick early, so that ticks a hair late do not skip a record.
        self._next_at = now + self.interval_s - self.tick_s / 2
        self._number = (self._number + 1) & 0xFF
        return frame(physiological_record(self._values, int(now), self._number))


_GROUP_PARAMS: dict[str, set[str]] = {"ecg": {"hr", "resp_rate"}, "t1": {"temp"},
                                      "spo2": {"spo2", "pulse_rate"}, "co2": {"etco2"}}


def physiological_record(values: Mapping[str, float | None], r_time: int,
                         number: int = 0) -> bytes:
    """An unframed S/5 physiological record (displayed values, basic class) of `values`.

    A parameter the monitor has never seen makes its group "not present"; a
    None value is sent as the "invalid" marker. NIBP is always present, as
    on an S/5, and repeats its last measurement.
    """
    seen = set(values)
    raw = {field: _raw(values.get(param), FIELDS[field].divisor)
           for param, field in _DIRECT.items() if param in PARAMETERS}
    raw.update(ecg_imp_rr=_raw(values.get("resp_rate")), co2_rr=_raw(values.get("resp_rate")),
               co2_amb=AMBIENT_RAW, co2_fi=0)
    etco2 = values.get("etco2")
    raw["co2_et"] = INVALID if etco2 is None else _raw(etco2 * 1e5 / AMBIENT_RAW)
    status = {group: GROUP_EXISTS | GROUP_ACTIVE for group, params in _GROUP_PARAMS.items()
              if params & seen}
    status["nibp"] = GROUP_EXISTS | GROUP_ACTIVE   # built into every S/5
    block = build_basic(r_time, raw, status,
                        trailer=DEVICE_DRI_LEVEL << 4 | PhdbRecordType.DISPLAYED)
    return build_record(MainType.PHYSIOLOGICAL, [(PhdbRecordType.DISPLAYED, block)],
                        r_time=r_time, number=number, dri_level=DEVICE_DRI_LEVEL)


def _raw(value: float | None, scale: float = 1.0) -> int:
    """A value as the i16 the monitor sends (markers when it does not fit)."""
    if value is None:
        return INVALID
    raw = round(value * scale)
    if raw > 32767:
        return -32763   # over range
    return -32764 if raw <= -32001 else raw   # under range


class DatexAdapter(StreamAdapter):
    """``datex:/dev/ttyUSB0?interval=5``"""

    link_class = DatexHost

