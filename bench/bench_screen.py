"""The nurse's screen: server time per tick, reading-to-screen latency, browser memory.

Targets (issue 5):
- server time per overview tick with 4, 16 and 32 chairs: < 50 ms at 32;
- latency from a reading reaching the adapter to the numeric changing in a
  real browser: p95 < 1.5 s with 1 s polling (p50 and p95 over >= 100 readings);
- browser memory across an accelerated 8-hour session: flat.
Prints figures; asserts nothing.

    python bench/bench_screen.py [tick|latency|memory|all]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devices.adapter import Adapter  # noqa: E402
from devices.clock import ScaledClock  # noqa: E402
from devices.spec import parse_spec  # noqa: E402
from devices.vocabulary import Item, Reading, SourceKind, Status  # noqa: E402
from monitor.service import Recorder  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.web.screen import Cursor, overview_delta  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, wait_for_port  # noqa: E402

PARAMS = (("hr", "/min", 72.0), ("pulse_rate", "/min", 72.0), ("spo2", "%", 97.0),
          ("resp_rate", "/min", 14.0))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- server time per tick ---------------------------------------------------------------

def bench_tick(chairs: int, hours: float = 1.0, ticks: int = 60) -> tuple[float, float]:
    """Median and p95 ms of one overview tick, `chairs` chairs an hour into their sessions."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        t0 = time.time() - hours * 3600
        sessions = [store.create_session(chair=str(i + 1), device="sim:",
                                         source_kind=SourceKind.SIMULATED, started_at=t0,
                                         clock=(1.0, time.time(), time.time()))
                    for i in range(chairs)]
        seconds = int(hours * 3600)
        with store.transaction():
            for sid in sessions:
                store.add_readings(sid, [Reading(t0 + s, p, v, u, Status.VALID, "sim")
                                         for s in range(seconds) for p, u, v in PARAMS])
        _, cursor, _ = overview_delta(store, Cursor())
        times = []
        for tick in range(ticks):
            now = t0 + seconds + tick
            with store.transaction():  # one second of every chair arrives
                for sid in sessions:
                    store.add_readings(sid, [Reading(now, p, v + tick % 3, u, Status.VALID,
                                                     "sim") for p, u, v in PARAMS])
            start = time.perf_counter()
            _, cursor, _ = overview_delta(store, cursor)
            times.append((time.perf_counter() - start) * 1000)
        store.close()
    return statistics.median(times), percentile(times, 95)


# -- latency -------------------------------------------------------------------------------

class MarkedAdapter(Adapter):
    """About one HR reading a second whose value says when it reached the adapter.

    The gaps vary (0.7-1.3 s, seeded) so that readings meet the browser's
    1 s poll at every phase, not always at the same point of it.
    """

    protocol = "marked"
    source_kind = SourceKind.DEVICE

    def __init__(self) -> None:
        super().__init__(parse_spec("marked:bench"))
        self.clock = ScaledClock()
        self.sent: dict[float, float] = {}   # value -> wall time it reached the adapter
        self.count = 0
        self._next = time.time() + 1
        self._gaps = random.Random(7)

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _read(self, timeout: float) -> list[Item]:
        wait = self._next - time.time()
        if wait > timeout:
            self.clock.sleep(timeout)
            return []
        self.clock.sleep(max(0.0, wait))
        self._next += self._gaps.uniform(0.7, 1.3)
        value = 60.0 + self.count % 100
        self.count += 1
        now = time.time()
        self.sent[value] = now
        return [Reading(now, "hr", value, "/min", Status.VALID, "marked")]


def bench_latency(readings: int = 120) -> list[float]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        recorder = Recorder(db)
        adapter = MarkedAdapter()
        recorder.add_chair("L", adapter)
        recorder.start()
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--db", str(db),
                                   "--port", str(port)], cwd=REPO, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        latencies: list[float] = []
        try:
            wait_for_port(port, server)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                page.locator('[data-testid="value-L-hr"]').wait_for(timeout=30_000)
                # Record when each new value appears on screen, by the wall clock.
                page.evaluate("""() => {
                    window.seen = [];
                    const el = document.querySelector('[data-testid="value-L-hr"]');
                    new MutationObserver(() => window.seen.push([el.textContent, Date.now()]))
                        .observe(el, {childList: true, characterData: true, subtree: true});
                }""")
                deadline = time.monotonic() + readings + 10
                while time.monotonic() < deadline:
                    if len(page.evaluate("window.seen")) >= readings:
                        break
                    time.sleep(1)
                for text, shown_ms in page.evaluate("window.seen"):
                    sent = adapter.sent.get(float(text)) if text.isdigit() else None
                    if sent is not None:
                        latencies.append(shown_ms / 1000 - sent)
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
            recorder.stop()
    return latencies


