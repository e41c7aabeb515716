"""Reviewing a session: every parameter on one time axis with the events, alarm
spans and acknowledgements; jump to any of them; play the session back and
see the numerics as they were; re-run the rules under another profile."""

from __future__ import annotations

import base64
import tomllib
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from dash import ALL, Dash, Input, Output, Patch, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from plotly.subplots import make_subplots

from devices.vocabulary import PARAMETERS
from monitor.review import summarize
from monitor.rules import AlarmChange
from monitor.rules.profile import ProfileError, load_profile, merge, profile_from_table
from monitor.store import SessionRecord, Store, StoreError
from monitor.web import inputs, timeline, views
from monitor.web.chart import DARK, DARK_AXIS
from monitor.web.live import PANELS, SOURCE_LABELS, format_age
from monitor.web.review_summary import summary_panel

SPEEDS = [1, 5, 10, 30, 60]
LANE = {"low": 1, "medium": 2, "high": 3}
ALARM_COLOURS = {"high": "rgba(255, 26, 26, 0.75)", "medium": "rgba(245, 196, 0, 0.75)",
                 "low": "rgba(0, 200, 230, 0.7)"}
ALARM_ROW = len(PANELS) + 1
PLAYBACK_TICK_MS = 500


def layout(store: Store, session_id: int | None, *, speed: int = 10) -> Any:
    if session_id is None:
        return html.Div("No such session.", className="empty")
    try:
        session = store.session(session_id)
    except Exception:
        return html.Div(f"No session {session_id}.", className="empty")
    points = timeline.window(store, session_id)
    found = timeline.items(store, session_id)
    offset = timeline.local_offset_ms(session.started_at * 1000)
    figure, cursor_shape = review_figure(points, found, session, offset)
    duration = max(1, int((session.ended_at or session.clock_now()) - session.started_at))
    label = SOURCE_LABELS[session.source_kind]
    return html.Div([
        dcc.Store(id="review-ref", data={"session": session_id, "start": session.started_at,
                                         "cursor_shape": cursor_shape, "offset": offset,
                                         "times": [i.time for i in found]}),
        dcc.Interval(id="review-play-tick", interval=PLAYBACK_TICK_MS, disabled=True),
        html.Div([
            html.H2(f"Session {session_id}, chair {session.chair}"),
            html.Span(label, className="watermark") if label else None,
            html.Span(_when(session), className="review-when"),
            html.Span([html.A("CSV", href=f"/export/{session_id}.csv"), " · ",
                       html.A("JSON", href=f"/export/{session_id}.json"), " · ",
                       html.A("Report", href=f"/export/{session_id}.html", target="_blank")],
                      className="review-exports"),
        ], className="review-head"),
        # Filled by `fill_summary` once the page is up: the summary reads every
        # reading of the session (about 1.5 s for 24 hours), the chart only a
        # downsample, so the chart must not wait for it.
        html.Div(html.P("Working out the summary...", className="empty"), id="review-summary",
                 className="panel", **views.testid("review-summary")),
        html.Div(dcc.Graph(id="review-graph", figure=figure, config={"displaylogo": False}),
                 **views.testid("review-graph")),
        html.Div([
            html.Button("Play", id="review-play", n_clicks=0, **views.testid("review-play")),
            dcc.Dropdown(id="review-speed", options=[{"label": f"{s}x", "value": s}
                                                      for s in SPEEDS],
                         value=speed if speed in SPEEDS else 10, clearable=False,
                         className="review-speed"),
            # Whole seconds, but no more than ~2000 steps: a slider draws its steps.
            html.Div(dcc.Slider(id="review-scrub", min=0, max=duration,
                                step=max(1, duration // 2000), value=0, marks=None,
                                updatemode="mouseup"), className="review-slider",
                     **views.testid("review-scrub")),
            html.Span(id="review-clock", **views.testid("review-clock")),
        ], className="review-playback panel"),
        html.Div(id="review-moment", className="numerics", **views.testid("review-moment")),
        html.Div([
            html.Div([html.H3("Timeline"), html.Ul([_item(i, n, session)
                                                   for n, i in enumerate(found)],
                                                  className="review-items")],
                     className="panel review-list"),
            html.Div([
                html.H3("Re-run the alarm rules under another profile"),
                html.Div(dcc.Upload(html.Button("Choose a profile (TOML)"), id="review-profile",
                                    accept=".toml"), **views.testid("review-profile")),
                html.Div(id="review-rerun", **views.testid("review-rerun")),
            ], className="panel"),
        ], className="review-lower"),
    ], className="review-page")


def _when(session: SessionRecord) -> str:
    start = datetime.fromtimestamp(session.started_at).strftime("%Y-%m-%d %H:%M")
    end = session.ended_at or session.clock_now()
    return f"{start}, {format_age(end - session.started_at)}"


def _item(item: timeline.TimelineItem, n: int, session: SessionRecord) -> html.Li:
    offset = item.time - session.started_at
    return html.Li(html.Button(
        [html.Span(f"{int(offset // 3600)}:{int(offset % 3600 // 60):02d}:"
                   f"{int(offset % 60):02d}", className="item-time"),
         html.Span(item.label, className="item-label")],
        id={"type": "review-jump", "n": n}, className=f"item item-{item.kind}"
        + (f" alarm-{item.priority}" if item.kind == "alarm" else "")),
        **views.testid(f"review-item-{n}"))


def review_figure(points: dict[int, tuple[list[int], list[Any]]],
                  found: list[timeline.TimelineItem], session: SessionRecord, offset: int,
                  ) -> tuple[dict[str, Any], int]:
    """The whole review chart; returns it and the index of the playback cursor's shape."""
    titles = [title for title, _ in PANELS] + ["Alarms"]
    fig = make_subplots(rows=ALARM_ROW, cols=1, shared_xaxes=True, vertical_spacing=0.035,
                        subplot_titles=titles, row_heights=[1, 1, 1, 1, 0.45])
    # Traces are added empty and filled in the plain dict below: Plotly's
    # validation of every point costs more than the whole query.
    for row, (_, params) in enumerate(PANELS, start=1):
        for param in params:
            spec = PARAMETERS[param]
            fig.add_trace(go.Scatter(x=[], y=[], name=spec.short, connectgaps=False,
                                     mode="markers" if spec.episodic else "lines"),
                          row=row, col=1)
    end = session.ended_at or session.clock_now()
    acks_x, acks_y, acks_text = [], [], []
    for item in found:
        x = timeline.axis_ms(item.time * 1000, offset)
        if item.kind == "alarm" and item.priority:
            lane = LANE[item.priority]
            fig.add_shape(type="rect", xref="x", yref=f"y{ALARM_ROW}", x0=x,
                          x1=timeline.axis_ms((item.end or end) * 1000, offset),
                          y0=lane - 0.38,
                          y1=lane + 0.38, fillcolor=ALARM_COLOURS[item.priority],
                          line_width=0)
        elif item.kind == "acknowledgement" and item.priority:
            acks_x.append(x)
            acks_y.append(LANE[item.priority])
            acks_text.append(item.label)
        elif item.kind == "event":
            fig.add_shape(type="line", xref="x", x0=x, x1=x, yref="paper", y0=0, y1=1,
                          line={"color": "#9fd3ff", "dash": "dot", "width": 1})
    fig.add_trace(go.Scatter(x=acks_x, y=acks_y, text=acks_text, mode="markers",
                             name="acknowledged", marker={"symbol": "triangle-up", "size": 11,
                                                          "color": "#ffffff"},
                             hoverinfo="text"), row=ALARM_ROW, col=1)
    fig.update_yaxes(tickvals=[1, 2, 3], ticktext=["low", "medium", "high"], range=[0.4, 3.6],
                     row=ALARM_ROW, col=1)
    fig.update_xaxes(type="date", **DARK_AXIS)
    fig.update_yaxes(**DARK_AXIS)
    cursor = len(fig.layout.shapes)
    start = timeline.axis_ms(session.started_at * 1000, offset)
    fig.add_shape(type="line", xref="x", x0=start, x1=start, yref="paper", y0=0, y1=1,
                  line={"color": "#ff66ff", "width": 2})
    fig.update_layout(height=900, margin={"l": 50, "r": 20, "t": 40, "b": 30},
                      **DARK,
                      legend={"orientation": "h", "y": 1.05}, uirevision="review",
                      hovermode="closest")
    figure = fig.to_plotly_json()
    for index, (xs, ys) in points.items():
        figure["data"][index]["x"], figure["data"][index]["y"] = xs, ys
    return figure, cursor


def _range_of(relayout: dict[str, Any] | None, offset: int,
              ) -> tuple[int | None, int | None] | None:
    """The x window a zoom asked for, in ms; None if the event was not a zoom."""
    if not relayout:
        return None
    if any(k.endswith("autorange") for k in relayout if k.startswith("xaxis")):
        return None, None
    for key, value in relayout.items():
        if key.startswith("xaxis") and key.endswith(".range[0]"):
            end = relayout.get(key.replace("[0]", "[1]"))
            return timeline.from_axis(value, offset), timeline.from_axis(end, offset)
        if key.startswith("xaxis") and key.endswith(".range") and isinstance(value, list):
            return timeline.from_axis(value[0], offset), timeline.from_axis(value[1], offset)
    return None


def register(app: Dash, reader: Any) -> None:
    @app.callback(Output("review-summary", "children"), Input("review-ref", "data"))
    def fill_summary(ref: Any) -> Any:
        ref = review_ref(ref, full=False)
        try:
            return summary_panel(summarize(reader.get(), ref["session"]))
        except StoreError:
            return html.P("No such session.", className="empty")

    @app.callback(Output("review-graph", "figure", allow_duplicate=True),
                  Input("review-graph", "relayoutData"), State("review-ref", "data"),
                  prevent_initial_call=True)
    def refine(relayout: Any, ref: Any) -> Any:
        # A zoom: the visible window again, at up to one point per pixel column.
        ref = review_ref(ref)
        window = _range_of(relayout, ref["offset"]) if isinstance(relayout, dict) else None
        if window is None:
            return no_update
        points = timeline.window(reader.get(), ref["session"], *window)
        patch = Patch()
        for index, (xs, ys) in points.items():
            patch["data"][index]["x"] = xs
            patch["data"][index]["y"] = ys
        return patch

    @app.callback(Output("review-scrub", "value", allow_duplicate=True),
                  Output("review-graph", "figure", allow_duplicate=True),
                  Input({"type": "review-jump", "n": ALL}, "n_clicks"),
                  State("review-ref", "data"), prevent_initial_call=True)
    def jump(clicks: list[Any], ref: Any) -> Any:
        trigger = ctx.triggered_id
        ref = review_ref(ref)
        if not trigger or not any(clicks):
            return no_update, no_update
        n = trigger.get("n") if isinstance(trigger, dict) else None
        if not isinstance(n, int) or not 0 <= n < len(ref["times"]):
            raise PreventUpdate
        t = ref["times"][n]
        # Ten minutes either side, refined to full resolution there.
        lo, hi = round((t - 600) * 1000), round((t + 600) * 1000)
        patch = Patch()
        for axis in ["xaxis"] + [f"xaxis{row}" for row in range(2, ALARM_ROW + 1)]:
            patch["layout"][axis]["range"] = [timeline.axis_ms(lo, ref["offset"]),
                                              timeline.axis_ms(hi, ref["offset"])]
            # A new revision: otherwise Plotly keeps the user's last zoom over ours.
            patch["layout"][axis]["uirevision"] = f"jump-{t}"
        for index, (xs, ys) in timeline.window(reader.get(), ref["session"], lo, hi).items():
            patch["data"][index]["x"] = xs
            patch["data"][index]["y"] = ys
        return max(0, round(t - ref["start"])), patch

    @app.callback(Output("review-play-tick", "disabled"), Output("review-play", "children"),
                  Input("review-play", "n_clicks"), prevent_initial_call=True)
    def play(clicks: Any) -> Any:
        playing = bool(inputs.count(clicks) % 2)
        return not playing, "Pause" if playing else "Play"

    @app.callback(Output("review-scrub", "value"), Input("review-play-tick", "n_intervals"),
                  State("review-scrub", "value"), State("review-scrub", "max"),
                  State("review-speed", "value"), prevent_initial_call=True)
    def advance(_: int, value: Any, maximum: Any, speed: Any) -> int:
        value, maximum = inputs.number(value, 0), inputs.number(maximum, 0)
        speed = inputs.number(speed, 0, 10_000)
        if value is None or maximum is None or speed is None:
            raise PreventUpdate
        return int(min(maximum, value + speed * PLAYBACK_TICK_MS / 1000))

    @app.callback(Output("review-moment", "children"), Output("review-clock", "children"),
                  Output("review-graph", "figure", allow_duplicate=True),
                  Input("review-scrub", "value"), State("review-ref", "data"),
                  prevent_initial_call=True)
    def at(offset: Any, ref: Any) -> Any:
        ref = review_ref(ref)
        offset = inputs.number(offset or 0, 0, 366 * 86400)  # a session lasts hours
        if offset is None:
            raise PreventUpdate
        t = ref["start"] + offset
        cells = [html.Div([
            html.Div([html.Span(row["label"], className="label"),
                      html.Span(row["unit"], className="unit")], className="numeric-head"),
            html.Div(row["text"], className="value", **{"data-status": row["status"]},
                     **views.testid(f"moment-{row['param']}")),
            html.Div(f"{format_age(row['age_s'])} before", className="numeric-foot"),
        ], className="numeric") for row in timeline.moment(reader.get(), ref["session"], t)]
        x = timeline.axis_ms(t * 1000, ref["offset"])
        patch = Patch()
        patch["layout"]["shapes"][ref["cursor_shape"]]["x0"] = x
        patch["layout"]["shapes"][ref["cursor_shape"]]["x1"] = x
        clock = datetime.fromtimestamp(t).strftime("%H:%M:%S") + \
            f"  (+{format_age(offset or 0)})"
        return cells, clock, patch

    @app.callback(Output("review-rerun", "children"), Input("review-profile", "contents"),
                  State("review-profile", "filename"), State("review-ref", "data"),
                  prevent_initial_call=True)
    def rerun(contents: Any, filename: Any, ref: Any) -> Any:
        if not contents or not isinstance(contents, str):
            return no_update
        ref = review_ref(ref, full=False)
        try:
            return rerun_table(reader.get(), ref["session"], contents,
                               inputs.text(filename) or "profile")
        except StoreError:
            return html.Div(f"No session {ref['session']}.", className="feedback refused")


def review_ref(value: Any, *, full: bool = True) -> dict[str, Any]:
    """The review page's own record of its session, as it wrote it; else PreventUpdate."""
    if not isinstance(value, dict) or inputs.session_id(value.get("session")) is None:
        raise PreventUpdate
    if full and not (inputs.number(value.get("start"), 0, 1e11) is not None
                     and isinstance(value.get("offset"), int)
                     and isinstance(value.get("cursor_shape"), int)
                     and isinstance(value.get("times"), list)
                     and all(inputs.number(t) is not None for t in value["times"])):
        raise PreventUpdate
    return value


def rerun_table(store: Store, session_id: int, contents: str, filename: str) -> Any:
    """The alarms the same session would have raised under an uploaded profile."""
    from monitor.web.whatif import rerun_session

    try:
        raw = base64.b64decode(contents.split(",", 1)[-1]).decode("utf-8")
        table = tomllib.loads(raw)
        base = load_profile()
        profile = profile_from_table(merge(dict(base.raw), table), origin=filename)
    except (ValueError, UnicodeDecodeError, tomllib.TOMLDecodeError, ProfileError) as exc:
        return html.Div(f"{filename}: {exc}", className="feedback refused")
    changes = [c for c in rerun_session(store, session_id, profile)
               if isinstance(c, AlarmChange) and c.transition == "onset"]
    rows = [html.Tr([html.Td(timeline.axis_time(c.time * 1000)), html.Td(str(c.priority)),
                     html.Td(c.rule), html.Td(c.message)]) for c in changes]
    return html.Div([
        html.Div(f"Under {profile.name!r}: {len(changes)} alarms would have started."),
        html.Table([html.Tr([html.Th("onset"), html.Th("priority"), html.Th("rule"),
                             html.Th("what")]), *rows], className="rerun-table"),
    ])
