"""Long fuzzing of every decoder: device protocols and the CSV reader.

CI runs each decoder's hypothesis tests with a fixed example budget; this runs
for as long as you like. Each round takes a valid stream (a simulated
conversation's device bytes, or a real capture, or a CSV file), mutates it
(bit flips, insertions, deletions, duplicated and swapped chunks, random
garbage) and feeds it in random-sized pieces. Any exception is a failure and
is printed with a reproducer file. Prints counts; exits 1 on a failure.

    python bench/fuzz_decoders.py [--seconds 60] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_decode import PROTOCOLS, capture

from devices.csv_format import RecordingError, read_recording
from devices.link import HostLink

REAL_CAPTURES = {"datex interval=1": Path(__file__).resolve().parents[1] / "tests" / "data"
                 / "ge-datex-s5-capture.raw"}
SAMPLE_CSV = Path(__file__).resolve().parents[1] / "sample_data" / "typical-session.csv"


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        if not out:
            out += rng.randbytes(rng.randint(1, 64))
            continue
        at = rng.randrange(len(out))
        choice = rng.random()
        if choice < 0.3:
            out[at] ^= 1 << rng.randrange(8)
        elif choice < 0.5:
            out[at:at] = rng.randbytes(rng.randint(1, 40))
        elif choice < 0.65:
            del out[at:at + rng.randint(1, 40)]
        elif choice < 0.8:
            piece = out[at:at + rng.randint(1, 200)]
            out[rng.randrange(len(out)):0] = piece
        elif choice < 0.9:
            out[at] = rng.choice(b"\x00\x01\x7e\x7d\xc0\xc1\xff\r\n,=")
        else:
            out[at:at + 1] = bytes([rng.randrange(256)]) * rng.randint(1, 100)
    return bytes(out)


def feed(make_host: Callable[[], HostLink], data: bytes, rng: random.Random) -> None:
    host = make_host()
    host.capture_start = 1_795_680_000.0
    now: float | None = None if rng.random() < 0.3 else 1_795_680_000.0
    position = 0
    while position < len(data):
        size = rng.choice((1, 2, 3, 7, 64, 4096))
        host.receive(data[position:position + size], now)
        host.due(now or 0.0)
        position += size
        if now is not None:
            now += rng.random()


def fuzz_protocols(seconds: float, rng: random.Random, folder: Path) -> int:
    failures = 0
    for name, (make_host, make_device) in PROTOCOLS.items():
        seeds = [capture(make_host(), make_device(), 5)]
        if name in REAL_CAPTURES:
            seeds.append(REAL_CAPTURES[name].read_bytes())
        rounds, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            data = mutate(rng.choice(seeds)[:20000], rng) if rng.random() < 0.9 \
                else rng.randbytes(rng.randint(0, 5000))
            rounds += 1
            try:
                feed(make_host, data, rng)
            except Exception:
                failures += 1
                path = folder / f"{name.replace(' ', '_')}-{rounds}.bin"
                path.write_bytes(data)
                print(f"FAIL {name}: {path}\n{traceback.format_exc()}")
        print(f"{name:>17}: {rounds:,} mutated streams, {failures} failures so far")
    return failures


def fuzz_csv(seconds: float, rng: random.Random, folder: Path) -> int:
    seed = SAMPLE_CSV.read_bytes()[:30000]
    failures = rounds = rejected_files = 0
    deadline = time.monotonic() + seconds
    path = folder / "fuzz.csv"
    while time.monotonic() < deadline:
        data = mutate(seed, rng)
        path.write_bytes(data)
        rounds += 1
        try:
            read_recording(path)
        except RecordingError:
            rejected_files += 1  # a file-level error with its one-line message: correct
        except Exception:
            failures += 1
            keep = folder / f"csv-{rounds}.csv"
            keep.write_bytes(data)
            print(f"FAIL csv: {keep}\n{traceback.format_exc()}")
    print(f"{'csv reader':>17}: {rounds:,} mutated files ({rejected_files:,} refused as a "
          f"whole, with a message), {failures} failures")
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per decoder")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    failures = fuzz_protocols(args.seconds, rng, folder) + fuzz_csv(args.seconds, rng, folder)
    print(f"total failures: {failures} (reproducers, if any, in {folder})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
