"""WFDB numerics records (PhysioNet, MIMIC): a header (``.hea``) and its signal files.

A numerics record (MIMIC's ``3141595n``, ``p000020-2183-04-28-17-47n``) holds
vital signs sampled every second or minute: ``HR``, ``PULSE``, ``SpO2``,
``NBP Sys``, ``RESP``, ``ABP Sys``, ``ST II``... :func:`read_wfdb` reads one
with the ``wfdb`` package into the same :class:`~devices.csv_format.CsvRecording`
as a CSV: a :class:`~devices.table.ReadingTable`, the problems, the notes.

- Signal names are mapped through :func:`devices.aliases.canonical_signal`;
  the others are kept under their own names, with a note.
- Values are physical (``(digital - baseline) / gain``); WFDB's invalid
  sample value (-32768 in format 16) reads as NaN, which is no reading.
- Times: the header's base date and time plus ``sample / fs``; a base time
  with no date starts on :data:`devices.foreign.NO_DATE`, and no base time at
  all at that date's midnight, with a note. The base time is a wall-clock time
  in `tz` (default UTC, with a note); the samples then follow in real elapsed
  time, across any clock change.
- Oddities (zeros for "not measured", de-identified dates, units) follow
  :mod:`devices.foreign`, each one counted in a note.

A problem is located by sample, not line: :class:`SampleProblem` prints as
``RECORD.hea:SIGNAL@SAMPLE: reason`` (``*`` for every signal), e.g. the
samples a truncated ``.dat`` no longer holds. A signal whose checksum does not
match its header gets a note (the values are kept: a checksum cannot say
which sample is wrong).

A file that cannot be read at all (no header, a header WFDB cannot parse, a
missing or empty ``.dat``, a waveform or multi-segment record, no samples)
raises a one-line :class:`~devices.csv_cells.RecordingError`.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from devices.aliases import canonical_signal
from devices.csv_cells import RecordingError, RowProblem, check_readable_file
from devices.csv_format import CsvRecording
from devices.csv_values import wide_readings
from devices.foreign import (
    NO_DATE,
    WFDB_NUMERICS,
    canonical_unit,
    future_dates_note,
    zeros_to_no_value,
)
from devices.table import ReadingTable
from devices.timestamps import TimeZoneError, wall_to_utc_ms

DEFAULT_SOURCE = "wfdb"
MAX_NUMERICS_HZ = 2.0
"""Faster records are waveforms (ECG at 125 Hz), not numerics: refused."""

# Bytes per stored sample of the formats whose length can be checked from the file size.
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2}
_CHECKSUM_MODULUS = 1 << 16


@dataclass
class SampleProblem(RowProblem):
    """A problem at one sample of a WFDB record (`line` holds the sample index).

    Attributes
    ----------
    signal : str
        The signal's name, or ``"*"`` for every signal of the record.
    """

    signal: str = "*"

    @property
    def sample(self) -> int:
        return self.line

    def __str__(self) -> str:
        return f"{self.path}:{self.signal}@{self.line}: {self.reason}"


def is_wfdb_path(path: str | Path) -> bool:
    """Whether `path` names a WFDB record: a ``.hea`` file, or a record name
    (or its ``.dat``) with a ``.hea`` beside it."""
    path = Path(path)
    if path.suffix.lower() == ".hea":
        return True
    if path.suffix.lower() == ".dat" and path.with_suffix(".hea").is_file():
        return True
    return not path.exists() and Path(f"{path}.hea").is_file()


def _header_path(path: Path) -> Path:
    if path.suffix.lower() in (".hea", ".dat"):
        return path.with_suffix(".hea")
    return Path(f"{path}.hea")


def read_wfdb(path: str | Path, *, tz: str | None = None,
              source: str | None = None) -> CsvRecording:
    """Read a WFDB numerics record.

    Parameters
    ----------
    path : str or Path
        The ``.hea`` file, the record name beside it, or its ``.dat``; named
        as given in every message.
    tz : str, optional
        IANA zone of the header's start time; default UTC (with a note).
    source : str, optional
        Source name of the readings; default ``"wfdb"``.

    Returns
    -------
    CsvRecording
        Layout ``"wfdb"``; `rows` is the number of samples read per signal.

    Raises
    ------
    RecordingError
        The record cannot be read at all (see the module docstring).
    """
    name = str(path)
    header_file = _header_path(Path(path))
    wfdb = _wfdb()
    header = _read_header(wfdb, name, header_file)
    notes: list[str] = []
    problems: list[RowProblem] = []
    stop = _samples_available(name, header_file.parent, header, notes, problems)
    try:
        with _quiet():
            record = wfdb.rdrecord(str(header_file.with_suffix("").resolve()), sampto=stop,
                                   physical=False, return_res=64)
        digital = np.asarray(record.d_signal, dtype=np.int64)
        physical = np.asarray(record.dac(return_res=64), dtype=np.float64)
    except FileNotFoundError as exc:
        raise RecordingError(f"{name}: signal file {Path(exc.filename or '').name!r} is "
                             "missing; keep the record's .dat beside its .hea") from None
    except Exception as exc:  # wfdb raises bare ValueError/IndexError for damaged files
        raise RecordingError(f"{name}: its signals cannot be read ({_why(exc)}); "
                             "check the .dat file") from None
    if stop == header.sig_len:
        notes += _checksum_notes(header, digital)
    start_ms = _start_ms(name, header, tz, notes)
    table = _readings(header, physical, start_ms, source or DEFAULT_SOURCE, notes)
    future = future_dates_note(table.time_ms)
    notes += [future] if future else []
    return CsvRecording(table, problems, "wfdb", notes, len(physical))


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the deprecation warnings wfdb's own pandas calls raise (nothing a user
    importing a record could act on)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _wfdb() -> Any:
    # Imported on first use: wfdb pulls in pandas and matplotlib (a second to load).
    try:
        with _quiet():
            import wfdb
    except ImportError:
        raise RecordingError("reading WFDB records needs the wfdb package "
                             "(pip install wfdb)") from None
    return wfdb


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _read_header(wfdb: Any, name: str, header_file: Path) -> Any:
    """The parsed header, checked: a single-segment numerics record with samples."""
    check_readable_file(header_file, name, "WFDB header (.hea)",
                        missing=f"no such WFDB header ({header_file.name}); "
                                "check the name and the directory")
    if not header_file.read_bytes().strip():
        raise RecordingError(f"{name}: the WFDB header is empty; copy the record again")
    try:
        with _quiet():
            header = wfdb.rdheader(str(header_file.with_suffix("").resolve()))
    except Exception as exc:
        raise RecordingError(f"{name}: not a readable WFDB header ({_why(exc)}); "
                             "give the record's .hea file") from None
    if isinstance(header, wfdb.MultiRecord):
        raise RecordingError(f"{name}: a multi-segment (waveform) record; import its "
                             "numerics record (the name ending in n)")
    if not header.n_sig:
        raise RecordingError(f"{name}: the record has no signals")
    if not header.fs or header.fs <= 0:
        raise RecordingError(f"{name}: the header gives no sampling frequency")
    if header.fs > MAX_NUMERICS_HZ:
        raise RecordingError(f"{name}: sampled at {header.fs:g} Hz, a waveform record, not "
                             "numerics; import its numerics record (the name ending in n)")
    if header.sig_len == 0:
        raise RecordingError(f"{name}: the record has no samples (length 0 in its header)")
    signal_fields = (header.file_name, header.fmt, header.sig_name)
    if any(not isinstance(f, list) or len(f) != header.n_sig for f in signal_fields):
        raise RecordingError(f"{name}: the header's signal lines are incomplete (it declares "
                             f"{header.n_sig} signals); copy the record again")
    return header


def _samples_available(name: str, folder: Path, header: Any, notes: list[str],
                       problems: list[RowProblem]) -> int | None:
    """How many samples to read: the header's length, or fewer when a .dat is short."""
    frame_bytes: dict[str, float] = {}
    offsets: dict[str, int] = {}
    for j, file_name in enumerate(header.file_name):
        size = _BYTES_PER_SAMPLE.get(str(header.fmt[j]))
        if size is None or file_name == "~":
            return header.sig_len  # compressed or skewed formats: wfdb checks them
        spf = header.samps_per_frame[j] if header.samps_per_frame else 1
        frame_bytes[file_name] = frame_bytes.get(file_name, 0) + size * (spf or 1)
        offsets[file_name] = (header.byte_offset[j] or 0) if header.byte_offset else 0
    held: dict[str, int] = {}
    for file_name, per_frame in frame_bytes.items():
        try:
            length = os.path.getsize(folder / file_name) - offsets[file_name]
        except OSError:
            raise RecordingError(f"{name}: signal file {file_name!r} is missing; keep the "
                                 "record's .dat beside its .hea") from None
        held[file_name] = max(0, int(length // per_frame))
    available = min(held.values())
    if available == 0:
        raise RecordingError(f"{name}: signal file {min(held, key=held.get)!r} holds no "
                             "samples; copy the record again")
    expected = header.sig_len
    if expected is None:
        return None
    if available < expected:
        problems.append(SampleProblem(name, available, (
            f"the signal file ends after {available} of {expected} samples (truncated); "
            f"samples {available}-{expected - 1} are missing"), "truncated"))
        return available
    if available > expected:
        notes.append(f"the signal file holds {available - expected} samples more than the "
                     f"header's {expected}; read the header's {expected}")
    return expected


def _checksum_notes(header: Any, digital: np.ndarray) -> list[str]:
    """A note per signal whose 16-bit checksum differs from its header's."""
    if not header.checksum:
        return []
    sums = digital.sum(axis=0) % _CHECKSUM_MODULUS
    return [f"signal {header.sig_name[j]!r}: checksum {int(sums[j])} does not match the "
            f"header's {expected % _CHECKSUM_MODULUS}; the .dat may be damaged "
            "(values kept)"
            for j, expected in enumerate(header.checksum)
            if expected is not None and int(sums[j]) != expected % _CHECKSUM_MODULUS]


def _start_ms(name: str, header: Any, tz: str | None, notes: list[str]) -> int:
    """UTC ms of sample 0: the header's base date and time, in `tz`."""
    base_time = header.base_time or dt.time(0)
    if header.base_date is None:
        notes.append(
            f"the header gives {'no date' if header.base_time else 'no start time'}: "
            f"times start on {NO_DATE.isoformat()}"
            f"{'' if header.base_time else ' at 00:00'}, a placeholder, not the recording's "
            "date; intervals are real")
    start = dt.datetime.combine(header.base_date or NO_DATE, base_time)
    wall_ms = (start - dt.datetime(1970, 1, 1)) // dt.timedelta(milliseconds=1)
    if tz is None:
        if header.base_time is not None:
            notes.append("the header's start time has no time zone: read as UTC (give the "
                         "recording's time zone, e.g. tz=Europe/Berlin, if it is local)")
        return wall_ms
    try:
        utc_ms = wall_to_utc_ms(wall_ms, tz)
    except TimeZoneError as exc:
        raise RecordingError(f"{name}: cannot read its times: {exc}") from None
    notes.append(f"the header's start time was read in {tz}")
    return utc_ms


def _readings(header: Any, physical: np.ndarray, start_ms: int, source: str,
              notes: list[str]) -> ReadingTable:
    """One reading per sample with a value, sample by sample, then signal by signal."""
    count = len(physical)
    time_ms = start_ms + np.rint(np.arange(count) * (1000.0 / header.fs)).astype(np.int64)
    everywhere = np.ones(count, dtype=bool)
    claimed: dict[str, str] = {}
    params: list[str] = []
    units: list[str] = []
    invalid: list[str] = []
    columns = []
    header_units = header.units or [""] * header.n_sig
    for j, signal in enumerate(header.sig_name):
        signal = signal or f"signal {j + 1}"
        values = physical[:, j]
        missing = int(np.isnan(values).sum())
        if missing:
            invalid.append(f"{signal!r} {missing}")
        rule = WFDB_NUMERICS.zero_rule(signal)
        if rule is not None:
            values, zero_note = zeros_to_no_value(rule, signal, values, everywhere)
            notes += [zero_note] if zero_note else []
        param = _param_of(signal, claimed, notes)
        if param in params:  # two signals of one name: keep both, told apart
            param = f"{signal} #{j + 1}"
            notes.append(f"signal {signal!r} appears twice; signal {j + 1} kept as {param!r}")
        choice = canonical_unit(signal, param, header_units[j] or "")
        notes += [choice.note] if choice.note else []
        if choice.scale != 1.0 or choice.offset:
            values = values * choice.scale + choice.offset
        params.append(param)
        units.append(choice.unit)
        columns.append(values)
    if invalid:
        notes.append("samples marked invalid in the record, read as no reading: "
                     + ", ".join(invalid))
    values = np.stack(columns, axis=1)
    return wide_readings(time_ms, values, ~np.isnan(values), params, units, source)


def _param_of(signal: str, claimed: dict[str, str], notes: list[str]) -> str:
    """The signal's canonical id, or its own name (with a note) when it has none or
    another signal already took it."""
    canonical = canonical_signal(signal)
    if canonical and canonical not in claimed:
        claimed[canonical] = signal
        return canonical
    if canonical:
        notes.append(f"signal {signal!r} also maps to {canonical!r}, already taken by "
                     f"{claimed[canonical]!r}; kept as {signal!r}")
    else:
        notes.append(f"signal {signal!r} has no canonical id; kept as {signal!r}")
    return signal
