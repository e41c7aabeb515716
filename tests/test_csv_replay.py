"""Replaying a CSV recording through the adapter interface (``csv:FILE?speed=X``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devices.adapter import Adapter, RecordingFinished
from devices.clock import ScaledClock, StepClock
from devices.csv_format import RecordingError, format_time_ms
from devices.csv_replay import CsvReplayAdapter
from devices.registry import open_adapter
from devices.spec import SpecError, parse_spec
from devices.vocabulary import DeviceEvent, DeviceEventKind, Item, Reading, SourceKind, Status
from tests.conftest import DEVICE_DATA

T0 = 1_795_701_785.0  # 2026-11-26T14:03:05Z


def iso(seconds: float) -> str:
    return format_time_ms(round((T0 + seconds) * 1000))


def recording(path: Path, seconds: int = 60) -> Path:
    """One hr and one spo2 reading a second, with two bad rows in it."""
    lines = ["time,param,value,unit,status,source"]
    for s in range(seconds):
        lines.append(f"{iso(s)},hr,{70 + s % 5},/min,valid,sim")
        lines.append(f"{iso(s)},spo2,{97 + s % 2},%,valid,sim")
        if s == 10:
            lines.append(f"{iso(s)},spo2,high,%,valid,sim")        # line 24
        if s == 20:
            lines.append(f"{iso(s - 15)},hr,71,/min,valid,sim")     # line 45: goes back
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def drain(adapter: Adapter, timeout: float = 5.0) -> list[Item]:
    if not adapter.is_open:
        adapter.open()
    items: list[Item] = []
    with pytest.raises(RecordingFinished):
        while True:
            items.extend(adapter.read(timeout))
    return items


def test_replay_at_max_speed_hands_out_everything_in_file_order(tmp_path: Path) -> None:
    adapter = open_adapter(f"csv:{recording(tmp_path / 'r.csv')}?speed=max")
    assert isinstance(adapter, CsvReplayAdapter) and isinstance(adapter.clock, StepClock)
    assert adapter.source_kind is SourceKind.REPLAY
    items = drain(adapter)

    readings = [i for i in items if isinstance(i, Reading)]
    assert len(readings) == 120
    assert readings[0] == Reading(T0, "hr", 70.0, "/min", Status.VALID, "sim")
    assert [r.time for r in readings] == sorted(r.time for r in readings)
    assert all(r.received_at is None for r in readings)

    events = [i for i in items if isinstance(i, DeviceEvent)]
    assert [e.kind for e in events] == [DeviceEventKind.BAD_ROW] * 2
    assert [(e.data["line"], e.time) for e in events] == [(24, T0 + 10), (45, T0 + 20)]
    assert events[0].data["reason"] == "value 'high' is not a number"
    assert events[0].data["file"] == str(tmp_path / "r.csv")
    # Each bad row comes out just after the good rows above it in the file.
    position = items.index(events[0])
    assert (items[position - 1].param, items[position - 1].time) == ("spo2", T0 + 10)

    assert adapter.stats.readings == 120 and adapter.stats.events == 2
    assert sum(adapter.stats.rejected.values()) == 2
    with pytest.raises(RecordingFinished):
        adapter.read(1.0)


def test_replay_at_speed_100_paces_a_minute_into_about_a_wall_second(tmp_path: Path) -> None:
    adapter = open_adapter(f"csv:{recording(tmp_path / 'r.csv')}?speed=100")
    assert isinstance(adapter.clock, ScaledClock) and adapter.clock.speed == 100
    adapter.open()
    started = time.monotonic()
    first = adapter.read(0.5)
    assert 0 < len(first) < 20, "the start of the file is due at once, not the whole file"
    items = first + drain(adapter)
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 5, elapsed     # 59 recording seconds / 100
    assert sum(isinstance(i, Reading) for i in items) == 120
    # Recording time and the adapter's clock agree as items come out.
    assert adapter.now() >= T0 + 59


def test_position_is_kept_across_close_and_open(tmp_path: Path) -> None:
    spec = parse_spec(f"csv:{recording(tmp_path / 'r.csv', seconds=5)}")
    adapter = CsvReplayAdapter(spec, clock=StepClock(T0))
    adapter.open()
    first = adapter.read(1.0)
    assert [(i.param, i.time) for i in first] == [("hr", T0), ("spo2", T0)]
    adapter.close()
    adapter.open()
    rest = drain(adapter)
    assert [(i.param, i.time) for i in rest[:2]] == [("hr", T0 + 1), ("spo2", T0 + 1)]
    assert len(first + rest) == 10 and adapter.stats.opens == 2


def test_vscapture_export_replays(tmp_path: Path) -> None:
    items = drain(open_adapter(f"csv:{DEVICE_DATA / 'vscapture-as3-export.csv'}?speed=max"))
    spo2 = [r.value for r in items if isinstance(r, Reading) and r.param == "spo2"]
    assert len(spo2) > 100 and all(96 <= v <= 100 for v in spo2)


def test_a_missing_file_fails_before_anything_starts() -> None:
    with pytest.raises(RecordingError) as failure:
        open_adapter("csv:/no/such/file.csv")
    assert str(failure.value) == "/no/such/file.csv: no such file; check the name and the directory"


@pytest.mark.parametrize(("options", "message"), [
    ("?speed=0", "speed='0' must be a number > 0, or max"),
    ("?speed=fast", "option speed='fast' is not a number"),
    ("?pace=2", "unknown option(s) pace for csv"),
    ("?tz=Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("?date_order=ymd", "date_order='ymd' must be one of auto, mdy, dmy"),
])
def test_bad_options_are_spec_errors(tmp_path: Path, options: str, message: str) -> None:
    path = recording(tmp_path / "r.csv", seconds=2)
    with pytest.raises(SpecError) as failure:
        open_adapter(f"csv:{path}{options}")
    assert message in str(failure.value) and "\n" not in str(failure.value)


def test_no_file_named_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="no file named"):
        open_adapter("csv:?speed=2")
