"""Re-running the rules over a recorded or simulated session.

Acquisition hands the engine what arrived in each read together with the
source clock's time, about once a second; :func:`rerun` does the same over a
recording, so the alarms of a replay are the alarms the live session raised
(and a session can be re-evaluated under another profile).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from devices.vocabulary import Item
from monitor.rules.alarms import Output
from monitor.rules.engine import RulesEngine
from monitor.rules.profile import Profile


def rerun(items: Iterable[Item], profile: Profile, *, start: float | None = None,
          end: float | None = None, tick_s: float = 1.0,
          baseline: Mapping[str, float] | None = None) -> tuple[RulesEngine, list[Output]]:
    """Feed time-ordered `items` to a new engine one `tick_s` at a time.

    Parameters
    ----------
    start, end : float, optional
        Session start and end (s since epoch); default the first and last item.
    tick_s : float
        Seconds of session time per call, as acquisition's reads.

    Returns
    -------
    engine : RulesEngine
        In its state at `end` (baseline, discharge checklist, current alarms).
    outputs : list
        Every alarm change, audit and log entry, in order.
    """
    ordered = list(items)
    engine = RulesEngine(profile, baseline=baseline)
    if not ordered:
        return engine, []
    t = ordered[0].time if start is None else start
    stop = ordered[-1].time if end is None else end
    outputs: list[Output] = []
    i = 0
    while True:
        batch = []
        while i < len(ordered) and ordered[i].time <= t:
            batch.append(ordered[i])
            i += 1
        outputs += engine.process(batch, t)
        if t >= stop and i >= len(ordered):
            return engine, outputs
        t = min(t + tick_s, stop) if t < stop else t + tick_s
