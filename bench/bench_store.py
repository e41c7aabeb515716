"""Store throughput: batched inserts and reading back a whole 4-hour session.

Targets (issue 2): >= 50,000 readings/s inserted in batches; a 4-hour session
read back in < 0.3 s. Prints figures; asserts nothing.

    python bench/bench_store.py [--hours 4] [--params 8] [--batch 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from devices.vocabulary import PARAMETERS, Reading, SourceKind, Status
from monitor.store import Store

T0 = 1_795_000_000.0


def session_readings(hours: float, params: int) -> list[Reading]:
    names = list(PARAMETERS)[:params]
    units = [PARAMETERS[p].unit for p in names]
    return [Reading(T0 + s, p, 60.0 + (s % 40), u, Status.VALID, "sim")
            for s in range(int(hours * 3600)) for p, u in zip(names, units, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--params", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1000,
                        help="readings per transaction (a 12-chair clinic commits ~50 a beat)")
    args = parser.parse_args()

    readings = session_readings(args.hours, args.params)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        sid = store.create_session(chair="1", device="bench", started_at=T0,
                                   source_kind=SourceKind.SIMULATED)
        start = time.perf_counter()
        for i in range(0, len(readings), args.batch):
            store.add_readings(sid, readings[i:i + args.batch])
        insert_s = time.perf_counter() - start
        rate = len(readings) / insert_s
        print(f"insert: {len(readings):,} readings in batches of {args.batch} "
              f"({args.hours:g} h x {args.params} params at 1 Hz): {insert_s:.2f} s, "
              f"{rate:,.0f} readings/s  target >= 50,000/s: {'PASS' if rate >= 50_000 else 'FAIL'}")

        read_times = []
        for _ in range(5):
            start = time.perf_counter()
            table = store.readings_table(sid)
            read_times.append(time.perf_counter() - start)
        best = min(read_times)
        assert len(table) == len(readings)
        print(f"read back: {len(table):,} readings of a {args.hours:g} h session: best of 5 "
              f"{best:.3f} s (median {sorted(read_times)[2]:.3f} s)  target < 0.3 s: "
              f"{'PASS' if best < 0.3 else 'FAIL'}")
        store.close()
        print(f"store size: {(Path(tmp) / 'bench.db').stat().st_size / 1e6:.1f} MB "
              "(+ WAL)")


if __name__ == "__main__":
    main()
