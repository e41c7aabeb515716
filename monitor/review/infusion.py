"""The infusion from the session's events: when it ran, and how much was given.

Infusion events (``infusion_start``, ``infusion_pause``, ``infusion_resume``,
``infusion_rate``, ``infusion_stop``) come from the nurse at the chair, from
an import, or from the simulator, which plays the nurse. Their ``data`` is
whatever was entered; numbers are taken only where they are numbers, and a
dose that cannot be worked out is reported as unknown, never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Protocol

#: Relative difference (fraction) above which two ways of getting the dose disagree.
DOSE_DISAGREEMENT = 0.02


class EventLike(Protocol):
    """What the review needs of a session event (:class:`monitor.store.EventRecord`)."""

    @property
    def time(self) -> float: ...

    @property
    def kind(self) -> str: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Infusion:
    """When the infusion ran.

    Attributes
    ----------
    start, stop : float or None
        First ``infusion_start``; the ``infusion_stop`` that ended it (s since
        epoch). `stop` is None when no stop was recorded.
    pauses : tuple of (float, float)
        Paused intervals (s since epoch), including the time between a stop and
        a later restart.
    running : tuple of (float, float)
        Intervals the infusion ran (to the end of the record if never stopped).
    duration_s : float or None
        Start to stop minus pauses, s; None without a stop.
    planned_min : float or None
        ``duration_min`` given with the start, minutes.
    notes : tuple of str
    """

    start: float | None
    stop: float | None
    pauses: tuple[tuple[float, float], ...]
    running: tuple[tuple[float, float], ...]
    duration_s: float | None
    planned_min: float | None
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Dose:
    """The total dose and how it was obtained.

    Attributes
    ----------
    mg : float or None
        Total dose in mg; None when it cannot be worked out.
    mg_per_kg : float or None
        As stated with the start, or mg / session weight.
    method : str
        What `mg` was computed from, or why it is unknown.
    notes : tuple of str
        Cross-checks and caveats (disagreeing sources, an early stop).
    """

    mg: float | None
    mg_per_kg: float | None
    method: str
    notes: tuple[str, ...]


def number(value: object) -> float | None:
    """A finite, non-negative number from event data (numbers or numeric text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def infusion_of(events: Sequence[EventLike], end: float) -> Infusion:
    """The infusion's start, stop, pauses and duration from time-ordered events.

    Rules: the first ``infusion_start`` starts it; a pause lasts until the next
    resume (or the stop); the first stop after the start ends it; a start after
    a stop restarts it, the time stopped counting as a pause and the later stop
    ending it. Events that make no sense in the state they arrive in (a resume
    while running, a stop before any start) are ignored and noted.
    """
    start: float | None = None
    stop: float | None = None
    planned = None
    paused_since: float | None = None
    pauses: list[tuple[float, float]] = []
    notes: list[str] = []
    for event in events:
        kind, t = event.kind, event.time
        if not kind.startswith("infusion_") or kind == "infusion_rate":
            continue
        if start is None:
            if kind == "infusion_start":
                start, planned = t, number(event.data.get("duration_min"))
            else:
                notes.append(f"{kind} before any infusion_start ignored")
        elif kind == "infusion_start" and stop is not None:
            pauses.append((stop, t))
            stop = None
            notes.append("restarted after a stop: the time stopped is counted as a pause")
        elif kind == "infusion_start" and paused_since is not None:
            pauses.append((paused_since, t))
            paused_since = None
        elif kind == "infusion_pause" and paused_since is None and stop is None:
            paused_since = t
        elif kind == "infusion_resume" and paused_since is not None:
            pauses.append((paused_since, t))
            paused_since = None
        elif kind == "infusion_stop" and stop is None:
            stop = t
            if paused_since is not None:
                pauses.append((paused_since, t))
                paused_since = None
        else:
            notes.append(f"{kind} ignored: it does not fit the infusion's state then")
    if start is None:
        return Infusion(None, None, (), (), None, None, ("no infusion_start recorded",))
    if paused_since is not None:
        pauses.append((paused_since, max(paused_since, end)))
    running = _subtract((start, stop if stop is not None else max(start, end)), pauses)
    duration = None
    if stop is None:
        so_far = sum(b - a for a, b in running) / 60
        notes.append(f"no infusion_stop recorded: running at the end of the record "
                     f"({so_far:.0f} min so far)")
    else:
        duration = sum(b - a for a, b in running)
    return Infusion(start, stop, tuple(pauses), running, duration, planned, tuple(notes))


def _subtract(span: tuple[float, float],
              holes: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """`span` minus the (sorted, disjoint) `holes`."""
    pieces, cursor = [], span[0]
    for a, b in sorted(holes):
        if a > cursor:
            pieces.append((cursor, min(a, span[1])))
        cursor = max(cursor, b)
    if cursor < span[1]:
        pieces.append((cursor, span[1]))
    return tuple((a, b) for a, b in pieces if b > a)


def rate_dose(events: Sequence[EventLike], infusion: Infusion) -> float | None:
    """mg from ``rate_mg_per_h`` (on the start and rate changes) × running time.

    None unless the infusion stopped and a rate was known for all of its running
    time (a rate entered only later does not reach back).
    """
    if infusion.start is None or infusion.stop is None:
        return None
    changes = [(e.time, number(e.data.get("rate_mg_per_h"))) for e in events
               if e.kind in ("infusion_start", "infusion_rate") and e.time >= infusion.start]
    changes = [(t, r) for t, r in changes if r is not None]
    if not changes or changes[0][0] > infusion.start:
        return None
    total = 0.0
    for a, b in infusion.running:
        cuts = sorted({a, b, *(t for t, _ in changes if a < t < b)})
        for lo, hi in pairwise(cuts):
            rate = [r for t, r in changes if t <= lo][-1]
            total += rate * (hi - lo) / 3600
    return total


def dose_of(events: Sequence[EventLike], infusion: Infusion,
            weight_kg: float | None) -> Dose:
    """The total dose, from the first source that gives one, in this order.

    1. ``dose_mg_per_kg`` on the infusion start × the session's weight.
    2. ``dose_mg`` on the infusion start (else on the stop).
    3. ``rate_mg_per_h`` × running time (:func:`rate_dose`).
    4. Unknown.

    The other sources, where present, are cross-checked and any disagreement
    (more than :data:`DOSE_DISAGREEMENT`) is noted; so is an infusion that ran
    a different time than the ``duration_min`` it was started with, because a
    stated dose is the prescribed amount, not a measured one.
    """
    start = next((e for e in events if e.kind == "infusion_start"), None)
    stop = next((e for e in events if e.kind == "infusion_stop" and infusion.stop is not None
                 and e.time == infusion.stop), None)
    start_data = start.data if start is not None else {}
    per_kg = number(start_data.get("dose_mg_per_kg"))
    weight = number(weight_kg)
    weight = weight if weight else None
    stated, stated_where = number(start_data.get("dose_mg")), "infusion start"
    if stated is None and stop is not None:
        stated, stated_where = number(stop.data.get("dose_mg")), "infusion stop"
    by_rate = rate_dose(events, infusion)
    sources: list[tuple[float, str]] = []
    if per_kg is not None and weight is not None:
        sources.append((per_kg * weight, f"{per_kg:g} mg/kg (infusion start) × {weight:g} kg "
                                         "(session weight)"))
    if stated is not None:
        sources.append((stated, f"dose_mg recorded with the {stated_where}"))
    if by_rate is not None:
        sources.append((by_rate, "rate_mg_per_h × running time (pauses excluded)"))
    notes: list[str] = []
    if per_kg is not None and weight is None:
        notes.append(f"dose stated as {per_kg:g} mg/kg, but no weight is recorded for the "
                     "session, so no mg figure is derived from it")
    if not sources:
        return Dose(None, per_kg, "unknown: no dose_mg_per_kg with a session weight, no "
                    "dose_mg, and no rate covering the whole infusion", tuple(notes))
    mg, method = sources[0]
    for other, how in sources[1:]:
        if abs(other - mg) > DOSE_DISAGREEMENT * max(mg, other):
            notes.append(f"{how} gives {other:.1f} mg, not {mg:.1f} mg")
    if infusion.planned_min is not None and infusion.duration_s is not None \
            and abs(infusion.duration_s / 60 - infusion.planned_min) >= 1:
        notes.append(f"started as a {infusion.planned_min:g} min infusion but ran "
                     f"{infusion.duration_s / 60:.0f} min: the dose delivered may differ "
                     "from the dose stated")
    if per_kg is None and weight is not None:
        per_kg = mg / weight
    return Dose(round(mg, 2), per_kg, method, tuple(notes))
