"""The real demo in headless Chromium: numerics change, charts grow by increments."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, free_port, wait_for_port

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "demo", "--chairs", "2", "--speed", "5",
         "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(15)


def _wait_for_change(read: Any, timeout: float = 30) -> tuple[str, str]:
    first = read()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = read()
        if now != first:
            return first, now
        time.sleep(0.25)
    raise AssertionError(f"still {first!r} after {timeout} s")


def test_demo_overview_numerics_change_and_are_labelled(browser: Any, demo_url: str) -> None:
    page = browser.new_page()
    page.goto(demo_url)
    hr = page.locator('[data-testid="value-1-hr"]')
    hr.wait_for(timeout=30_000)
    before, after = _wait_for_change(hr.inner_text)
    assert before.isdigit() and after.isdigit()
    # Every value shows its age, every simulated chair says so, and the
    # screen says it is a secondary display.
    assert page.locator('[data-testid="age-1-hr"]').inner_text().endswith("s")
    assert "SIMULATED" in page.locator('[data-testid="chair-1"]').inner_text()
    assert "primary alarm device" in page.locator('[data-testid="secondary"]').inner_text()
    page.close()


def test_chair_chart_grows_by_increments_not_whole_figures(browser: Any, demo_url: str) -> None:
    page = browser.new_page()
    ticks: list[dict[str, Any]] = []

    def on_response(response: Any) -> None:
        if "/_dash-update-component" in response.url and response.status == 200:
            body = json.loads(response.text())
            if "trend" in body.get("response", {}):
                ticks.append(body["response"]["trend"])

    page.on("response", on_response)
    page.goto(f"{demo_url}/chair/1")
    page.locator('[data-testid="trend"] .js-plotly-plot').wait_for(timeout=30_000)
    count_js = ("() => document.querySelector('[data-testid=trend] .js-plotly-plot')"
                ".data[0].x.length")
    before, after = _wait_for_change(lambda: str(page.evaluate(count_js)))
    assert int(after) > int(before)
    deadline = time.monotonic() + 10
    while not ticks and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert ticks, "no chart update was seen"
    for tick in ticks:
        assert "extendData" in tick
        # Limits and events may be patched in; the whole figure is never resent.
        figure = tick.get("figure")
        assert figure is None or "__dash_patch_update" in figure, "a tick resent the figure"
    page.close()


def test_serve_shows_what_a_separate_recorder_writes(browser: Any, tmp_path: Path) -> None:
    """Acquisition and dashboard in two processes, meeting only in the store."""
    db = tmp_path / "clinic.db"
    recorder = subprocess.Popen(
        [sys.executable, "-m", "monitor", "record", "--device",
         "sim:?scenario=typical&seed=9&speed=2", "--db", str(db), "--chair", "B4"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = free_port()
    server = None
    try:
        deadline = time.monotonic() + 30
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        server = subprocess.Popen(
            [sys.executable, "-m", "monitor", "serve", "--db", str(db), "--port", str(port)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_port(port, server)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        spo2 = page.locator('[data-testid="age-B4-spo2"]')
        spo2.wait_for(timeout=30_000)
        _wait_for_change(page.locator('[data-testid="chair-B4"]').inner_text)
        # The recorder dies: within the stale timeout (10 s) and a poll, the screen
        # says NO DATA instead of showing the old numbers as current.
        recorder.kill()
        recorder.wait(15)
        killed = time.monotonic()
        state = page.locator('[data-testid="state-B4"]')
        deadline = killed + 20
        while "NO DATA" not in state.inner_text() and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert "NO DATA" in state.inner_text()
        assert time.monotonic() - killed <= 10 / 2 + 3  # 10 session s at 2x, plus a tick
        assert page.locator('[data-testid="value-B4-spo2"]').inner_text() == "---"
        page.close()
    finally:
        for process in (recorder, server):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(15)
