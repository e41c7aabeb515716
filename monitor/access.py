"""Who may do what: roles, their permissions, and when the dashboard needs sign-in.

Three roles, each including the one before it (a clinician may do all a
nurse may; an admin all a clinician may)::

    nurse      see the chairs; acknowledge, reset and pause alarm sound;
               annotate (observations, infusion start/rate/pause/stop);
               start and end a chair's session; capture the baseline
    clinician  also review and export sessions, change alarm limits and
               profiles, turn a parameter's alarms off, override the
               pre-treatment gate
    admin      also manage user accounts

Sign-in is required as soon as the store has a user account, and always when
the dashboard listens on anything but the loopback address (the server
refuses to start there without accounts). On 127.0.0.1 with no accounts the
dashboard is "open": whoever sits at the computer types a name that signs
their actions, as before.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Role(enum.IntEnum):
    NURSE = 1
    CLINICIAN = 2
    ADMIN = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}; roles: nurse, clinician, admin") from None


# The least role for each chair command (monitor/store/commands.py) and each
# other thing a screen can do.
NEEDS: dict[str, Role] = {
    "view": Role.NURSE,
    "acknowledge": Role.NURSE, "reset": Role.NURSE, "pause_audio": Role.NURSE,
    "observation": Role.NURSE, "start_infusion": Role.NURSE, "infusion_rate": Role.NURSE,
    "pause_infusion": Role.NURSE, "resume_infusion": Role.NURSE, "stop_infusion": Role.NURSE,
    "new_session": Role.NURSE, "end_session": Role.NURSE, "capture_baseline": Role.NURSE,
    "review": Role.CLINICIAN, "export": Role.CLINICIAN, "profile": Role.CLINICIAN,
    "set_limit": Role.CLINICIAN, "alarms_off": Role.CLINICIAN, "override_gate": Role.CLINICIAN,
    "users": Role.ADMIN,
}


@dataclass(frozen=True)
class Actor:
    """Someone acting on a screen: a signed-in user, or a typed name (open mode)."""

    name: str
    role: Role | None   # None: open mode, where roles are not checked

    def may(self, action: str, data: Mapping[str, Any] | None = None) -> bool:
        return refusal(self, action, data) is None


def refusal(actor: Actor, action: str, data: Mapping[str, Any] | None = None) -> str | None:
    """Why `actor` may not do `action` (None: allowed). Unknown actions need an admin."""
    if actor.role is None:
        return None
    need = NEEDS.get(action, Role.ADMIN)
    what = action.replace("_", " ")
    if action == "new_session" and data and data.get("profile"):
        need, what = max(need, NEEDS["profile"]), "choosing an alarm profile"
    if actor.role >= need:
        return None
    return f"{what} needs a {need} account; {actor.name} is signed in as {actor.role}"


def is_loopback(host: str) -> bool:
    """Whether `host` is an address only this computer can reach."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything
