"""The nurse's screen in headless Chromium: alarms, their colour and sound,
acknowledge, audio pause, a disconnected chair, and two servers agreeing."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devices.emulator import Emulator
from tests.conftest import REPO, free_port, until, wait_for_port

pytestmark = pytest.mark.browser


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stop(*processes: subprocess.Popen[str] | None) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(20)



def sign_in(page: Any, name: str) -> None:
    page.fill("#user-name", name)
    page.press("#user-name", "Enter")
    # Kept in this browser's storage once the server has taken it: only then
    # are actions signed with it.
    page.wait_for_function(f"() => JSON.parse(localStorage.getItem('user')) === {name!r}",
                           timeout=15_000)


@pytest.fixture
def hypertensive_demo(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    demo = start("demo", "--chairs", "1", "--scenario", "hypertensive-response",
                 "--speed", "10", "--port", str(port), "--data-dir", str(tmp_path))
    try:
        wait_for_port(port, demo)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(demo)


def test_high_alarm_colour_sound_acknowledge_and_pause(browser: Any,
                                                      hypertensive_demo: str) -> None:
    page = browser.new_page()
    page.goto(hypertensive_demo)
    tile = page.locator('[data-testid="chair-1"]')
    tile.wait_for(timeout=30_000)
    until(lambda: tile.get_attribute("data-alarm-priority") == "high", 60, "a high alarm")
    # Red, and said in words: colour is never the only cue.
    assert tile.evaluate("t => getComputedStyle(t).borderTopColor") == "rgb(255, 26, 26)"
    assert "HIGH" in page.locator('[data-testid="alarms-1"]').inner_text()
    assert page.evaluate("window.infusionSound.current") == "high"
    assert "flash" in (tile.get_attribute("class") or "")

    page.goto(f"{hypertensive_demo}/chair/1")
    sign_in(page, "nurse.kim")
    high = page.locator('[data-testid^="alarm-control-1-"].alarm-high').first
    high.wait_for(timeout=30_000)
    high.get_by_text("Acknowledge").click()
    feedback = page.locator('[data-testid="feedback"]')
    until(lambda: "acknowledge: done" in feedback.inner_text(), 15, "the acknowledgement")
    # The sound for it stops; the visual stays.
    until(lambda: page.evaluate("window.infusionSound.current") != "high", 10,
          "the high sound to stop")
    tile = page.locator('[data-testid="chair-1"]')
    assert tile.get_attribute("data-alarm-priority") == "high"
    until(lambda: "acknowledged" in page.locator('[data-testid="alarm-panel"], #alarm-panel')
          .first.inner_text(), 10, "the alarm shown as acknowledged")

    page.get_by_test_id("pause-audio").click()
    countdown = page.get_by_test_id("pause-countdown")
    text = until(lambda: countdown.inner_text(), 15, "the countdown")
    assert text.startswith("Sound paused: 1:") or text.startswith("Sound paused: 2:")
    banner = page.get_by_test_id("safety-banner")
    until(lambda: "sound paused" in banner.inner_text(), 10, "the safety banner")
    assert page.evaluate("window.infusionSound.current") is None
    page.close()


def test_a_pulled_cable_shows_disconnected(browser: Any, tmp_path: Path) -> None:
    db = tmp_path / "clinic.db"
    emulator = Emulator("masimo", link=tmp_path / "tty").start()
    recorder = start("record", "--device", f"masimo:{emulator.port}", "--db", str(db),
                     "--chair", "3")
    port = free_port()
    server = None
    try:
        until(db.exists, 30, "the store")
        server = start("serve", "--db", str(db), "--port", str(port))
        wait_for_port(port, server)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        value = page.locator('[data-testid="value-3-spo2"]')
        until(lambda: value.inner_text().isdigit(), 30, "an SpO2 value")
        pulled = time.monotonic()
        emulator.pull_cable(60)
        state = page.get_by_test_id("state-3")
        until(lambda: state.inner_text() == "DISCONNECTED", 15, "DISCONNECTED")
        assert time.monotonic() - pulled < 5 + 1.5  # noticed within 5 s, drawn within a tick
        assert value.inner_text() == "---"  # the last value is not shown as current
        page.close()
    finally:
        stop(recorder, server)
        emulator.stop()


def test_two_server_processes_show_the_same_state(browser: Any, tmp_path: Path) -> None:
    db = tmp_path / "clinic.db"
    recorder = start("record", "--device",
                     "sim:?scenario=hypertensive-response&seed=2&speed=10&elapsed=45",
                     "--db", str(db), "--chair", "7")
    ports = [free_port(), free_port()]
    servers: list[subprocess.Popen[str]] = []
    try:
        until(db.exists, 30, "the store")
        servers = [start("serve", "--db", str(db), "--port", str(p)) for p in ports]
        for port, server in zip(ports, servers, strict=True):
            wait_for_port(port, server)
        first, second = browser.new_page(), browser.new_page()
        first.goto(f"http://127.0.0.1:{ports[0]}/chair/7")
        second.goto(f"http://127.0.0.1:{ports[1]}/chair/7")
        sign_in(first, "nurse.ana")
        # The SBP alarm, already high (no escalation can un-acknowledge it meanwhile).
        alarm = first.locator('[data-testid^="alarm-control-7-"].alarm-high').first
        alarm.wait_for(timeout=60_000)
        testid = alarm.get_attribute("data-testid")
        alarm.get_by_text("Acknowledge").click()
        # The other server, in another process, shows the acknowledgement too.
        mirrored = second.locator(f'[data-testid="{testid}"]')
        until(lambda: "acknowledged" in mirrored.inner_text(), 20,
              "the other screen to follow")
        first.close()
        second.close()
    finally:
        stop(recorder, *servers)
