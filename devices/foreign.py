"""What other tools mean by what they write: the rules for foreign recordings.

The readers (:mod:`devices.csv_wide` for wide CSV exports such as
VSCapture's, :mod:`devices.wfdb_format` for PhysioNet/MIMIC WFDB numerics)
split files into cells; this module holds the per-source knowledge of what
those cells *mean*, in small tables that can be checked against the sources.
Every rule that changes or drops a value is counted in a note of the import:
nothing here acts silently.

Oddities of foreign recordings
------------------------------
**Zero standing for "no value".** Some exporters write ``0`` where a parameter
is not measured. In the columns listed in :data:`VSCAPTURE_DATEX` and
:data:`WFDB_NUMERICS` a 0 is read as *no reading* (not stored), and each
column's count goes into a note, e.g. ``ECG_HR: 58 zeros read as no value
(...)``. Evidence: in the VSCapture export of a GE AS/3 (tests/data), ECG_HR
is 0 in the first 58 rows while SpO2 reads 97-100 % and the P1 pressure line
51-83 mmHg; ET_CO2 and CO2_RR are 0 together in the first 61 rows
(11:07-12:36), then read 24-28 mmHg and 8-10 /min from 13:47. VSCapture
writes ``-`` only for the monitor's own invalid code (below -32001) and
passes a 0 through unchanged. In MIMIC-II numerics headers (wfdb-python's
sample data) SpO2 and PULSE start at 0 while HR reads 101.3 /min.
The rule is applied only where a 0 is not a measurement of the patient:

- never a reading (SpO2, NIBP): every 0 is no value;
- rates (ECG HR, pressure-line HR, EtCO2, CO2 resp rate): a true 0
  (asystole, apnoea) cannot be told apart from "not measured" in these
  exports; the note says so, so a reviewer knows the gap may hide one.

It is *not* applied where 0 is a real reading: invasive pressures (a zeroed
transducer reads 0, ``P2_Diastolic`` reads -2), anaesthetic agent and N2O
fractions (0 % means no agent; the gas module is measuring, O2_FI reads
98.4 % in the same rows), BIS/entropy (0 is an isoelectric EEG), impedance
respiration (``RESP`` 0 is apnoea), CVP, ST deviation, temperatures. Those
zeros are kept as readings.

In MIMIC-II/III numerics the NBP signals between cuff measurements hold
WFDB's invalid sample value (-32768, headers' initial values), which reads as
NaN, i.e. no reading; NBP zeros are not used for that, but a 0 mmHg NBP is no
measurement either, so the NBP signals are in the table too.

**Dates shifted into the future.** De-identified records (PhysioNet, MIMIC)
shift every date by decades or centuries per patient (MIMIC-III to 2100-2200,
MIMIC-II to 2500-3000) and keep times of day, weekdays and intervals. Times
are kept exactly as written, never guessed back, and a note says so
(:func:`future_dates_note`). The store (int64 ms), the export (ISO 8601) and
the screens (``datetime``) handle any year up to 9999; the tests cover 2150,
2200 and 2896.

**Dates in the recording machine's locale** (month-first, day-first, dashes,
dots, AM/PM): see :mod:`devices.timestamps`; an ambiguous file gets a note
naming the override (``date_order``, ``import --date-order``).

**Names.** Columns and signals are mapped through :mod:`devices.aliases`;
anything with no canonical id (``ABP Sys`` is invasive, not NIBP; ``P1_HR``,
``ST II``, ``BIS``) is kept under its own name, with a note. VSCapture's
AS/3 export misspells ``P1_Disatolic``; it is kept as written. A column of
text (VSCapture's agent name ``ISO``) is reported once, not imported.

**Units** (WFDB headers carry one per signal): spellings of a canonical unit
are read as it (``bpm``, ``pm`` -> ``/min``), kPa is converted to mmHg and
°F to °C for canonical parameters (:func:`canonical_unit`), with a note;
anything else is kept as written, with a note.

**WFDB headers without a date** (MIMIC-III numerics give only a time of
day) start on :data:`NO_DATE`, 2000-01-01, a placeholder the note names;
without a start time at all, at its midnight. See :mod:`devices.wfdb_format`
for truncated signal files and checksums.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np

from devices.aliases import normalise_header
from devices.vocabulary import PARAMETERS

NO_DATE = dt.date(2000, 1, 1)
"""Date given to a WFDB record whose header has a time of day but no date."""

# De-identification shifts dates to these years and later (MIMIC-III: 2100-2200).
DEIDENTIFIED_FROM_YEAR = 2100


@dataclass(frozen=True)
class ZeroRule:
    """Columns of one source in which 0 means "not measured".

    Attributes
    ----------
    columns : tuple of str
        Names as the source spells them; matched after
        :func:`~devices.aliases.normalise_header` (case, separators).
    why : str
        The reason, quoted in each note.
    """

    columns: tuple[str, ...]
    why: str

    def matches(self, name: str) -> bool:
        return normalise_header(name) in {normalise_header(c) for c in self.columns}


@dataclass(frozen=True)
class ForeignSource:
    """A tool whose exports have oddities of their own.

    Attributes
    ----------
    name : str
        For notes, e.g. "a VSCapture export of a GE Datex monitor".
    signature : tuple of str
        Column names that together identify its files.
    min_matches : int
        How many of `signature` a header must have to be recognised.
    zero_rules : tuple of ZeroRule
    """

    name: str
    signature: tuple[str, ...]
    min_matches: int
    zero_rules: tuple[ZeroRule, ...]

    def zero_rule(self, column: str) -> ZeroRule | None:
        """The rule for `column`, or None when a 0 there is a reading."""
        return next((rule for rule in self.zero_rules if rule.matches(column)), None)


VSCAPTURE_DATEX = ForeignSource(
    name="a VSCapture export of a GE Datex-Ohmeda monitor (AS/3, S/5)",
    # Names VSCapture gives the DRI "basic" physiological record's fields.
    signature=("ECG_HR", "NIBP_Systolic", "ET_CO2", "AA_ET", "AA_MAC_SUM", "Agent_AA",
               "O2_FI", "N2O_FI", "CO2_RR", "T1_Temp", "P1_HR", "P1_Systolic", "PPeak",
               "EEG_Entropy", "BIS_SQI"),
    min_matches=4,
    zero_rules=(
        ZeroRule(("SpO2", "NIBP_Systolic", "NIBP_Diastolic", "NIBP_Mean"),
                 "VSCapture writes 0 when the parameter is not measured; "
                 "0 is never a reading of it"),
        ZeroRule(("ECG_HR", "P1_HR", "P2_HR", "P3_HR"),
                 "VSCapture writes 0 when the parameter is not measured; "
                 "an asystole would also read 0 and cannot be told apart"),
        ZeroRule(("ET_CO2", "CO2_RR"),
                 "VSCapture writes 0 when the parameter is not measured; "
                 "an apnoea would also read 0 and cannot be told apart"),
    ),
)
"""VSCapture (xeonfusion/VSCapture) recording a GE monitor over DRI, e.g. the AS/3."""

WFDB_NUMERICS = ForeignSource(
    name="a WFDB numerics record (PhysioNet, MIMIC)",
    signature=(),
    min_matches=1,
    zero_rules=(
        ZeroRule(("SpO2", "%SpO2", "NBPSys", "NBPDias", "NBPMean"),
                 "numerics records hold 0 where the parameter is not measured; "
                 "0 is never a reading of it"),
        ZeroRule(("HR", "PULSE"),
                 "numerics records hold 0 where the parameter is not measured; "
                 "an asystole would also read 0 and cannot be told apart"),
    ),
)
"""PhysioNet/MIMIC numerics (signals HR, PULSE, SpO2, NBP..., RESP, ABP..., CVP, ST...)."""

CSV_SOURCES: tuple[ForeignSource, ...] = (VSCAPTURE_DATEX,)


def detect_csv_source(header: list[str]) -> ForeignSource | None:
    """The foreign tool that wrote a wide CSV with this header, or None."""
    names = {normalise_header(name) for name in header}
    for source in CSV_SOURCES:
        found = sum(normalise_header(name) in names for name in source.signature)
        if found >= source.min_matches:
            return source
    return None


def zeros_to_no_value(rule: ZeroRule, column: str, values: np.ndarray,
                      counted: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Read the zeros of one column as no value.

    Parameters
    ----------
    rule : ZeroRule
    column : str
        The column or signal as written, for the note.
    values : ndarray of float64
        The column's values; NaN where there is no reading.
    counted : ndarray of bool
        Rows that are imported (a zero in a rejected row is not counted).

    Returns
    -------
    values : ndarray of float64
        A copy with NaN for every 0.
    note : str or None
        ``"ECG_HR: 58 zeros read as no value (...)"``; None when there is no 0.
    """
    zeros = values == 0
    count = int((zeros & counted).sum())
    if not zeros.any():
        return values, None
    note = None
    if count:
        plural = "zero" if count == 1 else "zeros"
        note = f"{column}: {count} {plural} read as no value ({rule.why})"
    return np.where(zeros, np.nan, values), note


