"""Read queries over a session's readings: whole tables, windows, and the newest values.

A mixin of :class:`~monitor.store.store.Store`, kept apart so the store's
module stays about writing and sessions.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from devices.table import Coded, ReadingTable
from devices.vocabulary import Status
from monitor.store import rollup
from monitor.store.records import LatestValue

_ROW_DTYPE = np.dtype([("time", np.int64), ("channel", np.int64), ("value", np.float64),
                       ("status", np.int8), ("received", np.int64)])
_SERIES_DTYPE = np.dtype([("time", np.int64), ("value", np.float64), ("status", np.int8)])


class ReadingQueries:
    """Reading queries; the class using it provides ``_execute`` and ``conn``."""

    conn: sqlite3.Connection

    def _execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:  # pragma: no cover
        raise NotImplementedError

    def readings_table(self, session_id: int) -> ReadingTable:
        """All readings of a session in time order (ties in arrival order)."""
        channel_rows = self._execute(
            "SELECT id, param, unit, source FROM channels WHERE session_id = ? ORDER BY id",
            (session_id,)).fetchall()
        # Straight from the cursor into typed columns: no list of tuples. NULL
        # comes out as the text 'nan', which numpy reads as NaN (the table's None).
        rows = np.fromiter(self._execute(
            "SELECT time, channel_id, ifnull(value, 'nan'), status, received "
            "FROM readings WHERE session_id = ? ORDER BY time, id", (session_id,)),
            dtype=_ROW_DTYPE)
        if not len(rows):
            return ReadingTable.empty()
        channels = rows["channel"]
        # Channel id -> position in channel_rows, then -> codes per text column.
        ids = np.array([c[0] for c in channel_rows], dtype=np.int64)
        position = np.searchsorted(ids, channels)
        return ReadingTable(
            time_ms=rows["time"],
            param=_coded([c[1] for c in channel_rows], position),
            value=rows["value"],
            unit=_coded([c[2] for c in channel_rows], position),
            status=rows["status"],
            source=_coded([c[3] for c in channel_rows], position),
            received_ms=rows["received"],
        )

    def channel_series(self, session_id: int, start_ms: int | None = None,
                       end_ms: int | None = None) -> dict[str, tuple[np.ndarray, ...]]:
        """Each parameter's readings in [start, end] ms as numpy columns.

        Returns ``{param: (time_ms int64, value float64 (NaN = none), status int8)}``,
        time-ordered; a parameter seen from two sources is merged in time order.
        """
        lo = -(2**62) if start_ms is None else int(start_ms)
        hi = 2**62 if end_ms is None else int(end_ms)
        series: dict[str, list[np.ndarray]] = {}
        for channel_id, param in self._execute(
                "SELECT id, param FROM channels WHERE session_id = ? ORDER BY id", (session_id,)):
            rows = np.fromiter(self._execute(
                "SELECT time, ifnull(value, 'nan'), status FROM readings WHERE channel_id = ? "
                "AND time BETWEEN ? AND ? ORDER BY time, id", (channel_id, lo, hi)),
                dtype=_SERIES_DTYPE)
            series.setdefault(param, []).append(rows)
        out = {}
        for param, parts in series.items():
            rows = parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts),
                                                            order="time", kind="stable")
            # Contiguous copies: numeric code (the downsampler) refuses strided views.
            out[param] = (np.ascontiguousarray(rows["time"]),
                          np.ascontiguousarray(rows["value"]),
                          np.ascontiguousarray(rows["status"]))
        return out

    def channel_summary(self, session_id: int, start_ms: int, end_ms: int,
                        ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each parameter's 10-second low/high points in [start, end] (see rollup.py)."""
        ids: dict[str, list[int]] = {}
        for channel_id, param in self._execute(
                "SELECT id, param FROM channels WHERE session_id = ? ORDER BY id", (session_id,)):
            ids.setdefault(param, []).append(channel_id)
        return rollup.points(self.conn, ids, int(start_ms), int(end_ms))

    def state_at(self, session_id: int, time_ms: int) -> dict[str, LatestValue]:
        """The newest reading of each parameter at or before `time_ms` (playback)."""
        rows = self._execute(
            "SELECT c.param, c.unit, c.source, r.time, r.value, r.status FROM channels c "
            "JOIN readings r ON r.id = (SELECT id FROM readings WHERE channel_id = c.id "
            "AND time <= ? ORDER BY time DESC, id DESC LIMIT 1) WHERE c.session_id = ? "
            "ORDER BY r.time", (int(time_ms), session_id)).fetchall()
        return {p: LatestValue(p, u, src, t / 1000, v, Status.from_code(s))
                for p, u, src, t, v, s in rows}

    def readings_since(self, session_id: int, after_id: int, limit: int = 20000,
                       ) -> list[tuple[int, str, float, float | None, Status]]:
        """Readings that arrived after the reading with id `after_id`.

        Returns ``(id, param, time s, value, status)`` in arrival order; the
        last id is the caller's next cursor. This is how the live screen asks
        only for what is new.
        """
        rows = self._execute(
            "SELECT r.id, c.param, r.time, r.value, r.status FROM readings r "
            "JOIN channels c ON c.id = r.channel_id "
            "WHERE r.id > ? AND r.session_id = ? ORDER BY r.id LIMIT ?",
            (after_id, session_id, limit)).fetchall()
        return [(i, p, t / 1000, v, Status.from_code(s)) for i, p, t, v, s in rows]

    def last_reading_id(self, session_id: int) -> int:
        row = self._execute("SELECT max(id) FROM readings WHERE session_id = ?",
                            (session_id,)).fetchone()
        return row[0] or 0

    def latest_valid(self, session_id: int) -> dict[str, tuple[float, float]]:
        """The newest valid value of each parameter: {param: (time s, value)}."""
        rows = self._execute(
            "SELECT c.param, r.time, r.value FROM channels c JOIN readings r ON r.id = ("
            "SELECT id FROM readings WHERE channel_id = c.id AND status = 0 AND value IS NOT NULL "
            "ORDER BY time DESC, id DESC LIMIT 1) WHERE c.session_id = ? ORDER BY r.time",
            (session_id,)).fetchall()
        return {p: (t / 1000, v) for p, t, v in rows}

    def latest_values(self, session_id: int) -> dict[str, LatestValue]:
        """The newest reading of each parameter of a session, by param id."""
        rows = self._execute(
            "SELECT c.param, c.unit, c.source, r.time, r.value, r.status FROM channels c "
            "JOIN readings r ON r.id = (SELECT id FROM readings WHERE channel_id = c.id "
            "ORDER BY time DESC, id DESC LIMIT 1) WHERE c.session_id = ? ORDER BY r.time",
            (session_id,)).fetchall()
        # Ordered by time, so a parameter seen from two sources keeps the newer.
        return {p: LatestValue(p, u, src, t / 1000, v, Status.from_code(s))
                for p, u, src, t, v, s in rows}


def _coded(names_per_channel: list[str], position: np.ndarray) -> Coded:
    """Codes per row from each row's channel position and each channel's name."""
    distinct = Coded.encode(names_per_channel)
    return Coded(distinct.codes[position], distinct.names)
