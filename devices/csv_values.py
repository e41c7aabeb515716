"""Checks shared by the long and wide CSV readers, done on whole columns.

Each check turns a column of text cells into numbers or codes plus a mask of
cells it could not read; :class:`Rejections` turns masks into one reason per
rejected row. Nothing here loops over rows in Python except to word the
reasons for the rows that are rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from devices.csv_cells import RowProblem
from devices.table import Coded, ReadingTable
from devices.timestamps import UTC_MS, format_time_ms
from devices.vocabulary import Status

# Cells that mean "no reading": VSCapture writes "-", other tools "--" or NaN.
NO_VALUE_WORDS = ("-", "--", "---", "nan")
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_NEVER = np.iinfo(np.int64).min


def cell_text(column: pa.Array, row: int) -> str:
    """The text of one cell, for a message ("" when empty)."""
    if pa.types.is_timestamp(column.type):
        stamp = column.cast(UTC_MS)[row]
        return "" if not stamp.is_valid else format_time_ms(stamp.cast(pa.int64()).as_py())
    value = column[row].as_py()
    return "" if value is None else str(value)


def parse_numbers(column: pa.Array, *, decimal_comma: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Read a column of numbers written as text.

    Parameters
    ----------
    column : pyarrow.StringArray, DictionaryArray of strings, or DoubleArray
        Null for an empty cell.
    decimal_comma : bool
        Accept "36,6" for 36.6 (files separated by semicolons).

    Returns
    -------
    values : ndarray of float64
        NaN where there is no number (empty, one of :data:`NO_VALUE_WORDS`, or bad).
    bad : ndarray of bool
        True where the cell holds something that is not a finite number.
    """
    if pa.types.is_dictionary(column.type):
        if isinstance(column, pa.ChunkedArray):
            column = column.unify_dictionaries().combine_chunks()
        values, bad = parse_numbers(column.dictionary, decimal_comma=decimal_comma)
        # Slot len(dictionary) stands for an empty cell.
        values, bad = np.append(values, np.nan), np.append(bad, False)
        rows = column.indices.fill_null(len(column.dictionary)).to_numpy(zero_copy_only=False)
        return values[rows], bad[rows]
    try:
        # The common case, every cell a plain number or empty: one cast (none
        # when the column was converted while the file was split).
        numbers = pc.cast(column, pa.float64())
    except pa.ArrowInvalid:
        return _parse_numbers_cell_by_cell(column, decimal_comma)
    values = numbers.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    # "nan" casts to NaN (no value, as intended); "inf" is no measurement.
    bad = np.isinf(values)
    if bad.any():
        values = np.where(bad, np.nan, values)
    return values, bad


def _parse_numbers_cell_by_cell(column: pa.Array, decimal_comma: bool
                                ) -> tuple[np.ndarray, np.ndarray]:
    text = pc.utf8_trim_whitespace(column)
    if decimal_comma:
        text = pc.replace_substring(text, ",", ".")
    no_value = pc.or_kleene(pc.is_null(text), pc.or_(
        pc.equal(text, ""), pc.is_in(pc.utf8_lower(text), pa.array(NO_VALUE_WORDS))))
    number = pc.match_substring_regex(text, _NUMBER).fill_null(False)
    values = pc.cast(pc.if_else(number, text, None), pa.float64())
    values = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    bad = ~(no_value.fill_null(True).to_numpy(zero_copy_only=False)
            | number.to_numpy(zero_copy_only=False))
    infinite = np.isinf(values)
    if infinite.any():
        values, bad = np.where(infinite, np.nan, values), bad | infinite
    return values, bad


# A cell starting with one of these is run as a formula by spreadsheets
# (CSV injection); the quote is our own escape, so it is escaped too.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def spreadsheet_safe(text: str) -> str:
    """`text` as a CSV cell no spreadsheet runs as a formula: a leading ' if needed.

    :func:`from_spreadsheet_safe` undoes it, so our files read back exactly.
    Numbers are written as numbers and never pass through here.
    """
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def from_spreadsheet_safe(text: str) -> str:
    """Undo :func:`spreadsheet_safe` (a cell that never needed it is returned as is)."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS):
        return text[1:]
    return text


def text_codes(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A column of names as (int32 codes, names); code -1 for an empty cell.

    Names are stripped of surrounding spaces and of the quote that kept them
    from being read as spreadsheet formulas; names equal after that share a
    code. Every name returned is used by some row.
    """
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    names: dict[str, int] = {}
    codes = np.empty(len(column), dtype=np.int32)
    start = 0
    # Each chunk has its own dictionary (a handful of words): map it onto one
    # list of names, then translate the chunk's indices in a single pass.
    for chunk in chunks:
        remap = np.array([names.setdefault(from_spreadsheet_safe(name.strip()), len(names))
                          if name.strip() else -1
                          for name in chunk.dictionary.to_pylist()] + [-1], dtype=np.int32)
        indices = chunk.indices
        if indices.null_count:
            indices = indices.fill_null(len(remap) - 1)
        stop = start + len(chunk)
        codes[start:stop] = remap[indices.to_numpy(zero_copy_only=False)]
        start = stop
    return codes, list(names)


