"""The words every adapter speaks: parameter ids, units, codes, Reading, DeviceEvent.

This is the contract of DESIGN.md ("Vocabulary"). Adapters map device codes
onto these ids; a device parameter with no canonical id keeps its device name
(see :func:`is_canonical`), it is never dropped.

Times are seconds since the Unix epoch, UTC, as floats (what ``time.time()``
returns); the store keeps integer milliseconds.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One canonical parameter.

    Attributes
    ----------
    id : str
        Canonical id used everywhere (store, CSV, rules, screen).
    label : str
        Human name, e.g. "Heart rate".
    short : str
        Label for a numeric tile, e.g. "HR".
    unit : str
        Canonical unit as written in CSV files.
    plausible : tuple of float
        (low, high) inclusive range a measurement can physically have; values
        outside it are artefacts (the rules reject them, with a reason).
    mdc_code : int or None
        IEEE 11073-10101 code (some unconfirmed; see DESIGN.md).
    mdc_name : str
    loinc : str or None
    decimals : int
        Digits after the point when displayed.
    episodic : bool
        True for measurements taken now and then (NIBP) rather than streamed;
        their age matters more than their rate.
    """

    id: str
    label: str
    short: str
    unit: str
    plausible: tuple[float, float]
    mdc_code: int | None
    mdc_name: str
    loinc: str | None
    decimals: int = 0
    episodic: bool = False

    def is_plausible(self, value: float) -> bool:
        low, high = self.plausible
        return low <= value <= high


# One table, so one edit fixes a code. MDC numbers for spo2, nibp_dia,
# nibp_mean, etco2 and temp come from the Philips nomenclature and are not yet
# confirmed against IEEE 11073-10101 (DESIGN.md).
PARAMETERS: dict[str, ParamSpec] = {
    p.id: p
    for p in (
        ParamSpec("hr", "Heart rate", "HR", "/min", (15, 300),
                  147842, "MDC_ECG_HEART_RATE", "8867-4"),
        ParamSpec("pulse_rate", "Pulse rate", "PR", "/min", (15, 300),
                  149530, "MDC_PULS_OXIM_PULS_RATE", "8867-4"),
        ParamSpec("spo2", "Oxygen saturation", "SpO2", "%", (40, 100),
                  150456, "MDC_PULS_OXIM_SAT_O2", "59408-5"),
        ParamSpec("nibp_sys", "NIBP systolic", "SYS", "mmHg", (40, 300),
                  150021, "MDC_PRESS_BLD_NONINV_SYS", "8480-6", episodic=True),
        ParamSpec("nibp_dia", "NIBP diastolic", "DIA", "mmHg", (15, 250),
                  150022, "MDC_PRESS_BLD_NONINV_DIA", "8462-4", episodic=True),
        ParamSpec("nibp_mean", "NIBP mean", "MAP", "mmHg", (20, 260),
                  150023, "MDC_PRESS_BLD_NONINV_MEAN", "8478-0", episodic=True),
        ParamSpec("resp_rate", "Respiratory rate", "RR", "/min", (0, 120),
                  151562, "MDC_RESP_RATE", "9279-1"),
        ParamSpec("etco2", "End-tidal CO2", "EtCO2", "mmHg", (0, 150),
                  151708, "MDC_AWAY_CO2_ET", "19891-1"),
        ParamSpec("temp", "Body temperature", "Temp", "°C", (25, 45),
                  150344, "MDC_TEMP", "8310-5", decimals=1),
        ParamSpec("perf_index", "Perfusion index", "PI", "%", (0, 30),
                  None, "", None, decimals=2),
    )
}

NIBP_PARAMS: tuple[str, ...] = ("nibp_sys", "nibp_dia", "nibp_mean")


def is_canonical(param: str) -> bool:
    """True when `param` is one of the canonical ids of :data:`PARAMETERS`."""
    return param in PARAMETERS


