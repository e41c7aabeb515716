"""What the store hands out: sessions, newest values, events, audit entries."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from devices.vocabulary import SourceKind, Status


def to_ms(t: float) -> int:
    """Seconds since the epoch -> integer milliseconds."""
    return round(t * 1000)


@dataclass(frozen=True)
class SessionRecord:
    """One session as stored.

    Times are seconds since the epoch (UTC); `ended_at` is None while the
    session is open. `baseline` maps parameter ids to values.
    """

    id: int
    chair: str
    device: str
    source_kind: SourceKind
    patient_ref: str | None
    profile: str | None
    started_at: float
    ended_at: float | None
    baseline: dict[str, float]
    clock_speed: float
    clock_wall: float | None
    clock_session: float | None
    weight_kg: float | None = None
    audio_paused_until: float | None = None     # session clock, s since epoch

    def audio_pause_remaining(self, now: float) -> float:
        if self.audio_paused_until is None:
            return 0.0
        return max(0.0, self.audio_paused_until - now)

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def clock_now(self, wall_now: float | None = None) -> float:
        """The session's clock now (s since epoch), as acquisition sees it.

        A simulator at 600x runs ahead of the wall clock; ages on screen must
        be measured on the clock the readings were stamped with. An ended or
        imported session's clock stopped at its end.
        """
        if self.ended_at is not None:
            return self.ended_at
        wall_now = time.time() if wall_now is None else wall_now
        if self.clock_wall is None or self.clock_session is None:
            return wall_now
        return self.clock_session + (wall_now - self.clock_wall) * self.clock_speed


@dataclass(frozen=True)
class LatestValue:
    """The newest reading of one channel of a session."""

    param: str
    unit: str
    source: str
    time: float
    value: float | None
    status: Status


@dataclass(frozen=True)
class EventRecord:
    id: int
    time: float
    kind: str
    source: str
    data: dict[str, Any]


@dataclass(frozen=True)
class AuditRecord:
    id: int
    time: float
    user: str
    action: str
    data: dict[str, Any]


_SESSION_COLUMNS = ("id, chair, device, source_kind, patient_ref, profile, started_at, "
                    "ended_at, baseline, clock_speed, clock_wall, clock_session, weight_kg, "
                    "audio_paused_until")


def _session(row: Sequence[Any]) -> SessionRecord:
    return SessionRecord(
        id=row[0], chair=row[1], device=row[2], source_kind=SourceKind(row[3]),
        patient_ref=row[4], profile=row[5], started_at=row[6] / 1000,
        ended_at=None if row[7] is None else row[7] / 1000, baseline=json.loads(row[8]),
        clock_speed=row[9], clock_wall=None if row[10] is None else row[10] / 1000,
        clock_session=None if row[11] is None else row[11] / 1000,
        weight_kg=row[12], audio_paused_until=None if row[13] is None else row[13] / 1000,
    )
