"""Philips IntelliVue: the published frames and values, the dialogue, fuzzing, captures,
and a real pty end to end."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.conversation import converse
from devices.protocols import intellivue_codes as codes
from devices.protocols.intellivue import Association, IntelliVueDevice, IntelliVueHost
from devices.protocols.intellivue_codes import MessageError, NumericValue, reading_status
from devices.protocols.intellivue_frame import (
    GOOD_RESIDUE,
    FrameDecoder,
    FrameError,
    Rejected,
    encode_frame,
    escape,
    fcs16,
    fcs_register,
    fcs_register_reference,
    unescape,
    unescape_reference,
)
from devices.protocols.intellivue_messages import (
    ACT_POLL_MDIB_DATA_EXT,
    CMD_GET,
    RORS,
    MessageDecoder,
    OtherRemote,
    PollReply,
    decode_data_export,
    event_result,
    poll_reply,
    poll_request,
    split_attributes,
)
from devices.protocols.intellivue_session import (
    SessionError,
    association_request,
    parse_spdu,
    request_user_info,
)
from devices.scenarios import SessionPlan
from devices.simulator import Simulator
from devices.vocabulary import DeviceEvent, DeviceEventKind, Reading, Status
from tests.serial_harness import emulated, record_through

T = 1_795_700_000.0


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# PROTOCOLS.md, "Philips IntelliVue": one frame of a real capture, as on the wire.
PUBLISHED_FRAME = hexbytes(
    "C0 11 01 00 20 E1 00 00 02 00 02 00 18 00 00 00 03 00 12 00 21 00 00 00 00 00 01 00 08"
    " F2 3A 00 04 00 00 00 00 7B D2 C1")
PUBLISHED_EVENT_RESULT = hexbytes(
    "E1 00 00 02 00 02 00 14 00 01 00 01 00 0E 00 21 00 00 00 00 00 00 00 00 0D 06 00 00")
PUBLISHED_POLL = hexbytes(
    "E1 00 00 02 00 01 00 1C 00 00 00 07 00 16 00 21 00 00 00 00 00 00 00 00 0C 16"
    " 00 08 00 01 00 01 00 06 00 00")
HR_60 = hexbytes("09 50 00 0A 41 82 00 00 0A A0 00 00 00 3C")
SPO2_NAN = hexbytes("09 50 00 0A 4B B8 80 00 02 20 00 7F FF FF")
# The published NIBP compound, its "…" completed with dia and mean in the same state.
NIBP_UNAVAILABLE = hexbytes(
    "09 4B 00 22 00 03 00 1E 4A 05 20 00 0F 20 00 7F FF FF"
    " 4A 06 20 00 0F 20 00 7F FF FF 4A 07 20 00 0F 20 00 7F FF FF")


def readings(items: list) -> dict[str, tuple[float | None, Status]]:
    return {r.param: (r.value, r.status) for r in items if isinstance(r, Reading)}


def events(items: list, kind: DeviceEventKind | None = None) -> list[DeviceEvent]:
    return [e for e in items if isinstance(e, DeviceEvent) and (kind is None or e.kind == kind)]


def reply_with(attributes_by_handle: list[list[tuple[int, bytes]]], t: float = T,
               poll_number: int = 1) -> bytes:
    """A framed poll reply holding these observations (handles 1, 2, ...)."""
    observations = [(i + 1, attrs) for i, attrs in enumerate(attributes_by_handle)]
    return encode_frame(poll_reply(0, poll_number, 0, codes.encode_abs_time(t),
                                   [(0, observations)]))


def numeric(code: int, unit: int, value: float | None, state: int = 0, decimals: int = 0
            ) -> tuple[int, bytes]:
    raw = codes.encode_float(value, decimals)
    return codes.nu_val_attribute(NumericValue(code, state, unit, raw))


def session(seed: int = 1) -> Simulator:
    return Simulator("typical", seed, SessionPlan(T))


# --- framing -----------------------------------------------------------------------------

def test_the_published_frame_is_accepted() -> None:
    assert FrameDecoder().feed(PUBLISHED_FRAME) == [PUBLISHED_FRAME[5:-3]]
    assert fcs_register(PUBLISHED_FRAME[1:-1]) == GOOD_RESIDUE
    assert encode_frame(PUBLISHED_FRAME[5:-3]) == PUBLISHED_FRAME
    # A get result: well formed, nothing for the screen.
    assert decode_data_export(PUBLISHED_FRAME[5:-3]) == OtherRemote(RORS, 0, CMD_GET)
    host = IntelliVueHost()
    assert host.receive(PUBLISHED_FRAME, T) == []
    assert host.stats.frames_ok == 1 and not host.stats.rejected


def test_the_poll_and_event_result_are_built_byte_for_byte() -> None:
    assert poll_request(0, 1) == PUBLISHED_POLL
    framed = encode_frame(PUBLISHED_POLL)
    assert framed[:5] == hexbytes("C0 11 01 00 24") and framed[-3:] == hexbytes("8E 95 C1")
    assert event_result(1, 0x0D06) == PUBLISHED_EVENT_RESULT
    # The host's first poll is exactly the published one.
    host, device = IntelliVueHost(), IntelliVueDevice()
    reply = device.receive(host.start(T), T)
    host.receive(reply, T)
    sent = host.due(T)
    assert sent == encode_frame(PUBLISHED_EVENT_RESULT) + framed


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fcs_residue_and_escaping_round_trip(user_data: bytes) -> None:
    frame = encode_frame(user_data)
    assert fcs_register(hexbytes("11 01") + len(user_data).to_bytes(2, "big") + user_data
                        + fcs16(hexbytes("11 01") + len(user_data).to_bytes(2, "big")
                                + user_data).to_bytes(2, "little")) == GOOD_RESIDUE
    assert 0xC0 not in frame[1:-1] and 0xC1 not in frame[1:-1]
    assert FrameDecoder().feed(frame) == [user_data]


def test_flag_bytes_in_data_and_in_the_fcs_are_escaped() -> None:
    data = bytes([0xC0, 0xC1, 0x7D, 0x00, 0x7D, 0x5D])
    frame = encode_frame(data)
    assert hexbytes("7D E0 7D E1 7D 5D") in frame
    assert FrameDecoder().feed(frame) == [data]
    # Find user data whose FCS holds a flag byte: its escape must round-trip too.
    for n in range(5000):
        payload = n.to_bytes(2, "big")
        fcs = fcs16(hexbytes("11 01 00 02") + payload).to_bytes(2, "little")
        if {0xC0, 0xC1, 0x7D} & set(fcs):
            break
    frame = encode_frame(payload)
    assert len(frame) > 1 + 4 + 2 + 2 + 1  # something was escaped
    assert FrameDecoder().feed(frame) == [payload]


def test_garbage_truncation_and_bad_checksums_are_counted_and_resynced() -> None:
    good = encode_frame(PUBLISHED_POLL)
    broken = bytearray(good)
    broken[10] ^= 0x01
    lying = hexbytes("11 01 00 05") + b"ab"   # says 5 bytes of data, has 2
    wrong_length = b"\xc0" + escape(lying + fcs16(lying).to_bytes(2, "little")) + b"\xc1"
    stream = (b"noise" + good[:12] + good + bytes(broken) + hexbytes("C0 7D C1")
              + wrong_length + hexbytes("C0 11 C1") + good)
    found = FrameDecoder().feed(stream)
    assert [f for f in found if isinstance(f, bytes)] == [PUBLISHED_POLL, PUBLISHED_POLL]
    assert [f.reason for f in found if isinstance(f, Rejected)] == [
        "garbage between frames", "truncated frame", "bad checksum", "bad escape",
        "wrong length", "frame too short"]
    host = IntelliVueHost()
    items = host.receive(stream, T)
    assert host.stats.rejected["truncated frame"] == 1
    assert len(events(items, DeviceEventKind.BAD_FRAME)) == 6
    capture = IntelliVueHost()
    assert capture.receive(stream, None) == [] and sum(capture.stats.rejected.values()) == 6


# --- values ---------------------------------------------------------------------------

def test_float_special_values_are_no_value() -> None:
    for raw in (codes.FLOAT_NAN, codes.FLOAT_NRES, codes.FLOAT_POS_INF, codes.FLOAT_NEG_INF):
        assert codes.float_value(raw) is None
    assert codes.float_value(0x0000003C) == 60
    assert codes.float_value(0xFF00016D) == 36.5          # exponent -1
    assert codes.float_value(0x00FFFFFF) == -1            # negative mantissa
    assert codes.float_value(0x02000003) == 300           # positive exponent
    assert codes.float_value(codes.encode_float(37.25, 2)) == 37.25
    assert codes.encode_float(None) == codes.FLOAT_NAN


@pytest.mark.parametrize(("state", "expected"), [
    (0, (72.0, Status.VALID)),
    (codes.STATE_INVALID, (None, Status.INVALID)),
    (codes.STATE_UNAVAILABLE, (None, Status.INVALID)),
    (codes.STATE_QUESTIONABLE, (72.0, Status.QUESTIONABLE)),
    (codes.STATE_CALIBRATING, (72.0, Status.QUESTIONABLE)),
    (codes.STATE_TEST, (72.0, Status.QUESTIONABLE)),
    (codes.STATE_DEMO, (72.0, Status.VALID)),
])
def test_state_bits_set_the_reading_status(state: int, expected: tuple) -> None:
    assert reading_status(state, 72.0) == expected


def test_the_three_published_values_decode_as_stated() -> None:
    [(ident, value)] = split_attributes(HR_60)
    assert [(v.physio_id, v.value, reading_status(v.state, v.value))
            for v in codes.decode_numeric_attribute(ident, value)] == [
                (codes.HR, 60, (60, Status.VALID))]
    [(ident, value)] = split_attributes(SPO2_NAN)
    [spo2] = codes.decode_numeric_attribute(ident, value)
    assert spo2.raw_float == codes.FLOAT_NAN and reading_status(spo2.state, spo2.value) == (
        None, Status.INVALID)
    [(ident, value)] = split_attributes(NIBP_UNAVAILABLE)
    nibp = codes.decode_numeric_attribute(ident, value)
    assert [v.physio_id for v in nibp] == [0x4A05, 0x4A06, 0x4A07]
    assert all(v.state == codes.STATE_UNAVAILABLE and v.value is None for v in nibp)
    # The same attributes in a poll reply, through the host.
    host = IntelliVueHost()
    items = host.receive(reply_with([split_attributes(HR_60), split_attributes(SPO2_NAN),
                                     split_attributes(NIBP_UNAVAILABLE)]), T)
    assert readings(items) == {"hr": (60.0, Status.VALID), "spo2": (None, Status.INVALID),
                               "nibp_sys": (None, Status.INVALID),
                               "nibp_dia": (None, Status.INVALID),
                               "nibp_mean": (None, Status.INVALID)}
    assert not events(items, DeviceEventKind.NIBP_FAILED)  # no measurement is not a failure


def test_unknown_attributes_are_skipped_by_length() -> None:
    noise = [(0x0924, b"\x00\x02\x41\x82"), (0xF1F1, b"\x01" * 13), (0x0911, b"")]
    host = IntelliVueHost()
    items = host.receive(reply_with([[*noise, *split_attributes(HR_60), (0x0996, b"\x00")]]),
                         T)
    assert readings(items) == {"hr": (60.0, Status.VALID)}


def test_unmapped_codes_are_kept_and_announced_once() -> None:
    host = IntelliVueHost()
    observations = [[numeric(codes.PERF_REL, 0x0200, 1.4, decimals=1)],
                    [numeric(0x1234, 0x0AA0, 7)],
                    [numeric(codes.ETCO2, codes.UNIT_KPA, 5.3, decimals=1)],
                    [numeric(codes.HR, codes.UNIT_PERCENT, 60)]]   # HR in % is not believed
    first = host.receive(reply_with(observations), T)
    second = host.receive(reply_with(observations, T + 1), T + 1)
    assert readings(first) == {"NOM_PULS_OXIM_PERF_REL": (1.4, Status.VALID),
                               "intellivue_0x1234": (7.0, Status.VALID),
                               "etco2": (39.8, Status.VALID),      # 5.3 kPa in mmHg
                               "NOM_ECG_CARD_BEAT_RATE": (60.0, Status.VALID)}
    assert readings(second) == readings(first)
    announced = events(first, DeviceEventKind.UNMAPPED_PARAMETER)
    assert {e.data["name"] for e in announced} == {
        "NOM_PULS_OXIM_PERF_REL", "intellivue_0x1234", "NOM_ECG_CARD_BEAT_RATE"}
    assert not events(second, DeviceEventKind.UNMAPPED_PARAMETER)
    assert next(r.unit for r in first if isinstance(r, Reading)
                and r.param == "intellivue_0x1234") == "/min"


def test_two_respiration_rates_do_not_share_one_id() -> None:
    host = IntelliVueHost()
    items = host.receive(reply_with([[numeric(codes.RR, codes.UNIT_RESP_PER_MIN, 14)],
                                     [numeric(codes.AWAY_RR, codes.UNIT_RESP_PER_MIN, 12)]]), T)
    assert readings(items) == {"resp_rate": (12.0, Status.VALID),
                               "NOM_RESP_RATE": (14.0, Status.VALID)}


def test_demo_data_is_announced_once_and_values_keep_their_status() -> None:
    talk = converse(IntelliVueHost(), IntelliVueDevice({"demo": "1"}), session(), 10)
    demo = [e.data for e in events(talk.decoded, DeviceEventKind.DEVICE_STATUS)
            if "demo_data" in e.data]
    assert demo == [{"demo_data": True}]
    assert {r.status for r in talk.decoded if isinstance(r, Reading)
            and r.param == "hr"} == {Status.VALID}


# --- the dialogue ---------------------------------------------------------------------

def association_events(items: list) -> list[str]:
    return [e.data["association"] for e in events(items, DeviceEventKind.DEVICE_STATUS)
            if "association" in e.data]


def test_association_polls_and_keep_alive() -> None:
    host, device = IntelliVueHost(), IntelliVueDevice()
    talk = converse(host, device, session(), 40)
    assert association_events(talk.decoded) == ["accepted"]
    assert device.talking and host.state is Association.POLLING
    assert device.heard.count("PollRequest") == 41   # one at the MDS create, then 1 a second
    assert device.heard.count("EventResult") == 1
    hr = [r for r in talk.decoded if isinstance(r, Reading) and r.param == "hr"]
    assert len(hr) == 40 and all(60 <= r.value <= 120 for r in hr)
    # NIBP is episodic: "unavailable" once, not a reading every poll.
    assert [r.value for r in talk.decoded if isinstance(r, Reading)
            and r.param == "nibp_sys"] == [None]


def test_a_refusal_is_reported_and_retried_after_a_back_off() -> None:
    host, device = IntelliVueHost(), IntelliVueDevice({"refuse": "2"})
    talk = converse(host, device, session(), 12)
    refused = [e for e in events(talk.decoded, DeviceEventKind.DEVICE_STATUS)
               if e.data.get("association") == "refused"]
    assert [e.data["retry_in_s"] for e in refused] == [2.0, 4.0]
    assert refused[0].data["reason"] == "monitor busy (temporary congestion)"
    assert association_events(talk.decoded) == ["refused", "refused", "accepted"]
    first_hr = min(r.time for r in talk.decoded if isinstance(r, Reading) and r.param == "hr")
    assert first_hr == T + 6   # refused at 0, again at 2, accepted at 6


def test_release_on_stop_and_the_monitor_drops_a_silent_host() -> None:
    host, device = IntelliVueHost(), IntelliVueDevice()
    converse(host, device, session(), 3)
    release = host.stop(T + 3)
    assert parse_spdu(FrameDecoder().feed(release)[0]).kind == 0x09  # type: ignore[arg-type]
    answer = device.receive(release, T + 3)
    assert not device.talking
    assert association_events(host.receive(answer, T + 3)) == ["released"]
    assert host.due(T + 10) == b""   # stopped: it stays quiet

    host, device = IntelliVueHost(), IntelliVueDevice()
    host.receive(device.receive(host.start(T), T), T)
    device.receive(host.due(T), T)
    dropped = b"".join(device.emit([Reading(T + i, "hr", 70.0, "/min", Status.VALID, "sim")],
                                   T + i) for i in range(1, 11))
    assert not device.talking
    items = host.receive(dropped, T + 10)
    assert association_events(items) == ["aborted"] and host.state is Association.IDLE
    assert host.due(T + 10.5) == b""
    again = host.due(T + 11)
    assert FrameDecoder().feed(again) == [association_request(1.0)]


def test_a_monitor_that_stops_answering_is_asked_again() -> None:
    host, device = IntelliVueHost(), IntelliVueDevice()
    host.receive(device.receive(host.start(T), T), T)
    host.receive(device.receive(host.due(T), T), T)
    for second in range(1, 5):
        assert host.due(T + second)   # polls, unanswered
    asked = host.due(T + 5)
    assert FrameDecoder().feed(asked) == [association_request(1.0)]
    assert association_events(host.receive(b"", T + 5)) == ["lost"]


def test_the_poll_option_is_checked() -> None:
    with pytest.raises(ValueError, match="poll"):
        IntelliVueHost(options={"poll": "0.2"})
    assert IntelliVueHost(options={"poll": "5"}).poll_interval == 5.0


# --- fuzzing ----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 60), max_size=20))
def test_no_byte_sequence_makes_the_host_raise(noise: bytes, cuts: list[int]) -> None:
    host = IntelliVueHost()
    data = noise + reply_with([split_attributes(HR_60)]) + noise + encode_frame(noise)
    position = 0
    for cut in [*cuts, len(data)]:
        host.receive(data[position:position + cut], T)
        position += cut
    host.due(T + 1)


def _valid_reply_body() -> bytes:
    return FrameDecoder().feed(reply_with([split_attributes(HR_60),
                                           split_attributes(NIBP_UNAVAILABLE)]))[0]  # type: ignore[return-value]


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_no_message_makes_the_message_decoder_raise(data: st.DataObject) -> None:
    body = bytearray(_valid_reply_body())
    for _ in range(data.draw(st.integers(0, 6))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    body = body[:data.draw(st.integers(0, len(body)))] + data.draw(st.binary(max_size=20))
    with contextlib.suppress(MessageError):
        decode_data_export(bytes(body))
    for now in (T, None):
        IntelliVueHost().receive(encode_frame(bytes(body)), now)   # never raises


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0x0D, 0x0E, 0x0C, 0x09, 0x0A, 0x19]), st.binary(max_size=200),
       st.integers(0, 160))
def test_no_session_message_makes_either_side_raise(kind: int, tail: bytes, cut: int) -> None:
    request = association_request(1.0)
    for body in (bytes([kind]) + tail, bytes([kind]) + request[1:cut] + tail):
        with contextlib.suppress(SessionError):
            request_user_info(parse_spdu(body))
        frame = encode_frame(body)
        IntelliVueHost().receive(frame, T)
        IntelliVueHost().receive(frame, None)
        IntelliVueDevice().receive(frame, T)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 80), min_size=1, max_size=30))
def test_any_split_of_a_stream_decodes_the_same(cuts: list[int]) -> None:
    stream = b"".join(reply_with([split_attributes(HR_60)], T + i, i) for i in range(5))
    whole = [(r.param, r.value) for r in IntelliVueHost().receive(stream, T)
             if isinstance(r, Reading)]
    host, parts, position = IntelliVueHost(), [], 0
    for cut in [*cuts, len(stream)]:
        parts += host.receive(stream[position:position + cut], T)
        position += cut
    assert [(r.param, r.value) for r in parts if isinstance(r, Reading)] == whole


# --- the fast paths, held to the plain ones ------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_the_fcs_in_c_is_the_rfc_1662_one(data: bytes, register: int) -> None:
    assert fcs_register(data, register) == fcs_register_reference(data, register)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([0x7D, 0xE0, 0xE1, 0x5D, 0x7E, 0x00]) | st.integers(0, 255),
                max_size=40))
def test_unescaping_by_replace_is_unescaping_byte_by_byte(body: list[int]) -> None:
    def outcome(unescape_with: Callable[[bytes], bytes]) -> bytes | str:
        try:
            return unescape_with(bytes(body))
        except FrameError as exc:
            return str(exc)

    assert outcome(unescape) == outcome(unescape_reference)


def test_faults_are_named_where_a_field_by_field_reader_names_them() -> None:
    # Expected values from the cursor-based decoder the struct-based one replaced.
    base = poll_reply(0, 1, 0, codes.ABS_TIME_UNSET, [(0, [
        (1, split_attributes(HR_60)), (2, [(0x0950, bytes(8)), (0x0924, b"ab")]),
        (3, [(0x094B, b"\x00\x01")])])])

    def fixed(body: bytes) -> bytes:   # the outer lengths made to fit the bytes
        out = bytearray(body)
        for at, past in ((6, 8), (12, 14), (22, 24)):
            out[at:at + 2] = (len(out) - past).to_bytes(2, "big")
        return bytes(out)

    def outcome(body: bytes) -> object:
        try:
            reply = decode_data_export(body)
        except MessageError as exc:
            return str(exc)
        assert isinstance(reply, PollReply)
        return list(reply.problems), [[v.raw_float for v in o.values] for o in reply.observations]

    def patched(old: str, new: str) -> bytes:
        return base.replace(hexbytes(old), hexbytes(new))

    assert outcome(base) == (["handle 2: a numeric value needs 10 bytes, not 8",
                              "handle 3: compound value without its count and length"],
                             [[60], [], []])
    assert outcome(fixed(base[:-3])) == (["message cut short at byte 54"], [])
    assert outcome(fixed(base[:40])) == "message cut short at byte 40"
    assert outcome(base[:4] + b"\x00\x09" + base[6:]) == "unknown remote operation type 9"
    assert outcome(fixed(base[:26])) == "message cut short at byte 26"
    # Inside an attribute list, counted from the list's start; the list is lost whole.
    assert outcome(patched("0950 0008", "0950 0009")) == (["message cut short at byte 17"],
                                                          [[60]])
    assert outcome(patched("094B 0002", "094B 0003")) == (
        ["handle 2: a numeric value needs 10 bytes, not 8", "message cut short at byte 4"],
        [[60], []])


def _replies() -> list[bytes]:
    """Poll replies as the emulator sends them (the cuff measured, so time-stamped),
    one extended, one as a linked result."""
    talk = converse(IntelliVueHost(), IntelliVueDevice(), session(), 200)
    found = [f for f in FrameDecoder().feed(bytes(talk.device_bytes))
             if isinstance(f, bytes) and f.startswith(b"\xe1\x00")
             and isinstance(decode_data_export(f), PollReply)]
    extended = poll_reply(7, 8, 9, codes.encode_abs_time(T), [(0, [
        (1, [numeric(codes.HR, codes.UNIT_PER_MIN, 61), (0x0991, b"\x00\x00\x01\x00"),
             (0x0950, bytes(12))]), (2, [])]), (1, [])], action_type=ACT_POLL_MDIB_DATA_EXT)
    linked = bytearray(found[0])
    linked[4:6], linked[8:8] = b"\x00\x05", b"\x01\x02"
    linked[6:8] = (len(linked) - 8).to_bytes(2, "big")
    return [found[0], found[-1], extended, bytes(linked)]


def test_a_template_reads_a_reply_exactly_as_the_general_way() -> None:
    hits = 0
    for reply in _replies():
        assert isinstance(decode_data_export(reply), PollReply)
        for position in range(len(reply)):
            for byte in {0x00, 0x01, 0xFF, reply[position] ^ 0x01, reply[position] ^ 0x80}:
                changed = reply[:position] + bytes((byte,)) + reply[position + 1:]
                decoder = MessageDecoder()
                assert decoder.decode(reply) == decode_data_export(reply)
                hits += decoder.match(changed) is not None
                try:
                    expected: object = decode_data_export(changed)
                except MessageError as exc:
                    expected = str(exc)
                try:
                    assert decoder.decode(changed) == expected
                except MessageError as exc:
                    assert str(exc) == expected
    assert hits > 1000   # the numbers changed: the template read them


def test_the_host_reads_by_template_as_it_reads_the_general_way(
        monkeypatch: pytest.MonkeyPatch) -> None:
    layouts = [[[numeric(codes.RR, codes.UNIT_RESP_PER_MIN, 14)],
                [numeric(codes.AWAY_RR, codes.UNIT_RESP_PER_MIN, 12, codes.STATE_DEMO)],
                [numeric(0x1234, 0x0AA0, 7)], [numeric(codes.ETCO2, codes.UNIT_KPA, 5.3, 0, 1)]],
               [split_attributes(HR_60), split_attributes(NIBP_UNAVAILABLE)]]
    odd = b"".join(reply_with(layouts[i // 3 % 2], T + i, i) for i in range(12))
    talk = converse(IntelliVueHost(), IntelliVueDevice({"demo": "1"}), session(2), 200)
    stream = odd + bytes(talk.device_bytes)

    def decoded(now: float | None) -> tuple[list, dict]:
        host = IntelliVueHost()
        items = [i for n in range(0, len(stream), 500)
                 for i in host.receive(stream[n:n + 500], None if now is None else now + n)]
        return items, host.stats.as_dict()

    fast = decoded(T), decoded(None)
    monkeypatch.setattr(MessageDecoder, "match", lambda self, user_data: None)
    assert (decoded(T), decoded(None)) == fast


# --- captures ---------------------------------------------------------------------------

def test_a_capture_of_the_monitor_side_alone_decodes_to_the_same_values() -> None:
    talk = converse(IntelliVueHost(), IntelliVueDevice(), session(), 200)
    live = [(r.time, r.param, r.value, r.status) for r in talk.decoded
            if isinstance(r, Reading)]
    assert any(p == "nibp_sys" and v is not None for _, p, v, _ in live)
    capture = IntelliVueHost()
    capture.capture_start = 0.0   # not needed: the replies carry the monitor's time
    decoded = capture.receive(bytes(talk.device_bytes), None)
    assert [(r.time, r.param, r.value, r.status) for r in decoded
            if isinstance(r, Reading)] == live
    assert not capture.stats.rejected


def test_a_capture_without_monitor_time_is_placed_by_the_poll_cadence() -> None:
    frames = b"".join(encode_frame(poll_reply(i, i + 1, 0, codes.ABS_TIME_UNSET, [
        (0, [(1, [numeric(codes.HR, codes.UNIT_PER_MIN, 70 + i)])])])) for i in range(3))
    host = IntelliVueHost(options={"poll": "2"})
    host.capture_start = T
    assert [(r.time, r.value) for r in host.receive(frames, None)
            if isinstance(r, Reading)] == [(T, 70), (T + 2, 71), (T + 4, 72)]


def test_an_old_cuff_result_is_dated_by_its_age_on_the_monitor() -> None:
    nibp = [0x4A05, 0x4A06, 0x4A07]
    entries = b"".join(NumericValue(code, 0, 0x0F20, codes.encode_float(v)).encode()
                       for code, v in zip(nibp, (120, 80, 93), strict=True))
    cuff = [(0x094B, len(nibp).to_bytes(2, "big") + len(entries).to_bytes(2, "big") + entries),
            (0x0990, codes.encode_abs_time(T + 3600 - 600))]
    host = IntelliVueHost()
    # The monitor's clock is an hour off ours: only the age (10 min) counts.
    items = host.receive(reply_with([cuff], T + 3600), T)
    assert {(r.param, r.value, r.time, r.received_at) for r in items
            if isinstance(r, Reading)} == {("nibp_sys", 120, T - 600, T),
                                           ("nibp_dia", 80, T - 600, T),
                                           ("nibp_mean", 93, T - 600, T)}
    assert not [r for r in host.receive(reply_with([cuff], T + 3601), T + 1)
                if isinstance(r, Reading)], "the same measurement came out twice"


# --- end to end over a real pty ---------------------------------------------------------

def test_over_a_real_pty_with_garbage_and_a_pulled_cable(tmp_path: Path) -> None:
    pulled: list[float] = []

    def pull() -> None:
        pulled.append(time.time())
        emulator.pull_cable(1.0)

    with emulated("intellivue", tmp_path, speed=20) as emulator:
        result = record_through(f"intellivue:{emulator.port}", tmp_path / "iv.db", 10, [
            (2.5, lambda: emulator.inject(b"\x00\xc0\x11\x01garbage\xc1noise")),
            (4.0, pull),
        ])
    hr = [v for v in result.values("hr") if v is not None]
    assert len(hr) >= 5 and all(40 <= v <= 140 for v in hr)
    assert result.values("nibp_sys"), "the cuff (unavailable until measured) was not read"
    kinds = [e.kind for e in result.events()]
    assert kinds[0] == DeviceEventKind.CONNECTED
    lost = kinds.index(DeviceEventKind.DISCONNECTED)
    assert DeviceEventKind.CONNECTED in kinds[lost:], "recording did not resume after replug"
    disconnected = result.events(DeviceEventKind.DISCONNECTED)[0]
    assert disconnected.time - pulled[0] <= 5.0, "the pulled cable was noticed too late"
    accepted = [e for e in result.events(DeviceEventKind.DEVICE_STATUS)
                if e.data.get("association") == "accepted"]
    assert len(accepted) >= 2 and accepted[-1].time > disconnected.time, "no re-association"
    resumed = [t for t in result.store.readings_table(result.session_id).time_ms.tolist()
               if t / 1000 > disconnected.time]
    assert resumed, "no readings after the cable came back"
    assert result.link_stats["rejected"]  # the garbage was counted
    assert result.link_stats["opens"] >= 2
