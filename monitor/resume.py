"""Picking up a chair's session after the recorder died (kill -9, a power cut).

When a recorder starts a chair and finds that chair's last session still
open (nobody ended it), recorded from the same device not long ago, it goes
on recording into that session: nothing committed is lost, and the hole is
an event (``recording_resumed``, with its length). What lived only in the
dead recorder's memory is said, not guessed: alarms that were current are
ended ("recording interrupted") and the rules raise again whatever still
holds; an audio pause or alarms switched off do not survive. The infusion's
phase, the baseline and a gate override are restored from the record.

A session too old to resume, or from another source (a simulation cannot be
continued), is ended at its last reading, with an event saying why.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.vocabulary import DeviceEvent, DeviceEventKind, SourceKind
from monitor.rules import AlarmChange, AlarmKind, AlarmState, Priority, Profile, RulesEngine
from monitor.rules.profile import ProfileError, profile_from_table
from monitor.store import SessionRecord, Store
from monitor.store.alarm_log import record_outputs, session_alarms

# A session silent for longer than this (s) is not resumed: it was a patient ago.
RESUME_WITHIN_S = 4 * 3600.0

INFUSION_EVENTS = ("infusion_start", "infusion_pause", "infusion_resume", "infusion_stop")


@dataclass(frozen=True)
class Resumed:
    """A session taken up again, and how to rebuild its rules."""

    session: SessionRecord
    gap_s: float
    next_alarm: int


def _last_reading(store: Store, session_id: int) -> float | None:
    row = store._execute("SELECT max(time) FROM readings WHERE session_id = ?",
                         (session_id,)).fetchone()
    return None if row[0] is None else row[0] / 1000


def take_up(store: Store, *, chair: str, device: str, source_kind: SourceKind, now: float,
            clock: tuple[float, float, float], within_s: float = RESUME_WITHIN_S,
            ) -> Resumed | None:
    """Resume the chair's open session if it can be, and end any that cannot.

    Runs inside the writer's transaction. Returns the resumed session, or None
    when a new session must start.
    """
    resumed = None
    for session in [s for s in store.sessions() if s.chair == chair and s.is_open]:
        last = _last_reading(store, session.id)
        since = last if last is not None else session.started_at
        same_source = session.device == device and session.source_kind is SourceKind.DEVICE \
            and source_kind is SourceKind.DEVICE
        if resumed is None and same_source and now - since <= within_s:
            resumed = _resume(store, session, since, now, clock)
            continue
        # Not ours to continue: close it where its record ends, and say why.
        reason = ("a simulation or replay cannot be continued" if not same_source
                  else f"no data for {(now - since) / 3600:.1f} h")
        store.add_event(session.id, since, "recording_interrupted", "recorder",
                        {"reason": reason, "ended_on_restart": True})
        _end_current_alarms(store, session.id, since)
        store.end_session(session.id, since)
    return resumed


def _resume(store: Store, session: SessionRecord, since: float, now: float,
            clock: tuple[float, float, float]) -> Resumed:
    store.set_clock(session.id, *clock)
    store.set_audio_pause(session.id, None)
    _end_current_alarms(store, session.id, now)
    store.add_event(session.id, now, "recording_resumed", "recorder",
                    {"gap_s": round(now - since, 3), "last_reading_at": since})
    numbers = [a.number for a in session_alarms(store, session.id)]
    return Resumed(store.session(session.id), now - since, max(numbers, default=0) + 1)


def _end_current_alarms(store: Store, session_id: int, at: float) -> None:
    changes = [AlarmChange(a.number, a.rule, a.param, AlarmKind(a.kind),
                           Priority[a.priority.upper()], AlarmState.ENDED, "ended", at,
                           a.value, a.limit,
                           f"{a.message} (recording interrupted; re-evaluated from here)",
                           None, a.onset)
               for a in session_alarms(store, session_id, current_only=True)]
    record_outputs(store, session_id, changes)


def engine_for(store: Store, resumed: Resumed, default: Profile) -> RulesEngine:
    """A rules engine in the state the record allows: profile, baseline, infusion
    phase and schedule, gate override; alarms numbered after the session's own."""
    session = resumed.session
    table = store.profile_table(session.id)
    try:
        profile = profile_from_table(table, origin="resumed session") if table else default
    except ProfileError:
        profile = default
    engine = RulesEngine(profile, baseline=session.baseline or None,
                         first_alarm_number=resumed.next_alarm)
    events = [DeviceEvent(e.time, DeviceEventKind(e.kind), e.source, e.data)
              for e in store.events(session.id) if e.kind in INFUSION_EVENTS]
    overrides = [a.user for a in store.audit(session.id) if a.action == "override_gate"]
    engine.restore(events, gate_overridden_by=overrides[-1] if overrides else None,
                   last_nibp=_last_nibp(store, session.id))
    return engine


def _last_nibp(store: Store, session_id: int) -> float | None:
    row = store._execute(
        "SELECT max(r.time) FROM readings r JOIN channels c ON c.id = r.channel_id "
        "WHERE c.session_id = ? AND c.param = 'nibp_sys'", (session_id,)).fetchone()
    return None if row[0] is None else row[0] / 1000
