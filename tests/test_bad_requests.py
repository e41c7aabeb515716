"""Malformed requests to the dashboard: each gets a clear answer, stored data intact.

**Malformed requests** to a real ``serve`` process over a store holding
one recorded session: Dash callback requests (``POST
/_dash-update-component``) that are not JSON, not an object, name unknown
outputs, lack inputs, or carry values of the wrong type or size; export
downloads (``GET /export/<id>.<fmt>``) with unknown ids and formats, path
traversal, non-numeric ids; random paths. Each answer is one of:

- ``4xx``: refused by HTTP, Flask or Dash (400 bad request, 404, 405, 413, 415);
- ``204``: Dash's "no update" (a callback raised PreventUpdate);
- ``dash``: 200 with Dash's JSON answer, the callback having made sense of
  the value (e.g. "No session 999999.", or a fresh cursor);
- ``index``: 200 with the dashboard's page, for a GET of a path the
  browser routes itself (Dash serves its page at every unknown GET path);
- ``download``: 200 with the export file (the controls).

Never a 5xx, never a traceback in the body, never a hang; the server keeps
running, a normal overview tick still works after each, and afterwards
the store holds the same sessions and readings and passes
``PRAGMA integrity_check``.

A real overview tick, as Chromium sends it (captured with Playwright from the
overview page; see ``monitor/web/overview_page.py``, callback ``tick``)::

    {"output": "..overview.children...screen-delta.data...screen-cursor.data..",
     "outputs": [{"id": "overview", "property": "children"},
                 {"id": "screen-delta", "property": "data"},
                 {"id": "screen-cursor", "property": "data"}],
     "inputs": [{"id": "overview-tick", "property": "n_intervals", "value": 1}],
     "changedPropIds": ["overview-tick.n_intervals"],
     "parsedChangedPropsIds": ["overview-tick.n_intervals"],
     "state": [{"id": "screen-cursor", "property": "data",
                "value": {"readings": 13221, "transitions": 0, "events": 4,
                          "sessions": "1=1."}}]}
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import REPO, free_port, stop_process, wait_for_port

# ======================================================================================
# 3. Malformed requests to a running dashboard
# ======================================================================================

UPDATE = "/_dash-update-component"
OVERVIEW = "..overview.children...screen-delta.data...screen-cursor.data.."
OVERVIEW_OUTPUTS = [{"id": "overview", "property": "children"},
                    {"id": "screen-delta", "property": "data"},
                    {"id": "screen-cursor", "property": "data"}]
CHAIR_OUTPUTS = [("trend", "extendData"), ("trend-cursor", "data"), ("chair-delta", "data"),
                 ("alarm-panel", "children"), ("trend", "figure"), ("chair-versions", "data"),
                 ("checklist-panel", "children"), ("baseline-panel", "children"),
                 ("device-line", "children"), ("chair-reload", "href")]
CHAIR_TICK = "..{}..".format("...".join(f"{i}.{p}" for i, p in CHAIR_OUTPUTS))
REQUEST_TIMEOUT = 15.0


def tick_body(cursor: Any = None, n: Any = 1, **override: Any) -> dict[str, Any]:
    """An overview tick exactly as the browser sends it (see the module docstring)."""
    body = {"output": OVERVIEW, "outputs": OVERVIEW_OUTPUTS,
            "inputs": [{"id": "overview-tick", "property": "n_intervals", "value": n}],
            "changedPropIds": ["overview-tick.n_intervals"],
            "parsedChangedPropsIds": ["overview-tick.n_intervals"],
            "state": [{"id": "screen-cursor", "property": "data", "value": cursor}]}
    body.update(override)
    return body


def callback_body(output: str, outputs: Any, inputs: list[tuple[Any, str, Any]],
                  state: list[tuple[Any, str, Any]] = ()) -> dict[str, Any]:
    """Any other callback's request, in the same shape."""
    def prop(item: tuple[Any, str, Any]) -> dict[str, Any]:
        return {"id": item[0], "property": item[1], "value": item[2]}

    def prop_id(item: tuple[Any, str, Any]) -> str:
        id_ = item[0]
        if isinstance(id_, dict):
            id_ = json.dumps(id_, separators=(",", ":"), sort_keys=True)
        return f"{id_}.{item[1]}"

    changed = [prop_id(i) for i in inputs[:1]]
    body = {"output": output, "outputs": outputs, "inputs": [prop(i) for i in inputs],
            "changedPropIds": changed, "parsedChangedPropsIds": changed}
    if state:
        body["state"] = [prop(s) for s in state]
    return body


