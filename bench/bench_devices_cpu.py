"""CPU used to record 32 emulated devices at their real rate.

32 emulators (8 each of Masimo, Nonin DF2, IntelliVue, Datex) run in a child
process on pseudo-terminals at real time; this process records all 32 into
one SQLite store through the real adapters, rules and writer, as `run` would.
The CPU time of each process over a steady stretch is the figure.

Target (issue 4): < 20% of one core for the 32 devices. Prints figures.

    python bench/bench_devices_cpu.py [--seconds 30] [--devices 32]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROTOCOLS = [("masimo", {}), ("nonin", {"format": "2"}), ("intellivue", {}),
             ("datex", {})]


def spec(protocol: str, port: str) -> str:
    extra = {"nonin": "?format=2", "datex": "?interval=5"}.get(protocol, "")
    return f"{protocol}:{port}{extra}"


def play(folder: Path, count: int) -> None:
    """Child process: run `count` emulators until stdin closes."""
    from devices.emulator import Emulator

    emulators = []
    for i in range(count):
        protocol, options = PROTOCOLS[i % len(PROTOCOLS)]
        emulators.append(Emulator(protocol, seed=i + 1, options=options,
                                  link=folder / f"dev{i}").start())
    print("ready", flush=True)
    sys.stdin.read()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{usage.ru_utime + usage.ru_stime:.3f}", flush=True)
    for emulator in emulators:
        emulator.stop()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--devices", type=int, default=32)
    parser.add_argument("--play", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.play:
        play(args.play, args.devices)
        return

    from devices.registry import open_adapter
    from monitor.service import Recorder

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        child = subprocess.Popen([sys.executable, __file__, "--play", str(folder),
                                  "--devices", str(args.devices)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        recorder = Recorder(folder / "bench.db")
        workers = [recorder.add_chair(str(i), open_adapter(
            spec(PROTOCOLS[i % len(PROTOCOLS)][0], str(folder / f"dev{i}"))))
            for i in range(args.devices)]
        recorder.start()
        time.sleep(5)  # connections, associations, first records
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        readings0 = sum(w.stats.readings for w in workers)
        time.sleep(args.seconds)
        cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
        readings = sum(w.stats.readings for w in workers) - readings0
        recorder.stop()
        child.stdin.close()
        emulators_cpu = float(child.stdout.readline().strip())
        child.wait(10)
    share = cpu / wall * 100
    print(f"{args.devices} devices ({', '.join(p for p, _ in PROTOCOLS)}), real rate, "
          f"{wall:.0f} s: {readings:,} readings ({readings / wall:,.0f}/s)")
    print(f"  recording (adapters + rules + store): {cpu:.2f} s CPU = {share:.1f}% of one core"
          f"  target < 20%: {'PASS' if share < 20 else 'FAIL'}")
    print(f"  the emulators (child process, whole run incl. start-up): {emulators_cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
