"""The recording format (DESIGN.md, "Recording format (contract)"): CSV in and out.

Reading (:func:`read_recording`) takes two layouts:

- **long**, what :func:`write_long_csv` writes: ``time,param,value,unit,status,source``,
  one reading per row (unit, status and source columns may be left out);
- **wide**, one column per parameter, the header names mapped onto canonical
  ids through :mod:`devices.aliases` (see :mod:`devices.csv_wide`).

A file that cannot be read at all raises :class:`RecordingError` (one line:
file, what is wrong, what to do). A row that cannot be read becomes a
:class:`RowProblem` (file, line, reason) and the other rows are kept; nothing
is dropped silently.

Round trip: ``write_long_csv(read_recording(f).table, out)`` reproduces, byte
for byte, any file already in the canonical form this module writes (header
as above, ``\\n`` line ends, UTC times as ``2026-11-26T14:03:05.000+00:00``,
values in their shortest form). Other files are normalised on the way
through: other offsets become UTC, ``72.0`` becomes ``72``, ``1e3`` becomes
``1000``, status words become lower case, spaces around names are dropped,
an empty source cell becomes the default source, and ``\\r\\n`` becomes ``\\n``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from devices.aliases import canonical_param
from devices.csv_cells import CsvCells, CsvSource, RecordingError, RowProblem
from devices.csv_values import (
    Rejections,
    cell_text,
    compact,
    out_of_order,
    parse_numbers,
    spreadsheet_safe,
    text_codes,
)
from devices.table import Coded, ReadingTable
from devices.timestamps import (
    UTC_MS,
    DateOrder,
    ParsedTimes,
    TimeZoneError,
    check_time_zone,
    format_time_ms,
    format_times_ms,
    parse_times,
)
from devices.vocabulary import PARAMETERS, Status, unit_of

__all__ = [
    "LONG_COLUMNS",
    "CsvRecording",
    "RecordingError",
    "RowProblem",
    "format_time_ms",
    "format_value",
    "read_recording",
    "write_long_csv",
]

LONG_COLUMNS = ("time", "param", "value", "unit", "status", "source")
DEFAULT_SOURCE = "csv"
_REQUIRED = frozenset(LONG_COLUMNS[:3])
_STATUS_BY_WORD = {status.value: status.code for status in Status}
_NO_STATUS = -1


@dataclass
class CsvRecording:
    """What :func:`read_recording` made of a file.

    Attributes
    ----------
    table : ReadingTable
        The readings kept, in file order, with :attr:`ReadingTable.line` filled.
    problems : list of RowProblem
        Every row (or, in a wide file, cell) not imported, by line.
    layout : {"long", "wide", "wfdb"}
        "wfdb" for a WFDB record (:mod:`devices.wfdb_format`), read into the same shape.
    notes : list of str
        One line each: what the reader assumed or kept under its own name.
    rows : int
        Data lines seen (everything after the header).
    """

    table: ReadingTable
    problems: list[RowProblem] = field(default_factory=list)
    layout: Literal["long", "wide", "wfdb"] = "long"
    notes: list[str] = field(default_factory=list)
    rows: int = 0


def read_recording(path: str | Path, *, tz: str | None = None, source: str | None = None,
                   date_order: DateOrder = "auto") -> CsvRecording:
    """Read a long or wide CSV recording.

    Parameters
    ----------
    path : str or Path
        The file; named as given in every message.
    tz : str, optional
        IANA zone of times written without a UTC offset; default UTC (with a note).
    source : str, optional
        Source name for rows that do not name one; default ``"csv"``.
    date_order : {"auto", "mdy", "dmy"}
        Day/month order of ``NN/NN/YYYY`` dates; "auto" picks per file (see
        :mod:`devices.timestamps`).

    Returns
    -------
    CsvRecording

    Raises
    ------
    RecordingError
        The file is missing, a directory, empty, not text, has an unusable
        header, no data rows, or no readable time at all; or `tz` is not a
        zone name.
    """
    if tz:
        try:
            check_time_zone(tz)
        except TimeZoneError as exc:
            raise RecordingError(f"{path}: cannot read its times: {exc}") from None
    csv_file = CsvSource(path)
    names = [name.casefold() for name in csv_file.header]
    if set(names) >= _REQUIRED:
        return _read_long(csv_file, names, tz=tz, source=source or DEFAULT_SOURCE,
                          date_order=date_order)
    from devices.csv_wide import read_wide  # the wide reader builds on this module

    return read_wide(csv_file, tz=tz, source=source or DEFAULT_SOURCE, date_order=date_order)


def read_times(cells: CsvCells, column: int, name: str, *, tz: str | None,
               date_order: DateOrder) -> ParsedTimes:
    """Times of one column; RecordingError when not one of them can be read."""
    texts = cells.columns[column]
    times = parse_times(texts, tz=tz, date_order=date_order)
    written = ~texts.is_null().to_numpy(zero_copy_only=False)
    if written.any() and not times.ok.any():
        row = int(np.flatnonzero(written)[0])
        raise RecordingError(
            f"{cells.path}: no time in column {name!r} could be read "
            f"(e.g. {cell_text(texts, row)!r} at line {cells.lines[row]}); "
            f"write times as ISO 8601, e.g. 2026-11-26T14:03:05.000+00:00")
    return times


def time_problem(texts: pa.Array, times: ParsedTimes) -> Callable[[int], str]:
    """A reason-wording function for rows whose time cannot be read."""

    def reason(row: int) -> str:
        text = cell_text(texts, row)
        if not text.strip():
            return "no time"
        return f"unreadable time {text!r}; expected {times.expected}"

    return reason


def order_problems(rejections: Rejections, texts: pa.Array, ms: np.ndarray,
                   candidates: np.ndarray) -> None:
    """Reject rows whose time is earlier than a row before them."""
    late, latest = out_of_order(ms, candidates)

    def reason(row: int) -> str:
        before = int(latest[row])
        return (f"time {cell_text(texts, row)!r} is earlier than "
                f"{cell_text(texts, before)!r} at line {rejections.lines[before]}; "
                "rows must be in time order")

    rejections.add(late, "time out of order", reason)


def _read_long(csv_file: CsvSource, names: list[str], *, tz: str | None, source: str,
               date_order: DateOrder) -> CsvRecording:
    path = csv_file.path
    unknown = [h for h, n in zip(csv_file.header, names, strict=True) if n not in LONG_COLUMNS]
    if unknown:
        listed = ", ".join(repr(h) for h in unknown)
        raise RecordingError(f"{path}: unknown column(s) {listed} in a long-format file; "
                             f"expected {','.join(LONG_COLUMNS)}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RecordingError(f"{path}: column {twice[0]!r} appears twice; keep one")
    where = {name: i for i, name in enumerate(names)}
    textual = {where[n] for n in ("param", "unit", "status", "source") if n in where}
    cells = csv_file.cells(dictionary=textual,
                           typed={where["time"]: UTC_MS, where["value"]: pa.float64()})
    if cells.rows == 0:
        raise RecordingError(f"{path}: header only, no data rows")
    notes = list(cells.notes)
    rejections = Rejections(path, cells.lines)
    column = {name: cells.columns[i] for name, i in where.items()}

    times = read_times(cells, where["time"], "time", tz=tz, date_order=date_order)
    notes += times.notes
    rejections.add(~times.ok, "bad time", time_problem(column["time"], times))

    param_codes, param_names = text_codes(column["param"])
    rejections.add(param_codes < 0, "no param", lambda row: "no param")

    values, not_number = parse_numbers(column["value"], decimal_comma=cells.decimal_comma)
    rejections.add(not_number, "not a number",
                   lambda row: f"value {cell_text(column['value'], row)!r} is not a number")

    status = _status_codes(column.get("status"), len(values))
    rejections.add(status == _NO_STATUS, "unknown status", lambda row: (
        f"unknown status {cell_text(column['status'], row)!r}; "
        "write valid, questionable or invalid"))
    rejections.add(np.isnan(values) & (status == Status.VALID.code), "valid without value",
                   lambda row: (
        "no value but status valid; a missing value must be marked invalid or questionable"))

    order_problems(rejections, column["time"], times.ms, ~rejections.rejected)

    rejected = rejections.rejected
    keep = slice(None) if not rejected.any() else ~rejected
    param = _coded(param_codes[keep], param_names, keep)
    # An empty unit cell stays empty: that is how a parameter without a unit is written.
    unit = _names_or(column["unit"], keep, "") if "unit" in column else _units_of(param)
    if "source" in column:
        source_col = _names_or(column["source"], keep, source)
    else:
        source_col = Coded(np.zeros(len(param), dtype=np.int32), (source,))
    table = ReadingTable(time_ms=times.ms[keep], param=param, value=values[keep], unit=unit,
                         status=status[keep], source=source_col,
                         line=cells.lines[keep])
    notes += _param_notes(table)
    return CsvRecording(table, sorted(cells.problems + rejections.problems(),
                                      key=lambda problem: problem.line),
                        "long", notes, cells.rows)


def _names_or(column: pa.Array, keep: slice | np.ndarray, empty: str) -> Coded:
    """The kept rows of a text column as Coded, `empty` standing in for empty cells."""
    codes, names = text_codes(column)
    codes = codes[keep]
    if len(codes) and codes.min() < 0:
        if empty not in names:
            names.append(empty)
        return compact(np.where(codes < 0, names.index(empty), codes), names)
    return _coded(codes, names, keep)


def _coded(codes: np.ndarray, names: list[str], keep: slice | np.ndarray) -> Coded:
    # text_codes names only what some row uses; only rejecting rows can orphan one.
    if isinstance(keep, slice):
        return Coded(codes, tuple(names))
    return compact(codes, names)


def _status_codes(column: pa.Array | None, rows: int) -> np.ndarray:
    """Status code of each row; valid when there is no status column or cell."""
    if column is None:
        return np.zeros(rows, dtype=np.int8)
    codes, words = text_codes(column)
    by_code = np.array([_STATUS_BY_WORD.get(word.casefold(), _NO_STATUS) for word in words]
                       + [Status.VALID.code], dtype=np.int8)
    if not by_code.any():
        return np.zeros(rows, dtype=np.int8)
    # Code -1 (an empty cell) picks the last entry: valid.
    return by_code[codes]


def _units_of(param: Coded) -> Coded:
    """Canonical unit of each row's parameter ("" for a parameter not in the vocabulary)."""
    units: dict[str, int] = {}
    by_param = np.array([units.setdefault(unit_of(name), len(units)) for name in param.names],
                        dtype=np.int32)
    return Coded(by_param[param.codes] if len(param.names) else param.codes, tuple(units))


