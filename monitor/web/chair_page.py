"""A chair's page: its tile, alarms with their controls, the trend chart, and
the nurse's controls for the session (patient, baseline, infusion,
observations, discharge)."""

from __future__ import annotations

import time
from typing import Any

from dash import (
    ALL,
    ClientsideFunction,
    Dash,
    Input,
    Output,
    Patch,
    State,
    ctx,
    dcc,
    html,
    no_update,
)
from dash.exceptions import PreventUpdate

from devices.vocabulary import PARAMETERS
from monitor.store import SessionRecord, Store, StoreError
from monitor.web import auth, chair_state, inputs, live, views
from monitor.web.actions import send
from monitor.web.chart import decorations, trend_figure
from monitor.web.screen import (
    alarm_json,
    chair_full,
    chair_status,
    current_alarms,
    numeric_json,
    phase_of,
    store_status,
)

MAX_POINTS_PER_TRACE = 20000
RASS = [(str(v), f"{v:+d}" if v else "0") for v in range(4, -6, -1)]
NAUSEA = ["none", "mild", "moderate", "severe"]


def _session(store: Store, kind: str, ref: str) -> SessionRecord | None:
    if kind == "session":
        return live.session_for(store, session_id=_int(ref))
    return live.session_for(store, chair=ref)


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def layout(store: Store, kind: str, ref: str, interval_ms: int) -> Any:
    session = _session(store, kind, ref)
    if session is None:
        return html.Div(f"No session for {kind} {ref}.", className="empty")
    full = chair_full(store, session, time.time())
    chair = session.chair
    points, cursor = live.trend_increment(store, session.id, live.TrendCursor(),
                                          limit=MAX_POINTS_PER_TRACE * len(live.TRACE_PARAMS))
    profile = chair_state.session_profile(store, session)
    decor = decorations(store.profile_table(session.id), session.baseline,
                        chair_state.chart_events(store, session.id))
    versions = chair_state.Versions.of(store, session.id)
    return html.Div([
        dcc.Interval(id="chair-tick", interval=interval_ms),
        dcc.Location(id="chair-reload", refresh=True),
        dcc.Store(id="chair-ref", data={"chair": chair, "session": session.id,
                                        "follow": kind == "chair"}),
        dcc.Store(id="trend-cursor", data=cursor.to_json()),
        dcc.Store(id="chair-versions", data={"alarms": versions.alarms,
                                             "decor": versions.decor}),
        dcc.Store(id="chair-delta", data={"chairs": {chair: full}, "full": True}),
        dcc.Store(id="chair-applied"),
        html.Div([
            views.tile(chair, full, link=False, every_param=True),
            html.Div(alarm_panel(chair, session, full["alarms"]), id="alarm-panel",
                     className="panel"),
            html.Div(dcc.Graph(id="trend", figure=trend_figure(points, decor),
                               config={"displaylogo": False}), **views.testid("trend")),
            html.Div(live.chair_view(store, session).device_summary, id="device-line",
                     className="device-status", **views.testid(f"device-{chair}")),
        ], className="chair-main"),
        html.Div([
            html.Div(id="chair-feedback", className="feedback", **views.testid("feedback")),
            session_panel(session),
            html.Div(baseline_panel(store, session, profile), id="baseline-panel",
                     className="panel"),
            infusion_panel(),
            observation_panel(),
            html.Div(checklist_panel(store, session, profile), id="checklist-panel",
                     className="panel", **views.testid("discharge")),
            alarms_off_panel(),
        ], className="chair-side"),
    ], className="chair-page")


# -- panels -----------------------------------------------------------------------------

def alarm_panel(chair: str, session: SessionRecord, alarms: list[dict[str, Any]]) -> list[Any]:
    now = session.clock_now()
    paused = session.audio_pause_remaining(now)
    rows = []
    for alarm in alarms:
        buttons = []
        if alarm["state"] in ("active", "latched"):
            buttons.append(html.Button("Acknowledge", id={"type": "alarm-ack", "n": alarm["n"]},
                                       **views.testid(f"ack-{chair}-{alarm['n']}")))
        if alarm["state"] == "latched":
            buttons.append(html.Button("Reset", id={"type": "alarm-reset", "n": alarm["n"]},
                                       **views.testid(f"reset-{chair}-{alarm['n']}")))
        rows.append(html.Li([
            html.Span(alarm["priority"].upper(), className="alarm-priority"),
            html.Span(alarm["message"], className="alarm-message"),
            html.Span(alarm["state"], className="alarm-state"),
            html.Span(buttons, className="alarm-actions"),
        ], className=f"alarm alarm-row alarm-{alarm['priority']} alarm-{alarm['state']}",
            **views.testid(f"alarm-control-{chair}-{alarm['n']}")))
    pause = (f"Sound paused: {int(paused // 60)}:{int(paused % 60):02d} left" if paused > 0
             else "")
    return [
        html.H3("Alarms"),
        html.Ul(rows, className="alarms") if rows else html.Div("No alarms.", className="quiet"),
        html.Div([html.Button("Pause audio 2 min", id="pause-audio",
                              **views.testid("pause-audio")),
                  html.Span(pause, id="pause-status", **views.testid("pause-countdown"))]),
    ]


def session_panel(session: SessionRecord) -> html.Div:
    return html.Div([
        html.H3("Session"),
        html.Div(f"Session {session.id}" + (f", weight {session.weight_kg:g} kg"
                                            if session.weight_kg else "")),
        html.Label(["Patient reference ", dcc.Input(id="patient-ref", type="text")]),
        html.Label(["Weight (kg) ", dcc.Input(id="weight", type="number", min=2, max=400)]),
        html.Label(["Alarm profile ", dcc.Input(id="profile", type="text",
                                                 placeholder="ketamine-adult")]),
        html.Button("Start new session", id="new-session", **views.testid("new-session")),
        html.Button("End session", id="end-session", className="danger",
                    **views.testid("end-session")),
    ], className="panel")


def baseline_panel(store: Store, session: SessionRecord, profile: Any) -> list[Any]:
    baseline = session.baseline
    text = ", ".join(f"{PARAMETERS[p].short if p in PARAMETERS else p} {v:g}"
                     for p, v in baseline.items()) or "not captured yet"
    gate = chair_state.gate(store, session, profile)
    gate_line: list[Any] = []
    if gate.blocked:
        gate_line = [html.Div(("Gate overridden by " + gate.overridden_by) if gate.clear
                              else "PRE-TREATMENT GATE: " + "; ".join(gate.reasons),
                              className="gate", **views.testid("gate")),
                     html.Label(["Reason ", dcc.Input(id="gate-reason", type="text")]),
                     html.Button("Override gate", id="override-gate", className="danger")]
    return [html.H3("Baseline"), html.Div(text, **views.testid("baseline")),
            html.Button("Capture baseline now", id="capture-baseline"), *gate_line]


def infusion_panel() -> html.Div:
    return html.Div([
        html.H3("Infusion"),
        html.Label(["Dose (mg/kg) ", dcc.Input(id="dose", type="number", value=0.5, step=0.05)]),
        html.Label(["Rate (mg/h) ", dcc.Input(id="rate", type="number", step=0.1)]),
        html.Button("Start", id={"type": "infusion", "action": "start_infusion"},
                    **views.testid("start-infusion")),
        html.Button("Pause", id={"type": "infusion", "action": "pause_infusion"}),
        html.Button("Resume", id={"type": "infusion", "action": "resume_infusion"}),
        html.Button("Change rate", id={"type": "infusion", "action": "infusion_rate"}),
        html.Button("Stop", id={"type": "infusion", "action": "stop_infusion"},
                    className="danger", **views.testid("stop-infusion")),
    ], className="panel")


def observation_panel() -> html.Div:
    return html.Div([
        html.H3("Observation"),
        html.Label(["CADSS total ", dcc.Input(id="cadss", type="number", min=0, max=92)]),
        html.Label(["RASS ", dcc.Dropdown(id="rass", options=[
            {"label": label, "value": int(v)} for v, label in RASS], clearable=True)]),
        html.Label(["Nausea ", dcc.Dropdown(id="nausea", options=NAUSEA, clearable=True)]),
        html.Label(["Note ", dcc.Textarea(id="note", rows=2)]),
        html.Button("Log observation", id="log-observation",
                    **views.testid("log-observation")),
    ], className="panel")


def checklist_panel(store: Store, session: SessionRecord, profile: Any) -> list[Any]:
    checklist = chair_state.checklist(store, session, profile, session.clock_now())
    items = [html.Li(f"{item.label}: {item.detail}",
                     className="check-met" if item.met else
                     "check-unknown" if item.met is None else "check-unmet")
             for item in checklist.items]
    verdict = ("All discharge criteria met (a checklist, not a discharge decision)"
               if checklist.ready else "Discharge criteria not all met")
    return [html.H3("Discharge readiness"), html.Ul(items, className="checklist"),
            html.Div(verdict)]