def _one(id_: str, prop: str) -> dict[str, str]:
    return {"id": id_, "property": prop}


def route(pathname: Any, search: Any = "") -> dict[str, Any]:
    return callback_body("page.children", _one("page", "children"), [("url", "pathname", pathname)],
                         [("url", "search", search)])


def chair_tick(ref: Any, cursor: Any = None, versions: Any = None) -> dict[str, Any]:
    return callback_body(CHAIR_TICK, [_one(i, p) for i, p in CHAIR_OUTPUTS],
                         [("chair-tick", "n_intervals", 1)],
                         [("chair-ref", "data", ref), ("trend-cursor", "data", cursor),
                          ("chair-versions", "data", versions)])


def review_at(offset: Any, ref: Any) -> dict[str, Any]:
    # Outputs that allow_duplicate get a hash suffix; read from /_dash-dependencies.
    return {"$review-at": (offset, ref)}


def review_rerun(contents: Any, ref: Any) -> dict[str, Any]:
    return callback_body("review-rerun.children", _one("review-rerun", "children"),
                         [("review-profile", "contents", contents)],
                         [("review-profile", "filename", "x.toml"), ("review-ref", "data", ref)])


def sessions_filter(start: Any, end: Any = None, chair: Any = None,
                    patient: Any = None) -> dict[str, Any]:
    return callback_body("sessions-table.children", _one("sessions-table", "children"),
                         [("sessions-dates", "start_date", start),
                          ("sessions-dates", "end_date", end),
                          ("sessions-chair", "value", chair),
                          ("sessions-patient", "value", patient)])


def alarm_ack(ref: Any, user: Any = None, *, inputs: Any = None,
              changed: list[str] | None = None) -> dict[str, Any]:
    """An Acknowledge press (an ALL-pattern callback); `inputs`, `changed` replace the
    pattern inputs and changedPropIds a browser would send."""
    return {"$alarm-ack": (ref, user, inputs, changed)}


@dataclass(frozen=True)
class Req:
    """One malformed request and the answers that are right for it."""

    id: str
    method: str
    path: str
    json: Any = None
    data: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    allowed: tuple[str, ...] = ("4xx",)
    timeout: float = REQUEST_TIMEOUT


JSON_HEADERS = {"Content-Type": "application/json"}
TICK_FRESH = ("4xx", "204", "dash")  # a bad cursor: refuse it, or start the picture afresh
ANY_CLEAR = ("4xx", "204", "dash")


