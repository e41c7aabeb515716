"""Masimo ASCII 1: the lines of PROTOCOLS.md, resync, fuzzing, and a real pty end to end."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.protocols.masimo import MasimoDevice, MasimoHost, format_line, parse_line
from devices.vocabulary import DeviceEvent, DeviceEventKind, Reading, Status
from monitor.store.alarm_log import session_alarms
from tests.serial_harness import emulated, record_through

T = 1_795_700_000.0
EXAMPLES = [
    b"12/01/05 11:56:29 SN=0123456789 SPO2=098% BPM=240 PI=20.00% SPCO=01.0% SPMET=00.5% "
    b"DESAT=01 PIDELTA=-02 PVI=027 ALARM=0000 EXC=000820\r\n",
    b"09/15/10 15:10:29 SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800\r\n",
    b"02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-% "
    b"DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800\r\n",
]


def readings(items: list) -> dict[str, tuple[float | None, Status]]:
    return {r.param: (r.value, r.status) for r in items if isinstance(r, Reading)}


def test_the_published_lines_decode_by_token() -> None:
    line = parse_line(EXAMPLES[1].decode().strip())
    assert line.values == {"spo2": 97.0, "pulse_rate": 64.0, "perf_index": 11.82}
    assert (line.alarm, line.exceptions) == (0x20, 0x800)
    assert line.device_time.isoformat() == "2010-09-15T15:10:29"
    third = parse_line(EXAMPLES[2].decode().strip())
    assert third.serial_number == "0000056661" and third.values["perf_index"] == 3.6


def test_exceptions_set_status_and_become_events() -> None:
    host = MasimoHost()
    # 0x820: sensor off (0x20) with 0x800 -> values are invalid, sensor_off event.
    first = host.receive(EXAMPLES[0], T)
    assert readings(first) == {"spo2": (None, Status.INVALID),
                               "pulse_rate": (None, Status.INVALID),
                               "perf_index": (None, Status.INVALID)}
    assert next(e.kind for e in first if isinstance(e, DeviceEvent)) == DeviceEventKind.SENSOR_OFF
    # Sensor back, pulse search (0x8): values, but questionable.
    back = host.receive(format_line(T + 1, 96, 70, exceptions=0x8).encode(), T + 1)
    assert readings(back) == {"spo2": (96.0, Status.QUESTIONABLE),
                              "pulse_rate": (70.0, Status.QUESTIONABLE)}
    assert DeviceEventKind.SENSOR_ON in [e.kind for e in back if isinstance(e, DeviceEvent)]
    # Low battery is reported once, when it starts.
    low = [host.receive(format_line(T + i, 96, 70, alarm=0x40).encode(), T + i)
           for i in (2, 3)]
    kinds = [[e.kind for e in batch if isinstance(e, DeviceEvent)] for batch in low]
    assert kinds[0].count(DeviceEventKind.LOW_BATTERY) == 1
    assert DeviceEventKind.LOW_BATTERY not in kinds[1]
    # Receipt time, not the device's zone-less clock, stamps live readings.
    assert {r.time for r in back if isinstance(r, Reading)} == {T + 1}


def test_garbage_is_counted_and_the_next_line_still_decodes() -> None:
    host = MasimoHost()
    stream = (b"\x00\xff\xfeNOISE" + EXAMPLES[1] + b"not a line at all\r\n" + b"x" * 900
              + EXAMPLES[2])
    items = host.receive(stream, T)
    assert [r.value for r in items if isinstance(r, Reading) and r.param == "spo2"] == [97, 98]
    assert host.stats.frames_ok == 2
    assert host.stats.rejected["garbage before line"] >= 1
    assert host.stats.rejected["unreadable line"] >= 1
    assert all(e.kind == DeviceEventKind.BAD_FRAME for e in items
               if isinstance(e, DeviceEvent) and e.kind not in (
                   DeviceEventKind.DEVICE_STATUS, DeviceEventKind.DEVICE_ALARM))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 50), max_size=20))
def test_no_byte_sequence_makes_the_decoder_raise(noise: bytes, cuts: list[int]) -> None:
    host = MasimoHost()
    data = noise + EXAMPLES[1] + noise
    position = 0
    for cut in [*cuts, len(data)]:
        host.receive(data[position:position + cut], T)
        position += cut
    host.receive(data[position:], T)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_any_split_of_a_stream_decodes_the_same(cuts: list[int]) -> None:
    stream = b"".join(EXAMPLES)
    whole = [(r.param, r.value) for r in MasimoHost().receive(stream, T) if isinstance(r, Reading)]
    host, parts, position = MasimoHost(), [], 0
    for cut in [*cuts, len(stream)]:
        parts += host.receive(stream[position:position + cut], T)
        position += cut
    assert [(r.param, r.value) for r in parts if isinstance(r, Reading)] == whole


def test_device_side_round_trips_through_the_host() -> None:
    device, host = MasimoDevice(), MasimoHost()
    items = [Reading(T, "spo2", 97.0, "%", Status.VALID, "sim"),
             Reading(T, "pulse_rate", 64.0, "/min", Status.VALID, "sim")]
    decoded = host.receive(device.emit(items, T), T)
    assert readings(decoded) == {"spo2": (97.0, Status.VALID), "pulse_rate": (64.0, Status.VALID)}


def test_over_a_real_pty_with_garbage_and_a_pulled_cable(tmp_path: Path) -> None:
    pulled: list[float] = []

    def pull() -> None:
        pulled.append(time.time())
        emulator.pull_cable(1.0)

    with emulated("masimo", tmp_path, speed=20) as emulator:
        result = record_through(f"masimo:{emulator.port}", tmp_path / "m.db", 9, [
            (2.5, lambda: emulator.inject(b"\x00\xff\x13garbage")),
            (4.0, pull),
        ])
    spo2 = [v for v in result.values("spo2") if v is not None]
    assert spo2 and all(88 <= v <= 100 for v in spo2)
    kinds = [e.kind for e in result.events()]
    assert kinds[0] == DeviceEventKind.CONNECTED
    lost = kinds.index(DeviceEventKind.DISCONNECTED)
    assert DeviceEventKind.CONNECTED in kinds[lost:], "recording did not resume after replug"
    disconnected = result.events(DeviceEventKind.DISCONNECTED)[0]
    assert disconnected.time - pulled[0] <= 5.0, "the pulled cable was noticed too late"
    times = result.store.readings_table(result.session_id).time_ms / 1000
    assert (times < disconnected.time).sum() >= 2, "too few readings before the pull"
    assert (times > disconnected.time).sum() >= 2, "no readings after the cable came back"
    assert result.link_stats["rejected"]  # the garbage was counted
    # The pulled cable was a technical alarm, which ended when data came back.
    lost_link = [a for a in session_alarms(result.store, result.session_id)
                 if a.rule == "device.disconnected"]
    assert lost_link and lost_link[0].state == "ended" and lost_link[0].kind == "technical"
    assert result.link_stats["opens"] >= 2
