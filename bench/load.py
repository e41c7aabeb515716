"""Load: 20 dashboard clients for 10 minutes against 12 real-time chairs, loopback only.

Target (load issue): 20 concurrent overview clients on a 2-core machine, no
errors, p95 update latency < 1 s.

What runs:
- one recorder, ``infusion-monitor run --config clinic.toml``: 12 simulated
  chairs at real time (speed 1), a mix of scenarios, each opened 8 minutes
  further into its session than the one before (``elapsed=0, 8, ... 88``),
  so during the run infusions start and stop and episodes raise alarms (its
  own dashboard listens too, unused);
- ``--workers`` ``infusion-monitor serve`` processes (default 1; waitress, 8
  threads each) on their own ports, clients spread over them;
- ``--clients`` clients (default 20), of which ``--browsers`` (default 2) are
  real headless Chromium pages and the rest are HTTP clients doing what a
  browser's overview does: load the page (``GET /`` for Dash's ``endId``, the
  routing callback for the first cursor), then every second POST
  ``/_dash-update-component?endId=...`` with the ``tick`` callback's body and
  the cursor of the latest response, as Chromium does (the body is checked
  against one captured from a browser page). As a browser's interval does,
  a tick fires on time even when the previous one is still out (up to 6
  connections per client, a browser's limit per host). Clients start spread
  over the first second.

Measured: per tick, the time from sending the request to having read the
response (p50, p95, p99, max); non-200 responses, exceptions and unreadable
bodies; requests/s; how late the load generator sent ticks; data freshness
(newest reading of a chair in a response: from the moment its session clock
reached it to the response read); in the browsers, Chromium's own request
timing and the time from a reading to its first draw in the tile; server,
recorder, load-generator and Chromium CPU from /proc/PID/stat; machine load.
The browsers and the load generator share the two cores with the server,
which a clinic's screens would not.

Verdict: PASS when there is no error (non-200, exception, unreadable body,
browser page error or failed request) and the p95 of the HTTP clients' tick
latency is < 1 s.

    python bench/load.py [--minutes 10] [--clients 20] [--browsers 2] [--workers 1]
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.processes import problem_lines, stop_all  # noqa: E402
from bench.soak import (  # noqa: E402
    MachineCpu,
    SessionClock,
    clinic_toml,
    cpu_seconds,
    descendants,
    loadavg,
    rss_mb,
    session_clocks,
    sim_devices,
)
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, wait_for_port  # noqa: E402

LATENCY_LIMIT_S = 1.0
CONNECTIONS_PER_CLIENT = 6   # a browser's limit per host
REQUEST_TIMEOUT_S = 30.0
TICK_S = 1.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def spread(values: list[float], unit: float = 1000, suffix: str = "ms") -> str:
    if not values:
        return "no samples"
    return (f"p50 {percentile(values, 50) * unit:.0f}, p95 {percentile(values, 95) * unit:.0f}, "
            f"p99 {percentile(values, 99) * unit:.0f}, max {max(values) * unit:.0f} {suffix} "
            f"(n={len(values):,})")


# -- what a browser sends -------------------------------------------------------------------

TICK_OUTPUTS = [{"id": "overview", "property": "children"},
                {"id": "screen-delta", "property": "data"},
                {"id": "screen-cursor", "property": "data"}]


def tick_body(n_intervals: int, cursor: dict[str, Any] | None) -> dict[str, Any]:
    """The overview's ``tick`` callback request, as dash-renderer builds it."""
    return {
        "output": ".." + "...".join(f"{o['id']}.{o['property']}" for o in TICK_OUTPUTS) + "..",
        "outputs": TICK_OUTPUTS,
        "inputs": [{"id": "overview-tick", "property": "n_intervals", "value": n_intervals}],
        "changedPropIds": ["overview-tick.n_intervals"],
        "parsedChangedPropsIds": ["overview-tick.n_intervals"],
        "state": [{"id": "screen-cursor", "property": "data", "value": cursor}],
    }