REQUESTS = [
    # -- the envelope (monitor/web/envelope.py) ------------------------------------------
    Req("not JSON", "POST", UPDATE, data=b"{not json", headers=JSON_HEADERS),
    Req("no JSON content type", "POST", UPDATE, data=b"hello"),
    Req("JSON that is a list", "POST", UPDATE, json=[1, 2]),
    Req("JSON that is a string", "POST", UPDATE, json="tick"),
    Req("JSON null", "POST", UPDATE, data=b"null", headers=JSON_HEADERS),
    Req("an empty object", "POST", UPDATE, json={}),
    Req("unknown callback output", "POST", UPDATE, json=tick_body(output="nope.children")),
    Req("an output that is a number", "POST", UPDATE, json=tick_body(output=5)),
    Req("a clientside callback's output", "POST", UPDATE,
        json=tick_body(output="screen-applied.data")),
    Req("missing inputs", "POST", UPDATE, json={"output": OVERVIEW, "outputs": OVERVIEW_OUTPUTS}),
    Req("inputs not a list", "POST", UPDATE, json=tick_body(inputs=5)),
    Req("inputs of the wrong shape", "POST", UPDATE, json=tick_body(inputs=[1])),
    Req("missing state", "POST", UPDATE,
        json={k: v for k, v in tick_body().items() if k != "state"}),
    Req("outputs of the wrong shape", "POST", UPDATE, json=tick_body(outputs=[1, 2, 3])),
    Req("fewer outputs than the callback has", "POST", UPDATE,
        json=tick_body(outputs=OVERVIEW_OUTPUTS[:1])),
    Req("one output object for a multi-output callback", "POST", UPDATE,
        json=tick_body(outputs=OVERVIEW_OUTPUTS[0])),
    Req("more outputs than the callback has", "POST", UPDATE,
        json=tick_body(outputs=OVERVIEW_OUTPUTS * 2)),
    Req("a pattern input sent as one object", "POST", UPDATE,
        json=alarm_ack({"chair": "1", "session": 1}, None,
                       inputs=[{"id": {"type": "alarm-ack", "n": 1}, "property": "n_clicks",
                                "value": 1}, {"id": {"type": "alarm-reset", "n": 1},
                                              "property": "n_clicks", "value": 1}])),
    Req("a trigger that is not JSON", "POST", UPDATE,
        json=alarm_ack({"chair": "1", "session": 1}, None, changed=["{bad.n_clicks"])),
    Req("a trigger that is a plain id", "POST", UPDATE,
        json=alarm_ack({"chair": "1", "session": 1}, None, changed=["x.n_clicks"])),
    Req("a trigger without the pattern's key", "POST", UPDATE,
        json=alarm_ack({"chair": "1", "session": 1}, "nurse",
                       inputs=[[{"id": {"type": "alarm-ack"}, "property": "n_clicks",
                                 "value": 1}], []],
                       changed=['{"type":"alarm-ack"}.n_clicks'])),
    Req("deeply nested JSON", "POST", UPDATE, headers=JSON_HEADERS,
        data=b'{"output": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    Req("a 10 MB body", "POST", UPDATE, headers=JSON_HEADERS,
        data=json.dumps(tick_body({"readings": 0, "transitions": 0, "events": 0,
                                   "sessions": "x" * (10 * 1024 * 1024)})).encode(),
        allowed=("4xx", "dash"), timeout=60.0),
    # -- the overview tick's cursor ------------------------------------------------------
    Req("a cursor that is a string", "POST", UPDATE, json=tick_body("abc"), allowed=TICK_FRESH),
    Req("a cursor that is a list", "POST", UPDATE, json=tick_body([1, 2]), allowed=TICK_FRESH),
    Req("a cursor count that is text", "POST", UPDATE, json=tick_body({"readings": "abc"}),
        allowed=TICK_FRESH),
    Req("a cursor count that is Infinity", "POST", UPDATE, headers=JSON_HEADERS,
        data=b'{"output": "%s", "outputs": %s, "inputs": [{"id": "overview-tick", '
             b'"property": "n_intervals", "value": 1}], "changedPropIds": '
             b'["overview-tick.n_intervals"], "state": [{"id": "screen-cursor", "property": '
             b'"data", "value": {"readings": Infinity}}]}'
             % (OVERVIEW.encode(), json.dumps(OVERVIEW_OUTPUTS).encode()),
        allowed=TICK_FRESH),
    Req("negative cursor counts", "POST", UPDATE,
        json=tick_body({"readings": -5, "transitions": -1, "events": -1, "sessions": ""}),
        allowed=TICK_FRESH),
    Req("cursor counts beyond any id", "POST", UPDATE,
        json=tick_body({"readings": 10**30, "transitions": 10**30, "events": 10**30,
                        "sessions": "1=1."}), allowed=TICK_FRESH),
    Req("cursor counts too negative for SQLite", "POST", UPDATE,
        json=tick_body({"readings": 0, "transitions": -10**30, "events": -10**30,
                        "sessions": "1=1."}), allowed=TICK_FRESH),
    Req("a huge n_intervals", "POST", UPDATE, json=tick_body(None, n=10**100),
        allowed=TICK_FRESH),
    # -- other callbacks: a session id that does not exist, wrong types -----------------
    Req("a page path that is a number", "POST", UPDATE, json=route(5), allowed=("4xx", "dash")),
    Req("a page search that is a list", "POST", UPDATE, json=route("/review/1", ["x"]),
        allowed=("4xx", "dash")),
    Req("a review of a session that does not exist", "POST", UPDATE, json=route("/review/999999"),
        allowed=("dash",)),
    Req("a review of a huge session id", "POST", UPDATE, json=route("/review/" + "9" * 30),
        allowed=("dash",)),
    Req("a chair page of a negative session", "POST", UPDATE, json=route("/session/-1"),
        allowed=("dash",)),
    Req("a chair page of a huge session id", "POST", UPDATE, json=route("/session/" + "9" * 30),
        allowed=("dash",)),
    Req("a review at a huge speed", "POST", UPDATE, json=route("/review/1", "?speed=" + "9" * 30),
        allowed=("dash",)),
    Req("a chair tick for a session that does not exist", "POST", UPDATE,
        json=chair_tick({"chair": "1", "session": 999999, "follow": False}), allowed=ANY_CLEAR),
    Req("a chair tick whose state is text", "POST", UPDATE, json=chair_tick("x", "y", "z"),
        allowed=ANY_CLEAR),
    Req("a chair tick with a cursor that is text", "POST", UPDATE,
        json=chair_tick({"chair": "1", "session": 1, "follow": False}, "y", {}),
        allowed=ANY_CLEAR),
    Req("a sessions filter with a date that is not one", "POST", UPDATE,
        json=sessions_filter("notadate"), allowed=ANY_CLEAR),
    Req("a sessions filter with a number for the patient", "POST", UPDATE,
        json=sessions_filter(None, patient=5), allowed=ANY_CLEAR),
    Req("a user name that is a number", "POST", UPDATE,
        json=callback_body("user.data", _one("user", "data"), [("user-name", "value", 5)]),
        allowed=ANY_CLEAR),
    Req("a what-if for a session that does not exist", "POST", UPDATE,
        json=review_rerun("data:;base64,", {"session": 999999}), allowed=ANY_CLEAR),
    Req("a what-if whose upload is a number", "POST", UPDATE,
        json=review_rerun(5, {"session": 1}), allowed=ANY_CLEAR),
    Req("a review position that is text", "POST", UPDATE,
        json=review_at("abc", {"session": 1, "start": 0, "cursor_shape": 4, "offset": 0,
                               "times": []}), allowed=ANY_CLEAR),
    Req("a review position that is huge", "POST", UPDATE,
        json=review_at(1e300, {"session": 1, "start": 0, "cursor_shape": 4, "offset": 0,
                               "times": []}), allowed=ANY_CLEAR),
    Req("a review whose page record is a list", "POST", UPDATE, json=review_at(5, [1]),
        allowed=ANY_CLEAR),
    Req("a button press with no user and a bogus chair", "POST", UPDATE,
        json=alarm_ack("x"), allowed=ANY_CLEAR),
    # -- exports (monitor/web/exports.py) and other paths -------------------------------
    Req("an export of an unknown session", "GET", "/export/999.csv", allowed=("4xx",)),
    Req("an export in an unknown format", "GET", "/export/1.xml", allowed=("4xx",)),
    Req("an export with no format", "GET", "/export/1", allowed=("4xx", "index")),
    Req("an export by path traversal", "GET", "/export/..%2f..%2fetc%2fpasswd",
        allowed=("4xx", "index")),
    Req("an export by path traversal, in the format", "GET", "/export/1.%2e%2e%2fpasswd",
        allowed=("4xx", "index")),
    Req("an export by dotted traversal", "GET", "/export/../../etc/passwd",
        allowed=("4xx", "index")),
    Req("an export with a non-numeric id", "GET", "/export/abc.csv", allowed=("4xx", "index")),
    Req("an export with a negative id", "GET", "/export/-1.csv", allowed=("4xx", "index")),
    Req("an export with a huge id", "GET", "/export/" + "9" * 40 + ".csv", allowed=("4xx",)),
    Req("an asset by path traversal", "GET", "/assets/..%2f..%2fetc%2fpasswd",
        allowed=("4xx", "index")),
    Req("a component file that does not exist", "GET", "/_dash-component-suites/dash/nope.js",
        allowed=("4xx",)),
    Req("the update endpoint with PUT", "PUT", UPDATE, allowed=("4xx",)),
    # -- controls: what a browser asks for, answered normally -------------------------
    Req("control: an export as CSV", "GET", "/export/1.csv", allowed=("download",)),
    Req("control: a review page", "POST", UPDATE, json=route("/review/1"), allowed=("dash",)),
]


