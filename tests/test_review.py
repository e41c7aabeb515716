"""Session review: downsampled windows keep gaps, the timeline, and the screen in Chromium."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from devices.table import Coded, ReadingTable
from devices.vocabulary import SourceKind
from monitor.store import Store
from monitor.web import timeline
from tests.conftest import REPO, cli, free_port, wait_for_port

T0_MS = 1_795_680_000_000
START = "2026-11-26T08:00:00Z"


def _hours_of_hr(store: Store, hours: float, hole_at_s: int, hole_s: int) -> int:
    """A session of 1 Hz HR with one silent stretch and a few invalid readings."""
    seconds = np.arange(int(hours * 3600), dtype=np.int64)
    seconds = seconds[(seconds < hole_at_s) | (seconds >= hole_at_s + hole_s)]
    values = 70 + 10 * np.sin(seconds / 600.0)
    status = np.zeros(len(seconds), dtype=np.int8)
    status[::997] = 2
    values[::997] = np.nan
    sid = store.create_session(chair="R", device="x", source_kind=SourceKind.IMPORT,
                               started_at=T0_MS / 1000)
    store.add_table(sid, ReadingTable(
        time_ms=T0_MS + seconds * 1000, param=Coded(np.zeros(len(seconds), np.int32), ("hr",)),
        value=values, unit=Coded(np.zeros(len(seconds), np.int32), ("/min",)), status=status,
        source=Coded(np.zeros(len(seconds), np.int32), ("x",))))
    store.end_session(sid, T0_MS / 1000 + hours * 3600)
    return sid


def test_a_long_session_is_sent_downsampled_with_its_gaps(db_path: Path) -> None:
    store = Store(db_path)
    sid = _hours_of_hr(store, 4, hole_at_s=7200, hole_s=120)
    whole = timeline.window(store, sid)
    xs, ys = whole[timeline.TRACE_PARAMS.index("hr")]
    # About one point per pixel column, never 14,400 points.
    assert len(xs) < 1.2 * timeline.POINTS_PER_TRACE
    # The 2-minute hole is a break, never a line across it. (At this scale a
    # pixel column holds a minute; single invalid readings show when zoomed.)
    offset = timeline.local_offset_ms(T0_MS)
    hole = [xs[i] - offset for i, y in enumerate(ys) if y is None]
    assert hole and all(T0_MS + 7_200_000 <= x <= T0_MS + 7_320_000 for x in hole)
    # Min/max preserving: the extremes of the wave are still there.
    valid = [y for y in ys if y is not None]
    assert max(valid) > 79.9 and min(valid) < 60.1
    # Zooming into ten minutes gives every reading there.
    lo = T0_MS + 3600_000
    zoomed = timeline.window(store, sid, lo, lo + 600_000)[timeline.TRACE_PARAMS.index("hr")]
    # 601 readings, one of them invalid (every 997th): 600 values and a break.
    assert len([y for y in zoomed[1] if y is not None]) == 600
    assert zoomed[1].count(None) == 1
    assert len(json.dumps(whole)) < 100_000


@pytest.fixture
def reviewed(tmp_path: Path) -> Iterator[str]:
    db = tmp_path / "r.db"
    recorded = cli("record", "--device",
                   f"sim:?scenario=hypertensive-response&seed=2&speed=max&start={START}",
                   "--db", str(db))
    assert recorded.returncode == 0, recorded.stderr
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--db", str(db),
                               "--port", str(port)], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.browser
def test_review_open_zoom_jump_and_play(browser: Any, reviewed: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{reviewed}/sessions")
    page.locator('[data-testid="session-row-1"] a').click()
    plot = page.locator('[data-testid="review-graph"] .js-plotly-plot')
    plot.wait_for(timeout=30_000)
    hr_points = "() => document.querySelector('[data-testid=review-graph] .js-plotly-plot')" \
                ".data[0].x.length"
    page.wait_for_function(f"() => ({hr_points})() > 100", timeout=30_000)
    overview_points = page.evaluate(hr_points)
    assert 100 < overview_points < 1200  # a 2-hour session, downsampled
    # The summary follows the chart (it reads every reading): the systolic
    # peak of the hypertensive response, past 180.
    extremes = page.get_by_test_id("summary-extremes")
    extremes.wait_for(timeout=30_000)
    peak = re.search(r"SYS peak (\d+)", extremes.inner_text())
    assert peak and int(peak.group(1)) >= 180, extremes.inner_text()

    # Zoom to five minutes: the server refines the window to every reading.
    page.wait_for_timeout(1500)  # after the chart's own first relayout (autosize)
    page.evaluate("""([lo, hi]) => {
        const gd = document.querySelector('[data-testid=review-graph] .js-plotly-plot');
        Plotly.relayout(gd, {'xaxis.range': ['2026-11-26 ' + lo, '2026-11-26 ' + hi]});
    }""", [_local("08:20:00"), _local("08:25:00")])
    page.wait_for_function(f"() => ({hr_points})() < 400", timeout=15_000)
    assert 290 <= page.evaluate(hr_points) <= 310  # 5 minutes of 1 Hz, nothing dropped

    # Jump to the high SBP alarm: the playback cursor and the numerics go there.
    page.locator("button.item-alarm", has_text="HIGH SYS").first.click()
    moment = page.get_by_test_id("moment-nibp_sys")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not moment.count():
        page.wait_for_timeout(250)
    assert float(moment.inner_text()) >= 180
    clock = page.get_by_test_id("review-clock")
    assert "(+40 min)" in clock.inner_text()

    # Play at 10x: the clock moves on.
    before = clock.inner_text()
    page.get_by_test_id("review-play").click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and clock.inner_text() == before:
        page.wait_for_timeout(250)
    assert clock.inner_text() != before
    page.close()


def _local(hhmmss: str) -> str:
    """A UTC time of day on 2026-11-26, as the server's local clock shows it."""
    from datetime import datetime

    return datetime.fromisoformat(f"2026-11-26T{hhmmss}+00:00").astimezone().strftime(
        "%H:%M:%S")
