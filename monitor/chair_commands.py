"""Applying operators' commands to a chair, in the thread that records it.

Screens write commands into the store (monitor.store.commands); the chair's
worker polls for them a few times a second and applies each to its rules
engine and its session: acknowledge, audio pause, start the infusion, log an
observation, begin the next patient's session. Each is marked done, or
refused with a reason the screen shows; each is signed by its user in the
audit log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from devices.vocabulary import DeviceEvent, DeviceEventKind
from monitor.rules import AuditEntry, IllegalTransition, Output, RulesEngine, load_profile
from monitor.rules.profile import Profile, ProfileError
from monitor.store import Store, StoreError, StoreWriter
from monitor.store.commands import Command, pending

log = logging.getLogger(__name__)

POLL_EVERY_S = 0.25  # wall seconds between looks at the commands table

# Commands that become session events (and reach the rules as such).
EVENT_ACTIONS: dict[str, DeviceEventKind] = {
    "start_infusion": DeviceEventKind.INFUSION_START,
    "stop_infusion": DeviceEventKind.INFUSION_STOP,
    "pause_infusion": DeviceEventKind.INFUSION_PAUSE,
    "resume_infusion": DeviceEventKind.INFUSION_RESUME,
    "infusion_rate": DeviceEventKind.INFUSION_RATE,
    "observation": DeviceEventKind.OBSERVATION,
}


class Refused(Exception):
    """A command that cannot be applied; the message is for the operator."""


@dataclass(frozen=True)
class SessionRequest:
    """End the current session, and (for new_session) start the next patient's."""

    user: str
    new: bool
    patient_ref: str | None = None
    weight_kg: float | None = None
    profile: Profile | None = None


class CommandDesk:
    """One chair's commands: polled from the store, applied, answered."""

    def __init__(self, chair: str, writer: StoreWriter) -> None:
        self.chair = chair
        self.writer = writer
        self._store: Store | None = None
        self._applied: set[int] = set()
        self._next_poll = 0.0

    def poll(self, session_id: int, engine: object, now: float,
             deliver: Callable[[list[DeviceEvent]], None]) -> SessionRequest | None:
        """Apply what is pending for this chair; a session change is returned, not applied."""
        wall = time.monotonic()
        if wall < self._next_poll:
            return None
        self._next_poll = wall + POLL_EVERY_S
        try:
            if self._store is None:
                self._store = Store(self.writer.path)  # this thread's own reader
            commands = [c for c in pending(self._store, self.chair) if c.id not in self._applied]
        except StoreError as exc:
            log.error("chair %s: cannot read commands: %s", self.chair, exc)
            return None
        for command in commands:
            # Marked done through the writer; until that commits, remember it here.
            self._applied.add(command.id)
            try:
                request = self._apply(command, session_id, engine, now, deliver)
            except Refused as exc:
                self.writer.finish_command(command.id, refused=str(exc))
                continue
            self.writer.finish_command(command.id)
            if request is not None:
                return request
        return None

    def _apply(self, command: Command, session_id: int, engine: object, now: float,
               deliver: Callable[[list[DeviceEvent]], None]) -> SessionRequest | None:
        data, user, action = command.data, command.user, command.action
        if action in ("new_session", "end_session"):
            return self._session_request(command)
        if command.session_id is not None and command.session_id != session_id:
            raise Refused(f"chair {self.chair} has started another session since; "
                          "look again before acting")
        if action in EVENT_ACTIONS:
            kind = EVENT_ACTIONS[action]
            deliver([DeviceEvent(now, kind, "nurse", {**data, "user": user})])
            self.writer.add_outputs(session_id, [AuditEntry(now, user, action, dict(data))])
            return None
        if not isinstance(engine, RulesEngine):
            raise Refused("no alarm rules run for this chair")
        self.writer.add_outputs(session_id, self._engine_call(engine, command, now))
        if action == "set_limit":
            # Screens draw the limits in force from the session record.
            self.writer.set_profile(session_id, engine.profile.name, dict(engine.profile.raw))
        return None

    def _engine_call(self, engine: RulesEngine, command: Command, now: float) -> list[Output]:
        data, user = command.data, command.user
        try:
            match command.action:
                case "acknowledge":
                    return engine.acknowledge(int(data["alarm"]), user, now)
                case "reset":
                    return engine.reset(int(data["alarm"]), user, now)
                case "pause_audio":
                    seconds = data.get("seconds")
                    return engine.pause_audio(user, now, None if seconds is None
                                              else float(seconds))
                case "alarms_off":
                    return engine.set_alarms_off(str(data["param"]), bool(data["off"]), user,
                                                 now)
                case "set_limit":
                    return engine.set_limit(str(data["param"]), str(data["side"]),
                                            str(data["priority"]), float(data["value"]),
                                            user, now)
                case "capture_baseline":
                    return engine.capture_baseline(now, user)
                case "override_gate":
                    return engine.override_gate(user, str(data.get("reason", "")), now)
        except (IllegalTransition, ValueError, KeyError, TypeError) as exc:
            raise Refused(_reason(exc)) from None
        raise Refused(f"unknown action {command.action!r}")

    def _session_request(self, command: Command) -> SessionRequest:
        data = command.data
        profile = None
        if data.get("profile"):
            try:
                profile = load_profile(str(data["profile"]))
            except ProfileError as exc:
                raise Refused(str(exc)) from None
        weight = data.get("weight_kg")
        try:
            weight_kg = None if weight in (None, "") else float(weight)
        except (TypeError, ValueError):
            raise Refused(f"weight {weight!r} is not a number of kilograms") from None
        if weight_kg is not None and not 2 <= weight_kg <= 400:
            raise Refused(f"weight {weight_kg:g} kg is not plausible")
        return SessionRequest(command.user, command.action == "new_session",
                              str(data.get("patient_ref") or "") or None, weight_kg, profile)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]!r}"
    return str(exc)