def _param_notes(table: ReadingTable) -> list[str]:
    """A note for each kept parameter that is not canonical, or not in its canonical unit."""
    notes = []
    for name in table.param.names:
        if name not in PARAMETERS:
            alias = canonical_param(name)
            hint = f" (did you mean {alias!r}?)" if alias else ""
            notes.append(f"param {name!r} has no canonical id{hint}; kept as {name!r}")
    if len(table) and table.param.names and table.unit.names:
        width = len(table.unit.names)
        pairs = np.bincount(table.param.codes * np.int32(width) + table.unit.codes,
                            minlength=len(table.param.names) * width)
        for pair in np.flatnonzero(pairs).tolist():
            name = table.param.names[pair // len(table.unit.names)]
            unit = table.unit.names[pair % len(table.unit.names)]
            if name in PARAMETERS and unit != PARAMETERS[name].unit:
                notes.append(f"param {name!r} is in {unit!r}, not the canonical "
                             f"{PARAMETERS[name].unit!r}; kept as written")
    return notes


# --- writing ---------------------------------------------------------------

_HEADER = ",".join(LONG_COLUMNS) + "\n"
_STATUS_WORDS = pa.array([Status.from_code(code).value for code in range(len(Status))])
# Rows formatted per batch: bounds the memory of a week-long export.
_BATCH_ROWS = 1 << 18


def format_value(value: float | None) -> str:
    """A value as the recording format writes it: shortest form, "" for none.

    Examples
    --------
    >>> format_value(72.0), format_value(97.5), format_value(float("nan"))
    ('72', '97.5', '')
    """
    number = np.nan if value is None else float(value)
    return _format_values(np.array([number]))[0].as_py()


def _format_values(values: np.ndarray) -> pa.Array:
    # Arrow prints the shortest text that reads back as the same double.
    numbers = pa.array(np.where(np.isfinite(values), values, np.nan), from_pandas=True)
    text = pc.cast(numbers, pa.string())
    return pc.if_else(pc.equal(text, "-0"), "0", text).fill_null("")


def _quoted(name: str) -> str:
    name = spreadsheet_safe(name)
    if any(ch in name for ch in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name


def _names(column: Coded, rows: slice, suffix: str = "") -> pa.Array:
    names = pa.array([_quoted(name) + suffix for name in column.names], pa.string())
    return pc.take(names, pa.array(column.codes[rows]))


def write_long_csv(table: ReadingTable, out: TextIO) -> int:
    """Write readings in the long recording format.

    Parameters
    ----------
    table : ReadingTable
    out : text stream
        Open it with ``newline=""`` (or in binary-wrapping UTF-8 mode) so the
        ``\\n`` line ends are written as they are on every platform.

    Returns
    -------
    int
        Rows written (not counting the header).
    """
    out.write(_HEADER)
    total = len(table)
    for start in range(0, total, _BATCH_ROWS):
        rows = slice(start, min(start + _BATCH_ROWS, total))
        lines = pc.binary_join_element_wise(
            format_times_ms(table.time_ms[rows]),
            _names(table.param, rows),
            _format_values(table.value[rows]),
            _names(table.unit, rows),
            pc.take(_STATUS_WORDS, pa.array(table.status[rows])),
            _names(table.source, rows, suffix="\n"),  # the line end rides on the last field
            ",",
        )
        out.write(_joined(lines))
    return total


def _joined(lines: pa.Array) -> str:
    """All strings of a null-free string array, back to back (its data buffer)."""
    if len(lines) == 0:
        return ""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    first, last = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return memoryview(lines.buffers()[2])[first:last].tobytes().decode("utf-8")
