"""Acquisition: chairs record side by side; a failing or silent device is reported,
reconnected with backoff, and never stops another chair."""

from __future__ import annotations

from pathlib import Path

from devices.adapter import Adapter, DeviceError
from devices.clock import ScaledClock
from devices.registry import open_adapter
from devices.spec import parse_spec
from devices.vocabulary import DeviceEventKind, Item, Reading, Status
from monitor.acquisition import Backoff
from monitor.service import Recorder
from monitor.store import Store

START = "2026-11-26T08:00:00Z"
T0 = 1_795_680_000.0  # START in seconds


class UnpluggedAdapter(Adapter):
    """A device that delivers 30 readings, then its cable is pulled for good:
    every read and every reopen fails. Its clock runs 1000x, so the test's
    minutes of retrying take wall milliseconds."""

    protocol = "unplugged"

    def __init__(self) -> None:
        super().__init__(parse_spec("unplugged:/dev/ttyUSB9"))
        self.clock = ScaledClock(T0, speed=1000)
        self.delivered = 0

    def _open(self) -> None:
        if self.delivered >= 30:
            raise DeviceError("[Errno 2] No such file or directory: '/dev/ttyUSB9'")

    def _close(self) -> None:
        pass

    def _read(self, timeout: float) -> list[Item]:
        if self.delivered >= 30:
            raise DeviceError("device reports readiness to read but returned no data")
        self.clock.sleep(1.0)
        self.delivered += 1
        return [Reading(self.clock.now(), "spo2", 97.0, "%", Status.VALID, "unplugged")]


def test_a_failing_device_backs_off_and_does_not_stop_the_other_chair(db_path: Path) -> None:
    recorder = Recorder(db_path)
    recorder.settings = recorder.settings.__class__(reconnect_first=1.0, reconnect_cap=8.0)
    sim = recorder.add_chair("1", open_adapter(f"sim:?seed=3&speed=max&start={START}&post=10"))
    flaky_adapter = UnpluggedAdapter()
    flaky = recorder.add_chair("2", flaky_adapter)
    flaky.backoff = Backoff(first=1.0, cap=8.0)
    recorder.start()
    sim.join(timeout=60)
    # Let the unplugged chair retry a while (its clock steps, so this is quick).
    while flaky.stats.failures < 8:
        flaky.join(timeout=0.05)
    recorder.stop()

    store = Store(db_path)
    sim_session, flaky_session = (store.session(i) for i in (sim.stats.sessions[0],
                                                              flaky.stats.sessions[0]))
    # The simulated chair ran its whole 60-minute session to the end.
    assert sim_session.ended_at == T0 + 60 * 60 - 1  # its last reading
    assert store.reading_count(sim_session.id) > 4 * 3500

    # The unplugged chair kept its 30 readings and says what happened.
    assert store.reading_count(flaky_session.id) == 30
    events = store.events(flaky_session.id)
    assert events[0].kind == DeviceEventKind.CONNECTED
    lost = [e for e in events if e.kind == DeviceEventKind.DISCONNECTED]
    assert len(lost) == 1  # reported once, not once per retry
    assert "readiness to read" in lost[0].data["reason"]
    assert flaky.stats.failures >= 8
    # Retries were spaced 1, 2, 4, 8, 8, ... seconds of the device's clock.
    assert flaky_adapter.clock.now() - lost[0].time >= 1 + 2 + 4 + 8 + 8


def test_a_silent_device_is_noticed_on_its_own_clock_and_resumes(db_path: Path) -> None:
    """The disconnect scenario: 60 s of silence, judged in session time."""
    recorder = Recorder(db_path)
    adapter = open_adapter(f"sim:?scenario=disconnect&seed=2&speed=max&start={START}&post=5")
    worker = recorder.add_chair("4", adapter)
    recorder.start()
    worker.join(timeout=60)
    recorder.stop()

    store = Store(db_path)
    sid = worker.stats.sessions[0]
    hole_start, hole_end = adapter.simulator.episode_window
    events = [e for e in store.events(sid)
              if e.kind in (DeviceEventKind.NO_DATA, DeviceEventKind.DATA_RESUMED)]
    assert [e.kind for e in events] == [DeviceEventKind.NO_DATA, DeviceEventKind.DATA_RESUMED]
    no_data, resumed = events
    # Noticed 10 s (the silence timeout) after the last reading before the hole.
    last_before = hole_start - 1
    assert last_before + 10 <= no_data.time <= last_before + 11
    assert hole_end <= resumed.time <= hole_end + 1
    table = store.readings_table(sid)
    hr_times = table.time_ms[[p == "hr" for p in table.param.decoded()]] / 1000
    assert not ((hr_times >= hole_start) & (hr_times < hole_end)).any()
    assert (hr_times >= hole_end).any()
