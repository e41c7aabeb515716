"""Nonin ASCII, DF2, DF7, DF8: the facts of PROTOCOLS.md, sync, fuzzing, a real pty end to end."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from devices.conversation import converse
from devices.protocols import nonin_codec, nonin_fast
from devices.protocols.nonin import NoninDevice, NoninHost
from devices.protocols.nonin_codec import (
    DF2,
    DF7,
    DF8,
    NO_FLAGS,
    NoninFlag,
    NoninRecord,
    checksum,
    packet_status_flags,
    parse_ascii_line,
    set_format_command,
)
from devices.protocols.nonin_fast import ascii_fields, good_packets, packet_fields, record_fields
from devices.registry import open_adapter
from devices.scenarios import SessionPlan
from devices.simulator import Simulator
from devices.spec import SpecError
from devices.vocabulary import DeviceEvent, DeviceEventKind, Item, Reading, Status
from tests.serial_harness import emulated, record_through

T = 1_795_700_000.0
PUBLISHED_FIRST_FRAME = bytes.fromhex("01 81 40 00 C2")
OK = 0x82  # status: bit 7, green perfusion


def frame(fmt: str, status: int, data: int, pleth: int = 0x40) -> bytes:
    """One DF2 or DF7 frame, built from PROTOCOLS.md by hand (not by the codec)."""
    head = [0x01, status, pleth, data] if fmt == "2" else [status, pleth >> 8, pleth & 0xFF, data]
    return bytes([*head, sum(head) % 256])


def packet(hr: int = 72, spo2: int = 97, *, fmt: str = "2", status: int = OK,
           spo2_d: int | None = None, stat2: int = 0) -> bytes:
    data = [0] * 25
    data[0], data[1], data[2], data[3] = (hr >> 7) & 0x03, hr & 0x7F, spo2, 0x2A
    data[7], data[8] = stat2, spo2 if spo2_d is None else spo2_d
    return b"".join(frame(fmt, status | (0x01 if i == 0 else 0), data[i]) for i in range(25))


def df8(hr: int = 72, spo2: int = 97, status: int = 0, status2: int = 0) -> bytes:
    return bytes([0x80 | status | (hr >> 7) & 0x03, hr & 0x7F, spo2, status2])


def values(items: list[Item]) -> list[tuple[str, float | None, Status]]:
    return [(r.param, r.value, r.status) for r in items if isinstance(r, Reading)]


def kinds(items: list[Item]) -> list[DeviceEventKind]:
    return [e.kind for e in items if isinstance(e, DeviceEvent)]


def host(fmt: str = "2", **options: str) -> NoninHost:
    return NoninHost(options={"format": fmt, **options})


def test_the_published_first_frame() -> None:
    assert checksum(PUBLISHED_FIRST_FRAME[:4]) == 0xC2
    assert DF2.problem(PUBLISHED_FIRST_FRAME) is None
    assert DF2.starts_packet(PUBLISHED_FIRST_FRAME)
    assert packet_status_flags(0x81) == NO_FLAGS
    # A packet opening with it: HR MSB 0, so HR is the LSB frame alone.
    stream = PUBLISHED_FIRST_FRAME + packet(hr=68, status=0x80)[5:]
    assert values(host().receive(stream, T)) == [("pulse_rate", 68.0, Status.VALID),
                                                 ("spo2", 97.0, Status.VALID)]


def test_df2_hr_nine_bits_display_spo2_battery_and_firmware() -> None:
    record = DF2.decode([packet(hr=300, spo2=95, spo2_d=96, stat2=0x01)[i:i + 5]
                         for i in range(0, 125, 5)])
    # HR = ((msb & 3) << 7) | lsb; SpO2 from the display average (frame 8), not frame 2.
    assert record == NoninRecord(300, 96, NoninFlag.LOW_BATTERY, 0x2A)


def test_missing_markers_become_none_and_invalid() -> None:
    missing = [("pulse_rate", None, Status.INVALID), ("spo2", None, Status.INVALID)]
    assert values(host().receive(packet(hr=511, spo2=127), T)) == missing
    assert values(host("7").receive(packet(hr=511, spo2=127, fmt="7"), T)) == missing
    # DF8 locks on two records in a row and, live, reports from the second.
    assert values(host("8").receive(df8(511, 127) * 2, T)) == missing
    assert values(host("ascii").receive(b"SPO2=--- HR=---\r\n", T)) == missing


def test_status_bits_give_events_and_status() -> None:
    link = host()
    off = link.receive(packet(status=OK | 0x40), T)
    assert kinds(off) == [DeviceEventKind.SENSOR_OFF, DeviceEventKind.DEVICE_STATUS]
    assert {s for _, _, s in values(off)} == {Status.INVALID}  # even with numbers sent
    back = link.receive(packet(status=OK | 0x20), T + 0.4)  # the same second: still reported
    assert DeviceEventKind.SENSOR_ON in kinds(back)
    assert values(back) == [("pulse_rate", 72.0, Status.QUESTIONABLE),
                            ("spo2", 97.0, Status.QUESTIONABLE)]
    track = link.receive(packet(status=OK | 0x10), T + 1)  # out of track
    assert {s for _, _, s in values(track)} == {Status.QUESTIONABLE}
    low = [link.receive(packet(stat2=0x01), T + i) for i in (2, 3)]
    assert kinds(low[0]).count(DeviceEventKind.LOW_BATTERY) == 1
    assert DeviceEventKind.LOW_BATTERY not in kinds(low[1])
    assert values(low[0]) == [("pulse_rate", 72.0, Status.VALID), ("spo2", 97.0, Status.VALID)]


def test_one_reading_per_parameter_per_second_and_exact_frame_counts() -> None:
    link = host()
    live = [r for k in range(6) for r in link.receive(packet(hr=60 + k), T + k / 3)]
    assert [(r.time, r.value) for r in live if r.param == "pulse_rate"] == [(T, 60.0),
                                                                             (T + 1, 63.0)]
    assert (link.stats.frames_ok, link.packets_ok, link.stats.readings) == (150, 6, 4)
    # A capture without receipt times: 3 packets a second from capture_start,
    # counted from the first good frame (not from a partial packet before it).
    capture = host()
    capture.capture_start = T
    items = capture.receive(packet(hr=59)[37:] + b"".join(packet(hr=60 + k) for k in range(9)),
                            None)
    assert [(r.time, r.value) for r in items if r.param == "pulse_rate"] == [
        (T, 60.0), (T + 1, 63.0), (T + 2, 66.0)]


def test_a_bad_checksum_is_counted_and_the_next_packet_decodes() -> None:
    broken = bytearray(packet(hr=70))
    broken[10 * 5 + 4] ^= 0xFF
    link = host()
    items = link.receive(packet(hr=60) + bytes(broken) + packet(hr=80), T)
    items += link.receive(packet(hr=90), T + 1)
    assert [v for p, v, _ in values(items) if p == "pulse_rate"] == [60.0, 90.0]
    assert link.stats.rejected["bad checksum"] == 1
    lost = [e for e in items if isinstance(e, DeviceEvent)]
    assert [e.data["kind"] for e in lost] == ["bad checksum"] and link.packets_ok == 3


def test_frame_sync_after_garbage_and_after_a_truncated_packet() -> None:
    link = host()
    # Garbage that looks like frame starts, then a packet, then 10 frames of one.
    garbage = b"\x01\x81\x40\x00\x01\x81\xff\x00" + bytes(range(256))
    items = link.receive(garbage + packet(hr=61) + packet(hr=62)[:50], T)
    items += link.receive(packet(hr=63) + b"\x00\x83garbage" + packet(hr=64), T + 1)
    items += link.receive(packet(hr=65), T + 2)
    assert [v for p, v, _ in values(items) if p == "pulse_rate"] == [61.0, 63.0, 65.0]
    assert link.stats.rejected["partial data before first frame"] == 1
    assert link.stats.rejected["truncated packet"] == 1
    assert link.stats.rejected["lost frame sync"] == 1
    assert link.packets_ok == 4  # 61, 63, 64 (same second as 63) and 65
    assert kinds(items).count(DeviceEventKind.BAD_FRAME) == 2


def test_df7_frames_and_resync() -> None:
    assert DF7.problem(frame("7", 0x81, 0)) is None
    assert DF7.problem(PUBLISHED_FIRST_FRAME) == "lost frame sync"  # no 01 lead-in in DF7
    assert DF7.problem(frame("7", 0x81, 0)[:4] + b"\x00") == "bad checksum"
    link = host("7")
    stream = b"\x80\x81\x00\x13" + packet(hr=66, fmt="7") + b"\x13" * 7 + packet(hr=67, fmt="7")
    items = link.receive(stream, T) + link.receive(packet(hr=68, fmt="7"), T + 1)
    assert [v for p, v, _ in values(items) if p == "pulse_rate"] == [66.0, 68.0]
    assert link.stats.rejected["lost frame sync"] == 1 and link.packets_ok == 3


def test_df8_fixed_bits_ranges_and_one_record_a_second() -> None:
    assert DF8.problem(df8(300, 97)) is None
    assert DF8.problem(df8(72, 97)[:3] + b"\x80") == "lost frame sync"
    assert DF8.problem(df8(400, 97)) == DF8.problem(df8(72, 101)) == "value out of range"
    link = host("8")
    link.capture_start = T
    # A status byte with a low battery in STATUS2, an out-of-range SpO2 (120), a bad bit 7.
    stream = (df8(72, 97) + df8(320, 96, 0x04) + df8(73, 120) + df8(74, 98)
              + b"\x13" + df8(75, 99, status2=0x01) + df8(76, 99))
    items = link.receive(stream, None)
    assert [(r.time - T, r.param, r.value, r.status) for r in items
            if isinstance(r, Reading)][:4] == [
        (0, "pulse_rate", 72.0, Status.VALID), (0, "spo2", 97.0, Status.VALID),
        (1, "pulse_rate", 320.0, Status.QUESTIONABLE), (1, "spo2", 96.0, Status.QUESTIONABLE)]
    assert [v for p, v, _ in values(items) if p == "spo2"] == [97.0, 96.0, 99.0, 99.0]
    assert link.stats.rejected["value out of range"] == 1
    assert kinds(items).count(DeviceEventKind.LOW_BATTERY) == 1
    assert kinds(items).count(DeviceEventKind.BAD_FRAME) == 0  # capture import: counted only


def test_ascii_lines() -> None:
    assert parse_ascii_line("SPO2=097 HR=072") == NoninRecord(72, 97)
    assert parse_ascii_line("SPO2=097 HR=072 F").flags == NoninFlag.FAST_MODE
    assert parse_ascii_line("SPO2=--- HR=064*") == NoninRecord(64, None, NoninFlag.EVENT_MARK)
    link = host("ascii")
    items = link.receive(b"NOISE\x00SPO2=096 HR=070\r\nnot a line\r\n" + b"x" * 200, T)
    items += link.receive(b"SPO2=095 HR=071\r\nSPO2=9x HR=1\r\n", T + 1)
    assert [v for p, v, _ in values(items) if p == "spo2"] == [96.0, 95.0]
    assert {k: link.stats.rejected[k] for k in ("garbage before line", "unreadable line",
                                                "line too long")} == {
        "garbage before line": 1, "unreadable line": 2, "line too long": 1}
    assert link.start(T) == b""  # an ASCII model takes no commands


def test_set_format_command_ack_and_nak() -> None:
    link = host("8")
    assert link.start(T) == bytes.fromhex("02 70 02 02 08 03") == set_format_command(8)
    assert values(link.receive(b"\x06" + df8() * 2, T)) and link.format_reply == "ack"
    refused = host("7")
    refused.start(T)
    items = refused.receive(b"\x15", T)
    assert kinds(items) == [DeviceEventKind.DEVICE_STATUS] and "NAK" in items[0].data["reason"]
    assert refused.stats.rejected["set-format refused (NAK)"] == 1
    assert host("2", set_format="no").start(T) == b""
    # The emulated device obeys, and refuses what it does not know.
    device = NoninDevice({"format": "2"})
    assert device.receive(b"\x00" + set_format_command(7)[:3], T) == b""
    assert device.receive(set_format_command(7)[3:], T) == b"\x06"
    assert device.format_name == "7"
    assert device.receive(set_format_command(5), T) == b"\x15"


def test_options_are_checked() -> None:
    for bad in ({"format": "5"}, {"format": "df2"}, {"set_format": "maybe"}):
        with pytest.raises(ValueError, match="format"):
            NoninHost(options=bad)
    with pytest.raises(SpecError, match="format"):
        open_adapter("nonin:/dev/null?format=9")
    with pytest.raises(SpecError, match="unknown option"):
        open_adapter("nonin:/dev/null?baud=9600")
    assert open_adapter("nonin:/dev/null?format=ascii&set_format=no").link.format_name == "ascii"


@pytest.mark.parametrize("fmt", ["2", "7", "8", "ascii"])
def test_every_format_round_trips_device_to_host(fmt: str) -> None:
    def session() -> Simulator:
        return Simulator("sensor-off", 2, SessionPlan(T, pre_min=0), event_at=0.05)

    link, device = host(fmt), NoninDevice({"format": "2" if fmt != "ascii" else "ascii"})
    talk = converse(link, device, session(), 100)
    sent = {(r.time, r.param): r.value for r in session().take_until(T + 100)
            if isinstance(r, Reading) and r.param in ("spo2", "pulse_rate")}
    decoded = [r for r in talk.decoded if isinstance(r, Reading)]
    assert len(decoded) >= 2 * 97
    for r in decoded:
        expected = sent[(r.time, r.param)]
        assert r.value == (None if expected is None else round(expected))
        assert (r.status is Status.INVALID) == (r.value is None)
    if fmt != "ascii":  # the ASCII format has no sensor bit: only dashes
        assert kinds(talk.decoded) == [
            DeviceEventKind.SENSOR_OFF, DeviceEventKind.DEVICE_STATUS,
            DeviceEventKind.SENSOR_ON, DeviceEventKind.DEVICE_STATUS]
    assert not link.stats.rejected or set(link.stats.rejected) == {
        "partial data before first frame"}


def sample_stream(fmt: str) -> bytes:
    if fmt == "ascii":
        return b"SPO2=096 HR=070\r\nSPO2=--- HR=---\r\nSPO2=095 HR=071 F\r\n"
    if fmt == "8":
        return df8(70, 96) + df8(511, 127, 0x40) + df8(71, 95, 0x04, 0x01) + df8(72, 95)
    return b"".join(packet(hr=60 + k, fmt=fmt, status=OK | (0x40 if k == 4 else 0))
                    for k in range(7))


FORMAT_NAMES = st.sampled_from(["ascii", "2", "7", "8"])


@settings(max_examples=300, deadline=None)
@given(FORMAT_NAMES, st.binary(max_size=400), st.lists(st.integers(1, 60), max_size=20),
       st.booleans())
def test_no_byte_sequence_makes_a_decoder_raise(fmt: str, noise: bytes, cuts: list[int],
                                                 live: bool) -> None:
    link = host(fmt)
    link.start(T)
    data = noise + sample_stream(fmt) + noise + sample_stream(fmt)[:37] + noise
    position = 0
    for cut in [*cuts, len(data)]:
        link.receive(data[position:position + cut], T if live else None)
        position += cut


@settings(max_examples=100, deadline=None)
@given(FORMAT_NAMES, st.lists(st.integers(1, 80), min_size=1, max_size=30))
def test_any_split_of_a_stream_decodes_the_same(fmt: str, cuts: list[int]) -> None:
    stream = b"\x00\x13" + sample_stream(fmt) + b"\xff\x01" + sample_stream(fmt)

    def decode(pieces: list[bytes]) -> tuple[list[tuple[float, str, float | None]], dict]:
        link = host(fmt)
        items = [i for piece in pieces for i in link.receive(piece, None)]
        return [(r.time, r.param, r.value) for r in items if isinstance(r, Reading)], \
            link.stats.as_dict()

    pieces, position = [], 0
    for cut in [*cuts, len(stream)]:
        pieces.append(stream[position:position + cut])
        position += cut
    assert decode(pieces) == decode([stream])


def test_df2_over_a_real_pty_with_garbage_and_a_pulled_cable(tmp_path: Path) -> None:
    pulled: list[float] = []

    def pull() -> None:
        pulled.append(time.time())
        emulator.pull_cable(1.0)

    with emulated("nonin", tmp_path, speed=20, options={"format": "2"}) as emulator:
        result = record_through(f"nonin:{emulator.port}?format=2", tmp_path / "n.db", 9, [
            (2.5, lambda: emulator.inject(b"\x00\xff\x13garbage")),
            (4.0, pull),
        ])
    spo2 = [v for v in result.values("spo2") if v is not None]
    assert len(spo2) >= 5 and all(88 <= v <= 100 for v in spo2)
    # 3 packets a second on the wire, one reading a second stored.
    assert len(result.values("spo2")) <= 11
    times = result.store.readings_table(result.session_id).time_ms.tolist()
    kinds_ = [e.kind for e in result.events()]
    assert kinds_[0] == DeviceEventKind.CONNECTED
    lost = kinds_.index(DeviceEventKind.DISCONNECTED)
    assert DeviceEventKind.CONNECTED in kinds_[lost:], "recording did not resume after replug"
    disconnected = result.events(DeviceEventKind.DISCONNECTED)[0]
    assert disconnected.time - pulled[0] <= 5.0, "the pulled cable was noticed too late"
    assert [t for t in times if t / 1000 > disconnected.time], "no readings after replug"
    assert result.link_stats["rejected"]["lost frame sync"] >= 1  # the garbage, counted
    assert result.link_stats["opens"] >= 2


def test_df8_over_a_real_pty_switching_the_device_format(tmp_path: Path) -> None:
    # The emulated device starts in DF2; the host's set-format command moves it to DF8.
    with emulated("nonin", tmp_path, speed=20, options={"format": "2"}) as emulator:
        result = record_through(f"nonin:{emulator.port}?format=8", tmp_path / "n8.db", 6,
                                [(2.5, lambda: emulator.inject(b"\x80\x7f\x7f"))])
        assert emulator.device.format_name == "8"
    spo2 = [v for v in result.values("spo2") if v is not None]
    assert len(spo2) >= 2 and all(88 <= v <= 100 for v in spo2)
    assert result.link_stats["frames_ok"] >= 3
    assert result.link_stats["rejected"]["lost frame sync"] >= 1


# --- the fast path (nonin_fast) decodes exactly as the frame-by-frame path ---------------

BYTE = st.one_of(st.integers(0, 255), st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF]))


def test_fast_df8_records_agree_with_the_codec_at_every_range_edge() -> None:
    records = [bytes([0x80 | msb, lsb, spo2, 0x08]) for msb in range(4) for lsb in range(256)
               for spo2 in (0, 100, 101, 126, 127, 128)]
    records += [bytes([status, 0x41, 97, status2]) for status in range(256)
                for status2 in (*range(0, 256, 7), 0x01, 0x08, 0x09, 0x80)]
    for record in records:
        fields = record_fields(int.from_bytes(record, "big"))
        assert (fields is None) == (DF8.problem(record) is not None), record.hex(" ")
        if fields is not None:
            decoded = DF8.decode([record])
            assert (fields[0].flags, *fields[1:]) == (decoded.flags, decoded.pulse_rate,
                                                      decoded.spo2)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["2", "7"]), st.lists(st.tuples(st.integers(0, 499), BYTE), max_size=4),
       st.integers(0, 0x7F), st.sampled_from([0x00, 0x01]))
def test_fast_packets_agree_with_the_codec(fmt: str, edits: list[tuple[int, int]],
                                           status_bits: int, stat2: int) -> None:
    data = bytearray(packet(hr=300, status=0x80 | status_bits & 0x7E, fmt=fmt, stat2=stat2)
                     + b"".join(packet(hr=60 + k, fmt=fmt) for k in range(3)))
    for index, value in edits:
        data[index] = value
    codec_fmt = DF2 if fmt == "2" else DF7
    frames = [bytes(data[i:i + 5]) for i in range(0, len(data), 5)]
    good = 0
    while good < 4 and all(codec_fmt.problem(f) is None and codec_fmt.starts_packet(f) == (i == 0)
                           for i, f in enumerate(frames[25 * good:25 * good + 25])):
        good += 1
    assert good_packets(codec_fmt, data) == good
    for k in range(good):
        record = codec_fmt.decode(frames[25 * k:25 * k + 25])
        facts, hr, spo2, firmware = packet_fields(codec_fmt, data, 125 * k)
        assert (facts.flags, hr, spo2, firmware) == (record.flags, record.pulse_rate,
                                                     record.spo2, record.firmware)


def pieces(*choices: str) -> st.SearchStrategy[str]:
    return st.sampled_from(choices)


# Lines of the SPO2=XXX HR=YYY shape built from parts, each at times wrong
# (\x1c-\x1f are spaces to the codec's pattern; \x85 is not ASCII), and
# lines of its characters at random.
NUMBER = pieces("0", "97", "100", "072", "999", "---", "-", "1000", "9x", "-9", "", "0979")
SPACE = pieces(" ", "  ", "\t", "\x1c", "\x1f ", "\x0b", "", "\x85", "x")
LINES = st.one_of(
    st.tuples(pieces("", "", "x2 "), st.just("SPO2="), NUMBER, SPACE, pieces("HR=", "HR", "hr="),
              NUMBER, SPACE, pieces("", "F", "*", "F*", "*F", "FF", "x", "F x"),
              SPACE).map("".join),
    st.text(st.sampled_from(list("SPO2=HR-0179 F*x\t\x0b\x1c\x1f\x85")), max_size=24))


@settings(max_examples=500, deadline=None)
@given(LINES)
@example("SPO2=1000 HR=072")
@example("SPO2=097 HR=0720")
@example("SPO2=097\x1cHR=072\x1f*")
@example("SPO2=097 HR=072 *F")
@example("SPO2=--- HR=-")
@example("SPO2=097 HR=072\x85")
@example("SPO2=-9 HR=072")
@example("x SPO2=097 HR=072")
def test_fast_ascii_lines_agree_with_the_codec(text: str) -> None:
    raw = text.encode("latin-1").strip()
    fields = ascii_fields(raw)
    try:
        record = parse_ascii_line(raw.decode("ascii")) if raw.startswith(b"SPO2=") else None
    except (ValueError, UnicodeDecodeError):
        record = None
    if record is None:
        assert fields is None
    else:  # every line the codec reads, the fast path reads the same
        assert fields is not None
        assert (fields[0].flags, *fields[1:]) == (record.flags, record.pulse_rate, record.spo2)


def careful_only() -> contextlib.ExitStack:
    """The host with its fast path turned off: frame by frame, line by line."""
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(nonin_fast, "good_packets", lambda fmt, data: 0))
    stack.enter_context(mock.patch.object(nonin_fast, "good_records", lambda data, memo: ()))
    stack.enter_context(mock.patch.object(nonin_fast, "ascii_fields", lambda line: None))
    return stack


def varied_stream(fmt: str, values: list[tuple[int, int, int, int]]) -> bytes:
    """Records with the given pulse rates, SpO2, status bits and low-battery bits."""
    if fmt == "ascii":
        return b"".join(b"SPO2=%03d HR=%03d%s\r\n" % (spo2 % 128, hr % 512,
                                                      b" F" if bits & 1 else b"")
                        for hr, spo2, bits, _ in values)
    if fmt == "8":
        return b"".join(df8(hr % 322, spo2 % 101, bits & 0x7C, low & 0x09)
                        for hr, spo2, bits, low in values)
    return b"".join(packet(hr % 512, spo2 % 128, fmt=fmt, status=0x80 | bits & 0x7E,
                           stat2=low & 1) for hr, spo2, bits, low in values)


@settings(max_examples=150, deadline=None)
@given(FORMAT_NAMES, st.lists(st.tuples(*[st.integers(0, 511)] * 4), min_size=1, max_size=12),
       st.lists(st.tuples(st.integers(0, 2000), st.binary(max_size=6)), max_size=4),
       st.lists(st.integers(1, 400), max_size=12), st.booleans(), st.booleans())
def test_the_fast_path_decodes_as_the_frame_by_frame_path(
        fmt: str, values: list[tuple[int, int, int, int]], edits: list[tuple[int, bytes]],
        cuts: list[int], live: bool, start: bool) -> None:
    data = bytearray(varied_stream(fmt, values) * 2)
    for index, noise in edits:
        data[index:index] = noise

    def decode() -> list[object]:
        link = host(fmt)
        link.capture_start = T
        out: list[object] = [link.start(T)] if start else []
        position = 0
        for k, cut in enumerate([*cuts, len(data)]):
            out.append(link.receive(bytes(data[position:position + cut]),
                                    T + k / 2 if live else None))
            position += cut
        return [*out, link.stats.as_dict(), link.packets_ok, link.firmware_revision]

    with mock.patch.object(nonin_fast, "RECORD_MEMO_SIZE", 3):  # emptied often, too
        fast = decode()
    with careful_only():
        careful = decode()
    assert repr(fast) == repr(careful)


@pytest.mark.parametrize("fmt", ["2", "7", "8", "ascii"])
def test_a_clean_stream_takes_the_fast_path(fmt: str) -> None:
    link = host(fmt)
    with mock.patch.object(NoninHost, "_good_frame", autospec=True,
                           side_effect=NoninHost._good_frame) as careful_frames, \
            mock.patch.object(nonin_codec, "parse_ascii_line",
                              side_effect=nonin_codec.parse_ascii_line) as careful_lines:
        items = link.receive(varied_stream(fmt, [(70 + k, 95, 0, 0) for k in range(30)]), None)
    assert len(values(items)) == 2 * (30 if fmt in ("8", "ascii") else 10)
    # DF8's first record only leads to the lock, so it is taken frame by frame.
    assert careful_frames.call_count == (1 if fmt == "8" else 0)
    assert careful_lines.call_count == 0


@pytest.mark.parametrize("fmt", ["2", "8"])
def test_other_flags_changing_under_a_low_battery_give_one_battery_event(fmt: str) -> None:
    # The host compares a record's flags with the last record's as one looked-up
    # object; a change in any other flag must not repeat the battery event.
    bits = (0, 0x20, 0, 0x40, 0, 0x10) if fmt == "2" else (0, 0x04, 0, 0x40, 0, 0x08)
    stream = b"".join(packet(status=OK | b, stat2=0x01) if fmt == "2" else df8(status=b, status2=1)
                      for b in bits)
    found = kinds(host(fmt).receive(stream, None))
    assert found.count(DeviceEventKind.LOW_BATTERY) == 1
    assert found.count(DeviceEventKind.SENSOR_OFF) == found.count(DeviceEventKind.SENSOR_ON) == 1
