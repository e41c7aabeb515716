"""Reading and writing sessions in the SQLite store.

One :class:`Store` wraps one connection and is used by one thread at a time:
acquisition writes through a :class:`~monitor.store.writer.StoreWriter`
thread, each web worker thread reads through its own Store. Writes are atomic
per call; wrap several in :meth:`Store.transaction` to commit them together.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from devices.table import ReadingTable
from devices.vocabulary import Reading, SourceKind
from monitor.store import rollup
from monitor.store.queries import ReadingQueries
from monitor.store.records import (
    _SESSION_COLUMNS,
    AuditRecord,
    EventRecord,
    SessionRecord,
    _session,
    to_ms,
)
from monitor.store.schema import StoreError, connect, describe_sqlite_error

_ROWS_PER_INSERT = 500


def _insert_statement(rows: int) -> str:
    return ("INSERT INTO readings (session_id, channel_id, time, value, status, received) "
            "VALUES " + ",".join(["(?,?,?,?,?,?)"] * rows))


_INSERT_MANY = _insert_statement(_ROWS_PER_INSERT)


class Store(ReadingQueries):
    """The session store at `path` (created and migrated unless `readonly`)."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.conn = connect(self.path, readonly=readonly)
        self._channels: dict[tuple[int, str, str, str], int] = {}
        self._depth = 0

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions --------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit; nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            # Channel ids created in the rolled-back transaction are gone too.
            self._channels.clear()
            raise
        self._depth = 0
        self._execute("COMMIT")

    def _execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, args)
        except sqlite3.OperationalError as exc:
            raise StoreError(describe_sqlite_error(self.path, exc)) from exc

    # -- sessions ------------------------------------------------------------

    def create_session(
        self, *, chair: str, device: str, source_kind: SourceKind, started_at: float,
        profile: str | None = None, patient_ref: str | None = None,
        clock: tuple[float, float, float] | None = None, weight_kg: float | None = None,
    ) -> int:
        """Start a session and return its id.

        `clock` is ``(speed, wall time, session time)`` of one instant, so that
        readers elsewhere can tell the session's time now.
        """
        speed, wall, session = clock if clock else (1.0, None, None)
        with self.transaction():
            cur = self._execute(
                "INSERT INTO sessions (chair, device, source_kind, patient_ref, profile, "
                "started_at, clock_speed, clock_wall, clock_session, created_at, weight_kg) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (chair, device, str(source_kind), patient_ref, profile, to_ms(started_at),
                 speed if np.isfinite(speed) else 1.0,
                 None if wall is None else to_ms(wall),
                 None if session is None else to_ms(session), to_ms(time.time()), weight_kg),
            )
        return int(cur.lastrowid)

    def end_session(self, session_id: int, ended_at: float) -> None:
        with self.transaction():
            self._execute("UPDATE sessions SET ended_at = ? WHERE id = ?",
                          (to_ms(ended_at), session_id))

    def set_profile(self, session_id: int, name: str, table: Mapping[str, Any]) -> None:
        """The alarm profile in force for a session (name and the whole merged table)."""
        with self.transaction():
            self._execute("UPDATE sessions SET profile = ?, profile_table = ? WHERE id = ?",
                          (name, json.dumps(dict(table), sort_keys=True, default=str),
                           session_id))

    def profile_table(self, session_id: int) -> dict[str, Any] | None:
        row = self._execute("SELECT profile_table FROM sessions WHERE id = ?",
                            (session_id,)).fetchone()
        return None if row is None or row[0] is None else json.loads(row[0])

    def set_clock(self, session_id: int, speed: float, wall: float, session_now: float) -> None:
        """Anchor the session's clock: at wall time `wall` it read `session_now`."""
        with self.transaction():
            self._execute("UPDATE sessions SET clock_speed = ?, clock_wall = ?, "
                          "clock_session = ? WHERE id = ?",
                          (speed if np.isfinite(speed) else 1.0, to_ms(wall), to_ms(session_now),
                           session_id))

    def set_audio_pause(self, session_id: int, until: float | None) -> None:
        """Until when (session clock) the chair's sound is paused; None: not paused."""
        with self.transaction():
            self._execute("UPDATE sessions SET audio_paused_until = ? WHERE id = ?",
                          (None if until is None else to_ms(until), session_id))

    def set_baseline(self, session_id: int, baseline: Mapping[str, float]) -> None:
        with self.transaction():
            self._execute("UPDATE sessions SET baseline = ? WHERE id = ?",
                          (json.dumps(dict(baseline), sort_keys=True), session_id))

    def session(self, ref: int | str) -> SessionRecord:
        """The session with id `ref`, or the newest for ``"latest"``.

        Raises
        ------
        StoreError
            No such session (the message lists how to find one).
        """
        if ref == "latest":
            row = self._execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                raise StoreError(f"{self.path}: holds no sessions yet")
            return _session(row)
        try:
            session_id = int(ref)
        except ValueError:
            raise StoreError(f"session {ref!r}: give a session id or 'latest'") from None
        row = self._execute(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?",
                            (session_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no session {session_id}; "
                             "'infusion-monitor sessions' lists them")
        return _session(row)

    def sessions(self) -> list[SessionRecord]:
        rows = self._execute(f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY id").fetchall()
        return [_session(r) for r in rows]

    def chair_sessions(self) -> list[SessionRecord]:
        """Each chair's current session: its open one, else its newest."""
        rows = self._execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions s WHERE id = ("
            " SELECT id FROM sessions WHERE chair = s.chair"
            " ORDER BY ended_at IS NULL DESC, started_at DESC, id DESC LIMIT 1)"
            " ORDER BY chair").fetchall()
        return [_session(r) for r in rows]

    def reading_count(self, session_id: int) -> int:
        return self._execute("SELECT count(*) FROM readings WHERE session_id = ?",
                             (session_id,)).fetchone()[0]

    # -- readings ------------------------------------------------------------

    def _channel(self, session_id: int, param: str, unit: str, source: str) -> int:
        key = (session_id, param, unit, source)
        channel = self._channels.get(key)
        if channel is None:
            self._execute("INSERT OR IGNORE INTO channels (session_id, param, unit, source) "
                          "VALUES (?, ?, ?, ?)", key)
            channel = self._execute(
                "SELECT id FROM channels WHERE session_id = ? AND param = ? AND unit = ? "
                "AND source = ?", key).fetchone()[0]
            self._channels[key] = channel
        return channel

    def add_readings(self, session_id: int, readings: Sequence[Reading]) -> int:
        """Store readings (received_at defaults to the reading's time)."""
        with self.transaction():
            rows = [
                (session_id, self._channel(session_id, r.param, r.unit, r.source),
                 to_ms(r.time), r.value, r.status.code,
                 to_ms(r.time if r.received_at is None else r.received_at))
                for r in readings
            ]
            self._insert_readings(rows)
            if rows:
                channels, times, values, status = zip(*(r[1:5] for r in rows), strict=True)
                rollup.add(self.conn, np.array(channels, dtype=np.int64),
                           np.array(times, dtype=np.int64),
                           np.array([np.nan if v is None else v for v in values]),
                           np.array(status, dtype=np.int8))
        return len(rows)

    def add_table(self, session_id: int, table: ReadingTable) -> int:
        """Store a whole table of readings in one transaction (bulk import)."""
        if not len(table):
            return 0
        with self.transaction():
            # One channel per distinct (param, unit, source) combination.
            n_unit, n_source = len(table.unit.names) or 1, len(table.source.names) or 1
            combo = ((table.param.codes.astype(np.int64) * n_unit + table.unit.codes)
                     * n_source + table.source.codes)
            uniques, inverse = np.unique(combo, return_inverse=True)
            channel_of_unique = np.array([
                self._channel(session_id, table.param.names[u // (n_unit * n_source)],
                              table.unit.names[(u // n_source) % n_unit],
                              table.source.names[u % n_source])
                for u in uniques.tolist()
            ], dtype=np.int64)
            channels = channel_of_unique[inverse]
            values = table.value.astype(object)
            values[np.isnan(table.value)] = None
            received = table.received_ms if table.received_ms is not None else table.time_ms
            self._insert_readings(zip(
                [session_id] * len(table), channels.tolist(), table.time_ms.tolist(),
                values.tolist(), table.status.tolist(), received.tolist(), strict=True))
            rollup.add(self.conn, channels, table.time_ms, table.value, table.status)
        return len(table)

    def _insert_readings(self, rows: Iterable[tuple[Any, ...]]) -> None:
        # Many rows per statement: the sqlite3 module releases the GIL at each
        # step, and with a busy thread beside it every re-acquisition can wait
        # a full switch interval (5 ms); one step per 500 rows, not per row.
        flat: list[Any] = []
        count = 0
        try:
            for row in rows:
                flat.extend(row)
                count += 1
                if count == _ROWS_PER_INSERT:
                    self.conn.execute(_INSERT_MANY, flat)
                    flat, count = [], 0
            if count:
                self.conn.execute(_insert_statement(count), flat)
        except sqlite3.OperationalError as exc:
            raise StoreError(describe_sqlite_error(self.path, exc)) from exc

    # -- device status -------------------------------------------------------

    def set_device_status(self, session_id: int, time_s: float,
                          status: Mapping[str, Any]) -> None:
        with self.transaction():
            self._execute("INSERT INTO device_status (session_id, time, data) VALUES (?, ?, ?) "
                          "ON CONFLICT (session_id) DO UPDATE SET time = excluded.time, "
                          "data = excluded.data",
                          (session_id, to_ms(time_s), json.dumps(dict(status), default=str)))

    def device_status(self, session_id: int) -> tuple[float, dict[str, Any]] | None:
        """(time, counters) last reported for a session's device, if any."""
        row = self._execute("SELECT time, data FROM device_status WHERE session_id = ?",
                            (session_id,)).fetchone()
        return None if row is None else (row[0] / 1000, json.loads(row[1]))

    # -- events, alarms, audit ----------------------------------------------

    def add_event(self, session_id: int, time_s: float, kind: str, source: str = "",
                  data: Mapping[str, Any] | None = None) -> None:
        self.add_events(session_id, [(time_s, kind, source, data)])

    def add_events(self, session_id: int,
                   events: Sequence[tuple[float, str, str, Mapping[str, Any] | None]]) -> None:
        """Store events given as ``(time s, kind, source, data)``, in one statement."""
        if not events:
            return
        rows = [(session_id, to_ms(t), str(kind), source,
                 json.dumps(dict(data or {}), sort_keys=True, default=str))
                for t, kind, source, data in events]
        with self.transaction():
            try:
                self.conn.executemany("INSERT INTO events (session_id, time, kind, source, data) "
                                      "VALUES (?, ?, ?, ?, ?)", rows)
            except sqlite3.OperationalError as exc:
                raise StoreError(describe_sqlite_error(self.path, exc)) from exc

    def events(self, session_id: int) -> list[EventRecord]:
        rows = self._execute("SELECT id, time, kind, source, data FROM events "
                             "WHERE session_id = ? ORDER BY time, id", (session_id,)).fetchall()
        return [EventRecord(i, t / 1000, k, s, json.loads(d)) for i, t, k, s, d in rows]

    def add_audit(self, session_id: int | None, time_s: float, user: str, action: str,
                  data: Mapping[str, Any] | None = None) -> None:
        with self.transaction():
            self._execute(
                "INSERT INTO audit (session_id, time, user, action, data) VALUES (?, ?, ?, ?, ?)",
                (session_id, to_ms(time_s), user, action,
                 json.dumps(dict(data or {}), sort_keys=True, default=str)))

    def audit(self, session_id: int) -> list[AuditRecord]:
        rows = self._execute("SELECT id, time, user, action, data FROM audit "
                             "WHERE session_id = ? ORDER BY time, id", (session_id,)).fetchall()
        return [AuditRecord(i, t / 1000, u, a, json.loads(d)) for i, t, u, a, d in rows]