def alarms_off_panel() -> html.Div:
    return html.Div([
        html.H3("Alarms off"),
        dcc.Dropdown(id="off-param", options=[
            {"label": spec.label, "value": p} for p, spec in PARAMETERS.items()]),
        html.Button("Turn alarms off", id={"type": "alarms-off", "off": 1}, className="danger"),
        html.Button("Turn alarms on", id={"type": "alarms-off", "off": 0}),
    ], className="panel")


# -- callbacks ---------------------------------------------------------------------------

def register(app: Dash, reader: Any) -> None:
    @app.callback(
        Output("trend", "extendData"), Output("trend-cursor", "data"),
        Output("chair-delta", "data"), Output("alarm-panel", "children"),
        Output("trend", "figure"), Output("chair-versions", "data"),
        Output("checklist-panel", "children"), Output("baseline-panel", "children"),
        Output("device-line", "children"), Output("chair-reload", "href"),
        Input("chair-tick", "n_intervals"),
        State("chair-ref", "data"), State("trend-cursor", "data"),
        State("chair-versions", "data"),
        prevent_initial_call=True,
    )
    def tick(_: int, ref: Any, cursor: Any, versions: Any) -> Any:
        store = reader.get()
        ref = inputs.chair_ref(ref)
        if ref is None or ref.get("session") is None:
            raise PreventUpdate
        try:
            session = store.session(ref["session"])
        except StoreError:
            return (*([no_update] * 9), "/")  # gone (another store?): back to the chairs
        versions = versions if isinstance(versions, dict) else {}
        if ref.get("follow"):
            current = live.session_for(store, chair=ref["chair"])
            if current is not None and current.id != session.id:
                return (*([no_update] * 9), f"/chair/{ref['chair']}")  # the next patient
        points, new_cursor = live.trend_increment(store, session.id,
                                                  live.TrendCursor.from_json(cursor))
        extend: Any = no_update
        if points:
            indices = sorted(points)
            extend = [{"x": [points[i][0] for i in indices],
                       "y": [points[i][1] for i in indices]}, indices, MAX_POINTS_PER_TRACE]
        alarms = current_alarms(store, session.id)
        # The numerics only when readings came (the chart moved with them).
        latest = store.latest_values(session.id) if points else {}
        delta = {"chairs": {session.chair: {
            "session": session.id,
            "status": chair_status(store, session, time.time(), alarms),
            "numerics": {p: numeric_json(p, v.value, v.time, v.status)
                         for p, v in latest.items()},
            "alarms": [alarm_json(a) for a in alarms],
            "phase": phase_of(store, session.id)}}, "store": store_status(store)}
        now_versions = chair_state.Versions.of(store, session.id)
        panel: Any = no_update
        if now_versions.alarms != versions.get("alarms") or session.audio_paused_until:
            panel = alarm_panel(session.chair, session, delta["chairs"][session.chair]["alarms"])
        figure: Any = no_update
        if now_versions.decor != versions.get("decor"):
            decor = decorations(store.profile_table(session.id), session.baseline,
                                chair_state.chart_events(store, session.id))
            figure = Patch()
            figure["layout"]["shapes"] = decor["shapes"]
            figure["layout"]["annotations"] = decor["annotations"]
        profile = chair_state.session_profile(store, session)
        return (extend, new_cursor.to_json(), delta, panel, figure,
                {"alarms": now_versions.alarms, "decor": now_versions.decor},
                checklist_panel(store, session, profile),
                baseline_panel(store, session, profile),
                live.chair_view(store, session).device_summary, no_update)

    app.clientside_callback(ClientsideFunction("screen", "apply"),
                            Output("chair-applied", "data"), Input("chair-delta", "data"))
    _register_controls(app, reader)