def future_dates_note(time_ms: np.ndarray, now_ms: int | None = None) -> str | None:
    """A note when times lie in the future, as de-identified dates do; else None.

    Parameters
    ----------
    time_ms : ndarray of int64
        Times of the readings, ms since the epoch, UTC.
    now_ms : int, optional
        The present, ms since the epoch (default: this machine's clock).
    """
    if not len(time_ms):
        return None
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    future = time_ms[time_ms > now_ms]
    if not len(future):
        return None
    first = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(future.min()))
    if first.year >= DEIDENTIFIED_FROM_YEAR:
        return (f"dates are de-identified: shifted into the future, to {first:%Y-%m-%d}; "
                "kept as written, never guessed back (PhysioNet/MIMIC shifts keep times "
                "of day and intervals real)")
    return (f"dates lie in the future (from {first:%Y-%m-%d}): the recording machine's "
            "clock may have been wrong; kept as written")


# Spellings of the canonical units (compared case-insensitively, spaces ignored).
_UNIT_SPELLINGS: dict[str, tuple[str, ...]] = {
    "/min": ("/min", "bpm", "pm", "1/min", "/m", "min-1", "beats/min", "breaths/min",
             "bmp", "rpm", "permin", "{beats}/min", "{breaths}/min"),
    "%": ("%", "percent", "pct"),
    "mmHg": ("mmHg", "mm Hg", "mm[Hg]", "torr"),
    "°C": ("°C", "degC", "deg C", "C", "Cel", "celsius", "ºC"),
}
_CANONICAL_SPELLING = {spelling.replace(" ", "").casefold(): unit
                       for unit, spellings in _UNIT_SPELLINGS.items() for spelling in spellings}
