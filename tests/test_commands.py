"""Operators' commands travel through the store to the recorder that runs the chair."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from devices.registry import open_adapter
from monitor.service import Recorder
from monitor.store import Store
from monitor.store.alarm_log import session_alarms
from monitor.store.commands import Command, get, submit
from tests.conftest import until


@pytest.fixture
def hypertensive_chair(db_path: Path) -> Iterator[tuple[Store, Recorder]]:
    """A recorder running chair 2 near its SBP peak, at 60x; a separate store handle."""
    recorder = Recorder(db_path)
    recorder.add_chair("2", open_adapter(
        "sim:?scenario=hypertensive-response&seed=2&speed=60&elapsed=38"))
    recorder.start()
    store = Store(db_path)
    try:
        yield store, recorder
    finally:
        recorder.stop()
        store.close()


wait_for = partial(until, timeout=20.0)


def answered(store: Store, command_id: int) -> Command:
    return wait_for(lambda: (c := get(store, command_id)) and c.status != "pending" and c)  # type: ignore[return-value]


def test_acknowledge_pause_and_refusal(hypertensive_chair: tuple[Store, Recorder]) -> None:
    store, _ = hypertensive_chair
    session = wait_for(lambda: store.sessions() and store.sessions()[-1])
    alarm = wait_for(lambda: next((a for a in session_alarms(store, session.id)
                                   if a.rule == "nibp_sys.high" and a.priority == "high"), None))
    # Resetting an alarm whose condition still holds is refused, with the reason.
    refused = answered(store, submit(store, "2", session.id, "dr.li", "reset",
                                     {"alarm": alarm.number}))
    assert refused.status == "refused" and "only a latched alarm" in refused.result
    done = answered(store, submit(store, "2", session.id, "nurse.kim", "acknowledge",
                                  {"alarm": alarm.number}))
    assert done.status == "done"
    acked = next(a for a in session_alarms(store, session.id) if a.number == alarm.number)
    assert acked.acknowledgements[0][1] == "nurse.kim"
    assert acked.state in ("acknowledged", "latched", "ended")
    paused = answered(store, submit(store, "2", session.id, "nurse.kim", "pause_audio", {}))
    assert paused.status == "done"
    paused_until = wait_for(lambda: store.session(session.id).audio_paused_until)
    assert paused_until > store.session(session.id).started_at
    actions = [(a.user, a.action) for a in store.audit(session.id)]
    assert ("nurse.kim", "acknowledge") in actions and ("nurse.kim", "pause_audio") in actions


def test_observations_and_the_next_patient(hypertensive_chair: tuple[Store, Recorder]) -> None:
    store, recorder = hypertensive_chair
    first = wait_for(lambda: store.chair_sessions() and store.chair_sessions()[0])
    noted = answered(store, submit(store, "2", first.id, "nurse.kim", "observation",
                                   {"cadss": 12, "rass": 0, "note": "talkative"}))
    assert noted.status == "done"
    observation = wait_for(lambda: next((e for e in store.events(first.id)
                                         if e.kind == "observation"), None))
    assert observation.data == {"cadss": 12, "rass": 0, "note": "talkative",
                                "user": "nurse.kim"}

    # A stale screen cannot act on the session that replaced it.
    started = answered(store, submit(store, "2", None, "nurse.kim", "new_session",
                                     {"patient_ref": "K-0042", "weight_kg": 71.5}))
    assert started.status == "done"
    second = wait_for(lambda: (s := store.chair_sessions()[0]).id != first.id and s)
    assert (second.patient_ref, second.weight_kg) == ("K-0042", 71.5)
    assert store.session(first.id).ended_at is not None
    stale = answered(store, submit(store, "2", first.id, "nurse.kim", "observation", {}))
    assert stale.status == "refused" and "another session" in stale.result
    # The device stayed connected: no reconnection for a new patient.
    worker = recorder.workers[0]
    assert worker.stats.reconnects == 0 and worker.adapter.stats.opens == 1
    wait_for(lambda: store.reading_count(second.id) > 0)
