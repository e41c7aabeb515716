"""Dash components for the live screens.

A tile is drawn once from a chair's full picture (``monitor.web.screen``);
after that the browser (assets/screen.js) keeps its numbers, ages, states and
alarm strip current from the deltas, addressing elements by ``data-testid``.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from devices.vocabulary import PARAMETERS

SECONDARY_DISPLAY = ("Secondary display and session record. The bedside monitor is the "
                     "primary alarm device. Not a diagnostic device.")

PHASE_LABELS = {"pre": "before infusion", "infusion": "infusion", "paused": "infusion paused",
                "after": "after infusion"}


def testid(value: str) -> dict[str, str]:
    return {"data-testid": value}


def banner(signed_in: tuple[str, str, str] | None = None) -> html.Div:
    """The top bar: what this is, who is acting, and this screen's sound.

    `signed_in` is (name, role, form token) of the account this browser signed
    in with; without it (open mode) the nurse types a name that signs actions.
    """
    if signed_in is None:
        who: Any = html.Label(["Signed in as ",
                               dcc.Input(id="user-name", type="text", placeholder="your name",
                                         debounce=True, className="user-name")])
    else:
        name, role, token = signed_in
        who = html.Form([
            html.Span(f"Signed in as {name} ({role})", **testid("signed-in")),
            dcc.Input(type="hidden", name="csrf", value=token),
            html.Button("Sign out", type="submit", className="sign-out",
                        **testid("sign-out")),
        ], action="/logout", method="post", className="signed-in")
    links = [html.A("Infusion Monitor", href="/", className="brand"),
             html.A("Sessions", href="/sessions", className="nav")]
    if signed_in is not None and signed_in[1] == "admin":
        links.append(html.A("Users", href="/admin/users", className="nav"))
    return html.Div([
        *links,
        html.Span(SECONDARY_DISPLAY, className="secondary-note", **testid("secondary")),
        html.Div([
            who,
            html.Button("Sound on this screen: OFF", id="sound-toggle", n_clicks=0,
                        className="sound-toggle", **testid("sound-toggle")),
        ], className="banner-controls"),
        dcc.Store(id="user", storage_type="local"),
    ], className="banner")


def safety_banner() -> html.Div:
    """Filled by screen.js whenever any chair has alarms off or its sound paused."""
    return html.Div(id="safety-banner", className="safety-banner hidden",
                    **testid("safety-banner"))


def _value(chair: str, param: str, numerics: dict[str, list[Any]]) -> html.Span:
    text = numerics.get(param, ["---"])[0]
    return html.Span(text, className="value", **testid(f"value-{chair}-{param}"))


def _age(chair: str, param: str) -> html.Span:
    return html.Span("", className="age", **testid(f"age-{chair}-{param}"))


def _cell(chair: str, label: str, unit: str, values: list[Any], age_param: str,
          *, kind: str, hidden: bool = False) -> html.Div:
    return html.Div([
        html.Div([html.Span(label, className="label"), html.Span(unit, className="unit")],
                 className="numeric-head"),
        html.Div(values, className="value-row"),
        html.Div([html.Span("", className="flag"), _age(chair, age_param)],
                 className="numeric-foot"),
    ], className=f"numeric numeric-{kind}" + (" hidden" if hidden else ""),
        **{"data-cell": kind})


def numerics_row(chair: str, numerics: dict[str, list[Any]], *,
                 every_param: bool = False) -> html.Div:
    """HR (or pulse rate), SpO2, NIBP sys/dia (mean), RR, EtCO2 when present."""
    use_pr = "hr" not in numerics and "pulse_rate" in numerics
    rate = "pulse_rate" if use_pr else "hr"
    cells = [
        _cell(chair, PARAMETERS[rate].short, "/min", [_value(chair, rate, numerics)], rate,
              kind="rate"),
        _cell(chair, "SpO2", "%", [_value(chair, "spo2", numerics)], "spo2", kind="spo2"),
        _cell(chair, "NIBP", "mmHg", [
            _value(chair, "nibp_sys", numerics), html.Span("/", className="sep"),
            _value(chair, "nibp_dia", numerics), html.Span(" (", className="sep small"),
            html.Span(_value(chair, "nibp_mean", numerics), className="small"),
            html.Span(")", className="sep small")], "nibp_sys", kind="nibp"),
        _cell(chair, "RR", "/min", [_value(chair, "resp_rate", numerics)], "resp_rate",
              kind="rr"),
        _cell(chair, "EtCO2", "mmHg", [_value(chair, "etco2", numerics)], "etco2",
              kind="etco2", hidden="etco2" not in numerics),
    ]
    if every_param:
        shown = {rate, "spo2", "nibp_sys", "nibp_dia", "nibp_mean", "resp_rate", "etco2"}
        for param in sorted(set(numerics) - shown):
            spec = PARAMETERS.get(param)
            cells.append(_cell(chair, spec.short if spec else param,
                               spec.unit if spec else "", [_value(chair, param, numerics)],
                               param, kind="extra"))
    return html.Div(cells, className="numerics")


def tile(chair: str, full: dict[str, Any], *, link: bool = True,
         every_param: bool = False) -> html.Div:
    """One chair: name, phase, source label, state, alarm strip and numerics."""
    source = full["source"]
    title: Any = f"Chair {chair}"
    if link:
        title = dcc.Link(title, href=f"/chair/{chair}")
    priority = full["status"]["priority"]
    return html.Div([
        html.Div([
            html.H2(title),
            html.Span("", className="phase", **testid(f"phase-{chair}")),
            html.Span("", className="state hidden", **testid(f"state-{chair}")),
            html.Span(source, className="watermark") if source else None,
        ], className="tile-head"),
        html.Ul([], className="alarms", **testid(f"alarms-{chair}")),
        numerics_row(chair, full["numerics"], every_param=every_param),
    ], className="tile" + (" simulated" if source else ""),
        **{"data-testid": f"chair-{chair}", "data-chair": chair,
           "data-session": str(full["session"]), "data-alarm-priority": priority,
           "data-source": source or "DEVICE"})


def overview_tiles(chairs: dict[str, dict[str, Any]]) -> Any:
    if not chairs:
        return html.Div("No chair is recording yet. Start one with 'infusion-monitor record' "
                        "or try 'infusion-monitor demo'.", className="empty")
    return [tile(chair, full) for chair, full in chairs.items()]