def compact(codes: np.ndarray, names: Sequence[str]) -> Coded:
    """A Coded column holding only the names `codes` uses (all codes >= 0)."""
    used = np.bincount(codes, minlength=len(names)) > 0 if len(codes) else \
        np.zeros(len(names), dtype=bool)
    if used.all():
        return Coded(codes.astype(np.int32, copy=False), tuple(names))
    renumber = np.cumsum(used, dtype=np.int32) - 1
    return Coded(renumber[codes], tuple(n for n, u in zip(names, used, strict=True) if u))


def wide_readings(time_ms: np.ndarray, values: np.ndarray, kept: np.ndarray,
                  params: Sequence[str], units: Sequence[str], source: str,
                  lines: np.ndarray | None = None) -> ReadingTable:
    """One valid reading per kept cell of a wide table, row by row, then column by column.

    Parameters
    ----------
    time_ms : ndarray of int64
        Each row's time.
    values, kept : 2-D ndarrays (rows x columns)
        The numbers, and which cells hold a reading.
    params, units : sequences of str
        Each column's parameter id and unit (a name may repeat).
    source : str
        The source of every reading.
    lines : ndarray of int64, optional
        Each row's line in its file.
    """
    rows, cols = np.nonzero(kept)
    param_index: dict[str, int] = {}
    unit_index: dict[str, int] = {}
    param_of_col = np.array([param_index.setdefault(p, len(param_index)) for p in params],
                            dtype=np.int32)
    unit_of_col = np.array([unit_index.setdefault(u, len(unit_index)) for u in units],
                           dtype=np.int32)
    count = len(rows)
    return ReadingTable(
        time_ms=time_ms[rows],
        param=compact(param_of_col[cols], list(param_index)),
        value=values[rows, cols],
        unit=compact(unit_of_col[cols], list(unit_index)),
        status=np.full(count, Status.VALID.code, dtype=np.int8),
        source=Coded(np.zeros(count, dtype=np.int32), (source,)),
        line=None if lines is None else lines[rows],
    )


def out_of_order(ms: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose time is earlier than a time before them.

    Parameters
    ----------
    ms : ndarray of int64
        Times, ms since the epoch.
    candidates : ndarray of bool
        Rows taking part (readable time, not rejected for another reason).

    Returns
    -------
    late : ndarray of bool
        Candidates earlier than some candidate before them.
    latest : ndarray of intp
        For each row, the candidate before it with the latest time (-1: none);
        the row a late row is out of order with.
    """
    if len(ms) < 2 or (candidates.all() and bool(np.all(ms[1:] >= ms[:-1]))):
        return np.zeros(len(ms), dtype=bool), np.arange(len(ms))
    times = np.where(candidates, ms, _NEVER)
    newest = np.maximum.accumulate(times)
    newest_before = np.concatenate(([_NEVER], newest[:-1]))
    late = candidates & (times < newest_before)
    leading = np.where(candidates & ~late, np.arange(len(ms)), -1)
    latest = np.maximum.accumulate(leading) if len(ms) else leading
    return late, latest


class Rejections:
    """Rows rejected so far, each with the first reason found for it.

    Parameters
    ----------
    path : str
    lines : ndarray of int64
        Physical line of each row.
    """

    def __init__(self, path: str, lines: np.ndarray) -> None:
        self.path = path
        self.lines = lines
        self.rejected = np.zeros(len(lines), dtype=bool)
        self._reasons: list[tuple[int, str, str]] = []

    def add(self, mask: np.ndarray, kind: str, reason: Callable[[int], str]) -> None:
        """Reject the rows in `mask` not rejected yet, counted under `kind`;
        `reason(row)` words each."""
        new = mask & ~self.rejected
        if new.any():
            self._reasons.extend((row, reason(row), kind)
                                 for row in np.flatnonzero(new).tolist())
            self.rejected |= new

    def note_cell(self, row: int, kind: str, reason: str) -> None:
        """Report one bad cell of a row that is otherwise kept (wide files)."""
        self._reasons.append((row, reason, kind))

    def problems(self) -> list[RowProblem]:
        lines = self.lines
        found = [RowProblem(self.path, int(lines[row]), reason, kind)
                 for row, reason, kind in self._reasons]
        found.sort(key=lambda problem: problem.line)
        return found