# -- browser memory ------------------------------------------------------------------------

def bench_memory(wall_minutes: float = 2.0) -> list[tuple[float, float, int]]:
    """JS heap of an overview and a chair page while an 8-hour session runs at speed."""
    from playwright.sync_api import sync_playwright

    speed = 8 * 3600 / (wall_minutes * 60)
    samples: list[tuple[float, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        port = free_port()
        spec = f"sim:?scenario=typical&seed=1&speed={speed:g}&pre=10&infusion=40&post=430"
        recorder = subprocess.Popen([sys.executable, "-m", "monitor", "record", "--device", spec,
                                     "--db", str(db), "--chair", "M"], cwd=REPO, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        server = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--db", str(db),
                                   "--port", str(port)], cwd=REPO, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for_port(port, server)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                overview, chair = browser.new_page(), browser.new_page()
                overview.goto(f"http://127.0.0.1:{port}/")
                chair.goto(f"http://127.0.0.1:{port}/chair/M")
                cdp = {name: page.context.new_cdp_session(page)
                       for name, page in (("overview", overview), ("chair", chair))}
                for session in cdp.values():
                    session.send("Performance.enable")
                start = time.monotonic()
                for hour in range(1, 9):
                    time.sleep(max(0.0, start + hour * wall_minutes * 60 / 8 - time.monotonic()))
                    heaps = []
                    for session in cdp.values():
                        session.send("HeapProfiler.collectGarbage")
                        metrics = {m["name"]: m["value"] for m in
                                   session.send("Performance.getMetrics")["metrics"]}
                        heaps.append(metrics["JSHeapUsedSize"] / 1e6)
                    points = chair.evaluate("document.querySelector('[data-testid=trend] "
                                            ".js-plotly-plot').data.reduce((n, t) => "
                                            "n + t.x.length, 0)")
                    samples.append((heaps[0], heaps[1], points))
                    print(f"  hour {hour}: overview {heaps[0]:.1f} MB, chair page "
                          f"{heaps[1]:.1f} MB, chart points held {points:,}", flush=True)
                browser.close()
        finally:
            server.terminate()
            recorder.terminate()
            server.wait(10)
            recorder.wait(10)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", default="all",
                        choices=["tick", "latency", "memory", "all"])
    parser.add_argument("--memory-minutes", type=float, default=2.0,
                        help="wall minutes for the 8-hour session")
    args = parser.parse_args()
    if args.which in ("tick", "all"):
        for chairs in (4, 16, 32):
            median, p95 = bench_tick(chairs)
            verdict = "" if chairs != 32 else f"  target < 50 ms: {'PASS' if p95 < 50 else 'FAIL'}"
            print(f"server time per overview tick, {chairs:>2} chairs (1 h in): median "
                  f"{median:.1f} ms, p95 {p95:.1f} ms{verdict}")
    if args.which in ("latency", "all"):
        latencies = bench_latency()
        p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
        print(f"reading -> numeric on screen, {len(latencies)} readings, 1 s polling: "
              f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(latencies):.2f} s  "
              f"target p95 < 1.5 s: {'PASS' if p95 < 1.5 else 'FAIL'}")
    if args.which in ("memory", "all"):
        print(f"browser memory, an 8-hour session in {args.memory_minutes:g} wall minutes:")
        samples = bench_memory(args.memory_minutes)
        first, last = samples[1], samples[-1]  # hour 1 fills the chart's first points
        growth = [(b - a) / a * 100 for a, b in zip(first[:2], last[:2], strict=True)]
        print(f"  growth from hour 2 to hour 8: overview {growth[0]:+.0f}%, chair page "
              f"{growth[1]:+.0f}% (points held capped at 20,000 per trace)")


if __name__ == "__main__":
    main()


