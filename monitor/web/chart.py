"""The chair's trend chart: one trace per charted parameter, the alarm limits in
force drawn as bands, the baseline as lines, session events as markers.

Traces are filled once and then extended each tick with only the new points
(``extendData``); limits, baseline and events change rarely and are patched
into the layout when they do, never by resending the figure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from devices.vocabulary import PARAMETERS
from monitor.web.live import PANELS

BAND_COLOURS = {"high": "rgba(255, 26, 26, 0.16)", "medium": "rgba(245, 196, 0, 0.13)",
                "low": "rgba(0, 200, 230, 0.12)"}
EVENT_LABELS = {"infusion_start": "infusion start", "infusion_stop": "infusion stop",
                "infusion_pause": "pause", "infusion_resume": "resume",
                "infusion_rate": "rate", "observation": "obs", "baseline_captured": "baseline"}
# Each panel's y range (its first parameter's unit); the user can zoom out.
PANEL_RANGES: tuple[tuple[float, float], ...] = ((30, 180), (80, 101), (30, 230), (0, 45))


# Dark styling spelled out, not Plotly's "plotly_dark" template: the template
# is sent with every figure and makes the browser's first draw 3x slower.
DARK: dict[str, Any] = {
    "template": "none", "paper_bgcolor": "#000", "plot_bgcolor": "#111",
    "font": {"color": "#e8e8e8"},
}
DARK_AXIS: dict[str, Any] = {"gridcolor": "#333", "zerolinecolor": "#444", "linecolor": "#555"}


def axis_time(t: float) -> str:
    """A time for the x axis, in the server's local time."""
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def trend_figure(points: dict[int, tuple[list[str], list[Any]]],
                 decor: dict[str, list[Any]]) -> go.Figure:
    """The figure with its first points and its decorations."""
    fig = _frame()
    index = 0
    for row, (_, params) in enumerate(PANELS, start=1):
        for param in params:
            xs, ys = points.get(index, ([], []))
            spec = PARAMETERS[param]
            fig.add_trace(go.Scatter(x=xs, y=ys, name=spec.short, connectgaps=False,
                                     mode="lines+markers" if spec.episodic else "lines"),
                          row=row, col=1)
            index += 1
    fig.update_layout(shapes=decor["shapes"], annotations=decor["annotations"])
    return fig


def _frame() -> go.Figure:
    fig = make_subplots(rows=len(PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=[title for title, _ in PANELS])
    for row, y_range in enumerate(PANEL_RANGES, start=1):
        fig.update_yaxes(range=list(y_range), row=row, col=1)
    fig.update_xaxes(**DARK_AXIS)
    fig.update_yaxes(**DARK_AXIS)
    fig.update_layout(
        height=780, margin={"l": 50, "r": 20, "t": 40, "b": 30},
        **DARK,
        legend={"orientation": "h", "y": 1.06},
        uirevision="trend",  # the user's zoom and pan survive every update
    )
    return fig


def decorations(profile: dict[str, Any] | None, baseline: dict[str, float],
                events: list[tuple[float, str, dict[str, Any]]]) -> dict[str, list[Any]]:
    """Shapes and annotations: limit bands, baseline lines, event markers."""
    fig = _frame()
    limits = (profile or {}).get("limits", {})
    for row, (_, params) in enumerate(PANELS, start=1):
        axis = "y" if row == 1 else f"y{row}"
        bottom, top = PANEL_RANGES[row - 1]
        # Bands for the panel's first parameter (HR, SpO2, SYS, RR): one set per panel.
        for param in params[:1]:
            for side, bands in (("low", limits.get(param, {}).get("low", {})),
                                ("high", limits.get(param, {}).get("high", {}))):
                for priority, threshold in bands.items():
                    y0, y1 = (bottom - 1000, threshold) if side == "low" else (
                        threshold, top + 1000)
                    fig.add_shape(type="rect", xref="paper", x0=0, x1=1, yref=axis, y0=y0,
                                  y1=y1, fillcolor=BAND_COLOURS.get(priority, "rgba(0,0,0,0)"),
                                  line_width=0, layer="below")
        for param in params:
            if param in baseline:
                fig.add_shape(type="line", xref="paper", x0=0, x1=1, yref=axis,
                              y0=baseline[param], y1=baseline[param],
                              line={"color": "#bbbbbb", "dash": "dash", "width": 1})
    annotations = list(fig.layout.annotations)  # the panel titles
    for t, kind, data in events:
        label = EVENT_LABELS.get(kind)
        if label is None:
            continue
        x = axis_time(t)
        fig.add_shape(type="line", xref="x", x0=x, x1=x, yref="paper", y0=0, y1=1,
                      line={"color": "#9fd3ff" if kind.startswith("infusion") else "#cccccc",
                            "dash": "dot", "width": 1})
        detail = _event_detail(kind, data)
        annotations.append(go.layout.Annotation(
            x=x, xref="x", y=1.0, yref="paper", text=label + (f": {detail}" if detail else ""),
            showarrow=False, textangle=-90, xanchor="left", yanchor="top",
            font={"size": 11, "color": "#9fd3ff"}))
    return {"shapes": [s.to_plotly_json() for s in fig.layout.shapes],
            "annotations": [a.to_plotly_json() for a in annotations]}


def _event_detail(kind: str, data: dict[str, Any]) -> str:
    if kind == "observation":
        parts = [f"{key.upper()} {data[key]}" for key in ("cadss", "rass") if key in data]
        if data.get("nausea"):
            parts.append(f"nausea {data['nausea']}")
        return ", ".join(parts)
    if kind in ("infusion_start", "infusion_rate") and data.get("rate_mg_per_h") is not None:
        return f"{data['rate_mg_per_h']} mg/h"
    return ""
