"""Replay of a CSV recording as if a device were sending it: ``csv:FILE?speed=X``.

The whole file is read and checked when the adapter is built, so a missing
or unreadable file is a :class:`~devices.csv_format.RecordingError` before
anything starts. Readings then come out in file order as the adapter's clock
reaches their time; the clock starts at the first reading's time and runs at
``speed`` recording seconds per wall second (``speed=max``: no waiting at all).

Every row the reader rejected comes out too, as a ``bad_row`` device event at
the time of the last good row before it, and is counted in
``stats.rejected``: a replay never skips input silently.

Options: ``speed`` (> 0 or ``max``; default 1), ``tz`` (IANA zone of times
without an offset), ``date_order`` (``auto``, ``mdy``, ``dmy``).
"""

from __future__ import annotations

import time

import numpy as np

from devices.adapter import TimelineAdapter
from devices.clock import Clock, clock_at
from devices.csv_format import CsvRecording, read_recording
from devices.spec import DeviceSpec, SpecError
from devices.table import ReadingTable
from devices.timestamps import TimeZoneError, check_time_zone
from devices.vocabulary import Item, Reading, SourceKind, Status

OPTIONS = {"speed", "tz", "date_order"}
_DATE_ORDERS = ("auto", "mdy", "dmy")
# Rows turned into Reading objects at a time: a 24-hour file must not build
# 700,000 objects before its first reading is due.
_WINDOW_ROWS = 1024


class CsvReplayAdapter(TimelineAdapter):
    """Readings of a CSV recording, handed out on the recording's own clock.

    Parameters
    ----------
    spec : DeviceSpec
        ``csv:PATH[?speed=X&tz=ZONE&date_order=ORDER]``.
    clock : Clock, optional
        Replaces the clock the options describe (tests).

    Raises
    ------
    SpecError
        No file named, or an option that is unknown or out of range.
    RecordingError
        The file cannot be read at all (missing, a directory, empty, ...).
    """

    protocol = "csv"
    source_kind = SourceKind.REPLAY

    def __init__(self, spec: DeviceSpec, clock: Clock | None = None) -> None:
        super().__init__(spec)
        spec.check_known(OPTIONS)
        if not spec.port:
            raise SpecError(f"{spec.text}: no file named; write csv:path/to/recording.csv")
        speed = spec.speed_option()
        tz = spec.option("tz") or None
        date_order = spec.option("date_order", "auto")
        if date_order not in _DATE_ORDERS:
            raise SpecError(f"{spec.text}: option date_order={date_order!r} must be one of "
                            f"{', '.join(_DATE_ORDERS)}")
        if tz:
            try:
                check_time_zone(tz)
            except TimeZoneError as exc:
                raise SpecError(f"{spec.text}: {exc}") from None
        self.path = spec.port
        self.recording: CsvRecording = read_recording(self.path, tz=tz, date_order=date_order)
        table = self.recording.table
        self._rows = _RowReader(table)
        self._row = 0
        self._problem = 0
        self._problem_times = _problem_times(self.recording, table)
        self._problem_lines = [problem.line for problem in self.recording.problems]
        start = self._first_time()
        self.clock = clock if clock is not None else clock_at(start, speed)

    @property
    def remaining(self) -> int:
        """Items (readings and bad-row events) not yet handed out."""
        return (len(self._rows) - self._row) + (len(self._problem_lines) - self._problem)

    def _first_time(self) -> float:
        if len(self._rows):
            return self._rows.time(0)
        if self._problem_times:
            return self._problem_times[0]
        return time.time()

    def _next_is_problem(self) -> bool:
        """True when the next item in file order is a rejected row."""
        if self._problem >= len(self._problem_lines):
            return False
        if self._row >= len(self._rows):
            return True
        return self._problem_lines[self._problem] < self._rows.line(self._row)

    def _next_time(self) -> float | None:
        if self._next_is_problem():
            return self._problem_times[self._problem]
        if self._row < len(self._rows):
            return self._rows.time(self._row)
        return None

    def _take_until(self, t: float) -> list[Item]:
        due: list[Item] = []
        while True:
            upcoming = self._next_time()
            if upcoming is None or upcoming > t:
                return due
            if self._next_is_problem():
                problem = self.recording.problems[self._problem]
                self._problem += 1
                due.append(self.reject(problem.kind, problem.reason, upcoming, line=problem.line,
                                       file=problem.path))
            else:
                due.append(self._rows.reading(self._row))
                self._row += 1


def _problem_times(recording: CsvRecording, table: ReadingTable) -> list[float]:
    """Time of each problem: that of the last reading at or above its line.

    A rejected row takes the time of the good row before it; a bad cell of a
    wide row that was otherwise kept takes its own row's time.
    """
    if not recording.problems:
        return []
    if len(table) == 0 or table.line is None:
        return [time.time()] * len(recording.problems)
    before = np.searchsorted(table.line, [p.line for p in recording.problems],
                             side="right") - 1
    first = int(table.time_ms[0])
    return [(int(table.time_ms[i]) if i >= 0 else first) / 1000 for i in before.tolist()]


class _RowReader:
    """Rows of a ReadingTable as Readings, converted a window at a time."""

    def __init__(self, table: ReadingTable) -> None:
        self.table = table
        self._start = 0
        self._stop = 0
        self._columns: tuple[list, ...] = ()

    def __len__(self) -> int:
        return len(self.table)

    def _load(self, row: int) -> int:
        if not self._start <= row < self._stop:
            table = self.table
            rows = slice(row, min(row + _WINDOW_ROWS, len(table)))
            lines = table.line[rows] if table.line is not None else np.zeros(rows.stop - row)
            self._columns = (table.time_ms[rows].tolist(), table.param.codes[rows].tolist(),
                             table.value[rows].tolist(), table.unit.codes[rows].tolist(),
                             table.status[rows].tolist(), table.source.codes[rows].tolist(),
                             lines.tolist())
            self._start, self._stop = rows.start, rows.stop
        return row - self._start

    def time(self, row: int) -> float:
        i = self._load(row)
        return self._columns[0][i] / 1000

    def line(self, row: int) -> int:
        i = self._load(row)
        return self._columns[6][i]

    def reading(self, row: int) -> Reading:
        i = self._load(row)
        ms, param, value, unit, status, source, _ = (column[i] for column in self._columns)
        table = self.table
        return Reading(time=ms / 1000, param=table.param.names[param],
                       value=None if value != value else value,  # NaN is the table's None
                       unit=table.unit.names[unit], status=Status.from_code(status),
                       source=table.source.names[source])
