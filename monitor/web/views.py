"""Dash components for the live screens, built from :mod:`monitor.web.live` data."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from devices.vocabulary import PARAMETERS, Status
from monitor.web.live import PANELS, ChairView, Numeric, format_age

SECONDARY_DISPLAY = ("Secondary display and session record. The bedside monitor is the "
                     "primary alarm device. Not a diagnostic device.")


def banner() -> html.Div:
    return html.Div(
        [html.A("Infusion Monitor", href="/", className="brand"),
         html.Span(SECONDARY_DISPLAY, className="secondary-note", **{"data-testid": "secondary"})],
        className="banner",
    )


def numeric_cell(chair: str, n: Numeric) -> html.Div:
    classes = ["numeric", f"status-{n.status}"]
    if n.stale:
        classes.append("stale")
    flag = ""
    if n.stale:
        flag = "no data"
    elif n.status is Status.QUESTIONABLE:
        flag = "?"
    elif n.status is Status.INVALID:
        flag = "invalid"
    return html.Div(
        [
            html.Div([html.Span(n.label, className="label"), html.Span(n.unit, className="unit")],
                     className="numeric-head"),
            html.Div(n.text, className="value", **{"data-testid": f"value-{chair}-{n.param}"}),
            html.Div([html.Span(flag, className="flag"),
                      html.Span(n.age_text, className="age",
                                **{"data-testid": f"age-{chair}-{n.param}"})],
                     className="numeric-foot"),
        ],
        className=" ".join(classes),
    )


def alarm_list(view: ChairView) -> html.Div:
    """The chair's current alarms, most urgent first; the words say the priority
    too, so colour is never the only cue."""
    rows = []
    for alarm in view.alarms:
        state = "" if alarm.state == "active" else f" ({alarm.state})"
        rows.append(html.Li(
            [html.Span(alarm.priority.upper(), className="alarm-priority"),
             html.Span(alarm.message, className="alarm-message"),
             html.Span(f"{format_age(view.now - alarm.onset)}{state}", className="alarm-age")],
            className=f"alarm alarm-{alarm.priority} alarm-{alarm.state}",
            **{"data-testid": f"alarm-{view.chair}-{alarm.number}"}))
    return html.Ul(rows, className="alarms")


def chair_tile(view: ChairView, *, link: bool = True, detail: bool = False) -> html.Div:
    session = view.session
    state: list[Any] = []
    silent = view.silent_s
    if not session.is_open:
        state.append(html.Span("SESSION ENDED", className="state ended"))
    elif silent is not None:
        state.append(html.Span(f"NO DATA {format_age(silent)}", className="state nodata",
                               **{"data-testid": f"nodata-{view.chair}"}))
    label = view.source_label
    title: Any = f"Chair {view.chair}"
    if link:
        title = dcc.Link(title, href=f"/chair/{view.chair}")
    return html.Div(
        [
            html.Div([html.H2(title), *state,
                      html.Span(label, className="watermark") if label else None],
                     className="tile-head"),
            alarm_list(view) if view.alarms else None,
            html.Div([numeric_cell(view.chair, n) for n in view.numerics]
                     or [html.Div("waiting for data", className="waiting")],
                     className="numerics"),
            html.Div(view.device_summary, className="device-status",
                     **{"data-testid": f"device-{view.chair}"})
            if detail and view.device_summary else None,
        ],
        className="tile" + (" simulated" if label else "") + f" priority-{view.alarm_priority}",
        **{"data-testid": f"chair-{view.chair}", "data-session": str(session.id),
           "data-alarm-priority": view.alarm_priority},
    )


def trend_figure(points: dict[int, tuple[list[str], list[Any]]]) -> go.Figure:
    """The chair's trend chart with one trace per charted parameter."""
    fig = make_subplots(rows=len(PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[title for title, _ in PANELS])
    index = 0
    for row, (_, params) in enumerate(PANELS, start=1):
        for param in params:
            xs, ys = points.get(index, ([], []))
            spec = PARAMETERS[param]
            fig.add_trace(go.Scatter(
                x=xs, y=ys, name=spec.short, connectgaps=False,
                mode="lines+markers" if spec.episodic else "lines",
            ), row=row, col=1)
            index += 1
    fig.update_layout(
        height=760, margin={"l": 50, "r": 20, "t": 40, "b": 30},
        template="plotly_dark", paper_bgcolor="#000", plot_bgcolor="#111",
        legend={"orientation": "h", "y": 1.06},
        # Keeps the user's zoom and pan when new points arrive.
        uirevision="trend",
    )
    return fig