# (from, to) -> (scale, offset): canonical = value * scale + offset.
_CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("kpa", "mmHg"): (760 / 101.325, 0.0),          # 1 kPa = 7.50062 mmHg
    ("°f", "°C"): (5 / 9, -32 * 5 / 9),
    ("degf", "°C"): (5 / 9, -32 * 5 / 9),
    ("f", "°C"): (5 / 9, -32 * 5 / 9),
}
_NO_UNIT = ("", "nu", "?")  # WFDB writes NU ("no units") where none was recorded


@dataclass(frozen=True)
class UnitChoice:
    """How one signal's values are stored: ``value * scale + offset`` in `unit`."""

    unit: str
    scale: float = 1.0
    offset: float = 0.0
    note: str | None = None


def canonical_unit(name: str, param: str, unit: str) -> UnitChoice:
    """The unit a signal is stored in, converting to the canonical one where known.

    Parameters
    ----------
    name : str
        The signal as written, for the note.
    param : str
        Its id (canonical or its own name).
    unit : str
        The unit its header gives.

    Examples
    --------
    >>> canonical_unit("etCO2", "etco2", "kPa").unit, canonical_unit("HR", "hr", "bpm").unit
    ('mmHg', '/min')
    """
    spec = PARAMETERS.get(param)
    if spec is None:
        return UnitChoice(unit)
    key = unit.replace(" ", "").casefold()
    if _CANONICAL_SPELLING.get(key) == spec.unit:
        return UnitChoice(spec.unit)
    if key in _NO_UNIT:
        return UnitChoice(spec.unit, note=f"signal {name!r} gives no unit; read as the "
                                          f"canonical {spec.unit!r}")
    if (key, spec.unit) in _CONVERSIONS:
        scale, offset = _CONVERSIONS[(key, spec.unit)]
        return UnitChoice(spec.unit, scale, offset,
                          f"signal {name!r} is in {unit!r}: converted to {spec.unit!r}")
    return UnitChoice(unit, note=f"signal {name!r} is in {unit!r}, not the canonical "
                                 f"{spec.unit!r}; kept as written")