def route_body(pathname: str = "/") -> dict[str, Any]:
    """The routing callback a page load sends: the page for the URL."""
    return {
        "output": "page.children",
        "outputs": {"id": "page", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": pathname}],
        "changedPropIds": ["url.pathname"],
        "parsedChangedPropsIds": ["url.pathname"],
        "state": [{"id": "url", "property": "search", "value": ""}],
    }


HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
DASH_CONFIG = re.compile(r'<script id="_dash-config" type="application/json">(.*?)</script>',
                         re.S)


def find_component(tree: Any, component_id: str) -> dict[str, Any] | None:
    """The props of the component with this id in a Dash layout (JSON)."""
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and props.get("id") == component_id:
            return props
        for value in (props or {}).values() if isinstance(props, dict) else tree.values():
            found = find_component(value, component_id)
            if found is not None:
                return found
    elif isinstance(tree, list):
        for item in tree:
            found = find_component(item, component_id)
            if found is not None:
                return found
    return None


# -- the HTTP clients ------------------------------------------------------------------------

@dataclass
class Tick:
    client: int
    done: float                 # monotonic, when the response was read (or failed)
    latency: float              # s, request sent -> response read
    late: float                 # s, due -> sent
    status: int | None = None
    error: str | None = None
    freshness: list[float] = field(default_factory=list)


class Results:
    """Everything measured, appended from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ticks: list[Tick] = []
        self.page_loads: list[float] = []
        self.page_load_errors: list[str] = []
        self.retried = 0

    def add(self, tick: Tick) -> None:
        with self.lock:
            self.ticks.append(tick)


class Client:
    """One overview, as a browser tab runs it: a page load, then a tick a second."""

    def __init__(self, index: int, port: int, results: Results,
                 clocks: Callable[[], dict[int, SessionClock]]) -> None:
        self.index, self.port, self.results, self.clocks = index, port, results, clocks
        self.pool = ThreadPoolExecutor(CONNECTIONS_PER_CLIENT,
                                       thread_name_prefix=f"client{index}")
        self.local = threading.local()
        self.lock = threading.Lock()
        self.path = "/_dash-update-component"
        self.cursor: dict[str, Any] | None = None
        self.sent = 0       # ticks sent (the interval's n_intervals)
        self.applied = 0    # the tick whose cursor the client holds

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                              timeout=REQUEST_TIMEOUT_S)
            self.local.conn = conn
        return conn

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request(method, path, body=body, headers=HEADERS if body else {})
                response = conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self.local.conn = None
                # A browser resends once when a kept-alive connection was closed under it.
                if not reused or attempt == 2:
                    raise
                with self.results.lock:
                    self.results.retried += 1
            except BaseException:
                conn.close()
                self.local.conn = None
                raise
        raise AssertionError("unreachable")

    def load_page(self) -> bool:
        """Open the overview as a browser does, on the connections the ticks use."""
        return self.pool.submit(self._load_page).result()

    def _load_page(self) -> bool:
        start = time.monotonic()
        try:
            status, html = self._request("GET", "/", None)
            if status != 200:
                raise RuntimeError(f"GET / answered {status}")
            match = DASH_CONFIG.search(html.decode())
            end_id = json.loads(match.group(1)).get("end_id") if match else None
            if end_id:
                self.path = f"/_dash-update-component?endId={quote(end_id, safe='~')}"
            status, body = self._request("POST", self.path, json.dumps(route_body()).encode())
            if status != 200:
                raise RuntimeError(f"the page callback answered {status}")
            page = json.loads(body)["response"]["page"]["children"]
            cursor = find_component(page, "screen-cursor")
            if cursor is None:
                raise RuntimeError("no screen-cursor in the overview's layout")
            self.cursor = cursor["data"]
        except Exception as exc:
            with self.results.lock:
                self.results.page_load_errors.append(
                    f"client {self.index}: {type(exc).__name__}: {exc}")
            return False
        with self.results.lock:
            self.results.page_loads.append(time.monotonic() - start)
        return True

    def fire(self, due: float) -> None:
        """The interval fired: send a tick with the cursor held now."""
        with self.lock:
            self.sent += 1
            n, cursor = self.sent, self.cursor
        self.pool.submit(self._tick, n, cursor, due)

    def _tick(self, n: int, cursor: dict[str, Any] | None, due: float) -> None:
        body = json.dumps(tick_body(n, cursor)).encode()
        sent = time.monotonic()
        tick = Tick(self.index, sent, 0.0, sent - due)
        try:
            status, data = self._request("POST", self.path, body)
            tick.done = time.monotonic()
            arrived = time.time()
            tick.latency = tick.done - sent
            tick.status = status
            if status != 200:
                tick.error = f"HTTP {status}: {data[:200]!r}"
            else:
                response = json.loads(data)["response"]
                new_cursor = response["screen-cursor"]["data"]
                delta = response["screen-delta"]["data"]
                with self.lock:
                    # A late answer to an older tick does not move the cursor back.
                    if n > self.applied:
                        self.cursor, self.applied = new_cursor, n
                tick.freshness = freshness(delta, self.clocks(), arrived)
        except Exception as exc:
            tick.done = time.monotonic()
            tick.latency = tick.done - sent
            if tick.error is None:
                tick.error = f"{type(exc).__name__}: {exc}"
        self.results.add(tick)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def freshness(delta: dict[str, Any], clocks: dict[int, SessionClock],
              arrived: float) -> list[float]:
    """Per chair with new numerics: wall seconds from its newest reading to `arrived`."""
    out = []
    for chair in delta.get("chairs", {}).values():
        numerics = chair.get("numerics")
        clock = clocks.get(chair.get("session"))
        if numerics and clock is not None:
            newest = max(n[1] for n in numerics.values())
            out.append(arrived - clock.wall_at(newest))
    return out


class Scheduler(threading.Thread):
    """Fires every client's interval once a second, each client at its own phase."""

    def __init__(self, clients: list[Client], start: float) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.stop = threading.Event()
        self.queue = [(start + i * TICK_S / len(clients), i) for i in range(len(clients))]
        heapq.heapify(self.queue)
        self.clients = clients

    def run(self) -> None:
        while not self.stop.is_set():
            due, i = self.queue[0]
            wait = due - time.monotonic()
            if wait > 0:
                self.stop.wait(min(wait, 0.5))
                continue
            heapq.heapreplace(self.queue, (due + TICK_S, i))
            self.clients[i].fire(due)


# -- the browsers ------------------------------------------------------------------------------

OBSERVE_JS = """(clocks) => {
    // Reading -> first draw of the tile that shows it, by the wall clock.
    window.benchClocks = clocks;
    window.benchLatency = [];
    const seen = new Set();
    const model = () => (window.infusionScreen || {}).model || {};
    for (const [chair, m] of Object.entries(model())) {
        for (const [param, n] of Object.entries(m.numerics)) {
            seen.add(chair + '/' + param + '/' + n[1]);
        }
    }
    const root = document.getElementById('overview');
    new MutationObserver((records) => {
        const now = Date.now() / 1000;
        for (const r of records) {
            const el = r.target.nodeType === 3 ? r.target.parentElement : r.target;
            const id = el && el.getAttribute && el.getAttribute('data-testid');
            if (!id || !id.startsWith('value-') || el.textContent === '---') continue;
            const rest = id.slice(6), cut = rest.indexOf('-');
            const chair = rest.slice(0, cut), param = rest.slice(cut + 1);
            const m = model()[chair];
            const n = m && m.numerics[param];
            const c = m && window.benchClocks[m.session];
            if (!n || !c) continue;
            const key = chair + '/' + param + '/' + n[1];
            if (seen.has(key)) continue;
            seen.add(key);
            window.benchLatency.push(now - (c[0] + (n[1] - c[1]) / c[2]));
        }
    }).observe(root, {childList: true, characterData: true, subtree: true});
}"""


@dataclass
class BrowserResults:
    drawn: list[float] = field(default_factory=list)       # reading -> drawn, s
    ticks: list[float] = field(default_factory=list)       # Chromium's request timing, s
    errors: list[str] = field(default_factory=list)
    captured: dict[str, Any] | None = None                 # one tick request, as sent
    captured_url: str = ""

    def on_request_finished(self, request: Any) -> None:
        if "_dash-update-component" not in request.url:
            return
        body = request.post_data or ""
        if "overview-tick.n_intervals" not in body:
            return
        if self.captured is None:
            self.captured, self.captured_url = json.loads(body), request.url
        timing = request.timing
        if timing.get("responseEnd", -1) > 0:
            self.ticks.append(timing["responseEnd"] / 1000)

    def on_response(self, response: Any) -> None:
        if "_dash-update-component" in response.url and response.status != 200:
            self.errors.append(f"HTTP {response.status} {response.url}")


def clocks_for_js(clocks: dict[int, SessionClock]) -> dict[str, list[float]]:
    return {str(i): [c.wall, c.session, c.speed] for i, c in clocks.items()}


def check_payload(browser: BrowserResults) -> str:
    """Compare the captured browser tick with the one this script builds."""
    if browser.captured is None:
        return "no tick captured from the browser"
    sent = browser.captured
    ours = tick_body(sent["inputs"][0]["value"], sent["state"][0]["value"])
    same_body = ours == sent
    same_query = "endId=" in browser.captured_url
    if same_body and same_query:
        return "identical to the one Chromium sent (body; endId in the query string)"
    return f"DIFFERS from Chromium's: ours {json.dumps(ours)[:300]} theirs {json.dumps(sent)[:300]}"


# -- the run ---------------------------------------------------------------------------------------

@dataclass
class Cpu:
    """CPU seconds of a set of processes since the last look."""

    pids: Callable[[], list[int]]
    last: float = 0.0

    def total(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def since(self, interval: float) -> float:
        now = self.total()
        share = (now - self.last) / interval * 100
        self.last = now
        return share


def chromium_pids(exclude: set[int]) -> list[int]:
    out = []
    for pid in descendants(os.getpid()):
        if pid in exclude:
            continue
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                out.append(pid)
        except OSError:
            continue
    return out


def run_load(minutes: float, clients: int, browsers: int, workers: int, chairs: int) -> bool:
    from playwright.sync_api import sync_playwright

    http_clients = clients - browsers
    results = Results()
    browser_results = BrowserResults()
    with tempfile.TemporaryDirectory(prefix="load-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "clinic.db"
        config = tmp / "clinic.toml"
        devices = [f"{spec}&elapsed={8 * i}"
                   for i, spec in enumerate(sim_devices(chairs, 1, ""))]
        config.write_text(clinic_toml(db, free_port(), devices), encoding="utf-8")
        processes: dict[str, subprocess.Popen[str]] = {}
        logs: dict[str, Any] = {}

        def start(name: str, *args: str) -> subprocess.Popen[str]:
            logs[name] = open(tmp / f"{name}.log", "w+", encoding="utf-8")  # noqa: SIM115
            processes[name] = subprocess.Popen([sys.executable, "-m", "monitor", *args],
                                               cwd=REPO, text=True, stdout=logs[name],
                                               stderr=subprocess.STDOUT)
            return processes[name]

        pool: list[Client] = []
        scheduler: Scheduler | None = None
        minute_shares: list[dict[str, float]] = []
        rss_start = rss_end = 0.0
        try:
            start("recorder", "run", "--config", str(config))
            deadline = time.monotonic() + 60
            while len(session_clocks(db)) < chairs:
                if time.monotonic() > deadline or processes["recorder"].poll() is not None:
                    raise RuntimeError("the recorder did not open its sessions; its log:\n"
                                       + (tmp / "recorder.log").read_text())
                time.sleep(0.2)
            ports = [free_port() for _ in range(workers)]
            for w, port in enumerate(ports):
                start(f"server{w + 1}", "serve", "--db", str(db), "--port", str(port))
            for w, port in enumerate(ports):
                wait_for_port(port, processes[f"server{w + 1}"])
            clock_box = [{c.id: c for c in session_clocks(db)}]
            recorder = processes["recorder"].pid
            servers = [processes[f"server{w + 1}"].pid for w in range(workers)]

            with sync_playwright() as pw:
                chromium = None
                pages = []
                if browsers:
                    chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    for b in range(browsers):
                        page = chromium.new_context().new_page()  # type: ignore[union-attr]
                        page.on("pageerror", lambda e: browser_results.errors.append(str(e)))
                        page.on("console", lambda m: browser_results.errors.append(
                            m.text) if m.type == "error" else None)
                        page.on("requestfailed", lambda r: browser_results.errors.append(
                            f"failed: {r.url} {r.failure}"))
                        page.on("requestfinished", browser_results.on_request_finished)
                        page.on("response", browser_results.on_response)
                        page.goto(f"http://127.0.0.1:{ports[b % workers]}/")
                        page.locator('[data-testid="chair-1"]').wait_for(timeout=60_000)
                        page.evaluate(OBSERVE_JS, clocks_for_js(clock_box[0]))
                        pages.append(page)
                    for i in range(http_clients):
                        client = Client(i, ports[i % workers], results, lambda: clock_box[0])
                        if client.load_page():  # a client whose page failed has no ticks
                            pool.append(client)
                        else:
                            client.close()
                    if not pool and http_clients:
                        raise RuntimeError("no HTTP client could load the page: "
                                           + "; ".join(results.page_load_errors[:3]))
                    print(f"load: {http_clients} HTTP clients + {browsers} Chromium pages "
                          f"against {workers} server process(es), {chairs} chairs at real time, "
                          f"{minutes:g} min; machine load {loadavg()} on {os.cpu_count()} cores",
                          flush=True)
                    print(f"  page loads (GET / + page callback): "
                          f"{spread(results.page_loads)}", flush=True)
                    cpus = {"server": Cpu(lambda: servers), "recorder": Cpu(lambda: [recorder]),
                            "load generator": Cpu(lambda: [os.getpid()]),
                            "chromium": Cpu(lambda: chromium_pids({recorder, *servers}))}
                    for cpu in cpus.values():
                        cpu.last = cpu.total()
                    machine = MachineCpu()
                    rss_start = sum(rss_mb(p) for p in servers)
                    began = time.monotonic()
                    scheduler = Scheduler(pool, began + 0.1)
                    scheduler.start()
                    seen, minute = 0, 0
                    end = began + minutes * 60
                    mark = next_clocks = began
                    while mark < end - 0.5:
                        minute += 1
                        stop_at = min(end, began + minute * 60)
                        while time.monotonic() < stop_at:
                            wait_ms = max(1.0, min(1000.0, (stop_at - time.monotonic()) * 1000))
                            if pages:
                                pages[0].wait_for_timeout(wait_ms)
                            else:
                                time.sleep(wait_ms / 1000)
                            if time.monotonic() > next_clocks:  # sessions re-anchor their clocks
                                clock_box[0] = {c.id: c for c in session_clocks(db)}
                                next_clocks = time.monotonic() + 10
                        interval = time.monotonic() - mark
                        mark = time.monotonic()
                        shares = {name: cpu.since(interval) for name, cpu in cpus.items()}
                        shares["machine"] = machine.busy()
                        minute_shares.append(shares | {"interval": interval})
                        with results.lock:
                            window = results.ticks[seen:]
                            seen = len(results.ticks)
                        for page in pages:
                            browser_results.drawn += page.evaluate(
                                "window.benchLatency.splice(0)")
                        errors = sum(1 for t in window if t.error)
                        lat = [t.latency for t in window if not t.error]
                        print(f"  {minute:>2} min: {len(window) / interval:5.1f} ticks/s, "
                              f"latency p50 {percentile(lat, 50) * 1000:4.0f} ms, p95 "
                              f"{percentile(lat, 95) * 1000:4.0f} ms, max "
                              f"{max(lat, default=0) * 1000:5.0f} ms, {errors} errors; CPU "
                              f"server {shares['server']:3.0f}%, recorder "
                              f"{shares['recorder']:3.0f}%, load gen "
                              f"{shares['load generator']:3.0f}%, chromium "
                              f"{shares['chromium']:3.0f}%, machine busy "
                              f"{shares['machine']:3.0f}%, load {loadavg()}", flush=True)
                    scheduler.stop.set()
                    scheduler.join()
                    for client in pool:
                        client.close()
                    rss_end = sum(rss_mb(p) for p in servers)
                finally:
                    if chromium is not None:
                        chromium.close()
        finally:
            if scheduler is not None:
                scheduler.stop.set()
            for client in pool:
                client.pool.shutdown(wait=False, cancel_futures=True)
            killed = stop_all(processes)
            problems: dict[str, list[str]] = {}
            for name, log in logs.items():
                problems[name] = problem_lines(log)
                log.close()
    return report(results, browser_results, minute_shares, minutes, http_clients, browsers,
                  workers, problems, killed, {n: p.returncode for n, p in processes.items()},
                  rss_start, rss_end)


def report(results: Results, browser: BrowserResults, shares: list[dict[str, float]],
           minutes: float, http_clients: int, browsers: int, workers: int,
           problems: dict[str, list[str]], killed: list[str], exit_codes: dict[str, int],
           rss_start: float, rss_end: float) -> bool:
    ticks = results.ticks
    ok = [t for t in ticks if not t.error]
    non_200 = [t for t in ticks if t.status is not None and t.status != 200]
    exceptions = [t for t in ticks if t.error and t.status is None]
    unreadable = [t for t in ticks if t.error and t.status == 200]
    latencies = [t.latency for t in ok]
    wall = sum(s["interval"] for s in shares) or 1.0
    fresh = [f for t in ok for f in t.freshness]
    p95 = percentile(latencies, 95)

    def mean(name: str) -> float:
        return sum(s[name] * s["interval"] for s in shares) / wall

    print(f"\nsummary ({http_clients} HTTP clients + {browsers} Chromium pages, "
          f"{wall / 60:.1f} min, {workers} server process(es), 8 waitress threads each)")
    print(f"  ticks: {len(ticks):,} answered, {len(non_200)} non-200, {len(exceptions)} "
          f"exceptions, {len(unreadable)} unreadable bodies; {results.retried} resent after a "
          f"closed keep-alive; page loads {len(results.page_loads)} "
          f"({len(results.page_load_errors)} failed)")
    print(f"  requests/s: {len(ticks) / wall:.1f} (a tick a second from each HTTP client: "
          f"{http_clients})")
    for line in results.page_load_errors[:3]:
        print(f"    page load failed, {line[:200]}")
    print(f"  tick latency, sent -> response read: {spread(latencies)}")
    print(f"  load generator lateness, due -> sent: "
          f"{spread([t.late for t in ticks])}")
    print(f"  freshness, reading -> in a client's hands (commit 0.5 s + tick 1 s + request): "
          f"{spread(fresh)}")
    if browsers:
        print(f"  browsers: tick request (Chromium's timing) {spread(browser.ticks)}")
        print(f"  browsers: reading -> drawn in the tile {spread(browser.drawn)}; "
              f"tick payload {check_payload(browser)}")
        print(f"  browsers: {len(browser.errors)} errors")
        for line in browser.errors[:5]:
            print(f"    {line[:200]}")
    print(f"  CPU, % of one core (mean): server {mean('server'):.0f}% (max minute "
          f"{max(s['server'] for s in shares):.0f}%), recorder {mean('recorder'):.0f}%, load "
          f"generator {mean('load generator'):.0f}%, chromium {mean('chromium'):.0f}%; machine "
          f"busy {mean('machine'):.0f}% of 2 cores; load at the end {loadavg()}")
    print(f"  server RSS: {rss_start:.1f} -> {rss_end:.1f} MB")
    for name, lines in problems.items():
        if lines:
            print(f"  {name} log: {len(lines)} warning/error lines, e.g. {lines[0][:160]}")
    print(f"  processes: exit codes {exit_codes}{', killed ' + str(killed) if killed else ''}")
    for t in [t for t in ticks if t.error][:5]:
        print(f"    client {t.client}: {t.error[:200]}")
    errors = len(ticks) - len(ok) + len(results.page_load_errors) + len(browser.errors)
    passed = errors == 0 and bool(latencies) and p95 < LATENCY_LIMIT_S
    print(f"LOAD {'PASS' if passed else 'FAIL'} (rule: 0 errors - non-200, exceptions, "
          f"unreadable bodies, failed page loads, browser errors - and p95 tick latency "
          f"< {LATENCY_LIMIT_S:g} s: {errors} errors, p95 {p95 * 1000:.0f} ms)", flush=True)
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="default 10")
    parser.add_argument("--clients", type=int, default=20, help="all clients (default 20)")
    parser.add_argument("--browsers", type=int, default=2,
                        help="of the clients, how many are Chromium pages (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="serve processes (default 1)")
    parser.add_argument("--chairs", type=int, default=12, help="simulated chairs (default 12)")
    args = parser.parse_args()
    if not 0 <= args.browsers < args.clients:
        parser.error("--browsers must be from 0 to --clients - 1 (the verdict is on HTTP clients)")
    sys.exit(0 if run_load(args.minutes, args.clients, args.browsers, args.workers,
                           args.chairs) else 1)


if __name__ == "__main__":
    main()