@dataclass
class Dashboard:
    url: str
    process: subprocess.Popen[str]
    db: Path
    routes: dict[str, str]     # callback name -> its output key (some carry a hash suffix)

    def post(self, body: Any, timeout: float = REQUEST_TIMEOUT) -> requests.Response:
        return requests.post(self.url + UPDATE, json=body, timeout=timeout)


def _snapshot(db: Path) -> dict[str, Any]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {
            "sessions": conn.execute("SELECT id, chair, started_at, ended_at FROM sessions "
                                     "ORDER BY id").fetchall(),
            "readings": conn.execute("SELECT count(*) FROM readings").fetchone()[0],
            "commands": conn.execute("SELECT count(*) FROM commands").fetchone()[0],
            "integrity": conn.execute("PRAGMA integrity_check").fetchall(),
        }


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, recorded: Path) -> Iterator[Dashboard]:
    """``serve`` over a copy of the recorded store, as a real process."""
    folder = tmp_path_factory.mktemp("dashboard")
    db = folder / "monitor.db"
    shutil.copyfile(recorded, db)
    port = free_port()
    # Output to files, not pipes: nobody reads a pipe here, and a server whose stderr
    # pipe is full (each 500 logs a traceback) blocks on its next write.
    with (folder / "serve.out").open("w") as out, (folder / "serve.err").open("w") as err:
        process = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--db", str(db),
                                    "--port", str(port)], cwd=REPO, text=True,
                                   stdout=out, stderr=err)
    try:
        wait_for_port(port, process)
        url = f"http://127.0.0.1:{port}"
        dependencies = requests.get(url + "/_dash-dependencies", timeout=REQUEST_TIMEOUT).json()
        routes = {}
        for dep in dependencies:
            output = dep["output"]
            if "review-moment.children" in output:
                routes["review-at"] = output
            elif "chair-feedback" in output and "alarm-ack" in json.dumps(dep["inputs"]):
                routes["alarm-ack"] = output
        yield Dashboard(url, process, db, routes)
    finally:
        stop_process(process)


