"""Reading what a browser sends back, trusting none of it.

Component values and stored page state come back in every callback request,
and anyone can send any JSON. These readers turn a value of the wrong type
or range into a safe default (a fresh picture, no filter, "no such session")
instead of an exception; a callback that gets None back does nothing.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

# The largest id SQLite can hold.
MAX_ID = 2**63 - 1


def count(value: Any) -> int:
    """A row id or count the browser was given back: 0 unless an int in 0..MAX_ID."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return min(max(value, 0), MAX_ID)


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def number(value: Any, low: float = -math.inf, high: float = math.inf) -> float | None:
    """A finite number within [low, high], else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and low <= value <= high else None


def session_id(value: Any) -> int | None:
    """A session id as a page stored it (an int in 1..MAX_ID), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) \
        and 1 <= value <= MAX_ID else None


def chair_ref(value: Any) -> dict[str, Any] | None:
    """The chair page's {chair, session, ...} record, if it has that shape."""
    if not isinstance(value, dict) or not isinstance(value.get("chair"), str):
        return None
    if value.get("session") is not None and session_id(value.get("session")) is None:
        return None
    return value


def iso_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
