"""The SQLite schema, its version, and opening a database safely.

The schema version lives in ``PRAGMA user_version``. :data:`MIGRATIONS` is an
ordered list; migration *n* takes a database from version *n-1* to *n*. A new
database runs them all; an old one runs what it lacks, in one transaction; a
database newer than this program is refused rather than misread.

Times are INTEGER milliseconds since the epoch, UTC. Reading status is the
small integer of :attr:`devices.vocabulary.Status.code`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StoreError(Exception):
    """A database that cannot be used; the message is one line saying what to do."""


MIGRATIONS: list[str] = [
    # 1: sessions and everything recorded in them.
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        chair TEXT NOT NULL,
        device TEXT NOT NULL,                 -- device spec, or the imported file
        source_kind TEXT NOT NULL
            CHECK (source_kind IN ('device', 'simulated', 'replay', 'import')),
        patient_ref TEXT,
        profile TEXT,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        baseline TEXT NOT NULL DEFAULT '{}',  -- JSON {param: value}
        -- The session's clock, for readers in other processes: session time
        -- now = clock_session + (wall now - clock_wall) * clock_speed.
        clock_speed REAL NOT NULL DEFAULT 1,
        clock_wall INTEGER,
        clock_session INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_chair ON sessions (chair, started_at);

    -- One row per (param, unit, source) of a session, so readings stay narrow.
    CREATE TABLE channels (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id),
        param TEXT NOT NULL,
        unit TEXT NOT NULL,
        source TEXT NOT NULL,
        UNIQUE (session_id, param, unit, source)
    );

    CREATE TABLE readings (
        id INTEGER PRIMARY KEY,               -- arrival order; the live cursor
        session_id INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        time INTEGER NOT NULL,
        value REAL,                           -- NULL when the device gave none
        status INTEGER NOT NULL,
        received INTEGER NOT NULL
    );
    CREATE INDEX readings_session_time ON readings (session_id, time);
    CREATE INDEX readings_channel_time ON readings (channel_id, time);

    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id),
        time INTEGER NOT NULL,
        kind TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_session_time ON events (session_id, time);

    CREATE TABLE alarms (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id),
        rule TEXT NOT NULL,
        param TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('physiological', 'technical')),
        priority TEXT NOT NULL CHECK (priority IN ('high', 'medium', 'low')),
        onset INTEGER NOT NULL,
        end INTEGER,
        value REAL,
        limit_value REAL,
        state TEXT NOT NULL DEFAULT 'active'
    );
    CREATE INDEX alarms_session ON alarms (session_id, onset);

    CREATE TABLE alarm_acknowledgements (
        alarm_id INTEGER NOT NULL REFERENCES alarms (id),
        time INTEGER NOT NULL,
        user TEXT NOT NULL
    );

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        session_id INTEGER REFERENCES sessions (id),
        time INTEGER NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: alarms as the rules engine keeps them: a number per session, every
    # state change (who acknowledged, when it latched) as a transition row.
    """
    ALTER TABLE alarms ADD COLUMN number INTEGER;
    ALTER TABLE alarms ADD COLUMN message TEXT NOT NULL DEFAULT '';
    CREATE UNIQUE INDEX alarms_number ON alarms (session_id, number);
    CREATE TABLE alarm_transitions (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id),
        number INTEGER NOT NULL,
        time INTEGER NOT NULL,
        state TEXT NOT NULL,
        transition TEXT NOT NULL,
        priority TEXT NOT NULL,
        value REAL,
        user TEXT
    );
    CREATE INDEX alarm_transitions_session ON alarm_transitions (session_id, number, time);
    DROP TABLE alarm_acknowledgements;
    """,
    # 3: each session's device counters (bytes, frames, rejections by reason),
    # replaced every few seconds, for the dashboard in another process.
    """
    CREATE TABLE device_status (
        session_id INTEGER PRIMARY KEY REFERENCES sessions (id),
        time INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    """,
    # 4: what operators ask of a chair from any screen (acknowledge, start the
    # infusion, ...), applied by the recorder that runs the chair; and what
    # the screen must know of a session beyond its readings.
    """
    CREATE TABLE commands (
        id INTEGER PRIMARY KEY,
        chair TEXT NOT NULL,
        session_id INTEGER,
        time INTEGER NOT NULL,               -- wall clock, when asked
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'done', 'refused')),
        result TEXT NOT NULL DEFAULT '',
        done_at INTEGER
    );
    CREATE INDEX commands_pending ON commands (chair, status, id);
    ALTER TABLE sessions ADD COLUMN weight_kg REAL;
    ALTER TABLE sessions ADD COLUMN audio_paused_until INTEGER;
    ALTER TABLE sessions ADD COLUMN profile_table TEXT;   -- JSON: the limits in force
    ALTER TABLE alarm_transitions ADD COLUMN message TEXT NOT NULL DEFAULT '';
    """,
    # 5: ten-second summaries per channel (lowest and highest valid value with
    # their times, counts), so a long session is drawn without reading every
    # row. Older readings are summarised here once.
    """
    CREATE TABLE rollup (
        channel_id INTEGER NOT NULL,
        bucket INTEGER NOT NULL,              -- time // 10000
        lo REAL, lo_time INTEGER,
        hi REAL, hi_time INTEGER,
        n_valid INTEGER NOT NULL,
        n_other INTEGER NOT NULL,
        PRIMARY KEY (channel_id, bucket)
    ) WITHOUT ROWID;
    INSERT INTO rollup (channel_id, bucket, lo, lo_time, hi, hi_time, n_valid, n_other)
    SELECT channel_id, time / 10000,
           min(CASE WHEN status = 0 THEN value END),
           min(CASE WHEN status = 0 AND value IS NOT NULL THEN time END),
           max(CASE WHEN status = 0 THEN value END),
           max(CASE WHEN status = 0 AND value IS NOT NULL THEN time END),
           sum(status = 0 AND value IS NOT NULL),
           sum(NOT (status = 0 AND value IS NOT NULL))
    FROM readings GROUP BY channel_id, time / 10000;
    """,
    # 6: who may use the dashboard (monitor/access.py) and the key that signs
    # their browser sessions, shared by every server process. What they do
    # outside a session (sign-in, user changes) is audited with no session_id.
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('nurse', 'clinician', 'admin')),
        password_hash TEXT NOT NULL,          -- argon2id, with its salt and parameters
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        changed_at INTEGER NOT NULL,
        last_login INTEGER,
        -- browser sessions signed in before this are void: set by any change
        -- to the account and by signing out (a copied cookie dies with it)
        sessions_before INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX audit_user ON audit (user, action, time);
    CREATE TABLE web_secret (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        key BLOB NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

# Long enough to ride out another process's commit, short enough that a
# truly stuck lock is reported to the user instead of hanging.
BUSY_TIMEOUT_MS = 5000


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and, unless `readonly`, create or migrate) the database at `path`.

    The connection is in WAL mode, so readers in other processes see each
    commit while one process writes, and ``synchronous=FULL``: a commit is on
    disk before it returns, which at one commit a second costs nothing.

    Raises
    ------
    StoreError
        The path is a directory, its folder is missing, the file is not an
        SQLite database, the database is locked, or its schema is newer than
        this program.
    """
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"{path}: is a directory; give a database file path, "
                         f"e.g. {path}/monitor.db")
    if not readonly and not path.parent.exists():
        raise StoreError(f"{path}: folder {path.parent} does not exist; "
                         "create it or choose another --db")
    if readonly and not path.exists():
        raise StoreError(f"{path}: no such database; record or import a session first")
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        else:
            # isolation_level=None: transactions are begun and committed by the
            # store itself, never implicitly by the sqlite3 module.
            conn = sqlite3.connect(path, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if not readonly:
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise StoreError(f"{path}: cannot switch the database to WAL mode; "
                                 "is it on a network drive? use a local disk")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            _migrate(conn, path, version)
        elif version != SCHEMA_VERSION:
            raise StoreError(f"{path}: schema version {version}, this program reads "
                             f"{SCHEMA_VERSION}; open it once with a recording command to migrate")
    except sqlite3.DatabaseError as exc:
        raise StoreError(describe_sqlite_error(path, exc)) from None
    return conn


def _migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: schema version {version} is newer than this program's "
            f"({SCHEMA_VERSION}); upgrade infusion-monitor to open it"
        )
    if version == SCHEMA_VERSION:
        return
    # BEGIN IMMEDIATE takes the write lock first, so two processes starting at
    # once cannot both run the same migration.
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(current + 1, SCHEMA_VERSION + 1):
            for statement in _statements(MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def describe_sqlite_error(path: str | Path, exc: sqlite3.Error) -> str:
    """One line for the user from an sqlite3 error."""
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return (f"{path}: is not an SQLite database (or is damaged); "
                "choose another --db path")
    if "locked" in text or "busy" in text:
        return (f"{path}: database is locked by another program; "
                "stop it or wait, then try again")
    if "readonly" in text or "read-only" in text:
        return f"{path}: database is read-only; check the file's permissions"
    if "unable to open" in text:
        return f"{path}: cannot open the database file; check the path and permissions"
    if "disk" in text and "full" in text:
        return f"{path}: the disk is full; free space, then try again"
    return f"{path}: database error: {text}"
