"""Regenerate the simulated sample sessions in this folder.

    python sample_data/make_samples.py

The simulator is seeded, so the files come out byte for byte the same each
time; a difference means the simulator's model changed.
"""

from __future__ import annotations

from pathlib import Path

from devices.csv_format import write_long_csv
from devices.simulator import generate_session
from devices.table import ReadingTable
from devices.vocabulary import Reading

START = 1_795_680_000.0  # 2026-11-26T08:00:00Z
SAMPLES = {  # file stem: (scenario, seed)
    "typical-session": ("typical", 1),
    "hypertensive-response-session": ("hypertensive-response", 2),
    "desaturation-session": ("desaturation", 3),
}


def main() -> None:
    folder = Path(__file__).resolve().parent
    for stem, (scenario, seed) in SAMPLES.items():
        # 10 min before, 40 min infusion, 50 min after: back to baseline.
        items = generate_session(scenario, seed, START, pre_min=10, infusion_min=40, post_min=50)
        table = ReadingTable.from_readings(i for i in items if isinstance(i, Reading))
        path = folder / f"{stem}.csv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            rows = write_long_csv(table, out)
        print(f"{path.name}: {rows} readings")


if __name__ == "__main__":
    main()
