"""Operators' requests to a chair, through the store.

A screen (any tab, any server process) writes a command; the recorder that
runs the chair applies it to its rules engine and session, then marks it
done or refused with a reason. So every screen sees the same state: it lives
in the store, not in a browser or a web worker.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from monitor.store.store import Store, to_ms

ACTIONS = frozenset({
    "acknowledge", "reset", "pause_audio", "alarms_off", "set_limit", "capture_baseline",
    "override_gate", "start_infusion", "infusion_rate", "pause_infusion", "resume_infusion",
    "stop_infusion", "observation", "new_session", "end_session",
})


@dataclass(frozen=True)
class Command:
    id: int
    chair: str
    session_id: int | None
    time: float            # wall clock, when asked
    user: str
    action: str
    data: dict[str, Any]
    status: str            # pending, done, refused
    result: str


_COLUMNS = "id, chair, session_id, time, user, action, data, status, result"


def _command(row: tuple[Any, ...]) -> Command:
    return Command(row[0], row[1], row[2], row[3] / 1000, row[4], row[5], json.loads(row[6]),
                   row[7], row[8])


def submit(store: Store, chair: str, session_id: int | None, user: str, action: str,
           data: dict[str, Any] | None = None) -> int:
    """Ask the chair's recorder to do `action`; returns the command id."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not user.strip():
        raise ValueError("say who you are: every action is signed")
    with store.transaction():
        cur = store._execute(
            "INSERT INTO commands (chair, session_id, time, user, action, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (chair, session_id, to_ms(time.time()), user.strip(), action,
             json.dumps(data or {}, sort_keys=True)))
    return int(cur.lastrowid)


def pending(store: Store, chair: str) -> list[Command]:
    rows = store._execute(f"SELECT {_COLUMNS} FROM commands WHERE chair = ? AND "
                          "status = 'pending' ORDER BY id", (chair,)).fetchall()
    return [_command(r) for r in rows]


def finish(store: Store, command_id: int, *, refused: str | None = None) -> None:
    """Mark a command done, or refused with the reason the operator will read."""
    with store.transaction():
        store._execute("UPDATE commands SET status = ?, result = ?, done_at = ? WHERE id = ?",
                       ("refused" if refused else "done", refused or "", to_ms(time.time()),
                        command_id))


def get(store: Store, command_id: int) -> Command | None:
    row = store._execute(f"SELECT {_COLUMNS} FROM commands WHERE id = ?",
                         (command_id,)).fetchone()
    return None if row is None else _command(row)
