"""Philips IntelliVue nomenclature: the FLOAT type, measurement states, units,
physiological ids and how they map onto the canonical vocabulary.

Facts from PROTOCOLS.md ("Philips IntelliVue"); names marked (U) are the
usual Philips nomenclature names, not checked against the programming guide.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import NamedTuple

from devices.vocabulary import Status

# --- FLOAT: signed 8-bit base-10 exponent, signed 24-bit mantissa --------------------

FLOAT_NAN = 0x007FFFFF
FLOAT_NRES = 0x00800000
FLOAT_POS_INF = 0x007FFFFE
FLOAT_NEG_INF = 0x00800002
#: Mantissas that are markers, not numbers, whatever the exponent. 0x800001 is
#: reserved in the same family (U); treating it as "no value" is the safe side.
_SPECIAL_MANTISSAS = frozenset({0x7FFFFF, 0x800000, 0x7FFFFE, 0x800002, 0x800001})
_MANTISSA_MAX = 0x7FFFFD   # largest mantissa that is a number


def float_value(raw: int) -> float | None:
    """The number a 32-bit FLOAT holds; None for NaN, NRes, +INF, -INF (and reserved)."""
    mantissa = raw & 0xFFFFFF
    if mantissa in _SPECIAL_MANTISSAS:
        return None
    if mantissa & 0x800000:
        mantissa -= 0x1000000
    exponent = (raw >> 24) & 0xFF
    if exponent & 0x80:
        exponent -= 0x100
    # Dividing by an exact power of ten rounds once: 365e-1 is 36.5, not 36.500000000000004.
    return float(mantissa * 10 ** exponent) if exponent >= 0 else mantissa / 10 ** -exponent


def encode_float(value: float | None, decimals: int = 0) -> int:
    """A 32-bit FLOAT for `value` with `decimals` digits after the point (NaN for None)."""
    if value is None or not math.isfinite(value):
        return FLOAT_NAN
    exponent = -decimals
    mantissa = round(value * 10 ** decimals)
    while abs(mantissa) > _MANTISSA_MAX and exponent < 127:
        exponent += 1
        mantissa = round(value / 10 ** exponent)
    return ((exponent & 0xFF) << 24) | (mantissa & 0xFFFFFF)


# --- numeric values: attribute 0x0950 NU_VAL_OBS and 0x094B compound ------------------

ATTR_NU_CMPD_VAL_OBS = 0x094B
ATTR_NU_VAL_OBS = 0x0950
NU_VAL = struct.Struct(">HHHI")
NU_VAL_SIZE = NU_VAL.size


class MessageError(ValueError):
    """Bytes that are not a message (or attribute) this decoder can read."""


class NumericValue(NamedTuple):
    """One NU_VAL_OBS: ``physio u16, state u16, unit u16, FLOAT u32``.

    A named tuple rather than a frozen dataclass: a poll reply holds several,
    and a tuple is made straight from ``struct.unpack_from`` at a fraction of
    a frozen dataclass's cost (see :mod:`.intellivue_polls`).
    """

    physio_id: int
    state: int
    unit_code: int
    raw_float: int

    @property
    def value(self) -> float | None:
        """The number, or None for NaN, NRes and the infinities."""
        return float_value(self.raw_float)

    def encode(self) -> bytes:
        return NU_VAL.pack(*self)

    @classmethod
    def from_bytes(cls, raw: bytes) -> NumericValue:
        if len(raw) < NU_VAL_SIZE:
            raise MessageError(f"a numeric value needs {NU_VAL_SIZE} bytes, not {len(raw)}")
        return cls._make(NU_VAL.unpack_from(raw))


def decode_numeric_attribute(attribute_id: int, value: bytes) -> list[NumericValue]:
    """The values of one NU_VAL_OBS, or of a compound (``count u16, len u16``, then
    `count` entries); [] for any other attribute.

    Raises
    ------
    MessageError
        Too short for one value, or for the compound's header.
    """
    if attribute_id == ATTR_NU_VAL_OBS:
        return [NumericValue.from_bytes(value)]
    if attribute_id != ATTR_NU_CMPD_VAL_OBS:
        return []
    if len(value) < 4:
        raise MessageError("compound value without its count and length")
    count, length = struct.unpack(">HH", value[:4])
    entries = value[4:4 + length]
    # Trust the bytes that are there over a count that promises more.
    return [NumericValue.from_bytes(entries[i * NU_VAL_SIZE:(i + 1) * NU_VAL_SIZE])
            for i in range(min(count, len(entries) // NU_VAL_SIZE))]


def nu_val_attribute(value: NumericValue) -> tuple[int, bytes]:
    """(attribute id, value bytes) of a NU_VAL_OBS."""
    return ATTR_NU_VAL_OBS, value.encode()


def compound_attribute(values: Sequence[NumericValue]) -> tuple[int, bytes]:
    """(attribute id, value bytes) of a compound value (NIBP)."""
    entries = b"".join(v.encode() for v in values)
    return ATTR_NU_CMPD_VAL_OBS, struct.pack(">HH", len(values), len(entries)) + entries


# --- measurement state (u16 bits) -----------------------------------------------------

STATE_INVALID = 0x8000
STATE_QUESTIONABLE = 0x4000
STATE_UNAVAILABLE = 0x2000
STATE_CALIBRATING = 0x1000
STATE_TEST = 0x0800
STATE_DEMO = 0x0400

STATE_NAMES: dict[int, str] = {
    STATE_INVALID: "invalid", STATE_QUESTIONABLE: "questionable",
    STATE_UNAVAILABLE: "unavailable", STATE_CALIBRATING: "calibrating",
    STATE_TEST: "test_data", STATE_DEMO: "demo_data",
}
_NO_VALUE = STATE_INVALID | STATE_UNAVAILABLE
# A value is shown, but not to be trusted: being calibrated, or test data.
_DOUBTFUL = STATE_QUESTIONABLE | STATE_CALIBRATING | STATE_TEST


def state_names(state: int) -> list[str]:
    """Names of the bits set in `state` (unknown bits as hex)."""
    known = [name for bit, name in STATE_NAMES.items() if state & bit]
    rest = state & ~sum(STATE_NAMES)
    return known + ([f"0x{rest:04X}"] if rest else [])


def reading_status(state: int, value: float | None) -> tuple[float | None, Status]:
    """The (value, status) a reading carries for a device value and its state.

    Invalid or unavailable, or a FLOAT marker: (None, invalid). Questionable,
    calibrating or test data: questionable. Demo data keeps its status; the
    host reports it once as a device_status event (the screen says so).
    """
    if value is None or state & _NO_VALUE:
        return None, Status.INVALID
    if state & _DOUBTFUL:
        return value, Status.QUESTIONABLE
    return value, Status.VALID


# --- units -----------------------------------------------------------------------------

UNIT_PERCENT = 0x0220
UNIT_PER_MIN = 0x0AA0
UNIT_RESP_PER_MIN = 0x0AE0
UNIT_MMHG = 0x0F20
UNIT_KPA = 0x0F03
UNIT_DEGC = 0x17A0
UNITS: dict[int, str] = {UNIT_PERCENT: "%", UNIT_PER_MIN: "/min", UNIT_RESP_PER_MIN: "rpm",
                         UNIT_MMHG: "mmHg", UNIT_KPA: "kPa", UNIT_DEGC: "°C"}
MMHG_PER_KPA = 7.50062

# --- physiological ids -------------------------------------------------------------------

HR = 0x4182
SPO2 = 0x4BB8
PLETH_PR = 0x4822
NIBP = 0x4A04
NIBP_SYS = 0x4A05
NIBP_DIA = 0x4A06
NIBP_MEAN = 0x4A07
NIBP_PR = 0xF0E5
RR = 0x500A
AWAY_RR = 0x5012
ETCO2 = 0x50B0
TEMP = 0x4B48
PERF_REL = 0x4BB0

#: Device names (U: the usual NOM_ names) for codes this program knows.
PHYSIO_NAMES: dict[int, str] = {
    HR: "NOM_ECG_CARD_BEAT_RATE", SPO2: "NOM_PULS_OXIM_SAT_O2",
    PLETH_PR: "NOM_PLETH_PULS_RATE", NIBP: "NOM_PRESS_BLD_NONINV",
    NIBP_SYS: "NOM_PRESS_BLD_NONINV_SYS", NIBP_DIA: "NOM_PRESS_BLD_NONINV_DIA",
    NIBP_MEAN: "NOM_PRESS_BLD_NONINV_MEAN", NIBP_PR: "NOM_PRESS_BLD_NONINV_PULS_RATE",
    RR: "NOM_RESP_RATE", AWAY_RR: "NOM_AWAY_RESP_RATE", ETCO2: "NOM_AWAY_CO2_ET",
    TEMP: "NOM_TEMP", PERF_REL: "NOM_PULS_OXIM_PERF_REL",
}


@dataclass(frozen=True)
class ParamMapping:
    """How one device code becomes a canonical parameter.

    Attributes
    ----------
    param : str
        Canonical id.
    units : dict
        Device unit code -> factor to the canonical unit. A value in any
        other unit is kept under its device name rather than guessed at.
    """

    param: str
    units: dict[int, float]


_PRESSURE = {UNIT_MMHG: 1.0, UNIT_KPA: MMHG_PER_KPA}
_RATE = {UNIT_PER_MIN: 1.0, UNIT_RESP_PER_MIN: 1.0}
#: Device code -> canonical parameter. NIBP pulse rate (0xF0E5) is not the
#: pleth pulse rate: an episodic cuff value would break up the 1 Hz stream, so
#: it is kept under its device name. 0x4BB0 is Philips' relative perfusion,
#: not a Masimo-style perfusion index: kept under its device name too.
PHYSIO_MAP: dict[int, ParamMapping] = {
    HR: ParamMapping("hr", {UNIT_PER_MIN: 1.0}),
    PLETH_PR: ParamMapping("pulse_rate", {UNIT_PER_MIN: 1.0}),
    SPO2: ParamMapping("spo2", {UNIT_PERCENT: 1.0}),
    NIBP_SYS: ParamMapping("nibp_sys", _PRESSURE),
    NIBP_DIA: ParamMapping("nibp_dia", _PRESSURE),
    NIBP_MEAN: ParamMapping("nibp_mean", _PRESSURE),
    AWAY_RR: ParamMapping("resp_rate", _RATE),
    RR: ParamMapping("resp_rate", _RATE),
    ETCO2: ParamMapping("etco2", _PRESSURE),
    TEMP: ParamMapping("temp", {UNIT_DEGC: 1.0}),
}
#: When one poll reply holds two codes for the same canonical id, the first
#: here wins and the other keeps its device name. (U) Airway (capnography)
#: respiration rate before thoracic impedance: it counts actual breaths, which
#: is what sedation monitoring watches.
PRIORITY: tuple[int, ...] = (AWAY_RR, RR)
#: Codes whose values are episodic measurements (a cuff), not a stream.
EPISODIC_CODES = frozenset({NIBP, NIBP_SYS, NIBP_DIA, NIBP_MEAN, NIBP_PR})


def device_name(physio_id: int) -> str:
    """The name an unmapped code is kept under: its NOM_ name, else ``intellivue_0xNNNN``."""
    return PHYSIO_NAMES.get(physio_id, f"intellivue_0x{physio_id:04X}")


def unit_text(unit_code: int) -> str:
    """A device unit as text; "" for a unit code this program does not know."""
    return UNITS.get(unit_code, "")


# --- AbsoluteTime: 8 BCD bytes, century year month day hour minute second 1/100 s ----

ABS_TIME_UNSET = b"\xff" * 8


def _from_bcd(byte: int) -> int | None:
    high, low = byte >> 4, byte & 0x0F
    return None if high > 9 or low > 9 else high * 10 + low


def _to_bcd(number: int) -> int:
    return ((number // 10) << 4) | (number % 10)


def decode_abs_time(raw: bytes, zone: tzinfo = UTC) -> datetime | None:
    """The time in an AbsoluteTime, read in `zone`; None if unset or not a date.

    (U) The monitor's clock has no zone on the wire; the caller says which.
    """
    if len(raw) != 8:
        return None
    digits = [_from_bcd(b) for b in raw]
    if None in digits:
        return None
    century, year, month, day, hour, minute, second, hundredths = digits  # type: ignore[misc]
    try:
        return datetime(century * 100 + year, month, day, hour, minute, second,
                        hundredths * 10_000, tzinfo=zone)
    except (ValueError, TypeError):
        return None


def encode_abs_time(t: float) -> bytes:
    """An AbsoluteTime for `t` (s since epoch), written in UTC."""
    moment = datetime.fromtimestamp(t, UTC)
    fields = (moment.year // 100, moment.year % 100, moment.month, moment.day, moment.hour,
              moment.minute, moment.second, moment.microsecond // 10_000)
    return bytes(_to_bcd(f) for f in fields)


#: RelativeTime counts 1/8 ms (8000 a second), wrapping at 2**32.
REL_TIME_PER_S = 8000
