"""Philips IntelliVue MIB/RS232 data export: this program's side of the dialogue.

115200 baud 8N1. The host associates (session byte 0x0D); the monitor
accepts (0x0E) or refuses (0x0C) and then announces itself with an MDS
create event, which the host answers; the host then polls the numerics
every ``poll`` seconds (default 1), which also keeps the association alive.
Released, aborted, refused or silent associations are re-opened, refusals
after a growing back-off. :meth:`IntelliVueHost.stop` sends a release.

Modules: :mod:`.intellivue_frame` (framing, escaping, FCS),
:mod:`.intellivue_session` (association), :mod:`.intellivue_messages`
(events and polls), :mod:`.intellivue_polls` (poll replies, and reading them
fast by template), :mod:`.intellivue_numerics` (names, units and readings),
:mod:`.intellivue_codes` (FLOAT, states, units, codes),
:mod:`.intellivue_device` (the monitor, for the emulator).

Readings: live ones are stamped with the receipt time, except episodic
values (NIBP), which are back-dated by their age on the monitor's own clock
(poll time stamp minus measurement time stamp), so an old cuff result is
never shown as new; their receipt time is kept in ``received_at``. A capture
imported without receipt times (``now=None``) needs only the monitor's side:
poll replies are decoded wherever they are, and placed by their absolute time
stamp (read in ``tz``, default UTC; U) or, without one, one poll period
apart from ``capture_start``.

Demo data: values keep their status; a ``device_status`` event
``{"demo_data": true}`` says so when it first appears (and ``false`` when it
stops), so the screen can say so.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from devices.link import HostLink
from devices.protocols.intellivue_codes import MessageError, decode_abs_time
from devices.protocols.intellivue_device import PORT, IntelliVueDevice
from devices.protocols.intellivue_frame import FrameDecoder, Rejected, encode_frame
from devices.protocols.intellivue_messages import (
    NOTI_MDS_CREATE,
    SESSION_PREFIX,
    EventReport,
    MessageDecoder,
    PollReply,
    RemoteError,
    event_result,
    poll_request,
)
from devices.protocols.intellivue_numerics import NumericsReader
from devices.protocols.intellivue_polls import ABS_TIME
from devices.protocols.intellivue_session import (
    ABORT,
    ACCEPT,
    DISCONNECT,
    FINISH,
    REFUSE,
    SESSION_KINDS,
    SessionError,
    association_request,
    parse_spdu,
    refuse_reason,
    release_request,
    release_response,
)
from devices.stream import StreamAdapter
from devices.vocabulary import DeviceEvent, DeviceEventKind, Item

#: Seconds to wait for an accept (or, once accepted, the MDS create) before asking again.
ANSWER_TIMEOUT_S = 5.0
#: Seconds after a release or abort before associating again.
REASSOCIATE_S = 1.0
#: Back-off after a refusal: first wait and cap, seconds (doubling in between).
REFUSED_FIRST_S, REFUSED_CAP_S = 2.0, 30.0


class Association(enum.Enum):
    IDLE = "idle"                  # not associated; associate at `retry_at`
    ASKING = "asking"              # request sent, waiting for accept/refuse
    AWAITING_MDS = "awaiting_mds"  # accepted, waiting for the MDS create event
    POLLING = "polling"
    STOPPED = "stopped"            # released by us: stay quiet


class IntelliVueHost(HostLink):
    """Associates with an IntelliVue monitor, polls its numerics, decodes the replies.

    Options: ``poll`` (seconds between polls, 1 to 10, default 1), ``tz``
    (zone of the monitor's clock, for captures without receipt times;
    default UTC).
    """

    protocol = "intellivue"
    port = PORT
    options = frozenset({"poll", "tz"})

    def __init__(self, source: str = "", options: Mapping[str, str] | None = None) -> None:
        super().__init__(source, options)
        options = options or {}
        try:
            self.poll_interval = float(options.get("poll", "1"))
        except ValueError:
            self.poll_interval = float("nan")
        if not 1.0 <= self.poll_interval <= 10.0:
            raise ValueError(f"poll={options.get('poll')!r}: give seconds from 1 to 10")
        zone = options.get("tz")
        try:
            self._zone = ZoneInfo(zone) if zone else ZoneInfo("UTC")
        except (KeyError, ValueError):
            raise ValueError(f"tz={zone!r} is not a time zone name") from None
        self._frames = FrameDecoder()
        self._decoder = MessageDecoder()
        self._numerics = NumericsReader(self.source, self._zone)
        self.state = Association.IDLE
        self._outbox = bytearray()
        self._retry_at = 0.0
        self._refusals = 0
        self._asked_at = 0.0
        self._last_reply_at = 0.0
        self._next_poll = 0.0
        self._polls = 0
        self._pending: list[Item] = []              # events found by due(), out with receive()
        self._errors: set[int] = set()
        self._capture_replies = 0
        self._capture_time: float | None = None

    # -- the dialogue ---------------------------------------------------------------

    def start(self, now: float) -> bytes:
        return self._ask(now)

    def _ask(self, now: float) -> bytes:
        self.state, self._asked_at = Association.ASKING, now
        return encode_frame(association_request(self.poll_interval))

    def due(self, now: float) -> bytes:
        out, self._outbox = bytes(self._outbox), bytearray()
        state = self.state
        waiting = state in (Association.ASKING, Association.AWAITING_MDS)
        if ((state is Association.IDLE and now >= self._retry_at)
                or (waiting and now - self._asked_at >= ANSWER_TIMEOUT_S)):
            out += self._ask(now)
        elif state is Association.POLLING:
            # The monitor drops an association it has not been polled on for
            # about 10 s; replies missing that long mean it is gone.
            silent = now - self._last_reply_at
            if silent >= max(ANSWER_TIMEOUT_S, 3 * self.poll_interval):
                self._pending.append(self._event(now, association="lost",
                                                  reason=f"no poll reply for {silent:.0f} s"))
                out += self._ask(now)
            elif now + 1e-6 >= self._next_poll:
                self._next_poll += self.poll_interval
                if self._next_poll <= now:
                    self._next_poll = now + self.poll_interval
                out += encode_frame(poll_request(self._polls & 0xFFFF,
                                                 (self._polls + 1) & 0xFFFF))
                self._polls += 1
        return out

    def stop(self, now: float) -> bytes:
        associated = self.state in (Association.AWAITING_MDS, Association.POLLING)
        self.state = Association.STOPPED
        return encode_frame(release_request()) if associated else b""

    # -- receiving ------------------------------------------------------------------

    def receive(self, data: bytes, now: float | None) -> list[Item]:
        items, self._pending = self._pending, []
        for frame in self._frames.feed(data):
            if isinstance(frame, Rejected):
                items += self._reject(frame.reason, now, frame.raw)
            else:
                items += self._message(frame, now)
        return self.count(items)

    def _time(self, now: float | None) -> float:
        if now is not None:
            return now
        return self._capture_time if self._capture_time is not None else self.capture_start

    def _event(self, t: float, kind: DeviceEventKind = DeviceEventKind.DEVICE_STATUS, /,
               **data: object) -> DeviceEvent:
        return DeviceEvent(t, kind, self.source, data)

    def _reject(self, kind: str, now: float | None, raw: bytes, detail: str = "") -> list[Item]:
        self.stats.rejected[kind] += 1
        if now is None:
            return []  # a capture being imported: counted, no time to place an event at
        return [self._event(now, DeviceEventKind.BAD_FRAME, kind=kind, reason=detail or kind,
                            bytes=raw[:40].hex(" "))]

    def _message(self, user_data: bytes, now: float | None) -> list[Item]:
        if user_data.startswith(SESSION_PREFIX):   # is_data_export(), without the call
            template = self._decoder.match(user_data)
            if template is not None:   # a poll reply laid out as before: the hot path
                self.stats.frames_ok += 1
                fields = template.fields(user_data)
                return self._numerics.from_template(
                    template, fields, self._reply_time(fields[ABS_TIME], now), now)
            try:
                message = self._decoder.decode(user_data)
            except MessageError as exc:
                return self._reject("unreadable message", now, user_data, str(exc))
            self.stats.frames_ok += 1
            if isinstance(message, PollReply):
                return self._poll_reply(message, now)
            if isinstance(message, EventReport):
                return self._event_report(message, now)
            if isinstance(message, RemoteError) and message.error_value not in self._errors:
                # Once per kind of error: a monitor refusing every poll would say it each second.
                self._errors.add(message.error_value)
                return [self._event(self._time(now), remote_error=message.error_value,
                                    invoke_id=message.invoke_id)]
            return []
        if user_data[:1] and user_data[0] in SESSION_KINDS:
            try:
                spdu = parse_spdu(user_data)
            except SessionError as exc:
                return self._reject("unreadable session message", now, user_data, str(exc))
            self.stats.frames_ok += 1
            return self._session(spdu.kind, refuse_reason(spdu), now)
        return self._reject("unknown message", now, user_data)

    def _session(self, kind: int, reason: str, now: float | None) -> list[Item]:
        t = self._time(now)
        live = now is not None and self.state is not Association.STOPPED
        if kind == ACCEPT:
            if live:
                self.state, self._asked_at, self._refusals = Association.AWAITING_MDS, t, 0
            return [self._event(t, association="accepted")]
        if kind == REFUSE:
            wait = min(REFUSED_CAP_S, REFUSED_FIRST_S * 2 ** min(self._refusals, 8))
            if live:
                self._refusals += 1
                self.state, self._retry_at = Association.IDLE, t + wait
            return [self._event(t, association="refused", reason=reason, retry_in_s=wait)]
        if kind in (FINISH, DISCONNECT, ABORT):
            if kind == FINISH and now is not None:
                self._outbox += encode_frame(release_response())
            if live:
                self.state, self._retry_at = Association.IDLE, t + REASSOCIATE_S
            what = {FINISH: "released by the monitor", DISCONNECT: "released",
                    ABORT: "aborted"}[kind]
            return [self._event(t, association=what)]
        return []

    def _event_report(self, report: EventReport, now: float | None) -> list[Item]:
        if now is None or self.state is Association.STOPPED:
            return []
        if report.confirmed:
            self._outbox += encode_frame(event_result(report.invoke_id, report.event_type,
                                                      report.managed_object))
        if report.event_type == NOTI_MDS_CREATE:
            self.state = Association.POLLING
            self._next_poll = self._last_reply_at = now
        return []

    # -- numerics (read by intellivue_numerics) ----------------------------------------

    def _reply_time(self, abs_raw: bytes, now: float | None) -> float:
        if now is not None:
            self._last_reply_at = now
            return now
        stamp = decode_abs_time(abs_raw, self._zone)
        t = (stamp.timestamp() if stamp is not None
             else self.capture_start + self._capture_replies * self.poll_interval)
        self._capture_replies += 1
        self._capture_time = t
        return t

    def _poll_reply(self, reply: PollReply, now: float | None) -> list[Item]:
        t = self._reply_time(reply.abs_time_raw, now)
        items: list[Item] = []
        if reply.problems:
            items += self._reject("malformed poll reply", now, b"", "; ".join(reply.problems))
        return items + self._numerics.from_reply(reply, t, now)


class IntelliVueAdapter(StreamAdapter):
    """``intellivue:/dev/ttyUSB0`` or ``intellivue:socket://10.1.2.3:4001``"""

    link_class = IntelliVueHost


__all__ = ["IntelliVueAdapter", "IntelliVueDevice", "IntelliVueHost"]
