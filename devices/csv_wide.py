"""Wide CSV recordings: one row per time, one column per parameter.

``Time,HR,SpO2,NIBP_Systolic,...`` as monitors' export tools write them
(VSCapture, spreadsheets). Headers are mapped onto canonical ids through
:mod:`devices.aliases`; a column with no alias is kept under its own name.
A cell that is empty or one of :data:`~devices.csv_values.NO_VALUE_WORDS`
is no reading; any other non-number is reported (file:line, column) and the
row's other cells are kept. A column with no number in it at all (VSCapture's
anaesthetic agent name, ``ISO``) is reported once, as a note, not per cell;
so are the columns with no reading at all (every cell empty or ``-``).

A header recognised as a foreign tool's (:func:`devices.foreign.detect_csv_source`,
e.g. VSCapture's) brings that tool's rules: zeros that mean "not measured" in
the columns it lists are read as no value and counted in a note. Dates in the
future (de-identified exports) are kept, with a note. See "Oddities of foreign
recordings" in :mod:`devices.foreign`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from devices.aliases import canonical_param, normalise_header, split_unit
from devices.csv_cells import CsvSource, RecordingError
from devices.csv_format import CsvRecording, order_problems, read_times, time_problem
from devices.csv_values import Rejections, cell_text, parse_numbers, wide_readings
from devices.foreign import detect_csv_source, future_dates_note, zeros_to_no_value
from devices.table import ReadingTable
from devices.timestamps import DateOrder
from devices.vocabulary import PARAMETERS, unit_of

# Normalised (aliases.normalise_header) names of a column holding the time.
TIME_COLUMN_NAMES = ("time", "timestamp", "date", "datetime", "datestamp", "timeutc",
                     "datetimeutc", "timestamputc", "localtime", "devicetime", "zeit")


@dataclass
class _ParamColumn:
    header: str          # as written, for messages
    name: str            # without a bracketed unit
    unit: str | None     # the bracketed unit, if any
    values: np.ndarray   # float64, NaN where no reading
    kept: np.ndarray     # bool: a reading from this cell is imported


def find_time_column(header: list[str]) -> int | None:
    """Index of the first column whose name says it holds the time."""
    return next((i for i, name in enumerate(header)
                 if normalise_header(name) in TIME_COLUMN_NAMES), None)


def read_wide(csv_file: CsvSource, *, tz: str | None, source: str,
              date_order: DateOrder) -> CsvRecording:
    """Read a wide recording (see the module docstring); called by read_recording."""
    path, header = csv_file.path, csv_file.header
    time_column = find_time_column(header)
    if time_column is None:
        raise RecordingError(
            f"{path}: no time column (looked for {', '.join(TIME_COLUMN_NAMES[:4])}, ...); "
            "the first column must hold the time")
    if len(header) < 2:
        raise RecordingError(
            f"{path}: only a time column, no parameter columns; a recording needs "
            f"time,param,value,... or a column per parameter (time,HR,SpO2,...)")
    cells = csv_file.cells()
    if cells.rows == 0:
        raise RecordingError(f"{path}: header only, no data rows")
    notes = list(cells.notes)
    texts = cells.columns[time_column]
    times = read_times(cells, time_column, header[time_column], tz=tz, date_order=date_order)
    notes += times.notes
    rejections = Rejections(path, cells.lines)
    rejections.add(~times.ok, "bad time", time_problem(texts, times))
    order_problems(rejections, texts, times.ms, times.ok)
    row_kept = ~rejections.rejected
    foreign = detect_csv_source(header)
    if foreign is not None:
        notes.append(f"columns recognised as {foreign.name}; its oddities are handled "
                     "(devices/foreign.py)")

    columns = []
    no_readings = []
    for index, written in enumerate(header):
        if index == time_column:
            continue
        cells_of = cells.columns[index]
        values, not_number = parse_numbers(cells_of, decimal_comma=cells.decimal_comma)
        name, unit = split_unit(written)
        if np.isnan(values).all() and not not_number.any():
            no_readings.append(written)
            continue
        rule = foreign.zero_rule(written) if foreign is not None else None
        if rule is not None:
            values, zero_note = zeros_to_no_value(rule, written, values, row_kept)
            notes += [zero_note] if zero_note else []
        has_number = ~np.isnan(values)
        if not has_number.any():
            if not_number.any():
                row = int(np.flatnonzero(not_number)[0])
                notes.append(f"column {written!r} holds text, not numbers (e.g. "
                             f"{cell_text(cells_of, row)!r} at line {cells.lines[row]}); "
                             "not imported")
            continue
        if not name:
            name = f"column {index + 1}"
            notes.append(f"column {index + 1} has no name; kept as {name!r}")
        for row in np.flatnonzero(not_number & row_kept).tolist():
            rejections.note_cell(row, "not a number",
                                 f"value {cell_text(cells_of, row)!r} in column {written!r} "
                                 "is not a number; the row's other values were kept")
        columns.append(_ParamColumn(written, name, unit, values, has_number & row_kept))

    if no_readings:
        listed = ", ".join(repr(name) for name in no_readings)
        notes.append(f"no readings in column(s) {listed} (every cell empty or a "
                     "no-value mark such as '-')")
    params, units = _name_columns(columns, notes)
    table = _readings(columns, params, units, times.ms, cells.lines, source)
    future = future_dates_note(table.time_ms)
    notes += [future] if future else []
    problems = sorted(cells.problems + rejections.problems(), key=lambda p: p.line)
    return CsvRecording(table, problems, "wide", notes, cells.rows)


def _name_columns(columns: list[_ParamColumn], notes: list[str]) -> tuple[list[str], list[str]]:
    """Parameter id and unit of each column, noting every name that is not canonical."""
    claimed: dict[str, str] = {}
    params, units = [], []
    for column in columns:
        canonical = canonical_param(column.header)
        if canonical and canonical not in claimed:
            claimed[canonical] = column.header
            param = canonical
        else:
            param = column.name
            if canonical:
                notes.append(f"column {column.header!r} also maps to {canonical!r}, already "
                             f"taken by {claimed[canonical]!r}; kept as {param!r}")
            else:
                notes.append(f"column {column.header!r} has no canonical id; kept as {param!r}")
        unit = column.unit if column.unit is not None else unit_of(param)
        if param in PARAMETERS and unit != PARAMETERS[param].unit:
            notes.append(f"column {column.header!r} is in {unit!r}, not the canonical "
                         f"{PARAMETERS[param].unit!r}; kept as written")
        params.append(param)
        units.append(unit)
    return params, units


def _readings(columns: list[_ParamColumn], params: list[str], units: list[str],
              time_ms: np.ndarray, lines: np.ndarray, source: str) -> ReadingTable:
    """One reading per kept cell, in file order: row by row, then column by column."""
    if not columns:
        return ReadingTable.empty()
    kept = np.stack([column.kept for column in columns], axis=1)
    values = np.stack([column.values for column in columns], axis=1)
    return wide_readings(time_ms, values, kept, params, units, source, lines)
