"""Rules engine throughput on one core, and its cost per chair.

Target (issue 3): >= 200,000 readings evaluated per second on one core.
Also: the cost of one chair at 1 Hz x 10 parameters (CPU per second of
session). Prints figures; asserts nothing.

    python bench/bench_rules.py
"""

from __future__ import annotations

import time

from devices.simulator import generate_session
from devices.vocabulary import PARAMETERS, Reading, Status
from monitor.rules import RulesEngine, load_profile
from monitor.rules.replay import rerun

T0 = 1_795_680_000.0
TARGET = 200_000


def best(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    profile = load_profile()
    for scenario in ("typical", "hypertensive-response", "motion-artifact"):
        items = generate_session(scenario, 1, T0)
        n = sum(1 for i in items if isinstance(i, Reading))
        # As acquisition calls it: what arrived in each second, plus the time.
        seconds = best(3, lambda items=items: rerun(items, profile, tick_s=1.0))
        print(f"{scenario:>22}: {n:,} readings, 1 s batches: {n / seconds:,.0f} readings/s "
              f"({seconds * 1000:.0f} ms)  target >= {TARGET:,}/s: "
              f"{'PASS' if n / seconds >= TARGET else 'FAIL'}")

    # One chair at 1 Hz x 10 parameters for an hour of session, a call a second.
    params = list(PARAMETERS)
    middle = {p: sum(PARAMETERS[p].plausible) / 2 for p in params}
    hour = [[Reading(T0 + s, p, middle[p], PARAMETERS[p].unit, Status.VALID, "bench")
             for p in params] for s in range(3600)]

    def one_chair_hour() -> None:
        engine = RulesEngine(profile)
        for s, batch in enumerate(hour):
            engine.process(batch, T0 + s)

    seconds = best(3, one_chair_hour)
    per_second_us = seconds / 3600 * 1e6
    print(f"one chair, 1 Hz x {len(params)} params: {per_second_us:.0f} µs of CPU per second "
          f"of session ({per_second_us / 1e4:.3f}% of a core); 32 chairs: "
          f"{32 * per_second_us / 1e4:.2f}% of a core")


if __name__ == "__main__":
    main()
