"""What a chair page shows beyond the tile, computed from the store (no Dash).

The discharge checklist and the pre-treatment gate come from the same pure
functions the rules engine uses, fed with what the store holds: the
session's baseline, the profile in force, the newest valid values and the
infusion events. So the page and the engine cannot disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from monitor.rules.profile import Profile, ProfileError, load_profile, profile_from_table
from monitor.rules.session import Checklist, Gate, discharge_checklist, gate_for
from monitor.store import SessionRecord, Store
from monitor.web.screen import phase_of

CHART_EVENTS = ("infusion_start", "infusion_stop", "infusion_pause", "infusion_resume",
                "infusion_rate", "observation", "baseline_captured")


@lru_cache(maxsize=64)
def _profile(table_json: str) -> Profile:
    return profile_from_table(json.loads(table_json), origin="session profile")


def session_profile(store: Store, session: SessionRecord) -> Profile:
    """The profile in force for the session (the shipped default if none recorded)."""
    table = store.profile_table(session.id)
    if table is None:
        return load_profile()
    try:
        return _profile(json.dumps(table, sort_keys=True))
    except ProfileError:
        return load_profile()


def gate_overridden_by(store: Store, session_id: int) -> str | None:
    overrides = [a.user for a in store.audit(session_id) if a.action == "override_gate"]
    return overrides[-1] if overrides else None


def gate(store: Store, session: SessionRecord, profile: Profile) -> Gate:
    return gate_for(session.baseline, profile, gate_overridden_by(store, session.id))


def checklist(store: Store, session: SessionRecord, profile: Profile, now: float) -> Checklist:
    phase = phase_of(store, session.id)
    infusion_end = phase["since"] if phase["phase"] == "after" else None
    return discharge_checklist(profile, session.baseline, store.latest_valid(session.id),
                               infusion_end, now)


def chart_events(store: Store, session_id: int) -> list[tuple[float, str, dict[str, Any]]]:
    return [(e.time, e.kind, e.data) for e in store.events(session_id)
            if e.kind in CHART_EVENTS]


@dataclass(frozen=True)
class Versions:
    """What the page last drew: redraw a part only when its source moved."""

    alarms: int
    decor: str

    @classmethod
    def of(cls, store: Store, session_id: int) -> Versions:
        transitions = store._execute(
            "SELECT coalesce(max(id), 0) FROM alarm_transitions WHERE session_id = ?",
            (session_id,)).fetchone()[0]
        events = store._execute(
            "SELECT coalesce(max(id), 0) FROM events WHERE session_id = ? AND kind IN "
            f"({','.join('?' * len(CHART_EVENTS))})", (session_id, *CHART_EVENTS)).fetchone()[0]
        table = store.profile_table(session_id)
        baseline = store.session(session_id).baseline
        decor = f"{events}|{hash(json.dumps([table, baseline], sort_keys=True, default=str))}"
        return cls(transitions, decor)
