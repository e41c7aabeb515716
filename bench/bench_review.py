"""Opening a long session for review: server time, time to first chart, zoom, bytes.

Targets (issue 6): open the review of a 4-hour session in < 1 s and of a
24-hour session in < 2 s (server time, and time to the first chart in
headless Chromium); refine on zoom in < 200 ms (server); < 300 KB sent per
view of 24 hours. Sessions are 1 Hz x 8 parameters. Prints figures.

    python bench/bench_review.py
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import plotly

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devices.table import Coded, ReadingTable  # noqa: E402
from devices.vocabulary import PARAMETERS, SourceKind  # noqa: E402
from monitor.review import summarize  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.web import review_page, timeline  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, wait_for_port  # noqa: E402

T0_MS = 1_795_680_000_000
TYPICAL = {"hr": 72, "pulse_rate": 72, "spo2": 97, "resp_rate": 14, "nibp_sys": 125,
           "nibp_dia": 80, "nibp_mean": 95, "etco2": 38}


def session(store: Store, hours: float) -> int:
    """A session of 1 Hz readings of 8 parameters (NIBP too, for the worst case)."""
    params = list(TYPICAL)
    seconds = int(hours * 3600)
    rng = np.random.default_rng(1)
    times = np.repeat(T0_MS + np.arange(seconds, dtype=np.int64) * 1000, len(params))
    base = np.array([TYPICAL[p] for p in params], dtype=float)
    values = (base + np.cumsum(rng.normal(0, 0.05, (seconds, len(params))), axis=0)).ravel()
    codes = np.tile(np.arange(len(params), dtype=np.int32), seconds)
    units = [PARAMETERS[p].unit for p in params]
    sid = store.create_session(chair=f"{hours:g}h", device="bench", started_at=T0_MS / 1000,
                               source_kind=SourceKind.IMPORT)
    store.add_table(sid, ReadingTable(
        time_ms=times, param=Coded(codes, tuple(params)), value=np.round(values, 1),
        unit=Coded(np.array([sorted(set(units)).index(u) for u in units],
                            dtype=np.int32)[codes], tuple(sorted(set(units)))),
        status=np.zeros(len(times), np.int8), source=Coded(np.zeros(len(times), np.int32),
                                                           ("bench",))))
    store.end_session(sid, T0_MS / 1000 + seconds)
    return sid


def best(fn, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        store = Store(db)
        sessions = {hours: session(store, hours) for hours in (4, 24)}
        for hours, sid in sessions.items():
            seconds, page = best(lambda sid=sid: review_page.layout(store, sid))
            size = len(json.dumps(page, cls=plotly.utils.PlotlyJSONEncoder))
            target = 1.0 if hours == 4 else 2.0
            print(f"{hours:>2} h session ({hours * 3600 * 8:,} readings): server builds the "
                  f"review in {seconds:.2f} s (target < {target:g} s: "
                  f"{'PASS' if seconds < target else 'FAIL'}); the page is {size / 1000:.0f} KB"
                  + ("" if hours != 24 else
                     f" (target < 300 KB: {'PASS' if size < 300_000 else 'FAIL'})"))
            summary_s, _ = best(lambda sid=sid: summarize(store, sid))
            print(f"   then its summary panel (every reading, after the chart): "
                  f"{summary_s:.2f} s server")
        sid = sessions[24]
        lo = T0_MS + 12 * 3600_000
        for minutes in (60, 10):
            seconds, _ = best(lambda m=minutes: timeline.window(store, sid, lo,
                                                                 lo + m * 60_000))
            print(f"refine on zoom to {minutes} min of the 24 h session: {seconds * 1000:.0f} ms"
                  f" (target < 200 ms: {'PASS' if seconds < 0.2 else 'FAIL'})")
        store.close()
        chromium(db, sessions)


CHART_READY = ("() => { const g = document.querySelector('[data-testid=review-graph] "
               ".js-plotly-plot'); return g && g.data && g.data[0].x.length > 0; }")


def chromium(db: Path, sessions: dict[float, int]) -> None:
    """Time to the first chart: a full page load of /review/ID, and opening the
    review from the session list inside the running app (how it is used)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--db", str(db),
                               "--port", str(port)], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, server)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/review/{sessions[4]}")  # warm: scripts cached and compiled
            page.wait_for_function(CHART_READY, timeout=60_000)
            for hours, sid in sessions.items():
                loads, clicks, sizes = [], [], []
                for _ in range(3):
                    received: list[int] = []

                    def count(response, received=received) -> None:
                        # A response of the page just left has no body any more.
                        if "_dash-update-component" in response.url:
                            with contextlib.suppress(Exception):
                                received.append(len(response.body()))

                    page.on("response", count)
                    start = time.perf_counter()
                    page.goto(f"{base}/review/{sid}")
                    page.wait_for_function(CHART_READY, timeout=60_000)
                    loads.append(time.perf_counter() - start)
                    page.wait_for_timeout(500)
                    page.remove_listener("response", count)
                    sizes.append(sum(received))
                    page.goto(f"{base}/sessions")
                    link = page.locator(f'[data-testid="session-row-{sid}"] a')
                    link.wait_for(timeout=30_000)
                    start = time.perf_counter()
                    link.click()
                    page.wait_for_function(CHART_READY, timeout=60_000)
                    clicks.append(time.perf_counter() - start)
                target = 1.0 if hours == 4 else 2.0
                load, click = sorted(loads)[1], sorted(clicks)[1]
                print(f"{hours:>2} h session in Chromium (median of 3): from the session list "
                      f"{click:.2f} s, a full page load {load:.2f} s (target < {target:g} s: "
                      f"{'PASS' if click < target else 'FAIL'} / "
                      f"{'PASS' if load < target else 'FAIL'}); {max(sizes) / 1000:.0f} KB of "
                      "callback responses")
            browser.close()
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
