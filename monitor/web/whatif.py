"""Re-evaluating a stored session under another alarm profile (nothing is stored).

The same engine, fed the session's readings and events in time order one
second at a time, as acquisition fed it live: a clinic can tune its limits
on its own history and see which alarms would have fired.
"""

from __future__ import annotations

from devices.vocabulary import DeviceEvent, DeviceEventKind, Item
from monitor.rules import Output, Profile
from monitor.rules.replay import rerun
from monitor.store import Store

# Events the rules react to; the rest (notes, logs) would change nothing.
_RULE_EVENTS = {kind.value for kind in DeviceEventKind}


def session_items(store: Store, session_id: int) -> list[Item]:
    """The session's readings and device/session events, merged in time order."""
    readings: list[Item] = list(store.readings_table(session_id).readings())
    events: list[Item] = [DeviceEvent(e.time, DeviceEventKind(e.kind), e.source, e.data)
                          for e in store.events(session_id) if e.kind in _RULE_EVENTS]
    return sorted([*readings, *events], key=lambda item: item.time)


def rerun_session(store: Store, session_id: int, profile: Profile) -> list[Output]:
    session = store.session(session_id)
    end = session.ended_at or session.clock_now()
    # The baseline the session had: a what-if changes the limits, not the patient.
    _, outputs = rerun(session_items(store, session_id), profile, start=session.started_at,
                       end=end, baseline=session.baseline or None)
    return outputs
