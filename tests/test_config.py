"""The clinic's TOML settings: a good file runs; each mistake is one line naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import ConfigError, load_settings
from tests.conftest import REPO, cli, free_port, wait_for_port

GOOD = """
[store]
path = "{db}"

[acquisition]
silence_timeout = 15

[[chairs]]
name = "A"
device = "sim:?scenario=typical&seed=2"

[[chairs]]
name = "B"
device = "csv:{sample}?speed=60"
"""


def test_a_clinic_file_is_read_into_typed_settings(tmp_path: Path) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text(GOOD.format(db=tmp_path / "c.db", sample="x.csv"))
    settings = load_settings(path)
    assert settings.store.path == tmp_path / "c.db"
    assert settings.acquisition.silence_timeout == 15.0
    assert settings.server.port == 8050  # default
    assert [c.name for c in settings.chairs] == ["A", "B"]


@pytest.mark.parametrize(("text", "names"), [
    ("[stor]\npath = 'x'\n", "stor"),
    ("[store]\npaht = 'x'\n", "paht"),
    ("[server]\nport = 'eighty'\n", "[server].port"),
    ("[acquisition]\nsilence_timeout = -1\n", "silence_timeout"),
    ("[[chairs]]\nname = '1'\ndevice = 'nonsense'\n", "chairs[0].device"),
    ("[[chairs]]\nname = '1'\ndevice = 'sim:'\n[[chairs]]\nname = '1'\ndevice = 'sim:'\n",
     "chairs[1].name"),
    ("[[chairs]]\nname = '1'\n", "device"),
    ("[store\n", "not valid TOML"),
])
def test_each_mistake_is_one_line_naming_the_key(tmp_path: Path, text: str, names: str) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert names in message and "\n" not in message and str(path) in message


def test_run_starts_the_clinic_and_refuses_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[chairs]]\nname = '1'\ndevice = 'sim:?scenario=nope'\n")
    result = cli("run", "--config", str(bad))
    assert result.returncode == 2 and "nope" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    good = tmp_path / "clinic.toml"
    db = tmp_path / "clinic.db"
    good.write_text(GOOD.format(db=db, sample=REPO / "sample_data" / "typical-session.csv"))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(good),
                                "--port", str(port)], cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process)
    finally:
        process.terminate()
        process.wait(20)
    listing = cli("sessions", "--db", str(db))
    assert listing.returncode == 0
    kinds = sorted(line.split()[2] for line in listing.stdout.splitlines()[1:])
    assert kinds == ["replay", "simulated"]
