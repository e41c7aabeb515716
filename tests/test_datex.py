"""GE Datex S/5 DRI: the request of PROTOCOLS.md, framing, the real capture, fuzzing, a real pty."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.capture import decode_capture
from devices.conversation import converse
from devices.protocols.datex import DatexDevice, DatexHost
from devices.protocols.datex_codec import (
    FLAG,
    INVALID,
    MARKER_LIMIT,
    MARKERS,
    FrameError,
    MainType,
    build_basic,
    build_record,
    build_request,
    checksum,
    frame,
    parse_request,
    stuff,
    unframe,
    unstuff,
)
from devices.registry import open_adapter
from devices.scenarios import SessionPlan
from devices.simulator import Simulator
from devices.spec import SpecError
from devices.transport import PortSettings
from devices.vocabulary import DeviceEvent, DeviceEventKind, Reading, Status
from tests.conftest import DEVICE_DATA
from tests.serial_harness import emulated, record_through

CAPTURE = DEVICE_DATA / "ge-datex-s5-capture.raw"
T = 1_795_700_000.0
FIRST_R_TIME = 1_532_624_765          # 2018-07-26 17:06:05 UTC, the capture's first record
PRESENT = 0x3                         # group exists + active
ALL_GROUPS = {g: PRESENT for g in ("ecg", "nibp", "t1", "spo2", "co2")}
GOOD = {"ecg_hr": 72, "ecg_imp_rr": 14, "nibp_sys": 12000, "nibp_dia": 8000, "nibp_mean": 9300,
        "t1_temp": 3655, "spo2": 9750, "spo2_pr": 71, "co2_et": 500, "co2_fi": 10, "co2_rr": 13,
        "co2_amb": 7600}


def record(r_time: int = int(T), raw: dict[str, int] | None = None,
           status: dict[str, int] | None = None) -> bytes:
    """A framed physiological record with these basic-class raw values."""
    body = build_basic(r_time, {**GOOD, **(raw or {})}, ALL_GROUPS if status is None else status)
    return frame(build_record(MainType.PHYSIOLOGICAL, [(1, body)], r_time=r_time))


def readings(items: list) -> dict[str, tuple[float | None, Status]]:
    return {r.param: (r.value, r.status) for r in items if isinstance(r, Reading)}


def events(items: list, kind: DeviceEventKind) -> list[DeviceEvent]:
    return [e for e in items if isinstance(e, DeviceEvent) and e.kind == kind]


# -- the request, framing --------------------------------------------------------------------

def test_the_request_builds_exactly_the_bytes_of_protocols_md() -> None:
    # PROTOCOLS.md: displayed values every 5 s, DRI level 0x09, "(18 zero bytes after FF)".
    text = ("7E 31 00 00 09 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF "
            + "00 " * 18 + "01 05 00 0E 00 00 00 00 00 4D 7E")
    assert build_request(5) == bytes.fromhex(text)
    assert len(build_request(5)) == 49 + 3   # record, checksum, two flags
    stop = parse_request(unframe(build_request(0)[1:-1]))
    assert (stop.record_type, stop.interval_s, stop.classes) == (1, 0, 0x0E)


def test_stuffing_round_trips_flags_and_escapes_in_payload_and_checksum() -> None:
    for tail in range(256):
        payload = bytes([0x7E, 0x7D, 0x5E, 0x5D, tail]) + bytes(40)
        wire = frame(payload)
        assert FLAG not in wire[1:-1]
        assert unframe(wire[1:-1]) == payload
    # Checksums that need escaping themselves.
    for check in (0x7E, 0x7D):
        payload = bytes(40) + bytes([check])
        assert checksum(payload) == check
        assert frame(payload).endswith(bytes([0x7D, check ^ 0x20, FLAG]))
        assert unframe(frame(payload)[1:-1]) == payload
    with pytest.raises(FrameError, match="7D 00"):
        unstuff(b"\x7d\x00")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_stuffing_is_undone_exactly(data: bytes) -> None:
    assert FLAG not in stuff(data)
    assert unstuff(stuff(data)) == data


def test_a_bad_checksum_is_counted_and_the_next_frame_decodes() -> None:
    good, second = record(), record(int(T) + 5, {"ecg_hr": 90})
    broken = bytearray(good)
    broken[50] ^= 0x01   # one bit flipped on the line (not a flag or an escape)
    host = DatexHost()
    items = host.receive(bytes(broken) + second, T + 5)
    assert host.stats.rejected == {"bad checksum": 1}
    assert host.stats.frames_ok == 1
    assert readings(items)["hr"] == (90.0, Status.VALID)
    bad = events(items, DeviceEventKind.BAD_FRAME)
    assert [e.data["kind"] for e in bad] == ["bad checksum"]


def test_garbage_truncated_frames_and_wrong_lengths_are_counted_and_skipped() -> None:
    host = DatexHost()
    cut = record()[:300]                            # the cable pulled mid-frame
    wrong_length = bytearray(build_record(MainType.PHYSIOLOGICAL,
                                          [(1, build_basic(int(T), GOOD, ALL_GROUPS))]))
    wrong_length[0] += 1                            # r_len one more, checksum still right
    stream = (b"\x13tail of a frame" + record() + b"\x00\xffnoise\x7d\x7e" + cut
              + record(int(T) + 5) + frame(bytes(wrong_length)) + b"\x7e\x7d\x01" + bytes(60)
              + b"\x7e" + record(int(T) + 10))
    items = host.receive(stream, T)
    assert host.stats.frames_ok == 3
    assert [r.time for r in items if isinstance(r, Reading) and r.param == "hr"] == [
        T, T + 5, T + 10]
    assert host.stats.rejected == {"no frame start": 1, "garbage between frames": 1,
                                   "bad checksum": 1, "wrong length": 1, "bad stuffing": 1}
    assert len(events(items, DeviceEventKind.BAD_FRAME)) == 5
    # A run with no flag at all is dropped once, not kept for ever.
    host.receive(b"\x01" * 40_000 + record(int(T) + 15), T + 15)
    assert host.stats.rejected["frame too long"] == 1 and host.stats.frames_ok == 4
    for _ in range(3):
        host.receive(b"\x01" * 20_000, T + 16)         # no flag yet, arriving in pieces
    host.receive(b"\x01" * 10 + record(int(T) + 20), T + 20)
    assert host.stats.rejected["frame too long"] == 2 and host.stats.frames_ok == 5


def test_good_frames_that_are_not_readable_records_are_counted() -> None:
    host = DatexHost()
    good = bytearray(unframe(record()[1:-1]))
    bad_list = bytearray(good)
    bad_list[16:18] = (5000).to_bytes(2, "little")      # subrecord beyond the record
    short = build_record(MainType.PHYSIOLOGICAL, [(1, bytes(60))])
    alarm = build_record(MainType.ALARM, [(1, bytes(20))])
    aux_only = build_record(MainType.PHYSIOLOGICAL, [(4, bytes(20))])
    items = host.receive(b"".join(frame(bytes(p)) for p in (bad_list, short, alarm, aux_only)), T)
    assert host.stats.rejected == {"bad subrecord list": 1, "unreadable record": 1}
    assert host.record_types == {"alarm": 1, "physiological": 1} and host.stats.frames_ok == 2
    assert not readings(items)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.booleans(), st.sampled_from([0, 1, 4, 7]))
def test_frames_with_a_good_checksum_and_any_content_never_raise(
        body: bytes, right_length: bool, main_type: int) -> None:
    payload = bytearray(body.ljust(40, b"\0"))
    if right_length:   # past the length check, into the subrecords
        payload[0:2] = len(payload).to_bytes(2, "little")
        payload[14:16] = main_type.to_bytes(2, "little")
    DatexHost().receive(frame(bytes(payload)), T)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 317), st.integers(0, 255)), min_size=1, max_size=8))
def test_any_bytes_changed_in_a_record_never_raise(changes: list[tuple[int, int]]) -> None:
    payload = bytearray(unframe(record()[1:-1]))
    for position, value in changes:
        payload[position] = value
    DatexHost().receive(frame(bytes(payload)), T)


# -- the real capture --------------------------------------------------------------------------

def test_the_real_capture_decodes_to_the_figures_of_protocols_md() -> None:
    result = decode_capture(CAPTURE, "datex")
    stats = result.stats
    assert stats.frames_ok == 213 and stats.rejected == {}
    values: dict[str, list[float | None]] = {}
    for r in result.readings:
        values.setdefault(r.param, []).append(r.value)
    for param in ("hr", "spo2", "pulse_rate", "resp_rate", "etco2"):
        assert len(values[param]) == 107, param   # one per physiological record
    assert min(values["hr"]) == 76 and max(values["hr"]) == 80
    assert min(values["spo2"]) >= 95.7 and max(values["spo2"]) <= 96.7
    assert min(values["pulse_rate"]) == 74 and max(values["pulse_rate"]) == 84
    assert min(values["resp_rate"]) == 15 and max(values["resp_rate"]) == 17
    # NIBP repeats in every record: one measurement, one set of readings.
    assert (values["nibp_sys"], values["nibp_dia"], values["nibp_mean"]) == ([93], [48], [69])
    assert "temp" not in values   # no T1 probe: the group says "not present"
    assert all(r.status is Status.VALID for r in result.readings)
    # Placed by the monitor's clock (r_time), in order, 2018-07-26 17:06:05 to 17:08:23 UTC.
    times = [r.time for r in result.readings]
    assert times == sorted(times) and times[0] == FIRST_R_TIME
    assert datetime.fromtimestamp(times[-1], UTC).isoformat() == "2018-07-26T17:08:23+00:00"
    assert [e.data["param"] for e in result.events
            if e.kind == DeviceEventKind.UNMAPPED_PARAMETER] == ["co2_fi"]


@pytest.mark.parametrize("index", ["0 nan\n", "0 1e30\n", "0 1532624765\n5 x\n",
                                   "0 1532624765\n0 1532624766\n-4 1532624767\n",
                                   "a directory"])
def test_a_damaged_receipt_index_is_said_and_ignored(tmp_path: Path, index: str) -> None:
    capture = tmp_path / "capture.raw"
    capture.write_bytes(CAPTURE.read_bytes())
    if index == "a directory":
        capture.with_name("capture.raw.times").mkdir()
    else:
        capture.with_name("capture.raw.times").write_text(index)
    result = decode_capture(capture, "datex")
    assert [n for n in result.notes if "the index is ignored" in n], result.notes
    # Placed by the monitor's clock, as without an index.
    assert [r.time for r in result.readings] == [
        r.time for r in decode_capture(CAPTURE, "datex", start=0).readings]


def test_waveform_records_are_counted_apart_and_not_decoded() -> None:
    host = DatexHost()
    host.receive(CAPTURE.read_bytes(), None)
    assert host.record_types == {"physiological": 107, "waveform": 106}
    assert host.waveform_records == 106


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 6000), min_size=1, max_size=40))
def test_any_split_of_the_real_capture_decodes_the_same(cuts: list[int]) -> None:
    data = CAPTURE.read_bytes()
    whole = [(r.time, r.param, r.value) for r in DatexHost().receive(data, None)
             if isinstance(r, Reading)]
    host, parts, position = DatexHost(), [], 0
    for cut in [*cuts, len(data)]:
        parts += host.receive(data[position:position + cut], None)
        position += cut
    assert [(r.time, r.param, r.value) for r in parts if isinstance(r, Reading)] == whole
    assert host.stats.frames_ok == 213 and not host.stats.rejected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 400), max_size=20),
       st.sampled_from([None, T]))
def test_no_byte_sequence_makes_either_side_raise(noise: bytes, cuts: list[int],
                                                  now: float | None) -> None:
    host, device = DatexHost(), DatexDevice()
    data = noise + record() + noise + b"\x7e" + noise + build_request(5) + noise
    position = 0
    for cut in [*cuts, len(data)]:
        host.receive(data[position:position + cut], now)
        device.receive(data[position:position + cut], T)
        position += cut


# -- values, markers, NIBP, time -----------------------------------------------------------------

def test_markers_become_none_and_never_a_number() -> None:
    host = DatexHost()
    items = host.receive(record(raw={"ecg_hr": -32767, "spo2": -32766, "spo2_pr": -32763,
                                     "co2_et": -32762}), T)
    got = readings(items)
    assert got["hr"] == (None, Status.INVALID)
    assert "spo2" not in got                        # not updated: the last value stands
    assert got["pulse_rate"] == (None, Status.INVALID)
    assert got["etco2"] == (None, Status.INVALID)
    assert got["nibp_sys"] == (120.0, Status.VALID) and got["temp"] == (36.55, Status.VALID)
    status = events(items, DeviceEventKind.DEVICE_STATUS)
    assert [e.data["markers"] for e in status] == [{"pulse_rate": "over range",
                                                    "etco2": "not calibrated"}]
    # Every marker value, on every field: None, never the sentinel.
    for marker in [*MARKERS, MARKER_LIMIT, -32768]:
        raw = {field: marker for field in GOOD}
        for r in DatexHost().receive(record(raw=raw), T):
            assert not isinstance(r, Reading) or r.value is None


def test_group_status_absent_gives_nothing_and_inactive_is_questionable() -> None:
    got = readings(DatexHost().receive(record(status={**ALL_GROUPS, "t1": 0, "spo2": 0x1}), T))
    assert "temp" not in got
    assert got["spo2"] == (97.5, Status.QUESTIONABLE)
    assert got["etco2"] == (38.0, Status.VALID)     # 5.00 % of 760.0 mmHg


def test_resp_rate_comes_from_impedance_else_from_co2() -> None:
    assert readings(DatexHost().receive(record(), T))["resp_rate"] == (14.0, Status.VALID)
    fallback = DatexHost().receive(record(raw={"ecg_imp_rr": INVALID}), T)
    assert readings(fallback)["resp_rate"] == (13.0, Status.VALID)
    neither = DatexHost().receive(record(raw={"ecg_imp_rr": INVALID, "co2_rr": INVALID}), T)
    assert readings(neither)["resp_rate"] == (None, Status.INVALID)


def test_nibp_readings_come_once_per_measurement() -> None:
    host = DatexHost()
    sequence = [(INVALID, INVALID, INVALID),        # no measurement yet: nothing
                (12000, 8000, 9300), (12000, 8000, 9300),   # one measurement, repeated
                (-32766, -32766, -32766),            # not updated: still the same
                (11800, 7900, 9200),                 # a new one
                (INVALID, INVALID, INVALID)]         # now invalid: said once
    got = []
    for k, (sys_, dia, mean) in enumerate(sequence):
        items = host.receive(record(int(T) + 5 * k, {"nibp_sys": sys_, "nibp_dia": dia,
                                                     "nibp_mean": mean}), T + 5 * k)
        got.append([(r.param, r.value) for r in items
                    if isinstance(r, Reading) and r.param.startswith("nibp")])
    assert got == [[], [("nibp_sys", 120), ("nibp_dia", 80), ("nibp_mean", 93)], [], [],
                   [("nibp_sys", 118), ("nibp_dia", 79), ("nibp_mean", 92)],
                   [("nibp_sys", None), ("nibp_dia", None), ("nibp_mean", None)]]


def test_live_readings_use_the_monitor_clock_only_when_it_is_close() -> None:
    host = DatexHost()
    close = host.receive(record(int(T) - 30), T)
    assert {r.time for r in close if isinstance(r, Reading)} == {T - 30}
    far = host.receive(record(int(T) - 3600), T + 5) + host.receive(record(int(T) - 3595), T + 10)
    assert {r.time for r in far if isinstance(r, Reading)} == {T + 5, T + 10}
    clock = events(far, DeviceEventKind.DEVICE_CLOCK)
    assert len(clock) == 1 and clock[0].data["offset_s"] == -3605


# -- the dialogue ----------------------------------------------------------------------------------

def test_the_host_asks_again_after_three_silent_intervals_and_stops_with_zero() -> None:
    host = DatexHost(options={"interval": "2"})
    assert parse_request(unframe(host.start(T)[1:-1])).interval_s == 2
    assert host.due(T + 5) == b""
    host.receive(record(int(T) + 5), T + 5)
    assert host.due(T + 10.9) == b""               # 5.9 s since the last record
    assert parse_request(unframe(host.due(T + 11)[1:-1])).interval_s == 2
    assert host.due(T + 12) == b""                 # just asked
    assert parse_request(unframe(host.stop(T + 20)[1:-1])).interval_s == 0
    assert host.silence_timeout == 6.0
    for bad in ("0", "abc", "3601"):
        with pytest.raises(ValueError, match="interval"):
            DatexHost(options={"interval": bad})
    with pytest.raises(SpecError, match="interval"):
        open_adapter("datex:/dev/null?interval=-1")
    assert open_adapter("datex:/dev/null?interval=30").silence_timeout == 62.0


def test_device_side_round_trips_through_the_host() -> None:
    device, host = DatexDevice(), DatexHost()
    items = [Reading(T, "hr", 64.0, "/min", Status.VALID, "sim"),
             Reading(T, "spo2", 97.4, "%", Status.VALID, "sim"),
             Reading(T, "pulse_rate", None, "/min", Status.INVALID, "sim"),
             Reading(T, "resp_rate", 12.0, "/min", Status.VALID, "sim"),
             Reading(T, "nibp_sys", 131.0, "mmHg", Status.VALID, "sim"),
             Reading(T, "nibp_dia", 82.0, "mmHg", Status.VALID, "sim"),
             Reading(T, "nibp_mean", 98.0, "mmHg", Status.VALID, "sim"),
             Reading(T, "temp", 36.8, "°C", Status.VALID, "sim"),
             Reading(T, "etco2", 38.0, "mmHg", Status.VALID, "sim")]
    assert device.emit(items, T) == b""            # silent until asked
    device.receive(host.start(T), T)
    decoded = readings(host.receive(device.emit(items, T), T))
    assert decoded.pop("etco2")[0] == pytest.approx(38.0, abs=0.05)
    assert decoded == {"hr": (64.0, Status.VALID), "spo2": (97.4, Status.VALID),
                       "pulse_rate": (None, Status.INVALID), "resp_rate": (12.0, Status.VALID),
                       "nibp_sys": (131.0, Status.VALID), "nibp_dia": (82.0, Status.VALID),
                       "nibp_mean": (98.0, Status.VALID), "temp": (36.8, Status.VALID),
                       "co2_fi": (0.0, Status.VALID)}
    assert device.emit(items, T + 1) == b""        # not before the interval
    assert device.emit(items, T + 5)
    device.receive(host.stop(T + 6), T + 6)
    assert device.emit(items, T + 10) == b"" and not device.talking


def test_a_simulated_session_through_device_and_host() -> None:
    plan = SessionPlan(T, pre_min=5, infusion_min=20, post_min=5)
    talk = converse(DatexHost(), DatexDevice(), Simulator("typical", 3, plan), 25 * 60)
    decoded = [r for r in talk.decoded if isinstance(r, Reading)]
    hr_times = [r.time for r in decoded if r.param == "hr"]
    assert len(hr_times) == 25 * 60 // 5
    assert {b - a for a, b in itertools.pairwise(hr_times)} == {5}
    assert all(30 <= r.value <= 200 for r in decoded if r.param == "hr" and r.value is not None)
    # One NIBP set per cuff measurement of the plan, not one per record.
    sims = [i for i in Simulator("typical", 3, plan).take_until(T + 25 * 60)
            if isinstance(i, Reading) and i.param == "nibp_sys"]
    nibp = [r.value for r in decoded if r.param == "nibp_sys"]
    assert nibp == [r.value for r in sims]
    # The bytes are a capture: decoding them again, by the monitor's clock, gives the same.
    again = DatexHost().receive(bytes(talk.device_bytes), None)
    assert [(r.time, r.param, r.value) for r in again if isinstance(r, Reading)] == [
        (r.time, r.param, r.value) for r in decoded]


def test_port_settings_are_8e1_with_rts_cts() -> None:
    assert DatexHost.port == PortSettings(19200, 8, "E", 1, rtscts=True)
    assert DatexHost.port.describe() == "19200 8E1 RTS/CTS"


# -- end to end over a real pty ------------------------------------------------------------------

def test_over_a_real_pty_with_garbage_and_a_pulled_cable(tmp_path: Path) -> None:
    # A pty has no parity: the transport opens it 8N1 (see transport.is_pseudo_terminal).
    pulled: list[float] = []

    def pull() -> None:
        pulled.append(time.time())
        emulator.pull_cable(1.0)

    with emulated("datex", tmp_path, speed=1) as emulator:
        result = record_through(f"datex:{emulator.port}?interval=1", tmp_path / "d.db", 9, [
            (2.5, lambda: emulator.inject(b"\x00\x7e\x7d\x13garbage\x7e")),
            (4.0, pull),
        ])
    hr = [v for v in result.values("hr") if v is not None]
    assert len(hr) >= 4 and all(30 <= v <= 200 for v in hr)
    kinds = [e.kind for e in result.events()]
    assert kinds[0] == DeviceEventKind.CONNECTED
    lost = kinds.index(DeviceEventKind.DISCONNECTED)
    assert DeviceEventKind.CONNECTED in kinds[lost:], "recording did not resume after replug"
    disconnected = result.events(DeviceEventKind.DISCONNECTED)[0]
    assert disconnected.time - pulled[0] <= 5.0, "the pulled cable was noticed too late"
    resumed = [t for t in result.store.readings_table(result.session_id).time_ms.tolist()
               if t / 1000 > disconnected.time]
    assert resumed, "no readings after the cable came back"
    assert result.link_stats["rejected"]            # the garbage was counted
    assert result.link_stats["opens"] >= 2