def unit_of(param: str) -> str:
    """Canonical unit of a canonical parameter, "" for a device-named one."""
    spec = PARAMETERS.get(param)
    return spec.unit if spec else ""


class Status(enum.StrEnum):
    """Quality of one value, as the device (or the importer) reported it."""

    VALID = "valid"
    QUESTIONABLE = "questionable"
    INVALID = "invalid"

    @property
    def code(self) -> int:
        """Small integer the store keeps (0 valid, 1 questionable, 2 invalid)."""
        return _STATUS_CODES[self]

    @classmethod
    def from_code(cls, code: int) -> Status:
        return _STATUSES[code]


_STATUSES: tuple[Status, ...] = (Status.VALID, Status.QUESTIONABLE, Status.INVALID)
_STATUS_CODES: dict[Status, int] = {s: i for i, s in enumerate(_STATUSES)}


class SourceKind(enum.StrEnum):
    """Where a session's data comes from; the screen labels all but DEVICE."""

    DEVICE = "device"
    SIMULATED = "simulated"
    REPLAY = "replay"
    IMPORT = "import"


@dataclass(slots=True)
class Reading:
    """One value of one parameter at one time.

    Attributes
    ----------
    time : float
        Seconds since the epoch, UTC: the device's time where it gives one,
        otherwise the time of receipt.
    param : str
        Canonical id, or the device's own name for an unmapped parameter.
    value : float or None
        None when the device says invalid/unavailable; never a 0 stand-in.
    unit : str
    status : Status
    source : str
        Device or adapter name ("sim", "masimo", a file name, ...).
    received_at : float or None
        Wall-clock receipt time (s since epoch); acquisition stamps it when the
        adapter did not. Kept beside `time` because device clocks drift.
    """

    time: float
    param: str
    value: float | None
    unit: str
    status: Status
    source: str
    received_at: float | None = None

    def __post_init__(self) -> None:
        # A NaN is how several protocols spell "no value"; the contract is None.
        if self.value is not None and not math.isfinite(self.value):
            self.value = None
            if self.status is Status.VALID:
                self.status = Status.INVALID


class DeviceEventKind(enum.StrEnum):
    """Things about the device rather than the patient."""

    CONNECTED = "device_connected"
    DISCONNECTED = "device_disconnected"
    NO_DATA = "no_data"              # the device went silent (judged on its clock)
    DATA_RESUMED = "data_resumed"
    SENSOR_OFF = "sensor_off"
    SENSOR_ON = "sensor_on"
    NO_SIGNAL = "no_signal"
    BAD_FRAME = "bad_frame"
    BAD_ROW = "bad_row"              # a recording row that could not be read
    LOW_BATTERY = "low_battery"
    NIBP_FAILED = "nibp_failed"      # a cuff measurement that gave no result
    DEVICE_ALARM = "device_alarm"    # the monitor's own alarm state changed
    DEVICE_STATUS = "device_status"  # the device's exception/state flags changed
    DEVICE_CLOCK = "device_clock"    # the device's clock is far from ours
    UNMAPPED_PARAMETER = "unmapped_parameter"  # kept under its device name
    # Scripted by the simulator, which plays the nurse as well as the monitor.
    INFUSION_START = "infusion_start"
    INFUSION_STOP = "infusion_stop"
    # Entered at the chair by the nurse (the rules see them like the rest).
    INFUSION_PAUSE = "infusion_pause"
    INFUSION_RESUME = "infusion_resume"
    INFUSION_RATE = "infusion_rate"
    OBSERVATION = "observation"


@dataclass(slots=True)
class DeviceEvent:
    """Something that happened to the device or its link.

    Attributes
    ----------
    time : float
        Seconds since the epoch, UTC, on the source's clock.
    kind : DeviceEventKind
    source : str
    data : mapping
        JSON-serialisable details (reason, line number, counts, ...).
    """

    time: float
    kind: DeviceEventKind
    source: str
    data: Mapping[str, Any] = field(default_factory=dict)


Item = Reading | DeviceEvent