def _resolve(body: Any, dash: Dashboard) -> Any:
    """Fill in the callbacks whose output names carry a hash (read from the server)."""
    if isinstance(body, dict) and "$review-at" in body:
        offset, ref = body["$review-at"]
        output = dash.routes["review-at"]
        outputs = [_one(part.split(".")[0], part.split(".", 1)[1])
                   for part in output.strip(".").split("...")]
        return callback_body(output, outputs, [("review-scrub", "value", offset)],
                             [("review-ref", "data", ref)])
    if isinstance(body, dict) and "$alarm-ack" in body:
        ref, user, inputs, changed = body["$alarm-ack"]
        output = dash.routes["alarm-ack"]
        outputs = [_one(part.split(".")[0], part.split(".", 1)[1])
                   for part in output.strip(".").split("...")]
        body = callback_body(output, outputs, [({"type": "alarm-ack", "n": 1}, "n_clicks", 1)],
                             [("chair-ref", "data", ref), ("user", "data", user)])
        body["inputs"] = inputs if inputs is not None else [
            [{"id": {"type": "alarm-ack", "n": 1}, "property": "n_clicks", "value": 1}], []]
        body["changedPropIds"] = changed if changed is not None else [
            '{"n":1,"type":"alarm-ack"}.n_clicks']
        return body
    return body


def _kind(response: requests.Response) -> str:
    """Which of the module docstring's answers this is."""
    status = response.status_code
    if 400 <= status < 500:
        return "4xx"
    if status == 204:
        return "204"
    if status == 200:
        kind = response.headers.get("Content-Type", "")
        if kind.startswith("application/json") and '"response"' in response.text[:200]:
            return "dash"
        if kind.startswith("text/html") and "_dash-config" in response.text:
            return "index"
        if "attachment" in response.headers.get("Content-Disposition", ""):
            return "download"
    return f"{status} {response.headers.get('Content-Type', '')}"


def _normal_tick(dash: Dashboard) -> None:
    response = dash.post(tick_body())
    assert response.status_code == 200, response.text[:300]
    answer = response.json()["response"]
    assert answer["screen-cursor"]["data"]["readings"] > 0


