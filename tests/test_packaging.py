"""A non-editable install must carry assets/ and sample_data/ and the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_wheel_carries_assets_sample_data_and_the_console_script(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", str(REPO), "-w", str(tmp_path)],
                   check=True, capture_output=True, timeout=180)
    (wheel,) = tmp_path.glob("infusion_monitor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "monitor/assets/style.css" in names
    samples = {n for n in names if n.startswith("monitor/sample_data/") and n.endswith(".csv")}
    assert len(samples) >= 3
    assert "monitor/sample_data/README.md" in names
    assert "monitor/rules/profiles/ketamine-adult.toml" in names
    assert {"devices/simulator.py", "monitor/cli.py", "monitor/web/app.py"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "infusion-monitor = monitor.cli:entry" in zipfile.ZipFile(wheel).read(
        entry_points).decode()