def _register_controls(app: Dash, reader: Any) -> None:
    feedback = (Output("chair-feedback", "children", allow_duplicate=True),
                Output("chair-feedback", "className", allow_duplicate=True))

    def answer(ok: bool, message: str) -> tuple[str, str]:
        return message, "feedback" if ok else "feedback refused"

    def act(ref: Any, user: Any, action: str,
            data: dict[str, Any] | None = None, *, session: bool = True) -> tuple[str, str]:
        ref = inputs.chair_ref(ref)
        if ref is None:
            raise PreventUpdate  # not the record this page wrote
        return answer(*send(reader.get(), ref["chair"], ref.get("session") if session else None,
                            auth.acting(inputs.text(user)), action, data))

    @app.callback(*feedback, Input({"type": "alarm-ack", "n": ALL}, "n_clicks"),
                  Input({"type": "alarm-reset", "n": ALL}, "n_clicks"),
                  State("chair-ref", "data"), State("user", "data"), prevent_initial_call=True)
    def alarm_buttons(acks: list[Any], resets: list[Any], ref: dict[str, Any],
                      user: str | None) -> Any:
        trigger = ctx.triggered_id
        if not trigger or not any(acks + resets):
            return no_update, no_update
        action = "acknowledge" if trigger["type"] == "alarm-ack" else "reset"
        return act(ref, user, action, {"alarm": trigger["n"]})

    @app.callback(*feedback, Input("pause-audio", "n_clicks"), State("chair-ref", "data"),
                  State("user", "data"), prevent_initial_call=True)
    def pause(clicks: int | None, ref: dict[str, Any], user: str | None) -> Any:
        if not clicks:  # the button was (re)drawn, not pressed
            return no_update, no_update
        return act(ref, user, "pause_audio")

    @app.callback(*feedback, Input("new-session", "n_clicks"), State("patient-ref", "value"),
                  State("weight", "value"), State("profile", "value"), State("chair-ref", "data"),
                  State("user", "data"), prevent_initial_call=True)
    def new_session(clicks: int | None, patient: str | None, weight: float | None,
                    profile: str | None, ref: dict[str, Any], user: str | None) -> Any:
        if not clicks:
            return no_update, no_update
        return act(ref, user, "new_session", {
            "patient_ref": (inputs.text(patient) or "").strip()[:64],
            "weight_kg": inputs.number(weight, 0, 1000),
            "profile": (inputs.text(profile) or "").strip()}, session=False)

    @app.callback(*feedback, Input("end-session", "n_clicks"), State("chair-ref", "data"),
                  State("user", "data"), prevent_initial_call=True)
    def end_session(clicks: int | None, ref: dict[str, Any], user: str | None) -> Any:
        if not clicks:
            return no_update, no_update
        return act(ref, user, "end_session", session=False)

    @app.callback(*feedback, Input("capture-baseline", "n_clicks"), State("chair-ref", "data"),
                  State("user", "data"), prevent_initial_call=True)
    def capture(clicks: int | None, ref: dict[str, Any], user: str | None) -> Any:
        if not clicks:
            return no_update, no_update
        return act(ref, user, "capture_baseline")

    @app.callback(*feedback, Input("override-gate", "n_clicks"), State("gate-reason", "value"),
                  State("chair-ref", "data"), State("user", "data"), prevent_initial_call=True)
    def override(clicks: int | None, reason: str | None, ref: dict[str, Any],
                 user: str | None) -> Any:
        if not clicks:
            return no_update, no_update
        return act(ref, user, "override_gate", {"reason": inputs.text(reason) or ""})

    @app.callback(*feedback, Input({"type": "infusion", "action": ALL}, "n_clicks"),
                  State("dose", "value"), State("rate", "value"), State("chair-ref", "data"),
                  State("user", "data"), prevent_initial_call=True)
    def infusion(clicks: list[Any], dose: float | None, rate: float | None,
                 ref: dict[str, Any], user: str | None) -> Any:
        trigger = ctx.triggered_id
        if not trigger or not any(clicks):
            return no_update, no_update
        data = {"dose_mg_per_kg": inputs.number(dose, 0, 100),
                "rate_mg_per_h": inputs.number(rate, 0, 10_000)}
        return act(ref, user, trigger["action"], {k: v for k, v in data.items()
                                                  if v is not None})

    @app.callback(*feedback, Input("log-observation", "n_clicks"), State("cadss", "value"),
                  State("rass", "value"), State("nausea", "value"), State("note", "value"),
                  State("chair-ref", "data"), State("user", "data"), prevent_initial_call=True)
    def observation(clicks: int | None, cadss: float | None, rass: int | None, nausea: str | None,
                    note: str | None, ref: dict[str, Any], user: str | None) -> Any:
        if not clicks:
            return no_update, no_update
        data = {"cadss": inputs.number(cadss, 0, 100), "rass": inputs.text(rass),
                "nausea": inputs.text(nausea), "note": (inputs.text(note) or "").strip()}
        data = {k: v for k, v in data.items() if v not in (None, "")}
        if not data:
            return answer(False, "nothing to log: fill in at least one field")
        return act(ref, user, "observation", data)

    @app.callback(*feedback, Input({"type": "alarms-off", "off": ALL}, "n_clicks"),
                  State("off-param", "value"), State("chair-ref", "data"), State("user", "data"),
                  prevent_initial_call=True)
    def alarms_off(clicks: list[Any], param: str | None, ref: dict[str, Any],
                   user: str | None) -> Any:
        trigger = ctx.triggered_id
        if not trigger or not any(clicks):
            return no_update, no_update
        if not inputs.text(param):
            return answer(False, "choose a parameter first")
        return act(ref, user, "alarms_off", {"param": param, "off": bool(trigger["off"])})
