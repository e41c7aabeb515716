"""emulate, record --raw-capture and import --protocol as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, cli


def test_emulate_record_capture_and_reimport(tmp_path: Path) -> None:
    emulator = subprocess.Popen(
        [sys.executable, "-m", "monitor", "emulate", "--protocol", "masimo", "--pty",
         "--scenario", "typical", "--seed", "4", "--speed", "10"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert emulator.stdout is not None
        pty = emulator.stdout.readline().strip()
        assert pty.startswith("/dev/pts/"), pty
        db, capture = tmp_path / "m.db", tmp_path / "masimo.raw"
        recorded = cli("record", "--device", f"masimo:{pty}", "--db", str(db), "--duration", "5",
                       "--raw-capture", str(capture))
        assert recorded.returncode == 0, recorded.stderr
        assert "frames ok" in recorded.stdout
    finally:
        emulator.terminate()
        emulator.wait(10)

    live = json.loads(cli("export", "1", "--db", str(db), "--format", "json").stdout)
    spo2 = [r["value"] for r in live["readings"] if r["param"] == "spo2"]
    assert len(spo2) >= 3 and all(90 <= v <= 100 for v in spo2)

    # The capture decodes through the same codec to the same readings at the same times.
    imported = cli("import", str(capture), "--protocol", "masimo", "--db", str(db))
    assert imported.returncode == 0, imported.stderr
    assert "0 rejected" in imported.stdout and "session 2:" in imported.stdout
    again = json.loads(cli("export", "2", "--db", str(db), "--format", "json").stdout)
    strip = [{k: r[k] for k in ("time", "param", "value", "status")} for r in live["readings"]]
    assert [{k: r[k] for k in ("time", "param", "value", "status")}
            for r in again["readings"]] == strip


def test_capture_and_emulator_mistakes_are_one_line(tmp_path: Path) -> None:
    missing = cli("import", str(tmp_path / "none.raw"), "--protocol", "masimo", "--db",
                  str(tmp_path / "x.db"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    wrong = cli("import", str(REPO / "sample_data" / "typical-session.csv"), "--protocol",
                "masimo", "--db", str(tmp_path / "x.db"))
    assert wrong.returncode == 2 and "no readings decoded as masimo" in wrong.stderr
    sim_capture = cli("record", "--device", "sim:?speed=max", "--db", str(tmp_path / "x.db"),
                      "--raw-capture", str(tmp_path / "c.raw"))
    assert sim_capture.returncode == 2 and "serial device" in sim_capture.stderr
    both = cli("emulate", "--protocol", "masimo")
    assert both.returncode == 2 and "--pty or --port" in both.stderr