def _check_request(dash: Dashboard, req: Req) -> None:
    kwargs: dict[str, Any] = {"headers": req.headers, "timeout": req.timeout}
    if req.json is not None:
        kwargs["json"] = _resolve(req.json, dash)
    elif req.data is not None:
        kwargs["data"] = req.data
    try:
        response = requests.request(req.method, dash.url + req.path, **kwargs)
    except requests.Timeout:
        pytest.fail(f"no answer within {req.timeout:g} s")
    assert "Traceback" not in response.text, response.text[:2000]
    assert "root:x:0:0" not in response.text  # nothing outside the app is ever served
    assert dash.process.poll() is None, "the server process died"
    _normal_tick(dash)
    kind = _kind(response)
    if response.status_code >= 500:
        raise AssertionError(f"{response.status_code}: {response.text[:200]!r}")
    assert kind in req.allowed, f"answered {kind}, expected one of {req.allowed}"


@pytest.mark.parametrize("req", [
    pytest.param(r, id=r.id) for r in REQUESTS])
def test_a_malformed_request_gets_a_clear_answer(dashboard: Dashboard, req: Req) -> None:
    _check_request(dashboard, req)


RANDOM_SEGMENTS = ["export", "review", "chair", "session", "sessions", "assets", "_dash-layout",
                   "..", ".", "%2e%2e", "%2f", "%00", "%ff", "~root", "1", "-1", "9" * 25,
                   "a" * 300, "ü", "%E2%80%AE", "index.html", "favicon.ico", ";", "%3Cscript%3E",
                   "1.csv", "1.json", "1.html", "x.exe", "?", "#", "&", "%20"]


def test_random_paths_get_the_page_or_a_4xx(dashboard: Dashboard) -> None:
    rng = random.Random(7)
    for _ in range(40):
        path = "/" + "/".join(rng.choice(RANDOM_SEGMENTS) for _ in range(rng.randint(1, 4)))
        method = rng.choice(["GET", "GET", "GET", "HEAD", "DELETE", "OPTIONS"])
        response = requests.request(method, dashboard.url + path, timeout=REQUEST_TIMEOUT)
        assert response.status_code < 500, (method, path, response.status_code)
        assert "Traceback" not in response.text and "root:x:0:0" not in response.text
        if method == "GET" and response.status_code == 200 and not path.startswith("/_dash-"):
            assert _kind(response) in ("index", "download"), (path, _kind(response))
    assert dashboard.process.poll() is None
    _normal_tick(dashboard)


def _random_envelopes(count: int) -> Iterator[Any]:
    """A real tick with one part dropped or replaced by a random JSON value."""
    rng = random.Random(11)
    odd = [None, 0, -1, 10**30, 1.5, "", "x", [], [None], {}, {"id": 1}, True,
           [{"id": "overview-tick"}], [{"property": "n_intervals"}]]
    for _ in range(count):
        body = tick_body({"readings": 0, "transitions": 0, "events": 0, "sessions": ""})
        key = rng.choice(list(body))
        if rng.random() < 0.3:
            del body[key]
        elif key in ("inputs", "state") and rng.random() < 0.5:
            body[key] = [dict(body[key][0], **{rng.choice(["id", "property", "value"]):
                                               rng.choice(odd)})]
        else:
            body[key] = rng.choice(odd)
        yield body


def test_random_damage_to_a_real_tick_gets_a_clear_answer(dashboard: Dashboard) -> None:
    answered_5xx = []
    for body in _random_envelopes(40):
        response = dashboard.post(body)
        assert "Traceback" not in response.text
        if response.status_code >= 500:
            answered_5xx.append(json.dumps(body)[:160])
        else:
            assert _kind(response) in TICK_FRESH, (body, _kind(response))
    assert dashboard.process.poll() is None
    _normal_tick(dashboard)
    if answered_5xx:
        raise AssertionError(f"{len(answered_5xx)} of 40 answered 5xx, e.g. {answered_5xx[0]}")


def test_after_every_bad_request_the_store_is_intact(dashboard: Dashboard,
                                                     recorded: Path) -> None:
    """Run last in this module (pytest keeps file order): the same sessions and readings
    as the recorded store, no command written, integrity ok, the server still serving."""
    assert dashboard.process.poll() is None
    _normal_tick(dashboard)
    before, after = _snapshot(recorded), _snapshot(dashboard.db)
    assert after["integrity"] == [("ok",)]
    assert after["sessions"] == before["sessions"] and len(after["sessions"]) == 1
    assert after["readings"] == before["readings"] > 0
    assert after["commands"] == before["commands"]
