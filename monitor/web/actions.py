"""Sending an operator's command from a screen and telling them what became of it."""

from __future__ import annotations

import time
from typing import Any

from monitor.access import Actor, refusal
from monitor.store import Store
from monitor.store.commands import get, submit

# How long a click waits for the recorder's answer before saying "sent".
WAIT_S = 3.0


def send(store: Store, chair: str, session_id: int | None, actor: Actor | None, action: str,
         data: dict[str, Any] | None = None) -> tuple[bool, str]:
    """Submit a command and wait briefly for the recorder to apply it.

    `actor` is who clicked (see monitor.web.auth.acting); their role must
    allow `action` (a refusal is audited).

    Returns
    -------
    ok : bool
        False when refused (or not sent: nobody signed in).
    message : str
        What to show next to the button.
    """
    if actor is None:
        return False, "Sign in first (top right): every action is signed."
    why = refusal(actor, action, data)
    if why is not None:
        store.add_audit(session_id, time.time(), actor.name, "refused",
                        {"action": action, "chair": chair, "reason": why})
        return False, f"refused: {why}"
    try:
        command_id = submit(store, chair, session_id, actor.name, action, data)
    except ValueError as exc:
        return False, str(exc)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        command = get(store, command_id)
        if command is not None and command.status == "done":
            return True, f"{action.replace('_', ' ')}: done"
        if command is not None and command.status == "refused":
            return False, f"refused: {command.result}"
        time.sleep(0.1)
    return True, (f"{action.replace('_', ' ')}: sent; no recorder has taken it yet "
                  f"(is one running chair {chair}?)")
